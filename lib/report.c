/*
 * Reports: the JSON-lines log (log_path) and the text on stderr.
 *
 * Every record is built in a buffer and written with one write(2) to a file
 * opened O_APPEND, so records of several threads or processes never
 * interleave and a crash loses no finished record. The first record of a log
 * is a header with the module map; a module loaded later is described by a
 * "modules" record before the first record that uses it, and a lock by a
 * "lock" record. report_mu orders writers; it nests inside graph_mu.
 *
 * Stacks are written raw (pc, module index, offset); the CLI symbolizes them
 * offline. The stderr text names functions from the ELF symbol tables
 * (symbols.c), never with dladdr.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "lockhound-private.h"

static lh_mutex_t report_mu = LH_MUTEX_INIT;
static int log_fd = -1;

/* A set of nonzero 64-bit keys (open addressing), under report_mu. */
struct keyset {
	uint64_t *keys;
	size_t cap, used;
};

/* Orders logged, by class (the log grows with the program's code paths,
 * not with its lock instances), and lock ids described by a "lock" record. */
static struct keyset orders_logged, locks_logged;

static void
forget(struct keyset *set)
{
	if (set->keys)
		memset(set->keys, 0, set->cap * sizeof(*set->keys));
	set->used = 0;
}

/* Adds k; true if it was not there. When memory runs out, says true: a
 * record written twice is better than one lost. */
static bool
first_time(struct keyset *set, uint64_t k)
{
	size_t i;

	k = k ? k : 1;
	if ((set->used + 1) * 2 > set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 1024;
		uint64_t *n = lh_alloc(cap * sizeof(*n));

		if (!n)
			return true;
		for (size_t j = 0; j < set->cap; j++) {
			if (!set->keys[j])
				continue;
			for (i = set->keys[j] & (cap - 1); n[i]; i = (i + 1) & (cap - 1))
				;
			n[i] = set->keys[j];
		}
		lh_free(set->keys, set->cap * sizeof(*set->keys));
		set->keys = n;
		set->cap = cap;
	}
	for (i = k & (set->cap - 1); set->keys[i]; i = (i + 1) & (set->cap - 1))
		if (set->keys[i] == k)
			return false;
	set->keys[i] = k;
	set->used++;
	return true;
}
static bool log_tried; /* opened, or failed and said so */

static void open_log(void);

/* The log is made with its first record, so that helper processes of an
 * exec chain that record nothing leave no file. Caller holds report_mu. */
static bool
log_ready(void)
{
	if (!log_tried) {
		log_tried = true;
		open_log();
	}
	return log_fd >= 0;
}
static _Atomic uint64_t findings;

/* Writes all of buf to fd, retrying after EINTR and short writes. One call
 * in the common case. async-signal-safe. */
static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

void
lh_warn(const char *msg)
{
	struct lh_buf b;

	lh_buf_init(&b);
	lh_buf_puts(&b, "lockhound: warning: ");
	lh_buf_puts(&b, msg);
	lh_buf_putc(&b, '\n');
	if (!b.oom) {
		write_all(2, b.p, b.len);
	} else {
		write_all(2, "lockhound: warning: ", 20);
		write_all(2, msg, strlen(msg));
		write_all(2, "\n", 1);
	}
	lh_buf_release(&b);
}

/* Says msg once per flag for the life of the process. */
void
lh_warn_once(_Atomic int *flag, const char *msg)
{
	if (atomic_exchange(flag, 1) == 0)
		lh_warn(msg);
}

uint64_t
lh_report_findings(void)
{
	return atomic_load(&findings);
}

void
lh_report_count_finding(void)
{
	atomic_fetch_add(&findings, 1);
}

static void
json_module(struct lh_buf *b, const struct lh_module *m)
{
	lh_buf_puts(b, "{\"index\":");
	lh_buf_put_u64(b, (uint64_t)m->index);
	lh_buf_puts(b, ",\"path\":");
	lh_buf_put_json_str(b, m->path);
	lh_buf_puts(b, ",\"build_id\":");
	lh_buf_put_json_str(b, m->build_id);
	lh_buf_puts(b, ",\"base\":\"");
	lh_buf_put_hex(b, m->bias);
	lh_buf_puts(b, "\",\"start\":\"");
	lh_buf_put_hex(b, m->lo);
	lh_buf_puts(b, "\",\"end\":\"");
	lh_buf_put_hex(b, m->hi);
	lh_buf_puts(b, "\"}");
}

/* Appends the modules not described yet as a JSON array; marks them. Caller
 * holds report_mu. Returns how many it added. */
static int
json_new_modules(struct lh_buf *b)
{
	int n = lh_module_count(), added = 0;

	lh_buf_putc(b, '[');
	for (int i = 0; i < n; i++) {
		struct lh_module *m = (struct lh_module *)lh_module_at(i);

		if (!m || m->logged)
			continue;
		if (added++)
			lh_buf_putc(b, ',');
		json_module(b, m);
		m->logged = true;
	}
	lh_buf_putc(b, ']');
	return added;
}

/* Starts a record: {"kind":…,"pid":…,"tid":…,"time":… (no closing brace). */
void
lh_json_begin(struct lh_buf *b, const char *kind, pid_t tid)
{
	uint64_t us = lh_realtime_us();
	char frac[8];

	lh_buf_puts(b, "{\"kind\":\"");
	lh_buf_puts(b, kind);
	lh_buf_puts(b, "\",\"pid\":");
	lh_buf_put_u64(b, (uint64_t)getpid());
	if (tid) {
		lh_buf_puts(b, ",\"tid\":");
		lh_buf_put_u64(b, (uint64_t)tid);
	}
	lh_buf_puts(b, ",\"time\":");
	lh_buf_put_u64(b, us / 1000000);
	lh_buf_putc(b, '.');
	for (int i = 5; i >= 0; i--) {
		frac[i] = (char)('0' + us % 10);
		us /= 10;
	}
	lh_buf_putn(b, frac, 6);
}

