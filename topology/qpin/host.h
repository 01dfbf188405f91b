/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the host model: CPUs, packages, dies, cores, SMT siblings, last-level-cache groups,
 * NUMA nodes with memory, distances and hugepages, isolated CPUs, and the process's allowed
 * CPUs and memory nodes. Read from a sysroot (default "/"), as `lscpu --sysroot` does.
 */
#pragma once

#include <qpin/cpuset.h>

G_BEGIN_DECLS

typedef struct {
    int cpu;
    int package;          /* physical_package_id */
    int die;              /* die_id, 0 when the kernel has none */
    int core;             /* core_id (unique only within a package/die) */
    int node;             /* NUMA node holding this CPU, -1 when no node lists it */
    TopoCpuSet *siblings; /* thread_siblings_list, includes cpu itself */
    TopoCpuSet *llc;      /* shared_cpu_list of the highest-level unified cache; {cpu} if none */
} TopoCpu;

typedef struct {
    guint64 size_kib;
    guint64 total;
    guint64 free;
} TopoHugepages;

typedef struct {
    int id;
    TopoCpuSet *cpus; /* may be empty: memory-only nodes (MCDRAM, CXL) */
    guint64 mem_total_kib;
    guint64 mem_free_kib;
    GArray *distances; /* int, indexed by position in TopoHost.nodes order of node ids */
    GArray *hugepages; /* TopoHugepages, ascending size_kib */
} TopoNode;

typedef struct {
    char *sysroot; /* as given, "/" for the live machine */
    gboolean live; /* sysroot is "/" (allowed sets come from the kernel) */
    TopoCpuSet *online;
    TopoCpuSet *offline;      /* present/possible but not online */
    TopoCpuSet *isolated;     /* /sys/devices/system/cpu/isolated, or isolcpus= on the cmdline */
    TopoCpuSet *nohz_full;    /* /sys/devices/system/cpu/nohz_full, or nohz_full= on the cmdline */
    char *cmdline;            /* /proc/cmdline, "" when absent */
    TopoCpuSet *cpus_allowed; /* the process's allowed CPUs, intersected with online */
    TopoCpuSet *mems_allowed; /* the process's allowed memory node ids */
    TopoCpuSet *nodes_with_memory; /* node ids with memory (node/has_memory) */
    GPtrArray *cpus;               /* TopoCpu*, online CPUs in ascending cpu order */
    GPtrArray *nodes;              /* TopoNode*, ascending id */
    /* char*, what a person should know that does not stop the read: an isolcpus= or nohz_full=
     * of the kernel command line that the kernel ignores in whole or in part. Never NULL from
     * topo_host_read(); may be NULL in a TopoHost built by hand. */
    GPtrArray *warnings;
} TopoHost;

/* Reads the host under @sysroot ("/" or NULL for the live machine). Under a sysroot other than
 * "/", the allowed CPUs and memory nodes come from SYSROOT/proc/self/status when it exists, else
 * all online CPUs and all nodes with memory. A missing required file is a TOPO_ERROR_MISSING
 * naming the path; missing optional files (die_id, cache/, node/) degrade gracefully. Only
 * regular files are read (anything else, a FIFO, a device, is a TOPO_ERROR_IO naming it), at
 * most 4 MiB of each. Data no kernel writes is a TOPO_ERROR_PARSE naming the file, what it
 * says and what was expected: a SMT sibling or cache list that names CPUs the host does not
 * have or leaves out the CPU itself, node CPU lists that overlap or name CPUs the host does not
 * have. Command-line isolation options the kernel ignores become host->warnings. */
TopoHost *topo_host_read(const char *sysroot, GError **error);
/* Frees @host with everything it holds; NULL is accepted. */
void topo_host_free(TopoHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TopoHost, topo_host_free)

/* A node @id with no CPUs, no memory and empty distances and hugepages, for callers that
 * describe a host themselves; free it with topo_node_free(). */
TopoNode *topo_node_new(int id);
/* Frees @node with everything it holds; NULL is accepted. The free function of
 * TopoHost.nodes. */
void topo_node_free(TopoNode *node);
/* Frees @cpu with its sets; NULL is accepted. The free function of TopoHost.cpus. */
void topo_cpu_free(TopoCpu *cpu);

/* The online CPU @cpu, or NULL when it does not exist or is offline. */
const TopoCpu *topo_host_cpu(const TopoHost *host, int cpu);
/* The NUMA node @id, or NULL. */
const TopoNode *topo_host_node(const TopoHost *host, int id);
/* Distance from node @from to node @to (10 for itself when unknown), or -1. */
int topo_host_distance(const TopoHost *host, int from, int to);
/* The hugepage pool of @size_kib on @node, or NULL. */
const TopoHugepages *topo_node_hugepages(const TopoNode *node, guint64 size_kib);

/* The value of the `KEY:` line of a /proc/PID/status text, trimmed ("0-3,8" for
 * Cpus_allowed_list, "81920 kB" for VmRSS), or NULL when there is no such line: the one parser of
 * that file for qpin and its libraries. */
char *topo_proc_status_field(const char *text, const char *key);

G_END_DECLS
