/*
 * Hangs found while they happen: a wait-for cycle among threads blocked on
 * locks right now (or a chain ending at a lock whose holder has exited), an
 * acquisition waiting past timeout_ms, a wait for a lock lost in a fork.
 *
 * Who waits for what comes from wait.c (each thread's own record); who holds
 * a lock from glibc's owner fields and from the threads' held stacks (readers
 * and spinlocks have no owner field). The check runs when a thread starts
 * waiting (the last thread to block closes a cycle and finds it at once) and
 * again at each slice of a long wait, so that a cycle missed in a race is
 * found within a slice. A candidate cycle is collected twice: a member whose
 * wait stamp is unchanged has waited all along, and the owners read the
 * second time hold their locks while waiting themselves, so what is reported
 * is a deadlock, not a thread that was just waking up.
 *
 * The report waits until every member has recorded its own stack (each does,
 * at its first slice); it is written once per set of waits. Runs in waiting
 * threads, on paths about to sleep; takes the registry lock, then graph_mu
 * and report_mu through report.c.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "acquire.h"

#define MAX_CHAIN LH_WAITCHAIN_MAX
#define MAX_OWNERS LH_OWNERS_MAX

/* A chain of waits is a struct lh_waitchain (lockhound-private.h). */

static bool
waits_for_lock(const struct lh_thread *t)
{
	return atomic_load_explicit(&t->wait_kind, memory_order_relaxed) == LH_WAIT_LOCK &&
	       atomic_load_explicit(&t->wait_addr, memory_order_seq_cst) != 0;
}

/* The lock another thread waits for, read once (it may stop waiting at any
 * moment and clear its record); 0 if it waits for none. */
static uintptr_t
lock_awaited(const struct lh_thread *t)
{
	uintptr_t addr = atomic_load_explicit(&t->wait_addr, memory_order_seq_cst);

	if (atomic_load_explicit(&t->wait_kind, memory_order_relaxed) != LH_WAIT_LOCK)
		return 0;
	return addr;
}

static const struct lh_held *
held_entry(const struct lh_thread *t, uintptr_t addr)
{
	for (uint32_t i = t->nheld; i-- > 0;) {
		const struct lh_held *h = &t->held[i];

		if (h->addr == addr && h->lock->id == h->id)
			return h;
	}
	return NULL;
}

/*
 * The threads that must let go of addr before w can take it: the holder
 * glibc names, or the holders in our records (readers, spinlocks), or, for
 * a read waiting on a read-held rwlock, the writers queued before it. Caller
 * holds the registry.
 */
static int
owners(const struct lh_thread *w, uintptr_t addr, struct lh_thread **out)
{
	enum lh_lock_type type = (enum lh_lock_type)w->wait_type;
	pid_t tid;
	int n = 0;

	if (!addr)
		return 0;
	tid = lh_lock_owner((void *)addr, type);

	if (tid > 0 && (type == LH_TYPE_MUTEX || type == LH_TYPE_MTX || type == LH_TYPE_RWLOCK)) {
		struct lh_thread *o = lh_thread_find(tid);

		if (o)
			out[n++] = o;
		return n;
	}
	for (struct lh_thread *t = lh_threads_first(); t && n < MAX_OWNERS; t = t->next)
		if (held_entry(t, addr))
			out[n++] = t;
	if (n == 0 && type == LH_TYPE_RWLOCK && w->wait_mode == LH_MODE_READ) {
		for (struct lh_thread *t = lh_threads_first(); t && n < MAX_OWNERS; t = t->next)
			if (t != w && waits_for_lock(t) && t->wait_addr == addr &&
			    t->wait_mode == LH_MODE_WRITE)
				out[n++] = t;
	}
	return n;
}

static bool
in_chain(const struct lh_waitchain *f, const struct lh_thread *t)
{
	for (int i = 0; i < f->n; i++)
		if (f->chain[i].t == t)
			return true;
	return false;
}

/* Depth-first along waits, from f->chain[f->n - 1]. True when the chain
 * closes on f->chain[0] or ends at an exited holder. */