static void
json_frame(struct lh_buf *b, uintptr_t pc)
{
	const struct lh_module *m = lh_module_find(pc);

	lh_buf_puts(b, "{\"pc\":\"");
	lh_buf_put_hex(b, pc);
	lh_buf_putc(b, '"');
	if (m) {
		lh_buf_puts(b, ",\"module\":");
		lh_buf_put_u64(b, (uint64_t)m->index);
		lh_buf_puts(b, ",\"offset\":\"");
		lh_buf_put_hex(b, pc - m->bias);
		lh_buf_putc(b, '"');
	}
	lh_buf_putc(b, '}');
}

/* Appends the stack as a JSON array of frames. */
void
lh_json_stack(struct lh_buf *b, lh_stack_id id)
{
	int n;
	const uintptr_t *pcs = lh_stack_get(id, &n, NULL);

	lh_buf_putc(b, '[');
	for (int i = 0; i < n; i++) {
		if (i)
			lh_buf_putc(b, ',');
		json_frame(b, pcs[i]);
	}
	lh_buf_putc(b, ']');
}

/* Which stack ids the log has described, under report_mu. */
static uint8_t *stack_logged;
static size_t stack_logged_cap;

/* Appends a "stack" record for id unless the log has one; returns false if
 * the record could not be made (the reference is then left out). */
static bool
json_stack_record(struct lh_buf *b, lh_stack_id id)
{
	size_t byte = id / 8;

	if (id == 0)
		return false;
	if (byte >= stack_logged_cap) {
		size_t cap = stack_logged_cap ? stack_logged_cap : 1024;
		uint8_t *n;

		while (cap <= byte)
			cap *= 2;
		n = lh_realloc(stack_logged, stack_logged_cap, cap);
		if (!n)
			return false;
		stack_logged = n;
		stack_logged_cap = cap;
	}
	if (stack_logged[byte] & (1u << (id % 8)))
		return true;
	stack_logged[byte] |= (uint8_t)(1u << (id % 8));
	lh_json_begin(b, "stack", 0);
	lh_buf_puts(b, ",\"id\":");
	lh_buf_put_u64(b, id);
	lh_buf_puts(b, ",\"frames\":");
	lh_json_stack(b, id);
	lh_buf_puts(b, "}\n");
	return true;
}

static const char *
basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* "func+0x1c (module)" or "0x7f… (module+0x1c)" or "0x7f…". */
static void
text_pc(struct lh_buf *b, uintptr_t pc, bool data)
{
	const struct lh_module *m;
	const char *name;
	uintptr_t off;
	uintptr_t look = data ? pc : pc - 1;

	if (lh_symbolize(look, data, &name, &off, &m)) {
		lh_buf_puts(b, name);
		if (!data || off) {
			lh_buf_putc(b, '+');
			lh_buf_put_hex(b, data ? off : off + 1);
		}
		lh_buf_puts(b, " (");
		lh_buf_puts(b, basename_of(m->path));
		lh_buf_putc(b, ')');
	} else if (m) {
		lh_buf_put_hex(b, pc);
		lh_buf_puts(b, " (");
		lh_buf_puts(b, basename_of(m->path));
		lh_buf_putc(b, '+');
		lh_buf_put_hex(b, pc - m->bias);
		lh_buf_putc(b, ')');
	} else {
		lh_buf_put_hex(b, pc);
	}
}

/* Appends the stack as text, one "#N pc in func+off (module)" line a frame. */
void
lh_text_stack(struct lh_buf *b, lh_stack_id id, const char *indent)
{
	int n;
	unsigned flags = 0;
	const uintptr_t *pcs = lh_stack_get(id, &n, &flags);

	if (n == 0) {
		lh_buf_puts(b, indent);
		lh_buf_puts(b, "(no stack)\n");
		return;
	}
	for (int i = 0; i < n; i++) {
		lh_buf_puts(b, indent);
		lh_buf_putc(b, '#');
		lh_buf_put_u64(b, (uint64_t)i);
		lh_buf_puts(b, i < 10 ? "  " : " ");
		lh_buf_put_hex(b, pcs[i]);
		lh_buf_puts(b, " in ");
		text_pc(b, pcs[i], false);
		lh_buf_putc(b, '\n');
	}
	if (flags & LH_STACK_PARTIAL) {
		lh_buf_puts(b, indent);
		lh_buf_puts(b, "(only the caller is known)\n");
	}
}

static const char *const type_names[] = {"mutex", "rwlock", "spinlock", "mtx_t",
					  "condition variable"};
static const char *const kind_names[] = {"normal", "recursive", "errorcheck", "adaptive"};

/* A short name for the lock: its annotation, its variable, or its type and
 * address. The result is cached in the node. */
static const char *
label(struct lh_gnode *g)
{
	const struct lh_module *m;
	const char *name;
	uintptr_t off;
	struct lh_buf b;

	if (g->label)
		return g->label;
	if (g->name)
		return g->label = g->name;
	lh_buf_init(&b);
	if (lh_symbolize(g->addr, true, &name, &off, &m)) {
		lh_buf_puts(&b, name);
		if (off) {
			lh_buf_putc(&b, '+');
			lh_buf_put_hex(&b, off);
		}
	} else {
		lh_buf_puts(&b, type_names[g->type < LH_TYPE_COUNT ? g->type : 0]);
		lh_buf_putc(&b, ' ');
		lh_buf_put_hex(&b, g->addr);
	}
	g->label = b.oom ? "?" : lh_strdup(b.p);
	lh_buf_release(&b);
	return g->label ? g->label : "?";
}

/* "lock_a (mutex 0x…)" plus where a dynamic lock was made. */
void
lh_lock_describe(struct lh_buf *b, const struct lh_gnode *cg)
{
	struct lh_gnode *g = (struct lh_gnode *)cg;

	if (!g) {
		lh_buf_puts(b, "a lock lockhound did not see made");
		return;
	}

	lh_buf_puts(b, label(g));
	lh_buf_puts(b, " (");
	lh_buf_puts(b, type_names[g->type < LH_TYPE_COUNT ? g->type : 0]);
	lh_buf_putc(b, ' ');
	lh_buf_put_hex(b, g->addr);
	if (g->init_pc) {
		lh_buf_puts(b, ", made at ");
		text_pc(b, g->init_pc, false);
	}
	lh_buf_putc(b, ')');
}

