/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the steps run, plan and pin share: read the host and the requested pins, query QEMU,
 * compute and validate the whole map, apply it through one function, read it back. Each step
 * fills the report; errors are QPIN_ERRORs carrying the exit status. */
#pragma once

#include "qpin-error.h"
#include "qpin-hugepages.h"
#include "qpin-mirror.h"
#include "qpin-qmp-peer.h"
#include "qpin-options.h"
#include <qpin/placement.h>
#include <qpin/qmp.h>
#include "qpin-report.h"

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* A thread of the plan: what qpin sets on it, and what the kernel holds once read back. */
typedef struct {
    int index;               /* the vCPU's cpu-index; -1 for other threads */
    char *id;                /* the iothread object's id; NULL for other threads */
    gint64 thread_id;        /* as QMP reported it, or from /proc for emulator threads */
    TopoVcpu props;          /* vCPUs: QEMU's topology of the vCPU (absent props are -1) */
    TopoCpuSet *cpus;        /* planned; NULL when the affinity is left alone */
    TopoCpuSet *cpus_actual; /* read back; NULL until read */
    QpinSched sched_actual;  /* read back for vCPUs under --vcpu-sched (.set otherwise FALSE) */
} QpinPlanThread;

void qpin_plan_thread_free(QpinPlanThread *t);

typedef struct {
    const QpinOptions *opt; /* borrowed */
    TopoHost *host;
    TopoPlaceCtx ctx;
    TopoCpuSet *reserved;      /* emulator + iothread pins + --reserve */
    TopoMapSpec *spec;         /* NULL without --pin */
    TopoCpuSet *emulator_cpus; /* NULL without --emulator-pin (or until auto computed it) */
    TopoCpuSet *early_vcpu_cpus; /* a cpulist or groups map's CPUs, known before QEMU starts */
    gboolean emulator_auto;
    GPtrArray *iothread_cpus; /* TopoCpuSet*, parallel to opt->iothread_pins */
    GPtrArray *numa_nodes;    /* QpinNumaNode* from --numa or [numa.N]; empty for none */
    GPtrArray *node_binding;  /* guest node -> host nodes (TopoCpuSet* or NULL), or NULL */
    QpinMirror *mirror;       /* --mirror: the guest's shape from the host's, or NULL */
    QpinHugepages *hugepages;         /* run --reserve-hugepages: what was added, or NULL */
    QmpClient *qmp;           /* borrowed */
    int sigfd;                /* borrowed signalfd: a terminating signal stops apply (-1: none) */
    pid_t pid;                /* run: the process qpin started; pin: peer->pid */
    QpinQmpPeer *peer;        /* pin: who serves the QMP socket (qpin_qmp_peer_find()), or NULL */
    gboolean proven;          /* every thread QMP named is a thread of s->pid: it is QEMU */
    pid_t stray_pid; /* run: the QEMU a wrapper started without exec, to be stopped too, or 0 */
    GPtrArray *cpus; /* QmpCpuInfo* */
    GPtrArray *iothreads; /* QmpIothread* */
    TopoMap *map;
    /* The plan the session works on: QpinPlanThread*, vCPUs in QMP's order, the emulator threads
     * present when pinning, the iothreads. The report is filled from it, never read back. */
    GPtrArray *plan_vcpus;
    GPtrArray *plan_emulator;
    GPtrArray *plan_iothreads;
    GHashTable *threads; /* ids of QEMU's threads when the plan was made */
    GArray *saved;       /* what each touched thread had before, for qpin_flow_rollback() */
    QpinReport *report;
} QpinFlow;

QpinFlow *qpin_flow_new(const QpinOptions *opt);
void qpin_flow_free(QpinFlow *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinFlow, qpin_flow_free)

/* Reads the host (under --sysroot for plans) and parses and validates everything that does not
 * depend on QEMU: the guest NUMA nodes (run, plan) and their preflight against the host, the map
 * syntax, and every CPU that a cpulist or groups map, --emulator-pin, --iothread-pin and
 * --reserve name (it exists, is online and is allowed), so that such a map outside the allowed
 * CPUs never starts QEMU. Expression and auto maps are checked by qpin_flow_plan(). */
