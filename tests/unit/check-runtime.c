/*
 * Unit tests for lib/runtime.c: start-up (options from the environment,
 * said once when bad), the exit status of a process that reported
 * something (exitcode), and fork while other threads are inside the
 * runtime. Start-up happens once per process, at load: those cases run
 * this program again as a probe (LH_RUNTIME_PROBE), which prints what it
 * saw or does one thing and exits.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-main.h"
#include "check-log.h"
#include "acquire.h"

extern char **environ;

static pthread_mutex_t probe_mu[2] = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER};

/* i then j, through the runtime's acquisition path, as a wrapper would. */
static void
take_pair(struct lh_thread *t, int i, int j)
{
	int si, sj;

	si = lh_before_lock(t, &probe_mu[i], LH_TYPE_MUTEX, LH_MODE_WRITE, LH_BLOCKING,
			    (uintptr_t)__builtin_return_address(0), (uintptr_t)__builtin_dwarf_cfa());
	lh_after_lock(t, si, &probe_mu[i]);
	sj = lh_before_lock(t, &probe_mu[j], LH_TYPE_MUTEX, LH_MODE_WRITE, LH_BLOCKING,
			    (uintptr_t)__builtin_return_address(0), (uintptr_t)__builtin_dwarf_cfa());
	lh_after_lock(t, sj, &probe_mu[j]);
	lh_on_unlock(t, &probe_mu[j], LH_TYPE_MUTEX, 0, 0);
	lh_on_unlock(t, &probe_mu[i], LH_TYPE_MUTEX, 0, 0);
}

/* After the runtime's constructor (101). */
__attribute__((constructor(200))) static void
probe(void)
{
	const char *mode = getenv("LH_RUNTIME_PROBE");
	struct lh_thread *t;

	if (!mode)
		return;
	if (strcmp(mode, "options") == 0) {
		printf("state=%d timeout_ms=%d stats=%d exitcode=%d\n", atomic_load(&lh_state),
		       (int)lh_opt.timeout_ms, lh_opt.stats, lh_opt.exitcode);
		fflush(stdout);
		_exit(0);
	}
	t = lh_enter();
	if (!t)
		_exit(90);
	if (strcmp(mode, "inversion") == 0) {
		take_pair(t, 0, 1);
		take_pair(t, 1, 0);
	} else {
		take_pair(t, 0, 1);
	}
	lh_leave(t);
	exit(0); /* through the runtime's destructor */
}

/* What a probe did: its exit status and what it wrote. */
struct probe {
	int code;
	char *out, *err;
};

/* Runs this program as a probe with LOCKHOUND_OPTIONS=options, which must
 * exit (not be killed). */
static struct probe
run_probe(const char *mode, const char *options)
{
	char env_probe[64], env_options[256], out[64], err[64], name[] = "check-runtime";
	char *envp[] = {env_probe, env_options, NULL};
	char *argv[] = {name, NULL};
	posix_spawn_file_actions_t fa;
	struct probe p;
	int status, fd;
	pid_t pid;

	snprintf(env_probe, sizeof(env_probe), "LH_RUNTIME_PROBE=%s", mode);
	snprintf(env_options, sizeof(env_options), "LOCKHOUND_OPTIONS=%s", options);
	snprintf(out, sizeof(out), "/tmp/lh-check-runtime-out.XXXXXX");
	snprintf(err, sizeof(err), "/tmp/lh-check-runtime-err.XXXXXX");
	ck_assert_int_ge(fd = mkstemp(out), 0);
	close(fd);
	ck_assert_int_ge(fd = mkstemp(err), 0);
	close(fd);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_TRUNC, 0);
	posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_TRUNC, 0);
	ck_assert_int_eq(posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status), "probe %s: status %#x", mode, status);
	p.code = WEXITSTATUS(status);
	p.out = strdup(check_slurp(out));
	p.err = strdup(check_slurp(err));
	unlink(out);
	unlink(err);
	return p;
}

static void
probe_free(struct probe *p)
{
	free(p->out);
	free(p->err);
}

START_TEST(test_runtime_is_ready_once)
{
	ck_assert(lh_ready());
	ck_assert(lh_ready());
	ck_assert_int_eq(atomic_load(&lh_state), 2);
}
END_TEST

START_TEST(test_runtime_takes_options_from_the_environment)
{
	struct probe p = run_probe("options", "timeout_ms=1234:stats=hold:exitcode=9");

	ck_assert_int_eq(p.code, 0);
	ck_assert_str_eq(p.out, "state=2 timeout_ms=1234 stats=2 exitcode=9\n");
	ck_assert_str_eq(p.err, "");
	probe_free(&p);
}
END_TEST

START_TEST(test_runtime_says_each_bad_option_once_and_goes_on)
{
	struct probe p = run_probe("options", "timeout_ms=soon:no_such_option=1:stats=hold");

	ck_assert_int_eq(p.code, 0);
	/* The good one applies; the bad ones keep their defaults. */
	ck_assert_str_eq(p.out, "state=2 timeout_ms=0 stats=2 exitcode=-1\n");
	ck_assert_int_eq(check_count(p.err, "LOCKHOUND_OPTIONS: timeout_ms: "), 1);
	ck_assert_int_eq(check_count(p.err, "LOCKHOUND_OPTIONS: no_such_option: "), 1);
	ck_assert_int_eq(check_count(p.err, "; ignored\n"), 2);
	ck_assert_int_eq(check_count(p.err, "\n"), 2);
	probe_free(&p);
}
END_TEST

