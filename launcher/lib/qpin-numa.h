/* qpin — guest NUMA memory: --numa descriptions, generated QEMU arguments, host preflight,
 * preallocation progress and the placement proof from /proc/PID/numa_maps. */
#pragma once

#include <qpin/host.h>

#include <glib.h>
#include <json-c/json.h>
#include <sys/types.h>

G_BEGIN_DECLS

#define QPIN_NUMA_ERROR qpin_numa_error_quark()
GQuark qpin_numa_error_quark(void);

typedef enum {
    QPIN_NUMA_ERROR_PARSE,     /* malformed --numa text or [numa.N] section */
    QPIN_NUMA_ERROR_CONFLICT,  /* disagrees with the QEMU command line (-m, -numa) */
    QPIN_NUMA_ERROR_PREFLIGHT, /* the host cannot hold the requested memory */
    QPIN_NUMA_ERROR_PLACEMENT, /* numa_maps unreadable, or memory on the wrong host node */
} QpinNumaError;

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
    TopoCpuSet *host_nodes; /* NULL when no @HOSTNODES */
    QpinNumaPolicy policy;
    QpinNumaBackend backend;
    char *path;           /* backend=file (or hugetlbfs mount for hugepages), else NULL */
    guint64 hugepage_kib; /* 0, 2048 or 1048576 */
    gboolean prealloc;
    int prealloc_threads; /* 0 = QEMU's default */
    TopoCpuSet *vcpus;    /* NULL when not given (memory-only node or QEMU default) */
    char *origin;         /* "--numa '80G@0'" or "[numa.0]", names the node in messages */
} QpinNumaNode;

void qpin_numa_node_free(QpinNumaNode *node);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinNumaNode, qpin_numa_node_free)

/* Parses one --numa value for guest node @guest_node. Errors name the --numa text and key. */
QpinNumaNode *qpin_numa_node_parse(const char *spec, int guest_node, GError **error);

/* Parses [numa.N] sections of a config file into @nodes (QpinNumaNode*), N = 0,1,...
 * Appended nodes get guest_node = their position in @nodes. No [numa.N] group: no change. */
gboolean qpin_numa_from_keyfile(GKeyFile *keyfile, GPtrArray *nodes, GError **error);

/* Checks the nodes together: guest_node equals the position, no vCPU in two nodes, and the
 * sizes add up to a multiple of 8K, QEMU's step for guest memory (so 8K at least: QEMU rounds
 * -m up to it and then refuses nodes that hold less). qpin_numa_qemu_args() and
 * qpin_numa_preflight() call it too. */
gboolean qpin_numa_validate(const GPtrArray *nodes, GError **error);

/* The QEMU object id of the memory backend of guest node @guest_node ("qpin-mem0"). */
char *qpin_numa_backend_id(int guest_node);

/* Parses a size with a K/M/G/T suffix (binary units; "1.5G" and bare numbers refused: QEMU
 * reads a bare -m number as MiB but a bare size= as bytes). */
gboolean qpin_numa_parse_size(const char *text, guint64 *bytes, GError **error);
/* @bytes in the largest unit that divides it exactly, as QEMU reads it ("80G", "1536K"). */
char *qpin_numa_format_size(guint64 bytes);
/* @bytes for people: "80.0 GiB", "512 bytes" (one decimal, binary units, ASCII only). */
char *qpin_numa_human_size(guint64 bytes);
/* Sum of the node sizes (the guest's -m), 0 on overflow. */
guint64 qpin_numa_total_bytes(const GPtrArray *nodes);

/* Appends to @qemu_argv (char*, the full argv being built, argv[0] = QEMU binary) the
 * -object memory-backend-*, -object thread-context, -numa node and -m arguments for @nodes.
 * Refuses when the user's own -m (found in @qemu_argv) disagrees with the sum, or when the
 * user's command line already has -numa options. Values are escaped (',' -> ',,'). */
gboolean qpin_numa_qemu_args(const GPtrArray *nodes, GPtrArray *qemu_argv, GError **error);

