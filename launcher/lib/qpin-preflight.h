/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the host preflight of the guest memory: before QEMU starts, whether the host (the live
 * one, or a --sysroot tree read by topology/) can hold the guest nodes of qpin-memory.h. A pure
 * function of the TopoHost, plus the hugetlbfs mounts of a live host. */
#pragma once

#include "qpin-memory.h"
#include "qpin-report.h"

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

/* What the guest asks of one host node's hugepage pool. */
typedef struct {
    int host_node;
    guint64 page_kib;
    guint64 pages;
} QpinHugepageDemand;

/* The hugepages @nodes need from each host node's pool (QpinHugepageDemand, one per host node
 * and page size), as qpin_preflight_memory() counts them. Memory without a strict binding
 * (policy=preferred, or no host nodes) may take its pages from any node: there is no node to
 * raise a pool on, and QPIN_ERROR_USAGE names it. Host nodes that do not exist are left to
 * qpin_preflight_memory(). */
GArray *qpin_preflight_hugepage_demands(const GPtrArray *nodes, const TopoHost *host,
                                        GError **error);

/* Note kind of qpin_preflight_auto_nodes(). */
#define QPIN_NOTE_NUMA_AUTO "numa-auto"

/* Binds each guest node of @nodes given as SIZE@auto (host_nodes_auto, no host_nodes yet) to one
 * host node, in guest node order: among the allowed host nodes (host->mems_allowed) whose free
 * memory (MemFree, or free hugepages of the node's page size) and allowed CPUs outside
 * @reserved (may be NULL) still hold the node's size and vCPUs once the guest nodes bound
 * before it are counted, a node no other guest node uses, else the one with the most free
 * memory, then the most CPUs left, then the lowest id. Auto placement (--pin auto) then puts the
 * vCPUs on that node, as on any bound node. One QPIN_NOTE_NUMA_AUTO note per choice is added to
 * @notes (QpinNote*, may be NULL). QPIN_ERROR_PREFLIGHT when no host node fits, naming what each
 * one has. */
gboolean qpin_preflight_auto_nodes(GPtrArray *nodes, const TopoHost *host,
                                   const TopoCpuSet *reserved, GPtrArray *notes, GError **error);

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
