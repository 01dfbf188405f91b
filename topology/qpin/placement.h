/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — placement: a guest vCPU list + host + policy -> a map (one host CPU set per vCPU).
 *
 * Map syntax (--pin MAP):
 *   auto                       topology-aware placement (topo_place_auto)
 *   2,70,138,206,3-5           a cpulist, expanded; vCPU i (i-th in order) gets the i-th CPU
 *   0-3@2-5;4-7@6-9            groups: each vCPU (by cpu-index) of a group may run on its set
 *   expr:2 + v/4 + v%4*68      integer arithmetic over v (cpu-index), socket, die, cluster,
 *                              core, thread, node (the QMP props)
 */
#pragma once

#include <qpin/cpuset.h>
#include <qpin/host.h>

G_BEGIN_DECLS

/* A guest vCPU as QEMU reports it (query-cpus-fast). Absent props are -1. */
typedef struct {
    int index; /* cpu-index */
    int socket;
    int die;
    int cluster;
    int core;
    int thread;
    int node;
} TopoVcpu;

typedef enum {
    TOPO_MAP_AUTO,
    TOPO_MAP_LIST,
    TOPO_MAP_GROUPS,
    TOPO_MAP_EXPR,
} TopoMapKind;

typedef struct TopoMapSpec TopoMapSpec;

/* Parses --pin MAP text. Errors name the offending part and show the right syntax. */
TopoMapSpec *topo_map_spec_parse(const char *text, GError **error);
void topo_map_spec_free(TopoMapSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TopoMapSpec, topo_map_spec_free)
TopoMapKind topo_map_spec_kind(const TopoMapSpec *spec);
const char *topo_map_spec_text(const TopoMapSpec *spec);
/* The cpu-indexes a cpulist or groups map names by itself, without QEMU: 0..n-1 for a cpulist
 * of n CPUs, the union of the groups' vCPU sets. NULL for auto and expr, whose CPUs depend on
 * QEMU's vCPU props. */
TopoCpuSet *topo_map_spec_vcpus(const TopoMapSpec *spec);

/* Evaluates an `expr:` expression (without the prefix) for one vCPU. Errors: parse errors,
 * division by zero, unknown or absent variables, overflow; the message names the vCPU. */
gboolean topo_expr_eval(const char *expr, const TopoVcpu *vcpu, gint64 *result, GError **error);

/* What placement may use. */
typedef struct {
    const TopoHost *host;
    /* CPUs qpin may use: usually host->cpus_allowed (already intersected with online). */
    const TopoCpuSet *allowed;
    /* CPUs that vCPUs must not get from auto placement (emulator, iothread, --reserve). Explicit
     * maps may still name them. May be NULL. */
    const TopoCpuSet *reserved;
    /* Guest node id -> host node ids its memory is bound to (TopoCpuSet* of node ids, or NULL
     * when unbound). Index = guest node id. May be NULL. */
    const GPtrArray *node_binding;
    gboolean allow_overcommit;
} TopoPlaceCtx;

/* What a placement note is about: stable, for programs and tests, which decide by the kind; the
 * text is for people and may be reworded. Values never change; new kinds go at the end. */
