/*
 * lib/passwords.c - passphrases for password-protected archives (see
 * passwords.h).
 *
 * Senders put the password in the message: "Password: x7Kp2", "le mot de
 * passe est « x7Kp2 »", "密码：x7Kp2", or in the subject or the file
 * name. A line that holds one of the keywords gives its quoted tokens and
 * the tokens that follow the keyword (a line ending in the keyword gives
 * the next line's first token). Common filler words ("is", "est", "ist")
 * are skipped. Every loop is bounded by the text cap and the candidate
 * limit.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "passwords.h"
#include "util.h"

#define PW_AFTER	3	/* tokens taken after a keyword */

struct pwlist {
	char		**words;
	char		**sources;
	size_t		  n;
	unsigned	  max_found;
	unsigned	  found;	/* from the message */
};

/* Keywords, matched on an ASCII-lower-cased copy of the line. */
static const char *const pw_keywords[] = {
	"password", "passwd", "pwd", "passcode", "passwort", "kennwort",
	"mot de passe", "mdp", "contraseña", "contrasena", "contraseÑa",
	"clave", "senha", "parola", "wachtwoord", "hasło", "hasŁo", "haslo",
	"lösenord", "salasana", "heslo", "jelszó", "şifre", "sifre",
	"пароль", "Пароль", "ПАРОЛЬ", "密码", "密碼", "パスワード", "암호",
	"비밀번호", "κωδικός", "كلمة المرور", "סיסמה",
};

/* Words between a keyword and the password. */
static const char *const pw_filler[] = {
	"is", "ist", "est", "es", "é", "è", "e", "är", "er", "on", "jest",
	"je", "lautet", "will", "be", "the", "for", "to", "of", "zip", "file",
	"archive", "attachment", "du", "de", "del", "do", "da", "van", "het",
	"voor", "für", "pour", "para", "per", "fichier", "datei", "archivo",
	"ficheiro", "this", "it", "here", "below", "und", "and", "et", "y",
	"это", "为", "是", "は", "です", "sera", "será", "zijn",
};

/* Quote pairs, UTF-8. */
static const struct {
	const char	*open, *close;
} pw_quotes[] = {
	{ "\"", "\"" }, { "'", "'" }, { "`", "`" }, { "“", "”" },
	{ "‘", "’" }, { "«", "»" }, { "„", "“" }, { "「", "」" },
	{ "『", "』" }, { "【", "】" }, { "‹", "›" }, { "»", "«" },
};

/* Separators between a keyword and its password, skipped. */
static const char *const pw_seps[] = {
	" ", "\t", ":", "=", "-", ">", "：", "　", "(", ")", "[", "]", "*",
	",", "\xc2\xa0",
};

/* Trailing punctuation stripped from a token. */
static const char *const pw_trail[] = {
	".", ",", ";", ":", "!", "?", ")", "]", "*", "\"", "'", "。", "，",
	"）", "！", "、",
};

struct pwlist *
passwords_new(unsigned max_found)
{
	struct pwlist	*pl = xcalloc(1, sizeof *pl);

	pl->max_found = max_found;
	pl->words = xcalloc(1, sizeof *pl->words);
	return pl;
}

void
passwords_free(struct pwlist **plp)
{
	struct pwlist	*pl;
	size_t		 i;

	if (plp == NULL || (pl = *plp) == NULL)
		return;
	for (i = 0; i < pl->n; i++) {
		free(pl->words[i]);
		free(pl->sources[i]);
	}
	free(pl->words);
	free(pl->sources);
	free(pl);
	*plp = NULL;
}

bool
passwords_add(struct pwlist *pl, const char *word, size_t len,
    const char *source, bool from_message)
{
	size_t	i;

	if (len == 0 || len > PW_WORD_MAX || memchr(word, '\0', len) != NULL)
		return false;
	if (from_message && pl->found >= pl->max_found)
		return false;
	for (i = 0; i < pl->n; i++)
		if (strlen(pl->words[i]) == len &&
		    memcmp(pl->words[i], word, len) == 0)
			return false;
	/* n + 1 slots, the last NULL, for passwords_words() */
	pl->words = xreallocarray(pl->words, pl->n + 2, sizeof *pl->words);
	pl->sources = xreallocarray(pl->sources, pl->n + 1,
	    sizeof *pl->sources);
	pl->words[pl->n] = xstrndup(word, len);
	pl->sources[pl->n] = xstrdup(source);
	pl->n++;
	pl->words[pl->n] = NULL;
	if (from_message)
		pl->found++;
	return true;
}

static bool
pw_full(const struct pwlist *pl)
{
	return pl->found >= pl->max_found;
}

