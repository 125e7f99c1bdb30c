/*
 * Getting into a process and out again, for lockhound attach.
 *
 * Threads are stopped with PTRACE_SEIZE and PTRACE_INTERRUPT, never with
 * PTRACE_ATTACH: ATTACH sends a real SIGSTOP that must be waited for and
 * swallowed, can stay pending behind another stop, and leaves the process
 * stopped if the tracer dies first; SEIZE sends nothing, INTERRUPT traps
 * the thread in a stop of its own, and should lockhound die, the kernel
 * detaches its tracees and they go on. A job-control stop (the process was
 * stopped, or is stopped while we look) is reported as such and the kernel
 * keeps it in force after PTRACE_DETACH; a signal that arrives while a
 * thread is held is delivered at detach.
 *
 * A stop of either kind makes a thread leave its system call. Most calls
 * are restarted as if nothing happened (futex waits, so every lock, condition
 * variable, semaphore and join; nanosleep with the time left; poll, select,
 * read of a pipe), but some fail with EINTR (epoll_wait, sigtimedwait,
 * semop, io_getevents, socket calls with a timeout): measured on Linux 6.x,
 * and documented in signal(7). So a thread blocked in one of those is not
 * stopped (unless --stop-all): its stack pointer and pc come from
 * /proc/PID/task/TID/syscall, which the kernel fills in without stopping it.
 *
 * All of it runs in one thread: a tracee belongs to the tracing thread.
 */
#include "config.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "lockhound-cli.h"

#ifndef PTRACE_EVENT_STOP
#define PTRACE_EVENT_STOP 128
#endif

uint64_t
attach_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads a small /proc file into buf (NUL-terminated); its length or -1. */
static ssize_t
read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return -1;
	while ((size_t)got + 1 < size && (n = read(fd, buf + got, size - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	return got;
}

/* The value after "Key:" in a /proc status text, or NULL. */
static const char *
status_field(const char *status, const char *key)
{
	size_t k = strlen(key);

	for (const char *p = status; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (strncmp(p, key, k) == 0 && p[k] == ':') {
			p += k + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
	}
	return NULL;
}

static long
status_long(const char *status, const char *key, long dflt)
{
	const char *v = status_field(status, key);

	return v ? strtol(v, NULL, 10) : dflt;
}

/* ---- why attaching is refused ------------------------------------------- */

/* PF_KTHREAD in the flags of /proc/PID/stat (the 9th field). */
static bool
is_kthread(pid_t pid)
{
	char path[64], stat[1024];
	const char *p;
	unsigned long flags = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, stat, sizeof(stat)) <= 0 || !(p = strrchr(stat, ')')))
		return false;
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
		return false;
	return flags & 0x00200000; /* PF_KTHREAD */
}

pid_t
cli_find_task(pid_t pid, bool (*pick)(const char *buf), const char *file)
{
	char path[64], buf[4096];
	struct dirent *e;
	pid_t found = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (e = readdir(d)) != NULL) {
		char p2[96];
		long tid = strtol(e->d_name, NULL, 10);

		if (tid <= 0)
			continue;
		snprintf(p2, sizeof(p2), "/proc/%d/task/%ld/%s", (int)pid, tid, file);
		if (read_small(p2, buf, sizeof(buf)) > 0 && pick(buf) && (!found || tid == pid))
			found = (pid_t)tid;
	}
	if (d)
		closedir(d);
	return found;
}

/* A thread's status: it has not exited. */
static bool
status_live(const char *status)
{
	const char *st = status_field(status, "State");

	return st && *st != 'Z' && *st != 'X';
}

pid_t
attach_live_tid(pid_t pid)
{
	return cli_find_task(pid, status_live, "status");
}

/* Whether some thread of pid has not exited (its main thread may have:
 * pthread_exit in main leaves a zombie leader and live threads). */
static bool
live_threads(pid_t pid)
{
	return attach_live_tid(pid) != 0;
}

