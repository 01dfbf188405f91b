/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the placement grid: the host drawn as nodes x cores x SMT threads, each cell saying
 * what a plan or report put on that host CPU (`qpin plan --show grid`, docs/maps.md). */
#pragma once

#include "qpin-report.h"

#include <glib.h>

G_BEGIN_DECLS

/* What the human output of run and plan shows of the vCPUs (--show). */
typedef enum {
    QPIN_SHOW_AUTO,  /* table and grid up to QPIN_SHOW_TABLE_MAX vCPUs, the grid alone above
                      * (the table alone without a host or a map) */
    QPIN_SHOW_TABLE, /* one row per vCPU */
    QPIN_SHOW_GRID,  /* the host grid */
    QPIN_SHOW_BOTH,  /* the table, then the grid */
} QpinShow;

/* Above this many vCPUs, --show auto draws the grid: a table that long no longer fits a screen. */
#define QPIN_SHOW_TABLE_MAX 32

/* Parses a --show value ("auto", "table", "grid", "both"). FALSE for anything else. */
gboolean qpin_show_parse(const char *text, QpinShow *show);

/* The grid of @report on its host, appended to @out, at most @width columns wide (80 for a
 * file or pipe): a legend, then per host node a header line (CPUs, cores x threads, what the
 * node holds of the guest memory, isolated CPUs) and rows of cores, wrapped to the width, then
 * the offline CPUs. Cells: the vCPU index, '+' several vCPUs, 'E' emulator, 'I' iothread, 'R'
 * reserved, 'x' not allowed, '~' isolated or nohz_full and free, '.' free. Ends with the free CPUs.
 * Plain ASCII; with @colour (for a terminal), cells in colours of their kind, as wide. */
void qpin_output_grid(const QpinReport *report, guint width, gboolean colour, GString *out);

G_END_DECLS