/* Length of the entry of list at p (p < end), or 0. */
static size_t
pw_match(const char *const *list, size_t nlist, const char *p,
    const char *end)
{
	size_t	i, l;

	for (i = 0; i < nlist; i++) {
		l = strlen(list[i]);
		if ((size_t)(end - p) >= l && memcmp(p, list[i], l) == 0)
			return l;
	}
	return 0;
}

#define NELEM(a)	(sizeof (a) / sizeof (a)[0])

static bool
pw_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* One token [p, q): trailing punctuation off. Returns 1 if added, 0 if
 * not, -1 for a filler word (which does not count as a token). */
static int
pw_token(struct pwlist *pl, const char *p, const char *q, const char *source)
{
	const char	*t = q;
	size_t		 i, l;
	bool		 added = false, again = true;

	while (again && t > p) {
		again = false;
		for (i = 0; i < NELEM(pw_trail); i++) {
			l = strlen(pw_trail[i]);
			if ((size_t)(t - p) >= l &&
			    memcmp(t - l, pw_trail[i], l) == 0) {
				t -= l;
				again = true;
				break;
			}
		}
	}
	if (t == p)
		return -1;
	for (i = 0; i < NELEM(pw_filler); i++)
		if (strlen(pw_filler[i]) == (size_t)(t - p) &&
		    strncasecmp(pw_filler[i], p, (size_t)(t - p)) == 0)
			return -1;
	added = passwords_add(pl, p, (size_t)(t - p), source, true);
	if (t != q)			/* "x7Kp2." might be the password */
		added |= passwords_add(pl, p, (size_t)(q - p), source, true);
	return added ? 1 : 0;
}

/* Tokens after position p on the line [p, end); returns true if one was
 * found (a keyword at the end of its line looks at the next line). */
static bool
pw_after(struct pwlist *pl, const char *p, const char *end,
    const char *source, size_t *added)
{
	unsigned	taken = 0;
	bool		any = false;

	while (p < end && taken < PW_AFTER && !pw_full(pl)) {
		const char	*q;
		size_t		 l;

		if ((l = pw_match(pw_seps, NELEM(pw_seps), p, end)) != 0) {
			p += l;
			continue;
		}
		if (*p == '<') {	/* an HTML tag: skipped */
			q = memchr(p, '>', (size_t)(end - p));
			p = q != NULL ? q + 1 : end;
			continue;
		}
		for (q = p; q < end && !pw_space((unsigned char)*q) &&
		    *q != '<'; q++)
			;
		if (q == p) {		/* CR, or another blank */
			p++;
			continue;
		}
		switch (pw_token(pl, p, q, source)) {
		case 1:
			(*added)++;
			/* FALLTHROUGH */
		case 0:
			any = true;
			taken++;
			break;
		default:		/* filler: not a token */
			break;
		}
		p = q;
	}
	return any;
}

/* Quoted tokens anywhere on the line. */
static void
pw_quoted(struct pwlist *pl, const char *line, const char *end,
    const char *source, size_t *added)
{
	const char	*p = line;

	while (p < end && !pw_full(pl)) {
		size_t	i, ol = 0, cl;
		bool	hit = false;

		for (i = 0; i < NELEM(pw_quotes); i++) {
			ol = strlen(pw_quotes[i].open);
			if ((size_t)(end - p) >= ol &&
			    memcmp(p, pw_quotes[i].open, ol) == 0) {
				hit = true;
				break;
			}
		}
		if (!hit) {
			p++;
			continue;
		}
		{
			const char	*s = p + ol, *q;

			cl = strlen(pw_quotes[i].close);
			for (q = s; q < end && (size_t)(end - q) >= cl &&
			    memcmp(q, pw_quotes[i].close, cl) != 0; q++)
				;
			if (q >= end || (size_t)(end - q) < cl) {
				p += ol;
				continue;
			}
			if (q > s && (size_t)(q - s) <= PW_WORD_MAX &&
			    passwords_add(pl, s, (size_t)(q - s), source, true))
				(*added)++;
			p = q + cl;
		}
	}
}