/* A "lock" record for g, once. Caller holds report_mu. */
static void
json_lock_record(struct lh_buf *b, struct lh_gnode *g)
{
	const struct lh_module *m;
	const char *name;
	uintptr_t off;

	/* By id, not by node: copies of a lock's identity (the statistics of a
	 * destroyed lock) must not describe it twice. */
	if (!first_time(&locks_logged, g->id))
		return;
	lh_json_begin(b, "lock", 0);
	lh_buf_puts(b, ",\"id\":");
	lh_buf_put_u64(b, g->id);
	lh_buf_puts(b, ",\"addr\":\"");
	lh_buf_put_hex(b, g->addr);
	lh_buf_puts(b, "\",\"type\":\"");
	lh_buf_puts(b, type_names[g->type < LH_TYPE_COUNT ? g->type : 0]);
	lh_buf_putc(b, '"');
	if (g->type == LH_TYPE_MUTEX || g->type == LH_TYPE_MTX) {
		lh_buf_puts(b, ",\"mutex_kind\":\"");
		lh_buf_puts(b, kind_names[g->kind & 3]);
		lh_buf_putc(b, '"');
	}
	lh_buf_puts(b, ",\"name\":");
	lh_buf_put_json_str(b, label(g));
	if (g->name) {
		lh_buf_puts(b, ",\"annotation\":");
		lh_buf_put_json_str(b, g->name);
	}
	if (lh_symbolize(g->addr, true, &name, &off, &m)) {
		lh_buf_puts(b, ",\"symbol\":{\"name\":");
		lh_buf_put_json_str(b, name);
		lh_buf_puts(b, ",\"offset\":");
		lh_buf_put_u64(b, off);
		lh_buf_puts(b, ",\"module\":");
		lh_buf_put_u64(b, (uint64_t)m->index);
		lh_buf_puts(b, ",\"module_offset\":\"");
		lh_buf_put_hex(b, g->addr - m->bias);
		lh_buf_puts(b, "\"}");
	} else if ((m = lh_module_find_data(g->addr)) != NULL) {
		lh_buf_puts(b, ",\"symbol\":{\"module\":");
		lh_buf_put_u64(b, (uint64_t)m->index);
		lh_buf_puts(b, ",\"module_offset\":\"");
		lh_buf_put_hex(b, g->addr - m->bias);
		lh_buf_puts(b, "\"}");
	}
	if (g->init_pc) {
		lh_buf_puts(b, ",\"init\":");
		json_frame(b, g->init_pc);
	}
	lh_buf_puts(b, "}\n");
}

static void
json_gates(struct lh_buf *b, const struct lh_edge *e)
{
	lh_buf_puts(b, ",\"gates\":[");
	for (int i = 0; i < e->ngates; i++) {
		if (i)
			lh_buf_putc(b, ',');
		lh_buf_put_u64(b, e->gates[i]);
	}
	lh_buf_putc(b, ']');
}

static const char *
mode_name(unsigned mode)
{
	return mode == LH_MODE_READ ? "read" : "write";
}

/* The fields common to a lock-order record and an inversion's edge. Stacks
 * are inline, or (by_ref) ids of "stack" records. */
static void
json_edge_fields(struct lh_buf *b, const struct lh_edge *e, bool by_ref)
{
	unsigned flags = 0;
	int n;

	lh_buf_puts(b, "\"from\":");
	lh_buf_put_u64(b, e->from->id);
	lh_buf_puts(b, ",\"to\":");
	lh_buf_put_u64(b, e->to->id);
	lh_buf_puts(b, ",\"from_mode\":\"");
	lh_buf_puts(b, mode_name(e->from_mode));
	lh_buf_puts(b, "\",\"to_mode\":\"");
	lh_buf_puts(b, mode_name(e->to_mode));
	lh_buf_puts(b, "\",\"modes\":[");
	for (unsigned c = 0, k = 0; c < 4; c++) {
		if (!(e->combos & (1u << c)))
			continue;
		if (k++)
			lh_buf_putc(b, ',');
		lh_buf_puts(b, "[\"");
		lh_buf_puts(b, mode_name(c >> 1));
		lh_buf_puts(b, "\",\"");
		lh_buf_puts(b, mode_name(c & 1));
		lh_buf_puts(b, "\"]");
	}
	lh_buf_puts(b, "],\"thread\":{\"tid\":");
	lh_buf_put_u64(b, (uint64_t)e->tid);
	lh_buf_puts(b, ",\"name\":");
	lh_buf_put_json_str(b, e->thread_name);
	lh_buf_putc(b, '}');
	if (by_ref) {
		lh_buf_puts(b, ",\"held_stack_id\":");
		lh_buf_put_u64(b, e->from_stack);
		lh_buf_puts(b, ",\"stack_id\":");
		lh_buf_put_u64(b, e->to_stack);
	} else {
		lh_buf_puts(b, ",\"held_stack\":");
		lh_json_stack(b, e->from_stack);
		lh_buf_puts(b, ",\"stack\":");
		lh_json_stack(b, e->to_stack);
	}
	lh_stack_get(e->from_stack, &n, &flags);
	if (flags & LH_STACK_PARTIAL)
		lh_buf_puts(b, ",\"held_stack_partial\":true");
	json_gates(b, e);
	lh_buf_puts(b, ",\"count\":");
	lh_buf_put_u64(b, e->count);
	lh_buf_puts(b, ",\"seq\":");
	lh_buf_put_u64(b, e->seq);
}

/*
 * Writes the "modules" record for modules loaded since the last one (if the
 * record json refers to them), then text to stderr and json to the log.
 * Caller holds report_mu.
 */
static void
emit_locked(const struct lh_buf *text, const struct lh_buf *json)
{
	if (text && text->len)
		write_all(2, text->p, text->len);
	if (!json || !json->len || !log_ready())
		return;
	if (lh_module_count() > 0) {
		struct lh_buf m;

		lh_buf_init(&m);
		lh_json_begin(&m, "modules", 0);
		lh_buf_puts(&m, ",\"modules\":");
		if (json_new_modules(&m) > 0) {
			lh_buf_puts(&m, "}\n");
			if (!m.oom)
				write_all(log_fd, m.p, m.len);
		}
		lh_buf_release(&m);
	}
	if (json->oom)
		lh_warn("a record was too large for memory and is missing from the log");
	else
		write_all(log_fd, json->p, json->len);
}

