/*
 * glibc's lock layouts, for lockhound attach: a thread blocked on a lock
 * sleeps in futex(2) on one 32-bit word inside the lock. Which primitive it
 * is comes from the glibc function on its stack; where the object starts,
 * from where that primitive keeps the word it waits on; who owns it, from
 * the object's own fields. Measured on glibc 2.36 (x86_64):
 *
 *   pthread_mutex_t   __data.__lock at 0; owner tid in __data.__owner (8),
 *                     or, robust and PI mutexes, in __lock itself
 *                     (FUTEX_TID_MASK); __kind at 16
 *   pthread_rwlock_t  readers wait on __readers (0, writer-preferring
 *                     locks, expected value with PTHREAD_RWLOCK_RWAITING)
 *                     or __wrphase_futex (8); writers on __wrphase_futex
 *                     (waiting for readers) or __writers_futex (12, waiting
 *                     for a writer); the writer's tid in __cur_writer (24)
 *   pthread_cond_t    waiters on __g_signals[g] (40, 44); a signaller
 *                     waiting for a group to drain on __g_refs[g] (16, 20);
 *                     destroy on __wrefs (36)
 *   sem_t             the value's word at 0 (64-bit atomics, little endian)
 *   pthread_barrier_t current_round at 4
 *   pthread_join      the joinee's tid word in its descriptor; the value
 *                     waited on is the joinee's tid
 *
 * Every object is 8-byte aligned, which tells 0/8 from 12 and 40 from 44.
 * The offsets come from the installed headers (offsetof), so this builds
 * only against the glibc it describes; the functions names are matched
 * without their "__" prefixes, version and clone suffixes.
 *
 * Pure functions over a copy of the target's bytes (struct gsnap): no I/O,
 * no state.
 */
#include "config.h"

#include <pthread.h>
#include <semaphore.h>
#include <stddef.h>
#include <string.h>

#include "attach.h"

#define FUTEX_TID_MASK 0x3fffffffu
#define FUTEX_OWNER_DIED 0x40000000u

/* pthread_mutex_t.__data.__kind bits (glibc's pthreadP.h). */
#define MUTEX_KIND_MASK 3
#define MUTEX_ROBUST 16
#define MUTEX_PI 32
#define MUTEX_PP 64
#define MUTEX_PSHARED 128
#define MUTEX_ELISION (256 | 512)
#define MUTEX_INCONSISTENT 0x7fffffff /* __owner of a robust mutex whose owner died */
#define MUTEX_NOTRECOVERABLE 0x7ffffffe

/* pthread_rwlock_t.__data.__readers bits. */
#define RW_WRPHASE 1
#define RW_WRLOCKED 2
#define RW_RWAITING 4
#define RW_READERS_SHIFT 3

#define MUTEX_LOCK offsetof(pthread_mutex_t, __data.__lock)
#define MUTEX_COUNT offsetof(pthread_mutex_t, __data.__count)
#define MUTEX_OWNER offsetof(pthread_mutex_t, __data.__owner)
#define MUTEX_KIND offsetof(pthread_mutex_t, __data.__kind)
#define RW_READERS offsetof(pthread_rwlock_t, __data.__readers)
#define RW_WRPHASE_FUTEX offsetof(pthread_rwlock_t, __data.__wrphase_futex)
#define RW_WRITERS_FUTEX offsetof(pthread_rwlock_t, __data.__writers_futex)
#define RW_CUR_WRITER offsetof(pthread_rwlock_t, __data.__cur_writer)
#define RW_SHARED offsetof(pthread_rwlock_t, __data.__shared)
#define RW_FLAGS offsetof(pthread_rwlock_t, __data.__flags)
#define COND_G_REFS offsetof(pthread_cond_t, __data.__g_refs)
#define COND_WREFS offsetof(pthread_cond_t, __data.__wrefs)
#define COND_G_SIGNALS offsetof(pthread_cond_t, __data.__g_signals)
#define BARRIER_ROUND 4 /* struct pthread_barrier: in, current_round, count, ... */

#if defined(__x86_64__)
_Static_assert(MUTEX_LOCK == 0 && MUTEX_OWNER == 8 && MUTEX_KIND == 16,
	       "pthread_mutex_t is not glibc's x86_64 layout");
_Static_assert(RW_WRPHASE_FUTEX == 8 && RW_WRITERS_FUTEX == 12 && RW_CUR_WRITER == 24 &&
		       RW_FLAGS == 48,
	       "pthread_rwlock_t is not glibc's x86_64 layout");