static bool
follow(struct lh_waitchain *f)
{
	struct lh_waitlink *last = &f->chain[f->n - 1];
	struct lh_thread *o[MAX_OWNERS];
	int no = owners(last->t, last->addr, o);

	for (int i = 0; i < no; i++) {
		if (o[i] == f->chain[0].t)
			return true;
		if (o[i]->dead) {
			f->dead = o[i];
			return true;
		}
	}
	for (int i = 0; i < no && f->n < MAX_CHAIN; i++) {
		uintptr_t addr;

		if (in_chain(f, o[i]) || !(addr = lock_awaited(o[i])))
			continue;
		f->chain[f->n++] = (struct lh_waitlink){o[i], addr, o[i]->wait_since_ns};
		if (follow(f))
			return true;
		f->n--;
	}
	return false;
}

/* The second collection: every member still in the same wait, each owned
 * by the next. */
static bool
confirmed(const struct lh_waitchain *f)
{
	for (int i = 0; i < f->n; i++) {
		const struct lh_waitlink *l = &f->chain[i];
		struct lh_thread *o[MAX_OWNERS], *next;
		int no;
		bool ok = false;

		if (!waits_for_lock(l->t) || l->t->wait_addr != l->addr ||
		    l->t->wait_since_ns != l->since)
			return false;
		next = i + 1 < f->n ? f->chain[i + 1].t : f->dead ? f->dead : f->chain[0].t;
		no = owners(l->t, l->addr, o);
		for (int k = 0; k < no; k++)
			ok |= o[k] == next;
		if (!ok)
			return false;
	}
	return true;
}

/*
 * The threads that hold the lock at addr, as w (waiting for it) sees it:
 * see owners(). out has room for LH_OWNERS_MAX. Caller holds the registry.
 */
int
lh_lock_owners(const struct lh_thread *w, uintptr_t addr, struct lh_thread **out)
{
	return owners(w, addr, out);
}

/*
 * Every deadlock among the threads right now (for a dump): each thread that
 * waits for a lock and is not in a chain found already starts a search, and
 * what it finds is collected twice (confirmed) like lh_deadlock_check's.
 * Stores at most max chains in out; returns how many. Marks nothing as
 * reported. Caller holds the registry.
 */
int
lh_deadlock_find_all(struct lh_waitchain *out, int max)
{
	int n = 0;

	for (struct lh_thread *t = lh_threads_first(); t && n < max; t = t->next) {
		struct lh_waitchain *f = &out[n];
		uintptr_t addr;
		bool seen = false;

		if (t->dead || !(addr = lock_awaited(t)))
			continue;
		for (int i = 0; i < n && !seen; i++)
			seen = in_chain(&out[i], t);
		if (seen)
			continue;
		memset(f, 0, sizeof(*f));
		f->chain[0] = (struct lh_waitlink){t, addr, t->wait_since_ns};
		f->n = 1;
		if (follow(f) && confirmed(f))
			n++;
	}
	return n;
}

/* ---- reports ------------------------------------------------------------- */

/* ,"FIELD":[frames] of stack id (where a lock was taken), and
 * ,"FIELD_partial":true when only the caller of the lock call is known. */
static void
json_stack_field(struct lh_buf *j, const char *field, lh_stack_id id)
{
	unsigned flags = 0;
	int n;

	lh_buf_puts(j, ",\"");
	lh_buf_puts(j, field);
	lh_buf_puts(j, "\":");
	lh_json_stack(j, id);
	lh_stack_get(id, &n, &flags);
	if (flags & LH_STACK_PARTIAL) {
		lh_buf_puts(j, ",\"");
		lh_buf_puts(j, field);
		lh_buf_puts(j, "_partial\":true");
	}
}

/* Where h was taken: its recorded stack, else the one recovered from where
 * its holder is now (look, for that same entry), else only its caller. */
