/*
 * A program with signal handlers of its own, for the dump signal:
 *
 *   sigusr MODE GOFILE
 *
 *   early   libsigusr's constructor installed a SIGUSR1 handler before the
 *           runtime started (run with SIGUSR_EARLY=1): the runtime chains to it
 *   late    main installs its SIGUSR1 handler with sigaction(): it wins
 *   signal  the same with signal(); bsd_signal, sysv_signal, sigset: the
 *           same with those (glibc's own sigaction behind them is not ours)
 *   rt      main installs a handler for SIGRTMAX-2, the runtime's own signal,
 *           and raises it twice (raise, pthread_kill): its handler runs, the
 *           old action it is shown is SIG_DFL, and dumps still work
 *
 * Then a worker waits for a lock main holds; main prints "ready", sleeps
 * until GOFILE exists, releases, and prints how often its handlers ran.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern volatile sig_atomic_t sigusr_hits;
void sigusr_install(const char *how);

static pthread_mutex_t held_by_main = PTHREAD_MUTEX_INITIALIZER;
static volatile sig_atomic_t rt_hits;
static volatile pid_t worker_tid;

static void
nap(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000}, rem;

	while (nanosleep(&ts, &rem) != 0 && errno == EINTR)
		ts = rem;
}

static void
on_rt(int sig)
{
	(void)sig;
	rt_hits++;
}

static void *
worker(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "waiter");
	worker_tid = (pid_t)syscall(SYS_gettid);
	pthread_mutex_lock(&held_by_main);
	pthread_mutex_unlock(&held_by_main);
	return NULL;
}

static char
state_of(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return '?';
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return '?';
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

int
main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";
	pthread_t t;
	int seen = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: sigusr early|late|signal|bsd_signal|sysv_signal|sigset|rt "
				"GOFILE\n");
		return 2;
	}
	if (strcmp(mode, "early") != 0 && strcmp(mode, "rt") != 0)
		sigusr_install(mode);
	pthread_mutex_lock(&held_by_main);
	pthread_create(&t, NULL, worker, NULL);
	if (strcmp(mode, "rt") == 0) {
		struct sigaction sa, old;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_rt;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGRTMAX - 2, &sa, &old);
		printf("old rt action: %s\n",
		       old.sa_handler == SIG_DFL ? "default" : "other");
		sigaction(SIGRTMAX - 2, NULL, &old);
		printf("rt action is the program's: %s\n",
		       old.sa_handler == on_rt ? "yes" : "no");
		raise(SIGRTMAX - 2);
		while (!worker_tid)
			nap(1);
		pthread_kill(t, SIGRTMAX - 2);
		while (rt_hits < 2)
			nap(1);
	}
	while (!worker_tid || state_of(worker_tid) != 'S')
		nap(5);
	printf("ready\n");
	fflush(stdout);
	while (access(argv[2], F_OK) != 0) {
		nap(20);
		if (sigusr_hits != seen) {
			seen = sigusr_hits;
			printf("SIGUSR1 handler ran\n");
			fflush(stdout);
		}
	}
	pthread_mutex_unlock(&held_by_main);
	pthread_join(t, NULL);
	printf("SIGUSR1 handler: %d\nrt handler: %d\n", (int)sigusr_hits, (int)rt_hits);
	return 0;
}
