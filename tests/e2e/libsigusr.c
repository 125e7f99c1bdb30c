/*
 * A library with a SIGUSR1 handler of its own. With SIGUSR_EARLY set, its
 * constructor installs it before lockhound's start-up (the library is
 * initialized first), so the runtime finds it there and chains to it.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>

volatile sig_atomic_t sigusr_hits;

static void
on_usr1(int sig)
{
	(void)sig;
	sigusr_hits++;
}

void sigusr_install(const char *how);
sighandler_t bsd_signal(int sig, sighandler_t handler); /* <signal.h> hides it */

/* how: "sigaction" (or "late"), "signal", "bsd_signal", "sysv_signal",
 * "sigset": every way glibc has to set a handler. */
void
sigusr_install(const char *how)
{
	struct sigaction sa;

	if (strcmp(how, "signal") == 0) {
		signal(SIGUSR1, on_usr1);
		return;
	}
	if (strcmp(how, "bsd_signal") == 0) {
		bsd_signal(SIGUSR1, on_usr1);
		return;
	}
	if (strcmp(how, "sysv_signal") == 0) {
		sysv_signal(SIGUSR1, on_usr1);
		return;
	}
	if (strcmp(how, "sigset") == 0) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations" /* what we test */
		sigset(SIGUSR1, on_usr1);
#pragma GCC diagnostic pop
		return;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
}

__attribute__((constructor)) static void
early_handler(void)
{
	if (getenv("SIGUSR_EARLY"))
		sigusr_install("sigaction");
}