static lh_stack_id
held_stack_of(const struct lh_held *h, const struct lh_look *look)
{
	if (h->stack)
		return h->stack;
	if (look && look->taken)
		return look->taken;
	return lh_stack_intern(&h->pc, 1, LH_STACK_PARTIAL);
}

static void
json_held(struct lh_buf *j, struct lh_thread *t, uint32_t now_ms)
{
	lh_buf_puts(j, ",\"held\":[");
	for (uint32_t i = 0; i < t->nheld; i++) {
		struct lh_held *h = &t->held[i];
		struct lh_gnode *g = h->lock->gnode;

		if (i)
			lh_buf_putc(j, ',');
		lh_buf_puts(j, "{\"lock\":");
		lh_buf_put_u64(j, g ? g->id : h->id);
		lh_buf_puts(j, ",\"addr\":\"");
		lh_buf_put_hex(j, h->addr);
		lh_buf_puts(j, "\",\"mode\":\"");
		lh_buf_puts(j, h->mode == LH_MODE_READ ? "read" : "write");
		lh_buf_putc(j, '"');
		if (h->since_ms && now_ms >= h->since_ms) {
			lh_buf_puts(j, ",\"held_ms\":");
			lh_buf_put_u64(j, now_ms - h->since_ms);
		}
		json_stack_field(j, "stack", held_stack_of(h, NULL));
		lh_buf_putc(j, '}');
	}
	lh_buf_putc(j, ']');
}

static void
text_held(struct lh_buf *b, struct lh_thread *t, uint32_t now_ms)
{
	for (uint32_t i = 0; i < t->nheld; i++) {
		struct lh_held *h = &t->held[i];

		lh_buf_puts(b, "    holds ");
		lh_lock_describe(b, h->lock->gnode);
		if (h->mode == LH_MODE_READ)
			lh_buf_puts(b, " for reading");
		if (h->since_ms && now_ms >= h->since_ms) {
			lh_buf_puts(b, ", for about ");
			lh_buf_put_u64(b, now_ms - h->since_ms);
			lh_buf_puts(b, " ms");
		}
		lh_buf_puts(b, ", taken at:\n");
		lh_text_stack(b, h->stack ? h->stack : lh_stack_intern(&h->pc, 1, LH_STACK_PARTIAL),
			      "      ");
	}
}

/* Makes sure every lock a thread holds or waits for has a graph node (for
 * its name), and writes their "lock" records. graph_mu before report_mu. */
static void
name_locks(struct lh_thread *t)
{
	for (uint32_t i = 0; i < t->nheld; i++)
		if (t->held[i].lock->id == t->held[i].id)
			lh_report_node(t->held[i].lock);
}

static void
lock_records(struct lh_buf *j, struct lh_thread *t)
{
	for (uint32_t i = 0; i < t->nheld; i++)
		lh_report_lock_record(j, t->held[i].lock->gnode);
}

static const char *
state_of(struct lh_thread *t)
{
	switch (atomic_load_explicit(&t->wait_kind, memory_order_relaxed)) {
	case LH_WAIT_LOCK:
		return "waiting for a lock";
	case LH_WAIT_COND:
		return "waiting on a condition variable";
	case LH_WAIT_SEM:
		return "waiting on a semaphore";
	case LH_WAIT_BARRIER:
		return "waiting at a barrier";
	default:
		return t->dead ? "exited" : "not waiting for any lock";
	}
}

static struct lh_gnode *
wait_node(uintptr_t addr)
{
	return addr ? lh_report_node(lh_locktab_find((void *)addr)) : NULL;
}

