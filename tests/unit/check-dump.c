/*
 * Unit tests for lib/dump.c: thread dumps of real threads of this process
 * (their held locks and waits recorded through acquire.h and wait.c, their
 * stacks through the runtime's signal), the dump thread, the handler's own
 * dump without one, the program's signal actions kept or yielded to, and
 * the credential check on `lockhound dump`'s socket.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "acquire.h"
#include "check-log.h"
#include "check-main.h"

static pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER, m2 = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int waiting;
static pthread_barrier_t step;
static char out_path[64];
static int saved_stderr = -1;

static void
nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Sends stderr to a fresh file until stderr_text(). */
static void
capture_stderr(void)
{
	int fd;

	strcpy(out_path, "/tmp/lh-check-dump.XXXXXX");
	fd = mkstemp(out_path);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

/* What was written to stderr since capture_stderr() (malloc'd). */
static char *
stderr_text(void)
{
	static char buf[1 << 20];
	int fd = open(out_path, O_RDONLY);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);

	close(fd);
	unlink(out_path);
	if (saved_stderr >= 0) {
		dup2(saved_stderr, 2);
		close(saved_stderr);
		saved_stderr = -1;
	}
	buf[n > 0 ? n : 0] = '\0';
	return strdup(buf);
}

static void
take(struct lh_thread *t, pthread_mutex_t *m)
{
	int slot = lh_before_lock(t, m, LH_TYPE_MUTEX, LH_MODE_WRITE, LH_BLOCKING, 0, 0);

	pthread_mutex_lock(m);
	lh_after_lock(t, slot, m);
}

static void
give(struct lh_thread *t, pthread_mutex_t *m)
{
	lh_on_unlock(t, m, LH_TYPE_MUTEX, 0, 0);
	pthread_mutex_unlock(m);
}

/* Waits for m1 (recorded, then really blocked) and takes it. */
static __attribute__((noinline)) void *
waiter(void *arg)
{
	struct lh_thread *t;

	prctl(PR_SET_NAME, (const char *)arg);
	t = lh_enter();
	lh_leave(t);
	lh_wait_begin(t, LH_WAIT_LOCK, &m1, LH_TYPE_MUTEX, LH_MODE_WRITE, NULL, 0, 0);
	atomic_fetch_add(&waiting, 1);
	pthread_mutex_lock(&m1);
	lh_wait_end(t);
	t->busy = 1;
	lh_after_lock(
	    t, lh_before_lock(t, &m1, LH_TYPE_MUTEX, LH_MODE_WRITE, LH_TRY, 0, 0), &m1);
	give(t, &m1);
	t->busy = 0;
	return NULL;
}

static char
sched_state(pid_t tid)
{
	char path[64], buf[512], *p;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strrchr(buf, ')');
	return p ? p[2] : '?';
}

/* Waits until n waiters are asleep on m1. */
static void
until_waiting(int n)
{
	bool asleep;

	do {
		struct lh_thread *t;

		nap(5);
		asleep = atomic_load(&waiting) == n;
		lh_threads_lock();
		for (t = lh_threads_first(); asleep && t; t = t->next)
			if (atomic_load(&t->wait_addr) == (uintptr_t)&m1)
				asleep = sched_state(t->tid) == 'S';
		lh_threads_unlock();
	} while (!asleep);
}