bool
attach_precheck(pid_t pid, char *why, size_t size)
{
	char path[64], status[4096];
	const char *state;

	if (pid == getpid()) {
		snprintf(why, size, "that is this lockhound process");
		return false;
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, status, sizeof(status)) <= 0) {
		snprintf(why, size, "no such process");
		return false;
	}
	if (status_long(status, "Tgid", pid) != pid) {
		snprintf(why, size, "a thread of process %ld, not a process: attach to %ld",
			 status_long(status, "Tgid", 0), status_long(status, "Tgid", 0));
		return false;
	}
	state = status_field(status, "State");
	if (state && (*state == 'Z' || *state == 'X') && !live_threads(pid)) {
		snprintf(why, size, "the process has exited (a zombie its parent has not reaped)");
		return false;
	}
	if (is_kthread(pid)) {
		snprintf(why, size, "a kernel thread, not a process");
		return false;
	}
	{
		/* Registers and layouts are the 64-bit ones. (Unreadable without
		 * permission: then attaching says why.) */
		unsigned char ident[EI_NIDENT];
		int fd;

		snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && read(fd, ident, sizeof(ident)) == (ssize_t)sizeof(ident) &&
		    memcmp(ident, ELFMAG, SELFMAG) == 0 && ident[EI_CLASS] != ELFCLASS64) {
			close(fd);
			snprintf(why, size, "a 32-bit process: lockhound attach reads 64-bit ones");
			return false;
		}
		if (fd >= 0)
			close(fd);
	}
	return true;
}

/* Whether we hold CAP_SYS_PTRACE (bit 19 of CapEff). */
static bool
have_cap_ptrace(void)
{
	char status[4096];
	const char *v;

	if (read_small("/proc/self/status", status, sizeof(status)) <= 0)
		return geteuid() == 0;
	v = status_field(status, "CapEff");
	return v ? (strtoull(v, NULL, 16) >> 19) & 1 : geteuid() == 0;
}

static bool
descends_from_us(pid_t pid)
{
	char path[64], status[4096];

	for (int depth = 0; depth < 4096 && pid > 1; depth++) {
		snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
		if (read_small(path, status, sizeof(status)) <= 0)
			return false;
		pid = (pid_t)status_long(status, "PPid", 0);
		if (pid == getpid())
			return true;
	}
	return false;
}

void
attach_deny_facts(pid_t pid, int err, struct deny_facts *f)
{
	char path[64], status[4096], buf[64];
	const char *uids;
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->err = err;
	f->pid = pid;
	f->yama = -1;
	f->dumpable = true;
	f->same_uid = true;
	if (read_small("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof(buf)) > 0)
		f->yama = atoi(buf);
	f->privileged = have_cap_ptrace();
	f->descendant = descends_from_us(pid);
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, status, sizeof(status)) <= 0)
		return;
	f->tracer = (pid_t)status_long(status, "TracerPid", 0);
	if (f->tracer > 0) {
		snprintf(path, sizeof(path), "/proc/%d/comm", (int)f->tracer);
		if (read_small(path, f->tracer_name, sizeof(f->tracer_name)) > 0)
			f->tracer_name[strcspn(f->tracer_name, "\n")] = '\0';
	}
	uids = status_field(status, "Uid");
	if (uids) {
		unsigned long r = 0, e = 0, s = 0;

		if (sscanf(uids, "%lu %lu %lu", &r, &e, &s) == 3) {
			f->target_uid = (uid_t)r;
			f->same_uid = r == getuid() && e == getuid() && s == getuid();
		}
	}
	/* A process that is not dumpable has its /proc files owned by root. */
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (stat(path, &st) == 0 && st.st_uid == 0 && f->target_uid != 0)
		f->dumpable = false;
}

