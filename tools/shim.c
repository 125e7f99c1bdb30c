/*
 * What the runtime modules the CLI reuses (graph.c for replay, suppress.c)
 * expect from the runtime's report.c: warnings, here on stderr with stdio.
 */
#include "config.h"

#include <stdio.h>

#include "../lib/lockhound-private.h"

void
lh_warn(const char *msg)
{
	fprintf(stderr, "lockhound: warning: %s\n", msg);
}

void
lh_warn_once(_Atomic int *flag, const char *msg)
{
	if (atomic_exchange(flag, 1) == 0)
		lh_warn(msg);
}
