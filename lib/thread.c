/*
 * Per-thread state: the held-lock stack and the chain cache, in one mmap'd
 * block per thread (initial-exec TLS holds only a pointer: a large TLS block
 * would make the library impossible to dlopen). A thread's state is made on
 * its first lock call, registered in a list under registry_mu (for dumps and
 * the deadlock detector), and recycled when the thread exits, through a
 * pthread key destructor. The held stack starts inline and grows by mmap;
 * there is no fixed cap.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lockhound-private.h"

__thread struct lh_thread *lh_self __attribute__((tls_model("initial-exec")));

static lh_mutex_t registry_mu = LH_MUTEX_INIT;
static struct lh_thread *threads;   /* live and dead-but-kept */
static struct lh_thread *free_list; /* recycled blocks */
static uint32_t next_serial = 1;
static _Atomic int oom_warned;

/* Stands in for a thread that is exiting: its lock calls pass through. */
static struct lh_thread exiting = {.busy = 1};

static void on_thread_exit(void *arg);
static struct lh_exit_key exit_key = {.fn = on_thread_exit};


/*
 * Makes the calling thread's state and registers it. Returns NULL when out of
 * memory (said once; the thread's locks go untracked).
 */
struct lh_thread *
lh_thread_create(void)
{
	struct lh_thread *t;

	lh_mutex_lock(&registry_mu);
	t = free_list;
	if (t)
		free_list = t->next;
	lh_mutex_unlock(&registry_mu);
	if (!t) {
		void *p = mmap(NULL, sizeof(*t), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			lh_warn_once(&oom_warned, "out of memory for thread state; a thread "
						  "is not tracked");
			return NULL;
		}
		t = p;
	} else {
		memset(t, 0, sizeof(*t));
	}
	t->held = t->held_inline;
	t->held_cap = LH_HELD_INLINE;
	t->tid = lh_gettid();
	lh_mutex_lock(&registry_mu);
	t->serial = next_serial++;
	t->next = threads;
	threads = t;
	lh_mutex_unlock(&registry_mu);
	lh_exit_key_set(&exit_key, t);
	return t;
}

/*
 * Doubles the held stack. The old array stays mapped until the thread ends,
 * so that another thread reading this one's held locks (dumps, the deadlock
 * detector) never touches unmapped memory; doubling bounds the waste to the
 * size of the live array. False when out of memory or too deep.
 */
