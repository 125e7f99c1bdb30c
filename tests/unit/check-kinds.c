/* Unit tests for the explain handlers of tools/kind-deadlock.c,
 * tools/kind-acquire-timeout.c, tools/kind-contention.c and
 * tools/kind-race.c: the words, the stacks, and malformed records refused. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/explain.h"
#include "check-main.h"

#define HEADER                                                                           \
	"{\"lockhound\":1,\"kind\":\"header\",\"pid\":7,\"exe\":\"/bin/x\","               \
	"\"modules\":[{\"index\":0,\"path\":\"/bin/x\",\"build_id\":\"\",\"base\":"         \
	"\"0x1000\"}]}\n"
#define LOCK(id, name)                                                                   \
	"{\"kind\":\"lock\",\"pid\":7,\"time\":1.0,\"id\":" #id ",\"addr\":\"0x50" #id     \
	"0\",\"type\":\"mutex\",\"name\":\"" name "\",\"symbol\":{\"name\":\"" name         \
	"\",\"offset\":0,\"module\":0,\"module_offset\":\"0x40" #id "0\"}}\n"
#define LOCKS LOCK(1, "lock_a") LOCK(2, "lock_b") LOCK(3, "lock_c")
#define ST(off) "[{\"pc\":\"0x1" off "\",\"module\":0,\"offset\":\"0x" off "\"}]"
#define HELD(id, mode, off)                                                              \
	"{\"lock\":" #id ",\"addr\":\"0x50" #id "0\",\"mode\":\"" mode "\",\"held_ms\":260," \
	"\"stack\":" ST(off) "}"
#define MEMBER(tid, waits, mode, held)                                                   \
	"{\"tid\":" #tid ",\"name\":\"w" #tid "\",\"waits_for\":{\"addr\":\"0x50" #waits    \
	"0\",\"lock\":" #waits ",\"mode\":\"" mode "\"},\"waited_ms\":250,\"stack\":"       \
	ST("9" #tid) ",\"held\":[" held "]}"
#define DEADLOCK(cause, members, extra)                                                  \
	"{\"kind\":\"deadlock\",\"pid\":7,\"tid\":11,\"time\":2.0,\"cause\":\"" cause       \
	"\",\"cycle\":[" members "]" extra "}\n"

struct told {
	struct logfile *log;
	struct finding f;
	char *text; /* title, text and advice, for strstr */
	bool ok;
	char why[200];
};

/* Runs the handler of the last record of log. */
static void
tell(struct told *t, const char *log)
{
	struct logerror err;
	struct logproc *p;
	const struct logrecord *r;
	const struct explain_kind *ek;

	memset(t, 0, sizeof(*t));
	t->log = logfile_read_mem("t.log", log, strlen(log), &err);
	ck_assert_msg(t->log != NULL, "%u: %s", err.line, err.why);
	p = t->log->procs[0];
	ck_assert_uint_gt(p->nrecords, 0);
	r = &p->records[p->nrecords - 1];
	ek = explain_kind_find(r->kind);
	ck_assert_ptr_nonnull(ek);
	ck_assert_ptr_nonnull(ek->fn);
	t->f.kind = ek->kind;
	t->ok = ek->fn(p, r, &t->f, t->why, sizeof(t->why));
	if (t->ok)
		t->text = xasprintf("%s\n%s\n%s", t->f.title, t->f.text,
				    t->f.advice ? t->f.advice : "");
}

static void
forget(struct told *t)
{
	finding_free(&t->f);
	free(t->text);
	proc_symbolizers_free(t->log);
	logfile_free(t->log);
}

static void
says(const struct told *t, const char *words)
{
	ck_assert_msg(t->ok, "refused: %s", t->why);
	ck_assert_msg(strstr(t->text, words) != NULL, "does not say '%s':\n%s", words, t->text);
}

static bool
has_stack(const struct told *t, const char *label)
{
	for (size_t i = 0; i < t->f.nstacks; i++)
		if (strcmp(t->f.stacks[i].label, label) == 0)
			return true;
	return false;
}

