/*
 * LOCKHOUND_OPTIONS: `key=value` pairs separated by `:`. Every key is in the
 * table below, with its type and range; `lockhound run` checks its
 * --key=value arguments against the same table. A bad pair gets a warning
 * naming the key and leaves that option at its default. Runs once, at
 * start-up, before any thread of ours exists; no locks.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "lockhound-private.h"

struct lh_options lh_opt;

enum opt_type { OPT_PATH, OPT_INT, OPT_ENUM, OPT_SIGNAL };

struct opt {
	const char *key;
	enum opt_type type;
	size_t offset;
	long min, max;
	const char *const *names; /* OPT_ENUM: the values, by number */
};

static const char *const on_deadlock_names[] = {"report", "abort", NULL};
static const char *const stats_names[] = {"off", "on", "hold", NULL};

static const struct opt opts[] = {
	{"log_path", OPT_PATH, offsetof(struct lh_options, log_path), 0, 0, NULL},
	{"exitcode", OPT_INT, offsetof(struct lh_options, exitcode), 0, 255, NULL},
	{"on_deadlock", OPT_ENUM, offsetof(struct lh_options, on_deadlock), 0, 0,
	 on_deadlock_names},
	{"timeout_ms", OPT_INT, offsetof(struct lh_options, timeout_ms), 0, 86400000, NULL},
	{"stats", OPT_ENUM, offsetof(struct lh_options, stats), 0, 0, stats_names},
	{"suppressions", OPT_PATH, offsetof(struct lh_options, suppressions), 0, 0, NULL},
	{"dump_signal", OPT_SIGNAL, offsetof(struct lh_options, dump_signal), 0, 0, NULL},
	{"race_sample", OPT_INT, offsetof(struct lh_options, race_sample), 0, 1000000000, NULL},
	{"race_delay", OPT_INT, offsetof(struct lh_options, race_delay), 1, 1000000, NULL},
	{"inline_locks", OPT_INT, offsetof(struct lh_options, inline_locks), 0, 1, NULL},
	{"dump_interrupt", OPT_INT, offsetof(struct lh_options, dump_interrupt), 0, 1, NULL},
};

void
lh_options_defaults(struct lh_options *o)
{
	memset(o, 0, sizeof(*o));
	o->exitcode = -1;
	o->stats = LH_STATS_ON;
	o->dump_signal = SIGUSR1;
	o->race_sample = LH_RACE_SAMPLE_DEFAULT;
	o->race_delay = LH_RACE_DELAY_DEFAULT;
	o->inline_locks = 1;
	o->dump_interrupt = 1;
}

static const struct opt *
lookup(const char *key, size_t klen)
{
	for (size_t i = 0; i < LH_ARRAY_SIZE(opts); i++)
		if (strlen(opts[i].key) == klen && memcmp(opts[i].key, key, klen) == 0)
			return &opts[i];
	return NULL;
}

bool
lh_option_known(const char *key)
{
	return lookup(key, strlen(key)) != NULL;
}

