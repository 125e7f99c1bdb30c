/*
 * Contention profiling: per lock (and per class), acquisitions, contended
 * acquisitions, wait and hold times, and the call sites of acquirers,
 * waiters and of the holders whose release ended a wait (where a delay is
 * caused, as Go's mutex profile charges it).
 *
 * Cost: a normal mutex's holder counts its acquisition in the lock's node,
 * at one of two own sites that its busy call sites keep (lh_lock_own,
 * acquire.c): a plain increment, exact because only the holder writes it,
 * on the line the acquisition reads anyway. A report adds those counts to
 * what it shows without taking them (only holders write them); a holder
 * that gives an own site to another call site hands the count in as below,
 * and a destroyed lock's are final. Any other acquisition increments a
 * counter in its thread's direct-mapped slot table, keyed by (lock address,
 * call site): no clock, no shared write (the slot also caches the lock's
 * node for lh_took). A slot evicted by another (lock, site) adds its count
 * to the lock's node, which keeps the counts of the lock's first
 * LH_LOCK_SITES call sites: no lock, and only lines the acquisition
 * touched (a program that takes thousands of locks in turn evicts at
 * nearly every acquisition). The nodes' counts move into the global table
 * when a report is written and when the lock is destroyed. A slot whose
 * site finds no room in the node goes to the thread's spill list, which is
 * added into the global table under stats_mu when it is full: stats_mu
 * once per LH_STAT_SPILL such evictions. Every slot, and the spill list,
 * is added at thread exit and process exit; a dump shows a running
 * thread's slots without taking them (struct shown_log).
 * A contended acquisition (its first try failed; wait.c read the clock)
 * counts its wait in the thread's wait slots (LH_WAIT_SLOTS, keyed the same
 * way, handed in as the others) and sets the lock's wait hint, so that the
 * release that ends the wait records its call site (a shared write only on
 * that path); the waiter credits that site with the wait. stats=hold reads
 * the clock at every acquire and release, and counts in slots only.
 *
 * Memory: 144 bytes of every lock node (the LH_LOCK_SITES and LH_LOCK_OWN
 * counts), and one entry per lock that was taken, made when a report or a
 * spill first needs it (about 140 bytes, and 72 per call site, allocated as
 * they come: most locks have one or two); when a lock is destroyed its
 * entry is folded into its class (the init call site) and freed, so a
 * program that churns locks keeps one entry per class.
 */
#include "config.h"

#include <string.h>
#include <unistd.h>

#include "acquire.h"

#define MAX_SITES 16 /* per lock; the rest are counted in "sites" only */
#define STATS_TABLE_MIN_NS 10000000ull /* 10 ms of waiting, for the exit table */

struct site {
	uintptr_t pc;
	uint64_t acq;
	uint64_t waits, wait_ns;     /* waits of acquisitions made here */
	uint64_t caused, caused_ns;  /* waits ended by a release made here */
	uint64_t holds, hold_ns;     /* holds that began here (stats=hold) */
};

struct lstats {
	uint64_t key;	     /* lock id, or class key for a class entry */
	struct lh_gnode who; /* naming: a copy of the lock's identity */
	uintptr_t cls;
	bool is_class;
	uint64_t locks;	     /* instances folded in (class entries) */
	uint64_t acq, contended, wait_ns, wait_max;
	uint64_t holds, hold_ns, hold_max;
	uint32_t nsites, more_sites;
	uint32_t cap;	     /* sites allocated: 2, 4, 8, then MAX_SITES */
	struct site *sites;
	struct lstats *next; /* hash chain */
	uint32_t epoch;	     /* the process's epoch when made (see below) */
};

#define NBUCKETS 4096

static lh_mutex_t stats_mu = LH_MUTEX_INIT;
/*
 * A lock's node points at its entry (lk->stats), so that handing a slot in
 * needs no hash lookup. The pointer never dangles: an entry is freed only
 * when its lock retires, which clears it, and a node gets a new identity
 * with it cleared. A fork child empties the tables without freeing: the
 * entries the nodes still point at are the parent's, told apart by epoch.
 */
static uint32_t epoch = 1;
static struct lstats *locks_tab[NBUCKETS], *class_tab[NBUCKETS];
static _Atomic int oom_warned;

static uintptr_t
class_key(const struct lh_lock *lk)
{
	return lk->from_init ? lk->init_pc : atomic_load_explicit(&lk->addr, memory_order_relaxed);
}

static size_t
bucket(uint64_t key)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 52) & (NBUCKETS - 1);
}

static struct lstats *
find(struct lstats **tab, uint64_t key)
{
	for (struct lstats *e = tab[bucket(key)]; e; e = e->next)
		if (e->key == key)
			return e;
	return NULL;
}

static struct lstats *
make(struct lstats **tab, uint64_t key)
{
	struct lstats *e = lh_alloc(sizeof(*e));

	if (!e) {
		lh_warn_once(&oom_warned, "out of memory for lock statistics; some are lost");
		return NULL;
	}
	e->key = key;
	e->next = tab[bucket(key)];
	tab[bucket(key)] = e;
	return e;
}