/*
 * For modules that compose their own records (deadlock.c, dumps): take
 * report_mu, append "lock" records with lh_report_lock_record(), write with
 * lh_report_emit(), release. lh_report_node() must be called before, since
 * it takes graph_mu (which nests outside report_mu).
 */
void
lh_report_begin(void)
{
	lh_mutex_lock(&report_mu);
}

void
lh_report_end(void)
{
	lh_mutex_unlock(&report_mu);
}

void
lh_report_emit(const struct lh_buf *text, const struct lh_buf *json)
{
	emit_locked(text, json);
}

/* The lock's graph node (made if need be), for naming it in a record. */
struct lh_gnode *
lh_report_node(struct lh_lock *lk)
{
	struct lh_gnode *g;

	if (!lk)
		return NULL;
	lh_graph_lock();
	g = lh_graph_node(lk);
	lh_graph_unlock();
	return g;
}

void
lh_report_lock_record(struct lh_buf *b, struct lh_gnode *g)
{
	if (g)
		json_lock_record(b, g);
}

const char *
lh_report_label(struct lh_gnode *g)
{
	return g ? label(g) : "?";
}

void
lh_report_write(const struct lh_buf *text, const struct lh_buf *json)
{
	lh_mutex_lock(&report_mu);
	emit_locked(text, json);
	lh_mutex_unlock(&report_mu);
}

/* Whether records go to a log (the file may not exist yet). */
bool
lh_report_logging(void)
{
	return lh_opt.log_path[0] && !lh_secure && (!log_tried || log_fd >= 0);
}

static uint64_t
class_of(const struct lh_gnode *g)
{
	return g->from_init ? g->init_pc : g->addr;
}

/* True the first time this (classes, stacks, modes, gates) combination is
 * seen. Caller holds report_mu. */
static bool
order_once(const struct lh_edge *e)
{
	uint64_t k = lh_key3(lh_key3(class_of(e->from), class_of(e->to), e->combos),
			     (uint64_t)e->from_stack << 32 | e->to_stack, e->ngates != 0);

	return first_time(&orders_logged, k);
}

/*
 * graph ops: a new (or weakened) order edge goes to the log for replay,
 * once per class-level order: the same code path with a new instance of the
 * same locks (objects made and freed over and over) adds nothing that replay,
 * which matches dynamic locks by class, could use.
 */
void
lh_report_new_edge(struct lh_edge *e, void *arg)
{
	struct lh_buf b;

	(void)arg;
	if (!lh_report_logging())
		return;
	lh_buf_init(&b);
	lh_mutex_lock(&report_mu);
	if (!order_once(e)) {
		lh_mutex_unlock(&report_mu);
		return;
	}
	json_lock_record(&b, e->from);
	json_lock_record(&b, e->to);
	json_stack_record(&b, e->from_stack);
	json_stack_record(&b, e->to_stack);
	lh_json_begin(&b, "lock-order", e->tid);
	lh_buf_putc(&b, ',');
	json_edge_fields(&b, e, true);
	lh_buf_puts(&b, "}\n");
	emit_locked(NULL, &b);
	lh_mutex_unlock(&report_mu);
	lh_buf_release(&b);
}

static void
text_thread(struct lh_buf *b, pid_t tid, const char *name)
{
	lh_buf_puts(b, "thread ");
	lh_buf_put_u64(b, (uint64_t)tid);
	if (name && name[0]) {
		lh_buf_puts(b, " \"");
		lh_buf_puts(b, name);
		lh_buf_putc(b, '"');
	}
}

/* A thread as text: thread 1234 "name". */
void
lh_text_thread(struct lh_buf *b, pid_t tid, const char *name)
{
	text_thread(b, tid, name);
}

/* ---- suppressions (suppress.c): only lock and function names are known
 * in-process; a rule with a file condition never matches here. ---------- */

struct supp_subject {
	struct lh_gnode *locks[LH_CYCLE_MAX];
	int nlocks;
	lh_stack_id stacks[2 * LH_CYCLE_MAX];
	int nstacks;
};

static bool
supp_any(void *arg, int type, const char *pattern)
{
	struct supp_subject *s = arg;
	const struct lh_module *m;
	const char *name;
	uintptr_t off;

	if (type == LH_SUPP_LOCK) {
		for (int i = 0; i < s->nlocks; i++) {
			if (lh_supp_glob(pattern, label(s->locks[i])))
				return true;
			if (lh_symbolize(s->locks[i]->addr, true, &name, &off, &m) &&
			    lh_supp_glob(pattern, name))
				return true;
		}
	} else if (type == LH_SUPP_FUNCTION) {
		for (int i = 0; i < s->nstacks; i++) {
			int n;
			const uintptr_t *pcs = lh_stack_get(s->stacks[i], &n, NULL);

			for (int k = 0; k < n; k++)
				if (lh_symbolize(pcs[k] - 1, false, &name, &off, &m) &&
				    lh_supp_glob(pattern, name))
					return true;
		}
	}
	return false;
}

static bool
suppressed(const char *kind, struct supp_subject *s)
{
	return lh_supp.n > 0 && lh_supp_match(&lh_supp, kind, supp_any, s) != NULL;
}

/*
 * For findings composed elsewhere (deadlock.c): is a finding of this kind,
 * about these locks and these stacks, hidden by a suppression rule?
 */
bool
lh_report_suppressed(const char *kind, struct lh_gnode *const *locks, int nlocks,
		     const lh_stack_id *stacks, int nstacks)
{
	struct supp_subject subj = {0};

	if (lh_supp.n == 0)
		return false;
	for (int i = 0; i < nlocks && subj.nlocks < LH_CYCLE_MAX; i++)
		if (locks[i])
			subj.locks[subj.nlocks++] = locks[i];
	for (int i = 0; i < nstacks && subj.nstacks < 2 * LH_CYCLE_MAX; i++)
		if (stacks[i])
			subj.stacks[subj.nstacks++] = stacks[i];
	return suppressed(kind, &subj);
}