_Static_assert(COND_G_REFS == 16 && COND_WREFS == 36 && COND_G_SIGNALS == 40,
	       "pthread_cond_t is not glibc 2.36's layout");
_Static_assert(sizeof(pthread_barrier_t) == 32 && sizeof(sem_t) == 32,
	       "unexpected barrier or semaphore size");
#endif

struct fname {
	const char *name;
	enum gwait w;
};

/* Names as they are after normalize(): no leading underscores, no
 * "@VERSION", no ".constprop.0". */
static const struct fname fnames[] = {
	{"lll_lock_wait", GW_MUTEX},
	{"lll_lock_wait_private", GW_INTERNAL},
	{"pthread_mutex_lock", GW_MUTEX},
	{"pthread_mutex_lock_full", GW_MUTEX},
	{"pthread_mutex_timedlock", GW_MUTEX},
	{"pthread_mutex_timedlock64", GW_MUTEX},
	{"pthread_mutex_clocklock", GW_MUTEX},
	{"pthread_mutex_clocklock64", GW_MUTEX},
	{"pthread_mutex_clocklock_common", GW_MUTEX},
	{"pthread_mutex_cond_lock", GW_MUTEX},
	{"pthread_mutex_cond_lock_full", GW_MUTEX},
	{"mtx_lock", GW_MUTEX},
	{"mtx_timedlock", GW_MUTEX},
	{"mtx_timedlock64", GW_MUTEX},
	{"pthread_rwlock_rdlock", GW_RWLOCK_READ},
	{"pthread_rwlock_rdlock_full", GW_RWLOCK_READ},
	{"pthread_rwlock_rdlock_full64", GW_RWLOCK_READ},
	{"pthread_rwlock_timedrdlock", GW_RWLOCK_READ},
	{"pthread_rwlock_timedrdlock64", GW_RWLOCK_READ},
	{"pthread_rwlock_clockrdlock", GW_RWLOCK_READ},
	{"pthread_rwlock_clockrdlock64", GW_RWLOCK_READ},
	{"pthread_rwlock_wrlock", GW_RWLOCK_WRITE},
	{"pthread_rwlock_wrlock_full", GW_RWLOCK_WRITE},
	{"pthread_rwlock_wrlock_full64", GW_RWLOCK_WRITE},
	{"pthread_rwlock_timedwrlock", GW_RWLOCK_WRITE},
	{"pthread_rwlock_timedwrlock64", GW_RWLOCK_WRITE},
	{"pthread_rwlock_clockwrlock", GW_RWLOCK_WRITE},
	{"pthread_rwlock_clockwrlock64", GW_RWLOCK_WRITE},
	{"pthread_cond_wait", GW_COND},
	{"pthread_cond_wait_common", GW_COND},
	{"pthread_cond_timedwait", GW_COND},
	{"pthread_cond_timedwait64", GW_COND},
	{"pthread_cond_clockwait", GW_COND},
	{"pthread_cond_clockwait64", GW_COND},
	{"cnd_wait", GW_COND},
	{"cnd_timedwait", GW_COND},
	{"cnd_timedwait64", GW_COND},
	{"condvar_quiesce_and_switch_g1", GW_COND_SIGNAL},
	{"pthread_cond_signal", GW_COND_SIGNAL},
	{"pthread_cond_broadcast", GW_COND_SIGNAL},
	{"cnd_signal", GW_COND_SIGNAL},
	{"cnd_broadcast", GW_COND_SIGNAL},
	{"pthread_cond_destroy", GW_COND_DESTROY},
	{"cnd_destroy", GW_COND_DESTROY},
	{"sem_wait", GW_SEM},
	{"sem_timedwait", GW_SEM},
	{"sem_timedwait64", GW_SEM},
	{"sem_clockwait", GW_SEM},
	{"sem_clockwait64", GW_SEM},
	{"new_sem_wait_slow", GW_SEM},
	{"new_sem_wait_slow64", GW_SEM},
	{"pthread_barrier_wait", GW_BARRIER},
	{"pthread_join", GW_JOIN},
	{"pthread_timedjoin_np", GW_JOIN},
	{"pthread_timedjoin_np64", GW_JOIN},
	{"pthread_clockjoin_np", GW_JOIN},
	{"pthread_clockjoin_np64", GW_JOIN},
	{"pthread_clockjoin_ex", GW_JOIN},
	{"thrd_join", GW_JOIN},
	{"pthread_spin_lock", GW_SPIN},
};

