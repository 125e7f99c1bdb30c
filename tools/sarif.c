/*
 * SARIF 2.1.0 (OASIS) output for explain and replay. One run; one rule per
 * finding kind (misuse per "what"); each result on the source line of its
 * main stack's site, the other sites as related locations, every stack as a
 * SARIF stack, and a partial fingerprint (rule and lock names) so that code
 * review tools follow a finding across builds.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "explain.h"
#include "sarif.h"

static void
put_uri(FILE *out, const char *path, const char *root)
{
	size_t rl = root ? strlen(root) : 0;
	bool rel = false;

	while (rl > 1 && root[rl - 1] == '/')
		rl--;
	if (root && path[0] == '/' && strncmp(path, root, rl) == 0 && path[rl] == '/') {
		path += rl + 1;
		rel = true;
	}
	fputs("{\"uri\":\"", out);
	if (path[0] == '/')
		fputs("file://", out);
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("/-._~+", *p))
			fputc(*p, out);
		else
			fprintf(out, "%%%02X", *p);
	}
	fputc('"', out);
	if (rel)
		fputs(",\"uriBaseId\":\"SRCROOT\"", out);
	fputc('}', out);
}

/* A location object for fr; false (nothing written) if it has no place. */
static bool
put_location(FILE *out, const struct fframe *fr, const char *root, const char *msg, int id)
{
	bool phys = fr && fr->file && fr->line > 0;

	if (!fr || (!phys && !fr->function))
		return false;
	fputc('{', out);
	if (id >= 0)
		fprintf(out, "\"id\":%d,", id);
	if (phys) {
		fputs("\"physicalLocation\":{\"artifactLocation\":", out);
		put_uri(out, fr->file, root);
		fprintf(out, ",\"region\":{\"startLine\":%d", fr->line);
		if (fr->column > 0)
			fprintf(out, ",\"startColumn\":%d", fr->column);
		fputs("}}", out);
	}
	if (fr->function) {
		fputs(phys ? ",\"logicalLocations\":[{\"name\":" : "\"logicalLocations\":[{\"name\":",
		      out);
		fput_json_str(out, fr->function);
		fputs(",\"kind\":\"function\"}]", out);
	}
	if (msg) {
		fputs(",\"message\":{\"text\":", out);
		fput_json_str(out, msg);
		fputc('}', out);
	}
	fputc('}', out);
	return true;
}

static uint64_t
fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *
level_name(enum finding_level l)
{
	return l == LEVEL_ERROR ? "error" : l == LEVEL_WARNING ? "warning" : "note";
}

