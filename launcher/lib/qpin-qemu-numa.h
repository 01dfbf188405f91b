/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the guest NUMA memory on QEMU's command line: the -object memory-backend-*, -object
 * thread-context, -numa node and -m arguments for the guest nodes of qpin-memory.h, for a host
 * or as the stand-in a plan starts QEMU with, and the conflicts with the user's own -m and
 * -numa (read through the one option scanner of qpin-qemu-argv.h). */
#pragma once

#include "qpin-memory.h"
#include "qpin-report.h"

#include <qpin/host.h>

#include <glib.h>

G_BEGIN_DECLS

/* Appends to @qemu_argv (char*, the full argv being built, argv[0] = QEMU binary) the
 * -object memory-backend-*, -object thread-context, -numa node and -m arguments for @nodes.
 * Refuses when the user's own -m (found in @qemu_argv) disagrees with the sum, or when the
 * user's command line already has -numa options (QPIN_ERROR, QPIN_ERROR_USAGE). Values are
 * escaped (',' -> ',,'). */
gboolean qpin_qemu_numa_args(const GPtrArray *nodes, GPtrArray *qemu_argv, GError **error);

/* As qpin_qemu_numa_args(), choosing the thread-context's node-affinity with @host (may be
 * NULL): when no CPU of the bound host nodes is in host->cpus_allowed (memory-only nodes such
 * as MCDRAM or CXL, or a cpuset without them), the nearest host nodes with allowed CPUs are used,
 * and no thread-context at all when there are none. QEMU refuses a context without CPUs. */
gboolean qpin_qemu_numa_args_host(const GPtrArray *nodes, const TopoHost *host,
                                  GPtrArray *qemu_argv, GError **error);

/* For `qpin plan --sysroot`, which starts QEMU on this machine only to query it: the same guest
 * nodes (ids, sizes, vCPUs, -m) as memory-backend-ram with reserve=off (MAP_NORESERVE: nothing
 * is allocated, so an 80G guest starts on a small machine), without host nodes, hugepages or
 * prealloc. The plan's qemu_argv still shows qpin_qemu_numa_args_host() for the target host. */
gboolean qpin_qemu_numa_args_probe(const GPtrArray *nodes, GPtrArray *qemu_argv, GError **error);

/* Most preallocation threads qpin chooses by itself for one backend. */
#define QPIN_PREALLOC_THREADS_MAX 16

/* For every node of @nodes that preallocates, is bound to host nodes and has no
 * prealloc-threads of the user's: sets prealloc_threads (and prealloc_threads_auto) to the
 * number of allowed CPUs outside @reserve (--reserve: CPUs left to others; may be NULL) of the
 * host nodes whose CPUs run the preallocation (the thread-context's node-affinity, see
 * qpin_qemu_numa_args_host()), at least 1 and at most QPIN_PREALLOC_THREADS_MAX. Before the
 * guest starts, those CPUs are idle or the guest's own. */
void qpin_qemu_numa_prealloc_threads(GPtrArray *nodes, const TopoHost *host,
                                     const TopoCpuSet *reserve);

/* Note kind of qpin_qemu_numa_dist_args(). */
#define QPIN_NOTE_NUMA_DIST "numa-dist"

/* The guest node distance table (n x n, row-major, n = nodes->len, free with g_free) derived
 * from @host for @nodes: 10 on the diagonal; between guest nodes i and j the mean host distance
 * between their host nodes, rounded. NULL with *@why saying why (newly allocated; NULL when
 * there are fewer than two nodes) when a node has no host nodes, the host has no distance
 * table, or two guest nodes would get 10 (the same host memory: the guest kernel refuses an
 * ACPI SLIT with 10 off the diagonal and falls back to its defaults). */
int *qpin_qemu_numa_distances(const GPtrArray *nodes, const TopoHost *host, char **why);

/* Appends -numa dist,src=I,dst=J,val=D for every ordered pair of distinct guest nodes from
 * qpin_qemu_numa_distances(), unless @qemu_argv already holds a -numa dist of the user's (which
 * then is the table). When none are added for a reason the user should know, a
 * QPIN_NOTE_NUMA_DIST note goes to @notes (QpinNote*, may be NULL). */
void qpin_qemu_numa_dist_args(const GPtrArray *nodes, const TopoHost *host, GPtrArray *qemu_argv,
                              GPtrArray *notes);

G_END_DECLS