/* The entry of a live lock (made if need be); NULL if lk is no longer the
 * lock id (destroyed: its node is free or reused). Caller holds stats_mu. */
static struct lstats *
entry_of(struct lh_lock *lk, uint64_t id)
{
	struct lstats *e = lk->stats;

	if (e && e->key == id && !e->is_class && e->epoch == epoch)
		return e;
	if ((e = find(locks_tab, id)) != NULL) {
		if (lk->id == id)
			lk->stats = e;
		return e;
	}
	if (lk->id != id || !atomic_load_explicit(&lk->addr, memory_order_relaxed))
		return NULL;
	if (!(e = make(locks_tab, id)))
		return NULL;
	e->epoch = epoch;
	lk->stats = e;
	e->who.id = id;
	e->who.addr = atomic_load_explicit(&lk->addr, memory_order_relaxed);
	e->who.init_pc = lk->init_pc;
	e->who.type = lk->type;
	e->who.kind = lk->kind;
	e->who.from_init = lk->from_init;
	e->who.name = lk->name;
	e->cls = class_key(lk);
	e->locks = 1;
	return e;
}

/* The entry of a class; caller holds stats_mu. */
static struct lstats *
class_of(uintptr_t cls, const struct lh_gnode *who)
{
	struct lstats *e = find(class_tab, cls);

	if (e || !(e = make(class_tab, cls)))
		return e;
	e->who = *who;
	e->who.label = NULL;
	e->cls = cls;
	e->is_class = true;
	return e;
}

/* The site record of pc in e, made if need be; NULL when e has MAX_SITES
 * (counted in more_sites, unless quiet: a look that is not a new record). */
static struct site *
site_lookup(struct lstats *e, uintptr_t pc, bool quiet)
{
	for (uint32_t i = 0; i < e->nsites; i++)
		if (e->sites[i].pc == pc)
			return &e->sites[i];
	if (e->nsites == e->cap) {
		uint32_t cap = e->cap ? e->cap * 2 : 2;
		struct site *n;

		if (e->cap == MAX_SITES) {
			e->more_sites += !quiet;
			return NULL;
		}
		n = lh_realloc(e->sites, e->cap * sizeof(*n), cap * sizeof(*n));
		if (!n) {
			lh_warn_once(&oom_warned,
			             "out of memory for lock statistics; some are lost");
			e->more_sites++;
			return NULL;
		}
		e->sites = n;
		e->cap = cap;
	}
	memset(&e->sites[e->nsites], 0, sizeof(e->sites[0]));
	e->sites[e->nsites].pc = pc;
	return &e->sites[e->nsites++];
}

static struct site *
site_of(struct lstats *e, uintptr_t pc)
{
	return site_lookup(e, pc, false);
}

/* Where a thread's counts of lock lk (as id, of class cls) go: the lock's
 * entry (made if need be), else, the lock being gone, its class's. Caller
 * holds stats_mu. */
static struct lstats *
entry_or_class(struct lh_lock *lk, uint64_t id, uintptr_t cls)
{
	struct lstats *e = entry_of(lk, id);

	return e ? e : find(class_tab, cls);
}

/*
 * How counts go into the table: handed in for good, or shown by one report
 * and taken out after it (struct shown_log). A shown count makes no new
 * "more sites" tally, and taking it out leaves a maximum as it is: the
 * same count raises it again when it is handed in.
 */
enum tally { HAND_IN, SHOW, UNSHOW };

static void
tally(uint64_t *into, uint64_t n, enum tally how)
{
	*into = how == UNSHOW ? *into - n : *into + n;
}

/* Adds a thread's slot into the table (false: it had nowhere to go);
 * caller holds stats_mu. */
static bool
add_slot(const struct lh_stat_slot *s, uintptr_t cls, enum tally how)
{
	struct lstats *e = entry_or_class(s->lock, s->id, cls);
	struct site *st;

	if (!e)
		return false;
	tally(&e->acq, s->acq, how);
	tally(&e->holds, s->holds, how);
	tally(&e->hold_ns, s->hold_ns, how);
	if (how != UNSHOW && s->hold_max > e->hold_max)
		e->hold_max = s->hold_max;
	if ((st = site_lookup(e, s->site, how != HAND_IN)) != NULL) {
		tally(&st->acq, s->acq, how);
		tally(&st->holds, s->holds, how);
		tally(&st->hold_ns, s->hold_ns, how);
	}
	return true;
}

/*
 * Counts a report shows but must leave where they are: the slots of a
 * thread that is running (only it may empty them: an increment that
 * straddled the reset would store the old count back, to be handed in a
 * second time) and the counts holders keep in normal mutexes' nodes (only
 * holders write them). The report adds them to the table (SHOW), writes,
 * and takes them out again (UNSHOW); the log keeps what it added. Past
 * SHOWN_MAX counts of running threads (about 6 MiB of log), or if the log
 * cannot grow, the rest of those is left out of that report (said once): a
 * dump of a process with thousands of busy threads must not need much
 * memory. The holders' counts are not capped: there are at most two a
 * normal mutex (LH_LOCK_OWN), 80 bytes of log each for the time of the
 * report, where the lock's node takes 256 for good; leaving them out would
 * leave locks out of the report at exit of a program with more than 32,768
 * mutexes, whose counts are nowhere else.
 */