gboolean qpin_flow_prepare(QpinFlow *s, GError **error);

/* run --reserve-hugepages: gives back the hugepages qpin_flow_prepare() added to the host
 * pools, once QEMU is gone (see qpin_hugepages_release()). TRUE when nothing was added. */
gboolean qpin_flow_release_hugepages(QpinFlow *s, GError **error);

/* Reads where the guest memory landed (/proc/PID/numa_maps) into the report and fails when a
 * preallocated backend has pages off its host nodes (QPIN_ERROR_MEMORY). No-op without NUMA. */
gboolean qpin_flow_check_memory(QpinFlow *s, GError **error);

/* Whether the table, --json or --report shows the result: what only they show (thread names,
 * unpinned iothreads and emulator threads, the guest's run state) is read only then. */
gboolean qpin_flow_shows(const QpinFlow *s);

/* Fills the report's threads from the plan and what was read back. */
void qpin_flow_fill_report(QpinFlow *s);

/* qpin_flow_fill_report(), then reads the names
 * (comm) of the vCPU, emulator and iothreads for the table and the JSON, only when something
 * shows them (a file per thread: called once the guest runs, or before QEMU is stopped). Call
 * before the report is rendered or written. */
void qpin_flow_name_threads(QpinFlow *s);

/* Whether anything is to be applied to a thread at all. */
gboolean qpin_flow_pins_anything(const QpinFlow *s);

/* query-cpus-fast and query-iothreads through s->qmp. */
gboolean qpin_flow_query(QpinFlow *s, GError **error);

/* Computes and validates the whole map (s->pid must be set). With @pinning, qpin proves whom
 * it is about to touch before anything is changed: every vCPU and iothread id QMP reported
 * must be a thread of s->pid (the process qpin started, or s->peer->pid: the QMP socket's peer
 * or the --pid it started), else the error names the process the thread belongs to (for run, a QEMU
 * that a wrapper started without exec is recognised, named, and recorded in s->stray_pid so that it
 * can be stopped). Pinned vCPUs also need positive, unique thread ids (single-threaded TCG shares
 * one). */
gboolean qpin_flow_plan(QpinFlow *s, gboolean pinning, GError **error);

/* Applies every affinity and policy of the plan: vCPUs, then the emulator threads present now
 * (every thread of the process that is neither a vCPU nor an iothread), then iothreads. For
 * pin, each thread's previous affinity and policy are saved first (a thread whose previous
 * state cannot be read is not touched: that is an error). A terminating signal pending on
 * s->sigfd stops it before the next thread (QPIN_ERROR_INTERRUPTED). */
gboolean qpin_flow_apply(QpinFlow *s, GError **error);

/* Reads every thread back (sched_getaffinity, sched_getscheduler) into the report and fails
 * on any difference from the plan. */
gboolean qpin_flow_verify(QpinFlow *s, GError **error);

/* Puts back the affinity and policy each touched thread had before qpin_flow_apply(), through
 * the one affinity helper, for a QEMU qpin did not start. Returns whether every touched thread
 * got its previous state back; *@summary (when not NULL) says which threads were restored and
 * which were not, with their ids and the reason. */
gboolean qpin_flow_rollback(QpinFlow *s, char **summary);

/* Whether the guest was resumed by someone other than qpin: a RESUME event arrived on qpin's
 * QMP session, or query-status says it runs. Call before qpin's own cont. */
gboolean qpin_flow_resumed_behind(QpinFlow *s, gboolean *resumed, GError **error);

/* "QEMU (pid N)" once s->pid is proven to be QEMU; before, for pin without --pid, "the QEMU
 * behind SOCKET" (the peer may be the launcher that created the socket); else "process N". */
char *qpin_flow_process_label(const QpinFlow *s);

/* Milliseconds since @start_us (a g_get_monotonic_time() value). */
double qpin_ms_since(gint64 start_us);

/* The error code for a QMP failure: QPIN_ERROR_QMP_COMMAND when QEMU answered with an error,
 * QPIN_ERROR_QMP otherwise; a QPIN_ERROR keeps its code. */
QpinErrorCode qpin_qmp_error_code(const GError *error);

G_END_DECLS
