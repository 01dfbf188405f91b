/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — drawing the host audit: the grouped table and the JSON document of `qpin check`, and
 * the warnings of `plan --check` / `run --check`. */
#pragma once

#include "qpin-audit.h"

#include <json-c/json.h>
#include <stdio.h>

G_BEGIN_DECLS

#define QPIN_CHECK_SCHEMA_VERSION 1

/* The table, grouped (cpu, irq, kthread, workqueue, mm, sched), each text wrapped to @width
 * columns (80 when 0), then the one-line verdict. */
void qpin_output_check_table(const QpinAuditResult *r, const char *source, guint width,
                             GString *out);

/* The --json document (docs/schema/check.schema.json). */
json_object *qpin_output_check_json(const QpinAuditResult *r, const char *source);

/* `qpin check` output to stdout: the table, or the JSON with @json. FALSE when stdout could not
 * be written (said on stderr). */
gboolean qpin_output_check(const QpinAuditResult *r, const char *source, gboolean json);

/* Each check that did not pass, as "qpin: warning: check ID STATUS: OBSERVED; fix: FIX" on
 * stderr; the failed ones left out with @skip_fails (a refusal names them). */
void qpin_output_check_warnings(const QpinAuditResult *r, gboolean skip_fails);

/* The error of run --check=strict: the failed checks and their fixes. */
GError *qpin_output_check_refusal(const QpinAuditResult *r);

G_END_DECLS
