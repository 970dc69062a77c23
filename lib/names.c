/*
 * lib/names.c - file name normalisation and extension matching (see
 * names.h). Works on UTF-8 bytes; invalid sequences are kept as bytes.
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "util.h"

/* Code points removed before matching: bidi controls and invisibles. */
static bool
invisible(unsigned cp)
{
	return cp == 0x00ad || cp == 0x061c || cp == 0x180e ||
	    (cp >= 0x200b && cp <= 0x200f) || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0xfeff;
}

/* Decodes one UTF-8 sequence at s; returns its length (1 for bad bytes). */
static size_t
utf8_next(const unsigned char *s, unsigned *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0 && (s[1] & 0xc0) == 0x80) {
		*cp = ((s[0] & 0x1fu) << 6) | (s[1] & 0x3fu);
		return 2;
	}
	if ((s[0] & 0xf0) == 0xe0 && (s[1] & 0xc0) == 0x80 &&
	    (s[2] & 0xc0) == 0x80) {
		*cp = ((s[0] & 0x0fu) << 12) | ((s[1] & 0x3fu) << 6) |
		    (s[2] & 0x3fu);
		return 3;
	}
	if ((s[0] & 0xf8) == 0xf0 && (s[1] & 0xc0) == 0x80 &&
	    (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80) {
		*cp = ((s[0] & 0x07u) << 18) | ((s[1] & 0x3fu) << 12) |
		    ((s[2] & 0x3fu) << 6) | (s[3] & 0x3fu);
		return 4;
	}
	*cp = 0xfffd;
	return 1;
}

static void
trim_tail(char *s)
{
	size_t	n = strlen(s);

	while (n > 0 && (s[n - 1] == '.' || s[n - 1] == ' ' ||
	    s[n - 1] == '\t'))
		s[--n] = '\0';
}

char *
name_normalise(const char *name, bool *tricks_r)
{
	const unsigned char	*p = (const unsigned char *)name;
	const char		*base;
	struct buf		 b = BUF_INIT;
	bool			 tricks = false;
	char			*s;

	/* Path components are not part of the name (a/b\c.exe -> c.exe). */
	base = name;
	for (s = (char *)name; *s != '\0'; s++)
		if (*s == '/' || *s == '\\')
			base = s + 1;
	p = (const unsigned char *)base;
	while (*p != '\0') {
		unsigned	cp;
		size_t		n = utf8_next(p, &cp);

		if (invisible(cp))
			tricks = true;
		else if (cp < 0x20 || cp == 0x7f)
			tricks = true;		/* control characters */
		else if (n == 1)
			buf_append(&b, (const char[]){ (char)tolower(*p) }, 1);
		else
			buf_append(&b, p, n);
		p += n;
	}
	s = buf_cstr(&b);
	trim_tail(s);
	if (strchr(s, ':') != NULL)
		tricks = true;			/* NTFS alternate stream */
	if (tricks_r != NULL)
		*tricks_r = tricks;
	return s;
}

static bool
list_has(const struct strlist *list, const char *w, size_t n,
    const char **hit)
{
	size_t	i;

	for (i = 0; i < list->n; i++)
		if (strlen(list->v[i]) == n && strncmp(list->v[i], w, n) == 0) {
			*hit = list->v[i];
			return true;
		}
	return false;
}

const char *
name_blocked_ext(const char *normalised, const struct strlist *list,
    const char **inner_r)
{
	const char	*seg = normalised, *hit = NULL;

	if (inner_r != NULL)
		*inner_r = NULL;
	/* Each ':'-separated segment (NTFS streams) is a name of its own.
	 * Its last extension decides; a blocked inner one is reported so the
	 * caller can insist on the true type (a .exe.txt). */
	while (seg != NULL && *seg != '\0') {
		const char	*end = strchr(seg, ':');
		size_t		 len = end != NULL ? (size_t)(end - seg) :
		    strlen(seg);
		const char	*dot, *ext, *next;
		size_t		 n;

		while (len > 0 && (seg[len - 1] == '.' || seg[len - 1] == ' '))
			len--;
		for (dot = memchr(seg, '.', len); dot != NULL; dot = next) {
			ext = dot + 1;
			next = memchr(ext, '.', len - (size_t)(ext - seg));
			n = next != NULL ? (size_t)(next - ext) :
			    len - (size_t)(ext - seg);
			while (n > 0 && ext[n - 1] == ' ')
				n--;
			if (n == 0 || !list_has(list, ext, n, &hit))
				continue;
			if (next == NULL)
				return hit;
			if (inner_r != NULL && *inner_r == NULL)
				*inner_r = hit;
		}
		seg = end != NULL ? end + 1 : NULL;
	}
	return NULL;
}

char *
name_display(const char *name)
{
	size_t	 n = name != NULL ? strlen(name) : 0;
	char	*head, *tail, *r;

	if (n <= 200)
		return str_sanitise(name, 200);
	/* a long name keeps its end too: the extension is what counts */
	head = str_sanitise(name, 150);		/* ends in "..." */
	tail = str_sanitise(name + n - 40, 40);
	r = xasprintf("%s%s", head, tail);
	free(head);
	free(tail);
	return r;
}