/* "__GI___lll_lock_wait" -> "lll_lock_wait"; "sem_wait@@GLIBC_2.34" ->
 * "sem_wait"; "__new_sem_wait_slow64.constprop.0" -> "new_sem_wait_slow64". */
static void
normalize(const char *in, char *out, size_t size)
{
	size_t n = 0;

	if (strncmp(in, "__GI_", 5) == 0)
		in += 5;
	while (*in == '_')
		in++;
	while (*in && *in != '@' && *in != '.' && n + 1 < size)
		out[n++] = *in++;
	out[n] = '\0';
}

enum gwait
glibc_classify(const char *function)
{
	char n[96];

	if (!function)
		return GW_NONE;
	normalize(function, n, sizeof(n));
	for (size_t i = 0; i < sizeof(fnames) / sizeof(fnames[0]); i++)
		if (strcmp(n, fnames[i].name) == 0)
			return fnames[i].w;
	return GW_NONE;
}

enum gtype
glibc_wait_type(enum gwait w)
{
	switch (w) {
	case GW_MUTEX: return GT_MUTEX;
	case GW_RWLOCK_READ:
	case GW_RWLOCK_WRITE: return GT_RWLOCK;
	case GW_COND:
	case GW_COND_SIGNAL:
	case GW_COND_DESTROY: return GT_COND;
	case GW_SEM: return GT_SEM;
	case GW_BARRIER: return GT_BARRIER;
	case GW_JOIN: return GT_THREAD;
	case GW_INTERNAL: return GT_INTERNAL;
	case GW_SPIN: return GT_SPIN;
	case GW_FUTEX: return GT_FUTEX;
	default: return GT_NONE;
	}
}