const char *
attach_denied_reason(const struct deny_facts *f, char *buf, size_t size)
{
	if (f->err == ESRCH) {
		snprintf(buf, size, "no such process (it has exited)");
	} else if (f->tracer > 0) {
		snprintf(buf, size,
			 "already traced by process %d%s%s%s: a process can have one tracer; "
			 "detach the debugger first",
			 (int)f->tracer, f->tracer_name[0] ? " (" : "", f->tracer_name,
			 f->tracer_name[0] ? ")" : "");
	} else if (f->err != EPERM && f->err != EACCES) {
		snprintf(buf, size, "ptrace: %s", strerror(f->err));
	} else if (f->yama == 3) {
		snprintf(buf, size, "ptrace is disabled on this system "
				    "(kernel.yama.ptrace_scope = 3, until the next boot)");
	} else if (f->yama == 2 && !f->privileged) {
		snprintf(buf, size, "permission denied: only a process with CAP_SYS_PTRACE may "
				    "attach (kernel.yama.ptrace_scope = 2); run as root");
	} else if (!f->same_uid && !f->privileged) {
		struct passwd *pw = getpwuid(f->target_uid);

		char who[96];

		if (pw)
			snprintf(who, sizeof(who), "user %s (uid %lu)", pw->pw_name,
				 (unsigned long)f->target_uid);
		else
			snprintf(who, sizeof(who), "uid %lu", (unsigned long)f->target_uid);
		snprintf(buf, size,
			 "permission denied: the process belongs to %s; attach as that user or "
			 "as root",
			 who);
	} else if (!f->dumpable && !f->privileged) {
		snprintf(buf, size, "permission denied: the process is not dumpable (setuid, "
				    "setgid, or prctl(PR_SET_DUMPABLE, 0)); attach as root");
	} else if (f->yama == 1 && !f->privileged && !f->descendant) {
		snprintf(buf, size,
			 "permission denied by Yama (kernel.yama.ptrace_scope = 1): only an "
			 "ancestor may attach; run as root, or set the sysctl to 0, or have the "
			 "program call prctl(PR_SET_PTRACER, ...)");
	} else {
		snprintf(buf, size, "permission denied (ptrace: %s; a security module such "
				    "as SELinux or AppArmor may forbid it)",
			 strerror(f->err));
	}
	return buf;
}

/* ---- system calls ---------------------------------------------------------- */

struct scname {
	long nr;
	const char *name;
};

static const struct scname scnames[] = {
	{SYS_read, "read"},
	{SYS_write, "write"},
	{SYS_poll, "poll"},
	{SYS_readv, "readv"},
	{SYS_writev, "writev"},
	{SYS_pread64, "pread64"},
	{SYS_select, "select"},
	{SYS_sched_yield, "sched_yield"},
	{SYS_nanosleep, "nanosleep"},
	{SYS_pause, "pause"},
	{SYS_accept, "accept"},
	{SYS_connect, "connect"},
	{SYS_sendto, "sendto"},
	{SYS_recvfrom, "recvfrom"},
	{SYS_sendmsg, "sendmsg"},
	{SYS_recvmsg, "recvmsg"},
	{SYS_wait4, "wait4"},
	{SYS_semop, "semop"},
	{SYS_msgrcv, "msgrcv"},
	{SYS_flock, "flock"},
	{SYS_fcntl, "fcntl"},
	{SYS_rt_sigsuspend, "rt_sigsuspend"},
	{SYS_rt_sigtimedwait, "rt_sigtimedwait"},
	{SYS_futex, "futex"},
	{SYS_io_getevents, "io_getevents"},
	{SYS_semtimedop, "semtimedop"},
	{SYS_epoll_wait, "epoll_wait"},
	{SYS_clock_nanosleep, "clock_nanosleep"},
	{SYS_waitid, "waitid"},
	{SYS_pselect6, "pselect6"},
	{SYS_ppoll, "ppoll"},
	{SYS_epoll_pwait, "epoll_pwait"},
	{SYS_accept4, "accept4"},
	{SYS_recvmmsg, "recvmmsg"},
	{SYS_sendmmsg, "sendmmsg"},
	{SYS_io_pgetevents, "io_pgetevents"},
	{SYS_epoll_pwait2, "epoll_pwait2"},
	{SYS_futex_waitv, "futex_waitv"},
};

const char *
attach_syscall_name(long nr)
{
	for (size_t i = 0; i < sizeof(scnames) / sizeof(scnames[0]); i++)
		if (scnames[i].nr == nr)
			return scnames[i].name;
	return NULL;
}

bool
attach_stop_would_interrupt(long nr, bool fd_is_socket)
{
	switch (nr) {
	case SYS_epoll_wait:
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
	case SYS_rt_sigtimedwait:
	case SYS_semop:
	case SYS_semtimedop:
	case SYS_io_getevents:
	case SYS_io_pgetevents:
	case SYS_accept:
	case SYS_accept4:
	case SYS_connect:
	case SYS_recvfrom:
	case SYS_recvmsg:
	case SYS_recvmmsg:
	case SYS_sendto:
	case SYS_sendmsg:
	case SYS_sendmmsg:
		return true;
	case SYS_read:
	case SYS_readv:
	case SYS_write:
	case SYS_writev:
		return fd_is_socket; /* SO_RCVTIMEO / SO_SNDTIMEO: unknowable from here */
	default:
		return false;
	}
}