#define SHOWN_MAX 65536
struct shown {
	bool wait;
	union {
		struct lh_stat_spilled s; /* a slot, and its lock's class */
		struct lh_wait_slot w;
	};
};

struct shown_log {
	struct shown *p;
	size_t n, cap;
	size_t slots; /* of n: running threads' counts */
};

static bool add_wait_slot(const struct lh_wait_slot *w, enum tally how);

static _Atomic int shown_warned;

/* A free entry at the end of log, or NULL; capped: for a running thread's
 * count (SHOWN_MAX of them). */
static struct shown *
shown_next(struct shown_log *log, bool capped)
{
	if (capped && log->slots == SHOWN_MAX) {
		lh_warn_once(&shown_warned, "a dump's contention records leave out some counts "
					    "that running threads keep (too many)");
		return NULL;
	}
	if (log->n == log->cap) {
		size_t cap = log->cap ? log->cap * 2 : 256;
		struct shown *p = lh_realloc(log->p, log->cap * sizeof(*p), cap * sizeof(*p));

		if (!p) {
			lh_warn_once(&oom_warned, "out of memory for lock statistics; some are lost");
			return NULL;
		}
		log->p = p;
		log->cap = cap;
	}
	return &log->p[log->n];
}

/* Shows slot s (of class cls) in this report, a running thread's (capped)
 * or a holders' count; caller holds stats_mu. */
static void
show_slot(struct shown_log *log, const struct lh_stat_slot *s, uintptr_t cls, bool capped)
{
	struct shown *r = shown_next(log, capped);

	if (!r || !add_slot(s, cls, SHOW))
		return;
	r->wait = false;
	r->s.s = *s;
	r->s.cls = cls;
	log->n++;
	log->slots += capped;
}

static void
show_wait_slot(struct shown_log *log, const struct lh_wait_slot *w)
{
	struct shown *r = shown_next(log, true);

	if (!r || !add_wait_slot(w, SHOW))
		return;
	r->wait = true;
	r->w = *w;
	log->n++;
	log->slots++;
}

/* After the report: what it showed comes out again, and the log goes. A
 * lock destroyed meanwhile had its entry, shown counts and all, folded
 * into its class, which entry_or_class() finds. Caller holds stats_mu. */
static void
shown_undo(struct shown_log *log)
{
	for (size_t i = 0; i < log->n; i++) {
		const struct shown *r = &log->p[i];

		if (r->wait)
			add_wait_slot(&r->w, UNSHOW);
		else
			add_slot(&r->s.s, r->s.cls, UNSHOW);
	}
	if (log->p)
		lh_free(log->p, log->cap * sizeof(*log->p));
	memset(log, 0, sizeof(*log));
}

/* Adds t's spill list into the table; caller holds stats_mu. Only t
 * itself appends to the list, after writing the entry. */
static void
add_spill_locked(struct lh_thread *t)
{
	uint32_t n = atomic_load_explicit(&t->nspill, memory_order_acquire);

	if (n > LH_STAT_SPILL)
		n = LH_STAT_SPILL;
	/* The entries are all over memory: ask for them together, a level at a
	 * time (nodes, entries, call sites), so that the misses overlap. */
	for (uint32_t i = 0; i < n; i++)
		__builtin_prefetch(t->spill[i].s.lock);
	for (uint32_t i = 0; i < n; i++)
		__builtin_prefetch(t->spill[i].s.lock->stats);
	for (uint32_t i = 0; i < n; i++) {
		const struct lstats *e = t->spill[i].s.lock->stats;

		if (e && e->sites) { /* most locks have one or two sites: 112 bytes */
			__builtin_prefetch(e->sites);
			__builtin_prefetch((const char *)e->sites + 64);
		}
	}
	for (uint32_t i = 0; i < n; i++)
		add_slot(&t->spill[i].s, t->spill[i].cls, HAND_IN);
	atomic_store_explicit(&t->nspill, 0, memory_order_relaxed);
}

/* ---- acquisitions kept in the lock's node --------------------------------- */

#define TAG_SHIFT 44
#define COUNT_MASK ((1ull << TAG_SHIFT) - 1)

/* The tag of a node's words while it is lock id; never 0, a retired node's. */
static uint64_t
tag_of(uint64_t id)
{
	return (id % ((1ull << (64 - TAG_SHIFT)) - 1) + 1) << TAG_SHIFT;
}

/* A node takes a new identity (locktab.c, before it is published): no
 * counts. Its call sites stay free or are claimed afresh. */
void
lh_stats_node_init(struct lh_lock *lk)
{
	for (int k = 0; k < LH_LOCK_SITES; k++) {
		atomic_store_explicit(&lk->sites[k].word, tag_of(lk->id), memory_order_relaxed);
		atomic_store_explicit(&lk->sites[k].pc, 0, memory_order_relaxed);
	}
	for (int k = 0; k < LH_LOCK_OWN; k++) {
		atomic_store_explicit(&lk->own[k].pc, 0, memory_order_relaxed);
		atomic_store_explicit(&lk->own[k].n, 0, memory_order_relaxed);
		atomic_store_explicit(&lk->own_mark[k], 0, memory_order_relaxed);
	}
}