/* graph ops: a cycle that can deadlock. */
void
lh_report_cycle(const struct lh_cycle *c, void *arg)
{
	struct lh_buf t, j;
	pid_t tid = lh_gettid();

	(void)arg;
	if (lh_supp.n > 0) {
		struct supp_subject subj = {.nlocks = c->n};

		for (int i = 0; i < c->n; i++) {
			subj.locks[i] = c->edges[i]->from;
			subj.stacks[subj.nstacks++] = c->edges[i]->from_stack;
			subj.stacks[subj.nstacks++] = c->edges[i]->to_stack;
		}
		if (suppressed("lock-order-inversion", &subj))
			return;
	}
	lh_report_count_finding();
	lh_buf_init(&t);
	lh_buf_init(&j);
	lh_mutex_lock(&report_mu);

	lh_buf_puts(&t, "lockhound: lock-order-inversion: potential deadlock: ");
	lh_buf_put_u64(&t, (uint64_t)c->n);
	lh_buf_puts(&t, " locks taken in a cycle (pid ");
	lh_buf_put_u64(&t, (uint64_t)getpid());
	lh_buf_puts(&t, ")\n  cycle: ");
	for (int i = 0; i < c->n; i++) {
		lh_buf_puts(&t, label(c->edges[i]->from));
		lh_buf_puts(&t, " => ");
	}
	lh_buf_puts(&t, label(c->edges[0]->from));
	if (c->truncated)
		lh_buf_puts(&t, " (cycle longer than shown)");
	lh_buf_puts(&t, "\n  If these run at the same time, each thread waits for a lock "
			"the next one holds, forever.\n");
	for (int i = 0; i < c->n; i++) {
		const struct lh_edge *e = c->edges[i];

		lh_buf_puts(&t, "\n  edge ");
		lh_buf_put_u64(&t, (uint64_t)i + 1);
		lh_buf_puts(&t, " of ");
		lh_buf_put_u64(&t, (uint64_t)c->n);
		lh_buf_puts(&t, ": ");
		text_thread(&t, e->tid, e->thread_name);
		lh_buf_puts(&t, " took ");
		lh_lock_describe(&t, e->to);
		lh_buf_puts(&t, e->to_mode == LH_MODE_READ ? " for reading" : "");
		lh_buf_puts(&t, "\n    while holding ");
		lh_lock_describe(&t, e->from);
		lh_buf_puts(&t, e->from_mode == LH_MODE_READ ? " for reading" : "");
		lh_buf_puts(&t, "\n    ");
		lh_buf_puts(&t, label(e->to));
		lh_buf_puts(&t, " taken at:\n");
		lh_text_stack(&t, e->to_stack, "      ");
		lh_buf_puts(&t, "    ");
		lh_buf_puts(&t, label(e->from));
		lh_buf_puts(&t, " taken before, at:\n");
		lh_text_stack(&t, e->from_stack, "      ");
	}
	lh_buf_puts(&t, "  Take these locks in one global order everywhere, or under one "
			"common lock.\n");

	for (int i = 0; i < c->n; i++)
		json_lock_record(&j, c->edges[i]->from);
	lh_json_begin(&j, "lock-order-inversion", tid);
	lh_buf_puts(&j, ",\"cycle\":[");
	for (int i = 0; i < c->n; i++) {
		if (i)
			lh_buf_putc(&j, ',');
		lh_buf_put_u64(&j, c->edges[i]->from->id);
	}
	lh_buf_puts(&j, "],\"truncated\":");
	lh_buf_puts(&j, c->truncated ? "true" : "false");
	lh_buf_puts(&j, ",\"edges\":[");
	for (int i = 0; i < c->n; i++) {
		if (i)
			lh_buf_putc(&j, ',');
		lh_buf_putc(&j, '{');
		json_edge_fields(&j, c->edges[i], false);
		lh_buf_putc(&j, '}');
	}
	lh_buf_puts(&j, "]}\n");
	emit_locked(&t, &j);
	lh_mutex_unlock(&report_mu);
	lh_buf_release(&t);
	lh_buf_release(&j);
}

/* Misuse reports already made: (what, call site) pairs, under report_mu. */
struct misuse_seen {
	const char *what;
	uintptr_t site;
};
static struct misuse_seen *misuse_seen;
static size_t nmisuse, capmisuse;

static bool
misuse_once(const char *what, uintptr_t site)
{
	for (size_t i = 0; i < nmisuse; i++)
		if (misuse_seen[i].site == site && strcmp(misuse_seen[i].what, what) == 0)
			return false;
	if (nmisuse == capmisuse) {
		size_t cap = capmisuse ? capmisuse * 2 : 16;
		struct misuse_seen *n = lh_realloc(misuse_seen, capmisuse * sizeof(*n),
						   cap * sizeof(*n));

		if (!n)
			return true; /* report, even if it may repeat */
		misuse_seen = n;
		capmisuse = cap;
	}
	misuse_seen[nmisuse++] = (struct misuse_seen){what, site};
	return true;
}

/*
 * Reports a misuse by the calling thread, once per (what, call site):
 * `what` is the record's "what" (relock, unlock-not-owner, ...), lk the lock
 * (or NULL; then addr alone names it), detail one sentence for the headline,
 * taken_at where the lock was taken (0 if unknown), from_cfa the wrapper's
 * __builtin_dwarf_cfa() (the stack starts at its caller; 0: no current
 * stack), site the pc that identifies the call site for "once" (0: the
 * caller's). Returns true if it was reported now. Not async-signal-safe;
 * takes graph_mu and report_mu.
 */