static int
parse_long(const char *v, long min, long max, long *out, const char **why)
{
	char *end;
	long n;

	if (*v == '\0') {
		*why = "empty value";
		return -EINVAL;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (*end != '\0') {
		*why = "not a number";
		return -EINVAL;
	}
	if (errno == ERANGE || n < min || n > max) {
		*why = "out of range";
		return -ERANGE;
	}
	*out = n;
	return 0;
}

/* Signals by name, for dump_signal. */
static const struct {
	const char *name;
	int sig;
} signal_names[] = {
	{"HUP", SIGHUP},   {"INT", SIGINT},	{"QUIT", SIGQUIT},   {"USR1", SIGUSR1},
	{"USR2", SIGUSR2}, {"PIPE", SIGPIPE},	{"ALRM", SIGALRM},   {"TERM", SIGTERM},
	{"CHLD", SIGCHLD}, {"CONT", SIGCONT},	{"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},
	{"TTOU", SIGTTOU}, {"URG", SIGURG},	{"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},
	{"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
	{"PWR", SIGPWR},
};

/*
 * A dump_signal value: 0 (none), a number, or a name with or without "SIG"
 * (USR1, SIGUSR2, SIGRTMIN+3, RTMAX-5). Returns the signal, or a negative
 * errno with *why set for a signal that cannot be the dump signal: one that
 * cannot be caught, reports a fault, is reserved by glibc, or is the
 * runtime's own (SIGRTMAX-2).
 */
int
lh_signal_parse(const char *s, const char **why)
{
	long n = -1;
	char *end;

	if (*s == '\0') {
		*why = "empty value";
		return -EINVAL;
	}
	if (*s >= '0' && *s <= '9') {
		errno = 0;
		n = strtol(s, &end, 10);
		if (*end != '\0' || errno == ERANGE) {
			*why = "not a signal";
			return -EINVAL;
		}
		if (n == 0)
			return 0;
	} else {
		if (strncmp(s, "SIG", 3) == 0)
			s += 3;
		for (size_t i = 0; i < LH_ARRAY_SIZE(signal_names); i++)
			if (strcmp(s, signal_names[i].name) == 0)
				n = signal_names[i].sig;
		if (strncmp(s, "RTMIN", 5) == 0 || strncmp(s, "RTMAX", 5) == 0) {
			long k = 0;

			if (s[5] != '\0') {
				char sign = s[3] == 'I' ? '+' : '-';

				if (s[5] != sign || s[6] < '0' || s[6] > '9') {
					*why = "not a signal";
					return -EINVAL;
				}
				k = strtol(s + 6, &end, 10);
				if (*end != '\0' || k > 64) {
					*why = "not a signal";
					return -EINVAL;
				}
			}
			n = s[3] == 'I' ? SIGRTMIN + k : SIGRTMAX - k;
		}
		if (n < 0) {
			*why = "not a signal";
			return -EINVAL;
		}
	}
	if (n < 1 || n > SIGRTMAX) {
		*why = "not a signal";
		return -ERANGE;
	}
	if (n == SIGKILL || n == SIGSTOP || n == SIGSEGV || n == SIGBUS || n == SIGILL ||
	    n == SIGFPE || n == SIGABRT || n == SIGTRAP || n == SIGSYS ||
	    (n > 31 && n < SIGRTMIN) || n == SIGRTMAX - LH_DUMP_RTSIG_BELOW_MAX) {
		*why = "this signal cannot be the dump signal";
		return -EINVAL;
	}
	return (int)n;
}

/* The signal's name ("SIGUSR1", "SIGRTMIN+3") in buf. */
const char *
lh_signal_name(int sig, char *buf, size_t size)
{
	const char *name = NULL;
	char num[24];

	for (size_t i = 0; i < LH_ARRAY_SIZE(signal_names); i++)
		if (signal_names[i].sig == sig)
			name = signal_names[i].name;
	if (size < 16)
		return "?";
	if (name) {
		strcpy(buf, "SIG");
		strncat(buf, name, size - 4);
	} else {
		bool rt = sig >= SIGRTMIN && sig <= SIGRTMAX;
		int v = rt ? sig - SIGRTMIN : sig < 0 ? 0 : sig;
		size_t k = sizeof(num) - 1;

		num[k] = '\0';
		do {
			num[--k] = (char)('0' + v % 10);
			v /= 10;
		} while (v && k > 0);
		strcpy(buf, rt ? "SIGRTMIN+" : "signal ");
		strcat(buf, num + k);
	}
	return buf;
}

/*
 * Checks one value without storing it: 0 (an enum's value number), or a
 * negative errno with *why set. Used by the CLI for `lockhound run`.
 */
int
lh_option_check(const char *key, const char *value, const char **why)
{
	const struct opt *o = lookup(key, strlen(key));
	long n;

	if (!o) {
		*why = "unknown option";
		return -ENOENT;
	}
	if (o->type == OPT_INT)
		return parse_long(value, o->min, o->max, &n, why);
	if (o->type == OPT_SIGNAL) {
		int sig = lh_signal_parse(value, why);

		return sig < 0 ? sig : 0;
	}
	if (o->type == OPT_ENUM) {
		for (int i = 0; o->names[i]; i++)
			if (strcmp(value, o->names[i]) == 0)
				return i;
		*why = "not one of the allowed values";
		return -EINVAL;
	}
	if (*value == '\0') {
		*why = "empty value";
		return -EINVAL;
	}
	if (strlen(value) >= LH_PATH_MAX) {
		*why = "too long";
		return -ENAMETOOLONG;
	}
	return 0;
}

static void
apply(struct lh_options *o, const struct opt *opt, const char *key, const char *value,
      lh_warn_fn warn, void *arg, int *nwarn)
{
	const char *why = NULL;
	long n;

	if (lh_option_check(key, value, &why) < 0) {
		warn(key, why, arg);
		(*nwarn)++;
		return;
	}
	if (opt->type == OPT_INT) {
		parse_long(value, opt->min, opt->max, &n, &why);
		*(int *)((char *)o + opt->offset) = (int)n;
	} else if (opt->type == OPT_ENUM) {
		*(int *)((char *)o + opt->offset) = lh_option_check(key, value, &why);
	} else if (opt->type == OPT_SIGNAL) {
		*(int *)((char *)o + opt->offset) = lh_signal_parse(value, &why);
	} else {
		strcpy((char *)o + opt->offset, value);
	}
}

/*
 * Parses s into o, which holds the defaults. Returns how many warnings were
 * given; every bad pair is skipped, the rest apply.
 */
int
lh_options_parse(struct lh_options *o, const char *s, lh_warn_fn warn, void *arg)
{
	int nwarn = 0;
	char key[64], value[LH_PATH_MAX];

	while (s && *s) {
		const char *end = strchr(s, ':');
		const char *eq;
		size_t len = end ? (size_t)(end - s) : strlen(s);
		size_t klen;
		const struct opt *opt;

		if (len == 0) {
			s = end ? end + 1 : s + len;
			continue;
		}
		eq = memchr(s, '=', len);
		klen = eq ? (size_t)(eq - s) : len;
		if (klen >= sizeof(key))
			klen = sizeof(key) - 1;
		memcpy(key, s, klen);
		key[klen] = '\0';
		opt = lookup(s, eq ? (size_t)(eq - s) : len);
		if (!eq) {
			warn(key, opt ? "missing value" : "unknown option", arg);
			nwarn++;
		} else if (!opt) {
			warn(key, "unknown option", arg);
			nwarn++;
		} else if ((size_t)(s + len - eq - 1) >= sizeof(value)) {
			warn(key, "too long", arg);
			nwarn++;
		} else {
			size_t vlen = (size_t)(s + len - eq - 1);

			memcpy(value, eq + 1, vlen);
			value[vlen] = '\0';
			apply(o, opt, key, value, warn, arg, &nwarn);
		}
		s = end ? end + 1 : s + len;
	}
	return nwarn;
}