typedef enum {
    /* Warnings about explicit maps (--pin cpulist, groups, expr:). */
    TOPO_NOTE_CPU_SHARED,      /* more than one vCPU on one CPU */
    TOPO_NOTE_RESERVED_SHARED, /* vCPUs on CPUs reserved for emulator or I/O threads */
    TOPO_NOTE_CROSS_NODE,      /* vCPUs outside the host nodes their guest node's memory is on */
    /* Warnings of automatic placement: each says why the map is less than ideal. */
    TOPO_NOTE_THREADS_PER_CORE,    /* more guest threads per core than a host core has */
    TOPO_NOTE_SPLIT_CORE,          /* guest cores spread over several host cores */
    TOPO_NOTE_SOCKET_MOVED,        /* part of a guest socket away from the rest of it */
    TOPO_NOTE_SOCKET_SPREAD,       /* a guest socket spread over host packages */
    TOPO_NOTE_SOCKET_SPREAD_SPLIT, /* the same, and guest cores over several host cores */
    TOPO_NOTE_NODE_WHOLE,          /* a guest node's sockets not each in one package */
    TOPO_NOTE_BOUND_NO_CPUS,       /* memory bound to host nodes without CPUs */
    TOPO_NOTE_OVERCOMMIT,          /* no map without sharing: vCPUs share (--allow-overcommit) */
    TOPO_NOTE_OVERCOMMIT_CPUS,     /* how many vCPUs share one host CPU */
    TOPO_NOTE_OVERCOMMIT_CORES,    /* how many host cores run threads of several guest cores */
    /* Warnings of --emulator-pin auto. */
    TOPO_NOTE_EMULATOR_ISOLATED, /* the emulator threads run on isolated CPUs */
    TOPO_NOTE_EMULATOR_SHARED,   /* the emulator threads share CPUs with vCPUs */
    /* Explain lines, one per decision. */
    TOPO_NOTE_EXPLICIT_MAP,  /* the map is the explicit --pin map */
    TOPO_NOTE_HOST,          /* the host as placement sees it */
    TOPO_NOTE_CANDIDATES,    /* the CPUs vCPUs may get */
    TOPO_NOTE_GUEST,         /* the guest's shape */
    TOPO_NOTE_NODE_PLACED,   /* a guest node -> host nodes */
    TOPO_NOTE_SOCKET_PLACED, /* a guest socket (or die) -> a host package and CPUs */
    TOPO_NOTE_NODE_CPUS,     /* a guest node placed as a whole -> CPUs */
    TOPO_NOTE_NODE_SHARED,   /* a guest node -> shared CPUs (--allow-overcommit) */
    TOPO_NOTE_EMULATOR,      /* the emulator threads' CPUs and why */
} TopoNoteKind;

/* One placement warning or explain line. */
typedef struct {
    TopoNoteKind kind;
    char *text;
} TopoNote;

/* A new note; the text is printf-formatted. */
TopoNote *topo_note_new(TopoNoteKind kind, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
/* Frees @note; NULL is accepted. */
void topo_note_free(TopoNote *note);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TopoNote, topo_note_free)

typedef struct {
    /* TopoCpuSet*, one per vCPU, in the order of the vcpus array given. */
    GPtrArray *cpus;
    /* TopoNote*, what people should know about the map (a TOPO_NOTE_* warning kind). */
    GPtrArray *warnings;
    /* TopoNote*, one per decision (qpin plan --explain); auto placement fills it. */
    GPtrArray *explain;
} TopoMap;

void topo_map_free(TopoMap *map);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TopoMap, topo_map_free)

/* Computes the map for @vcpus (in QMP order) and validates it: every CPU exists, is online and
 * is in ctx->allowed (the error names the offending CPUs and the allowed set); a cpulist has
 * exactly one CPU per vCPU; groups cover every vCPU exactly once; expressions evaluate for
 * every vCPU (errors name the vCPU). TOPO_MAP_AUTO calls topo_place_auto(). Every error names
 * --pin, so that callers can show it as it is. */
TopoMap *topo_map_compute(const TopoMapSpec *spec, const TopoVcpu *vcpus, guint n_vcpus,
                          const TopoPlaceCtx *ctx, GError **error);

/* Checks that @cpus (e.g. an --emulator-pin set) is non-empty and inside ctx->allowed and
 * online; @what names it in the error ("--emulator-pin"). */
gboolean topo_cpus_validate(const TopoCpuSet *cpus, const TopoPlaceCtx *ctx, const char *what,
                            GError **error);

/* Topology-aware automatic placement (a pure function of its inputs; deterministic). See
 * docs/auto.md for the rules. Returns TOPO_ERROR_NOFIT with the reason when no map fits. */
TopoMap *topo_place_auto(const TopoVcpu *vcpus, guint n_vcpus, const TopoPlaceCtx *ctx,
                         GError **error);

/* Picks the CPUs of the emulator threads (--emulator-pin auto) after the vCPU map @map (auto or
 * explicit), inside ctx->allowed and online, never changing the map: the free (not running a
 * vCPU) housekeeping (not isolated, not nohz_full) CPUs of the host nodes where the vCPUs run;
 * if none, those of the single nearest node that has some; then free isolated CPUs, the same
 * way; only then the vCPUs' own CPUs, housekeeping ones first. Within the chosen set, CPUs of
 * ctx->reserved and SMT siblings of vCPU CPUs are left out when that leaves any. Appends one
 * line to map->explain, and a warning to map->warnings when the emulator threads end up on
 * isolated CPUs or share CPUs with vCPUs. docs/auto.md states the rule for users. */
TopoCpuSet *topo_place_emulator_auto(TopoMap *map, const TopoPlaceCtx *ctx, GError **error);

G_END_DECLS
