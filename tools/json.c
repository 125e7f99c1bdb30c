/*
 * A strict, bounded JSON parser (see json.h). Recursive descent, depth
 * limited; the children of an array or object are gathered on one scratch
 * stack and copied into the document's arena when it closes, so a document
 * costs at most max_values values plus its decoded strings. Single-threaded
 * per document; no global state but the default limits.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

const struct json_limits json_default_limits = {
	.max_depth = 64,
	.max_values = 1u << 20,
	.max_string = 1u << 20,
	.max_number = 64,
};

struct chunk {
	struct chunk *next;
	size_t used, size;
	_Alignas(16) char data[];
};

struct json_doc {
	struct chunk *chunks;
	struct json_value root;
};

struct parser {
	const char *p, *end, *start;
	const struct json_limits *lim;
	struct json_doc *doc;
	struct json_value *stack; /* children of the open arrays and objects */
	size_t nstack, capstack;
	size_t nvalues;
	char *err;
	size_t errsz;
	bool failed;
};

static void
fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->failed)
		return;
	ps->failed = true;
	va_start(ap, fmt);
	vsnprintf(ps->err, ps->errsz, fmt, ap);
	va_end(ap);
}

static void *
arena_alloc(struct parser *ps, size_t size)
{
	struct chunk *c = ps->doc->chunks;
	void *r;

	size = (size + 15) & ~(size_t)15;
	if (!c || c->size - c->used < size) {
		size_t csize = size > 65536 ? size : 65536;

		c = malloc(sizeof(*c) + csize);
		if (!c) {
			fail(ps, "out of memory");
			return NULL;
		}
		c->used = 0;
		c->size = csize;
		c->next = ps->doc->chunks;
		ps->doc->chunks = c;
	}
	r = c->data + c->used;
	c->used += size;
	return r;
}

static bool
push(struct parser *ps, const struct json_value *v)
{
	if (ps->nstack == ps->capstack) {
		size_t cap = ps->capstack ? ps->capstack * 2 : 64;
		struct json_value *n = realloc(ps->stack, cap * sizeof(*n));

		if (!n) {
			fail(ps, "out of memory");
			return false;
		}
		ps->stack = n;
		ps->capstack = cap;
	}
	ps->stack[ps->nstack++] = *v;
	return true;
}

static void
skip_ws(struct parser *ps)
{
	while (ps->p < ps->end &&
	       (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static bool
literal(struct parser *ps, const char *word, enum json_type t, struct json_value *out)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0) {
		fail(ps, "invalid literal");
		return false;
	}
	ps->p += n;
	out->type = t;
	return true;
}

static bool
parse_number(struct parser *ps, struct json_value *out)
{
	const char *s = ps->p;
	char buf[128];
	size_t len;
	bool integer = true, neg = false;
	char *endp;

	if (ps->p < ps->end && *ps->p == '-') {
		neg = true;
		ps->p++;
	}
	if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
		fail(ps, "invalid number");
		return false;
	}
	if (*ps->p == '0') {
		ps->p++;
	} else {
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && *ps->p == '.') {
		integer = false;
		ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
			fail(ps, "invalid number");
			return false;
		}
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		integer = false;
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
			fail(ps, "invalid number");
			return false;
		}
		while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
			ps->p++;
	}
	len = (size_t)(ps->p - s);
	if (len > ps->lim->max_number || len >= sizeof(buf)) {
		fail(ps, "number longer than %zu characters", ps->lim->max_number);
		return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	out->type = JSON_NUMBER;
	out->num.is_u64 = false;
	out->num.u = 0;
	errno = 0;
	out->num.d = strtod(buf, &endp);
	if (!isfinite(out->num.d)) {
		fail(ps, "number out of range");
		return false;
	}
	if (integer && !neg) {
		errno = 0;
		out->num.u = strtoull(buf, &endp, 10);
		out->num.is_u64 = errno != ERANGE;
	}
	return true;
}