/* Writes the report; false if a suppression rule hides it. */
static bool
write_deadlock(struct lh_waitchain *f)
{
	struct lh_buf t, j;
	struct lh_gnode *waited[MAX_CHAIN];
	char names[MAX_CHAIN][16];
	uint64_t now = lh_now_ns();
	uint32_t now_ms = lh_tick_update();
	pid_t tasks[256];
	int ntasks = lh_task_list(tasks, 256);

	for (int i = 0; i < f->n; i++) {
		waited[i] = wait_node(f->chain[i].addr);
		name_locks(f->chain[i].t);
		lh_thread_name(f->chain[i].t->tid, names[i], sizeof(names[i]));
	}
	if (f->dead)
		name_locks(f->dead);
	for (struct lh_thread *o = lh_threads_first(); o; o = o->next)
		if (!in_chain(f, o) && o != f->dead)
			name_locks(o);
	{
		lh_stack_id stacks[MAX_CHAIN];

		for (int i = 0; i < f->n; i++)
			stacks[i] = atomic_load(&f->chain[i].t->wait_stack);
		if (lh_report_suppressed("deadlock", waited, f->n, stacks, f->n))
			return false;
	}
	lh_report_count_finding();
	lh_buf_init(&t);
	lh_buf_init(&j);
	lh_report_begin();

	lh_buf_puts(&t, "lockhound: deadlock: ");
	if (f->dead) {
		lh_buf_put_u64(&t, (uint64_t)f->n);
		lh_buf_puts(&t, f->n == 1 ? " thread waits" : " threads wait");
		lh_buf_puts(&t, " forever for a lock whose holder has exited");
	} else if (f->n == 1) {
		lh_buf_puts(&t, "a thread waits for a lock it holds itself");
	} else {
		lh_buf_put_u64(&t, (uint64_t)f->n);
		lh_buf_puts(&t, " threads wait for each other");
	}
	lh_buf_puts(&t, " (pid ");
	lh_buf_put_u64(&t, (uint64_t)getpid());
	lh_buf_puts(&t, ")\n");
	for (int i = 0; i < f->n; i++) {
		struct lh_thread *m = f->chain[i].t;
		struct lh_thread *next = i + 1 < f->n ? f->chain[i + 1].t
					 : f->dead	 ? f->dead
							 : f->chain[0].t;

		lh_buf_puts(&t, "  ");
		lh_text_thread(&t, m->tid, names[i]);
		lh_buf_puts(&t, " waits for ");
		if (waited[i])
			lh_lock_describe(&t, waited[i]);
		else
			lh_buf_put_hex(&t, f->chain[i].addr);
		if (m->wait_mode == LH_MODE_READ)
			lh_buf_puts(&t, " to read");
		lh_buf_puts(&t, ", for ");
		lh_buf_put_u64(&t, (now - m->wait_since_ns) / 1000000);
		lh_buf_puts(&t, " ms, held by thread ");
		lh_buf_put_u64(&t, (uint64_t)next->tid);
		if (next->dead)
			lh_buf_puts(&t, " (exited)");
		lh_buf_puts(&t, "\n    waiting at:\n");
		lh_text_stack(&t, atomic_load(&m->wait_stack), "      ");
		text_held(&t, m, now_ms);
	}
	if (f->dead) {
		lh_buf_puts(&t, "  thread ");
		lh_buf_put_u64(&t, (uint64_t)f->dead->tid);
		lh_buf_puts(&t, " exited holding:\n");
		text_held(&t, f->dead, now_ms);
	}
	for (struct lh_thread *o = lh_threads_first(); o; o = o->next) {
		if (in_chain(f, o) || o == f->dead)
			continue;
		lh_buf_puts(&t, "  other: thread ");
		lh_buf_put_u64(&t, (uint64_t)o->tid);
		lh_buf_puts(&t, " is ");
		lh_buf_puts(&t, state_of(o));
		lh_buf_putc(&t, '\n');
		text_held(&t, o, now_ms);
	}
	for (int i = 0; i < ntasks; i++) {
		if (lh_thread_find(tasks[i]))
			continue;
		lh_buf_puts(&t, "  other: thread ");
		lh_buf_put_u64(&t, (uint64_t)tasks[i]);
		lh_buf_puts(&t, " never took a lock\n");
	}
	lh_buf_puts(&t, lh_opt.on_deadlock == LH_ON_DEADLOCK_ABORT
				? "  The process is aborted (on_deadlock=abort).\n"
				: "  These threads can never go on; the process is left as it is "
				  "(on_deadlock=report).\n");

	for (int i = 0; i < f->n; i++) {
		lh_report_lock_record(&j, waited[i]);
		lock_records(&j, f->chain[i].t);
	}
	if (f->dead)
		lock_records(&j, f->dead);
	for (struct lh_thread *o = lh_threads_first(); o; o = o->next)
		if (!in_chain(f, o) && o != f->dead)
			lock_records(&j, o);
	lh_json_begin(&j, "deadlock", lh_gettid());
	lh_buf_puts(&j, ",\"cause\":\"");
	lh_buf_puts(&j, f->dead ? "holder-exited" : "cycle");
	lh_buf_puts(&j, "\",\"cycle\":[");
	for (int i = 0; i < f->n; i++) {
		struct lh_thread *m = f->chain[i].t;

		if (i)
			lh_buf_putc(&j, ',');
		lh_buf_puts(&j, "{\"tid\":");
		lh_buf_put_u64(&j, (uint64_t)m->tid);
		lh_buf_puts(&j, ",\"name\":");
		lh_buf_put_json_str(&j, names[i]);
		lh_buf_puts(&j, ",\"waits_for\":{\"addr\":\"");
		lh_buf_put_hex(&j, f->chain[i].addr);
		lh_buf_putc(&j, '"');
		if (waited[i]) {
			lh_buf_puts(&j, ",\"lock\":");
			lh_buf_put_u64(&j, waited[i]->id);
		}
		lh_buf_puts(&j, ",\"mode\":\"");
		lh_buf_puts(&j, m->wait_mode == LH_MODE_READ ? "read" : "write");
		lh_buf_puts(&j, "\"},\"waited_ms\":");
		lh_buf_put_u64(&j, (now - m->wait_since_ns) / 1000000);
		lh_buf_puts(&j, ",\"stack\":");
		lh_json_stack(&j, atomic_load(&m->wait_stack));
		json_held(&j, m, now_ms);
		lh_buf_putc(&j, '}');
	}
	lh_buf_putc(&j, ']');
	if (f->dead) {
		lh_buf_puts(&j, ",\"exited_holder\":{\"tid\":");
		lh_buf_put_u64(&j, (uint64_t)f->dead->tid);
		json_held(&j, f->dead, now_ms);
		lh_buf_putc(&j, '}');
	}
	lh_buf_puts(&j, ",\"threads\":[");
	{
		bool first = true;

		for (struct lh_thread *o = lh_threads_first(); o; o = o->next) {
			char name[16];

			if (in_chain(f, o) || o == f->dead)
				continue;
			lh_thread_name(o->tid, name, sizeof(name));
			if (!first)
				lh_buf_putc(&j, ',');
			first = false;
			lh_buf_puts(&j, "{\"tid\":");
			lh_buf_put_u64(&j, (uint64_t)o->tid);
			lh_buf_puts(&j, ",\"name\":");
			lh_buf_put_json_str(&j, name);
			lh_buf_puts(&j, ",\"state\":\"");
			lh_buf_puts(&j, state_of(o));
			lh_buf_putc(&j, '"');
			json_held(&j, o, now_ms);
			lh_buf_putc(&j, '}');
		}
		for (int i = 0; i < ntasks; i++) {
			char name[16];

			if (lh_thread_find(tasks[i]))
				continue;
			lh_thread_name(tasks[i], name, sizeof(name));
			if (!first)
				lh_buf_putc(&j, ',');
			first = false;
			lh_buf_puts(&j, "{\"tid\":");
			lh_buf_put_u64(&j, (uint64_t)tasks[i]);
			lh_buf_puts(&j, ",\"name\":");
			lh_buf_put_json_str(&j, name);
			lh_buf_puts(&j, ",\"state\":\"never took a lock\",\"held\":[]}");
		}
	}
	lh_buf_puts(&j, "]}\n");
	lh_report_emit(&t, &j);
	lh_report_end();
	lh_buf_release(&t);
	lh_buf_release(&j);
	return true;
}

