/*
 * lockhound attach PID: the pieces of the command, shared with its unit
 * tests (tests/unit/check-attach.c).
 *
 *   attach-glibc.c    glibc 2.36's lock layouts: which primitive a blocked
 *                     thread waits in (from the functions on its stack),
 *                     the object that contains the futex word it sleeps on,
 *                     and the object's owner, read from a copy of its bytes
 *   attach-ptrace.c   getting in and out: why attaching is refused, stopping
 *                     every thread (PTRACE_SEIZE + PTRACE_INTERRUPT), reading
 *                     registers, /proc/PID/task/TID/syscall and memory, and
 *                     letting every thread go exactly as it was
 *   attach-runtime.c  the tables of a liblockhound loaded in the target
 *   attach.c          the command: snapshot, wait-for relation, cycles,
 *                     text and records
 *
 * Nothing here is thread-safe; the command is single-threaded, and ptrace
 * requires it (a tracee belongs to the tracing thread).
 */
#ifndef LOCKHOUND_ATTACH_H
#define LOCKHOUND_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- attach-glibc.c ------------------------------------------------------ */

/* What a thread blocked in glibc waits for. */
enum gwait {
	GW_NONE = 0,
	GW_MUTEX,	/* pthread_mutex_*lock, mtx_*lock, a condition wait's relock */
	GW_RWLOCK_READ,
	GW_RWLOCK_WRITE,
	GW_COND,	/* pthread_cond_*wait, cnd_*wait */
	GW_COND_SIGNAL, /* a signal or broadcast waiting for old waiters to leave */
	GW_COND_DESTROY,
	GW_SEM,		/* sem_*wait */
	GW_BARRIER,	/* pthread_barrier_wait */
	GW_JOIN,	/* pthread_*join, thrd_join */
	GW_INTERNAL,	/* a lock inside glibc (malloc arenas, stdio): lll_lock */
	GW_SPIN,	/* spinning in pthread_spin_lock: running, not in a call */
	GW_FUTEX,	/* a futex wait glibc's functions do not explain */
	GW_COUNT,
};

/* The primitive a function of glibc's belongs to, by name ("__lll_lock_wait",
 * "pthread_rwlock_wrlock@@GLIBC_2.34", "__new_sem_wait_slow64.constprop.0");
 * GW_NONE for any other function. */
enum gwait glibc_classify(const char *function);

/* "mutex", "rwlock", "semaphore", ...: the type of object a wait is on. */
const char *glibc_type_name(enum gwait w);

enum gtype {
	GT_NONE = 0,
	GT_MUTEX,
	GT_RWLOCK,
	GT_COND,
	GT_SEM,
	GT_BARRIER,
	GT_INTERNAL,
	GT_THREAD, /* a thread's descriptor (joins) */
	GT_FUTEX,  /* a bare futex word */
	GT_SPIN,   /* pthread_spinlock_t */
};

enum gtype glibc_wait_type(enum gwait w);
const char *glibc_gtype_name(enum gtype t);

/* A snapshot of the target's memory around a futex word. */
#define GLIBC_SNAP_BEFORE 64
#define GLIBC_SNAP_SIZE 128

struct gsnap {
	uint64_t addr; /* of bytes[0] */
	uint8_t bytes[GLIBC_SNAP_SIZE];
	size_t len;    /* how many bytes could be read */
};

/* The object a futex wait is on, decoded from a snapshot. */
struct gobj {
	enum gtype type;
	uint64_t addr;	     /* the object (pthread_mutex_t ...), or the futex word */
	const char *futex_member; /* "__data.__lock", "__data.__wrphase_futex", ... */
	bool valid;	     /* the bytes look like such an object */
	/* mutexes */
	int mutex_kind;	     /* 0 normal, 1 recursive, 2 errorcheck, 3 adaptive */
	bool robust, pi, pshared, owner_died;
	unsigned count;	     /* recursion count of a recursive mutex */
	/* mutexes and rwlocks (the writer): the owner's tid, 0 if none known */
	pid_t owner;
	bool locked;	     /* the lock word says it is taken */
	/* rwlocks */
	unsigned readers;    /* readers holding it */
	bool write_locked;
	int rwlock_kind;     /* __flags: 0 prefer reader, 1 prefer writer, 2 nonrecursive */
	/* semaphores */
	unsigned sem_value, sem_waiters;
	/* barriers */
	unsigned barrier_count, barrier_in;
	/* joins */
	pid_t joinee;
};

/*
 * Decodes the object that thread waits on: w from glibc_classify, the futex
 * word's address, the futex call's op and expected value, and a snapshot
 * that holds the bytes around the word. Returns false if the snapshot does
 * not cover the object (out->addr is still set).
 */
