/*
 * lib/json.h - JSON values, written and read through json-c (lib/json.c is
 * the only includer of <json-c/json.h>).
 *
 * A struct json is one value (object, array, string, number, bool or
 * null). Builders take ownership of the values they are given; readers
 * return borrowed pointers valid while the root lives. Parsing is bounded
 * (size and nesting depth). Strings are written as UTF-8 with control
 * characters escaped; "/" is not escaped.
 * Errors: json_parse 0/-1 with struct err. Ownership: the root is the
 * caller's (json_free). Thread-safety: a value belongs to one thread.
 */
#ifndef PORTCULLIS_JSON_H
#define PORTCULLIS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "util.h"

struct json;

struct json	*json_obj(void);
struct json	*json_arr(void);
struct json	*json_new_str(const char *s);	/* NULL = null */
struct json	*json_new_int(int64_t n);
/* Sets key of object o to v (takes ownership; NULL v = null). */
void		 json_set(struct json *o, const char *key, struct json *v);
void		 json_set_str(struct json *o, const char *key, const char *s);
void		 json_set_int(struct json *o, const char *key, int64_t n);
void		 json_set_uint(struct json *o, const char *key, uint64_t n);
void		 json_set_bool(struct json *o, const char *key, bool b);
void		 json_set_double(struct json *o, const char *key, double d);
/* Appends v to array a (takes ownership). */
void		 json_push(struct json *a, struct json *v);
/* Appends v compactly (one line) to out. */
void		 json_write(const struct json *v, struct buf *out);
void		 json_free(struct json **vp);

/*
 * Parses len bytes (one value, nothing after it) nested at most depth
 * levels. 0 with *v_r (json_free), or -1 with err.
 */
int		 json_parse(const char *s, size_t len, unsigned depth,
		    struct json **v_r, struct err *err)
		    __attribute__((warn_unused_result));
bool		 json_is_obj(const struct json *v);
/* Member key of object o; NULL when absent or o is not an object. */
const struct json *json_get(const struct json *o, const char *key);
/* The string of v; NULL when v is NULL or not a string. */
const char	*json_str(const struct json *v);
/* A copy of member key if it is a string, else NULL (caller frees). */
char		*json_get_strdup(const struct json *o, const char *key);
/* The integer of member key; 0 when absent or not a number. */
int64_t		 json_get_int(const struct json *o, const char *key);
/* False when member key is there but not an integer that fits int64. */
bool		 json_int_ok(const struct json *o, const char *key);
/* Array length (0 when not an array) and item i (borrowed). */
size_t		 json_len(const struct json *a);
const struct json *json_at(const struct json *a, size_t i);

#endif
