/*
 * A strict, bounded JSON parser for one record (one line of a log).
 *
 * RFC 8259 grammar, nothing more: no comments, no trailing commas, no NaN,
 * UTF-8 checked, control characters in strings refused, "\u0000" refused (so
 * every string is a C string). Limits bound what one call can cost whatever
 * the input: nesting depth, the number of values, the length of a number and
 * of a string. A parsed document lives in one arena, freed at once.
 */
#ifndef LOCKHOUND_JSON_H
#define LOCKHOUND_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum json_type {
	JSON_NULL,
	JSON_FALSE,
	JSON_TRUE,
	JSON_NUMBER,
	JSON_STRING,
	JSON_ARRAY,
	JSON_OBJECT,
};

struct json_value {
	enum json_type type;
	uint32_t n; /* string: length; array: items; object: members */
	union {
		const char *str;	   /* JSON_STRING, NUL-terminated */
		struct json_value *items; /* JSON_ARRAY: n; JSON_OBJECT: 2n, key then value */
		struct {
			double d;
			uint64_t u;  /* valid when is_u64 */
			bool is_u64; /* a non-negative integer that fits 64 bits */
		} num;
	};
};

struct json_limits {
	unsigned max_depth;  /* nesting of arrays and objects */
	size_t max_values;   /* values in one document */
	size_t max_string;   /* bytes of one decoded string */
	size_t max_number;   /* characters of one number */
};

/* The limits the log reader uses. */
extern const struct json_limits json_default_limits;

struct json_doc;

/*
 * Parses text[0..len) as one JSON value (surrounding white space allowed).
 * Returns the document, or NULL with a one-phrase reason in err (and the
 * byte offset of the problem in *where, if where is not NULL). Never reads
 * past len; allocation is bounded by the limits.
 */
struct json_doc *json_parse(const char *text, size_t len, const struct json_limits *lim,
			    char *err, size_t errsz, size_t *where);
const struct json_value *json_root(const struct json_doc *d);
void json_doc_free(struct json_doc *d);

/* Lookups; each returns NULL/false when the value is missing or of another type. */
const struct json_value *json_get(const struct json_value *obj, const char *key);
const char *json_get_str(const struct json_value *obj, const char *key);
bool json_get_u64(const struct json_value *obj, const char *key, uint64_t *out);
bool json_get_hex(const struct json_value *obj, const char *key, uint64_t *out);
bool json_as_u64(const struct json_value *v, uint64_t *out);
bool json_as_hex(const struct json_value *v, uint64_t *out);
const struct json_value *json_get_array(const struct json_value *obj, const char *key);
const struct json_value *json_get_object(const struct json_value *obj, const char *key);

/* Parses "0x1f" (at most 16 hex digits) into *out. */
bool json_parse_hex(const char *s, uint64_t *out);

#endif