void
sarif_write(FILE *out, struct finding *const *fs, size_t n, const char *root)
{
	const char **rules = xcalloc(n + 1, sizeof(*rules));
	size_t nrules = 0;

	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		for (size_t k = 0; k < nrules; k++)
			seen |= strcmp(rules[k], fs[i]->rule) == 0;
		if (!seen)
			rules[nrules++] = fs[i]->rule;
	}
	fputs("{\"$schema\":\"https://json.schemastore.org/sarif-2.1.0.json\","
	      "\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":{\"name\":\"lockhound\","
	      "\"version\":\"" PACKAGE_VERSION "\",\"semanticVersion\":\"" PACKAGE_VERSION "\","
	      "\"rules\":[",
	      out);
	for (size_t k = 0; k < nrules; k++) {
		const char *slash = strchr(rules[k], '/');
		char *kind = slash ? strndup(rules[k], (size_t)(slash - rules[k]))
				   : xstrdup0(rules[k]);
		const struct explain_kind *ek = kind ? explain_kind_find(kind) : NULL;
		char *desc = slash ? xasprintf("%s: %s", ek ? ek->summary : "lockhound finding",
					       slash + 1)
				   : xstrdup0(ek ? ek->summary : "lockhound finding");

		fprintf(out, "%s\n{\"id\":", k ? "," : "");
		fput_json_str(out, rules[k]);
		fputs(",\"shortDescription\":{\"text\":", out);
		fput_json_str(out, desc);
		fprintf(out, "},\"defaultConfiguration\":{\"level\":\"%s\"},"
			     "\"helpUri\":\"https://manpages.debian.org/lockhound.1\"}",
			level_name(ek ? ek->level : LEVEL_WARNING));
		free(kind);
		free(desc);
	}
	fputs("]}},", out);
	if (root) {
		/* SARIF wants the base URI to end with a slash. */
		char *r = root[strlen(root) - 1] == '/' ? xstrdup0(root) : xasprintf("%s/", root);

		fputs("\"originalUriBaseIds\":{\"SRCROOT\":", out);
		put_uri(out, r, NULL);
		fputs("},", out);
		free(r);
	}
	fputs("\"columnKind\":\"unicodeCodePoints\",\"results\":[", out);
	for (size_t i = 0; i < n; i++) {
		const struct finding *f = fs[i];
		size_t ri = 0;
		char *msg;
		uint64_t h = 0xcbf29ce484222325ull;
		char **names = xcalloc(f->nlocks + 1, sizeof(*names));
		const struct fframe *site = f->nstacks ? fstack_site(&f->stacks[f->primary]) : NULL;
		int id = 1;

		for (size_t k = 0; k < nrules; k++)
			if (strcmp(rules[k], f->rule) == 0)
				ri = k;
		msg = f->advice ? xasprintf("%s: %s %s What to change: %s", f->kind, f->title,
					    f->text ? f->text : "", f->advice)
				: xasprintf("%s: %s %s", f->kind, f->title, f->text ? f->text : "");
		fprintf(out, "%s\n{\"ruleId\":", i ? "," : "");
		fput_json_str(out, f->rule);
		fprintf(out, ",\"ruleIndex\":%zu,\"level\":\"%s\",\"message\":{\"text\":", ri,
			level_name(f->level));
		fput_json_str(out, msg);
		fputs("},\"locations\":[", out);
		put_location(out, site, root, NULL, -1);
		fputs("],\"relatedLocations\":[", out);
		for (size_t k = 0, w = 0; k < f->nstacks; k++) {
			const struct fframe *s = fstack_site(&f->stacks[k]);

			if ((int)k == f->primary || !s || !s->file)
				continue;
			if (w++)
				fputc(',', out);
			put_location(out, s, root, f->stacks[k].label, id++);
		}
		fputs("],\"stacks\":[", out);
		for (size_t k = 0; k < f->nstacks; k++) {
			const struct fstack *s = &f->stacks[k];

			fprintf(out, "%s{\"message\":{\"text\":", k ? "," : "");
			fput_json_str(out, s->label);
			fputs("},\"frames\":[", out);
			for (size_t j = 0; j < s->n; j++) {
				const struct fframe *fr = &s->frames[j];

				fprintf(out, "%s{", j ? "," : "");
				if (fr->function || (fr->file && fr->line > 0)) {
					fputs("\"location\":", out);
					put_location(out, fr, root, NULL, -1);
					fputc(',', out);
				}
				if (fr->module) {
					fputs("\"module\":", out);
					fput_json_str(out, fr->module);
					fputc(',', out);
				}
				fprintf(out, "\"properties\":{\"pc\":\"0x%" PRIx64 "\","
					     "\"moduleOffset\":\"0x%" PRIx64 "\",\"inlined\":%s}}",
					fr->pc, fr->module_offset, fr->inlined ? "true" : "false");
			}
			fputs("]}", out);
		}
		for (size_t k = 0; k < f->nlocks; k++)
			names[k] = f->locks[k];
		qsort(names, f->nlocks, sizeof(*names), str_cmp);
		h = fnv(h, f->rule);
		for (size_t k = 0; k < f->nlocks; k++)
			h = fnv(h, names[k]);
		fprintf(out, "],\"partialFingerprints\":{\"lockhound/v1\":\"%016" PRIx64 "\"},"
			     "\"properties\":{\"log\":",
			h);
		fput_json_str(out, f->file);
		fprintf(out, ",\"logLine\":%u,\"locks\":[", f->line);
		for (size_t k = 0; k < f->nlocks; k++) {
			if (k)
				fputc(',', out);
			fput_json_str(out, f->locks[k]);
		}
		fputs("]}}", out);
		free(names);
		free(msg);
	}
	fputs("\n]}]}\n", out);
	free(rules);
}