START_TEST(test_dump_lists_threads_their_locks_and_stacks)
{
	static const char *names[] = {"unit-w1", "unit-w2", "unit-w3"};
	struct lh_thread *t;
	pthread_t th[3];
	char *text, line[128];
	int rc;

	ck_assert(lh_ready());
	t = lh_enter();
	take(t, &m1);
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, waiter, (void *)names[i]);
	until_waiting(3);
	capture_stderr();
	rc = lh_dump_run((uintptr_t)__builtin_dwarf_cfa());
	text = stderr_text();
	give(t, &m1);
	lh_leave(t);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(strstr(text, "lockhound: thread-dump: 4 threads (pid ") == text,
	              "%s", text);
	ck_assert_msg(strstr(text, "from lh_dump()\n"), "%s", text);
	snprintf(line, sizeof(line), "    holds m1 (mutex %p), for ", (void *)&m1);
	ck_assert_msg(strstr(text, line), "%s", text);
	ck_assert_msg(strstr(text, "3 threads wait for it, taken at:\n"), "%s", text);
	for (int i = 0; i < 3; i++) {
		snprintf(line, sizeof(line), "\"%s\": waiting for m1 (mutex %p), for ",
		         names[i], (void *)&m1);
		ck_assert_msg(strstr(text, line), "%s", text);
	}
	snprintf(line, sizeof(line), " ms, held by thread %d", (int)lh_gettid());
	ck_assert_int_eq(check_count(text, line), 3);
	ck_assert_int_eq(check_count(text, "    stack:\n"), 4);
	ck_assert_int_eq(check_count(text, " in waiter+0x"), 3);
	free(text);
}
END_TEST

static _Atomic int blocker_ready;

static void *
blocker(void *arg)
{
	sigset_t all;

	(void)arg;
	prctl(PR_SET_NAME, "unit-blocker");
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	atomic_store(&blocker_ready, 1);
	pthread_barrier_wait(&step);
	return NULL;
}

START_TEST(test_dump_names_a_thread_that_blocks_its_signal)
{
	struct lh_thread *t;
	pthread_t th;
	char *text;

	ck_assert(lh_ready());
	pthread_barrier_init(&step, NULL, 2);
	pthread_create(&th, NULL, blocker, NULL);
	while (!atomic_load(&blocker_ready))
		nap(1);
	t = lh_enter();
	capture_stderr();
	ck_assert_int_eq(lh_dump_run(0), 0);
	/* Asked again: it is known to block the signal, and still does. */
	ck_assert_int_eq(lh_dump_run(0), 0);
	text = stderr_text();
	lh_leave(t);
	pthread_barrier_wait(&step);
	pthread_join(th, NULL);
	ck_assert_int_eq(check_count(text,
	                       "\"unit-blocker\": running\n    stack unknown: the thread "
	                       "blocks SIGRTMIN+28, the signal that asks for it\n"),
	                 2);
	free(text);
}
END_TEST

/* Holds `hold`, then records a wait for `want` without blocking. */
struct role {
	pthread_mutex_t *hold, *want;
};

static void *
actor(void *arg)
{
	struct role *r = arg;
	struct lh_thread *t = lh_enter();

	take(t, r->hold);
	lh_leave(t);
	pthread_barrier_wait(&step);
	lh_wait_begin(t, LH_WAIT_LOCK, r->want, LH_TYPE_MUTEX, LH_MODE_WRITE, NULL, 0, 0);
	pthread_barrier_wait(&step); /* both wait: the dump runs */
	pthread_barrier_wait(&step);
	lh_wait_end(t);
	t->busy = 1;
	give(t, r->hold);
	t->busy = 0;
	return NULL;
}

START_TEST(test_dump_finds_a_deadlock_first)
{
	struct role a = {&m1, &m2}, b = {&m2, &m1};
	struct lh_thread *t;
	pthread_t ta, tb;
	char *text, *head;
	int fd = open("/dev/null", O_WRONLY);

	ck_assert(lh_ready());
	dup2(fd, 2); /* the detector's own deadlock report */
	close(fd);
	pthread_barrier_init(&step, NULL, 3);
	pthread_create(&ta, NULL, actor, &a);
	pthread_create(&tb, NULL, actor, &b);
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	t = lh_enter();
	capture_stderr();
	ck_assert_int_eq(lh_dump_run(0), 0);
	text = stderr_text();
	lh_leave(t);
	pthread_barrier_wait(&step);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	head = strstr(text, "lockhound: thread-dump: ");
	ck_assert_ptr_nonnull(head);
	head = strchr(head, '\n') + 1;
	ck_assert_msg(
	    strncmp(head, "  deadlock found: 2 threads wait for each other\n", 48) == 0,
	    "%s", text);
	ck_assert_int_eq(check_count(head, " waits for m"), 2);
	free(text);
}
END_TEST

