/*
 * A library with a SIGUSR1 handler of its own. With SIGUSR_EARLY set, its
 * constructor installs it before lockhound's start-up (the library is
 * initialized first), so the runtime finds it there and chains to it.
 */
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

void sigusr_install(int use_signal);

void
sigusr_install(int use_signal)
{
	struct sigaction sa;

	if (use_signal) {
		signal(SIGUSR1, on_usr1);
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
		sigusr_install(0);
}
