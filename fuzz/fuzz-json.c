/*
 * libFuzzer target: the bounded JSON parser (tools/json.c) alone, with
 * small limits so that the limit paths are reached, and a walk of every
 * parsed document. Build and run: fuzz/run.sh.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t
walk(const struct json_value *v, unsigned depth)
{
	size_t n = 1;

	if (depth > 64)
		abort(); /* deeper than the limit allows */
	if (v->type == JSON_STRING && strlen(v->str) != v->n)
		abort(); /* a NUL inside a string */
	if (v->type == JSON_ARRAY)
		for (uint32_t i = 0; i < v->n; i++)
			n += walk(&v->items[i], depth + 1);
	if (v->type == JSON_OBJECT)
		for (uint32_t i = 0; i < 2 * v->n; i++)
			n += walk(&v->items[i], depth + 1);
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct json_limits small = {8, 1000, 256, 24};
	char err[160];
	struct json_doc *d;

	d = json_parse((const char *)data, size, &json_default_limits, err, sizeof(err), NULL);
	if (d) {
		walk(json_root(d), 0);
		json_get(json_root(d), "kind");
		json_doc_free(d);
	}
	d = json_parse((const char *)data, size, &small, err, sizeof(err), NULL);
	if (d) {
		if (walk(json_root(d), 0) > small.max_values)
			abort();
		json_doc_free(d);
	}
	return 0;
}
