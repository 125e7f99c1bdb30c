/*
 * lockhound attach PID: the diagnosis of a running process, with or without
 * the runtime in it. In order:
 *
 *   1. check that the process can be attached (attach-ptrace.c), open a live
 *      symbolizer on it (symbolize.c) and load the unwind tables;
 *   2. stop every thread, read its registers, its stack (attach-unwind.c),
 *      the bytes around the futex word it sleeps on, and the runtime's
 *      tables if liblockhound is loaded (attach-runtime.c); let it go;
 *   3. with the process running again: symbolize, tell which lock each
 *      blocked thread waits for and who owns it (attach-glibc.c), build the
 *      wait-for relation, find its cycles and the waits for locks whose
 *      holder is gone (wf_find), and print them as the runtime's `deadlock`
 *      reports, followed by every thread, jstack style.
 *
 * Threads are held stopped only for step 2. The output is text, or JSON
 * lines (lockhound-report(5): header, lock, deadlock, attach-dump) that
 * `lockhound explain` reads. Exit 0 nothing wrong, 1 a deadlock or a lost
 * lock, 2 cannot attach (one line saying why).
 */
#include "config.h"

#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "../lib/lockhound-private.h"
#include "attach.h"
#include "finding.h"
#include "symbolize.h"

#define EXIT_CLEAN 0
#define EXIT_FINDINGS 1
#define EXIT_USAGE 2

#define FUTEX_WAIT 0
#define FUTEX_LOCK_PI 6
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAIT_REQUEUE_PI 11
#define FUTEX_LOCK_PI2 13
#define FUTEX_CMD(op) ((op) & ~(128u | 256u)) /* without PRIVATE, CLOCK_REALTIME */

#define MAX_CHAINS 256

/* ---- the wait-for relation (pure; unit-tested) --------------------------- */

struct wf {
	const struct wf_node *nodes;
	int n;
	int *by_tid; /* node indexes sorted by tid */
	long steps;  /* search budget left */
};

static const struct wf_node *cmp_nodes;

static int
cmp_tid(const void *a, const void *b)
{
	pid_t x = cmp_nodes[*(const int *)a].tid, y = cmp_nodes[*(const int *)b].tid;

	return x < y ? -1 : x > y;
}