/*
 * Hands an evicted slot's acquisitions to its lock's node, without stats_mu:
 * the node's lines are warm (the acquisition that claimed the slot touched
 * them), where the lock's entry and its call sites are not. False when the
 * node has no site left for it, or no longer is that lock (a stale tag): the
 * caller spills the slot as before. A thread that loses a race for a free
 * site to a retired identity leaves a claimed site with no count, which the
 * report skips.
 */
static bool
node_add(const struct lh_stat_slot *s)
{
	struct lh_lock *lk = s->lock;
	uint64_t tag = tag_of(s->id);

	if (s->holds || lk->id != s->id)
		return false;
	for (int k = 0; k < LH_LOCK_SITES; k++) {
		struct lh_lock_site *ls = &lk->sites[k];
		uintptr_t pc = atomic_load_explicit(&ls->pc, memory_order_relaxed);
		uint64_t w;

		if (pc == 0 && atomic_compare_exchange_strong_explicit(
				       &ls->pc, &pc, s->site, memory_order_relaxed, memory_order_relaxed))
			pc = s->site;
		if (pc != s->site)
			continue;
		w = atomic_load_explicit(&ls->word, memory_order_relaxed);
		do {
			if ((w & ~COUNT_MASK) != tag || COUNT_MASK - (w & COUNT_MASK) < s->acq)
				return false;
		} while (!atomic_compare_exchange_weak_explicit(&ls->word, &w, w + s->acq,
								memory_order_relaxed,
								memory_order_relaxed));
		return true;
	}
	return false;
}

/*
 * The counts lk's holders keep in its node (lh_lock_own): handed in for
 * good when the lock is destroyed (log NULL: nobody holds it), else shown
 * in the report whose log it is (only holders write them). Caller holds
 * stats_mu. A holder that moves an own site to another call site first
 * clears it, then hands its count in (lh_stat_hand_in), and a report
 * collects the handed-in counts before it reads these (a fence apart), so
 * it counts an acquisition at most once.
 */
static void
own_collect(struct lh_lock *lk, struct shown_log *log)
{
	for (int k = 0; k < LH_LOCK_OWN; k++) {
		struct lh_stat_slot s = {
			.site = atomic_load_explicit(&lk->own[k].pc, memory_order_acquire),
			.acq = atomic_load_explicit(&lk->own[k].n, memory_order_relaxed),
			.lock = lk,
			.id = lk->id,
		};

		if (!s.site || !s.acq)
			continue;
		if (log) {
			show_slot(log, &s, class_key(lk), false);
			continue;
		}
		add_slot(&s, class_key(lk), HAND_IN);
		atomic_store_explicit(&lk->own[k].n, 0, memory_order_relaxed);
	}
}

/*
 * Moves the counts in lk's node into its entry; caller holds stats_mu, and
 * lk keeps its identity meanwhile (the table mutex is held, or lk is being
 * retired). With retire, the words get tag 0: later adds fail and spill.
 */
static void
node_collect(struct lh_lock *lk, bool retire)
{
	uint64_t id = lk->id, tag = tag_of(id), want = retire ? 0 : tag;
	struct lstats *e = NULL;

	for (int k = 0; k < LH_LOCK_SITES; k++) {
		struct lh_lock_site *ls = &lk->sites[k];
		uint64_t w = atomic_load_explicit(&ls->word, memory_order_relaxed), n = 0;
		struct site *st;

		while ((w & ~COUNT_MASK) == tag && w != want) {
			if (atomic_compare_exchange_weak_explicit(&ls->word, &w, want,
								  memory_order_relaxed,
								  memory_order_relaxed)) {
				n = w & COUNT_MASK;
				break;
			}
		}
		if (!n || (!e && !(e = entry_of(lk, id))))
			continue;
		e->acq += n;
		if ((st = site_of(e, atomic_load_explicit(&ls->pc, memory_order_relaxed))) != NULL)
			st->acq += n;
	}
	if (retire) /* nobody holds it: the own counts are final */
		own_collect(lk, NULL);
}

/* For a report (arg: its shown_log): the handed-in counts for good, then
 * the holders' own, shown. */
static void
collect_each(struct lh_lock *lk, void *arg)
{
	node_collect(lk, false);
	atomic_thread_fence(memory_order_seq_cst);
	own_collect(lk, arg);
}

/* The counts are the parent's: the child starts from zero. */
static void
zero_each(struct lh_lock *lk, void *arg)
{
	(void)arg;
	for (int k = 0; k < LH_LOCK_SITES; k++)
		if (atomic_load_explicit(&lk->sites[k].word, memory_order_relaxed))
			atomic_store_explicit(&lk->sites[k].word, tag_of(lk->id),
					      memory_order_relaxed);
	for (int k = 0; k < LH_LOCK_OWN; k++)
		atomic_store_explicit(&lk->own[k].n, 0, memory_order_relaxed);
}