static _Atomic pid_t outsider_tid;

/* Takes m2 with glibc only: the runtime never hears of this thread. */
static void *
outsider(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "unit-outsider");
	pthread_mutex_lock(&m2);
	atomic_store(&outsider_tid, lh_gettid());
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	pthread_mutex_unlock(&m2);
	return NULL;
}

/* Records a wait for the lock arg without blocking. */
static void *
recorder(void *arg)
{
	struct lh_thread *t = lh_enter();

	prctl(PR_SET_NAME, arg == &m2 ? "unit-rec2" : "unit-rec1");
	lh_leave(t);
	lh_wait_begin(t, LH_WAIT_LOCK, arg, LH_TYPE_MUTEX, LH_MODE_WRITE, NULL, 0, 0);
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	lh_wait_end(t);
	return NULL;
}

START_TEST(test_dump_names_owners_it_did_not_see_and_free_locks)
{
	struct lh_thread *t;
	pthread_t th[3];
	char *text, line[128];

	ck_assert(lh_ready());
	pthread_barrier_init(&step, NULL, 4);
	pthread_create(&th[0], NULL, outsider, NULL);
	pthread_create(&th[1], NULL, recorder, &m2);
	pthread_create(&th[2], NULL, recorder, &m1);
	pthread_barrier_wait(&step);
	t = lh_enter();
	capture_stderr();
	ck_assert_int_eq(lh_dump_run(0), 0);
	text = stderr_text();
	lh_leave(t);
	pthread_barrier_wait(&step);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	snprintf(line, sizeof(line), " ms, held by thread %d \"unit-outsider\"\n",
	         (int)atomic_load(&outsider_tid));
	ck_assert_msg(strstr(text, line), "%s", text);
	ck_assert_msg(strstr(text, "\"unit-rec1\": waiting for m1 ("), "%s", text);
	ck_assert_msg(strstr(text, " ms, changing hands (free when read)\n"), "%s", text);
	free(text);
}
END_TEST

