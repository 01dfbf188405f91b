/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the host preflight of the guest memory: before QEMU starts, whether the host (the live
 * one, or a --sysroot tree read by topology/) can hold the guest nodes of qpin-memory.h. A pure
 * function of the TopoHost, plus the hugetlbfs mounts of a live host. */
#pragma once

#include "qpin-memory.h"

#include <qpin/host.h>

#include <glib.h>

G_BEGIN_DECLS

/* Checks the host can hold @nodes before QEMU starts: host nodes exist, have memory, are in
 * host->mems_allowed; bound nodes have enough MemFree; hugepage backends have enough free
 * pages of that size on that node (the message names the guest node, host node, page size,
 * needed and free amounts, and the nr_hugepages path and value that would reserve them).
 * Errors are QPIN_ERROR, QPIN_ERROR_PREFLIGHT with every problem in the message
 * (QPIN_ERROR_USAGE when qpin_memory_validate() refuses the nodes). */
gboolean qpin_preflight_memory(const GPtrArray *nodes, const TopoHost *host, GError **error);

/* What the guest nodes ask of one host node's free memory (page_kib 0: nodes bound with
 * policy=bind) or of one hugepage pool, and what it has: the figures qpin_preflight_memory()
 * compares, for people to read in a plan. */
typedef struct {
    int host_node;           /* -1: hugepages from any allowed node (no strict binding) */
    guint64 page_kib;        /* 0: plain memory */
    guint64 needed;          /* KiB of plain memory, or a number of hugepages */
    guint64 available;       /* MemFree in KiB, or free hugepages */
    gboolean known;          /* the host node (and its pool of that page size) exists */
    gboolean ok;             /* known and needed <= available */
    TopoCpuSet *guest_nodes; /* the guest nodes that ask it */
} QpinPreflightDemand;

void qpin_preflight_demand_free(QpinPreflightDemand *demand);

/* The demands of @nodes on @host (QpinPreflightDemand*), in the order of the guest nodes; empty
 * without nodes. Nodes left unchecked by the preflight (unbound plain memory, host nodes that do
 * not exist) ask nothing. */
GPtrArray *qpin_preflight_demands(const GPtrArray *nodes, const TopoHost *host);

G_END_DECLS