/* As qpin_numa_qemu_args(), choosing the thread-context's node-affinity with @host (may be
 * NULL): when no CPU of the bound host nodes is in host->cpus_allowed (memory-only nodes such
 * as MCDRAM or CXL, or a cpuset without them), the nearest host nodes with allowed CPUs are used,
 * and no thread-context at all when there are none. QEMU refuses a context without CPUs. */
gboolean qpin_numa_qemu_args_host(const GPtrArray *nodes, const TopoHost *host,
                                  GPtrArray *qemu_argv, GError **error);

/* For `qpin plan --sysroot`, which starts QEMU on this machine only to query it: the same guest
 * nodes (ids, sizes, vCPUs, -m) as memory-backend-ram with reserve=off (MAP_NORESERVE: nothing
 * is allocated, so an 80G guest starts on a small machine), without host nodes, hugepages or
 * prealloc. The plan's qemu_argv still shows qpin_numa_qemu_args_host() for the target host. */
gboolean qpin_numa_qemu_args_probe(const GPtrArray *nodes, GPtrArray *qemu_argv, GError **error);

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
/* Redraws (call periodically, e.g. every 200 ms while waiting for the QMP greeting).
 * Harmless after QEMU exited: the line is left as it was. */
void qpin_progress_update(QpinProgress *progress);
/* Bytes QEMU has populated so far (VmRSS + HugetlbPages of /proc/PID/status), or -1 when the
 * process is gone. Under @proc_root ("/proc" normally), for tests. */
gint64 qpin_progress_sample(pid_t pid, const char *proc_root);
/* Clears the line; returns the elapsed milliseconds. Frees @progress. */
gint64 qpin_progress_finish(QpinProgress *progress);

/* Where one backend's memory landed, from /proc/PID/numa_maps. */
typedef struct {
    int guest_node;
    char *backend_id;       /* "qpin-mem0" ... */
    char *policy;           /* as numa_maps shows it: "bind:0", "default", ... */
    GArray *pages_per_node; /* guint64 indexed by host node id */
    guint64 page_kib;       /* page size of the mapping */
    gboolean ok;            /* found (when bound) and every page on a bound node */
    char *problem;          /* why not ok; for an unbound backend not found, a note; else NULL */
    gboolean found;         /* the backend's mapping was found in numa_maps */
    guint64 size_bytes;     /* the backend's size */
    guint64 resident_bytes; /* pages present, summed over nodes */
    guint64 address;        /* start of the mapping in QEMU's address space, 0 if not found */
} QpinMemPlacement;

void qpin_mem_placement_free(QpinMemPlacement *p);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinMemPlacement, qpin_mem_placement_free)

/* Reads /proc/@pid/numa_maps and maps (under @proc_root, "/proc" normally) and matches each
 * node's backend mapping by size, policy, kind (anonymous, QEMU's memfd, the mem-path file) and
 * page size. Returns QpinMemPlacement* per guest node; fails only when the files are
 * unreadable. */
GPtrArray *qpin_numa_placement_read(const GPtrArray *nodes, pid_t pid, const char *proc_root,
                                    GError **error);

/* Fails (QPIN_NUMA_ERROR_PLACEMENT, every problem in the message) when a backend with
 * policy=bind and prealloc has pages outside its host nodes or was not found; adds a warning
 * string to @warnings (char*, may be NULL) for the same without prealloc or with preferred or
 * interleave, which fall back to other nodes by design. */
gboolean qpin_numa_placement_check(const GPtrArray *placements, const GPtrArray *nodes,
                                   GPtrArray *warnings, GError **error);

/* JSON of the description (for plans) and of placements (for reports). */
json_object *qpin_numa_nodes_to_json(const GPtrArray *nodes);
json_object *qpin_numa_placement_to_json(const GPtrArray *placements);
/* Human table of placements, appended to @out. */
void qpin_numa_placement_format(const GPtrArray *placements, GString *out);

G_END_DECLS