bool
lh_report_misuse(const char *what, const void *addr, struct lh_lock *lk, const char *detail,
		 lh_stack_id taken_at, uintptr_t from_cfa, uintptr_t site)
{
	struct lh_frame frames[LH_STACK_MAX];
	uintptr_t pcs[LH_STACK_MAX];
	struct lh_gnode *g = NULL;
	struct lh_buf t, j;
	char tname[16];
	pid_t tid = lh_gettid();
	int err = errno, nf = from_cfa ? lh_unwind(frames, LH_STACK_MAX, from_cfa) : 0;
	lh_stack_id here;
	bool fresh;

	for (int k = 0; k < nf; k++)
		pcs[k] = frames[k].pc;
	here = lh_stack_intern(pcs, nf, 0);
	if (lk) {
		lh_graph_lock();
		g = lh_graph_node(lk);
		lh_graph_unlock();
	}
	lh_thread_name(tid, tname, sizeof(tname));
	lh_buf_init(&t);
	lh_buf_init(&j);
	lh_mutex_lock(&report_mu);
	fresh = misuse_once(what, site ? site : nf > 0 ? pcs[0] : 0);
	if (!fresh)
		goto out;
	if (lh_supp.n > 0) {
		struct supp_subject subj = {.nlocks = g ? 1 : 0, .nstacks = 1};

		subj.locks[0] = g;
		subj.stacks[0] = here;
		if (taken_at)
			subj.stacks[subj.nstacks++] = taken_at;
		if (suppressed("misuse", &subj)) {
			fresh = false;
			goto out;
		}
	}
	lh_report_count_finding();
	lh_buf_puts(&t, "lockhound: misuse: ");
	lh_buf_puts(&t, what);
	lh_buf_puts(&t, ": ");
	lh_buf_puts(&t, detail);
	lh_buf_puts(&t, " (pid ");
	lh_buf_put_u64(&t, (uint64_t)getpid());
	lh_buf_puts(&t, ")\n  ");
	text_thread(&t, tid, tname);
	lh_buf_puts(&t, ", lock ");
	if (g) {
		lh_lock_describe(&t, g);
	} else {
		lh_buf_put_hex(&t, (uintptr_t)addr);
	}
	if (here) {
		lh_buf_puts(&t, "\n    at:\n");
		lh_text_stack(&t, here, "      ");
	} else {
		lh_buf_putc(&t, '\n');
	}
	if (taken_at) {
		lh_buf_puts(&t, "    the lock was taken at:\n");
		lh_text_stack(&t, taken_at, "      ");
	}

	if (g)
		json_lock_record(&j, g);
	lh_json_begin(&j, "misuse", tid);
	lh_buf_puts(&j, ",\"what\":");
	lh_buf_put_json_str(&j, what);
	lh_buf_puts(&j, ",\"message\":");
	lh_buf_put_json_str(&j, detail);
	lh_buf_puts(&j, ",\"thread\":{\"tid\":");
	lh_buf_put_u64(&j, (uint64_t)tid);
	lh_buf_puts(&j, ",\"name\":");
	lh_buf_put_json_str(&j, tname);
	lh_buf_puts(&j, "},\"addr\":\"");
	lh_buf_put_hex(&j, (uintptr_t)addr);
	lh_buf_putc(&j, '"');
	if (g) {
		lh_buf_puts(&j, ",\"lock\":");
		lh_buf_put_u64(&j, g->id);
	}
	if (here) {
		lh_buf_puts(&j, ",\"stack\":");
		lh_json_stack(&j, here);
	}
	if (taken_at) {
		lh_buf_puts(&j, ",\"held_stack\":");
		lh_json_stack(&j, taken_at);
	}
	lh_buf_puts(&j, "}\n");
	emit_locked(&t, &j);
out:
	lh_mutex_unlock(&report_mu);
	lh_buf_release(&t);
	lh_buf_release(&j);
	errno = err;
	return fresh;
}

/* Expands %p in the log path; false if the result does not fit. */
static bool
expand_path(const char *pattern, char *out, size_t size)
{
	size_t o = 0;

	for (const char *p = pattern; *p; p++) {
		char num[24];
		size_t n;

		if (p[0] == '%' && p[1] == 'p') {
			n = lh_fmt_u64(num, (uint64_t)getpid());
			if (o + n >= size)
				return false;
			memcpy(out + o, num, n);
			o += n;
			p++;
			continue;
		}
		if (o + 1 >= size)
			return false;
		out[o++] = *p;
	}
	out[o] = '\0';
	return true;
}