START_TEST(test_runtime_exit_status_with_findings)
{
	struct probe p;

	/* An inversion, and exitcode=7: the process exits with 7. */
	p = run_probe("inversion", "exitcode=7");
	ck_assert_int_eq(p.code, 7);
	ck_assert_int_eq(check_count(p.err, "lockhound: lock-order-inversion: "), 1);
	probe_free(&p);
	/* Nothing reported: its own status. */
	p = run_probe("consistent", "exitcode=7");
	ck_assert_int_eq(p.code, 0);
	ck_assert_int_eq(check_count(p.err, "lockhound: "), 0);
	probe_free(&p);
	/* exitcode unset: its own status, with the report. */
	p = run_probe("inversion", "");
	ck_assert_int_eq(p.code, 0);
	ck_assert_int_eq(check_count(p.err, "lockhound: lock-order-inversion: "), 1);
	probe_free(&p);
}
END_TEST

/* Takes new orders all the time: the graph mutex, the report mutex, the
 * stack table, the arena, the lock table. */
static pthread_mutex_t churn_mu[64];
static int churn_stop;

static void *
churn(void *arg)
{
	struct lh_thread *t = lh_enter();

	(void)arg;
	for (unsigned n = 0; !__atomic_load_n(&churn_stop, __ATOMIC_ACQUIRE); n++) {
		int i = (int)(n % 64), j = (int)((n / 64 + 1 + n) % 64);
		int si, sj;

		if (i == j)
			continue;
		si = lh_before_lock(t, &churn_mu[i], LH_TYPE_MUTEX, LH_MODE_WRITE, LH_BLOCKING,
				    (uintptr_t)__builtin_return_address(0), (uintptr_t)__builtin_dwarf_cfa());
		lh_after_lock(t, si, &churn_mu[i]);
		sj = lh_before_lock(t, &churn_mu[j], LH_TYPE_MUTEX, LH_MODE_WRITE, LH_BLOCKING,
				    (uintptr_t)__builtin_return_address(0), (uintptr_t)__builtin_dwarf_cfa());
		lh_after_lock(t, sj, &churn_mu[j]);
		lh_on_unlock(t, &churn_mu[j], LH_TYPE_MUTEX, 0, 0);
		lh_on_unlock(t, &churn_mu[i], LH_TYPE_MUTEX, 0, 0);
		/* A lock made anew every 64 pairs: its orders are new again (the
		 * graph), and its old node retires (the lock table, statistics). */
		if (n % 64 == 0)
			lh_on_destroy(&churn_mu[(n / 64) % 64]);
	}
	lh_leave(t);
	return NULL;
}

START_TEST(test_runtime_fork_while_others_are_inside)
{
	char path[64];
	int saved = -1;
	pthread_t th[2];

	/* Inversions between the churn threads are expected: not on our stderr. */
	check_capture_stderr(path, "runtime-fork", &saved);
	for (int i = 0; i < 64; i++)
		pthread_mutex_init(&churn_mu[i], NULL);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, churn, NULL), 0);
	for (int k = 0; k < 40; k++) {
		int status;
		pid_t pid = fork();

		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			/* The child must be able to take the runtime's locks: every one
			 * of them was taken around fork and reset here. */
			struct lh_thread *t = lh_enter();
			pthread_mutex_t a = PTHREAD_MUTEX_INITIALIZER, b = PTHREAD_MUTEX_INITIALIZER;
			int s;

			alarm(20);
			if (!t)
				_exit(3);
			s = lh_before_lock(t, &a, LH_TYPE_MUTEX, LH_MODE_WRITE, LH_BLOCKING, 1, 0);
			lh_after_lock(t, s, &a);
			s = lh_before_lock(t, &b, LH_TYPE_MUTEX, LH_MODE_WRITE, LH_BLOCKING, 2, 0);
			lh_after_lock(t, s, &b);
			if (t->nheld != 2)
				_exit(4);
			lh_on_unlock(t, &b, LH_TYPE_MUTEX, 0, 0);
			lh_on_unlock(t, &a, LH_TYPE_MUTEX, 0, 0);
			lh_leave(t);
			_exit(0);
		}
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "fork %d: child status %#x", k, status);
	}
	__atomic_store_n(&churn_stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	check_restore_stderr(saved);
	unlink(path);
}
END_TEST

static Suite *
runtime_suite(void)
{
	Suite *s = suite_create("runtime");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_runtime_is_ready_once);
	tcase_add_test(tc, test_runtime_takes_options_from_the_environment);
	tcase_add_test(tc, test_runtime_says_each_bad_option_once_and_goes_on);
	tcase_add_test(tc, test_runtime_exit_status_with_findings);
	tcase_add_test(tc, test_runtime_fork_while_others_are_inside);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(runtime_suite)
