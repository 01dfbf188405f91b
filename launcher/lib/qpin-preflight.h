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

G_END_DECLS
