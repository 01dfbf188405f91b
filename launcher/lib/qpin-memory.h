/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the guest's NUMA memory as the user describes it: the model (one QpinNumaNode per guest
 * node), the `--numa` syntax and the [numa.N] config sections, and the checks of the nodes
 * together. Knows nothing of QEMU's command line (qpin-qemu-numa.h), of the host
 * (qpin-preflight.h) or of /proc (qpin-placement-check.h). Errors are QPIN_ERROR,
 * QPIN_ERROR_USAGE, naming the --numa text or the [numa.N] section and the key. */
#pragma once

#include <qpin/cpuset.h>

#include <glib.h>

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
    int guest_node; /* position among --numa options, 0-based */
    char *spec;     /* the text as given, for error messages */
    guint64 size_bytes;
    TopoCpuSet *host_nodes;   /* NULL when no @HOSTNODES (or @auto, until resolved) */
    gboolean host_nodes_auto; /* @auto: qpin_preflight_auto_nodes() chooses the host node */
    QpinNumaPolicy policy;
    QpinNumaBackend backend;
    char *path;           /* backend=file (or hugetlbfs mount for hugepages), else NULL */
    guint64 hugepage_kib; /* 0, 2048 or 1048576 */
    gboolean prealloc;
    int prealloc_threads;           /* 0 = QEMU's default */
    gboolean prealloc_threads_auto; /* prealloc_threads is qpin's choice, not the user's */
    TopoCpuSet *vcpus;              /* NULL when not given (memory-only node or QEMU default) */
    char *origin;                   /* "--numa '80G@0'" or "[numa.0]", names the node in messages */
} QpinNumaNode;

void qpin_memory_node_free(QpinNumaNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinNumaNode, qpin_memory_node_free)

/* Parses one --numa value for guest node @guest_node. Errors name the --numa text and key. */
QpinNumaNode *qpin_memory_node_parse(const char *spec, int guest_node, GError **error);

/* Parses [numa.N] sections of a config file into @nodes (QpinNumaNode*), N = 0,1,...
 * Appended nodes get guest_node = their position in @nodes. No [numa.N] group: no change. */
gboolean qpin_memory_from_keyfile(GKeyFile *keyfile, GPtrArray *nodes, GError **error);

/* Checks the nodes together: guest_node equals the position, no vCPU in two nodes, and the
 * sizes add up to a multiple of 8K, QEMU's step for guest memory (so 8K at least: QEMU rounds
 * -m up to it and then refuses nodes that hold less). qpin_qemu_numa_args() and
 * qpin_preflight_memory() call it too. */
gboolean qpin_memory_validate(const GPtrArray *nodes, GError **error);

/* The QEMU object id of the memory backend of guest node @guest_node ("qpin-mem0"). */
char *qpin_memory_backend_id(int guest_node);

/* "bind", "preferred", "interleave", "default": the policy as --numa and QEMU write it. */
const char *qpin_memory_policy_name(QpinNumaPolicy policy);
/* "ram", "memfd", "file": the backend as --numa writes it (memory-backend-NAME in QEMU). */
const char *qpin_memory_backend_name(QpinNumaBackend backend);
/* The policy (bind, preferred, interleave) or backend (ram, memfd, file) named @name, the
 * inverse of the two above; FALSE for any other name (@name may be NULL), *@out untouched. */
gboolean qpin_memory_policy_parse(const char *name, QpinNumaPolicy *out);
gboolean qpin_memory_backend_parse(const char *name, QpinNumaBackend *out);

/* Sum of the node sizes (the guest's -m), 0 on overflow. */
guint64 qpin_memory_total_bytes(const GPtrArray *nodes);

/* Bytes QEMU will preallocate before QMP is ready (sum over prealloc nodes). */
guint64 qpin_memory_prealloc_bytes(const GPtrArray *nodes);

/* Guest node -> host node ids binding (TopoCpuSet* or NULL), for TopoPlaceCtx.node_binding. */
GPtrArray *qpin_memory_binding(const GPtrArray *nodes);

G_END_DECLS