bool
attach_parse_syscall(const char *line, long *nr, uint64_t args[6], uint64_t *sp,
		     uint64_t *pc)
{
	char *end;
	unsigned long long v[8];
	int n = 0;

	if (strncmp(line, "running", 7) == 0) {
		*nr = -2;
		return true;
	}
	errno = 0;
	*nr = strtol(line, &end, 10);
	if (end == line || errno)
		return false;
	for (const char *p = end; n < 8;) {
		while (*p == ' ')
			p++;
		if (*p == '\0' || *p == '\n')
			break;
		v[n++] = strtoull(p, &end, 0);
		if (end == p)
			return false;
		p = end;
	}
	if (*nr < 0) {
		if (n != 2)
			return false;
		memset(args, 0, 6 * sizeof(*args));
		*sp = v[0];
		*pc = v[1];
		return true;
	}
	if (n != 8)
		return false;
	for (int i = 0; i < 6; i++)
		args[i] = v[i];
	*sp = v[6];
	*pc = v[7];
	return true;
}

/* ---- the threads ------------------------------------------------------------ */

struct tthread *
target_thread(struct target *t, pid_t tid)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->th[i].tid == tid)
			return &t->th[i];
	return NULL;
}

/* Adds the tasks of /proc/PID/task we do not know yet. Returns how many, or
 * -1 if the directory cannot be read. */
static int
list_tasks(struct target *t)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int added = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)t->pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char *end;
		long tid = strtol(e->d_name, &end, 10);
		struct tthread *th;

		if (tid <= 0 || *end || target_thread(t, (pid_t)tid))
			continue;
		if (t->n >= ATTACH_MAX_THREADS) {
			t->more++;
			continue;
		}
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 64;
			struct tthread *n = realloc(t->th, cap * sizeof(*n));

			if (!n)
				break;
			t->th = n;
			t->cap = cap;
		}
		th = &t->th[t->n++];
		memset(th, 0, sizeof(*th));
		th->tid = (pid_t)tid;
		th->nr = -1;
		added++;
	}
	closedir(d);
	return added;
}

static void
read_thread_info(struct target *t, struct tthread *th)
{
	char path[96], buf[4096];
	const char *state;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)t->pid, (int)th->tid);
	if (read_small(path, buf, sizeof(buf)) > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(th->name, sizeof(th->name), "%.16s", buf);
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)t->pid, (int)th->tid);
	if (read_small(path, buf, sizeof(buf)) > 0 && (state = status_field(buf, "State")))
		th->pstate = *state;
}

static bool
read_syscall_file(struct target *t, struct tthread *th)
{
	char path[96], buf[512];

	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)t->pid, (int)th->tid);
	th->sc_ok = read_small(path, buf, sizeof(buf)) > 0 &&
		    attach_parse_syscall(buf, &th->nr, th->args, &th->sp, &th->pc) &&
		    th->nr != -2;
	return th->sc_ok;
}

static bool
fd_is_socket(struct target *t, uint64_t fd)
{
	char path[96], link[64];
	ssize_t n;

	if (fd > 1u << 30)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fd/%" PRIu64, (int)t->pid, fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n <= 0)
		return false;
	link[n] = '\0';
	return strncmp(link, "socket:", 7) == 0;
}

/* Seizes th and asks it to stop. 0, or -errno when PTRACE_SEIZE failed. */
static int
seize_one(struct target *t, struct tthread *th)
{
	read_thread_info(t, th);
	if (th->pstate == 'Z' || th->pstate == 'X') {
		th->st = TH_ZOMBIE;
		return 0;
	}
	if (read_syscall_file(t, th) && th->nr >= 0 && !t->stop_all &&
	    attach_stop_would_interrupt(th->nr, fd_is_socket(t, th->args[0]))) {
		th->st = TH_LEFT;
		return 0;
	}
	if (ptrace(PTRACE_SEIZE, th->tid, NULL, NULL) != 0) {
		int err = errno;

		th->st = err == ESRCH ? TH_GONE : TH_FAILED;
		return -err;
	}
	th->seized = true;
	if (!t->stop_ns)
		t->stop_ns = attach_now_ns();
	if (ptrace(PTRACE_INTERRUPT, th->tid, NULL, NULL) != 0 && errno == ESRCH)
		th->st = TH_GONE; /* its exit is reaped below */
	return 0;
}

