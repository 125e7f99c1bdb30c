/*
 * lockhound dump [--timeout=MS] [--no-symbolize] [--no-interrupt] PID: the
 * thread dump of a running process that has the runtime, printed on our
 * stdout.
 *
 * The request cannot be turned into a write somewhere the requester
 * chooses: we listen on an abstract unix socket named after a random
 * cookie (LH_DUMP_SOCKET_PREFIX + 8 hex digits; no file, no path), send the
 * process the runtime's real-time signal with LH_DUMP_MAGIC and the cookie
 * as its value, and the process connects to that name and streams its
 * dump. The signal goes to the runtime's dump thread (named "lockhound",
 * it blocks every other signal) when there is one, so that the request
 * itself does not land in a program thread and end its sleep; else to the
 * process (sigqueue). Both ends check the other's credentials: the process
 * sends only to a listener of its own user (SO_PEERCRED at connect), and we
 * take the stream only from the process we asked (its pid and uid). We only
 * ask processes of our own user, and only those that have the runtime
 * loaded with dumps on: a signal the process does not catch would kill it.
 *
 * The stream: LH_DUMP_PROTOCOL, the dump's text, a NUL, the thread-dump
 * record (one JSON line), a NUL. Bounded in size and time.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../lib/lockhound-private.h"
#include "lockhound-cli.h"
#include "symbolize.h"

#define MAX_REPLY          (64u << 20)
#define DEFAULT_TIMEOUT_MS 5000

void
usage_dump(void)
{
	printf("usage: lockhound dump [--timeout=MS] [--no-symbolize] [--no-interrupt] PID\n\n"
	       "Prints the thread dump of process PID, which must run with the lockhound\n"
	       "runtime and belong to you: every thread, its state, the locks it holds\n"
	       "and the one it waits for (and who holds that), and its stack; deadlocks\n"
	       "first. Frames get file:line and inlined calls from the process's debug\n"
	       "information.\n"
	       "  --timeout=MS     wait at most MS milliseconds for the process (default %d)\n"
	       "  --no-symbolize   function names only, as the process wrote them\n"
	       "  --no-interrupt   leave threads that sleep, poll or wait on a socket alone\n"
	       "                   (the dump's signal would end that call early): their\n"
	       "                   call is shown instead of their stack\n\n"
	       "Exits 0, 1 if the dump shows a deadlock, 2 if there is no dump to be had.\n",
	       DEFAULT_TIMEOUT_MS);
}

/* The reply: text and the thread-dump record, split at the NULs. */
struct reply {
	char *buf;
	size_t len;
	const char *text, *json;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads /proc/PID/NAME into buf (NUL-terminated); -errno on failure. */
static int
read_proc(pid_t pid, const char *name, char *buf, size_t size)
{
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	if (ferror(f)) {
		int err = errno ? errno : EIO;

		fclose(f);
		return -err;
	}
	fclose(f);
	return 0;
}

/* A thread's comm: the runtime's dump thread. */
static bool
comm_is_dump_thread(const char *comm)
{
	return strcmp(comm, "lockhound\n") == 0;
}

/* Sends the request: to the dump thread if there is one, else to pid. 0 or
 * -1 with errno. */
static int
send_request(pid_t pid, int rtsig, union sigval value)
{
	pid_t tid = cli_find_task(pid, comm_is_dump_thread, "comm");
	siginfo_t si;

	if (tid > 0) {
		memset(&si, 0, sizeof(si));
		si.si_signo = rtsig;
		si.si_code = SI_QUEUE;
		si.si_pid = getpid();
		si.si_uid = getuid();
		si.si_value = value;
		if (syscall(SYS_rt_tgsigqueueinfo, pid, tid, rtsig, &si) == 0)
			return 0;
		if (errno != ESRCH) /* (a thread gone: ask the process) */
			return -1;
	}
	return sigqueue(pid, rtsig, value);
}

/* The value after "Key:\t" in /proc/PID/status, or NULL. */
static const char *
status_field(const char *status, const char *key)
{
	size_t l = strlen(key);

	for (const char *line = status; line && *line;) {
		if (strncmp(line, key, l) == 0 && line[l] == ':')
			return line + l + 1 + strspn(line + l + 1, " \t");
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

/* Whether the runtime is mapped in the process: a module named
 * liblockhound.so (or liblockhound.so.N...). -errno if maps is unreadable. */
static int
has_runtime(pid_t pid)
{
	char path[64], line[4096];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!found && fgets(line, sizeof(line), f)) {
		const char *slash = strrchr(line, '/');

		found = slash && strncmp(slash + 1, "liblockhound.so", 15) == 0;
	}
	fclose(f);
	return found;
}

static bool
parse_pid(const char *s, pid_t *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end || errno || v <= 0 || v > 0x3fffffff)
		return false;
	*out = (pid_t)v;
	return true;
}

/*
 * Checks that pid can be asked for a dump: it exists, is ours, has the
 * runtime and catches the runtime's signal. Says why not (one line) and
 * returns false.
 */
static bool
askable(pid_t pid, int rtsig, char *what, size_t whatsz)
{
	char status[8192];
	const char *uid, *cgt;
	unsigned long long caught;
	int rc;

	snprintf(what, whatsz, "dump: pid %d", (int)pid);
	if ((rc = read_proc(pid, "status", status, sizeof(status))) < 0) {
		cli_error(what, "%s",
		          rc == -ENOENT || rc == -ESRCH ? "no such process"
		                                        : strerror(-rc));
		return false;
	}
	uid = status_field(status, "Uid");
	if (!uid) {
		cli_error(what, "cannot read its owner");
		return false;
	}
	/* Real and effective uid must be ours (not a setuid program). */
	{
		unsigned long r, e;

		if (sscanf(uid, "%lu %lu", &r, &e) != 2 || r != (unsigned long)getuid() ||
		    e != (unsigned long)getuid()) {
			cli_error(what, "permission denied: it belongs to another user");
			return false;
		}
	}
	if ((rc = has_runtime(pid)) < 0) {
		cli_error(what, "cannot read its memory map: %s", strerror(-rc));
		return false;
	}
	if (rc == 0) {
		cli_error(what,
		          "the lockhound runtime is not loaded in it (start it with "
		          "'lockhound run' or LD_PRELOAD)");
		return false;
	}
	cgt = status_field(status, "SigCgt");
	if (!cgt || sscanf(cgt, "%llx", &caught) != 1 || !((caught >> (rtsig - 1)) & 1)) {
		cli_error(what, "thread dumps are off in it (dump_signal=0, or a setuid "
		                "program)");
		return false;
	}
	return true;
}

/* Reads the whole stream from fd until EOF, the size cap or the deadline. */
static int
read_reply(int fd, uint64_t deadline, struct reply *r)
{
	size_t cap = 1 << 16;

	r->buf = malloc(cap);
	r->len = 0;
	if (!r->buf)
		return -ENOMEM;
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		uint64_t now = now_ms();
		ssize_t n;
		int prc;

		if (now >= deadline)
			return -ETIMEDOUT;
		prc = poll(&p, 1, (int)(deadline - now));
		if (prc < 0 && errno == EINTR)
			continue;
		if (prc <= 0)
			return prc == 0 ? -ETIMEDOUT : -errno;
		if (r->len + 1 >= cap) {
			char *nb;

			if (cap >= MAX_REPLY)
				return -EFBIG;
			cap *= 2;
			nb = realloc(r->buf, cap);
			if (!nb)
				return -ENOMEM;
			r->buf = nb;
		}
		n = read(fd, r->buf + r->len, cap - r->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		r->len += (size_t)n;
	}
	r->buf[r->len] = '\0';
	return 0;
}

/* Splits the reply; false if it is not a dump. */
static bool
parse_reply(struct reply *r)
{
	size_t pl = strlen(LH_DUMP_PROTOCOL);
	char *nul, *nul2;

	if (r->len < pl || memcmp(r->buf, LH_DUMP_PROTOCOL, pl) != 0)
		return false;
	r->text = r->buf + pl;
	nul = memchr(r->text, '\0', r->len - pl);
	if (!nul || nul == r->buf + r->len)
		return false;
	r->json = nul + 1;
	nul2 = memchr(r->json, '\0', (size_t)(r->buf + r->len - r->json));
	return nul2 != NULL;
}

/*
 * A frame line of the runtime's text: "<indent>#N  0xPC in func+0x1c (mod)"
 * or, from a signal handler, "<indent>#N  0xPC (mod+0x1c)". Sets the pc and
 * where the part after the pc starts; false for any other line.
 */
static bool
frame_line(const char *line, size_t len, uint64_t *pc, size_t *rest)
{
	size_t i = strspn(line, " ");
	char *end;

	if (i >= len || line[i] != '#')
		return false;
	i++;
	if (i >= len || line[i] < '0' || line[i] > '9')
		return false;
	i += strspn(line + i, "0123456789");
	i += strspn(line + i, " ");
	if (i + 2 >= len || line[i] != '0' || line[i + 1] != 'x')
		return false;
	*pc = strtoull(line + i, &end, 16);
	if ((size_t)(end - line) > len || end == line + i + 2)
		return false;
	*rest = (size_t)(end - line);
	return true;
}

/* One frame line with its source position, and the calls inlined at its pc
 * on lines of their own before it (as `lockhound explain` shows them). */
static void
print_frame(FILE *out, const char *line, size_t len, uint64_t pc, size_t rest,
	    struct symbolizer *s)
{
	struct sym_frame f;
	int indent = (int)strspn(line, " ");
	const struct sym_line *top;