const char *
glibc_gtype_name(enum gtype t)
{
	static const char *const names[] = {"?",	  "mutex",   "rwlock",
					    "condition variable", "semaphore",
					    "barrier",	  "glibc-internal lock",
					    "thread",	  "futex",	"spinlock"};

	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

const char *
glibc_type_name(enum gwait w)
{
	return glibc_gtype_name(glibc_wait_type(w));
}

const char *
glibc_mutex_kind_name(int kind)
{
	static const char *const names[] = {"normal", "recursive", "errorcheck", "adaptive"};

	return names[kind & MUTEX_KIND_MASK];
}

/* The 32-bit word at addr from the snapshot; false if it is not in it. */
static bool
rd32(const struct gsnap *s, uint64_t addr, uint32_t *v)
{
	if (!s || addr < s->addr || addr + 4 > s->addr + s->len)
		return false;
	memcpy(v, s->bytes + (addr - s->addr), 4);
	return true;
}

static bool
decode_mutex(uint64_t base, const struct gsnap *s, struct gobj *o)
{
	uint32_t lock, count, owner, kind;

	if (!rd32(s, base + MUTEX_LOCK, &lock) || !rd32(s, base + MUTEX_COUNT, &count) ||
	    !rd32(s, base + MUTEX_OWNER, &owner) || !rd32(s, base + MUTEX_KIND, &kind))
		return false;
	o->valid = (int32_t)kind != -1 &&
		   (kind & ~(uint32_t)(MUTEX_KIND_MASK | MUTEX_ROBUST | MUTEX_PI | MUTEX_PP |
				       MUTEX_PSHARED | MUTEX_ELISION)) == 0;
	o->mutex_kind = (int)(kind & MUTEX_KIND_MASK);
	o->robust = kind & MUTEX_ROBUST;
	o->pi = kind & MUTEX_PI;
	o->pshared = kind & MUTEX_PSHARED;
	o->count = count;
	o->locked = lock != 0;
	if (o->robust || o->pi) {
		/* The owner is in the lock word; __owner may lag behind it. */
		o->owner = (pid_t)(lock & FUTEX_TID_MASK);
		o->owner_died = lock & FUTEX_OWNER_DIED;
	} else if ((int32_t)owner != MUTEX_INCONSISTENT &&
		   (int32_t)owner != MUTEX_NOTRECOVERABLE) {
		o->owner = (pid_t)(int32_t)owner;
	}
	if (o->owner < 0)
		o->owner = 0;
	return true;
}

static bool
decode_rwlock(uint64_t base, const struct gsnap *s, struct gobj *o)
{
	uint32_t readers, writer, shared, flags;

	if (!rd32(s, base + RW_READERS, &readers) || !rd32(s, base + RW_CUR_WRITER, &writer) ||
	    !rd32(s, base + RW_SHARED, &shared) || !rd32(s, base + RW_FLAGS, &flags))
		return false;
	o->valid = flags <= 2 && shared <= 1;
	o->rwlock_kind = (int)flags;
	o->pshared = shared;
	/*
	 * A writer holds it in a write phase with WRLOCKED; WRLOCKED in a read
	 * phase is a writer waiting for the readers to leave. Readers hold it
	 * in a read phase (in a write phase the count is of waiting readers).
	 */
	o->write_locked = (readers & (RW_WRPHASE | RW_WRLOCKED)) == (RW_WRPHASE | RW_WRLOCKED);
	o->readers = readers & RW_WRPHASE ? 0 : readers >> RW_READERS_SHIFT;
	o->locked = o->write_locked || o->readers > 0;
	o->owner = o->write_locked && (int32_t)writer > 0 ? (pid_t)writer : 0;
	return true;
}

bool
glibc_decode_at(enum gtype type, uint64_t addr, const struct gsnap *snap, struct gobj *o)
{
	memset(o, 0, sizeof(*o));
	o->type = type;
	o->addr = addr;
	if (type == GT_MUTEX)
		return decode_mutex(addr, snap, o);
	if (type == GT_RWLOCK)
		return decode_rwlock(addr, snap, o);
	return false;
}

bool
glibc_decode(enum gwait w, uint64_t futex, unsigned op, uint32_t val,
	     const struct gsnap *snap, struct gobj *o)
{
	bool odd = (futex & 7) == 4; /* the word is at offset 4 mod 8 in its object */
	uint32_t v;

	(void)op;
	memset(o, 0, sizeof(*o));
	o->type = glibc_wait_type(w);
	o->addr = futex;
	switch (w) {
	case GW_MUTEX:
		o->futex_member = "__data.__lock";
		return decode_mutex(futex, snap, o);
	case GW_RWLOCK_READ:
	case GW_RWLOCK_WRITE:
		if (odd) {
			o->addr = futex - RW_WRITERS_FUTEX;
			o->futex_member = "__data.__writers_futex";
		} else if (w == GW_RWLOCK_READ && (val & RW_RWAITING)) {
			o->addr = futex - RW_READERS;
			o->futex_member = "__data.__readers";
		} else {
			o->addr = futex - RW_WRPHASE_FUTEX;
			o->futex_member = "__data.__wrphase_futex";
		}
		return decode_rwlock(o->addr, snap, o);
	case GW_COND:
		o->addr = futex - COND_G_SIGNALS - (odd ? 4 : 0);
		o->futex_member = odd ? "__data.__g_signals[1]" : "__data.__g_signals[0]";
		o->valid = true;
		return rd32(snap, o->addr, &v);
	case GW_COND_SIGNAL:
		o->addr = futex - COND_G_REFS - (odd ? 4 : 0);
		o->futex_member = odd ? "__data.__g_refs[1]" : "__data.__g_refs[0]";
		o->valid = true;
		return rd32(snap, o->addr, &v);
	case GW_COND_DESTROY:
		o->addr = futex - COND_WREFS;
		o->futex_member = "__data.__wrefs";
		o->valid = odd;
		return rd32(snap, o->addr, &v);
	case GW_SEM:
		o->futex_member = "value";
		if (!rd32(snap, futex, &o->sem_value) || !rd32(snap, futex + 4, &o->sem_waiters))
			return false;
		o->valid = !odd;
		return true;
	case GW_BARRIER:
		o->addr = futex - BARRIER_ROUND;
		o->futex_member = "current_round";
		if (!rd32(snap, o->addr, &o->barrier_in) || !rd32(snap, o->addr + 8, &o->barrier_count))
			return false;
		o->valid = odd && o->barrier_count > 0;
		return true;
	case GW_JOIN:
		o->futex_member = "tid";
		o->joinee = (pid_t)val;
		o->valid = (int32_t)val > 0;
		return true;
	case GW_INTERNAL:
		o->futex_member = "lock";
		if (!rd32(snap, futex, &v))
			return false;
		o->locked = v != 0;
		o->valid = true;
		return true;
	default:
		o->type = GT_FUTEX;
		o->futex_member = NULL;
		if (!rd32(snap, futex, &v))
			return false;
		o->valid = true;
		return true;
	}
}