size_t
passwords_from_text(struct pwlist *pl, const unsigned char *text,
    size_t len, const char *source)
{
	const char	*p = (const char *)text, *end;
	char		*low;
	size_t		 added = 0, i;
	bool		 pending = false;

	if (len > PW_TEXT_MAX)
		len = PW_TEXT_MAX;
	end = p + len;
	/* ASCII-lower-cased copy, same offsets */
	low = xmalloc(len + 1);
	for (i = 0; i < len; i++)
		low[i] = text[i] >= 'A' && text[i] <= 'Z' ?
		    (char)(text[i] + 32) : (char)text[i];
	low[len] = '\0';
	while (p < end && !pw_full(pl)) {
		const char	*eol = memchr(p, '\n', (size_t)(end - p));
		const char	*le = eol != NULL ? eol : end;
		const char	*lp = low + (p - (const char *)text);
		const char	*lend = low + (le - (const char *)text);
		const char	*k;
		bool		 hit = false;

		if (pending) {		/* the line after "Password:" */
			const char *s = p;

			while (s < le && pw_space((unsigned char)*s))
				s++;
			if (s < le)
				pending = !pw_after(pl, s, le, source, &added);
		}
		for (k = lp; k < lend; k++) {
			size_t l = pw_match(pw_keywords, NELEM(pw_keywords),
			    k, lend);

			if (l == 0)
				continue;
			hit = true;
			if (!pw_after(pl, p + (k - lp) + l, le, source,
			    &added))
				pending = true;
			k += l - 1;
		}
		if (hit)
			pw_quoted(pl, p, le, source, &added);
		p = le + (eol != NULL);
	}
	free(low);
	return added;
}

/* The Subject field, unfolded, from the header block (RFC 2047 words
 * are matched as they stand). */
static void
pw_subject(struct pwlist *pl, const unsigned char *msg, size_t hlen)
{
	size_t	i = 0;

	while (i < hlen) {
		const unsigned char *eol = memchr(msg + i, '\n', hlen - i);
		size_t e = eol != NULL ? (size_t)(eol - msg) : hlen;

		if (e - i >= 8 && strncasecmp((const char *)msg + i,
		    "subject:", 8) == 0) {
			struct buf	b = BUF_INIT;
			size_t		j = i + 8;

			for (;;) {
				size_t ll = e - j;

				if (ll > 0 && msg[e - 1] == '\r')
					ll--;
				buf_append(&b, msg + j, ll);
				buf_puts(&b, " ");
				j = e + 1;
				if (j >= hlen || (msg[j] != ' ' &&
				    msg[j] != '\t') || b.len > PW_TEXT_MAX)
					break;
				eol = memchr(msg + j, '\n', hlen - j);
				e = eol != NULL ? (size_t)(eol - msg) : hlen;
			}
			(void)passwords_from_text(pl, b.data,
			    b.len, "the subject");
			buf_free(&b);
			return;
		}
		i = e + 1;
	}
}

struct pwlist *
passwords_gather(const struct policy *pol, const unsigned char *msg,
    size_t hlen, const struct mime_leaf *leaves, size_t n)
{
	struct pwlist	*pl = passwords_new(pol->password_candidates);
	size_t		 i, k;

	for (i = 0; i < pol->archive_passwords.n; i++)
		(void)passwords_add(pl, pol->archive_passwords.v[i],
		    strlen(pol->archive_passwords.v[i]),
		    "the policy's list", false);
	for (i = 0; i < pol->archive_password_list.n; i++)
		(void)passwords_add(pl, pol->archive_password_list.v[i],
		    strlen(pol->archive_password_list.v[i]),
		    "the password file", false);
	if (!pol->message_passwords || pol->password_candidates == 0)
		return pl;
	pw_subject(pl, msg, hlen);
	for (i = 0; i < n && !pw_full(pl); i++) {
		const struct mime_leaf *l = &leaves[i];

		if (l->lenient && l->same_as != MIME_LEAF_NONE)
			continue;	/* the same bytes as GMime's */
		if (l->textual && l->nnames == 0 && l->data != NULL) {
			char *src = xasprintf("the text of part %s", l->path);

			(void)passwords_from_text(pl, l->data, l->len, src);
			free(src);
		}
		for (k = 0; k < l->nnames && !pw_full(pl); k++) {
			const char	*nm = l->names[k];
			const char	*dot = strrchr(nm, '.');
			size_t		 nl = dot != NULL && dot != nm ?
			    (size_t)(dot - nm) : strlen(nm);
			char		*src = xasprintf("the name of part %s",
			    l->path);

			(void)passwords_from_text(pl,
			    (const unsigned char *)nm, nl, src);
			free(src);
		}
	}
	return pl;
}

size_t
passwords_count(const struct pwlist *pl)
{
	return pl != NULL ? pl->n : 0;
}

const char *const *
passwords_words(const struct pwlist *pl)
{
	return (const char *const *)pl->words;
}

const char *
passwords_source(const struct pwlist *pl, size_t i)
{
	return i < pl->n ? pl->sources[i] : "?";
}