/*
 * Looks for a deadlock through the waiting thread t; reports it once all
 * its members have their stacks. Returns true if one was reported now. The
 * thread is busy.
 */
bool
lh_deadlock_check(struct lh_thread *t)
{
	struct lh_waitchain f;
	bool report = false;

	memset(&f, 0, sizeof(f));
	lh_threads_lock();
	if (!waits_for_lock(t))
		goto out;
	f.chain[0] = (struct lh_waitlink){t, t->wait_addr, t->wait_since_ns};
	f.n = 1;
	if (!follow(&f) || !confirmed(&f))
		goto out;
	report = true;
	for (int i = 0; i < f.n; i++) {
		struct lh_thread *m = f.chain[i].t;

		/* Each member records its stack at its first slice; t can now. */
		if (!atomic_load(&m->wait_stack) && m != t)
			report = false;
		if (m->wait_reported == f.chain[i].since)
			report = false; /* this deadlock is out already */
	}
	if (!report)
		goto out;
	if (!atomic_load(&t->wait_stack))
		lh_wait_capture_stack(t);
	for (int i = 0; i < f.n; i++)
		f.chain[i].t->wait_reported = f.chain[i].since;
	report = write_deadlock(&f); /* a suppressed deadlock does not abort */
out:
	lh_threads_unlock();
	if (report)
		lh_on_deadlock();
	return report;
}

