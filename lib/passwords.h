/*
 * lib/passwords.h - passphrases to try on password-protected archives:
 * the postmaster's ([attachments] archive_passwords and the file of them)
 * and candidates found in the message itself (text parts, subject,
 * attachment names) near a word for "password" in one of many languages,
 * or quoted on such a line.
 *
 * Pure: no I/O (the policy loader reads the password file). A struct
 * pwlist owns copies of its words; passwords_free() releases them.
 * Bounded: at most [limits] password_candidates words from the message,
 * PW_TEXT_MAX bytes of each text, PW_WORD_MAX bytes per word. Text is
 * matched as UTF-8 (ASCII case folded; the non-Latin keywords are listed
 * in their usual cases). Reentrant; a pwlist is not shared.
 */
#ifndef PORTCULLIS_PASSWORDS_H
#define PORTCULLIS_PASSWORDS_H

#include <stdbool.h>
#include <stddef.h>

#include "mime.h"
#include "policy.h"

#define PW_TEXT_MAX	(256 * 1024)	/* bytes of one text searched */
#define PW_WORD_MAX	64		/* longer tokens are not candidates */

struct pwlist;

struct pwlist	*passwords_new(unsigned max_found);
void		 passwords_free(struct pwlist **plp);

/* Adds word (a copy) unless present or empty; source is a static or
 * longer-lived string ("the subject"). False once max_found words from
 * the message are held (from_message) or the word was not added. */
bool	passwords_add(struct pwlist *pl, const char *word, size_t len,
	    const char *source, bool from_message);

/* Candidates from one text (UTF-8, CRLF or LF). Returns how many were
 * added. source is copied. */
size_t	passwords_from_text(struct pwlist *pl, const unsigned char *text,
	    size_t len, const char *source);

/*
 * Everything for one message, in the order tried: the policy's list, the
 * password file's, then the message's (subject, text parts in order,
 * attachment names without their last extension). msg/hlen: the raw
 * message and its header block. Caller frees with passwords_free().
 */
struct pwlist	*passwords_gather(const struct policy *pol,
		    const unsigned char *msg, size_t hlen,
		    const struct mime_leaf *leaves, size_t n);

size_t		 passwords_count(const struct pwlist *pl);
/* The words as an array (borrowed until passwords_free). */
const char *const *passwords_words(const struct pwlist *pl);
const char	*passwords_source(const struct pwlist *pl, size_t i);

#endif