/* Collects stop (and exit) notifications until every seized thread has
 * stopped or the deadline passes. */
static void
wait_stops(struct target *t, uint64_t deadline)
{
	for (;;) {
		bool pending = false;
		int status;
		pid_t w;

		for (size_t i = 0; i < t->n; i++)
			pending |= t->th[i].seized && t->th[i].st == TH_NEW;
		if (!pending)
			return;
		w = waitpid(-1, &status, __WALL | WNOHANG);
		if (w > 0) {
			struct tthread *th = target_thread(t, w);

			if (!th)
				continue;
			if (WIFSTOPPED(status)) {
				int sig = WSTOPSIG(status), event = status >> 16;

				th->st = TH_STOPPED;
				if (event == PTRACE_EVENT_STOP)
					th->group_stop = sig != SIGTRAP;
				else if (event == 0)
					th->pending_sig = sig; /* a signal-delivery stop */
			} else if (WIFEXITED(status) || WIFSIGNALED(status)) {
				th->st = TH_GONE;
				th->seized = false;
			}
			continue;
		}
		if (w < 0 && errno == ECHILD)
			return;
		if (attach_now_ns() > deadline)
			return;
		{
			struct timespec ts = {0, 500000};

			nanosleep(&ts, NULL);
		}
	}
}

static bool
in_restart(long long rax)
{
	return rax == -512 || rax == -513 || rax == -514 || rax == -516;
}

/* Registers of a stopped thread, in DWARF order; and what it was doing. */
static void
read_regs(struct tthread *th)
{
#if defined(__x86_64__)
	struct user_regs_struct r;

	if (ptrace(PTRACE_GETREGS, th->tid, NULL, &r) != 0)
		return;
	th->have_regs = true;
	th->regs[0] = r.rax;
	th->regs[1] = r.rdx;
	th->regs[2] = r.rcx;
	th->regs[3] = r.rbx;
	th->regs[4] = r.rsi;
	th->regs[5] = r.rdi;
	th->regs[6] = r.rbp;
	th->regs[7] = r.rsp;
	th->regs[8] = r.r8;
	th->regs[9] = r.r9;
	th->regs[10] = r.r10;
	th->regs[11] = r.r11;
	th->regs[12] = r.r12;
	th->regs[13] = r.r13;
	th->regs[14] = r.r14;
	th->regs[15] = r.r15;
	th->regs[16] = r.rip;
	/*
	 * What /proc/PID/task/TID/syscall shows for a stopped thread, but
	 * exact: it is inside a call only if the call is to be restarted
	 * (otherwise it was running, or returning from a call that ended).
	 */
	th->sp = r.rsp;
	th->pc = r.rip;
	th->sc_ok = true;
	if ((long long)r.orig_rax >= 0 && in_restart((long long)r.rax)) {
		th->nr = (long)r.orig_rax;
		th->args[0] = r.rdi;
		th->args[1] = r.rsi;
		th->args[2] = r.rdx;
		th->args[3] = r.r10;
		th->args[4] = r.r8;
		th->args[5] = r.r9;
	} else {
		th->nr = -1;
	}
#else
	(void)th; /* cmd_attach refuses other machines */
#endif
}

/* Lets go of everything seized so far (when attaching fails midway). */
static void
release_all(struct target *t)
{
	wait_stops(t, attach_now_ns() + 100000000u);
	target_resume(t);
}