static char *
slurp(const char *path)
{
	static char buf[1 << 20];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : 0;

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int
threads_named(const char *name)
{
	pid_t tids[256];
	int n = lh_task_list(tids, 256), found = 0;

	for (int i = 0; i < n; i++) {
		char comm[16];

		lh_thread_name(tids[i], comm, sizeof(comm));
		found += strcmp(comm, name) == 0;
	}
	return found;
}

START_TEST(test_dump_thread_serves_the_signal_and_ticks)
{
	char path[] = "/tmp/lh-check-dump-log.XXXXXX";
	int fd = mkstemp(path), n = 0;
	uint32_t tick;

	close(fd);
	unlink(path);
	fd = open("/dev/null", O_WRONLY);
	dup2(fd, 2);
	close(fd);
	ck_assert(lh_ready());
	strcpy(lh_opt.log_path, path);
	lh_report_init();
	ck_assert_int_eq(threads_named("lockhound"), 0);
	lh_dump_start(pthread_create);
	ck_assert_int_eq(threads_named("lockhound"), 1);
	lh_dump_start(pthread_create); /* once */
	ck_assert_int_eq(threads_named("lockhound"), 1);
	kill(getpid(), SIGUSR1);
	while (!strstr(slurp(path), "\"trigger\":\"signal\"") && n++ < 5000)
		nap(2);
	ck_assert_msg(strstr(slurp(path), "\"kind\":\"thread-dump\""), "%s", slurp(path));
	/* The dump thread is not in its own dump; this one thread is. */
	ck_assert_int_eq(check_count(slurp(path), "{\"tid\":"), 1);
	tick = atomic_load(&lh_tick_ms);
	for (n = 0; atomic_load(&lh_tick_ms) == tick && n < 5000; n++)
		nap(1);
	ck_assert_uint_ne(atomic_load(&lh_tick_ms), tick);
	unlink(path);
}
END_TEST

START_TEST(test_dump_handler_dumps_a_lone_thread)
{
	struct lh_thread *t;
	char *text, line[64];

	ck_assert(lh_ready());
	t = lh_enter();
	take(t, &m2);
	lh_leave(t);
	capture_stderr();
	kill(getpid(), SIGUSR1); /* no dump thread: the handler writes it */
	text = stderr_text();
	t->busy = 1;
	give(t, &m2);
	t->busy = 0;
	snprintf(line, sizeof(line), "  thread %d", (int)lh_gettid());
	ck_assert_msg(strstr(text, "lockhound: thread-dump: 1 thread (pid ") == text,
	              "%s", text);
	ck_assert_msg(strstr(text, ", written by the signal handler\n"), "%s", text);
	ck_assert_msg(strstr(text, line), "%s", text);
	snprintf(line, sizeof(line), "    holds mutex %p", (void *)&m2);
	ck_assert_msg(strstr(text, line), "%s", text);
	ck_assert_msg(strstr(text, "      #0  0x"), "%s", text);
	free(text);
}
END_TEST

static _Atomic int app_hits;

static void
app_handler(int sig)
{
	(void)sig;
	atomic_fetch_add(&app_hits, 1);
}

START_TEST(test_dump_keeps_the_programs_action_for_its_signal)
{
	int rtsig = SIGRTMAX - LH_DUMP_RTSIG_BELOW_MAX, rc;
	struct sigaction app, old, real;
	struct lh_thread *t;
	pthread_t th;
	char *text;

	ck_assert(lh_ready());
	ck_assert(lh_dump_owns(rtsig));
	ck_assert(lh_dump_owns(SIGUSR1));
	ck_assert(!lh_dump_owns(SIGUSR2));
	memset(&app, 0, sizeof(app));
	app.sa_handler = app_handler;
	sigemptyset(&app.sa_mask);
	ck_assert(lh_dump_sigaction(rtsig, &app, &old, &rc));
	ck_assert_int_eq(rc, 0);
	ck_assert_ptr_eq(old.sa_handler, SIG_DFL);
	ck_assert(lh_dump_sigaction(rtsig, NULL, &old, &rc));
	ck_assert_ptr_eq(old.sa_handler, app_handler);
	sigaction(rtsig, NULL, &real); /* glibc's own: the runtime's handler stays */
	ck_assert_ptr_ne(real.sa_handler, app_handler);
	raise(rtsig);
	ck_assert_int_eq(atomic_load(&app_hits), 1);
	/* And threads still answer dumps. */
	t = lh_enter();
	take(t, &m1);
	pthread_create(&th, NULL, waiter, (void *)"unit-w1");
	until_waiting(1);
	capture_stderr();
	ck_assert_int_eq(lh_dump_run(0), 0);
	text = stderr_text();
	give(t, &m1);
	lh_leave(t);
	pthread_join(th, NULL);
	ck_assert_int_eq(check_count(text, "    stack:\n"), 2);
	ck_assert_int_eq(atomic_load(&app_hits), 1);
	free(text);
}
END_TEST

START_TEST(test_dump_yields_its_signal_to_the_program)
{
	struct sigaction app;
	char *text;
	int rc;

	ck_assert(lh_ready());
	memset(&app, 0, sizeof(app));
	app.sa_handler = app_handler;
	sigemptyset(&app.sa_mask);
	capture_stderr();
	ck_assert(lh_dump_sigaction(SIGUSR1, &app, NULL, &rc));
	ck_assert_int_eq(rc, 0);
	ck_assert(lh_dump_sigaction(SIGUSR1, &app, NULL, &rc));
	ck_assert(!lh_dump_sigaction(SIGUSR2, &app, NULL, &rc));
	kill(getpid(), SIGUSR1);
	text = stderr_text();
	ck_assert_int_eq(atomic_load(&app_hits), 1);
	ck_assert_int_eq(
	    check_count(text, "lockhound: warning: the program installed its own SIGUSR1 "
	                "action; it wins"),
	    1);
	ck_assert_int_eq(check_count(text, "thread-dump"), 0);
	free(text);
}
END_TEST

/*
 * A listener on `lockhound dump`'s socket for cookie, as uid (a child
 * process). Returns its pid; its exit status says what it got: 0 the
 * dump, 1 a connection with nothing on it, 2 no connection.
 */
static pid_t
listener(uint32_t cookie, uid_t uid, int *ready)
{
	int p[2];
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		char name[64], buf[64] = "";
		struct pollfd pf;
		int fd, c;
		ssize_t n;

		if (uid != getuid() && setuid(uid) != 0)
			_exit(3);
		snprintf(name, sizeof(name), "%s%08x", LH_DUMP_SOCKET_PREFIX, cookie);
		memcpy(a.sun_path + 1, name, strlen(name));
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (bind(fd, (struct sockaddr *)&a,
		         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		                     strlen(name))) < 0 ||
		    listen(fd, 1) < 0)
			_exit(3);
		if (write(p[1], "x", 1) != 1)
			_exit(3);
		pf = (struct pollfd){fd, POLLIN, 0};
		if (poll(&pf, 1, 10000) != 1)
			_exit(2);
		c = accept(fd, NULL, NULL);
		n = read(c, buf, sizeof(buf) - 1);
		_exit(n > 0 && strncmp(buf, LH_DUMP_PROTOCOL, strlen(LH_DUMP_PROTOCOL)) ==
		                   0
		          ? 0
		          : 1);
	}
	close(p[1]);
	*ready = p[0];
	return pid;
}