bool glibc_decode(enum gwait w, uint64_t futex, unsigned op, uint32_t val,
		  const struct gsnap *snap, struct gobj *out);

/* Decodes a mutex or rwlock known to start at addr (a static lock). */
bool glibc_decode_at(enum gtype type, uint64_t addr, const struct gsnap *snap,
		     struct gobj *out);

/* "normal", "recursive", "errorcheck", "adaptive". */
const char *glibc_mutex_kind_name(int kind);

/* ---- attach-ptrace.c ----------------------------------------------------- */

#define ATTACH_MAX_THREADS 4096 /* threads examined; more are counted */
#define ATTACH_MAX_FRAMES 256
#define ATTACH_STOP_MS 1000	/* how long a thread may take to stop */
#define ATTACH_NREGS 17		/* x86_64 DWARF registers 0-16 */

enum tstate {
	TH_NEW = 0,
	TH_STOPPED,  /* in a ptrace stop we caused: registers exact */
	TH_LEFT,     /* left running on purpose: a stop would break its system call */
	TH_NO_STOP,  /* did not stop in time (uninterruptible sleep) */
	TH_GONE,     /* exited while we looked */
	TH_ZOMBIE,   /* exited, not reaped (a main thread after pthread_exit) */
	TH_FAILED,   /* could not be seized */
};

/* One thread of the target. */
struct tthread {
	pid_t tid;
	char name[17];
	char pstate;	  /* the State letter of /proc/PID/task/TID/status */
	enum tstate st;
	bool seized;
	bool group_stop;  /* held in a job-control stop: it stays stopped */
	int pending_sig;  /* a signal that came while we held it: delivered at detach */
	long nr;	  /* the system call it is in; -1 none, -2 running */
	uint64_t args[6], sp, pc;
	bool sc_ok;	  /* nr, args, sp and pc are known */
	bool have_regs;
	uint64_t regs[ATTACH_NREGS]; /* rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip */
	struct gsnap snap; /* the bytes around its futex word, read while stopped */
	/* Its stack: pcs[0] is where it is, the others return addresses. */
	uint64_t *pcs;
	int npcs;
	char *unwind_note; /* why the stack ends early, or NULL */
	bool guessed;	   /* unwound from a frame pointer found by a stack scan */
};

struct target {
	pid_t pid;
	pid_t mem_tid;	   /* a live thread to read memory through (0: pid) */
	bool stop_all;	   /* also stop threads whose system call a stop would break */
	struct tthread *th;
	size_t n, cap;
	size_t more;	   /* threads beyond ATTACH_MAX_THREADS, not examined */
	uint64_t stop_ns;  /* monotonic time when the first thread was stopped */
	uint64_t held_ns;  /* how long threads were held stopped */
};

/* Stops every thread of t->pid (PTRACE_SEIZE and PTRACE_INTERRUPT; threads
 * blocked in calls a stop would break are left running unless stop_all),
 * reading each one's system call and registers. Returns 0, or -1 when
 * attaching is refused, with the reason in why (nothing is left stopped). */
int target_stop(struct target *t, char *why, size_t whysz);

/* Lets every stopped thread go as it was: PTRACE_DETACH, delivering any
 * signal that arrived meanwhile; a job-control stop stays in force. */
void target_resume(struct target *t);

/* Reads the target's memory (process_vm_readv, else /proc/PID/mem). */
bool target_read(const struct target *t, uint64_t addr, void *buf, size_t n);

/* Copies the bytes around a futex word into s (as much as is readable). */
void target_snap(const struct target *t, uint64_t futex, struct gsnap *s);

struct tthread *target_thread(struct target *t, pid_t tid);
void target_free(struct target *t);
uint64_t attach_now_ns(void);

/* Facts about a refused PTRACE_SEIZE, for attach_denied_reason(). */
struct deny_facts {
	int err;	     /* errno of PTRACE_SEIZE */
	pid_t pid;
	pid_t tracer;	     /* TracerPid of the target, 0 if none */
	char tracer_name[32];
	int yama;	     /* /proc/sys/kernel/yama/ptrace_scope, -1 if absent */
	bool privileged;     /* we have CAP_SYS_PTRACE */
	bool descendant;     /* the target descends from us */
	bool same_uid;	     /* the target's real, effective and saved uids are ours */
	uid_t target_uid;
	bool dumpable;	     /* the target is dumpable (not setuid-like) */
};

/* Why attaching was refused, in one sentence, into buf; returns buf. */
const char *attach_denied_reason(const struct deny_facts *f, char *buf, size_t size);

/* Facts about pid that decide whether to try at all: false with the reason
 * ("no such process", "a zombie", "a kernel thread", "this very process"). */
bool attach_precheck(pid_t pid, char *why, size_t size);