START_TEST(test_kinds_tell_a_deadlock_of_two)
{
	struct told t;

	tell(&t, HEADER LOCKS DEADLOCK("cycle",
				       MEMBER(11, 2, "write", HELD(1, "write", "52")) ","
					       MEMBER(12, 1, "write", HELD(2, "write", "62")),
				       ",\"threads\":[{\"tid\":7,\"name\":\"main\",\"state\":"
				       "\"waiting on a condition variable\",\"held\":["
				       HELD(3, "write", "72") "]}]"));
	says(&t, "threads 11 and 12 are deadlocked on lock_a and lock_b");
	says(&t, "Threads 11 \"w11\" and 12 \"w12\" are deadlocked now: thread 11 holds lock_a "
		 "(taken at 0x152 (x+0x52)) and waits for lock_b at 0x1911 (x+0x911); thread 12 "
		 "holds lock_b");
	says(&t, "Each waits for the other forever. This process will not recover.");
	says(&t, "take these locks in one order everywhere, for example lock_a, then lock_b");
	says(&t, "where thread 12 \"w12\" takes lock_a while holding lock_b");
	ck_assert_int_eq(t.f.level, LEVEL_ERROR);
	ck_assert_uint_eq(t.f.nlocks, 2);
	ck_assert(has_stack(&t, "thread 11 \"w11\" waits for lock_b (for 250 ms), at:"));
	ck_assert(has_stack(&t, "thread 11 \"w11\" holds lock_a for about 260 ms, taken at:"));
	ck_assert(has_stack(&t, "thread 12 \"w12\" waits for lock_a (for 250 ms), at:"));
	/* Other threads' locks, for the whole picture. */
	ck_assert(has_stack(&t, "thread 7 \"main\" (not in the deadlock: waiting on a condition "
				"variable) holds lock_c for about 260 ms, taken at:"));
	/* SARIF's location: where the order is broken, thread 12's wait. */
	ck_assert_str_eq(t.f.stacks[t.f.primary].label,
			 "thread 12 \"w12\" waits for lock_a (for 250 ms), at:");
	forget(&t);
}
END_TEST

START_TEST(test_kinds_tell_a_cycle_of_three_and_read_modes)
{
	struct told t;

	tell(&t, HEADER LOCKS DEADLOCK("cycle",
				       MEMBER(11, 2, "write", HELD(1, "read", "52")) ","
					       MEMBER(12, 3, "read", HELD(2, "write", "62")) ","
						       MEMBER(13, 1, "write", HELD(3, "write", "72")),
				       ""));
	says(&t, "3 threads are deadlocked: lock_a => lock_b => lock_c => lock_a");
	says(&t, "Threads 11 \"w11\", 12 \"w12\" and 13 \"w13\" are deadlocked now");
	says(&t, "thread 11 holds lock_a for reading (taken at");
	says(&t, "thread 12 holds lock_b (taken at 0x162 (x+0x62)) and waits to read lock_c at");
	says(&t, ", held by thread 13;");
	says(&t, "Each waits for a lock the next one holds, forever.");
	says(&t, "for example lock_a, then lock_b, then lock_c");
	forget(&t);
}
END_TEST

START_TEST(test_kinds_tell_a_thread_deadlocked_with_itself)
{
	struct told t;

	tell(&t, HEADER LOCKS DEADLOCK("cycle", MEMBER(11, 1, "write", HELD(1, "write", "52")),
				       ""));
	says(&t, "thread 11 \"w11\" is deadlocked with itself on lock_a");
	says(&t, "Thread 11 \"w11\" waits for lock_a at 0x1911 (x+0x911), but it holds lock_a "
		 "itself (taken at 0x152 (x+0x52))");
	says(&t, "do not take the lock again");
	forget(&t);
	/* A reader asking to write: an upgrade. */
	tell(&t, HEADER LOCKS DEADLOCK("cycle", MEMBER(11, 1, "write", HELD(1, "read", "52")), ""));
	says(&t, "it holds lock_a itself for reading");
	says(&t, "A write lock waits until every reader has left, this thread included");
	says(&t, "an rwlock cannot be upgraded in place");
	forget(&t);
}
END_TEST

START_TEST(test_kinds_tell_a_holder_that_exited)
{
	struct told t;

	tell(&t, HEADER LOCKS DEADLOCK("holder-exited", MEMBER(11, 1, "write", ""),
				       ",\"exited_holder\":{\"tid\":14,\"held\":["
				       HELD(1, "write", "a2") "]}"));
	says(&t, "thread 11 \"w11\" waits forever for lock_a: its holder, thread 14, exited");
	says(&t, "but thread 14 took it at 0x1a2 (x+0xa2) and exited without releasing it. "
		 "Nobody can ever release it: this thread will never go on.");
	says(&t, "PTHREAD_MUTEX_ROBUST");
	ck_assert(has_stack(&t, "thread 14 (exited) holds lock_a for about 260 ms, taken at:"));
	ck_assert_str_eq(t.f.stacks[t.f.primary].label,
			 "thread 14 (exited) holds lock_a for about 260 ms, taken at:");
	forget(&t);
}
END_TEST