int
target_stop(struct target *t, char *why, size_t whysz)
{
	uint64_t deadline = attach_now_ns() + (uint64_t)ATTACH_STOP_MS * 1000000u;
	bool any = false;

	for (int round = 0; round < 16; round++) {
		size_t before = t->n;
		int added = list_tasks(t);

		if (added < 0) {
			if (t->n == 0) {
				snprintf(why, whysz, "no such process");
				return -1;
			}
			break; /* the process exited while we looked */
		}
		if (added == 0 && round > 0)
			break;
		for (size_t i = before; i < t->n; i++) {
			int rc = seize_one(t, &t->th[i]);

			if (rc == -EPERM && !any) {
				struct deny_facts f;

				attach_deny_facts(t->pid, EPERM, &f);
				attach_denied_reason(&f, why, whysz);
				release_all(t);
				return -1;
			}
			any |= t->th[i].seized;
		}
		wait_stops(t, deadline);
	}
	if (t->n == 0 || (!any && t->th[0].st == TH_GONE)) {
		snprintf(why, whysz, "no such process (it has exited)");
		release_all(t);
		return -1;
	}
	if (!any) {
		/* Every thread was left running: the same permission check, through
		 * a read of a stack, before anything is shown. */
		for (size_t i = 0; i < t->n; i++) {
			uint64_t word;

			if (t->th[i].st != TH_LEFT)
				continue;
			if (!target_read(t, t->th[i].sp, &word, sizeof(word)) &&
			    (errno == EPERM || errno == EACCES)) {
				struct deny_facts f;

				attach_deny_facts(t->pid, EPERM, &f);
				attach_denied_reason(&f, why, whysz);
				return -1;
			}
			break;
		}
	}
	for (size_t i = 0; i < t->n; i++) {
		struct tthread *th = &t->th[i];

		if (th->seized && th->st == TH_NEW)
			th->st = TH_NO_STOP;
		if (th->st == TH_STOPPED)
			read_regs(th);
		else if (th->st != TH_LEFT && th->st != TH_GONE)
			read_syscall_file(t, th);
	}
	return 0;
}

void
target_resume(struct target *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct tthread *th = &t->th[i];
		int status;

		if (!th->seized)
			continue;
		if (th->st != TH_STOPPED && waitpid(th->tid, &status, __WALL | WNOHANG) == th->tid &&
		    WIFSTOPPED(status)) {
			th->st = TH_STOPPED;
			if ((status >> 16) == 0)
				th->pending_sig = WSTOPSIG(status);
		}
		/*
		 * A thread that never stopped cannot be detached; the kernel lets
		 * it go, its pending stop cancelled, when this process exits.
		 */
		if (th->st == TH_STOPPED &&
		    ptrace(PTRACE_DETACH, th->tid, NULL, (void *)(intptr_t)th->pending_sig) == 0)
			th->seized = false;
	}
	if (t->stop_ns)
		t->held_ns = attach_now_ns() - t->stop_ns;
}

bool
target_read(const struct target *t, uint64_t addr, void *buf, size_t n)
{
	struct iovec local = {buf, n}, remote = {(void *)(uintptr_t)addr, n};
	pid_t via = t->mem_tid ? t->mem_tid : t->pid;
	char path[64];
	ssize_t got;
	int fd;

	if (n == 0)
		return true;
	got = process_vm_readv(via, &local, 1, &remote, 1, 0);
	if (got == (ssize_t)n)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)via);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	got = pread(fd, buf, n, (off_t)addr);
	close(fd);
	return got == (ssize_t)n;
}

void
target_snap(const struct target *t, uint64_t futex, struct gsnap *s)
{
	uint64_t lo = futex >= GLIBC_SNAP_BEFORE ? futex - GLIBC_SNAP_BEFORE : 0;
	uint64_t page = futex & ~(uint64_t)4095;

	memset(s, 0, sizeof(*s));
	s->addr = lo;
	if (target_read(t, lo, s->bytes, GLIBC_SNAP_SIZE)) {
		s->len = GLIBC_SNAP_SIZE;
		return;
	}
	/* The object may straddle a page boundary next to unmapped memory: keep
	 * what lies in the futex word's page. */
	if (lo < page)
		lo = page;
	s->addr = lo;
	{
		uint64_t hi = futex + (GLIBC_SNAP_SIZE - GLIBC_SNAP_BEFORE);

		if (hi > page + 4096)
			hi = page + 4096;
		if (hi > lo && target_read(t, lo, s->bytes, hi - lo))
			s->len = hi - lo;
	}
}

void
target_free(struct target *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->th[i].pcs);
		free(t->th[i].unwind_note);
	}
	free(t->th);
	memset(t, 0, sizeof(*t));
}