/* s (of class cls) goes to t's spill list, which is added into the table
 * when full. */
static void
spill(struct lh_thread *t, const struct lh_stat_slot *s, uintptr_t cls)
{
	uint32_t n = atomic_load_explicit(&t->nspill, memory_order_relaxed);

	if (n == LH_STAT_SPILL) {
		LH_BUSY_BEGIN(t);
		lh_mutex_lock(&stats_mu);
		add_spill_locked(t);
		lh_mutex_unlock(&stats_mu);
		LH_BUSY_END(t);
		n = 0;
	}
	t->spill[n].s = *s;
	t->spill[n].cls = cls;
	atomic_store_explicit(&t->nspill, n + 1, memory_order_release);
}

/* The slot belongs to another (lock, site): hand it in and take it over. */
void
lh_stat_miss(struct lh_thread *t, struct lh_stat_slot *s, struct lh_lock *lk, uint64_t id,
	     uintptr_t addr, uintptr_t site)
{
	if (lh_opt.stats != LH_STATS_OFF) {
		/* The lines this slot's own eviction will add to. */
		__builtin_prefetch(&lk->sites[0], 1);
		__builtin_prefetch(&lk->sites[LH_LOCK_SITES - 1], 1);
		if (s->lock && s->acq + s->holds && !node_add(s))
			spill(t, s, t->stats_cls[s - t->stats]);
	}
	memset(s, 0, sizeof(*s));
	s->addr = lh_stat_key(addr);
	s->lock = lk;
	s->id = id;
	s->site = site;
	s->acq = 1;
	t->stats_cls[s - t->stats] = class_key(lk);
}

/* n acquisitions of lk (as id) at pc, counted in one of the node's own
 * sites, which its holder t gives to another call site now. */
void
lh_stat_hand_in(struct lh_thread *t, struct lh_lock *lk, uint64_t id, uintptr_t pc, uint64_t n)
{
	struct lh_stat_slot s = {
		.addr = atomic_load_explicit(&lk->addr, memory_order_relaxed),
		.site = pc,
		.lock = lk,
		.id = id,
		.acq = n,
	};

	if (lh_opt.stats != LH_STATS_OFF && !node_add(&s))
		spill(t, &s, class_key(lk));
}

/* Adds a thread's wait slot into the table (false: nowhere to go); caller
 * holds stats_mu. */
static bool
add_wait_slot(const struct lh_wait_slot *w, enum tally how)
{
	struct lstats *e = entry_or_class(w->lock, w->id, w->cls);
	struct site *st;

	if (!e)
		return false;
	tally(&e->contended, w->waits, how);
	tally(&e->wait_ns, w->wait_ns, how);
	if (how != UNSHOW && w->wait_max > e->wait_max)
		e->wait_max = w->wait_max;
	if ((st = site_lookup(e, w->site, how != HAND_IN)) != NULL) {
		tally(&st->waits, w->waits, how);
		tally(&st->wait_ns, w->wait_ns, how);
		tally(&st->caused, w->caused, how);
		tally(&st->caused_ns, w->caused_ns, how);
	}
	return true;
}

static void
wait_slot_clear(struct lh_wait_slot *w)
{
	w->waits = w->wait_ns = w->wait_max = w->caused = w->caused_ns = 0;
}

/* t's wait slot of (lk, site); the one it replaces is handed in (and
 * emptied under stats_mu, so that a dump cannot hand it in again). */
static struct lh_wait_slot *
wait_slot(struct lh_thread *t, struct lh_lock *lk, uint64_t id, uintptr_t addr, uintptr_t site)
{
	struct lh_wait_slot *w =
		&t->waits[((uint32_t)(addr ^ site) * 0x9e3779b1u) >> 28 & (LH_WAIT_SLOTS - 1)];

	_Static_assert(LH_WAIT_SLOTS <= 16, "the index above takes 4 bits");
	if (w->addr == addr && w->site == site && w->lock == lk && w->id == id)
		return w;
	if (w->lock && (w->waits || w->caused)) {
		lh_mutex_lock(&stats_mu);
		add_wait_slot(w, HAND_IN);
		wait_slot_clear(w);
		lh_mutex_unlock(&stats_mu);
	}
	w->lock = NULL;
	w->addr = addr;
	w->site = site;
	w->id = id;
	w->cls = class_key(lk);
	w->lock = lk;
	return w;
}

/*
 * A contended acquisition of lk at site by t (the calling thread, busy)
 * waited wait_ns (wait.c). Counted in t's wait slots, where the release that
 * ended it is credited too: no lock, unless a slot of another lock or site
 * must be handed in first. A program's contended locks are few.
 */
void
lh_stat_wait(struct lh_thread *t, struct lh_lock *lk, uint64_t id, uintptr_t site,
	     uint64_t wait_ns)
{
	uintptr_t by = atomic_exchange_explicit(&lk->unlock_pc, 0, memory_order_relaxed);
	uintptr_t addr = atomic_load_explicit(&lk->addr, memory_order_relaxed);
	struct lh_wait_slot *w = wait_slot(t, lk, id, addr, site);

	w->waits++;
	w->wait_ns += wait_ns;
	if (wait_ns > w->wait_max)
		w->wait_max = wait_ns;
	if (by) {
		w = wait_slot(t, lk, id, addr, by);
		w->caused++;
		w->caused_ns += wait_ns;
	}
}