START_TEST(test_kinds_refuse_malformed_deadlocks)
{
	struct told t;

	tell(&t, HEADER "{\"kind\":\"deadlock\",\"pid\":7,\"cause\":\"cycle\"}\n");
	ck_assert(!t.ok);
	ck_assert_msg(strstr(t.why, "without \"cycle\""), "%s", t.why);
	forget(&t);
	tell(&t, HEADER DEADLOCK("cycle", "{\"name\":\"x\"}", ""));
	ck_assert(!t.ok);
	ck_assert_msg(strstr(t.why, "without \"tid\""), "%s", t.why);
	forget(&t);
	tell(&t, HEADER DEADLOCK("cycle", "{\"tid\":1}", ""));
	ck_assert(!t.ok);
	ck_assert_msg(strstr(t.why, "without \"waits_for\""), "%s", t.why);
	forget(&t);
	tell(&t, HEADER DEADLOCK("cycle",
				 "{\"tid\":1,\"waits_for\":{\"lock\":1},\"held\":{}}", ""));
	ck_assert(!t.ok);
	ck_assert_msg(strstr(t.why, "\"held\" is not an array"), "%s", t.why);
	forget(&t);
	tell(&t, HEADER DEADLOCK("holder-exited", MEMBER(11, 1, "write", ""), ""));
	ck_assert(!t.ok);
	ck_assert_msg(strstr(t.why, "without \"exited_holder\""), "%s", t.why);
	forget(&t);
	/* A lock never described is named by its address. */
	tell(&t, HEADER DEADLOCK("cycle", MEMBER(11, 9, "write", ""), ""));
	says(&t, "waits for the lock at 0x5090");
	forget(&t);
}
END_TEST

#define TIMEOUT(holder)                                                                  \
	"{\"kind\":\"acquire-timeout\",\"pid\":7,\"tid\":11,\"time\":2.0,\"thread\":"       \
	"{\"tid\":11,\"name\":\"w\"},\"addr\":\"0x5010\",\"lock\":1,\"mode\":\"write\","     \
	"\"waited_ms\":300,\"timeout_ms\":300,\"stack\":" ST("91") holder "}\n"

START_TEST(test_kinds_tell_an_acquire_timeout)
{
	struct told t;

	tell(&t, HEADER LOCKS TIMEOUT(",\"holder\":{\"tid\":7,\"name\":\"main\",\"state\":"
				      "\"not waiting for any lock\",\"held_ms\":310,"
				      "\"held_stack\":" ST("28") ",\"held_stack_partial\":true}"));
	says(&t, "thread 11 \"w\" waited 300 ms (timeout_ms=300) for lock_a, held by thread 7 "
		 "\"main\"");
	says(&t, "Thread 11 \"w\" waited 300 ms (timeout_ms=300) for lock_a at 0x191 (x+0x91). "
		 "Thread 7 \"main\" holds it (for about 310 ms then), taken at 0x128 (x+0x28);");
	says(&t, "it was not waiting for a lock then");
	says(&t, "The waiter went on waiting");
	says(&t, "shorten the critical section that begins at 0x128 (x+0x28)");
	ck_assert_int_eq(t.f.level, LEVEL_WARNING);
	ck_assert(has_stack(&t, "thread 11 \"w\" waits for lock_a, at:"));
	ck_assert(has_stack(&t, "thread 7 \"main\" took lock_a at (only the lock call is known, "
				"not its callers):"));
	forget(&t);
}
END_TEST

START_TEST(test_kinds_tell_a_timeout_behind_another_wait)
{
	struct told t;

	tell(&t, HEADER LOCKS TIMEOUT(",\"holder\":{\"tid\":7,\"name\":\"\",\"state\":"
				      "\"waiting for a lock\",\"waits_for\":2,\"held_ms\":310,"
				      "\"held_stack\":" ST("28") ",\"stack\":" ST("38") "}"));
	says(&t, "it was itself waiting for lock_b at 0x138 (x+0x38): a chain of waits");
	says(&t, "take nested locks in one order everywhere: thread 7 holds lock_a while it "
		 "waits for lock_b");
	ck_assert(has_stack(&t, "thread 7 itself waits for lock_b, at:"));
	ck_assert_uint_eq(t.f.nlocks, 2);
	forget(&t);
	tell(&t, HEADER LOCKS TIMEOUT(",\"holder\":{\"tid\":7,\"state\":\"waiting on a condition "
				      "variable\",\"held_stack\":" ST("28") "}"));
	says(&t, "it was waiting on a condition variable, with the lock held");
	says(&t, "do not wait for other threads");
	forget(&t);
	tell(&t, HEADER LOCKS TIMEOUT(""));
	says(&t, "whose holder is unknown");
	says(&t, "Its holder is not known");
	forget(&t);
	tell(&t, HEADER LOCKS TIMEOUT(",\"holder\":{\"name\":\"x\"}"));
	ck_assert(!t.ok);
	ck_assert_msg(strstr(t.why, "\"holder\" without \"tid\""), "%s", t.why);
	forget(&t);
}
END_TEST

