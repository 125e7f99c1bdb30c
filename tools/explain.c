/*
 * lockhound explain LOG...: every finding of the logs, symbolized and told
 * in plain words, as text, JSON or SARIF. Reads every log first (an input
 * error anywhere prints nothing but the error), then turns each record into
 * a finding through the per-kind table below (explain.h), drops the
 * suppressed ones and prints the rest.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/lockhound-private.h"
#include "explain.h"
#include "sarif.h"

/* Add a row here (and a handler in tools/kind-KIND.c) for a new kind. */
const struct explain_kind explain_kinds[] = {
	{"lock-order-inversion",
	 "Locks taken in orders that form a cycle: threads running those paths at once "
	 "deadlock",
	 explain_inversion, true, LEVEL_ERROR},
	{"misuse", "A lock used against its rules (relock, unlock by a non-owner, ...)",
	 explain_misuse, true, LEVEL_ERROR},
	{"deadlock", "Threads deadlocked now: each waits for a lock another one holds",
	 explain_deadlock, true, LEVEL_ERROR},
	{"acquire-timeout", "A lock acquisition waited longer than timeout_ms",
	 explain_acquire_timeout, true, LEVEL_WARNING},
	{"data-race", "Two conflicting memory accesses without ordering", explain_data_race,
	 true, LEVEL_ERROR},
	{"thread-dump", "Every thread with its stack and locks", NULL, false, LEVEL_NOTE},
	{"contention", "Lock contention statistics (a profile, not a finding)",
	 explain_contention, false, LEVEL_NOTE},
	{"attach-dump", "Every thread of a process as lockhound attach saw it",
	 explain_attach_dump, false, LEVEL_NOTE},
};
const size_t explain_nkinds = sizeof(explain_kinds) / sizeof(explain_kinds[0]);

const struct explain_kind *
explain_kind_find(const char *kind)
{
	for (size_t i = 0; i < explain_nkinds; i++)
		if (strcmp(explain_kinds[i].kind, kind) == 0)
			return &explain_kinds[i];
	return NULL;
}

/* ---- the generic handler ------------------------------------------------ */

static bool
is_frames(const struct json_value *v)
{
	return v->type == JSON_ARRAY && v->n > 0 && v->items[0].type == JSON_OBJECT &&
	       json_get(&v->items[0], "pc");
}

/* Adds every array of frames inside v as a stack labelled by its path. */
static bool
find_stacks(struct logproc *p, const struct json_value *v, const char *path, int depth,
	    struct finding *f, char *why, size_t whysz)
{
	if (depth > 4 || f->nstacks >= 64)
		return true;
	if (v->type == JSON_OBJECT) {
		for (uint32_t i = 0; i < v->n; i++) {
			const char *key = v->items[2 * i].str;
			const struct json_value *c = &v->items[2 * i + 1];
			char *sub = *path ? xasprintf("%s.%s", path, key) : xstrdup0(key);
			bool ok = true;

			if (is_frames(c)) {
				struct logframe *fr;
				size_t n;
				char *label = xasprintf("%s:", sub);

				ok = logframes_decode(c, &fr, &n, why, whysz);
				if (ok)
					finding_add_stack(f, p, label, fr, n);
				free(fr);
				free(label);
			} else {
				ok = find_stacks(p, c, sub, depth + 1, f, why, whysz);
			}
			free(sub);
			if (!ok)
				return false;
		}
	} else if (v->type == JSON_ARRAY) {
		for (uint32_t i = 0; i < v->n && i < 256; i++) {
			char *sub = xasprintf("%s[%u]", path, i);
			bool ok = find_stacks(p, &v->items[i], sub, depth + 1, f, why, whysz);

			free(sub);
			if (!ok)
				return false;
		}
	}
	return true;
}

