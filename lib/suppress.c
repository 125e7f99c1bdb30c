/*
 * Suppressions: rules that hide findings, shared by the runtime (the
 * `suppressions=FILE` option, loaded once at start-up) and the CLI
 * (`--suppressions=FILE`). The format is in lockhound(1):
 *
 *	# comment
 *	kind:lock-order-inversion lock:accounts_lock lock:audit_lock
 *	function:legacy_*
 *	file:*.generated.c
 *
 * A rule is one line of conditions TYPE:PATTERN, all of which must hold; a
 * finding is hidden when any rule holds. Patterns are globs (`*`, `?`,
 * `\` quotes the next character). The rules live in the arena; parsing and
 * matching take no lock, and the rules never change after loading, so any
 * thread may match. Matching costs one glob per condition and name.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lockhound-private.h"

struct lh_suppressions lh_supp;

static const char *const type_names[] = {
	[LH_SUPP_KIND] = "kind",
	[LH_SUPP_LOCK] = "lock",
	[LH_SUPP_FUNCTION] = "function",
	[LH_SUPP_FILE] = "file",
};

/* Glob match: `*` any run, `?` one byte, `\x` x itself. Iterative, with one
 * backtrack point, so it costs O(len(p) * len(s)) at worst. */
bool
lh_supp_glob(const char *p, const char *s)
{
	const char *star_p = NULL, *star_s = NULL;

	for (;;) {
		if (*p == '*') {
			while (*p == '*')
				p++;
			star_p = p;
			star_s = s;
			continue;
		}
		if (*s == '\0') {
			if (*p == '\0')
				return true;
			return false;
		}
		if (*p == '?' || (*p == '\\' && p[1] && p[1] == *s) || (*p != '\\' && *p == *s)) {
			p += *p == '\\' ? 2 : 1;
			s++;
			continue;
		}
		if (!star_p)
			return false;
		p = star_p;
		s = ++star_s;
	}
}

static int
type_of(const char *t, size_t n)
{
	for (int i = 0; i < (int)LH_ARRAY_SIZE(type_names); i++)
		if (strlen(type_names[i]) == n && memcmp(type_names[i], t, n) == 0)
			return i;
	return -1;
}

static void
set_err(char *err, size_t errsz, const char *a, const char *b)
{
	size_t n = 0;

	if (!errsz)
		return;
	for (const char *s = a; s && *s && n + 1 < errsz; s++)
		err[n++] = *s;
	for (const char *s = b; s && *s && n + 1 < errsz; s++)
		err[n++] = *s;
	err[n] = '\0';
}

void
lh_supp_free(struct lh_suppressions *s)
{
	for (size_t i = 0; i < s->n; i++) {
		for (int k = 0; k < s->rules[i].n; k++)
			lh_free(s->rules[i].conds[k].pattern, strlen(s->rules[i].conds[k].pattern) + 1);
	}
	lh_free(s->rules, s->cap * sizeof(*s->rules));
	memset(s, 0, sizeof(*s));
}

/* Parses one rule line (no newline) into r; 0, or -1 with err set. */
static int
parse_line(const char *p, const char *end, struct lh_supp_rule *r, char *err, size_t errsz)
{
	r->n = 0;
	while (p < end) {
		const char *tok, *colon;
		int type;
		size_t plen;
		char *pat;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
			p++;
		if (p >= end || *p == '#')
			break;
		tok = p;
		while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
			p++;
		colon = memchr(tok, ':', (size_t)(p - tok));
		if (!colon) {
			set_err(err, errsz, "a condition is TYPE:PATTERN ",
				"(TYPE: kind, lock, function or file)");
			return -1;
		}
		type = type_of(tok, (size_t)(colon - tok));
		if (type < 0) {
			set_err(err, errsz, "unknown condition type ",
				"(TYPE: kind, lock, function or file)");
			return -1;
		}
		plen = (size_t)(p - colon - 1);
		if (plen == 0) {
			set_err(err, errsz, "empty pattern", NULL);
			return -1;
		}
		if (r->n >= LH_SUPP_MAX_CONDS) {
			set_err(err, errsz, "too many conditions in one rule", NULL);
			return -1;
		}
		pat = lh_alloc(plen + 1);
		if (!pat) {
			set_err(err, errsz, "out of memory", NULL);
			return -1;
		}
		memcpy(pat, colon + 1, plen);
		r->conds[r->n].type = (uint8_t)type;
		r->conds[r->n].pattern = pat;
		r->n++;
	}
	return 0;
}