static int
node_of(const struct wf *w, pid_t tid)
{
	int lo = 0, hi = w->n;

	while (lo < hi) {
		int mid = (lo + hi) / 2;
		pid_t t = w->nodes[w->by_tid[mid]].tid;

		if (t == tid)
			return w->by_tid[mid];
		if (t < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static bool
in_path(const int *path, int len, int v)
{
	for (int i = 0; i < len; i++)
		if (path[i] == v)
			return true;
	return false;
}

/* Depth-first from path[len - 1] through waiting threads whose tid is above
 * the start's: true when an owner is the start (the path is a cycle). */
static bool
dfs(struct wf *w, int *path, int *len)
{
	const struct wf_node *last = &w->nodes[path[*len - 1]];

	if (--w->steps < 0)
		return false;
	for (int k = 0; k < last->nowners; k++)
		if (node_of(w, last->owners[k]) == path[0])
			return true;
	for (int k = 0; k < last->nowners && *len < WF_MAX_CHAIN; k++) {
		int o = node_of(w, last->owners[k]);

		if (o < 0 || !w->nodes[o].exists || w->nodes[o].waits < 0 ||
		    w->nodes[o].tid < w->nodes[path[0]].tid || in_path(path, *len, o))
			continue;
		path[(*len)++] = o;
		if (dfs(w, path, len))
			return true;
		(*len)--;
	}
	return false;
}

int
wf_find(const struct wf_node *nodes, int n, struct wf_chain *out, int max)
{
	struct wf w = {nodes, n, NULL, 0};
	int found = 0;

	if (n <= 0)
		return 0;
	w.by_tid = malloc((size_t)n * sizeof(int));
	if (!w.by_tid)
		return 0;
	for (int i = 0; i < n; i++)
		w.by_tid[i] = i;
	cmp_nodes = nodes;
	qsort(w.by_tid, (size_t)n, sizeof(int), cmp_tid);

	/* Cycles, each found from its lowest tid, in tid order. */
	for (int r = 0; r < n && found < max; r++) {
		int s = w.by_tid[r], path[WF_MAX_CHAIN], len = 1;

		if (!nodes[s].exists || nodes[s].waits < 0)
			continue;
		path[0] = s;
		w.steps = 100000;
		if (!dfs(&w, path, &len))
			continue;
		out[found].n = len;
		out[found].dead = -1;
		memcpy(out[found].member, path, (size_t)len * sizeof(int));
		found++;
	}
	/* Waits for a lock whose holder is gone: one per lock (told apart by
	 * waits), from its lowest-tid waiter. */
	for (int r = 0; r < n && found < max; r++) {
		int i = w.by_tid[r], d = -1;
		bool first = true;

		if (!nodes[i].exists || nodes[i].waits < 0)
			continue;
		for (int k = 0; k < nodes[i].nowners; k++) {
			int o = node_of(&w, nodes[i].owners[k]);

			if (o >= 0 && !nodes[o].exists)
				d = o;
		}
		if (d < 0)
			continue;
		for (int q = 0; q < r; q++) {
			const struct wf_node *j = &nodes[w.by_tid[q]];

			if (j->exists && j->waits == nodes[i].waits)
				first = false;
		}
		if (!first)
			continue;
		out[found].n = 1;
		out[found].member[0] = i;
		out[found].dead = d;
		found++;
	}
	free(w.by_tid);
	return found;
}

/* ---- the model ------------------------------------------------------------ */

struct amod {
	Dwfl_Module *mod;
	const char *path;
	uint64_t start, end, bias;
	char build_id[129];
};

struct alock {
	int id;		   /* 1-based, for "lock" records */
	enum gtype type;
	uint64_t addr;
	struct gobj obj;   /* decoded from a waiter's snapshot */
	bool decoded;
	char *label;	   /* "lock_a", "bob.lock", "mutex 0x55..." */
	char *describe;	   /* "lock_a (mutex 0x55...)" */
	bool is_static;	   /* named by a variable or symbol */
	struct sym_data sym;
	pid_t owner;	   /* its writer or owner, 0 if none known */
	bool owner_gone;   /* owner is not a live thread of the process */
	pid_t owner_elsewhere; /* a process-shared lock's owner's process */
	const struct rt_held *rt; /* the runtime's record of it, if any */
	int nwaiters;
};

/* A lock a thread is known to hold. */
struct aheld {
	int lock;	   /* index into locks */
	int mode;	   /* LH_MODE_WRITE, LH_MODE_READ */
	const struct rt_held *rt; /* with the runtime: where and how long */
};

struct athread {
	struct tthread *th;
	const struct rt_thread *rt;
	enum gwait wait;
	int wait_frame;	   /* the frame of the glibc function that waits, -1 */
	int site;	   /* the first frame outside glibc and lockhound, -1 */
	struct gobj obj;
	int lock;	   /* what it waits for: index into locks, -1 */
	int mode;
	pid_t owners[WF_MAX_OWNERS];
	int nowners;
	pid_t joinee;
	struct aheld *held;
	int nheld;
	struct fstack stack; /* symbolized */
	int chain;	   /* index of the deadlock it is in, -1 */
	int behind;	   /* index of a deadlock it waits behind, -1 */
};

/* A lock in a variable, read while the threads are stopped. */
struct slock {
	uint64_t addr;
	enum gtype type;
	bool ok;
	uint8_t bytes[56]; /* sizeof(pthread_rwlock_t), the larger */
};

#define MAX_STATIC_LOCKS 100000

struct ctx {
	struct target t;
	struct slock *statics;
	size_t nstatics, capstatics;
	struct symbolizer *sym;
	Dwfl *dwfl;
	struct rt_tables rt;
	struct amod *mods;
	size_t nmods;
	bool have_libc;
	struct athread *at;
	size_t nat;
	struct alock *locks;
	size_t nlocks;
	struct wf_node *nodes;
	int nnodes;
	struct wf_chain chains[MAX_CHAINS];
	int nchains;
	char exe[4096];
	uint64_t time_us;
};

static void __attribute__((format(printf, 2, 3)))
error(pid_t pid, const char *fmt, ...)
{
	va_list ap;

	if (pid > 0)
		fprintf(stderr, "lockhound: attach: %d: ", (int)pid);
	else
		fprintf(stderr, "lockhound: attach: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static const char *
base_name(const char *p)
{
	const char *s = p ? strrchr(p, '/') : NULL;

	return s && s[1] ? s + 1 : p;
}

/* ---- modules ---------------------------------------------------------------- */

static int
collect_module(Dwfl_Module *mod, void **ud, const char *name, Dwarf_Addr start, void *arg)
{
	struct ctx *c = arg;
	struct amod *m;
	Dwarf_Addr lo, hi, bias = 0;
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len;

	(void)ud;
	(void)start;
	m = realloc(c->mods, (c->nmods + 1) * sizeof(*m));
	if (!m)
		return DWARF_CB_ABORT;
	c->mods = m;
	m = &c->mods[c->nmods++];
	memset(m, 0, sizeof(*m));
	m->mod = mod;
	dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
	m->start = lo;
	m->end = hi;
	m->path = name;
	if (dwfl_module_getelf(mod, &bias))
		m->bias = bias;
	else
		m->bias = lo;
	len = dwfl_module_build_id(mod, &bits, &vaddr);
	for (int i = 0; i < len && i < 64; i++)
		sprintf(m->build_id + 2 * i, "%02x", bits[i]);
	if (name && strncmp(base_name(name), "libc.so", 7) == 0)
		c->have_libc = true;
	return DWARF_CB_OK;
}

static const struct amod *
module_at(const struct ctx *c, uint64_t addr)
{
	for (size_t i = 0; i < c->nmods; i++)
		if (addr >= c->mods[i].start && addr < c->mods[i].end)
			return &c->mods[i];
	return NULL;
}

/* A module glibc's lock functions live in (any, for a static program). */
static bool
is_glibc(const struct ctx *c, const char *module)
{
	const char *b = base_name(module);

	if (!b)
		return false;
	if (!c->have_libc)
		return true;
	return strncmp(b, "libc.so", 7) == 0 || strncmp(b, "libpthread", 10) == 0 ||
	       strncmp(b, "libc-", 5) == 0;
}

/* Frames of no interest to the reader of a deadlock: glibc, the loader,
 * lockhound's own runtime. */
static bool
is_system(const struct ctx *c, const char *module)
{
	const char *b = base_name(module);

	return b && (is_glibc(c, module) || strncmp(b, "ld-linux", 8) == 0 ||
		     strncmp(b, "liblockhound", 12) == 0);
}

/* ---- stacks -------------------------------------------------------------- */

/* Symbolizes pcs (pcs[0] exact when first_exact, the rest return addresses)
 * into s, calls that were inlined as frames of their own. */
static void
symbolize_stack(struct ctx *c, const uint64_t *pcs, int n, bool first_exact, struct fstack *s)
{
	size_t cap = 0;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < n; i++) {
		struct sym_frame sf;

		sym_code(c->sym, pcs[i], !(i == 0 && first_exact), &sf);
		for (int k = 0; k < (sf.ninl ? sf.ninl : 1); k++) {
			if (s->n == cap) {
				cap = cap ? cap * 2 : 32;
				s->frames = realloc(s->frames, cap * sizeof(*s->frames));
				if (!s->frames) {
					fputs("lockhound: out of memory\n", stderr);
					exit(EXIT_USAGE);
				}
			}
			fframe_set(&s->frames[s->n++], pcs[i], &sf, k);
		}
	}
}

/* The frame of a stack that says where a thread waits: the first one
 * outside glibc, the loader and lockhound; s->n if none. */
static size_t
site_of(const struct ctx *c, const struct fstack *s)
{
	for (size_t k = 0; k < s->n; k++)
		if (!is_system(c, s->frames[k].module) &&
		    (s->frames[k].function || s->frames[k].file))
			return k;
	return s->n;
}

/* ---- step 2: the snapshot -------------------------------------------------- */

static bool
futex_wait_op(const struct tthread *th)
{
	unsigned cmd;

	if (!th->sc_ok || th->nr != SYS_futex)
		return false;
	cmd = FUTEX_CMD((unsigned)th->args[1]);
	return cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET || cmd == FUTEX_LOCK_PI ||
	       cmd == FUTEX_LOCK_PI2 || cmd == FUTEX_WAIT_REQUEUE_PI;
}

/* Modules whose variables hold no locks of the program's: glibc's own (its
 * locks are internal words), the loader, lockhound's runtime, the vdso. */
static bool
skip_module(const char *path)
{
	static const char *const prefixes[] = {"libc.so",  "libc-",	    "ld-linux",
					       "libm.so",  "libpthread",    "libdl.so",
					       "librt.so", "libresolv",	    "libnss_",
					       "libgcc_s", "liblockhound", "linux-vdso"};
	const char *b = base_name(path);

	if (!b || b[0] == '[')
		return true;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(b, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static void
add_static(void *arg, uint64_t addr, enum sym_lock_kind kind)
{
	struct ctx *c = arg;

	if (c->nstatics == c->capstatics) {
		size_t cap = c->capstatics ? c->capstatics * 2 : 64;
		struct slock *n = realloc(c->statics, cap * sizeof(*n));

		if (!n)
			return;
		c->statics = n;
		c->capstatics = cap;
	}
	c->statics[c->nstatics++] =
		(struct slock){addr, kind == SYM_LOCK_RWLOCK ? GT_RWLOCK : GT_MUTEX, false, {0}};
}

/* Stops the process, takes what the analysis needs, lets it go. 0, or
 * EXIT_USAGE after saying why not. */
static int
snapshot(struct ctx *c)
{
	char why[512];
	int rc;

	unwind_prepare(c->dwfl);
	sym_static_locks(c->sym, skip_module, add_static, c, MAX_STATIC_LOCKS);
	if (target_stop(&c->t, why, sizeof(why)) != 0) {
		error(c->t.pid, "%s", why);
		return EXIT_USAGE;
	}
	rc = target_unwind(&c->t, c->dwfl, why, sizeof(why));
	for (size_t i = 0; i < c->t.n; i++) {
		struct tthread *th = &c->t.th[i];

		if (futex_wait_op(th))
			target_snap(&c->t, th->args[0], &th->snap);
	}
	for (size_t i = 0; i < c->nstatics; i++) {
		struct slock *l = &c->statics[i];

		l->ok = target_read(&c->t, l->addr, l->bytes,
				    l->type == GT_MUTEX ? sizeof(pthread_mutex_t) : sizeof(l->bytes));
	}
	runtime_read(&c->t, c->dwfl, &c->rt);
	target_resume(&c->t);
	if (rc != 0)
		fprintf(stderr, "lockhound: attach: %d: %s; stacks are not shown\n",
			(int)c->t.pid, why);
	return 0;
}

/* ---- step 3: what each thread waits for, and who holds what --------------- */

static int
find_lock(const struct ctx *c, enum gtype type, uint64_t addr)
{
	for (size_t i = 0; i < c->nlocks; i++)
		if (c->locks[i].addr == addr && c->locks[i].type == type)
			return (int)i;
	return -1;
}

static int
add_lock(struct ctx *c, enum gtype type, uint64_t addr)
{
	int i = find_lock(c, type, addr);
	struct alock *l;

	if (i >= 0)
		return i;
	l = realloc(c->locks, (c->nlocks + 1) * sizeof(*l));
	if (!l) {
		fputs("lockhound: out of memory\n", stderr);
		exit(EXIT_USAGE);
	}
	c->locks = l;
	l = &c->locks[c->nlocks];
	memset(l, 0, sizeof(*l));
	l->id = (int)c->nlocks + 1;
	l->type = type;
	l->addr = addr;
	return (int)c->nlocks++;
}

static struct athread *
athread_of(struct ctx *c, pid_t tid)
{
	for (size_t i = 0; i < c->nat; i++)
		if (c->at[i].th->tid == tid)
			return &c->at[i];
	return NULL;
}

static bool
alive(const struct athread *a)
{
	return a && a->th->st != TH_GONE && a->th->st != TH_ZOMBIE;
}

/* The process a thread id belongs to now (0 if none). */
static pid_t
tgid_of(pid_t tid)
{
	char path[64], buf[4096];
	const char *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strstr(buf, "\nTgid:");
	return p ? (pid_t)strtol(p + 6, NULL, 10) : 0;
}

static void
add_held(struct athread *a, int lock, int mode, const struct rt_held *rt)
{
	struct aheld *h;

	for (int i = 0; i < a->nheld; i++) {
		if (a->held[i].lock == lock) {
			if (rt && !a->held[i].rt) {
				a->held[i].rt = rt;
				a->held[i].mode = mode;
			}
			return;
		}
	}
	h = realloc(a->held, ((size_t)a->nheld + 1) * sizeof(*h));
	if (!h)
		return;
	a->held = h;
	a->held[a->nheld++] = (struct aheld){lock, mode, rt};
}

static enum gtype
rt_gtype(int lh_type)
{
	switch (lh_type) {
	case LH_TYPE_MUTEX:
	case LH_TYPE_MTX: return GT_MUTEX;
	case LH_TYPE_RWLOCK: return GT_RWLOCK;
	default: return GT_SPIN;
	}
}

/* What a thread waits in, from the glibc function on its stack. */
static void
classify(struct ctx *c, struct athread *a)
{
	struct tthread *th = a->th;

	a->wait = GW_NONE;
	a->wait_frame = -1;
	if (futex_wait_op(th)) {
		unsigned cmd = FUTEX_CMD((unsigned)th->args[1]);

		for (size_t k = 0; k < a->stack.n && k < 64; k++) {
			enum gwait w;

			if (!is_glibc(c, a->stack.frames[k].module))
				continue;
			w = glibc_classify(a->stack.frames[k].function);
			if (w != GW_NONE && w != GW_SPIN) {
				a->wait = w;
				a->wait_frame = (int)k;
				break;
			}
		}
		if (a->wait == GW_NONE)
			a->wait = cmd == FUTEX_LOCK_PI || cmd == FUTEX_LOCK_PI2 ? GW_MUTEX
										 : GW_FUTEX;
		glibc_decode(a->wait, th->args[0], (unsigned)th->args[1], (uint32_t)th->args[2],
			     &th->snap, &a->obj);
		return;
	}
	/* Spinning: running in pthread_spin_lock, the lock's address in rdi. */
	if (th->st == TH_STOPPED && th->nr < 0 && a->stack.n &&
	    is_glibc(c, a->stack.frames[0].module) &&
	    glibc_classify(a->stack.frames[0].function) == GW_SPIN) {
		a->wait = GW_SPIN;
		a->wait_frame = 0;
		memset(&a->obj, 0, sizeof(a->obj));
		a->obj.type = GT_SPIN;
		a->obj.addr = th->regs[5];
		a->obj.valid = true;
		return;
	}
	/* The runtime's own record: a wait glibc's stack does not show (its
	 * spinlock wrapper spins by itself). */
	if (a->rt && a->rt->wait_kind == LH_WAIT_LOCK && a->rt->wait_addr &&
	    th->st != TH_GONE && th->st != TH_ZOMBIE) {
		memset(&a->obj, 0, sizeof(a->obj));
		a->obj.type = rt_gtype(a->rt->wait_type);
		a->obj.addr = a->rt->wait_addr;
		a->obj.valid = true;
		a->wait = a->obj.type == GT_SPIN	      ? GW_SPIN
			  : a->obj.type == GT_MUTEX	      ? GW_MUTEX
			  : a->rt->wait_mode == LH_MODE_READ ? GW_RWLOCK_READ
							      : GW_RWLOCK_WRITE;
	}
}

static void
analyze(struct ctx *c)
{
	c->nat = c->t.n;
	c->at = xcalloc(c->nat, sizeof(*c->at));
	for (size_t i = 0; i < c->nat; i++) {
		struct athread *a = &c->at[i];
		size_t site;

		a->th = &c->t.th[i];
		a->lock = -1;
		a->chain = a->behind = -1;
		a->rt = runtime_thread(&c->rt, a->th->tid);
		symbolize_stack(c, a->th->pcs, a->th->npcs, true, &a->stack);
		a->stack.partial = false;
		site = site_of(c, &a->stack);
		a->site = site < a->stack.n ? (int)site : -1;
		classify(c, a);
	}

	/* The locks waited for, and their owners as glibc records them. */
	for (size_t i = 0; i < c->nat; i++) {
		struct athread *a = &c->at[i];
		struct alock *l;

		if (a->wait == GW_NONE || a->wait == GW_JOIN) {
			if (a->wait == GW_JOIN)
				a->joinee = a->obj.joinee;
			continue;
		}
		a->lock = add_lock(c, a->obj.type, a->obj.addr);
		a->mode = a->wait == GW_RWLOCK_READ ? LH_MODE_READ : LH_MODE_WRITE;
		l = &c->locks[a->lock];
		l->nwaiters++;
		if (!l->decoded && a->obj.valid) {
			l->obj = a->obj;
			l->decoded = true;
			if (a->obj.type == GT_MUTEX || (a->obj.type == GT_RWLOCK && a->obj.write_locked))
				l->owner = a->obj.owner;
		}
	}

	/* Locks in variables, held even when nobody waits for them. */
	for (size_t i = 0; i < c->nstatics; i++) {
		const struct slock *sl = &c->statics[i];
		struct gsnap snap = {.addr = sl->addr, .len = sizeof(sl->bytes)};
		struct gobj o;
		struct alock *l;
		int li;

		memcpy(snap.bytes, sl->bytes, sizeof(sl->bytes));
		if (!sl->ok || !glibc_decode_at(sl->type, sl->addr, &snap, &o) || !o.valid ||
		    !o.locked || o.owner <= 0)
			continue;
		li = add_lock(c, sl->type, sl->addr); /* may move the table */
		l = &c->locks[li];
		if (!l->decoded) {
			l->obj = o;
			l->decoded = true;
			l->owner = o.owner;
		}
	}

	/* The runtime's held stacks: every lock with where it was taken. */
	for (size_t r = 0; c->rt.used && r < c->rt.n; r++) {
		const struct rt_thread *rt = &c->rt.th[r];
		struct athread *a = athread_of(c, rt->tid);

		if (!a)
			continue; /* its exited threads are told with their waiters */
		for (int k = 0; k < rt->nheld; k++) {
			const struct rt_held *h = &rt->held[k];
			int li = add_lock(c, rt_gtype(h->type), h->addr);

			c->locks[li].rt = h;
			add_held(a, li, h->mode, h);
		}
	}

	/* Owners hold what they own. */
	for (size_t li = 0; li < c->nlocks; li++) {
		struct alock *l = &c->locks[li];
		struct athread *o;

		if (!l->owner)
			continue;
		o = athread_of(c, l->owner);
		if (alive(o)) {
			add_held(o, (int)li, LH_MODE_WRITE, NULL);
			continue;
		}
		if (!o) {
			pid_t tg = tgid_of(l->owner);

			if (tg > 0 && tg != c->t.pid && l->obj.pshared) {
				l->owner_elsewhere = tg; /* a process-shared lock's owner */
				continue;
			}
		}
		l->owner_gone = true;
	}

	/* Who each waiting thread waits for. */
	for (size_t i = 0; i < c->nat; i++) {
		struct athread *a = &c->at[i];
		struct alock *l = a->lock >= 0 ? &c->locks[a->lock] : NULL;

		a->nowners = 0;
		if (a->wait == GW_JOIN && a->joinee > 0) {
			a->owners[a->nowners++] = a->joinee;
			continue;
		}
		if (!l || (a->wait != GW_MUTEX && a->wait != GW_RWLOCK_READ &&
			   a->wait != GW_RWLOCK_WRITE && a->wait != GW_SPIN))
			continue;
		if (l->owner && !l->owner_elsewhere) {
			a->owners[a->nowners++] = l->owner;
			continue;
		}
		/* Readers (and spinlock holders) are known only to the runtime. */
		for (size_t j = 0; j < c->nat && a->nowners < WF_MAX_OWNERS; j++)
			for (int k = 0; k < c->at[j].nheld; k++)
				if (c->at[j].held[k].lock == a->lock && &c->at[j] != a)
					a->owners[a->nowners++] = c->at[j].th->tid;
		/* A reader behind queued writers waits for them (lockdep's rule). */
		if (a->nowners == 0 && a->wait == GW_RWLOCK_READ && !l->obj.write_locked)
			for (size_t j = 0; j < c->nat && a->nowners < WF_MAX_OWNERS; j++)
				if (c->at[j].lock == a->lock && c->at[j].wait == GW_RWLOCK_WRITE)
					a->owners[a->nowners++] = c->at[j].th->tid;
	}
}

/* The wait-for graph: every thread, plus the owners that are gone. */
static void
find_deadlocks(struct ctx *c)
{
	c->nodes = xcalloc(c->nat * (1 + WF_MAX_OWNERS) + 1, sizeof(*c->nodes));
	for (size_t i = 0; i < c->nat; i++) {
		struct athread *a = &c->at[i];
		struct wf_node *n = &c->nodes[c->nnodes++];

		n->tid = a->th->tid;
		n->exists = alive(a);
		n->waits = a->nowners ? (a->lock >= 0 ? a->lock : (int)c->nlocks + (int)i) : -1;
		n->nowners = a->nowners;
		memcpy(n->owners, a->owners, sizeof(n->owners));
	}
	for (size_t i = 0; i < c->nat; i++) {
		for (int k = 0; k < c->at[i].nowners; k++) {
			pid_t o = c->at[i].owners[k];
			bool known = false;

			for (int j = 0; j < c->nnodes; j++)
				known |= c->nodes[j].tid == o;
			if (known)
				continue;
			c->nodes[c->nnodes].tid = o;
			c->nodes[c->nnodes].exists = false;
			c->nodes[c->nnodes].waits = -1;
			c->nnodes++;
		}
	}
	c->nchains = wf_find(c->nodes, c->nnodes, c->chains, MAX_CHAINS);
	for (int k = 0; k < c->nchains; k++)
		for (int m = 0; m < c->chains[k].n; m++)
			c->at[c->chains[k].member[m]].chain = k;
	/* Threads stuck behind a deadlock: their chain of owners reaches one. */
	for (size_t i = 0; i < c->nat; i++) {
		struct athread *a = &c->at[i];

		for (int steps = 0; steps < WF_MAX_CHAIN && a && a->chain < 0 && a->nowners;
		     steps++) {
			struct athread *o = athread_of(c, a->owners[0]);

			if (!o)
				break;
			if (o->chain >= 0) {
				c->at[i].behind = o->chain;
				break;
			}
			a = o;
		}
	}
}

/* ---- names ---------------------------------------------------------------- */

static void
name_locks(struct ctx *c)
{
	for (size_t i = 0; i < c->nlocks; i++) {
		struct alock *l = &c->locks[i];
		const char *type = glibc_gtype_name(l->type);
		char *site = NULL;

		sym_data(c->sym, l->addr, &l->sym);
		if (l->rt && l->rt->annotation) {
			l->label = xstrdup0(l->rt->annotation);
			l->is_static = true;
		} else if (l->sym.status == SYM_OK && l->sym.name) {
			l->label = xstrdup0(l->sym.name);
			l->is_static = true;
		} else if (l->sym.status == SYM_OK && l->sym.symbol) {
			l->label = l->sym.symbol_offset
					   ? xasprintf("%s+0x%" PRIx64, l->sym.symbol, l->sym.symbol_offset)
					   : xstrdup0(l->sym.symbol);
			l->is_static = true;
		} else {
			l->label = xasprintf("%s 0x%" PRIx64, type, l->addr);
		}
		if (l->is_static) {
			l->describe = xasprintf("%s (%s 0x%" PRIx64 ")", l->label, type, l->addr);
			continue;
		}
		/* A lock on the heap or a stack: where it was made or taken. */
		if (l->rt && (l->rt->init_pc || l->rt->npcs)) {
			struct fstack s;
			size_t k;

			if (l->rt->init_pc)
				symbolize_stack(c, &l->rt->init_pc, 1, false, &s);
			else
				symbolize_stack(c, l->rt->pcs, l->rt->npcs, false, &s);
			k = l->rt->init_pc ? (s.n ? s.n - 1 : 0) : site_of(c, &s);
			if (k < s.n) {
				char *w = fframe_where(&s.frames[k], true);

				site = xasprintf("%s at %s", l->rt->init_pc ? "made" : "locked", w);
				free(w);
			}
			free(s.frames);
		}
		for (size_t j = 0; !site && j < c->nat; j++) {
			struct athread *a = &c->at[j];

			if (a->lock == (int)i && a->site >= 0) {
				char *w = fframe_where(&a->stack.frames[a->site], true);

				site = xasprintf("locked at %s", w);
				free(w);
			}
		}
		l->describe = site ? xasprintf("%s, %s", l->label, site) : xstrdup0(l->label);
		free(site);
	}
}

/* ---- words ------------------------------------------------------------------ */

/* The thread's state as a record value. */
static const char *
state_key(const struct athread *a)
{
	switch (a->th->st) {
	case TH_ZOMBIE:
	case TH_GONE: return "exited";
	case TH_NO_STOP: return "uninterruptible";
	default: break;
	}
	switch (a->wait) {
	case GW_MUTEX:
	case GW_RWLOCK_READ:
	case GW_RWLOCK_WRITE:
	case GW_INTERNAL: return "waiting-lock";
	case GW_COND:
	case GW_COND_SIGNAL:
	case GW_COND_DESTROY: return "waiting-cond";
	case GW_SEM: return "waiting-sem";
	case GW_BARRIER: return "waiting-barrier";
	case GW_JOIN: return "waiting-join";
	case GW_SPIN: return "spinning";
	case GW_FUTEX: return "waiting-futex";
	default: break;
	}
	if (a->th->group_stop || a->th->pstate == 'T')
		return "stopped";
	if (a->th->sc_ok && a->th->nr >= 0)
		return "in-syscall";
	return "running";
}

/* The same in words (as the runtime's deadlock report says it). Caller frees. */
static char *
state_text(const struct athread *a)
{
	const char *name;

	switch (a->th->st) {
	case TH_ZOMBIE:
	case TH_GONE: return xstrdup0("exited");
	case TH_NO_STOP: return xstrdup0("in uninterruptible sleep (it did not stop)");
	default: break;
	}
	switch (a->wait) {
	case GW_MUTEX:
	case GW_RWLOCK_WRITE: return xstrdup0("waiting for a lock");
	case GW_RWLOCK_READ: return xstrdup0("waiting for a lock, to read");
	case GW_INTERNAL: return xstrdup0("waiting for a lock inside glibc");
	case GW_COND: return xstrdup0("waiting on a condition variable");
	case GW_COND_SIGNAL:
		return xstrdup0("signalling a condition variable, waiting for its earlier "
				"waiters to leave");
	case GW_COND_DESTROY:
		return xstrdup0("destroying a condition variable, waiting for its waiters to "
				"leave");
	case GW_SEM: return xstrdup0("waiting on a semaphore");
	case GW_BARRIER: return xstrdup0("waiting at a barrier");
	case GW_JOIN: return xasprintf("waiting to join thread %d", (int)a->joinee);
	case GW_SPIN: return xstrdup0("spinning on a spinlock");
	case GW_FUTEX: return xstrdup0("waiting on a futex");
	default: break;
	}
	if (a->th->group_stop || a->th->pstate == 'T')
		return xstrdup0("stopped (job control)");
	if (a->th->sc_ok && a->th->nr >= 0) {
		name = attach_syscall_name(a->th->nr);
		if (a->th->nr == SYS_nanosleep || a->th->nr == SYS_clock_nanosleep)
			return xasprintf("sleeping (%s)", name);
		return name ? xasprintf("in %s", name)
			    : xasprintf("in system call %ld", a->th->nr);
	}
	return xstrdup0("running");
}

static const char *
mode_name(int mode)
{
	return mode == LH_MODE_READ ? "read" : "write";
}

/* ---- text ---------------------------------------------------------------- */

static void
text_thread(FILE *out, const struct athread *a)
{
	fprintf(out, "thread %d", (int)a->th->tid);
	if (a->th->name[0])
		fprintf(out, " \"%s\"", a->th->name);
}

/* The stack from the frame that called into glibc (all of it if none). */
static void
text_site_stack(FILE *out, const char *indent, const struct athread *a)
{
	struct fstack s = a->stack;

	if (a->site > 0) {
		s.frames += a->site;
		s.n -= (size_t)a->site;
	}
	if (s.n == 0) {
		fprintf(out, "%s(no stack)\n", indent);
		return;
	}
	print_stack(out, indent, &s);
}

static void
text_rt_stack(FILE *out, struct ctx *c, const char *indent, const struct rt_held *h)
{
	struct fstack s;

	symbolize_stack(c, h->pcs, h->npcs, false, &s);
	s.partial = h->partial;
	print_stack(out, indent, &s);
	free(s.frames);
}

static void
text_holds(FILE *out, struct ctx *c, const struct athread *a, const char *indent,
	   bool stacks)
{
	for (int k = 0; k < a->nheld; k++) {
		const struct aheld *h = &a->held[k];
		const struct alock *l = &c->locks[h->lock];

		fprintf(out, "%sholds %s", indent, l->describe);
		if (h->mode == LH_MODE_READ)
			fputs(" for reading", out);
		if (h->rt && h->rt->held_ms >= 0)
			fprintf(out, ", for about %" PRId64 " ms", h->rt->held_ms);
		if (stacks && h->rt && h->rt->npcs) {
			char ind[32];

			fputs(", taken at:\n", out);
			snprintf(ind, sizeof(ind), "%s  ", indent);
			text_rt_stack(out, c, ind, h->rt);
		} else {
			fputc('\n', out);
		}
	}
}

static void
text_deadlock(FILE *out, struct ctx *c, const struct wf_chain *ch)
{
	const struct wf_node *dead = ch->dead >= 0 ? &c->nodes[ch->dead] : NULL;

	fputs("lockhound: deadlock: ", out);
	if (dead)
		fprintf(out, "%d %s forever for a lock whose holder has exited", ch->n,
			ch->n == 1 ? "thread waits" : "threads wait");
	else if (ch->n == 1)
		fputs("a thread waits for a lock it holds itself", out);
	else
		fprintf(out, "%d threads wait for each other", ch->n);
	fprintf(out, " (pid %d)\n", (int)c->t.pid);
	for (int i = 0; i < ch->n; i++) {
		const struct athread *a = &c->at[ch->member[i]];
		pid_t next = i + 1 < ch->n ? c->nodes[ch->member[i + 1]].tid
			     : dead	   ? dead->tid
					   : c->nodes[ch->member[0]].tid;

		fputs("  ", out);
		text_thread(out, a);
		if (a->wait == GW_JOIN) {
			fprintf(out, " waits to join thread %d", (int)next);
		} else {
			fprintf(out, " waits for %s", c->locks[a->lock].describe);
			if (a->mode == LH_MODE_READ)
				fputs(" to read", out);
			if (a->rt && a->rt->waited_ms >= 0)
				fprintf(out, ", for %" PRId64 " ms", a->rt->waited_ms);
			fprintf(out, ", held by thread %d", (int)next);
		}
		if (dead && i == ch->n - 1)
			fputs(" (exited)", out);
		fputs("\n    waiting at:\n", out);
		text_site_stack(out, "      ", a);
		text_holds(out, c, a, "    ", true);
	}
	if (dead) {
		const struct rt_thread *rt = runtime_thread(&c->rt, dead->tid);
		int waiting = 0;

		fprintf(out, "  thread %d exited holding:\n", (int)dead->tid);
		for (int k = 0; rt && k < rt->nheld; k++) {
			int li = find_lock(c, rt_gtype(rt->held[k].type), rt->held[k].addr);

			fprintf(out, "    holds %s",
				li >= 0 ? c->locks[li].describe : "a lock");
			if (rt->held[k].npcs) {
				fputs(", taken at:\n", out);
				text_rt_stack(out, c, "      ", &rt->held[k]);
			} else {
				fputc('\n', out);
			}
		}
		if (!rt || rt->nheld == 0)
			fprintf(out, "    holds %s (glibc's owner field names it)\n",
				c->locks[c->at[ch->member[ch->n - 1]].lock].describe);
		for (size_t j = 0; j < c->nat; j++)
			waiting += c->at[j].lock == c->at[ch->member[ch->n - 1]].lock &&
				   (int)j != ch->member[ch->n - 1];
		if (waiting)
			fprintf(out, "  %d other thread%s wait%s for it too\n", waiting,
				waiting == 1 ? "" : "s", waiting == 1 ? "s" : "");
	}
	for (size_t j = 0; j < c->nat; j++) {
		const struct athread *o = &c->at[j];
		char *st;

		if (o->chain == ch - c->chains)
			continue;
		st = state_text(o);
		fputs("  other: ", out);
		text_thread(out, o);
		fprintf(out, " is %s%s\n", st,
			o->behind == ch - c->chains ? ", behind this deadlock: it can never go on "
						      "either"
						    : "");
		free(st);
		text_holds(out, c, o, "    ", false);
	}
	fputs(dead ? "  These threads can never go on: nothing will release the lock; the "
		     "process is left as it is.\n"
		   : "  These threads can never go on; the process is left as it is.\n",
	      out);
	fputc('\n', out);
}

static void
text_dump(FILE *out, struct ctx *c)
{
	fprintf(out, "lockhound: attach: pid %d", (int)c->t.pid);
	if (c->nat && c->at[0].th->name[0])
		fprintf(out, " \"%s\"", c->at[0].th->name);
	fprintf(out, " (%s): %zu thread%s, held stopped for %.1f ms%s\n", c->exe,
		c->t.n + c->t.more, c->t.n + c->t.more == 1 ? "" : "s",
		(double)c->t.held_ns / 1e6,
		c->rt.used ? "; with liblockhound's records" : "");
	for (size_t i = 0; i < c->nat; i++) {
		const struct athread *a = &c->at[i];
		const struct tthread *th = a->th;
		char *st = state_text(a);

		fputc('\n', out);
		text_thread(out, a);
		if (th->tid == c->t.pid)
			fputs(" (main)", out);
		fprintf(out, ": %s\n", st);
		free(st);
		if (a->lock >= 0 && a->wait != GW_JOIN) {
			const struct alock *l = &c->locks[a->lock];

			fprintf(out, "    %s %s", a->wait == GW_COND || a->wait == GW_SEM ||
							 a->wait == GW_BARRIER || a->wait == GW_FUTEX ||
							 a->wait == GW_COND_SIGNAL ||
							 a->wait == GW_COND_DESTROY
						     ? "waits on"
						     : "waits for",
				l->describe);
			if (a->mode == LH_MODE_READ)
				fputs(" to read", out);
			if (a->rt && a->rt->waited_ms >= 0 && a->wait != GW_NONE)
				fprintf(out, ", for %" PRId64 " ms", a->rt->waited_ms);
			for (int k = 0; k < a->nowners; k++) {
				const struct athread *o = athread_of(c, a->owners[k]);

				fprintf(out, "%s%d", k ? ", " : ", held by thread ", (int)a->owners[k]);
				if (o && o->th->name[0])
					fprintf(out, " \"%s\"", o->th->name);
				if (!alive(o) && !l->owner_elsewhere)
					fputs(" (which no longer exists)", out);
			}
			if (l->owner_elsewhere)
				fprintf(out, ", held by thread %d of process %d (process-shared)",
					(int)l->owner, (int)l->owner_elsewhere);
			else if (!a->nowners && (a->wait == GW_MUTEX || a->wait == GW_RWLOCK_WRITE ||
						 a->wait == GW_RWLOCK_READ || a->wait == GW_SPIN))
				fputs(l->obj.readers ? ", held by readers lockhound cannot name"
						     : ", its holder is not recorded",
				      out);
			fputc('\n', out);
			if (l->type == GT_SEM && l->decoded)
				fprintf(out, "    (its value is %u)\n", l->obj.sem_value);
		}
		if (a->chain >= 0)
			fprintf(out, "    in deadlock %d above\n", a->chain + 1);
		else if (a->behind >= 0)
			fprintf(out, "    behind deadlock %d above: it can never go on either\n",
				a->behind + 1);
		for (int k = 0; k < a->nheld; k++) {
			const struct aheld *h = &a->held[k];
			const struct alock *l = &c->locks[h->lock];

			fprintf(out, "    holds %s", l->describe);
			if (h->mode == LH_MODE_READ)
				fputs(" for reading", out);
			if (h->rt && h->rt->held_ms >= 0)
				fprintf(out, ", for about %" PRId64 " ms", h->rt->held_ms);
			if (l->nwaiters)
				fprintf(out, " (%d thread%s wait%s for it)", l->nwaiters,
					l->nwaiters == 1 ? "" : "s", l->nwaiters == 1 ? "s" : "");
			if (h->rt && h->rt->npcs) {
				fputs(", taken at:\n", out);
				text_rt_stack(out, c, "        ", h->rt);
			} else {
				fputc('\n', out);
			}
		}
		if (th->st == TH_LEFT)
			fprintf(out, "    (not stopped: a stop would make its %s fail with EINTR; "
				     "stack read while it sleeps%s)\n",
				attach_syscall_name(th->nr) ? attach_syscall_name(th->nr) : "call",
				th->guessed ? ", frame pointer found by a scan" : "");
		if (th->st == TH_NO_STOP)
			fprintf(out, "    (it did not stop within %d ms: no stack)\n",
				ATTACH_STOP_MS);
		if (th->pending_sig)
			fprintf(out, "    (signal %d arrived while it was held; delivered)\n",
				th->pending_sig);
		if (a->stack.n)
			print_stack(out, "    ", &a->stack);
		else if (th->st == TH_STOPPED || th->st == TH_LEFT)
			fputs("    (no stack)\n", out);
		if (th->unwind_note)
			fprintf(out, "    (%s)\n", th->unwind_note);
	}
	if (c->t.more)
		fprintf(out, "\n... and %zu more threads, not examined\n", c->t.more);
	for (size_t i = 0; i < c->nlocks; i++) {
		const struct alock *l = &c->locks[i];

		if (l->owner_gone && !l->nwaiters)
			fprintf(out, "\nnote: %s is held by thread %d, which no longer exists: "
				     "the next thread to take it waits forever\n",
				l->describe, (int)l->owner);
	}
	fputc('\n', out);
}

static void
text_report(FILE *out, struct ctx *c)
{
	int cycles = 0, lost = 0;

	for (int k = 0; k < c->nchains; k++) {
		text_deadlock(out, c, &c->chains[k]);
		if (c->chains[k].dead >= 0)
			lost++;
		else
			cycles++;
	}
	text_dump(out, c);
	if (!cycles && !lost)
		fputs("No deadlock found.\n", out);
	else if (!lost)
		fprintf(out, "%d deadlock%s found.\n", cycles, cycles == 1 ? "" : "s");
	else if (!cycles)
		fprintf(out, "%d lock%s whose holder has exited found.\n", lost,
			lost == 1 ? "" : "s");
	else
		fprintf(out, "%d deadlock%s and %d lock%s whose holder has exited found.\n",
			cycles, cycles == 1 ? "" : "s", lost, lost == 1 ? "" : "s");
}

/* ---- records (lockhound-report(5)) ----------------------------------------- */

static void
json_begin(FILE *out, struct ctx *c, const char *kind)
{
	fprintf(out, "{\"kind\":\"%s\",\"pid\":%d,\"time\":%" PRIu64 ".%06" PRIu64, kind,
		(int)c->t.pid, c->time_us / 1000000, c->time_us % 1000000);
}

static int
module_index(const struct ctx *c, uint64_t addr)
{
	const struct amod *m = module_at(c, addr);

	return m && m->path && m->path[0] == '/' ? (int)(m - c->mods) : -1;
}

/* A stack as frames: every pc a return address (an exact first pc is
 * written plus one, as the runtime writes a signal frame's). */
static void
json_frame(FILE *out, const struct ctx *c, uint64_t pc)
{
	int m = module_index(c, pc - 1);

	fprintf(out, "{\"pc\":\"0x%" PRIx64 "\"", pc);
	if (m >= 0)
		fprintf(out, ",\"module\":%d,\"offset\":\"0x%" PRIx64 "\"", m,
			pc - c->mods[m].bias);
	fputc('}', out);
}

static void
json_frames(FILE *out, const struct ctx *c, const uint64_t *pcs, int n, bool first_exact)
{
	fputc('[', out);
	for (int i = 0; i < n; i++) {
		if (i)
			fputc(',', out);
		json_frame(out, c, pcs[i] + (i == 0 && first_exact));
	}
	fputc(']', out);
}

/* The stack from the call into glibc, as the runtime records a wait. */
static void
json_site_stack(FILE *out, const struct ctx *c, const struct athread *a)
{
	int from = 0;

	/* pcs index of the site frame: count the real (not inlined) frames. */
	if (a->site > 0)
		for (int k = 0; k < a->site; k++)
			from += !a->stack.frames[k].inlined;
	if (from >= a->th->npcs)
		from = 0;
	json_frames(out, c, a->th->pcs + from, a->th->npcs - from, from == 0);
}

static void
json_header(FILE *out, struct ctx *c)
{
	fprintf(out, "{\"lockhound\":1,\"kind\":\"header\",\"pid\":%d,\"time\":%" PRIu64
		     ",\"version\":\"%s\",\"exe\":",
		(int)c->t.pid, c->time_us / 1000000, PACKAGE_VERSION);
	fput_json_str(out, c->exe);
	fputs(",\"source\":\"attach\",\"modules\":[", out);
	for (size_t i = 0, k = 0; i < c->nmods; i++) {
		const struct amod *m = &c->mods[i];

		if (!m->path || m->path[0] != '/')
			continue; /* [vdso]: no file to read it from offline */
		fprintf(out, "%s{\"index\":%zu,\"path\":", k++ ? "," : "", i);
		fput_json_str(out, m->path);
		fprintf(out,
			",\"build_id\":\"%s\",\"base\":\"0x%" PRIx64 "\",\"start\":\"0x%" PRIx64
			"\",\"end\":\"0x%" PRIx64 "\"}",
			m->build_id, m->bias, m->start, m->end);
	}
	fputs("]}\n", out);
}

static const char *
record_type(const struct alock *l)
{
	switch (l->type) {
	case GT_MUTEX: return "mutex";
	case GT_RWLOCK: return "rwlock";
	case GT_COND: return "condition variable";
	case GT_SEM: return "semaphore";
	case GT_BARRIER: return "barrier";
	case GT_INTERNAL: return "glibc-internal";
	case GT_SPIN: return "spinlock";
	default: return "futex";
	}
}

static void
json_lock(FILE *out, struct ctx *c, const struct alock *l)
{
	int m = module_index(c, l->addr);

	json_begin(out, c, "lock");
	fprintf(out, ",\"id\":%d,\"addr\":\"0x%" PRIx64 "\",\"type\":\"%s\"", l->id, l->addr,
		record_type(l));
	if (l->type == GT_MUTEX && (l->decoded || l->rt))
		fprintf(out, ",\"mutex_kind\":\"%s\"",
			glibc_mutex_kind_name(l->decoded ? l->obj.mutex_kind : l->rt->kind));
	fputs(",\"name\":", out);
	fput_json_str(out, l->label);
	if (l->rt && l->rt->annotation) {
		fputs(",\"annotation\":", out);
		fput_json_str(out, l->rt->annotation);
	}
	if (m >= 0) {
		fputs(",\"symbol\":{", out);
		if (l->sym.status == SYM_OK && l->sym.symbol) {
			fputs("\"name\":", out);
			fput_json_str(out, l->sym.symbol);
			fprintf(out, ",\"offset\":%" PRIu64 ",", l->sym.symbol_offset);
		}
		fprintf(out, "\"module\":%d,\"module_offset\":\"0x%" PRIx64 "\"}", m,
			l->addr - c->mods[m].bias);
	}
	if (l->rt && l->rt->init_pc) {
		fputs(",\"init\":", out);
		json_frame(out, c, l->rt->init_pc);
	}
	if (l->decoded && l->obj.futex_member) {
		fputs(",\"futex_member\":", out);
		fput_json_str(out, l->obj.futex_member);
	}
	if (l->owner) {
		fprintf(out, ",\"owner\":%d", (int)l->owner);
		if (l->owner_gone)
			fputs(",\"owner_exited\":true", out);
		if (l->owner_elsewhere)
			fprintf(out, ",\"owner_pid\":%d", (int)l->owner_elsewhere);
	}
	fputs("}\n", out);
}

static void
json_held(FILE *out, struct ctx *c, const struct athread *a)
{
	fputs(",\"held\":[", out);
	for (int k = 0; k < a->nheld; k++) {
		const struct aheld *h = &a->held[k];
		const struct alock *l = &c->locks[h->lock];

		fprintf(out, "%s{\"lock\":%d,\"addr\":\"0x%" PRIx64 "\",\"mode\":\"%s\"",
			k ? "," : "", l->id, l->addr, mode_name(h->mode));
		if (h->rt && h->rt->held_ms >= 0)
			fprintf(out, ",\"held_ms\":%" PRId64, h->rt->held_ms);
		if (h->rt && h->rt->npcs) {
			fputs(",\"stack\":", out);
			json_frames(out, c, h->rt->pcs, h->rt->npcs, false);
			if (h->rt->partial)
				fputs(",\"stack_partial\":true", out);
		}
		fputc('}', out);
	}
	fputc(']', out);
}

static void
json_deadlock(FILE *out, struct ctx *c, const struct wf_chain *ch)
{
	const struct wf_node *dead = ch->dead >= 0 ? &c->nodes[ch->dead] : NULL;
	bool first = true;

	json_begin(out, c, "deadlock");
	fprintf(out, ",\"source\":\"attach\",\"cause\":\"%s\",\"cycle\":[",
		dead ? "holder-exited" : "cycle");
	for (int i = 0; i < ch->n; i++) {
		const struct athread *a = &c->at[ch->member[i]];

		fprintf(out, "%s{\"tid\":%d,\"name\":", i ? "," : "", (int)a->th->tid);
		fput_json_str(out, a->th->name);
		if (a->wait == GW_JOIN) {
			fprintf(out, ",\"waits_for\":{\"addr\":\"0x%" PRIx64 "\",\"join\":%d}",
				a->obj.addr, (int)a->joinee);
		} else {
			const struct alock *l = &c->locks[a->lock];

			fprintf(out,
				",\"waits_for\":{\"addr\":\"0x%" PRIx64 "\",\"lock\":%d,\"mode\":\"%s\"}",
				l->addr, l->id, mode_name(a->mode));
		}
		if (a->rt && a->rt->waited_ms >= 0)
			fprintf(out, ",\"waited_ms\":%" PRId64, a->rt->waited_ms);
		fputs(",\"stack\":", out);
		json_site_stack(out, c, a);
		json_held(out, c, a);
		fputc('}', out);
	}
	fputc(']', out);
	if (dead) {
		const struct rt_thread *rt = runtime_thread(&c->rt, dead->tid);
		const struct alock *l = &c->locks[c->at[ch->member[ch->n - 1]].lock];

		fprintf(out, ",\"exited_holder\":{\"tid\":%d,\"held\":[", (int)dead->tid);
		if (rt && rt->nheld) {
			for (int k = 0; k < rt->nheld; k++) {
				const struct rt_held *h = &rt->held[k];
				int li = find_lock(c, rt_gtype(h->type), h->addr);

				fprintf(out, "%s{", k ? "," : "");
				if (li >= 0)
					fprintf(out, "\"lock\":%d,", c->locks[li].id);
				fprintf(out, "\"addr\":\"0x%" PRIx64 "\",\"mode\":\"%s\"", h->addr,
					mode_name(h->mode));
				if (h->npcs) {
					fputs(",\"stack\":", out);
					json_frames(out, c, h->pcs, h->npcs, false);
				}
				fputc('}', out);
			}
		} else {
			fprintf(out, "{\"lock\":%d,\"addr\":\"0x%" PRIx64 "\",\"mode\":\"write\"}",
				l->id, l->addr);
		}
		fputs("]}", out);
	}
	fputs(",\"threads\":[", out);
	for (size_t j = 0; j < c->nat; j++) {
		const struct athread *o = &c->at[j];
		char *st;

		if (o->chain == ch - c->chains)
			continue;
		st = state_text(o);
		fprintf(out, "%s{\"tid\":%d,\"name\":", first ? "" : ",", (int)o->th->tid);
		first = false;
		fput_json_str(out, o->th->name);
		fputs(",\"state\":", out);
		fput_json_str(out, st);
		free(st);
		if (o->behind == ch - c->chains)
			fputs(",\"behind\":true", out);
		json_held(out, c, o);
		fputc('}', out);
	}
	fputs("]}\n", out);
}

static void
json_dump(FILE *out, struct ctx *c)
{
	json_begin(out, c, "attach-dump");
	fprintf(out, ",\"held_stopped_us\":%" PRIu64 ",\"runtime\":%s,\"deadlocks\":%d",
		c->t.held_ns / 1000, c->rt.used ? "true" : "false", c->nchains);
	if (c->t.more)
		fprintf(out, ",\"more_threads\":%zu", c->t.more);
	fputs(",\"threads\":[", out);
	for (size_t i = 0; i < c->nat; i++) {
		const struct athread *a = &c->at[i];
		const struct tthread *th = a->th;

		fprintf(out, "%s{\"tid\":%d,\"name\":", i ? "," : "", (int)th->tid);
		fput_json_str(out, th->name);
		if (th->tid == c->t.pid)
			fputs(",\"main\":true", out);
		fprintf(out, ",\"state\":\"%s\"", state_key(a));
		fprintf(out, ",\"stopped\":%s", th->st == TH_STOPPED ? "true" : "false");
		if (th->sc_ok && th->nr >= 0) {
			const char *n = attach_syscall_name(th->nr);

			fprintf(out, ",\"syscall\":{\"nr\":%ld", th->nr);
			if (n)
				fprintf(out, ",\"name\":\"%s\"", n);
			fputc('}', out);
		}
		if (a->wait == GW_JOIN) {
			fprintf(out, ",\"waits_for\":{\"addr\":\"0x%" PRIx64 "\",\"join\":%d}",
				a->obj.addr, (int)a->joinee);
		} else if (a->lock >= 0) {
			const struct alock *l = &c->locks[a->lock];
			bool lock = a->wait == GW_MUTEX || a->wait == GW_RWLOCK_READ ||
				    a->wait == GW_RWLOCK_WRITE || a->wait == GW_INTERNAL ||
				    a->wait == GW_SPIN;

			fprintf(out, ",\"%s\":{\"addr\":\"0x%" PRIx64 "\",\"lock\":%d,\"name\":",
				lock ? "waits_for" : "waits_on", l->addr, l->id);
			fput_json_str(out, l->label);
			fprintf(out, ",\"type\":\"%s\"", record_type(l));
			if (lock) {
				fprintf(out, ",\"mode\":\"%s\",\"held_by\":[", mode_name(a->mode));
				for (int k = 0; k < a->nowners; k++)
					fprintf(out, "%s%d", k ? "," : "", (int)a->owners[k]);
				fputc(']', out);
				if (l->owner_gone)
					fputs(",\"owner_exited\":true", out);
			}
			if (a->rt && a->rt->waited_ms >= 0)
				fprintf(out, ",\"waited_ms\":%" PRId64, a->rt->waited_ms);
			fputc('}', out);
		}
		if (a->chain >= 0)
			fprintf(out, ",\"deadlock\":%d", a->chain + 1);
		else if (a->behind >= 0)
			fprintf(out, ",\"behind_deadlock\":%d", a->behind + 1);
		json_held(out, c, a);
		if (th->npcs) {
			fputs(",\"stack\":", out);
			json_frames(out, c, th->pcs, th->npcs, true);
		}
		if (th->st == TH_LEFT || th->unwind_note || th->guessed)
			fputs(",\"stack_partial\":true", out);
		fputc('}', out);
	}
	fputs("]}\n", out);
}

static void
json_report(FILE *out, struct ctx *c)
{
	json_header(out, c);
	for (size_t i = 0; i < c->nlocks; i++)
		json_lock(out, c, &c->locks[i]);
	for (int k = 0; k < c->nchains; k++)
		json_deadlock(out, c, &c->chains[k]);
	json_dump(out, c);
}

/* ---- the command ------------------------------------------------------------ */

void
usage_attach(void)
{
	printf("usage: lockhound attach [--format=text|json] [--stop-all] PID\n\n"
	       "Diagnoses a running process, with or without the lockhound runtime: stops\n"
	       "its threads for a moment (ptrace), reads their stacks and the locks they\n"
	       "wait for and their owners, lets them go exactly as they were, and reports\n"
	       "every deadlock (a cycle of threads waiting for each other, or a wait for a\n"
	       "lock whose holder has exited), then every thread.\n"
	       "  --format=FORMAT  text (default), or json (lockhound-report(5) records,\n"
	       "                   which 'lockhound explain' reads)\n"
	       "  --stop-all       also stop threads blocked in calls that a stop makes fail\n"
	       "                   with EINTR (epoll_wait, sigtimedwait, socket calls): full\n"
	       "                   stacks for them, at that cost\n\n"
	       "Exit status: 0 nothing wrong, 1 a deadlock or a lost lock found, 2 cannot\n"
	       "attach (the reason on standard error) or usage error.\n");
}

static void
free_ctx(struct ctx *c)
{
	for (size_t i = 0; i < c->nat; i++) {
		free(c->at[i].held);
		free(c->at[i].stack.frames);
	}
	free(c->at);
	for (size_t i = 0; i < c->nlocks; i++) {
		free(c->locks[i].label);
		free(c->locks[i].describe);
	}
	free(c->locks);
	free(c->nodes);
	free(c->mods);
	free(c->statics);
	runtime_free(&c->rt);
	sym_free(c->sym);
	target_free(&c->t);
}

static bool
parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > 0x3fffffff || s[0] == '+' || s[0] == ' ')
		return false;
	*pid = (pid_t)v;
	return true;
}

int
cmd_attach(int argc, char **argv)
{
	struct ctx *c;
	bool json = false, stop_all = false;
	const char *pidarg = NULL;
	char why[512], path[64];
	struct timeval tv;
	ssize_t n;
	pid_t pid, live;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--format=text") == 0) {
			json = false;
		} else if (strcmp(argv[i], "--format=json") == 0) {
			json = true;
		} else if (strncmp(argv[i], "--format=", 9) == 0) {
			error(0, "%s: the format is text or json", argv[i]);
			return EXIT_USAGE;
		} else if (strcmp(argv[i], "--stop-all") == 0) {
			stop_all = true;
		} else if (strcmp(argv[i], "--") == 0 && i + 1 < argc && !pidarg) {
			pidarg = argv[++i];
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			error(0, "%s: unknown option (see 'lockhound attach --help')", argv[i]);
			return EXIT_USAGE;
		} else if (!pidarg) {
			pidarg = argv[i];
		} else {
			error(0, "%s: one process at a time (see 'lockhound attach --help')",
			      argv[i]);
			return EXIT_USAGE;
		}
	}
	if (!pidarg) {
		error(0, "no process id (see 'lockhound attach --help')");
		return EXIT_USAGE;
	}
	if (!parse_pid(pidarg, &pid)) {
		error(0, "%s: not a process id", pidarg);
		return EXIT_USAGE;
	}
#if !defined(__x86_64__)
	error(pid, "lockhound attach reads x86_64 processes only");
	return EXIT_USAGE;
#endif
	if (!attach_precheck(pid, why, sizeof(why))) {
		error(pid, "%s", why);
		return EXIT_USAGE;
	}
	c = xcalloc(1, sizeof(*c));
	c->t.pid = pid;
	c->t.stop_all = stop_all;
	/* A main thread that called pthread_exit has no memory left: read the
	 * process's maps and memory through a live thread. */
	live = attach_live_tid(pid);
	c->t.mem_tid = live && live != pid ? live : 0;
	if (!live)
		live = pid;
	/* Its maps need the same permission as ptrace: say why, not "EACCES". */
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)live);
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC); /* access(2) would not ask */

		if (fd < 0 && (errno == EACCES || errno == EPERM)) {
			struct deny_facts f;

			attach_deny_facts(pid, EPERM, &f);
			error(pid, "%s", attach_denied_reason(&f, why, sizeof(why)));
			free(c);
			return EXIT_USAGE;
		}
		if (fd >= 0)
			close(fd);
	}
	c->sym = sym_open_pid(live, why, sizeof(why));
	if (!c->sym) {
		error(pid, "cannot read its modules: %s", why);
		free(c);
		return EXIT_USAGE;
	}
	c->dwfl = sym_dwfl(c->sym);
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)live);
	n = readlink(path, c->exe, sizeof(c->exe) - 1);
	c->exe[n > 0 ? n : 0] = '\0';
	gettimeofday(&tv, NULL);
	c->time_us = (uint64_t)tv.tv_sec * 1000000u + (uint64_t)tv.tv_usec;

	rc = snapshot(c);
	if (rc != 0) {
		free_ctx(c);
		free(c);
		return rc;
	}
	dwfl_getmodules(c->dwfl, collect_module, c, 0);
	analyze(c);
	find_deadlocks(c);
	name_locks(c);
	if (c->rt.present && !c->rt.used && c->rt.note[0])
		fprintf(stderr, "lockhound: attach: %d: note: %s\n", (int)pid, c->rt.note);
	{
		const char *const *msgs;
		size_t np = sym_problems(c->sym, &msgs);

		for (size_t i = 0; i < np; i++)
			fprintf(stderr, "lockhound: attach: %d: note: %s\n", (int)pid, msgs[i]);
	}
	if (json)
		json_report(stdout, c);
	else
		text_report(stdout, c);
	rc = c->nchains ? EXIT_FINDINGS : EXIT_CLEAN;
	if (fflush(stdout) != 0 || ferror(stdout)) {
		error(0, "standard output: %s", strerror(errno));
		rc = EXIT_USAGE;
	}
	free_ctx(c);
	free(c);
	return rc;
}