bool
lh_thread_grow_held(struct lh_thread *t)
{
	size_t cap = (size_t)t->held_cap * 2;
	struct lh_held *h;

	if (t->nretired == LH_ARRAY_SIZE(t->retired))
		return false;
	h = mmap(NULL, cap * sizeof(*h), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (h == MAP_FAILED)
		return false;
	memcpy(h, t->held, t->nheld * sizeof(*h));
	if (t->held != t->held_inline) {
		t->retired[t->nretired].p = t->held;
		t->retired[t->nretired].cap = t->held_cap;
		t->nretired++;
	}
	/* The new array before its capacity: a reader that loads the capacity
	 * first (a dump) never reads an old array past its end. */
	__atomic_store_n(&t->held, h, __ATOMIC_RELEASE);
	__atomic_store_n(&t->held_cap, (uint32_t)cap, __ATOMIC_RELEASE);
	return true;
}

static void
free_held(struct lh_thread *t)
{
	for (uint32_t i = 0; i < t->nretired; i++)
		munmap(t->retired[i].p, t->retired[i].cap * sizeof(struct lh_held));
	t->nretired = 0;
	if (t->held != t->held_inline)
		munmap(t->held, t->held_cap * sizeof(*t->held));
	t->held = t->held_inline;
	t->held_cap = LH_HELD_INLINE;
	t->nheld = 0;
}

static void
unlink_locked(struct lh_thread *t)
{
	struct lh_thread **pp;

	for (pp = &threads; *pp; pp = &(*pp)->next) {
		if (*pp == t) {
			*pp = t->next;
			return;
		}
	}
}

/* The thread is gone: forget it and recycle its block. Its held arrays are
 * unmapped only once it is unlinked, under the registry, so that a reader
 * holding the registry (a dump, the deadlock detector) never touches them. */
void
lh_thread_exit(struct lh_thread *t)
{
	lh_stats_flush(t);
	lh_mutex_lock(&registry_mu);
	unlink_locked(t);
	free_held(t);
	t->next = free_list;
	free_list = t;
	lh_mutex_unlock(&registry_mu);
}

/*
 * The thread ends (returned or pthread_exit). Locks it still holds stay
 * locked forever: report them, and keep the state (marked dead) so that
 * whoever waits for one of them learns who took it and where.
 */
static void
on_thread_exit(void *arg)
{
	struct lh_thread *t = arg;

	if (!t || t == &exiting)
		return;
	lh_self = &exiting;
	if (t->nheld > 0) {
		t->busy = 1;
		lh_stats_flush(t);
		lh_misuse_exit(t);
		atomic_store_explicit(&t->wait_addr, 0, memory_order_relaxed);
		t->dead = true;
		return;
	}
	lh_thread_exit(t);
}

/*
 * /proc/self/task/TID/FILE (with tid 0, /proc/self/FILE) read into buf,
 * at most size - 1 bytes, NUL-terminated: its length, or -1 (buf is then
 * ""). async-signal-safe: open, read, close.
 */
ssize_t
lh_task_file(pid_t tid, const char *file, char *buf, size_t size)
{
	char path[96] = "/proc/self/";
	size_t l = strlen(path);
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if (tid) {
		memcpy(path + l, "task/", 5);
		l += 5;
		l += lh_fmt_u64(path + l, (uint64_t)tid);
		path[l++] = '/';
	}
	if (l + strlen(file) >= sizeof(path))
		return -1;
	strcpy(path + l, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* The thread's name from /proc (async-signal-safe: open, read, close). */
void
lh_thread_name(pid_t tid, char *buf, size_t size)
{
	ssize_t n = lh_task_file(tid, "comm", buf, size);

	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

/*
 * A thread's own name, for the records of its new orders: read from /proc
 * once, then again after any pthread_setname_np (intercept.c bumps
 * names_gen) or when the copy is a second old, which is when a rename by
 * prctl(PR_SET_NAME) or a write to /proc shows. Reading it at every new
 * order was most of a new order's cost (an open, a read and a close under
 * the graph mutex). t must be the calling thread's state.
 */
uint32_t lh_thread_name_ttl_ms = 1000; /* a variable for the unit test */

static _Atomic uint32_t names_gen = 1;

void
lh_thread_names_changed(void)
{
	atomic_fetch_add_explicit(&names_gen, 1, memory_order_relaxed);
}

void
lh_thread_own_name(struct lh_thread *t, char *buf, size_t size)
{
	uint32_t gen = atomic_load_explicit(&names_gen, memory_order_relaxed);
	uint32_t now = lh_tick_update(); /* the real clock: the tick may stand still */
	size_t n;

	if (t->name_gen != gen || now - t->name_ms >= lh_thread_name_ttl_ms) {
		lh_thread_name(t->tid, t->name, sizeof(t->name));
		t->name_gen = gen;
		t->name_ms = now;
	}
	n = strnlen(t->name, sizeof(t->name) - 1);
	if (n >= size)
		n = size - 1;
	memcpy(buf, t->name, n);
	buf[n] = '\0';
}

/*
 * The live thread whose tid is tid, found without the registry mutex (the
 * deadlock detector's first look at a wait, deadlock.c). Blocks are never
 * unmapped, so the walk reads valid memory; but a block may be unlinked or
 * recycled meanwhile, so the answer is a hint: NULL, or a thread that had
 * that tid.
 */
const struct lh_thread *
lh_thread_peek(pid_t tid)
{
	const struct lh_thread *t = __atomic_load_n(&threads, __ATOMIC_ACQUIRE);

	for (int steps = 0; t && steps < 4096; steps++) {
		if (__atomic_load_n(&t->tid, __ATOMIC_RELAXED) == tid &&
		    !__atomic_load_n(&t->dead, __ATOMIC_RELAXED))
			return t;
		t = __atomic_load_n(&t->next, __ATOMIC_ACQUIRE);
	}
	return NULL;
}

/* Locks held by threads that did not survive a fork, in the child. */
static struct lh_lost_lock *lost;
static size_t nlost, caplost;

static void
remember_lost(const struct lh_thread *t)
{
	for (uint32_t i = 0; i < t->nheld; i++) {
		const struct lh_held *h = &t->held[i];

		if (nlost == caplost) {
			size_t cap = caplost ? caplost * 2 : 16;
			struct lh_lost_lock *n = lh_realloc(lost, caplost * sizeof(*n),
							    cap * sizeof(*n));

			if (!n)
				return;
			lost = n;
			caplost = cap;
		}
		lost[nlost++] = (struct lh_lost_lock){h->addr, h->id, t->tid, h->stack, h->pc};
	}
}

/*
 * In the child after fork only the forking thread exists: drop every other
 * thread's state, remembering the locks they held: those stay locked in the
 * child forever, and a wait for one is reported (held-across-fork).
 */
void
lh_threads_atfork_child(void)
{
	struct lh_thread *t, *next, *self = lh_self;

	lh_mutex_reset(&registry_mu);
	nlost = 0;
	for (t = threads; t; t = next) {
		next = t->next;
		if (t == self)
			continue;
		remember_lost(t);
		unlink_locked(t);
		free_held(t);
		t->next = free_list;
		free_list = t;
	}
	if (self && self != &exiting)
		self->tid = lh_gettid();
}

/* The lost lock at addr, or NULL. Only the child of a fork has any. */
const struct lh_lost_lock *
lh_lost_lock(uintptr_t addr)
{
	for (size_t i = 0; i < nlost; i++)
		if (lost[i].addr == addr)
			return &lost[i];
	return NULL;
}

/*
 * The registry, for readers of other threads' state (dumps, the deadlock
 * detector): while it is locked no thread state is unlinked or recycled.
 * The fields of another thread are read racily; held arrays stay mapped.
 */
void
lh_threads_lock(void)
{
	lh_mutex_lock(&registry_mu);
}

void
lh_threads_unlock(void)
{
	lh_mutex_unlock(&registry_mu);
}

/* The first registered thread (follow ->next); caller holds the registry. */
struct lh_thread *
lh_threads_first(void)
{
	return threads;
}

/* The registered thread with this tid, or NULL; caller holds the registry.
 * A live thread wins over an exited one whose tid the kernel reused. */
struct lh_thread *
lh_thread_find(pid_t tid)
{
	struct lh_thread *dead = NULL;

	for (struct lh_thread *t = threads; t; t = t->next) {
		if (t->tid != tid)
			continue;
		if (!t->dead)
			return t;
		dead = t;
	}
	return dead;
}

void
lh_threads_atfork_prepare(void)
{
	lh_mutex_lock(&registry_mu);
}

void
lh_threads_atfork_parent(void)
{
	lh_mutex_unlock(&registry_mu);
}

/*
 * The tids of every thread of the process, from /proc/self/task, with raw
 * getdents64 (no malloc, no stdio: async-signal-safe). Returns how many were
 * stored (at most max), or -1 if /proc cannot be read.
 */
int
lh_task_list(pid_t *tids, int max)
{
	char buf[4096];
	int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC), n = 0;
	long got;

	if (fd < 0)
		return -1;
	while ((got = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < got;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			pid_t tid = 0;

			for (const char *c = d->d_name; *c >= '0' && *c <= '9'; c++)
				tid = tid * 10 + (*c - '0');
			if (tid > 0 && n < max)
				tids[n++] = tid;
			off += d->d_reclen;
		}
	}
	close(fd);
	return n;
}
