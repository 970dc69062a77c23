/*
 * test/unit/test-passwords.c - unit tests for lib/passwords: candidates
 * from text in several languages and forms, the limits, and the order
 * in which passwords_gather() offers them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "passwords.h"
#include "t.h"

static bool
has_word(const struct pwlist *pl, const char *w)
{
	size_t	i;

	for (i = 0; i < passwords_count(pl); i++)
		if (strcmp(passwords_words(pl)[i], w) == 0)
			return true;
	return false;
}

static void
from_text_languages(struct t *t)
{
	static const struct {
		const char	*name, *text, *want;
	} cases[] = {
		{ "english colon", "Hi,\nPassword: x7Kp2q\nBye\n", "x7Kp2q" },
		{ "english is", "The password is Kq93z.\n", "Kq93z" },
		{ "pwd equals", "pwd=abc123\n", "abc123" },
		{ "upper case", "PASSWORD: UpPer9\n", "UpPer9" },
		{ "german", "Das Passwort lautet: Qz8mw4\n", "Qz8mw4" },
		{ "french guillemets", "Le mot de passe est « Tr0ub4dor ».\n",
		    "Tr0ub4dor" },
		{ "spanish", "la contraseña del archivo es: hX93kd\n", "hX93kd" },
		{ "portuguese quoted", "senha: \"Lisboa22\"\n", "Lisboa22" },
		{ "dutch", "Het wachtwoord: Tulp99\n", "Tulp99" },
		{ "polish", "hasło do pliku: Kr4k0w\n", "Kr4k0w" },
		{ "russian", "Пароль: Zp7vQ2\n", "Zp7vQ2" },
		{ "chinese fullwidth colon", "密码：abc123。\n", "abc123" },
		{ "japanese brackets", "パスワードは「sakura77」です。\n",
		    "sakura77" },
		{ "next line", "the password:\n\n   Roma2026\n", "Roma2026" },
		{ "html", "<p>Password: <b>Tulp99</b></p>\n", "Tulp99" },
		{ "crlf", "Password: crlf1\r\n", "crlf1" },
		{ "quoted elsewhere on the line",
		    "use 'q-u-o-t-e' as the password\n", "q-u-o-t-e" },
	};
	size_t	i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct pwlist	*pl = passwords_new(20);

		(void)passwords_from_text(pl,
		    (const unsigned char *)cases[i].text,
		    strlen(cases[i].text), "test");
		if (!t_check(t, has_word(pl, cases[i].want), "%s: got %zu "
		    "words, want \"%s\" among them", cases[i].name,
		    passwords_count(pl), cases[i].want)) {
			size_t	k;

			for (k = 0; k < passwords_count(pl); k++)
				t_log(t, "  word \"%s\"",
				    passwords_words(pl)[k]);
		}
		passwords_free(&pl);
	}
}

static void
no_keyword_no_candidates(struct t *t)
{
	static const char	text[] = "Hello,\nsee the \"report\" attached."
	    "\nRegards\n";
	struct pwlist		*pl = passwords_new(20);
	size_t			 n = passwords_from_text(pl,
	    (const unsigned char *)text, strlen(text), "test");

	t_check(t, n == 0 && passwords_count(pl) == 0, "got %zu words, "
	    "want 0 (no password word on any line)", passwords_count(pl));
	passwords_free(&pl);
}

static void
limit_n_and_n_plus_1(struct t *t)
{
	static const char	text[] = "password: a1 a2 a3\npassword: b1 b2 "
	    "b3\n";
	struct pwlist		*pl;
	unsigned		 lim;

	for (lim = 5; lim <= 6; lim++) {
		pl = passwords_new(lim);
		(void)passwords_from_text(pl, (const unsigned char *)text,
		    strlen(text), "test");
		t_check(t, passwords_count(pl) == lim, "limit %u: got %zu "
		    "words, want %u", lim, passwords_count(pl), lim);
		passwords_free(&pl);
	}
	pl = passwords_new(0);
	(void)passwords_from_text(pl, (const unsigned char *)text,
	    strlen(text), "test");
	t_check(t, passwords_count(pl) == 0, "limit 0: got %zu words, want 0",
	    passwords_count(pl));
	/* the policy's words do not count against the message's limit */
	t_check(t, passwords_add(pl, "infected", 8, "policy", false),
	    "policy word refused at limit 0");
	passwords_free(&pl);
}

