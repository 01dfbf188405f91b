/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — what `qpin top` draws of a QpinTop sample: the text frame (batch and screen), the
 * one-line JSON object per interval (docs/schema/top.schema.json) and the node_exporter
 * textfile. */
#pragma once

#include "qpin-top.h"

#include <glib.h>

G_BEGIN_DECLS

/* "schema_version" of the --json lines of qpin top. */
#define QPIN_TOP_SCHEMA_VERSION 1

/* The order of the vCPU rows (-s KEY, or a key on the screen). */
typedef enum {
    QPIN_TOP_SORT_INDEX, /* vCPU index, ascending */
    QPIN_TOP_SORT_USAGE, /* busiest first */
    QPIN_TOP_SORT_STEAL, /* longest wait for the CPU first */
    QPIN_TOP_SORT_CPU,   /* last host CPU, ascending */
} QpinTopSort;

/* "index", "usage", "steal", "cpu" (-s KEY) -> TRUE and @sort; FALSE for any other name. */
gboolean qpin_output_top_sort_parse(const char *name, QpinTopSort *sort);
/* The name of @sort, as -s takes it. */
const char *qpin_output_top_sort_name(QpinTopSort sort);

/* The frame of one interval: a summary line, the vCPUs sorted by @sort (drifted vCPUs first
 * when @drift_first: on the screen, where they are what is looked for), the emulator threads
 * and iothreads, the host CPUs of the map, the guest memory. @max_vcpus > 0 limits the vCPU
 * rows (a screen shorter than the guest); 0 shows all. */
void qpin_output_top_text(const QpinTop *top, QpinTopSort sort, gboolean drift_first,
                          guint max_vcpus, GString *out);

/* One JSON object on one line, ending in "\n". */
char *qpin_output_top_json(const QpinTop *top);

/* The node_exporter textfile format of the sample. */
char *qpin_output_top_prometheus(const QpinTop *top);

G_END_DECLS
