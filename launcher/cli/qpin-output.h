/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — printing what run, plan and pin computed: warnings, the table, --json and --report. */
#pragma once

#include "qpin-help.h"
#include "qpin-session.h"

#include <stdio.h>

G_BEGIN_DECLS

/* The options of run, plan or pin from @argv. NULL when the command ends here: after --help
 * (@help, or a bare layout when NULL, printed to stdout with the command's options; a failed write is said and gives
 * QPIN_EXIT_FAILURE) or a bad command line or config file (said on stderr); *@exit_code is then
 * the status to return. */
QpinOptions *qpin_output_options(QpinCommandKind command, int argc, char **argv,
                                 const QpinHelp *help, int *exit_code);

/* Says @error (taken) on stderr and returns its exit status: the code of a QPIN_ERROR, else
 * @fallback. */
int qpin_output_error(GError *error, int fallback);

/* Prints the report's warnings ("qpin: warning: ...") to stderr. */
void qpin_output_warnings(const QpinFlow *s);

/* Prints what qpin noticed while reading the host (e.g. an isolcpus= value the kernel
 * ignores) to stderr, as warnings. */
void qpin_output_host_warnings(const TopoHost *host);

/* The table to @table (unless -q, or --json also goes to the same stdout), the JSON document
 * to stdout with --json, and the --report file. Every write is checked, the final flush
 * included; each failure is said on stderr ("qpin: cannot write to standard output: No space
 * left on device") and the other outputs are still attempted. A failure to write the table to
 * stderr is also added to the report's warnings, so that --json and --report carry it. Returns
 * FALSE when anything could not be written: a command exits QPIN_EXIT_FAILURE then; `run`,
 * whose guest already runs, decides for itself. */
gboolean qpin_output(const QpinFlow *s, FILE *table);

/* What a failing command does after saying why: stop QEMU (run) or roll back (pin), and say
 * what it did. Gets the exit status so far and returns the final one. */
typedef int (*QpinAftermathFunc)(gpointer data, int code);

/* The one failure path of run and pin: says @error (taken) on stderr and records it in the
 * report, fills the report from the plan (reading the thread names when @name_threads: only
 * while QEMU is there), calls @aftermath, and writes the --report file. Returns the exit
 * status: @error's, or what @aftermath made of it. */
int qpin_output_failure(QpinFlow *s, GError *error, gboolean name_threads,
                        QpinAftermathFunc aftermath, gpointer data);

/* Writes the --report file, if one was asked for (on a failure path too). Returns FALSE when it
 * could not be written (said on stderr). */
gboolean qpin_output_report_file(const QpinFlow *s);

G_END_DECLS
