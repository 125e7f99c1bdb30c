/*
 * SARIF 2.1.0 output: findings as results on their source lines, with every
 * stack as a SARIF stack, for CI systems and code review tools.
 */
#ifndef LOCKHOUND_SARIF_H
#define LOCKHOUND_SARIF_H

#include <stdio.h>

#include "finding.h"

/* Writes one SARIF log with one run. source_root (may be NULL): source files
 * under it get URIs relative to %SRCROOT%. */
void sarif_write(FILE *out, struct finding *const *fs, size_t n, const char *source_root);

#endif
