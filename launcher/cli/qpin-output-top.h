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

typedef enum {
    QPIN_TOP_SORT_INDEX, /* vCPU index (batch) */
    QPIN_TOP_SORT_USAGE, /* busiest first (screen) */
} QpinTopSort;

/* The frame of one interval: a summary line, the vCPUs, the emulator threads and iothreads,
 * the host CPUs of the map, the guest memory. @max_vcpus > 0 limits the vCPU rows (a screen
 * shorter than the guest); 0 shows all. */
void qpin_output_top_text(const QpinTop *top, QpinTopSort sort, guint max_vcpus, GString *out);

/* One JSON object on one line, ending in "\n". */
char *qpin_output_top_json(const QpinTop *top);

/* The node_exporter textfile format of the sample. */
char *qpin_output_top_prometheus(const QpinTop *top);

G_END_DECLS
