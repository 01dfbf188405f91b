/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — plans and reports for people and programs: the JSON document (through json-c), the
 * human table, and the --report file. */
#pragma once

#include "qpin-output-grid.h"
#include "qpin-report.h"

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

/* How qpin writes JSON documents: indented, "key": value, slashes as they are. */
#define QPIN_JSON_FLAGS                                                                            \
    (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

/* The "schema_version" of plans and reports, their first member (docs/schema/report.schema.json
 * and plan.schema.json). A change of shape (a member removed or renamed, a type changed) bumps
 * it; a new member does not. */
#define QPIN_REPORT_SCHEMA_VERSION 1

/* A CPU set as a JSON cpulist string ("0-3,8"); NULL (JSON null) for a NULL set. The one JSON
 * form of a CPU set in every document qpin prints. */
json_object *qpin_output_json_cpuset(const TopoCpuSet *set);

/* The JSON document of a plan or report (see docs/run.md for the fields), "schema_version"
 * first, the guest memory ("numa", "memory", see qpin-output-memory.h) included. The caller owns
 * the reference. */
json_object *qpin_output_report_json(const QpinReport *report);

/* qpin_output_report_json() as text, as --json prints it and the --report file holds it:
 * QPIN_JSON_FLAGS and a final newline. */
char *qpin_output_report_text(const QpinReport *report);

/* The human output of a plan or report, appended to @out: a headline, the vCPUs as @show says
 * (the table, the host grid of qpin-output-grid.h at most @width columns wide, in colour with
 * @colour, or both), the emulator threads and iothreads, the guest memory plan with the preflight
 * figures, the memory placement table when the report has one, explain lines and timings. */
void qpin_output_report_human(const QpinReport *report, QpinShow show, guint width, gboolean colour,
                              GString *out);

/* qpin_output_report_human() with the vCPU table, 80 columns. */
void qpin_output_report_table(const QpinReport *report, GString *out);

/* Writes qpin_output_report_text() to @path like an editor saves a file (see
 * qpin_file_write()): a device or FIFO is written in place, an existing file is replaced
 * atomically keeping its owner and mode, a new file is created 0600 (the document holds QEMU's
 * command line). Errors are QPIN_ERROR, QPIN_ERROR_FAILED: "cannot write the report PATH:
 * reason". */
gboolean qpin_output_report_write(const QpinReport *report, const char *path, GError **error);

/* The bare-metal twin's commands (plan --bare-metal), one per line, or why there is none. */
void qpin_output_bare_metal_text(const QpinBareMetal *bare, GString *out);

G_END_DECLS
