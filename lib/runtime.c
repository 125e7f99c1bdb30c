/*
 * Start-up, fork and exit. Every entry point initializes lazily through
 * lh_ready(), because another library's constructor may lock before ours
 * runs; the constructor below only makes sure it happens early. A lock call
 * that arrives while this thread initializes passes straight through; other
 * threads wait (start-up is short and happens once).
 */
#include "config.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "acquire.h"

_Atomic int lh_state;
bool lh_secure;
static _Atomic pid_t init_tid;

static void
warn_option(const char *key, const char *why, void *arg)
{
	struct lh_buf b;

	(void)arg;
	lh_buf_init(&b);
	lh_buf_puts(&b, "LOCKHOUND_OPTIONS: ");
	lh_buf_puts(&b, key);
	lh_buf_puts(&b, ": ");
	lh_buf_puts(&b, why);
	lh_buf_puts(&b, "; ignored");
	lh_warn(b.oom ? "LOCKHOUND_OPTIONS: a bad option was ignored" : b.p);
	lh_buf_release(&b);
}

/* In the order they nest: the registry is taken first (deadlock reports
 * name locks and write while holding it). */
static void
atfork_prepare(void)
{
	lh_threads_atfork_prepare();
	lh_graph_atfork_prepare();
	lh_report_atfork_prepare();
	lh_stats_atfork_prepare();
	lh_stack_atfork_prepare();
	lh_locktab_atfork_prepare();
	lh_symbols_atfork_prepare();
	lh_modules_atfork_prepare();
	lh_arena_atfork_prepare();
}

static void
atfork_parent(void)
{
	lh_arena_atfork_parent();
	lh_modules_atfork_parent();
	lh_symbols_atfork_parent();
	lh_locktab_atfork_parent();
	lh_stack_atfork_parent();
	lh_stats_atfork_parent();
	lh_report_atfork_parent();
	lh_graph_atfork_parent();
	lh_threads_atfork_parent();
}

static void
atfork_child(void)
{
	lh_arena_atfork_child();
	lh_modules_atfork_child();
	lh_symbols_atfork_child();
	lh_threads_atfork_child();
	lh_locktab_atfork_child();
	lh_stack_atfork_child();
	lh_stats_atfork_child();
	lh_report_reopen_after_fork();
	lh_graph_atfork_child();
	lh_dump_atfork_child();
	lh_race_atfork_child();
}

static const struct lh_graph_ops report_ops = {
	.new_edge = lh_report_new_edge,
	.cycle = lh_report_cycle,
};

void
lh_init_slow(void)
{
	int s = 0;
	const char *env;

	if (!atomic_compare_exchange_strong(&lh_state, &s, 1)) {
		if (s != 1 || atomic_load(&init_tid) == lh_gettid())
			return; /* ready, off, or re-entered from our own start-up */
		while (atomic_load(&lh_state) == 1)
			sched_yield();
		return;
	}
	atomic_store(&init_tid, lh_gettid());
	lh_tick_update();
	lh_secure = getauxval(AT_SECURE) != 0;
	lh_options_defaults(&lh_opt);
	env = lh_secure ? NULL : getenv("LOCKHOUND_OPTIONS");
	if (env)
		lh_options_parse(&lh_opt, env, warn_option, NULL);
	lh_chainset_init();
	lh_modules_init();
	lh_stack_init();
	lh_graph_init(&report_ops);
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
	lh_report_init();
	lh_suppress_init(lh_secure ? NULL : lh_opt.suppressions);
	lh_dump_init();
	lh_race_init();
	lh_intercept_direct_init();
	atomic_store(&lh_state, 2);
}

__attribute__((constructor(101))) static void
lh_constructor(void)
{
	lh_ready();
}

/* At exit: the contention statistics; then exitcode: a process that
 * reported anything exits with it. Runs after the program's own destructors,
 * so it flushes stdio itself before _exit. */
__attribute__((destructor(101))) static void
lh_destructor(void)
{
	struct lh_thread *t;

	if (atomic_load(&lh_state) != 2)
		return;
	if ((t = lh_enter()) != NULL) {
		lh_stats_report(true);
		lh_leave(t);
	}
	if (lh_opt.exitcode < 0 || lh_report_findings() == 0)
		return;
	fflush(NULL);
	_exit(lh_opt.exitcode);
}