static void
dedup_and_word_length(struct t *t)
{
	struct pwlist	*pl = passwords_new(20);
	char		 longw[PW_WORD_MAX + 2];

	memset(longw, 'x', sizeof longw - 1);
	longw[sizeof longw - 1] = '\0';
	t_check(t, passwords_add(pl, "same", 4, "a", true), "first add");
	t_check(t, !passwords_add(pl, "same", 4, "b", true),
	    "duplicate added");
	t_check(t, passwords_add(pl, longw, PW_WORD_MAX, "a", true),
	    "%d bytes refused", PW_WORD_MAX);
	t_check(t, !passwords_add(pl, longw, PW_WORD_MAX + 1, "a", true),
	    "%d bytes accepted", PW_WORD_MAX + 1);
	t_check(t, strcmp(passwords_source(pl, 0), "a") == 0, "got source "
	    "\"%s\", want \"a\"", passwords_source(pl, 0));
	t_check(t, passwords_words(pl)[passwords_count(pl)] == NULL,
	    "words not NULL-terminated");
	passwords_free(&pl);
	passwords_free(&pl);		/* idempotent */
}

static void
gather_order(struct t *t)
{
	static const char	ini[] = "[attachments]\n"
	    "archive_passwords = infected other\n";
	static const unsigned char msg[] = "Subject: pwd subj1\r\n"
	    "From: a@example.org\r\n\r\nbody\r\n";
	static const unsigned char body[] = "Password: body1\n";
	static const char *const names[] = { "doc password 4711.zip" };
	struct mime_leaf	 leaves[2];
	struct policy		*pol = NULL;
	struct pwlist		*pl;
	char			*errs = NULL;
	static const char *const want[] = { "infected", "other", "subj1",
	    "body1", "4711" };
	size_t			 i;

	if (!t_check(t, policy_load_string(ini, "test.ini", NULL, 0, &pol,
	    &errs) == 0, "policy: %s", errs != NULL ? errs : ""))
		return;
	memset(leaves, 0, sizeof leaves);
	leaves[0].path = "1";
	leaves[0].textual = true;
	leaves[0].data = body;
	leaves[0].len = sizeof body - 1;
	leaves[0].same_as = MIME_LEAF_NONE;
	leaves[1].path = "2";
	leaves[1].names = names;
	leaves[1].nnames = 1;
	leaves[1].same_as = MIME_LEAF_NONE;
	pl = passwords_gather(pol, msg, sizeof msg - 1, leaves, 2);
	t_check(t, passwords_count(pl) == 5, "got %zu words, want 5",
	    passwords_count(pl));
	for (i = 0; i < 5 && i < passwords_count(pl); i++)
		t_check(t, strcmp(passwords_words(pl)[i], want[i]) == 0,
		    "word %zu: got \"%s\", want \"%s\" (from %s)", i,
		    passwords_words(pl)[i], want[i], passwords_source(pl, i));
	passwords_free(&pl);
	policy_unref(&pol);
	free(errs);
}

static const struct t_case tcases[] = {
	T_CASE(from_text_languages),
	T_CASE(no_keyword_no_candidates),
	T_CASE(limit_n_and_n_plus_1),
	T_CASE(dedup_and_word_length),
	T_CASE(gather_order),
};

int
main(int argc, char **argv)
{
	return t_main(argc, argv, tcases, T_NCASES(tcases));
}