bool
explain_generic(struct logproc *p, const struct logrecord *r, struct finding *f, char *why,
		size_t whysz)
{
	const char *msg = json_get_str(r->v, "message");
	const struct json_value *locks = json_get_array(r->v, "locks");
	uint64_t pid = p->pid, id;

	json_get_u64(r->v, "pid", &pid);
	if (json_get_u64(r->v, "lock", &id) && logproc_lock(p, pid, id))
		finding_add_lock(f, p, logproc_lock(p, pid, id));
	for (uint32_t i = 0; locks && i < locks->n && i < 64; i++)
		if (json_as_u64(&locks->items[i], &id) && logproc_lock(p, pid, id))
			finding_add_lock(f, p, logproc_lock(p, pid, id));
	if (!find_stacks(p, r->v, "", 0, f, why, whysz))
		return false;
	f->title = xstrdup0(msg ? msg : r->kind);
	if (f->nlocks) {
		char *names = NULL;

		for (size_t i = 0; i < f->nlocks; i++) {
			char *n = xasprintf("%s%s%s", names ? names : "", i ? ", " : "", f->locks[i]);

			free(names);
			names = n;
		}
		f->text = xasprintf("%s%s (locks: %s).", msg ? msg : "A record of this kind",
				    msg && msg[strlen(msg) - 1] == '.' ? "" : "", names);
		free(names);
	} else if (msg) {
		f->text = xstrdup0(msg);
	}
	return true;
}

/* ---- the command -------------------------------------------------------------- */

#define EXIT_CLEAN 0
#define EXIT_FINDINGS 1
#define EXIT_USAGE 2

/* "lockhound: WHAT: WHY" (as cli_error in main.c; this file is also linked
 * into the unit tests and fuzzers, without main.c). */