START_TEST(test_kinds_tell_contention_as_a_profile)
{
	struct told t;
	const struct explain_kind *ek = explain_kind_find("contention");

	ck_assert(!ek->finding); /* never changes explain's exit status */
	tell(&t, HEADER LOCKS
		 "{\"kind\":\"contention\",\"pid\":7,\"scope\":\"lock\",\"lock\":1,\"name\":"
		 "\"lock_a\",\"acquisitions\":400,\"contended\":345,\"wait_ns\":330750817,"
		 "\"wait_max_ns\":4303723,\"wait_mean_ns\":958698,\"sites\":1,\"acquire_sites\":"
		 "[{\"frame\":" ST("2e0") ",\"acquisitions\":400}],\"wait_sites\":[{\"frame\":"
		 ST("2e0") ",\"count\":345,\"wait_ns\":330750817}],\"holder_sites\":[]}\n");
	says(&t, "lock_a: taken 400 times, 345 waited");
	says(&t, "lock_a was taken 400 times; 345 of those acquisitions found it held and "
		 "waited, 330.8 ms in all (958.7 us on average, 4.3 ms at most). Most of the "
		 "waiting was at 0x12e0 (x+0x2e0).");
	ck_assert(has_stack(&t, "threads waited here (345 times, 330.8 ms):"));
	forget(&t);
}
END_TEST

#define ACCESS(tid, write, atomic, off, held)                                            \
	"{\"thread\":{\"tid\":" #tid ",\"name\":\"t" #tid "\"},\"addr\":\"0x6000\","  \
	"\"size\":8,\"write\":" write ",\"atomic\":" atomic ",\"stack\":" ST(off)            \
	",\"held\":[" held "]}"
#define RHELD(id, mode) "{\"lock\":" #id ",\"addr\":\"0x50" #id "0\",\"mode\":\"" mode "\"}"
#define RACE(how, accesses, extra)                                                       \
	"{\"kind\":\"data-race\",\"pid\":7,\"tid\":11,\"time\":2.0,\"how\":\"" how       \
	"\",\"addr\":\"0x6000\",\"size\":8,\"symbol\":{\"name\":\"hits\",\"offset\":0,"  \
	"\"module\":0,\"module_offset\":\"0x5000\"},\"accesses\":[" accesses "]" extra     \
	"}\n"

START_TEST(test_kinds_tell_a_race_without_locks)
{
	struct told t;

	tell(&t, HEADER LOCKS
		 RACE("concurrent",
		      ACCESS(11, "true", "false", "31", "") "," ACCESS(12, "false", "false", "32", ""),
		      ""));
	says(&t, "a write and a read of hits at the same moment");
	says(&t, "Thread 11 \"t11\" wrote hits at 0x131 (x+0x31), holding no locks, while "
		 "thread 12 \"t12\" read it at 0x132 (x+0x32), holding no locks.");
	says(&t, "protect every access to hits with one lock, or make them all atomic");
	ck_assert_int_eq(t.f.level, LEVEL_ERROR);
	ck_assert_str_eq(t.f.rule, "data-race");
	ck_assert(has_stack(&t, "thread 11 \"t11\" wrote hits (8 bytes at 0x6000), holding no "
				"locks, at:"));
	ck_assert(has_stack(&t, "thread 12 \"t12\" read hits (8 bytes at 0x6000), holding no "
				"locks, at:"));
	forget(&t);
}
END_TEST

START_TEST(test_kinds_tell_why_the_locks_did_not_help)
{
	struct told t;

	/* a write under the read lock */
	tell(&t, HEADER LOCKS
		 RACE("concurrent",
		      ACCESS(11, "true", "false", "31", RHELD(1, "read")) ","
		      ACCESS(12, "false", "false", "32", RHELD(1, "read")),
		      ""));
	says(&t, "holding lock_a for reading, while");
	says(&t, "Both held lock_a, but only for reading");
	says(&t, "take lock_a for writing (pthread_rwlock_wrlock) around the code that "
		 "changes hits");
	ck_assert_uint_eq(t.f.nlocks, 2);
	forget(&t);
	/* two different locks */
	tell(&t, HEADER LOCKS
		 RACE("concurrent",
		      ACCESS(11, "true", "false", "31", RHELD(1, "write") "," RHELD(3, "write")) ","
		      ACCESS(12, "true", "false", "32", RHELD(2, "write")),
		      ""));
	says(&t, "two writes of hits");
	says(&t, "holding lock_a and lock_c, while");
	says(&t, "hold no lock in common");
	says(&t, "with the same lock (lock_a, say");
	forget(&t);
	/* an atomic against a plain access */
	tell(&t, HEADER LOCKS
		 RACE("concurrent",
		      ACCESS(11, "false", "false", "31", "") "," ACCESS(12, "true", "true", "32", ""),
		      ""));
	says(&t, "while thread 12 \"t12\" atomically wrote it");
	says(&t, "One of them is atomic and the other is not");
	forget(&t);
}
END_TEST