int
lh_supp_parse(struct lh_suppressions *s, const char *text, size_t len, char *err,
	      size_t errsz, unsigned *errline)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;

	*errline = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		struct lh_supp_rule r;

		line++;
		if ((size_t)(e - p) > LH_SUPP_MAX_LINE) {
			*errline = line;
			set_err(err, errsz, "line too long", NULL);
			return -EINVAL;
		}
		if (memchr(p, '\0', (size_t)(e - p))) {
			*errline = line;
			set_err(err, errsz, "a NUL byte: not a text file", NULL);
			return -EINVAL;
		}
		memset(&r, 0, sizeof(r));
		if (parse_line(p, e, &r, err, errsz) < 0) {
			for (int k = 0; k < r.n; k++)
				lh_free(r.conds[k].pattern, strlen(r.conds[k].pattern) + 1);
			*errline = line;
			return -EINVAL;
		}
		p = nl ? nl + 1 : end;
		if (r.n == 0)
			continue;
		if (s->n >= LH_SUPP_MAX_RULES) {
			*errline = line;
			set_err(err, errsz, "too many rules", NULL);
			return -E2BIG;
		}
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 16;
			struct lh_supp_rule *n = lh_realloc(s->rules, s->cap * sizeof(*n),
							    cap * sizeof(*n));

			if (!n) {
				set_err(err, errsz, "out of memory", NULL);
				return -ENOMEM;
			}
			s->rules = n;
			s->cap = cap;
		}
		r.line = line;
		s->rules[s->n++] = r;
	}
	return 0;
}

int
lh_supp_load(struct lh_suppressions *s, const char *path, char *err, size_t errsz,
	     unsigned *errline)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	char *buf;
	size_t len = 0;
	int rc;

	*errline = 0;
	if (fd < 0) {
		set_err(err, errsz, strerror(errno), NULL);
		return -errno;
	}
	buf = lh_alloc(LH_SUPP_MAX_FILE + 1);
	if (!buf) {
		close(fd);
		set_err(err, errsz, "out of memory", NULL);
		return -ENOMEM;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, LH_SUPP_MAX_FILE + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			set_err(err, errsz, strerror(errno), NULL);
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > LH_SUPP_MAX_FILE) {
			rc = -EFBIG;
			set_err(err, errsz, "larger than 1 MiB", NULL);
			goto out;
		}
	}
	rc = lh_supp_parse(s, buf, len, err, errsz, errline);
out:
	lh_free(buf, LH_SUPP_MAX_FILE + 1);
	close(fd);
	return rc;
}

const struct lh_supp_rule *
lh_supp_match(const struct lh_suppressions *s, const char *kind,
	      bool (*any)(void *arg, int type, const char *pattern), void *arg)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct lh_supp_rule *r = &s->rules[i];
		bool all = true;

		for (int k = 0; k < r->n && all; k++) {
			if (r->conds[k].type == LH_SUPP_KIND)
				all = kind && lh_supp_glob(r->conds[k].pattern, kind);
			else
				all = any(arg, r->conds[k].type, r->conds[k].pattern);
		}
		if (all)
			return r;
	}
	return NULL;
}

/* The type's name in the rule format ("lock", ...). */
const char *
lh_supp_type_name(int type)
{
	return type >= 0 && type < (int)LH_ARRAY_SIZE(type_names) ? type_names[type] : "?";
}

/*
 * Loads the `suppressions` option's file (path) into lh_supp, at start-up (before
 * any thread of ours exists). A file that cannot be read or parsed is said
 * once and ignored whole: hiding less than asked is safer than hiding a
 * part nobody chose.
 */
void
lh_suppress_init(const char *path)
{
	char err[160], msg[LH_PATH_MAX + 256];
	unsigned line = 0;
	struct lh_buf b;

	lh_supp_free(&lh_supp);
	if (!path || !path[0])
		return;
	if (lh_supp_load(&lh_supp, path, err, sizeof(err), &line) == 0)
		return;
	lh_supp_free(&lh_supp);
	lh_buf_init(&b);
	lh_buf_puts(&b, "suppressions: ");
	lh_buf_puts(&b, path);
	if (line) {
		lh_buf_putc(&b, ':');
		lh_buf_put_u64(&b, line);
	}
	lh_buf_puts(&b, ": ");
	lh_buf_puts(&b, err);
	lh_buf_puts(&b, "; no finding is suppressed");
	if (b.oom) {
		lh_warn("suppressions: the file cannot be used; no finding is suppressed");
	} else {
		memcpy(msg, b.p, b.len < sizeof(msg) - 1 ? b.len : sizeof(msg) - 1);
		msg[b.len < sizeof(msg) - 1 ? b.len : sizeof(msg) - 1] = '\0';
		lh_warn(msg);
	}
	lh_buf_release(&b);
}