static int
ask_with(uint32_t cookie, uid_t uid)
{
	union sigval v = {.sival_ptr = (void *)(uintptr_t)(LH_DUMP_MAGIC << 32 | cookie)};
	int ready, status;
	pid_t pid = listener(cookie, uid, &ready);
	char c;

	ck_assert_int_eq(read(ready, &c, 1), 1);
	close(ready);
	/* No dump thread here: the handler itself connects and writes. */
	sigqueue(getpid(), SIGRTMAX - LH_DUMP_RTSIG_BELOW_MAX, v);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(test_dump_goes_only_to_a_listener_of_its_own_user)
{
	int fd = open("/dev/null", O_WRONLY);

	dup2(fd, 2);
	close(fd);
	ck_assert(lh_ready());
	ck_assert_int_eq(ask_with(0xbeef, getuid()), 0);
	if (getuid() != 0)
		return; /* another user's listener needs root to set up */
	ck_assert_int_eq(ask_with(0xbeef, 65534), 1);
}
END_TEST

static Suite *
dump_suite(void)
{
	Suite *s = suite_create("dump");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_dump_lists_threads_their_locks_and_stacks);
	tcase_add_test(tc, test_dump_names_a_thread_that_blocks_its_signal);
	tcase_add_test(tc, test_dump_finds_a_deadlock_first);
	tcase_add_test(tc, test_dump_names_owners_it_did_not_see_and_free_locks);
	tcase_add_test(tc, test_dump_thread_serves_the_signal_and_ticks);
	tcase_add_test(tc, test_dump_handler_dumps_a_lone_thread);
	tcase_add_test(tc, test_dump_keeps_the_programs_action_for_its_signal);
	tcase_add_test(tc, test_dump_yields_its_signal_to_the_program);
	tcase_add_test(tc, test_dump_goes_only_to_a_listener_of_its_own_user);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(dump_suite)