START_TEST(test_kinds_tell_a_value_that_changed)
{
	struct told t;

	tell(&t, HEADER LOCKS
		 RACE("value-change", ACCESS(11, "false", "false", "31", ""),
		      ",\"old\":\"0x0000000000000001\",\"new\":\"0x0000000000000002\""));
	says(&t, "hits changed under a read");
	says(&t, "(from 0x0000000000000001 to 0x0000000000000002)");
	says(&t, "built without -fsanitize=thread");
	ck_assert_uint_eq(t.f.nstacks, 1);
	forget(&t);
}
END_TEST

START_TEST(test_kinds_refuse_malformed_races)
{
	struct told t;

	tell(&t, HEADER RACE("concurrent", ACCESS(11, "true", "false", "31", ""), ""));
	ck_assert(!t.ok);
	ck_assert_msg(strstr(t.why, "fewer than two accesses"), "%s", t.why);
	forget(&t);
	tell(&t, HEADER RACE("concurrent", "{\"addr\":\"0x1\"},{}", ""));
	ck_assert(!t.ok);
	ck_assert_msg(strstr(t.why, "an access without"), "%s", t.why);
	forget(&t);
	tell(&t, HEADER RACE("concurrent",
			     "{\"thread\":{\"tid\":1},\"held\":{}}," ACCESS(12, "true", "false",
									     "32", ""),
			     ""));
	ck_assert(!t.ok);
	ck_assert_msg(strstr(t.why, "\"held\" is not an array"), "%s", t.why);
	forget(&t);
	tell(&t, HEADER "{\"kind\":\"data-race\",\"pid\":7,\"how\":\"value-change\"}\n");
	ck_assert(!t.ok);
	ck_assert_msg(strstr(t.why, "fewer than one access"), "%s", t.why);
	forget(&t);
	/* a variable the record does not name: its address */
	tell(&t, HEADER "{\"kind\":\"data-race\",\"pid\":7,\"how\":\"concurrent\","
			"\"addr\":\"0x6000\",\"accesses\":[" ACCESS(11, "true", "false", "31", "")
			"," ACCESS(12, "true", "false", "32", "") "]}\n");
	says(&t, "two writes of the memory at 0x6000");
	ck_assert(has_stack(&t, "thread 11 \"t11\" wrote the memory at 0x6000 (8 bytes), "
				"holding no locks, at:"));
	forget(&t);
}
END_TEST

static Suite *
kinds_suite(void)
{
	Suite *s = suite_create("kinds");
	TCase *dl = tcase_create("deadlock");
	TCase *to = tcase_create("acquire-timeout");
	TCase *race = tcase_create("data-race");

	finding_symbolize = false; /* the logs' modules do not exist */
	tcase_add_test(dl, test_kinds_tell_a_deadlock_of_two);
	tcase_add_test(dl, test_kinds_tell_a_cycle_of_three_and_read_modes);
	tcase_add_test(dl, test_kinds_tell_a_thread_deadlocked_with_itself);
	tcase_add_test(dl, test_kinds_tell_a_holder_that_exited);
	tcase_add_test(dl, test_kinds_refuse_malformed_deadlocks);
	tcase_add_test(to, test_kinds_tell_an_acquire_timeout);
	tcase_add_test(to, test_kinds_tell_a_timeout_behind_another_wait);
	tcase_add_test(to, test_kinds_tell_contention_as_a_profile);
	tcase_add_test(race, test_kinds_tell_a_race_without_locks);
	tcase_add_test(race, test_kinds_tell_why_the_locks_did_not_help);
	tcase_add_test(race, test_kinds_tell_a_value_that_changed);
	tcase_add_test(race, test_kinds_refuse_malformed_races);
	suite_add_tcase(s, dl);
	suite_add_tcase(s, to);
	suite_add_tcase(s, race);
	return s;
}

CHECK_MAIN(kinds_suite)