/*
 * h is being released at pc: say where, if a thread waits for it; with
 * stats=hold, count how long it was held. Off the hot path: the caller
 * checked the hint or the mode.
 */
void
lh_stat_released(struct lh_thread *t, struct lh_held *h, uintptr_t pc)
{
	struct lh_lock *lk = h->lock;
	LH_BUSY_BEGIN(t);

	if (atomic_load_explicit(&lk->wait_hint, memory_order_relaxed) & LH_HINT_WAITER) {
		atomic_store_explicit(&lk->wait_hint, lh_hint_idle(), memory_order_relaxed);
		atomic_store_explicit(&lk->unlock_pc, pc, memory_order_relaxed);
	}
	if (lh_opt.stats == LH_STATS_HOLD && h->since_ns) {
		struct lh_stat_slot *s = &t->stats[lh_stat_index(h->addr, h->pc)];
		uint64_t held = lh_now_ns() - h->since_ns;

		if (s->addr != lh_stat_key(h->addr) || s->site != h->pc || s->lock != lk ||
		    s->id != h->id) {
			lh_stat_miss(t, s, lk, h->id, h->addr, h->pc);
			s->acq = 0; /* counted when it was taken */
		}
		s->holds++;
		s->hold_ns += held;
		if (held > s->hold_max)
			s->hold_max = held;
	}
	LH_BUSY_END(t);
}

/*
 * Hands in every slot of t, and with spill its spill list: for t itself
 * (thread exit, a report t writes) or at process exit, when nothing is
 * reported later. With a log (another thread, which may be running: a
 * dump), the slots are shown in that report and left as they are (see
 * struct shown_log), and the spill list too, which it may be filling;
 * the racy reads may miss its latest increments. Caller holds stats_mu.
 */
static void
flush_locked(struct lh_thread *t, bool spill, struct shown_log *log)
{
	if (spill)
		add_spill_locked(t);
	for (int i = 0; i < LH_STAT_SLOTS; i++) {
		struct lh_stat_slot *s = &t->stats[i];

		if (!s->lock || !(s->acq + s->holds))
			continue;
		if (log) {
			show_slot(log, s, t->stats_cls[i], true);
			continue;
		}
		add_slot(s, t->stats_cls[i], HAND_IN);
		s->acq = s->holds = s->hold_ns = s->hold_max = 0;
	}
	for (int i = 0; i < LH_WAIT_SLOTS; i++) {
		struct lh_wait_slot *w = &t->waits[i];

		if (!w->lock || !(w->waits || w->caused))
			continue;
		if (log) {
			show_wait_slot(log, w);
			continue;
		}
		add_wait_slot(w, HAND_IN);
		wait_slot_clear(w);
	}
}

/* Hands in every slot of t, the calling thread, and its spill list (at
 * thread exit). */
void
lh_stats_flush(struct lh_thread *t)
{
	if (lh_opt.stats == LH_STATS_OFF)
		return; /* the slots only cache lock nodes (lh_took) */
	lh_mutex_lock(&stats_mu);
	flush_locked(t, true, NULL);
	lh_mutex_unlock(&stats_mu);
}

static void
fold(struct lstats *into, const struct lstats *e)
{
	into->locks += e->locks;
	into->acq += e->acq;
	into->contended += e->contended;
	into->wait_ns += e->wait_ns;
	if (e->wait_max > into->wait_max)
		into->wait_max = e->wait_max;
	into->holds += e->holds;
	into->hold_ns += e->hold_ns;
	if (e->hold_max > into->hold_max)
		into->hold_max = e->hold_max;
	into->more_sites += e->more_sites;
	for (uint32_t i = 0; i < e->nsites; i++) {
		struct site *st = site_of(into, e->sites[i].pc);

		if (!st)
			continue;
		st->acq += e->sites[i].acq;
		st->waits += e->sites[i].waits;
		st->wait_ns += e->sites[i].wait_ns;
		st->caused += e->sites[i].caused;
		st->caused_ns += e->sites[i].caused_ns;
		st->holds += e->sites[i].holds;
		st->hold_ns += e->sites[i].hold_ns;
	}
}

/* The lock is destroyed: its entry joins its class and is freed. */
void
lh_stats_retire(struct lh_lock *lk)
{
	struct lstats **pp, *e, *c;

	lh_mutex_lock(&stats_mu);
	node_collect(lk, true);
	/*
	 * Its acquisitions may still sit in threads' slots, handed in later by
	 * class (add_slot): a lock made by an init call gets its class entry
	 * now, else they are lost. XXX: a lock first seen in use (its class is
	 * its address) keeps them only if it has an entry already, so that
	 * churned heap locks cannot grow the class table.
	 */
	if (lk->from_init && !find(locks_tab, lk->id))
		entry_of(lk, lk->id);
	lk->stats = NULL;
	for (pp = &locks_tab[bucket(lk->id)]; (e = *pp) != NULL; pp = &e->next) {
		if (e->key != lk->id)
			continue;
		*pp = e->next;
		if ((c = class_of(e->cls, &e->who)) != NULL)
			fold(c, e);
		if (e->sites)
			lh_free(e->sites, e->cap * sizeof(*e->sites));
		lh_free(e, sizeof(*e));
		break;
	}
	lh_mutex_unlock(&stats_mu);
}