	sym_code(s, pc, true, &f);
	/* The runtime's own frame is the lock call the program made: its
	 * insides are not the program's business. */
	if (f.status != SYM_OK || f.ninl == 0 || !f.inl[f.ninl - 1].file ||
	    (f.module && strstr(f.module, "/liblockhound.so"))) {
		fwrite(line, 1, len, out);
		return;
	}
	for (int i = 0; i + 1 < f.ninl; i++)
		fprintf(out, "%*s    %s at %s:%d (inlined)\n", indent, "",
			f.inl[i].function ? f.inl[i].function : "??",
			f.inl[i].file ? f.inl[i].file : "??", f.inl[i].line);
	top = &f.inl[f.ninl - 1];
	fwrite(line, 1, rest, out);
	if (strncmp(line + rest, " in ", 4) != 0 && top->function)
		fprintf(out, " in %s", top->function); /* the handler's raw frames */
	fwrite(line + rest, 1, len - rest - (line[len - 1] == '\n'), out);
	fprintf(out, " at %s:%d\n", top->file, top->line);
}

/*
 * Prints the dump: the runtime's own text (function names from the
 * process's ELF symbol tables), with file:line and inlined calls added to
 * every frame from the process's debug information (libdwfl, on
 * /proc/PID/maps, while the process is there); without them if its modules
 * cannot be read (said once) or with --no-symbolize. r->json holds the same
 * dump as a thread-dump record (lockhound-report(5)) for other renderings.
 */
static void
render_dump(pid_t pid, const struct reply *r, FILE *out, bool symbolize)
{
	struct symbolizer *s = NULL;
	char err[256];

	if (symbolize && !(s = sym_open_pid(pid, err, sizeof(err))))
		cli_error("dump", "pid %d: no file:line: %s", (int)pid, err);
	for (const char *p = r->text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p), rest;
		uint64_t pc;

		if (s && frame_line(p, len, &pc, &rest))
			print_frame(out, p, len, pc, rest, s);
		else
			fwrite(p, 1, len, out);
		p += len;
	}
	sym_free(s);
}

