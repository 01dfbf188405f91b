/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the guest NUMA memory on QEMU's command line: the -object memory-backend-*, -object
 * thread-context, -numa node and -m arguments for the guest nodes of qpin-memory.h, for a host
 * or as the stand-in a plan starts QEMU with, and the conflicts with the user's own -m and
 * -numa (read through the one option scanner of qpin-qemu-argv.h). */
#pragma once

#include "qpin-memory.h"

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

G_END_DECLS