/*
 * The first look of a wait that begins (wait.c), without the registry
 * mutex, which every contended acquisition would otherwise take: true when
 * the mutex's holder, as glibc names it, is a live thread that waits for
 * nothing, so that no cycle runs through this wait now. Should the holder
 * begin to wait later, its own look sees this wait: each thread publishes
 * its wait (seq_cst) before it reads another's. The holder is found
 * without the registry and may be a recycled block: a wrong "runs" only
 * delays a report to this wait's first slice, which looks in full. False:
 * look in full now.
 */
bool
lh_deadlock_holder_runs(const struct lh_thread *t)
{
	enum lh_lock_type type = (enum lh_lock_type)t->wait_type;
	uintptr_t addr = atomic_load_explicit(&t->wait_addr, memory_order_relaxed);
	const struct lh_thread *o;
	pid_t tid;

	if (!addr || atomic_load_explicit(&t->wait_kind, memory_order_relaxed) != LH_WAIT_LOCK ||
	    (type != LH_TYPE_MUTEX && type != LH_TYPE_MTX))
		return false;
	tid = lh_lock_owner((void *)addr, type);
	if (tid <= 0 || tid == t->tid || !(o = lh_thread_peek(tid)) || o == t)
		return false;
	return atomic_load_explicit(&o->wait_addr, memory_order_seq_cst) == 0;
}

/* How long an acquire-timeout report waits for the holder's stack. */
#define HOLDER_ANSWER_MS 200

