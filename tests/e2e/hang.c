/*
 * Real hangs, caught while they happen. Each mode really gets stuck (the
 * test kills it after the report, or on_deadlock=abort ends it):
 *   abba      two threads take A and B in opposite orders, lined up by a
 *             barrier: a real ABBA deadlock
 *   cycle3    three threads, three locks, a real cycle of three
 *   rwlock    a reader holds R and wants M; M's holder wants R for writing
 *   self      a normal mutex locked again by its holder
 *   exited    a thread exits holding M; main then waits for M
 *   timeout   main holds M for 2 s; a worker waits for it (timeout_ms=300):
 *             one acquire-timeout naming main, then the worker gets M
 *   timeout-read  the same, but main holds M in a read of a pipe that a
 *             third thread writes to after 2 s: the report shows where main
 *             is (a read is restarted after the signal that asks for it)
 *   condwait  a worker waits 2 s on a condition variable: not an acquisition,
 *             nothing to report even with timeout_ms=300
 *   fork      a thread holds M when main forks; the child then locks M
 *   forkloop  200 forks in a row while another thread keeps locking: every
 *             child locks and exits normally
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock_a = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_b = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t lock_c = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t table = PTHREAD_RWLOCK_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t line_up;
static volatile int stop;

struct pair {
	pthread_mutex_t *first, *second;
};

static void
nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

__attribute__((noinline)) static void *
take_pair(void *arg)
{
	struct pair *p = arg;

	pthread_mutex_lock(p->first);
	pthread_barrier_wait(&line_up);
	pthread_mutex_lock(p->second); /* deadlocks */
	pthread_mutex_unlock(p->second);
	pthread_mutex_unlock(p->first);
	return NULL;
}

static void
cycle(int n)
{
	struct pair pairs[3] = {{&lock_a, &lock_b}, {&lock_b, &lock_c}, {&lock_c, &lock_a}};
	pthread_t t[3];

	if (n == 2)
		pairs[1] = (struct pair){&lock_b, &lock_a};
	pthread_barrier_init(&line_up, NULL, (unsigned)n);
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, take_pair, &pairs[i]);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

__attribute__((noinline)) static void *
reader(void *arg)
{
	(void)arg;
	pthread_rwlock_rdlock(&table);
	pthread_barrier_wait(&line_up);
	pthread_mutex_lock(&lock_a);
	pthread_mutex_unlock(&lock_a);
	pthread_rwlock_unlock(&table);
	return NULL;
}

__attribute__((noinline)) static void *
writer(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock_a);
	pthread_barrier_wait(&line_up);
	pthread_rwlock_wrlock(&table);
	pthread_rwlock_unlock(&table);
	pthread_mutex_unlock(&lock_a);
	return NULL;
}

static void *
leave_holding(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock_a);
	return NULL;
}

__attribute__((noinline)) static void *
wait_for_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock_a);
	puts("worker got the lock");
	pthread_mutex_unlock(&lock_a);
	return NULL;
}

__attribute__((noinline)) static void
hold_for_two_seconds(void)
{
	pthread_t t;

	pthread_mutex_lock(&lock_a);
	pthread_create(&t, NULL, wait_for_main, NULL);
	nap(2000);
	pthread_mutex_unlock(&lock_a);
	pthread_join(t, NULL);
}

static int pipe_fds[2];

__attribute__((noinline)) static void *
write_late(void *arg)
{
	(void)arg;
	nap(2000);
	if (write(pipe_fds[1], "x", 1) != 1)
		perror("write");
	return NULL;
}

__attribute__((noinline)) static void
hold_in_a_read(void)
{
	pthread_t t, w;
	char c;

	if (pipe(pipe_fds) != 0) {
		perror("pipe");
		exit(1);
	}
	pthread_mutex_lock(&lock_a);
	pthread_create(&t, NULL, wait_for_main, NULL);
	pthread_create(&w, NULL, write_late, NULL);
	if (read(pipe_fds[0], &c, 1) != 1) /* about 2 s */
		perror("read");
	pthread_mutex_unlock(&lock_a);
	pthread_join(t, NULL);
	pthread_join(w, NULL);
}

static void *
cond_waiter(void *arg)
{
	struct timespec ts;

	(void)arg;
	pthread_mutex_lock(&lock_a);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	pthread_cond_timedwait(&never, &lock_a, &ts);
	pthread_mutex_unlock(&lock_a);
	puts("condition wait over");
	return NULL;
}

static void *
hold_forever(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock_b);
	pthread_barrier_wait(&line_up);
	while (!stop)
		nap(10);
	pthread_mutex_unlock(&lock_b);
	return NULL;
}

static void *
keep_locking(void *arg)
{
	(void)arg;
	while (!stop) {
		pthread_mutex_lock(&lock_a);
		pthread_mutex_lock(&lock_c);
		pthread_mutex_unlock(&lock_c);
		pthread_mutex_unlock(&lock_a);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "abba";
	pthread_t t, u;
	int status;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (strcmp(mode, "abba") == 0) {
		cycle(2);
	} else if (strcmp(mode, "cycle3") == 0) {
		cycle(3);
	} else if (strcmp(mode, "rwlock") == 0) {
		pthread_barrier_init(&line_up, NULL, 2);
		pthread_create(&t, NULL, reader, NULL);
		pthread_create(&u, NULL, writer, NULL);
		pthread_join(t, NULL);
		pthread_join(u, NULL);
	} else if (strcmp(mode, "self") == 0) {
		pthread_mutex_lock(&lock_a);
		pthread_mutex_lock(&lock_a);
	} else if (strcmp(mode, "exited") == 0) {
		pthread_create(&t, NULL, leave_holding, NULL);
		pthread_join(t, NULL);
		pthread_mutex_lock(&lock_a);
	} else if (strcmp(mode, "timeout") == 0) {
		hold_for_two_seconds();
	} else if (strcmp(mode, "timeout-read") == 0) {
		hold_in_a_read();
	} else if (strcmp(mode, "condwait") == 0) {
		pthread_create(&t, NULL, cond_waiter, NULL);
		pthread_join(t, NULL);
	} else if (strcmp(mode, "fork") == 0) {
		pthread_barrier_init(&line_up, NULL, 2);
		pthread_create(&t, NULL, hold_forever, NULL);
		pthread_barrier_wait(&line_up);
		if (fork() == 0) {
			pthread_mutex_lock(&lock_b); /* its holder is not in this child */
			_exit(0);
		}
		wait(&status);
		printf("child %s %d\n", WIFSIGNALED(status) ? "signal" : "exit",
		       WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
		stop = 1;
		pthread_join(t, NULL);
	} else if (strcmp(mode, "forkloop") == 0) {
		int bad = 0;

		pthread_create(&t, NULL, keep_locking, NULL);
		for (int i = 0; i < 200; i++) {
			pid_t pid = fork();

			if (pid == 0) { /* lock_b: not one the busy thread takes */
				pthread_mutex_lock(&lock_b);
				pthread_mutex_unlock(&lock_b);
				_exit(7);
			}
			if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
			    WEXITSTATUS(status) != 7)
				bad++;
		}
		stop = 1;
		pthread_join(t, NULL);
		printf("forks failed=%d\n", bad);
	}
	printf("%s done\n", mode);
	return 0;
}
