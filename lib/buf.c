/*
 * Growable byte buffers for records and report text, with the number and
 * JSON-string formatting the runtime needs (no stdio: printf may take locks
 * and is not async-signal-safe). The buffer grows in the arena; when that
 * fails it keeps what it has and sets oom. lh_fmt_* write into caller
 * memory and are async-signal-safe.
 */
#include "config.h"

#include <string.h>

#include "lockhound-private.h"

void
lh_buf_init(struct lh_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void
lh_buf_release(struct lh_buf *b)
{
	lh_free(b->p, b->cap);
	lh_buf_init(b);
}

void
lh_buf_reset(struct lh_buf *b)
{
	b->len = 0;
}

static bool
reserve(struct lh_buf *b, size_t n)
{
	size_t cap;
	char *p;

	if (b->len + n + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	p = lh_realloc(b->p, b->cap, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void
lh_buf_putn(struct lh_buf *b, const char *s, size_t n)
{
	if (!reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void
lh_buf_puts(struct lh_buf *b, const char *s)
{
	lh_buf_putn(b, s, strlen(s));
}

void
lh_buf_putc(struct lh_buf *b, char c)
{
	lh_buf_putn(b, &c, 1);
}

/* async-signal-safe; dst has room for 21 bytes. Returns the length. */
size_t
lh_fmt_u64(char *dst, uint64_t v)
{
	char tmp[21];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		dst[i] = tmp[n - 1 - i];
	dst[n] = '\0';
	return n;
}

/* async-signal-safe; dst has room for 19 bytes ("0x" and 16 digits). */
size_t
lh_fmt_hex(char *dst, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[16];
	size_t n = 0, i;

	do {
		tmp[n++] = digits[v & 15];
		v >>= 4;
	} while (v);
	dst[0] = '0';
	dst[1] = 'x';
	for (i = 0; i < n; i++)
		dst[2 + i] = tmp[n - 1 - i];
	dst[2 + n] = '\0';
	return n + 2;
}

void
lh_buf_put_u64(struct lh_buf *b, uint64_t v)
{
	char tmp[24];

	lh_buf_putn(b, tmp, lh_fmt_u64(tmp, v));
}

void
lh_buf_put_i64(struct lh_buf *b, int64_t v)
{
	if (v < 0) {
		lh_buf_putc(b, '-');
		lh_buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
	} else {
		lh_buf_put_u64(b, (uint64_t)v);
	}
}

void
lh_buf_put_hex(struct lh_buf *b, uint64_t v)
{
	char tmp[24];

	lh_buf_putn(b, tmp, lh_fmt_hex(tmp, v));
}

/* Pads with spaces to width, given that `used` columns are taken already. */
void
lh_buf_put_pad(struct lh_buf *b, size_t width, size_t used)
{
	while (used++ < width)
		lh_buf_putc(b, ' ');
}

/*
 * Writes s as a JSON string, quotes included. Bytes that are not valid UTF-8
 * are written as \u00XX of the byte, so that a path with odd bytes still
 * gives valid JSON.
 */
void
lh_buf_put_json_str(struct lh_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	lh_buf_putc(b, '"');
	while (*p) {
		unsigned char c = *p;
		int extra = c >= 0xf0 && c < 0xf5 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : 0;

		if (c == '"' || c == '\\') {
			lh_buf_putc(b, '\\');
			lh_buf_putc(b, (char)c);
		} else if (c == '\n') {
			lh_buf_puts(b, "\\n");
		} else if (c == '\t') {
			lh_buf_puts(b, "\\t");
		} else if (c < 0x20 || c == 0x7f || (c >= 0x80 && !extra)) {
			char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

			lh_buf_putn(b, esc, 6);
		} else if (c >= 0x80) {
			int i;

			for (i = 1; i <= extra; i++)
				if ((p[i] & 0xc0) != 0x80)
					break;
			if (i <= extra) { /* truncated or bad sequence */
				char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};

				lh_buf_putn(b, esc, 6);
			} else {
				lh_buf_putn(b, (const char *)p, (size_t)extra + 1);
				p += extra;
			}
		} else {
			lh_buf_putc(b, (char)c);
		}
		p++;
	}
	lh_buf_putc(b, '"');
}