/* True if the dump found a deadlock: its record's "deadlocks" is not empty. */
static bool
shows_deadlock(const struct reply *r)
{
	const char *d = strstr(r->json, "\"deadlocks\":[");

	return d && d[13] == '{';
}

int
cmd_dump(int argc, char **argv)
{
	struct sockaddr_un addr;
	struct reply reply = {0};
	char what[64], name[64];
	int timeout = DEFAULT_TIMEOUT_MS, rtsig = SIGRTMAX - LH_DUMP_RTSIG_BELOW_MAX;
	int fd, conn = -1, rc = EXIT_USAGE, i;
	uint32_t cookie = 0;
	uint64_t deadline;
	union sigval value;
	socklen_t alen;
	pid_t pid = 0;
	bool symbolize = true, quiet = false;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--no-symbolize") == 0) {
			symbolize = false;
		} else if (strcmp(argv[i], "--no-interrupt") == 0) {
			quiet = true;
		} else if (strncmp(argv[i], "--timeout=", 10) == 0) {
			char *end;
			long v = strtol(argv[i] + 10, &end, 10);

			if (*end || end == argv[i] + 10 || v < 1 || v > 3600000) {
				cli_error("dump",
				          "--timeout: not a number of milliseconds "
				          "(1 to 3600000)");
				return EXIT_USAGE;
			}
			timeout = (int)v;
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] == '-') {
			cli_error("dump",
			          "%s: unknown option (see 'lockhound dump --help')",
			          argv[i]);
			return EXIT_USAGE;
		} else {
			break;
		}
	}
	if (i != argc - 1) {
		cli_error("dump", i >= argc
		                      ? "no process id (see 'lockhound dump --help')"
		                      : "one process id only");
		return EXIT_USAGE;
	}
	if (!parse_pid(argv[i], &pid)) {
		cli_error("dump", "%s: not a process id", argv[i]);
		return EXIT_USAGE;
	}
	if (!askable(pid, rtsig, what, sizeof(what)))
		return EXIT_USAGE;

	while ((cookie & ~LH_DUMP_COOKIE_QUIET) == 0) {
		if (getrandom(&cookie, sizeof(cookie), 0) != sizeof(cookie)) {
			cli_error("dump", "getrandom: %s", strerror(errno));
			return EXIT_USAGE;
		}
		cookie = quiet ? cookie | LH_DUMP_COOKIE_QUIET : cookie & ~LH_DUMP_COOKIE_QUIET;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(name, sizeof(name), "%s%08x", LH_DUMP_SOCKET_PREFIX, cookie);
	memcpy(addr.sun_path + 1, name, strlen(name));
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, alen) < 0 || listen(fd, 4) < 0) {
		cli_error("dump", "cannot listen for the dump: %s", strerror(errno));
		goto out;
	}
	value.sival_ptr = (void *)(uintptr_t)(LH_DUMP_MAGIC << 32 | cookie);
	if (send_request(pid, rtsig, value) < 0) {
		cli_error(what, "%s",
		          errno == ESRCH   ? "no such process"
		          : errno == EPERM ? "permission denied"
		                           : strerror(errno));
		goto out;
	}
	deadline = now_ms() + (uint64_t)timeout;
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		struct ucred cr;
		socklen_t crlen = sizeof(cr);
		uint64_t now = now_ms();
		int prc;

		prc = now < deadline ? poll(&p, 1, (int)(deadline - now)) : 0;
		if (prc < 0 && errno == EINTR)
			continue;
		if (prc <= 0) {
			char stat[512];
			const char *st = NULL;

			if (read_proc(pid, "stat", stat, sizeof(stat)) == 0 &&
			    strrchr(stat, ')'))
				st = strrchr(stat, ')') + 2;
			cli_error(what, "no answer within %d ms%s", timeout,
			          st && (*st == 'T' || *st == 't')
			              ? " (the process is stopped)"
			          : st && *st == 'Z' ? " (the process has exited)"
			                             : "");
			goto out;
		}
		conn = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn < 0)
			continue;
		/* Only the process we asked. */
		if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0 &&
		    cr.pid == pid && cr.uid == getuid())
			break;
		close(conn);
		conn = -1;
	}
	if ((rc = read_reply(conn, deadline, &reply)) < 0 || !parse_reply(&reply)) {
		cli_error(what, "%s",
		          rc == -ETIMEDOUT ? "the dump did not arrive in time"
		          : rc == -EFBIG   ? "the dump is larger than 64 MiB"
		          : rc < 0         ? strerror(-rc)
		                           : "the answer is not a thread dump");
		rc = EXIT_USAGE;
		goto out;
	}
	render_dump(pid, &reply, stdout, symbolize);
	if (fflush(stdout) != 0) {
		cli_error("dump", "standard output: %s", strerror(errno));
		rc = EXIT_USAGE;
		goto out;
	}
	rc = shows_deadlock(&reply) ? EXIT_FINDINGS : EXIT_CLEAN;
out:
	free(reply.buf);
	if (conn >= 0)
		close(conn);
	if (fd >= 0)
		close(fd);
	return rc;
}