/* Appends the UTF-8 encoding of cp to dst; returns the bytes written. */
static size_t
put_utf8(char *dst, uint32_t cp)
{
	if (cp < 0x80) {
		dst[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		dst[0] = (char)(0xc0 | cp >> 6);
		dst[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		dst[0] = (char)(0xe0 | cp >> 12);
		dst[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		dst[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	dst[0] = (char)(0xf0 | cp >> 18);
	dst[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	dst[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	dst[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

static int
hex4(const char *p, const char *end, uint32_t *out)
{
	uint32_t v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Length of the valid UTF-8 sequence at p (1..4), 0 if invalid. */
static size_t
utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool
parse_string(struct parser *ps, struct json_value *out)
{
	const char *s = ++ps->p; /* after the quote */
	size_t raw = 0;
	char *dst;
	size_t o = 0;

	/* First pass: find the end; the decoded string is never longer. */
	while (ps->p < ps->end && *ps->p != '"') {
		if (*ps->p == '\\') {
			ps->p++;
			if (ps->p >= ps->end)
				break;
		}
		ps->p++;
	}
	if (ps->p >= ps->end) {
		fail(ps, "unterminated string");
		return false;
	}
	raw = (size_t)(ps->p - s);
	if (raw > ps->lim->max_string * 6) {
		fail(ps, "string longer than %zu bytes", ps->lim->max_string);
		return false;
	}
	dst = arena_alloc(ps, raw + 1);
	if (!dst)
		return false;
	for (const char *q = s; q < ps->p;) {
		unsigned char c = (unsigned char)*q;

		if (c < 0x20) {
			fail(ps, "control character in string");
			return false;
		}
		if (c == '\\') {
			uint32_t cp, lo;

			q++;
			switch (*q++) {
			case '"': dst[o++] = '"'; break;
			case '\\': dst[o++] = '\\'; break;
			case '/': dst[o++] = '/'; break;
			case 'b': dst[o++] = '\b'; break;
			case 'f': dst[o++] = '\f'; break;
			case 'n': dst[o++] = '\n'; break;
			case 'r': dst[o++] = '\r'; break;
			case 't': dst[o++] = '\t'; break;
			case 'u':
				if (hex4(q, ps->p, &cp) < 0) {
					fail(ps, "invalid \\u escape");
					return false;
				}
				q += 4;
				if (cp >= 0xd800 && cp <= 0xdbff) {
					if (ps->p - q < 6 || q[0] != '\\' || q[1] != 'u' ||
					    hex4(q + 2, ps->p, &lo) < 0 || lo < 0xdc00 ||
					    lo > 0xdfff) {
						fail(ps, "unpaired surrogate in \\u escape");
						return false;
					}
					q += 6;
					cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				} else if (cp >= 0xdc00 && cp <= 0xdfff) {
					fail(ps, "unpaired surrogate in \\u escape");
					return false;
				}
				if (cp == 0) {
					fail(ps, "NUL character in string");
					return false;
				}
				o += put_utf8(dst + o, cp);
				break;
			default:
				fail(ps, "invalid escape in string");
				return false;
			}
			continue;
		}
		{
			size_t n = utf8_len((const unsigned char *)q, (const unsigned char *)ps->p);

			if (n == 0) {
				fail(ps, "invalid UTF-8 in string");
				return false;
			}
			memcpy(dst + o, q, n);
			o += n;
			q += n;
		}
	}
	if (o > ps->lim->max_string) {
		fail(ps, "string longer than %zu bytes", ps->lim->max_string);
		return false;
	}
	dst[o] = '\0';
	ps->p++; /* the closing quote */
	out->type = JSON_STRING;
	out->n = (uint32_t)o;
	out->str = dst;
	return true;
}

static bool parse_value(struct parser *ps, unsigned depth, struct json_value *out);

/* Moves the children pushed since base into the arena as out's items. */
static bool
close_container(struct parser *ps, size_t base, struct json_value *out)
{
	size_t n = ps->nstack - base;

	out->items = NULL;
	if (n) {
		out->items = arena_alloc(ps, n * sizeof(*out->items));
		if (!out->items)
			return false;
		memcpy(out->items, ps->stack + base, n * sizeof(*out->items));
	}
	out->n = (uint32_t)(out->type == JSON_OBJECT ? n / 2 : n);
	ps->nstack = base;
	return true;
}

static bool
parse_array(struct parser *ps, unsigned depth, struct json_value *out)
{
	size_t base = ps->nstack;
	struct json_value v;

	ps->p++;
	out->type = JSON_ARRAY;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return close_container(ps, base, out);
	}
	for (;;) {
		if (!parse_value(ps, depth + 1, &v) || !push(ps, &v))
			return false;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return close_container(ps, base, out);
		}
		fail(ps, ps->p >= ps->end ? "unexpected end of input in an array"
					  : "expected ',' or ']' in an array");
		return false;
	}
}

static bool
parse_object(struct parser *ps, unsigned depth, struct json_value *out)
{
	size_t base = ps->nstack;
	struct json_value k, v;

	ps->p++;
	out->type = JSON_OBJECT;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return close_container(ps, base, out);
	}
	for (;;) {
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '"') {
			fail(ps, ps->p >= ps->end ? "unexpected end of input in an object"
						  : "expected a string as object key");
			return false;
		}
		if (!parse_string(ps, &k))
			return false;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != ':') {
			fail(ps, ps->p >= ps->end ? "unexpected end of input in an object"
						  : "expected ':' after an object key");
			return false;
		}
		ps->p++;
		if (!parse_value(ps, depth + 1, &v) || !push(ps, &k) || !push(ps, &v))
			return false;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return close_container(ps, base, out);
		}
		fail(ps, ps->p >= ps->end ? "unexpected end of input in an object"
					  : "expected ',' or '}' in an object");
		return false;
	}
}

static bool
parse_value(struct parser *ps, unsigned depth, struct json_value *out)
{
	memset(out, 0, sizeof(*out));
	if (depth > ps->lim->max_depth) {
		fail(ps, "nested deeper than %u levels", ps->lim->max_depth);
		return false;
	}
	if (++ps->nvalues > ps->lim->max_values) {
		fail(ps, "more than %zu values", ps->lim->max_values);
		return false;
	}
	skip_ws(ps);
	if (ps->p >= ps->end) {
		fail(ps, "unexpected end of input");
		return false;
	}
	switch (*ps->p) {
	case '{':
		return parse_object(ps, depth, out);
	case '[':
		return parse_array(ps, depth, out);
	case '"':
		return parse_string(ps, out);
	case 't':
		return literal(ps, "true", JSON_TRUE, out);
	case 'f':
		return literal(ps, "false", JSON_FALSE, out);
	case 'n':
		return literal(ps, "null", JSON_NULL, out);
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps, out);
		fail(ps, "unexpected character '%s%c'",
		     (unsigned char)*ps->p < 0x20 || (unsigned char)*ps->p >= 0x7f ? "\\x" : "",
		     (unsigned char)*ps->p < 0x20 || (unsigned char)*ps->p >= 0x7f ? '?'
										 : *ps->p);
		return false;
	}
}

struct json_doc *
json_parse(const char *text, size_t len, const struct json_limits *lim, char *err,
	   size_t errsz, size_t *where)
{
	struct parser ps = {
		.p = text, .end = text + len, .start = text, .lim = lim ? lim : &json_default_limits,
		.err = err, .errsz = errsz,
	};
	struct json_doc *d = calloc(1, sizeof(*d));

	if (!d) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	ps.doc = d;
	if (parse_value(&ps, 0, &d->root)) {
		skip_ws(&ps);
		if (ps.p < ps.end)
			fail(&ps, "trailing characters after the value");
	}
	free(ps.stack);
	if (ps.failed) {
		if (where)
			*where = (size_t)(ps.p - text);
		json_doc_free(d);
		return NULL;
	}
	return d;
}

const struct json_value *
json_root(const struct json_doc *d)
{
	return &d->root;
}

void
json_doc_free(struct json_doc *d)
{
	struct chunk *c, *next;

	if (!d)
		return;
	for (c = d->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(d);
}

const struct json_value *
json_get(const struct json_value *obj, const char *key)
{
	if (!obj || obj->type != JSON_OBJECT)
		return NULL;
	for (uint32_t i = 0; i < obj->n; i++)
		if (strcmp(obj->items[2 * i].str, key) == 0)
			return &obj->items[2 * i + 1];
	return NULL;
}

const char *
json_get_str(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v && v->type == JSON_STRING ? v->str : NULL;
}

bool
json_as_u64(const struct json_value *v, uint64_t *out)
{
	if (!v || v->type != JSON_NUMBER || !v->num.is_u64)
		return false;
	*out = v->num.u;
	return true;
}

bool
json_get_u64(const struct json_value *obj, const char *key, uint64_t *out)
{
	return json_as_u64(json_get(obj, key), out);
}

bool
json_parse_hex(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return false;
	for (s += 2; *s; s++, n++) {
		char c = *s;

		if (n >= 16)
			return false;
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint64_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint64_t)(c - 'A' + 10);
		else
			return false;
	}
	if (n == 0)
		return false;
	*out = v;
	return true;
}

bool
json_as_hex(const struct json_value *v, uint64_t *out)
{
	return v && v->type == JSON_STRING && json_parse_hex(v->str, out);
}

bool
json_get_hex(const struct json_value *obj, const char *key, uint64_t *out)
{
	return json_as_hex(json_get(obj, key), out);
}

const struct json_value *
json_get_array(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v && v->type == JSON_ARRAY ? v : NULL;
}

const struct json_value *
json_get_object(const struct json_value *obj, const char *key)
{
	const struct json_value *v = json_get(obj, key);

	return v && v->type == JSON_OBJECT ? v : NULL;
}