/* t has waited timeout_ms for its lock: say who holds it. Once per wait. */
void
lh_deadlock_timeout(struct lh_thread *t)
{
	struct lh_thread *o[MAX_OWNERS];
	struct lh_gnode *g, *og = NULL;
	struct lh_buf b, j;
	char name[16], oname[16] = "";
	uint64_t now = lh_now_ns();
	uint32_t now_ms = lh_tick_update();
	const struct lh_held *h = NULL;
	struct lh_held hcopy;
	struct lh_look look = {0};
	bool have_h = false;
	pid_t asked = 0;
	int no;

	if (!atomic_load(&t->wait_stack))
		lh_wait_capture_stack(t);
	g = wait_node(t->wait_addr);
	/* A holder that waits in the runtime has its stack in its record; one
	 * that runs, or waits in a call the signal does not cut short, is
	 * asked for it as a dump asks (lh_dump_look_at). */
	lh_threads_lock();
	if (owners(t, t->wait_addr, o) > 0 && !atomic_load(&o[0]->wait_addr) && !o[0]->dead) {
		asked = o[0]->tid;
		if ((h = held_entry(o[0], t->wait_addr)) != NULL) {
			hcopy = *h;
			have_h = true;
		}
	}
	lh_threads_unlock();
	h = NULL;
	if (asked)
		lh_dump_look_at(asked, have_h ? &hcopy : NULL, HOLDER_ANSWER_MS, &look);
	lh_threads_lock();
	no = owners(t, t->wait_addr, o);
	if (no > 0 && o[0]->tid != asked)
		memset(&look, 0, sizeof(look)); /* another holder now */
	if (no > 0 && (h = held_entry(o[0], t->wait_addr)) != NULL &&
	    (!have_h || h->pc != hcopy.pc || h->cfa != hcopy.cfa))
		look.taken = 0; /* taken again since */
	if (no > 0) {
		h = held_entry(o[0], t->wait_addr);
		lh_thread_name(o[0]->tid, oname, sizeof(oname));
		og = wait_node(lock_awaited(o[0]));
	}
	lh_thread_name(t->tid, name, sizeof(name));
	{
		lh_stack_id st = atomic_load(&t->wait_stack);

		if (lh_report_suppressed("acquire-timeout", &g, 1, &st, 1)) {
			lh_threads_unlock();
			return;
		}
	}
	lh_report_count_finding();
	lh_buf_init(&b);
	lh_buf_init(&j);
	lh_report_begin();
	lh_buf_puts(&b, "lockhound: acquire-timeout: ");
	lh_text_thread(&b, t->tid, name);
	lh_buf_puts(&b, " has waited ");
	lh_buf_put_u64(&b, (now - t->wait_since_ns) / 1000000);
	lh_buf_puts(&b, " ms for ");
	if (g)
		lh_lock_describe(&b, g);
	else
		lh_buf_put_hex(&b, t->wait_addr);
	lh_buf_puts(&b, " (pid ");
	lh_buf_put_u64(&b, (uint64_t)getpid());
	lh_buf_puts(&b, ")\n    waiting at:\n");
	lh_text_stack(&b, atomic_load(&t->wait_stack), "      ");
	if (no == 0) {
		lh_buf_puts(&b, "  its holder is not known (taken outside what lockhound saw)\n");
	} else {
		lh_buf_puts(&b, "  held by ");
		lh_text_thread(&b, o[0]->tid, oname);
		if (h && h->since_ms && now_ms >= h->since_ms) {
			lh_buf_puts(&b, " for about ");
			lh_buf_put_u64(&b, now_ms - h->since_ms);
			lh_buf_puts(&b, " ms");
		}
		lh_buf_puts(&b, ", taken at:\n");
		if (h)
			lh_text_stack(&b, held_stack_of(h, &look), "      ");
		else
			lh_buf_puts(&b, "      (before lockhound saw it)\n");
		lh_buf_puts(&b, "  which is now ");
		lh_buf_puts(&b, state_of(o[0]));
		if (og) {
			lh_buf_putc(&b, ' ');
			lh_lock_describe(&b, og);
		}
		if (atomic_load(&o[0]->wait_addr) && atomic_load(&o[0]->wait_stack)) {
			lh_buf_puts(&b, ", at:\n");
			lh_text_stack(&b, atomic_load(&o[0]->wait_stack), "      ");
		} else if (look.stack) {
			lh_buf_puts(&b, ", at:\n");
			lh_text_stack(&b, look.stack, "      ");
		} else if (look.in_call) {
			lh_buf_puts(&b, ", in ");
			lh_buf_puts(&b, look.in_call);
			lh_buf_puts(&b, " (not interrupted for its stack)\n");
		} else {
			lh_buf_putc(&b, '\n');
		}
	}
	lh_buf_puts(&b, "  It goes on waiting.");
	if (lh_opt.dump_signal > 0) {
		lh_buf_puts(&b, " (Every thread's stack: lockhound dump ");
		lh_buf_put_u64(&b, (uint64_t)getpid());
		lh_buf_puts(&b, ".)");
	}
	lh_buf_putc(&b, '\n');

	lh_report_lock_record(&j, g);
	lh_report_lock_record(&j, og);
	lh_json_begin(&j, "acquire-timeout", t->tid);
	lh_buf_puts(&j, ",\"thread\":{\"tid\":");
	lh_buf_put_u64(&j, (uint64_t)t->tid);
	lh_buf_puts(&j, ",\"name\":");
	lh_buf_put_json_str(&j, name);
	lh_buf_puts(&j, "},\"addr\":\"");
	lh_buf_put_hex(&j, t->wait_addr);
	lh_buf_putc(&j, '"');
	if (g) {
		lh_buf_puts(&j, ",\"lock\":");
		lh_buf_put_u64(&j, g->id);
	}
	lh_buf_puts(&j, ",\"mode\":\"");
	lh_buf_puts(&j, t->wait_mode == LH_MODE_READ ? "read" : "write");
	lh_buf_puts(&j, "\",\"waited_ms\":");
	lh_buf_put_u64(&j, (now - t->wait_since_ns) / 1000000);
	lh_buf_puts(&j, ",\"timeout_ms\":");
	lh_buf_put_u64(&j, (uint64_t)lh_opt.timeout_ms);
	lh_buf_puts(&j, ",\"stack\":");
	lh_json_stack(&j, atomic_load(&t->wait_stack));
	if (no > 0) {
		lh_buf_puts(&j, ",\"holder\":{\"tid\":");
		lh_buf_put_u64(&j, (uint64_t)o[0]->tid);
		lh_buf_puts(&j, ",\"name\":");
		lh_buf_put_json_str(&j, oname);
		lh_buf_puts(&j, ",\"state\":\"");
		lh_buf_puts(&j, state_of(o[0]));
		lh_buf_putc(&j, '"');
		if (og) {
			lh_buf_puts(&j, ",\"waits_for\":");
			lh_buf_put_u64(&j, og->id);
		}
		if (h) {
			if (h->since_ms && now_ms >= h->since_ms) {
				lh_buf_puts(&j, ",\"held_ms\":");
				lh_buf_put_u64(&j, now_ms - h->since_ms);
			}
			json_stack_field(&j, "held_stack", held_stack_of(h, &look));
		}
		if (atomic_load(&o[0]->wait_addr) && atomic_load(&o[0]->wait_stack)) {
			lh_buf_puts(&j, ",\"stack\":");
			lh_json_stack(&j, atomic_load(&o[0]->wait_stack));
		} else if (look.stack) {
			lh_buf_puts(&j, ",\"stack\":");
			lh_json_stack(&j, look.stack);
		} else if (look.in_call) {
			lh_buf_puts(&j, ",\"in_call\":");
			lh_buf_put_json_str(&j, look.in_call);
		}
		lh_buf_putc(&j, '}');
	}
	lh_buf_puts(&j, "}\n");
	lh_report_emit(&b, &j);
	lh_report_end();
	lh_threads_unlock();
	lh_buf_release(&b);
	lh_buf_release(&j);
}

/* In a child after fork: does t wait for a lock a lost thread held? */
void
lh_deadlock_fork_check(struct lh_thread *t, uintptr_t cfa)
{
	const struct lh_lost_lock *l = lh_lost_lock(t->wait_addr);
	struct lh_lock *lk;
	struct lh_buf b;

	if (!l)
		return;
	lk = lh_locktab_find((void *)l->addr);
	lh_buf_init(&b);
	lh_buf_puts(&b, "waits for a lock that thread ");
	lh_buf_put_u64(&b, (uint64_t)l->tid);
	lh_buf_puts(&b, " held when the process forked: in this child nobody will "
			"release it");
	lh_report_misuse("held-across-fork", (void *)l->addr, lk && lk->id == l->id ? lk : NULL,
			 b.oom ? "waits for a lock held across fork" : b.p,
			 l->stack ? l->stack : lh_stack_intern(&l->pc, 1, LH_STACK_PARTIAL), cfa,
			 0);
	lh_buf_release(&b);
	lh_on_deadlock();
}