static void
write_header(void)
{
	struct lh_buf b;
	char exe[LH_PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	exe[n > 0 ? n : 0] = '\0';
	lh_buf_init(&b);
	lh_buf_puts(&b, "{\"lockhound\":1,\"kind\":\"header\",\"pid\":");
	lh_buf_put_u64(&b, (uint64_t)getpid());
	lh_buf_puts(&b, ",\"time\":");
	lh_buf_put_u64(&b, lh_realtime_us() / 1000000);
	lh_buf_puts(&b, ",\"version\":\"" PACKAGE_VERSION "\",\"exe\":");
	lh_buf_put_json_str(&b, exe);
	lh_buf_puts(&b, ",\"modules\":");
	/* Everything is new to a new file. */
	for (int i = 0; i < lh_module_count(); i++)
		((struct lh_module *)lh_module_at(i))->logged = false;
	json_new_modules(&b);
	lh_buf_puts(&b, "}\n");
	if (!b.oom)
		write_all(log_fd, b.p, b.len);
	lh_buf_release(&b);
}

static void
open_log(void)
{
	char path[LH_PATH_MAX];
	struct lh_buf w;

	if (!lh_opt.log_path[0] || lh_secure)
		return;
	if (!expand_path(lh_opt.log_path, path, sizeof(path))) {
		lh_warn("log_path: too long after expanding %p; no log is written");
		return;
	}
	log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (log_fd < 0) {
		int err = errno;

		lh_buf_init(&w);
		lh_buf_puts(&w, "log_path: cannot open ");
		lh_buf_puts(&w, path);
		lh_buf_puts(&w, err == ELOOP ? ": it is a symbolic link (not followed)"
					     : ": ");
		if (err != ELOOP)
			lh_buf_puts(&w, strerror(err));
		lh_buf_puts(&w, "; no log is written");
		lh_warn(w.oom ? "log_path: cannot open the log" : w.p);
		lh_buf_release(&w);
		return;
	}
	write_header();
}

/* (Re)starts logging from lh_opt: the file is made with the first record. */
void
lh_report_init(void)
{
	lh_mutex_lock(&report_mu);
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	log_tried = false;
	lh_mutex_unlock(&report_mu);
}

/*
 * In a child after fork: with %p in log_path the child gets its own file
 * (and header), made with its first record; otherwise it goes on appending
 * to the parent's.
 */
void
lh_report_reopen_after_fork(void)
{
	lh_mutex_reset(&report_mu);
	if (!strstr(lh_opt.log_path, "%p"))
		return;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	log_tried = false;
	/* A new file: it must describe its locks, stacks and orders again. */
	forget(&locks_logged);
	forget(&orders_logged);
	if (stack_logged)
		memset(stack_logged, 0, stack_logged_cap);
}

void
lh_report_atfork_prepare(void)
{
	lh_mutex_lock(&report_mu);
}

void
lh_report_atfork_parent(void)
{
	lh_mutex_unlock(&report_mu);
}

/* ---- data races (race.c) --------------------------------------------------- */

/* The graph nodes of the locks an access held; NULL where the lock is gone. */
static void
race_held_nodes(const struct lh_race_access *acc, struct lh_gnode **out)
{
	uint32_t n = acc->nheld < LH_RACE_HELD_MAX ? acc->nheld : LH_RACE_HELD_MAX;

	lh_graph_lock();
	for (uint32_t i = 0; i < n; i++) {
		struct lh_lock *lk = acc->held[i].lock;

		out[i] = lk && lk->id == acc->held[i].id ? lh_graph_node(lk) : NULL;
	}
	lh_graph_unlock();
}

/* An object by its variable when it is one: "counter (0x...)", "buf+0x8
 * (semaphore 0x...)"; else "semaphore 0x..." or the bare address. what (or
 * NULL) says what it is. */
void
lh_text_object(struct lh_buf *b, const char *what, uintptr_t addr)
{
	const struct lh_module *m;
	const char *name;
	uintptr_t off;
	bool named = lh_symbolize(addr, true, &name, &off, &m);

	if (named) {
		lh_buf_puts(b, name);
		if (off) {
			lh_buf_putc(b, '+');
			lh_buf_put_hex(b, off);
		}
		lh_buf_puts(b, " (");
	}
	if (what) {
		lh_buf_puts(b, what);
		lh_buf_putc(b, ' ');
	}
	lh_buf_put_hex(b, addr);
	if (named)
		lh_buf_putc(b, ')');
}

static void
race_text_access(struct lh_buf *t, const struct lh_race_access *acc,
                 struct lh_gnode *const *nodes)
{
	uint32_t n = acc->nheld < LH_RACE_HELD_MAX ? acc->nheld : LH_RACE_HELD_MAX;

	lh_buf_puts(t, "\n  ");
	lh_buf_puts(t, acc->atomic ? "atomic " : "");
	lh_buf_puts(t, acc->write ? "write" : "read");
	lh_buf_puts(t, " of ");
	lh_buf_put_u64(t, acc->size);
	lh_buf_puts(t, acc->size == 1 ? " byte at " : " bytes at ");
	lh_buf_put_hex(t, acc->addr);
	lh_buf_puts(t, " by ");
	text_thread(t, acc->tid, acc->thread_name);
	if (n == 0) {
		lh_buf_puts(t, ", holding no locks");
	} else {
		lh_buf_puts(t, ", holding ");
		for (uint32_t i = 0; i < n; i++) {
			if (i)
				lh_buf_puts(t, ", ");
			if (nodes[i])
				lh_lock_describe(t, nodes[i]);
			else
				lh_buf_put_hex(t, acc->held[i].addr);
			if (acc->held[i].mode == LH_MODE_READ)
				lh_buf_puts(t, " for reading");
		}
		if (acc->nheld > n) {
			lh_buf_puts(t, " and ");
			lh_buf_put_u64(t, acc->nheld - n);
			lh_buf_puts(t, " more");
		}
	}
	lh_buf_puts(t, ":\n");
	lh_text_stack(t, acc->stack, "    ");
}

static void
race_json_access(struct lh_buf *j, const struct lh_race_access *acc,
                 struct lh_gnode *const *nodes, bool watched)
{
	uint32_t n = acc->nheld < LH_RACE_HELD_MAX ? acc->nheld : LH_RACE_HELD_MAX;

	lh_buf_puts(j, "{\"thread\":{\"tid\":");
	lh_buf_put_u64(j, (uint64_t)acc->tid);
	lh_buf_puts(j, ",\"name\":");
	lh_buf_put_json_str(j, acc->thread_name);
	lh_buf_puts(j, "},\"addr\":\"");
	lh_buf_put_hex(j, acc->addr);
	lh_buf_puts(j, "\",\"size\":");
	lh_buf_put_u64(j, acc->size);
	lh_buf_puts(j, ",\"write\":");
	lh_buf_puts(j, acc->write ? "true" : "false");
	lh_buf_puts(j, ",\"atomic\":");
	lh_buf_puts(j, acc->atomic ? "true" : "false");
	lh_buf_puts(j, ",\"watched\":");
	lh_buf_puts(j, watched ? "true" : "false");
	lh_buf_puts(j, ",\"stack\":");
	lh_json_stack(j, acc->stack);
	lh_buf_puts(j, ",\"held\":[");
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			lh_buf_putc(j, ',');
		lh_buf_putc(j, '{');
		if (nodes[i]) {
			lh_buf_puts(j, "\"lock\":");
			lh_buf_put_u64(j, nodes[i]->id);
			lh_buf_putc(j, ',');
		}
		lh_buf_puts(j, "\"addr\":\"");
		lh_buf_put_hex(j, acc->held[i].addr);
		lh_buf_puts(j, "\",\"mode\":\"");
		lh_buf_puts(j, mode_name(acc->held[i].mode));
		lh_buf_puts(j, "\"}");
	}
	lh_buf_putc(j, ']');
	if (acc->nheld > n) {
		lh_buf_puts(j, ",\"held_more\":");
		lh_buf_put_u64(j, acc->nheld - n);
	}
	lh_buf_putc(j, '}');
}

