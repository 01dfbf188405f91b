/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — guests shaped like the host (--mirror): from the online, allowed CPUs of chosen host
 * nodes, the guest's -smp (sockets, dies, cores, threads as those CPUs have them), one guest
 * NUMA node per host node with its vCPUs and memory there, the 1:1 map (guest thread t of core c
 * on host thread t of the matching core). Its bare-metal twin is qpin-bare-metal.h's. */
#pragma once

#include "qpin-memory.h"

#include <qpin/host.h>

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    char *spec;                        /* "node=1", "node=0,1" or "host", as given */
    TopoCpuSet *host_nodes;            /* the mirrored host nodes */
    TopoCpuSet *cpus;                  /* their online, allowed CPUs: the vCPUs' CPUs */
    int sockets, dies, cores, threads; /* dies per socket, cores per die, threads per core */
    guint n_vcpus;
    int *vcpu_cpu;         /* host CPU of vCPU index v (QEMU's cpu-index order) */
    GPtrArray *node_vcpus; /* TopoCpuSet*: guest node i's vCPUs; guest node i mirrors the
                            * i-th host node of host_nodes in ascending order */
    char *smp;             /* the -smp value */
    char *pin;             /* the 1:1 map as a --pin cpulist */
} QpinMirror;

void qpin_mirror_free(QpinMirror *mirror);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinMirror, qpin_mirror_free)

/* Derives the guest's shape from @host for @spec: "host" (every node with allowed CPUs) or
 * "node=N[,N...]" (a node list such as 1 or 0-1). Only online CPUs in host->cpus_allowed
 * count. The chosen CPUs must have a uniform shape: every core the same number of threads,
 * every die the same number of cores, every socket the same number of dies; otherwise
 * QPIN_ERROR_USAGE names the two that differ. A node without allowed CPUs is an error too.
 * vCPUs are numbered as QEMU numbers them (socket, die, core, thread); within a die, cores go
 * in the order of their host node in the list, then of their lowest CPU, so each guest node's
 * vCPUs are consecutive. */
QpinMirror *qpin_mirror_derive(const TopoHost *host, const char *spec, GError **error);

/* The guest NUMA nodes of @mirror (QpinNumaNode*, as --numa would give them, so every --numa
 * key applies) with memory from @memory, "SIZE[:split][:KEY=VALUE...]": SIZE for each guest
 * node, or with the key split, SIZE in all, split evenly over the nodes in whole units (the
 * hugepage size, else 2 MiB; the first nodes take what is left over). KEY=VALUE are the keys
 * of --numa except vcpus= and host-nodes=, which the mirror sets. Errors are QPIN_ERROR_USAGE
 * naming --mirror-memory. */
GPtrArray *qpin_mirror_numa_nodes(const QpinMirror *mirror, const char *memory, GError **error);

G_END_DECLS