/* A thread of pid that has not exited: pid itself if it has not, else
 * another (a main thread that called pthread_exit is a zombie whose
 * memory and maps are gone); 0 if none. */
pid_t attach_live_tid(pid_t pid);

/* Gathers deny_facts for pid after PTRACE_SEIZE failed with err. */
void attach_deny_facts(pid_t pid, int err, struct deny_facts *f);

/* Whether a stop of a thread blocked in system call nr would make that call
 * fail with EINTR when it goes on (a stop never does that to futex waits,
 * nanosleep, poll, read of a pipe; it does to epoll_wait, sigtimedwait,
 * semop, socket calls with timeouts). fd_is_socket: the call's first
 * argument is a socket. */
bool attach_stop_would_interrupt(long nr, bool fd_is_socket);

/* The name of an x86_64 system call ("futex"), or NULL. */
const char *attach_syscall_name(long nr);

/* Parses a /proc/PID/task/TID/syscall line: nr (-1 not in a system call,
 * -2 running), args, sp, pc. False if it cannot. */
bool attach_parse_syscall(const char *line, long *nr, uint64_t args[6], uint64_t *sp,
			  uint64_t *pc);

/* ---- attach-unwind.c ----------------------------------------------------- */

struct Dwfl;

/* Loads every module's unwind tables (before threads are stopped). */
void unwind_prepare(struct Dwfl *dwfl);

/* Unwinds every stopped or left-running thread of t into its pcs, on dwfl
 * (the symbolizer's session). -1 with why if libdwfl cannot. Once per Dwfl. */
int target_unwind(struct target *t, struct Dwfl *dwfl, char *why, size_t whysz);

/* ---- attach-runtime.c ------------------------------------------------------ */

#define RT_MAX_THREADS 8192
#define RT_MAX_HELD 1024
#define RT_MAX_FRAMES 64

/* A lock a thread holds, from the runtime's held stack. */
struct rt_held {
	uint64_t addr;
	uint64_t id;	  /* the runtime's lock id */
	int type;	  /* enum lh_lock_type */
	int kind;	  /* enum lh_mutex_kind, or an rwlock's kind */
	int mode;	  /* enum lh_mode */
	unsigned count;	  /* recursion depth */
	int64_t held_ms;  /* -1 if unknown */
	uint64_t *pcs;	  /* where it was taken (return addresses) */
	int npcs;
	bool partial;	  /* only the caller of the acquisition is known */
	char *annotation; /* lh_lock_name(), or NULL */
	uint64_t init_pc; /* return address of its init call, 0 if none */
};

struct rt_thread {
	pid_t tid;
	bool dead; /* exited holding locks */
	struct rt_held *held;
	int nheld;
	int wait_kind; /* enum lh_wait_kind */
	uint64_t wait_addr;
	int wait_mode, wait_type;
	int64_t waited_ms; /* -1 if unknown */
};

struct rt_tables {
	bool present;	/* the target has liblockhound loaded */
	bool used;	/* and its tables were read */
	char *lib;	/* its path */
	char note[600]; /* why they were not used, or what went wrong */
	struct rt_thread *th;
	size_t n;
};

/*
 * Reads the registry of the liblockhound loaded in the target, if any, while
 * its threads are stopped: symbols from the library's .symtab, layouts from
 * lib/lockhound-private.h, and only if the library is the very build this
 * lockhound belongs to (same GNU build-id); otherwise rt->note says why not.
 */
void runtime_read(const struct target *t, struct Dwfl *dwfl, struct rt_tables *rt);
const struct rt_thread *runtime_thread(const struct rt_tables *rt, pid_t tid);
void runtime_free(struct rt_tables *rt);

/* ---- attach.c: the wait-for relation ------------------------------------ */

#define WF_MAX_OWNERS 8

/* One thread as the cycle finder sees it. */
struct wf_node {
	pid_t tid;
	int waits;		/* the lock it waits for (any id >= 0), -1 if none */
	pid_t owners[WF_MAX_OWNERS]; /* who must let go first */
	int nowners;
	bool exists;		/* false: an owner that is not a live thread */
};

#define WF_MAX_CHAIN 64

struct wf_chain {
	int member[WF_MAX_CHAIN]; /* node indexes; member[i] waits for member[i+1] */
	int n;
	int dead;		  /* node index of the exited holder, or -1 for a cycle */
};

/*
 * Finds every wait-for cycle (each reported once, starting at its lowest
 * tid) and every chain that ends at a lock whose holder does not exist
 * (one per lock, starting at its lowest-tid waiter). nodes[] holds the
 * threads and, with exists false, the owners that are gone. Returns how
 * many chains were stored in out (at most max), cycles first.
 */
int wf_find(const struct wf_node *nodes, int n, struct wf_chain *out, int max);

int cmd_attach(int argc, char **argv);
void usage_attach(void);

#endif
