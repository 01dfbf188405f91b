/* qpin — printing what run, plan and pin computed: warnings, the table, --json and --report. */
#pragma once

#include "flow.h"

#include <stdio.h>

G_BEGIN_DECLS

/* Prints the report's warnings ("qpin: warning: ...") to stderr. */
void qpin_output_warnings(const QpinFlow *s);

/* The table to @table (unless -q, or --json also goes to the same stdout), the JSON document
 * to stdout with --json, and the --report file. Returns FALSE when the report file could not
 * be written (said on stderr). */
gboolean qpin_output(const QpinFlow *s, FILE *table);

/* Writes the --report file, if one was asked for, on a failure path. */
void qpin_output_report_file(const QpinFlow *s);

G_END_DECLS
