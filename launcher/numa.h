/* qpin — guest NUMA memory: --numa descriptions, generated QEMU arguments, host preflight,
 * preallocation progress and the placement proof from /proc/PID/numa_maps. */
#pragma once

#include "host.h"

#include <glib.h>
#include <json-c/json.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum {
    QPIN_NUMA_POLICY_DEFAULT, /* no host nodes given */
    QPIN_NUMA_POLICY_BIND,
    QPIN_NUMA_POLICY_PREFERRED,
    QPIN_NUMA_POLICY_INTERLEAVE,
} QpinNumaPolicy;

typedef enum {
    QPIN_NUMA_BACKEND_RAM,
    QPIN_NUMA_BACKEND_MEMFD,
    QPIN_NUMA_BACKEND_FILE,
} QpinNumaBackend;

/* One guest NUMA node (--numa SIZE[@HOSTNODES][:KEY=VALUE...]). */
typedef struct {
    int guest_node;          /* position among --numa options, 0-based */
    char *spec;              /* the text as given, for error messages */
    guint64 size_bytes;
    TopoCpuSet *host_nodes;  /* NULL when no @HOSTNODES */
    QpinNumaPolicy policy;
    QpinNumaBackend backend;
    char *path;              /* backend=file (or hugetlbfs mount for hugepages), else NULL */
    guint64 hugepage_kib;    /* 0, 2048 or 1048576 */
    gboolean prealloc;
    int prealloc_threads;    /* 0 = QEMU's default */
    TopoCpuSet *vcpus;       /* NULL when not given (memory-only node or QEMU default) */
} QpinNumaNode;

void qpin_numa_node_free(QpinNumaNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinNumaNode, qpin_numa_node_free)

/* Parses one --numa value for guest node @guest_node. Errors name the --numa text and key. */
QpinNumaNode *qpin_numa_node_parse(const char *spec, int guest_node, GError **error);

/* Parses [numa.N] sections of a config file into @nodes (QpinNumaNode*), N = 0,1,... */
gboolean qpin_numa_from_keyfile(GKeyFile *keyfile, GPtrArray *nodes, GError **error);

/* Appends to @qemu_argv (char*, the full argv being built, argv[0] = QEMU binary) the
 * -object memory-backend-*, -object thread-context, -numa node and -m arguments for @nodes.
 * Refuses when the user's own -m (found in @qemu_argv) disagrees with the sum, or when the
 * user's command line already has -numa options. Values are escaped (',' -> ',,'). */
gboolean qpin_numa_qemu_args(const GPtrArray *nodes, GPtrArray *qemu_argv, GError **error);

/* Checks the host can hold @nodes before QEMU starts: host nodes exist, have memory, are in
 * host->mems_allowed; bound nodes have enough MemFree; hugepage backends have enough free
 * pages of that size on that node (the message names the guest node, host node, page size,
 * needed and free amounts, and the nr_hugepages path and value that would reserve them). */
gboolean qpin_numa_preflight(const GPtrArray *nodes, const TopoHost *host, GError **error);

/* Bytes QEMU will preallocate before QMP is ready (sum over prealloc nodes). */
guint64 qpin_numa_prealloc_bytes(const GPtrArray *nodes);

/* Guest node -> host node ids binding (TopoCpuSet* or NULL), for TopoPlaceCtx.node_binding. */
GPtrArray *qpin_numa_binding(const GPtrArray *nodes);

/* Preallocation progress on a terminal: QEMU's resident memory against @total_bytes, rate,
 * ETA. Draws nothing when @fd is not a terminal. */
typedef struct QpinProgress QpinProgress;
QpinProgress *qpin_progress_new(pid_t qemu_pid, guint64 total_bytes, int fd);
/* Redraws (call periodically, e.g. every 200 ms while waiting for the QMP greeting). */
void qpin_progress_update(QpinProgress *progress);
/* Clears the line; returns the elapsed milliseconds. Frees @progress. */
gint64 qpin_progress_finish(QpinProgress *progress);

/* Where one backend's memory landed, from /proc/PID/numa_maps. */
typedef struct {
    int guest_node;
    char *backend_id;      /* "qpin-mem0" ... */
    char *policy;          /* as numa_maps shows it: "bind:0", "default", ... */
    GArray *pages_per_node; /* guint64 indexed by host node id */
    guint64 page_kib;      /* page size of the mapping */
    gboolean ok;           /* every page on an expected node */
    char *problem;         /* NULL when ok */
} QpinMemPlacement;

void qpin_mem_placement_free(QpinMemPlacement *p);

/* Reads /proc/@pid/numa_maps (under @proc_root, "/proc" normally) and matches each node's
 * backend mapping. Returns QpinMemPlacement* per guest node. */
GPtrArray *qpin_numa_placement_read(const GPtrArray *nodes, pid_t pid, const char *proc_root,
                                    GError **error);

/* Fails when a prealloc'ed backend bound to X has pages elsewhere; adds a warning string to
 * @warnings (char*) for the same without prealloc. */
gboolean qpin_numa_placement_check(const GPtrArray *placements, const GPtrArray *nodes,
                                   GPtrArray *warnings, GError **error);

/* JSON of the description (for plans) and of placements (for reports). */
json_object *qpin_numa_nodes_to_json(const GPtrArray *nodes);
json_object *qpin_numa_placement_to_json(const GPtrArray *placements);
/* Human table of placements, appended to @out. */
void qpin_numa_placement_format(const GPtrArray *placements, GString *out);

G_END_DECLS