/* ---- reporting ------------------------------------------------------------ */

static void
json_site_list(struct lh_buf *j, const char *field, const struct lstats *e, int role)
{
	const struct site *order[MAX_SITES];
	int n = 0;

	for (uint32_t i = 0; i < e->nsites; i++) {
		const struct site *s = &e->sites[i];
		uint64_t v = role == 0 ? s->acq : role == 1 ? s->wait_ns : s->caused_ns;

		if (!v)
			continue;
		order[n++] = s;
		for (int k = n - 1; k > 0; k--) { /* insertion sort, worst first */
			uint64_t a = role == 0 ? order[k]->acq
				   : role == 1 ? order[k]->wait_ns
					       : order[k]->caused_ns;
			uint64_t b = role == 0 ? order[k - 1]->acq
				   : role == 1 ? order[k - 1]->wait_ns
					       : order[k - 1]->caused_ns;

			if (a <= b)
				break;
			order[k] = order[k - 1];
			order[k - 1] = s;
		}
	}
	lh_buf_puts(j, ",\"");
	lh_buf_puts(j, field);
	lh_buf_puts(j, "\":[");
	for (int i = 0; i < n && i < 5; i++) {
		uintptr_t pc = order[i]->pc;

		if (i)
			lh_buf_putc(j, ',');
		lh_buf_puts(j, "{\"frame\":");
		lh_json_stack(j, lh_stack_intern(&pc, 1, 0));
		lh_buf_puts(j, role == 0 ? ",\"acquisitions\":" : ",\"count\":");
		lh_buf_put_u64(j, role == 0 ? order[i]->acq
			       : role == 1 ? order[i]->waits
					   : order[i]->caused);
		if (role) {
			lh_buf_puts(j, ",\"wait_ns\":");
			lh_buf_put_u64(j, role == 1 ? order[i]->wait_ns : order[i]->caused_ns);
		}
		lh_buf_putc(j, '}');
	}
	lh_buf_putc(j, ']');
}

static void
json_entry(struct lh_buf *j, struct lstats *e)
{
	lh_report_lock_record(j, &e->who);
	lh_json_begin(j, "contention", 0);
	lh_buf_puts(j, ",\"scope\":\"");
	lh_buf_puts(j, e->is_class ? "class" : "lock");
	lh_buf_putc(j, '"');
	if (!e->is_class) {
		lh_buf_puts(j, ",\"lock\":");
		lh_buf_put_u64(j, e->who.id);
	} else {
		lh_buf_puts(j, ",\"locks\":");
		lh_buf_put_u64(j, e->locks);
		lh_buf_puts(j, ",\"example_lock\":");
		lh_buf_put_u64(j, e->who.id);
	}
	lh_buf_puts(j, ",\"name\":");
	lh_buf_put_json_str(j, lh_report_label(&e->who));
	lh_buf_puts(j, ",\"acquisitions\":");
	lh_buf_put_u64(j, e->acq);
	lh_buf_puts(j, ",\"contended\":");
	lh_buf_put_u64(j, e->contended);
	lh_buf_puts(j, ",\"wait_ns\":");
	lh_buf_put_u64(j, e->wait_ns);
	lh_buf_puts(j, ",\"wait_max_ns\":");
	lh_buf_put_u64(j, e->wait_max);
	lh_buf_puts(j, ",\"wait_mean_ns\":");
	lh_buf_put_u64(j, e->contended ? e->wait_ns / e->contended : 0);
	if (lh_opt.stats == LH_STATS_HOLD) {
		lh_buf_puts(j, ",\"holds\":");
		lh_buf_put_u64(j, e->holds);
		lh_buf_puts(j, ",\"hold_ns\":");
		lh_buf_put_u64(j, e->hold_ns);
		lh_buf_puts(j, ",\"hold_max_ns\":");
		lh_buf_put_u64(j, e->hold_max);
		lh_buf_puts(j, ",\"hold_mean_ns\":");
		lh_buf_put_u64(j, e->holds ? e->hold_ns / e->holds : 0);
	}
	lh_buf_puts(j, ",\"sites\":");
	lh_buf_put_u64(j, e->nsites + e->more_sites);
	json_site_list(j, "acquire_sites", e, 0);
	json_site_list(j, "wait_sites", e, 1);
	json_site_list(j, "holder_sites", e, 2);
	lh_buf_puts(j, "}\n");
}

/* Milliseconds with one decimal, or seconds with two. */
static void
text_duration(struct lh_buf *b, uint64_t ns)
{
	uint64_t tenths = ns / 100000;

	if (ns >= 10000000000ull) {
		lh_buf_put_u64(b, ns / 1000000000);
		lh_buf_puts(b, " s");
		return;
	}
	lh_buf_put_u64(b, tenths / 10);
	lh_buf_putc(b, '.');
	lh_buf_put_u64(b, tenths % 10);
	lh_buf_puts(b, " ms");
}

