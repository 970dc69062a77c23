/*
 * lib/magic.h - the true type of a buffer, from its bytes.
 *
 * The only user of libmagic. Maps what the content really is to a short,
 * documented vocabulary the policy can name (policy/README.md lists it):
 * exe-pe exe-elf exe-macho exe-dos script shortcut msi office-macro office
 * ole pdf rtf zip 7z rar tar gzip bzip2 xz cab iso cpio arj lzh image
 * audio video html text calendar data ... "data" means unknown.
 *
 * struct typer is created once per process and shared by all threads
 * (typer_detect is thread-safe). typer_new() returns it, typer_free()
 * releases it.
 */
#ifndef PORTCULLIS_MAGIC_H
#define PORTCULLIS_MAGIC_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct typer;

int	typer_new(struct typer **typer_r, struct err *err)
	    __attribute__((warn_unused_result));
void	typer_free(struct typer **tp);

/*
 * Returns the vocabulary word for buf (a static string, never NULL). When
 * desc is not NULL, also writes libmagic's description there (cut to
 * desclen). t may be NULL: then only the built-in signatures are used.
 */
const char *typer_detect(struct typer *t, const unsigned char *buf,
	    size_t len, char *desc, size_t desclen);

/* True for the words archive.c can open (zip 7z rar tar gzip ...). */
bool	truetype_is_archive(const char *word);
/* True for every word in the vocabulary (policy validation). */
bool	truetype_known(const char *word);

#endif
