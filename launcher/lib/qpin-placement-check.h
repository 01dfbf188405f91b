/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the proof of where the guest memory landed: /proc/PID/numa_maps and /proc/PID/maps of
 * a QEMU process (under a proc root, for tests) matched to the guest nodes of qpin-memory.h, and
 * the check of each backend's pages against its host nodes. Returns structs; the command line
 * renders them. */
#pragma once

#include "qpin-memory.h"

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Where one backend's memory landed, from /proc/PID/numa_maps. */
typedef struct {
    int guest_node;
    char *backend_id;        /* "qpin-mem0" ... */
    char *policy;            /* as numa_maps shows it: "bind:0", "default", ... */
    GArray *pages_per_node;  /* guint64 indexed by host node id */
    guint64 page_kib;        /* page size of the mapping */
    gboolean ok;             /* found (when bound) and every page on a bound node */
    char *problem;           /* why not ok; for an unbound backend not found, a note; else NULL */
    gboolean found;          /* the backend's mapping was found in numa_maps */
    guint64 size_bytes;      /* the backend's size */
    guint64 resident_bytes;  /* pages present, summed over nodes */
    guint64 address;         /* start of the mapping in QEMU's address space, 0 if not found */
    TopoCpuSet *bound_nodes; /* the host nodes it is bound to; NULL when none is known */
} QpinMemPlacement;

void qpin_mem_placement_free(QpinMemPlacement *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinMemPlacement, qpin_mem_placement_free)

/* Reads /proc/@pid/numa_maps and maps (under @proc_root, "/proc" normally) and matches each
 * node's backend mapping by size, policy, kind (anonymous, QEMU's memfd, the mem-path file) and
 * page size. Returns QpinMemPlacement* per guest node (freed by the array); fails only when the
 * files are unreadable (QPIN_ERROR, QPIN_ERROR_MEMORY). */
GPtrArray *qpin_mem_placement_read(const GPtrArray *nodes, pid_t pid, const char *proc_root,
                                   GError **error);

/* The same for backends QEMU lists over QMP (@memdevs: QmpMemdev* of query-memdev), which
 * says each one's id, size, policy and host nodes but not its type or page size: each is
 * matched by size and policy to a writable mapping of any kind (not the heap or a stack).
 * guest_node is -1 (query-memdev does not say), backend_id the object id (NULL if none). */
GPtrArray *qpin_mem_placement_read_memdevs(const GPtrArray *memdevs, pid_t pid,
                                           const char *proc_root, GError **error);

/* A QEMU RAM block: [start, end) in QEMU's address space. */
typedef struct {
    guint64 start, end;
} QpinMemRamBlock;

/* RAM blocks smaller than this are firmware, ROMs and ACPI tables, not guest memory. */
#define QPIN_MEM_RAM_BLOCK_MIN (4 * 1024 * 1024)

/* QEMU's RAM blocks of QPIN_MEM_RAM_BLOCK_MIN or more, found without QMP or report in
 * /proc/@pid/smaps: the writable, not executable mappings QEMU advised MADV_HUGEPAGE ("hg",
 * which ram_block_add() does for every RAM block) or that live on hugetlbfs ("ht"); adjacent
 * ones joined. Guest RAM, and device memory such as video RAM, which QEMU allocates the same
 * way. smaps costs a page-table walk: read it once. GArray of QpinMemRamBlock, ascending. */
GArray *qpin_mem_ram_blocks_find(pid_t pid, const char *proc_root, GError **error);

/* Where the pages of each of @blocks lie now (numa_maps): guest_node -1, backend_id NULL,
 * bound_nodes from the mapping's own policy ("bind:0"); none for "default", whose real
 * binding (a task policy set by numactl) cannot be read from outside: not judged. Blocks
 * unmapped since are left out. */
GPtrArray *qpin_mem_placement_read_blocks(const GArray *blocks, pid_t pid, const char *proc_root,
                                          GError **error);

/* Fails (QPIN_ERROR, QPIN_ERROR_MEMORY, every problem in the message) when a backend with
 * policy=bind and prealloc has pages outside its host nodes or was not found; adds a warning
 * string to @warnings (char*, may be NULL) for the same without prealloc or with preferred or
 * interleave, which fall back to other nodes by design. */
gboolean qpin_mem_placement_check(const GPtrArray *placements, const GPtrArray *nodes,
                                  GPtrArray *warnings, GError **error);

G_END_DECLS