static void
text_column(struct lh_buf *b, const char *s, size_t width)
{
	size_t n = strlen(s);

	lh_buf_put_pad(b, width, n);
	lh_buf_puts(b, s);
}

static void
text_number(struct lh_buf *b, uint64_t v, size_t width)
{
	char tmp[24];

	lh_fmt_u64(tmp, v);
	text_column(b, tmp, width);
}

/*
 * Writes a contention record per lock (and per class with several locks or
 * destroyed ones) to the log, and at exit, when any lock was waited for, a
 * table of the five worst on stderr. Flushes every thread's slots first.
 */
void
lh_stats_report(bool at_exit)
{
	struct lstats *worst[5] = {NULL};
	struct shown_log log = {0};
	struct lh_buf t, j;
	size_t nwaited = 0;

	if (lh_opt.stats == LH_STATS_OFF)
		return;
	lh_threads_lock();
	lh_mutex_lock(&stats_mu);
	for (struct lh_thread *o = lh_threads_first(); o; o = o->next) {
		bool own = at_exit || o == lh_self;

		flush_locked(o, own, own ? NULL : &log);
	}
	lh_mutex_unlock(&stats_mu);
	lh_threads_unlock();

	lh_buf_init(&t);
	lh_buf_init(&j);
	lh_report_begin();
	lh_mutex_lock(&stats_mu);
	lh_locktab_each(collect_each, &log);
	for (int pass = 0; pass < 2; pass++) {
		struct lstats **tab = pass ? class_tab : locks_tab;

		for (size_t b = 0; b < NBUCKETS; b++) {
			for (struct lstats *e = tab[b]; e; e = e->next) {
				if (!e->acq && !e->contended)
					continue;
				if (lh_report_logging())
					json_entry(&j, e);
				if (!e->contended || (pass && e->locks < 2))
					continue;
				nwaited++;
				for (int k = 0; k < 5; k++) {
					if (!worst[k] || e->wait_ns > worst[k]->wait_ns) {
						memmove(&worst[k + 1], &worst[k],
							(size_t)(4 - k) * sizeof(worst[0]));
						worst[k] = e;
						break;
					}
				}
			}
		}
	}
	/* The table is for contention worth a look: the worst lock waited for
	 * at least STATS_TABLE_MIN_NS in all. The log has everything. */
	if (at_exit && nwaited && worst[0]->wait_ns >= STATS_TABLE_MIN_NS) {
		lh_buf_puts(&t, "lockhound: contention: ");
		lh_buf_put_u64(&t, (uint64_t)nwaited);
		lh_buf_puts(&t, nwaited == 1 ? " lock was" : " locks were");
		lh_buf_puts(&t, " waited for (pid ");
		lh_buf_put_u64(&t, (uint64_t)getpid());
		lh_buf_puts(&t, "); worst first:\n  lock                          taken  waited  "
				"   total wait      max wait\n");
		for (int k = 0; k < 5 && worst[k]; k++) {
			struct lstats *e = worst[k];
			struct lh_buf d;
			const char *name = lh_report_label(&e->who);

			lh_buf_puts(&t, "  ");
			lh_buf_puts(&t, name);
			if (e->is_class)
				lh_buf_puts(&t, " (class)");
			lh_buf_put_pad(&t, 26, strlen(name) + (e->is_class ? 8 : 0));
			text_number(&t, e->acq, 9);
			text_number(&t, e->contended, 8);
			lh_buf_init(&d);
			text_duration(&d, e->wait_ns);
			text_column(&t, d.oom ? "?" : d.p, 15);
			lh_buf_reset(&d);
			text_duration(&d, e->wait_max);
			text_column(&t, d.oom ? "?" : d.p, 14);
			lh_buf_release(&d);
			lh_buf_putc(&t, '\n');
		}
		lh_buf_puts(&t, "  (lockhound stats LOG for every lock and the call sites)\n");
	}
	shown_undo(&log);
	lh_mutex_unlock(&stats_mu);
	lh_report_emit(&t, &j);
	lh_report_end();
	lh_buf_release(&t);
	lh_buf_release(&j);
}

void
lh_stats_atfork_prepare(void)
{
	lh_mutex_lock(&stats_mu);
}

void
lh_stats_atfork_parent(void)
{
	lh_mutex_unlock(&stats_mu);
}

/* The child starts its own statistics. */
void
lh_stats_atfork_child(void)
{
	struct lh_thread *t = lh_self;

	lh_mutex_reset(&stats_mu);
	epoch++; /* the nodes' pointers name the parent's entries */
	memset(locks_tab, 0, sizeof(locks_tab));
	memset(class_tab, 0, sizeof(class_tab));
	lh_locktab_each(zero_each, NULL);
	if (t) { /* the forking thread's counts are the parent's */
		memset(t->stats, 0, sizeof(t->stats));
		memset(t->waits, 0, sizeof(t->waits));
		atomic_store_explicit(&t->nspill, 0, memory_order_relaxed);
	}
}