static void __attribute__((format(printf, 2, 3)))
cli_error(const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "lockhound: %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
usage_explain(void)
{
	printf("usage: lockhound explain [--format=text|json|sarif] [--suppressions=FILE]...\n"
	       "                         [--suppressions-out=FILE] [--source-root=DIR]\n"
	       "                         [--all] [--no-symbolize] LOG...\n\n"
	       "Tells every finding of the logs in plain words, with what to change and the\n"
	       "stacks, symbolized offline (function, file:line, inlined calls).\n"
	       "  --format=FORMAT         text (default), json, or sarif (SARIF 2.1.0)\n"
	       "  --suppressions=FILE     hide the findings that a rule of FILE matches\n"
	       "  --suppressions-out=FILE write rules that hide the findings shown\n"
	       "  --source-root=DIR       SARIF: source paths relative to DIR (%%SRCROOT%%)\n"
	       "  --all                   also show records that are not findings (dumps)\n"
	       "  --no-symbolize          show raw addresses, read no binaries\n\n"
	       "Exit status: 0 nothing found, 1 findings, 2 usage or input error.\n");
}

static void
json_stack(FILE *out, const struct fstack *s)
{
	fputs("{\"label\":", out);
	fput_json_str(out, s->label);
	fprintf(out, ",\"partial\":%s,\"frames\":[", s->partial ? "true" : "false");
	for (size_t k = 0; k < s->n; k++) {
		const struct fframe *fr = &s->frames[k];

		fprintf(out, "%s{\"pc\":\"0x%" PRIx64 "\"", k ? "," : "", fr->pc);
		if (fr->module) {
			fputs(",\"module\":", out);
			fput_json_str(out, fr->module);
			fprintf(out, ",\"module_offset\":\"0x%" PRIx64 "\"", fr->module_offset);
		}
		if (fr->function) {
			fputs(",\"function\":", out);
			fput_json_str(out, fr->function);
		}
		if (fr->file) {
			fputs(",\"file\":", out);
			fput_json_str(out, fr->file);
			fprintf(out, ",\"line\":%d,\"column\":%d", fr->line, fr->column);
		}
		fprintf(out, ",\"inlined\":%s", fr->inlined ? "true" : "false");
		if (fr->status != SYM_OK) {
			fputs(",\"problem\":", out);
			fput_json_str(out, sym_status_text(fr->status));
		}
		fputc('}', out);
	}
	fputs("]}", out);
}

void
print_findings_json(FILE *out, struct finding *const *fs, size_t n, size_t nsuppressed)
{
	fputs("{\"lockhound\":1,\"findings\":[", out);
	for (size_t i = 0; i < n; i++) {
		const struct finding *f = fs[i];
		static const char *const levels[] = {"error", "warning", "note"};

		fputs(i ? ",\n{" : "\n{", out);
		fputs("\"kind\":", out);
		fput_json_str(out, f->kind);
		fputs(",\"rule\":", out);
		fput_json_str(out, f->rule ? f->rule : f->kind);
		fprintf(out, ",\"level\":\"%s\",\"title\":", levels[f->level]);
		fput_json_str(out, f->title);
		fputs(",\"text\":", out);
		fput_json_str(out, f->text);
		fputs(",\"advice\":", out);
		fput_json_str(out, f->advice);
		fputs(",\"log\":{\"file\":", out);
		fput_json_str(out, f->file);
		fprintf(out, ",\"line\":%u", f->line);
		if (f->proc) {
			fprintf(out, ",\"pid\":%" PRIu64 ",\"exe\":", f->proc->pid);
			fput_json_str(out, f->proc->exe);
		}
		fprintf(out, "},\"across_runs\":%s,\"locks\":[", f->across ? "true" : "false");
		for (size_t k = 0; k < f->nlocks; k++) {
			if (k)
				fputc(',', out);
			fput_json_str(out, f->locks[k]);
		}
		fputs("],\"stacks\":[", out);
		for (size_t k = 0; k < f->nstacks; k++) {
			if (k)
				fputc(',', out);
			json_stack(out, &f->stacks[k]);
		}
		fputs("]}", out);
	}
	fprintf(out, "\n],\"suppressed\":%zu}\n", nsuppressed);
}

int
parse_out_option(const char *cmd, const char *arg, struct out_opts *o)
{
	if (strncmp(arg, "--format=", 9) == 0) {
		if (strcmp(arg + 9, "text") == 0)
			o->format = FMT_TEXT;
		else if (strcmp(arg + 9, "json") == 0)
			o->format = FMT_JSON;
		else if (strcmp(arg + 9, "sarif") == 0)
			o->format = FMT_SARIF;
		else {
			cli_error(cmd, "%s: the format is text, json or sarif", arg);
			return -1;
		}
		return 1;
	}
	if (strncmp(arg, "--suppressions=", 15) == 0)
		return load_suppressions(&o->supp, arg + 15) ? 1 : -1;
	if (strncmp(arg, "--suppressions-out=", 19) == 0 && arg[19]) {
		o->supp_out = arg + 19;
		return 1;
	}
	if (strncmp(arg, "--source-root=", 14) == 0 && arg[14]) {
		o->source_root = arg + 14;
		return 1;
	}
	if (strcmp(arg, "--no-symbolize") == 0) {
		finding_symbolize = false;
		return 1;
	}
	if (strcmp(arg, "--all") == 0) {
		o->all = true;
		return 1;
	}
	return 0;
}

int
emit_findings(const char *cmd, struct out_opts *o, struct finding *const *fs, size_t n,
	      size_t nsuppressed, const char *none)
{
	if (o->supp_out) {
		FILE *sf = fopen(o->supp_out, "w");

		if (!sf) {
			cli_error(cmd, "%s: %s", o->supp_out, strerror(errno));
			return EXIT_USAGE;
		}
		write_suppressions(sf, fs, n);
		if (fclose(sf) != 0) {
			cli_error(cmd, "%s: %s", o->supp_out, strerror(errno));
			return EXIT_USAGE;
		}
	}
	switch (o->format) {
	case FMT_TEXT:
		for (size_t i = 0; i < n; i++)
			print_finding_text(stdout, fs[i]);
		if (n == 0)
			printf("%s", none);
		else
			printf("%zu finding%s", n, n == 1 ? "" : "s");
		if (nsuppressed)
			printf(" (%zu suppressed)", nsuppressed);
		printf(".\n");
		break;
	case FMT_JSON:
		print_findings_json(stdout, fs, n, nsuppressed);
		break;
	case FMT_SARIF:
		sarif_write(stdout, fs, n, o->source_root);
		break;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_error(cmd, "standard output: %s", strerror(errno));
		return EXIT_USAGE;
	}
	return EXIT_CLEAN;
}

int
cmd_explain(int argc, char **argv)
{
	struct out_opts o = {.format = FMT_TEXT};
	struct logfile **logs;
	struct finding **fs = NULL;
	size_t nfs = 0, nsupp = 0, nfindings = 0;
	int i, rc = EXIT_CLEAN;
	bool failed = false;

	for (i = 1; i < argc; i++) {
		int r;

		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0')
			break;
		r = parse_out_option("explain", argv[i], &o);
		if (r < 0) {
			lh_supp_free(&o.supp);
			return EXIT_USAGE;
		}
		if (r == 0) {
			cli_error("explain", "%s: unknown option (see 'lockhound explain --help')",
				  argv[i]);
			lh_supp_free(&o.supp);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		cli_error("explain", "no log to read (see 'lockhound explain --help')");
		lh_supp_free(&o.supp);
		return EXIT_USAGE;
	}
	logs = load_logs(argv + i, (size_t)(argc - i));
	if (!logs) {
		lh_supp_free(&o.supp);
		return EXIT_USAGE;
	}
	for (size_t l = 0; l < (size_t)(argc - i) && !failed; l++) {
		struct logfile *lf = logs[l];
		const char *unknown[16];
		size_t nunknown = 0;

		for (size_t k = 0; k < lf->nprocs && !failed; k++) {
			struct logproc *p = lf->procs[k];

			for (size_t j = 0; j < p->nrecords && !failed; j++) {
				const struct logrecord *r = &p->records[j];
				const struct explain_kind *ek = explain_kind_find(r->kind);
				struct finding *f;
				char why[200];
				bool seen = false;

				if (!ek) {
					for (size_t u = 0; u < nunknown; u++)
						seen |= strcmp(unknown[u], r->kind) == 0;
					if (!seen && nunknown < 16) {
						unknown[nunknown++] = r->kind;
						fprintf(stderr,
							"lockhound: %s:%u: note: records of kind "
							"\"%s\" are unknown to this lockhound and "
							"skipped\n",
							lf->path, r->line, r->kind);
					}
					continue;
				}
				if (!ek->finding && !o.all)
					continue;
				f = xcalloc(1, sizeof(*f));
				f->kind = ek->kind;
				f->level = ek->level;
				f->proc = p;
				f->file = lf->path;
				f->line = r->line;
				why[0] = '\0';
				if (!(ek->fn ? ek->fn : explain_generic)(p, r, f, why, sizeof(why))) {
					fprintf(stderr, "lockhound: %s:%u: %s\n", lf->path, r->line,
						why[0] ? why : "malformed record");
					finding_free(f);
					free(f);
					failed = true;
					break;
				}
				if (!f->rule)
					f->rule = xstrdup0(f->kind);
				if (!f->title)
					f->title = xstrdup0(f->kind);
				if (finding_suppressed(&o.supp, f)) {
					nsupp++;
					finding_free(f);
					free(f);
					continue;
				}
				fs = realloc(fs, (nfs + 1) * sizeof(*fs));
				if (!fs) {
					fputs("lockhound: out of memory\n", stderr);
					exit(EXIT_USAGE);
				}
				fs[nfs++] = f;
				nfindings += ek->finding;
			}
		}
	}
	if (failed) {
		rc = EXIT_USAGE;
	} else {
		report_sym_problems(logs, (size_t)(argc - i));
		rc = emit_findings("explain", &o, fs, nfs, nsupp, "No findings");
		if (rc == EXIT_CLEAN && nfindings)
			rc = EXIT_FINDINGS;
	}
	for (size_t k = 0; k < nfs; k++) {
		finding_free(fs[k]);
		free(fs[k]);
	}
	free(fs);
	free_logs(logs, (size_t)(argc - i));
	lh_supp_free(&o.supp);
	return rc;
}
