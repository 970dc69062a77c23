/* lib/json.c - JSON values through json-c (see json.h). */
#include "config.h"

#include <string.h>

#include <json-c/json.h>

#include "json.h"

#define J(v)	((json_object *)(v))
#define CJ(v)	((const json_object *)(v))
#define W(o)	((struct json *)(o))

static json_object *
must(json_object *o)
{
	if (o == NULL)
		xpanic("json-c: out of memory");
	return o;
}

struct json *
json_obj(void)
{
	return W(must(json_object_new_object()));
}

struct json *
json_arr(void)
{
	return W(must(json_object_new_array()));
}

struct json *
json_new_str(const char *s)
{
	return s == NULL ? NULL : W(must(json_object_new_string(s)));
}

struct json *
json_new_int(int64_t n)
{
	return W(must(json_object_new_int64(n)));
}

void
json_set(struct json *o, const char *key, struct json *v)
{
	if (json_object_object_add(J(o), key, J(v)) != 0)
		xpanic("json-c: cannot add %s", key);
}

void
json_set_str(struct json *o, const char *key, const char *s)
{
	json_set(o, key, json_new_str(s));
}

void
json_set_int(struct json *o, const char *key, int64_t n)
{
	json_set(o, key, json_new_int(n));
}

void
json_set_uint(struct json *o, const char *key, uint64_t n)
{
	json_set(o, key, W(must(json_object_new_uint64(n))));
}

void
json_set_bool(struct json *o, const char *key, bool b)
{
	json_set(o, key, W(must(json_object_new_boolean(b))));
}

void
json_set_double(struct json *o, const char *key, double d)
{
	json_set(o, key, W(must(json_object_new_double(d))));
}

void
json_push(struct json *a, struct json *v)
{
	if (json_object_array_add(J(a), J(v)) != 0)
		xpanic("json-c: cannot append");
}

void
json_write(const struct json *v, struct buf *out)
{
	size_t		 len = 0;
	const char	*s = json_object_to_json_string_length(J(v),
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

	if (s == NULL)
		xpanic("json-c: cannot write");
	buf_append(out, s, len);
}

void
json_free(struct json **vp)
{
	if (*vp == NULL)
		return;
	json_object_put(J(*vp));
	*vp = NULL;
}

int
json_parse(const char *s, size_t len, unsigned depth, struct json **v_r,
    struct err *err)
{
	json_tokener	*tok;
	json_object	*o;
	enum json_tokener_error	je;
	size_t		 end;

	*v_r = NULL;
	if (len > (size_t)INT32_MAX)
		return err_set(err, "JSON: too large");
	if ((tok = json_tokener_new_ex((int)depth)) == NULL)
		return err_set(err, "JSON: out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, s, (int)len);
	je = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (o == NULL || je != json_tokener_success) {
		json_object_put(o);
		return err_set(err, "JSON: %s at byte %zu",
		    je == json_tokener_continue ? "unexpected end" :
		    json_tokener_error_desc(je), end);
	}
	while (end < len && strchr(" \t\r\n", s[end]) != NULL && s[end] != 0)
		end++;
	if (end != len) {
		json_object_put(o);
		return err_set(err, "JSON: extra data at byte %zu", end);
	}
	*v_r = W(o);
	return 0;
}

bool
json_is_obj(const struct json *v)
{
	return v != NULL && json_object_is_type(CJ(v), json_type_object);
}

const struct json *
json_get(const struct json *o, const char *key)
{
	json_object	*v = NULL;

	if (!json_is_obj(o) || !json_object_object_get_ex(CJ(o), key, &v))
		return NULL;
	return W(v);
}

const char *
json_str(const struct json *v)
{
	if (v == NULL || !json_object_is_type(CJ(v), json_type_string))
		return NULL;
	return json_object_get_string(J(v));
}

char *
json_get_strdup(const struct json *o, const char *key)
{
	return xstrdup(json_str(json_get(o, key)));
}

int64_t
json_get_int(const struct json *o, const char *key)
{
	const struct json	*v = json_get(o, key);

	if (v == NULL || !json_object_is_type(CJ(v), json_type_int))
		return 0;
	return json_object_get_int64(CJ(v));
}

bool
json_int_ok(const struct json *o, const char *key)
{
	const struct json	*v = json_get(o, key);

	if (v == NULL || json_object_is_type(CJ(v), json_type_null))
		return true;
	if (!json_object_is_type(CJ(v), json_type_int))
		return false;
	/* json-c keeps what does not fit int64 as uint64, and saturates. */
	return json_object_get_int64(CJ(v)) != INT64_MAX &&
	    json_object_get_int64(CJ(v)) != INT64_MIN;
}

size_t
json_len(const struct json *a)
{
	if (a == NULL || !json_object_is_type(CJ(a), json_type_array))
		return 0;
	return json_object_array_length(CJ(a));
}

const struct json *
json_at(const struct json *a, size_t i)
{
	if (i >= json_len(a))
		return NULL;
	return W(json_object_array_get_idx(CJ(a), i));
}