/* A value of up to 16 bytes, as the little-endian number it is. */
static void
put_value(struct lh_buf *b, const uint8_t *v, uint32_t n)
{
	static const char hex[] = "0123456789abcdef";

	lh_buf_puts(b, "0x");
	for (uint32_t i = n; i-- > 0;) {
		lh_buf_putc(b, hex[v[i] >> 4]);
		lh_buf_putc(b, hex[v[i] & 15]);
	}
}

/*
 * A data race: the "data-race" record and its text, with "lock" records for
 * the locks either side held. Called by the thread that set the watchpoint,
 * once per pair of code locations and per variable (race.c decides). Takes graph_mu, then
 * report_mu.
 */
void
lh_report_data_race(const struct lh_race_info *r)
{
	struct lh_gnode *na[LH_RACE_HELD_MAX], *nb[LH_RACE_HELD_MAX];
	const struct lh_race_access *a = &r->a, *b = &r->b;
	const struct lh_module *m;
	const char *name;
	uintptr_t off;
	struct lh_buf t, j;
	uint32_t n;
	int err = errno;

	race_held_nodes(a, na);
	if (!r->value_change)
		race_held_nodes(b, nb);
	if (lh_supp.n > 0) {
		/* kind, function (either stack) and lock (either side's) rules */
		struct lh_gnode *all[2 * LH_RACE_HELD_MAX];
		lh_stack_id st[2] = {a->stack, r->value_change ? 0 : b->stack};
		int nall = 0;

		n = a->nheld < LH_RACE_HELD_MAX ? a->nheld : LH_RACE_HELD_MAX;
		for (uint32_t i = 0; i < n; i++)
			all[nall++] = na[i];
		n = r->value_change ? 0
		                    : (b->nheld < LH_RACE_HELD_MAX ? b->nheld : LH_RACE_HELD_MAX);
		for (uint32_t i = 0; i < n; i++)
			all[nall++] = nb[i];
		if (lh_report_suppressed("data-race", all, nall, st, 2)) {
			errno = err;
			return;
		}
	}
	lh_report_count_finding();
	lh_buf_init(&t);
	lh_buf_init(&j);
	lh_mutex_lock(&report_mu);

	lh_buf_puts(&t, "lockhound: data-race: ");
	lh_buf_puts(&t, a->write ? "write" : "read");
	lh_buf_puts(&t, " of ");
	lh_buf_put_u64(&t, a->size);
	lh_buf_puts(&t, a->size == 1 ? " byte at " : " bytes at ");
	lh_text_object(&t, NULL, a->addr);
	lh_buf_puts(&t, " by thread ");
	lh_buf_put_u64(&t, (uint64_t)a->tid);
	if (r->value_change) {
		lh_buf_puts(&t, " changed under it: ");
		put_value(&t, r->old_value, r->value_size);
		lh_buf_puts(&t, " -> ");
		put_value(&t, r->new_value, r->value_size);
	} else {
		lh_buf_puts(&t, " races with ");
		lh_buf_puts(&t, b->atomic ? "an atomic " : "a ");
		lh_buf_puts(&t, b->write ? "write" : "read");
		lh_buf_puts(&t, " by thread ");
		lh_buf_put_u64(&t, (uint64_t)b->tid);
	}
	lh_buf_puts(&t, " (pid ");
	lh_buf_put_u64(&t, (uint64_t)getpid());
	lh_buf_puts(&t, ")\n");
	if (r->value_change)
		lh_buf_puts(&t,
		            "  The value changed while this access was under way, and no "
		            "instrumented access was seen: the writer runs code built "
		            "without -fsanitize=thread, or is the kernel.\n");
	else
		lh_buf_puts(
		    &t, "  Both accesses were under way at the same moment and at least "
		        "one writes: the outcome depends on timing.\n");
	race_text_access(&t, a, na);
	if (!r->value_change)
		race_text_access(&t, b, nb);
	lh_buf_puts(&t, "  Protect every access with one common lock, or make them all "
	                "atomic.\n");

	n = a->nheld < LH_RACE_HELD_MAX ? a->nheld : LH_RACE_HELD_MAX;
	for (uint32_t i = 0; i < n; i++)
		if (na[i])
			json_lock_record(&j, na[i]);
	n = r->value_change ? 0
	                    : (b->nheld < LH_RACE_HELD_MAX ? b->nheld : LH_RACE_HELD_MAX);
	for (uint32_t i = 0; i < n; i++)
		if (nb[i])
			json_lock_record(&j, nb[i]);
	lh_json_begin(&j, "data-race", a->tid);
	lh_buf_puts(&j, ",\"how\":\"");
	lh_buf_puts(&j, r->value_change ? "value-change" : "concurrent");
	lh_buf_puts(&j, "\",\"addr\":\"");
	lh_buf_put_hex(&j, a->addr);
	lh_buf_puts(&j, "\",\"size\":");
	lh_buf_put_u64(&j, a->size);
	if (lh_symbolize(a->addr, true, &name, &off, &m)) {
		lh_buf_puts(&j, ",\"symbol\":{\"name\":");
		lh_buf_put_json_str(&j, name);
		lh_buf_puts(&j, ",\"offset\":");
		lh_buf_put_u64(&j, off);
		lh_buf_puts(&j, ",\"module\":");
		lh_buf_put_u64(&j, (uint64_t)m->index);
		lh_buf_puts(&j, ",\"module_offset\":\"");
		lh_buf_put_hex(&j, a->addr - m->bias);
		lh_buf_puts(&j, "\"}");
	}
	lh_buf_puts(&j, ",\"accesses\":[");
	race_json_access(&j, a, na, true);
	if (!r->value_change) {
		lh_buf_putc(&j, ',');
		race_json_access(&j, b, nb, false);
	}
	lh_buf_putc(&j, ']');
	if (r->value_change) {
		lh_buf_puts(&j, ",\"old\":\"");
		put_value(&j, r->old_value, r->value_size);
		lh_buf_puts(&j, "\",\"new\":\"");
		put_value(&j, r->new_value, r->value_size);
		lh_buf_putc(&j, '"');
	}
	lh_buf_puts(&j, "}\n");
	emit_locked(&t, &j);
	lh_mutex_unlock(&report_mu);
	lh_buf_release(&t);
	lh_buf_release(&j);
	errno = err;
}
