/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — what run, plan and pin computed and did, as one struct. The library fills it and
 * renders nothing of it: the command line draws it as the human table or the JSON document of
 * plans and reports (launcher/cli/output-report.c). */
#pragma once

#include "qpin-bare-metal.h"
#include "qpin-mirror.h"

#include <qpin/host.h>
#include <qpin/placement.h>

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    int index;
    gint64 thread_id;
    char *thread_name;       /* comm, or NULL */
    TopoVcpu props;          /* absent props are -1 */
    TopoCpuSet *cpus;        /* planned; NULL when the vCPU is not pinned */
    TopoCpuSet *cpus_actual; /* read back; NULL when not read (plans) */
    char *sched;             /* requested policy ("fifo:10"), or NULL */
    char *sched_actual;      /* read back, or NULL */
} QpinReportVcpu;

/* An emulator thread or an iothread. */
typedef struct {
    char *id; /* iothread object id; NULL for emulator threads */
    gint64 thread_id;
    char *name;
    TopoCpuSet *cpus;        /* planned, or NULL */
    TopoCpuSet *cpus_actual; /* read back, or NULL */
} QpinReportThread;

/* Something the user should know about how qpin built or read the plan: tests decide by the
 * kind (a stable string such as "probe-tcg"), people read the text. */
typedef struct {
    const char *kind; /* static */
    char *text;
} QpinNote;

QpinNote *qpin_note_new(const char *kind, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
void qpin_note_free(QpinNote *note);

typedef struct {
    char *command; /* "run", "plan", "pin" */
    gint64 qemu_pid;
    char *qemu_version;
    char **qemu_argv; /* NULL for pin */
    char *qmp;        /* pin: the socket */
    char *map;        /* --pin text, or NULL */
    char *vcpu_sched;
    const TopoHost *host; /* borrowed: for host nodes and siblings; may be NULL */
    /* borrowed: CPUs kept from automatic placement (emulator, iothread pins, --reserve), for the
     * placement grid; may be NULL */
    const TopoCpuSet *reserved;
    GPtrArray *vcpus; /* QpinReportVcpu* */
    TopoCpuSet *emulator_cpus;
    GPtrArray *emulator;  /* QpinReportThread* */
    GPtrArray *iothreads; /* QpinReportThread* */
    GArray *timings;      /* QpinTiming, in phase order */
    GPtrArray *warnings;  /* char* */
    GPtrArray *notes;     /* QpinNote* */
    GPtrArray *explain;   /* char* */
    guint qmp_commands;
    char *state; /* the guest's run state when qpin finished its part: "running", "paused" */
    char *error; /* why the command failed, or NULL */
    /* The guest memory, as structs. */
    const GPtrArray *numa_nodes;  /* borrowed: the guest NUMA nodes (QpinNumaNode*), or NULL */
    GPtrArray *memory_placements; /* owned: memory read back (QpinMemPlacement*), or NULL */
    /* --mirror: the shape (borrowed, or NULL). */
    const QpinMirror *mirror;
    /* The commands giving a host process the guest's CPUs and memory (owned), or NULL when no
     * vCPU is pinned. */
    QpinBareMetal *bare_metal;
    /* run --reserve-hugepages: the pools raised (QpinHugepageGrant, borrowed), or NULL. */
    const GArray *hugepages;
} QpinReport;

typedef struct {
    const char *name; /* static: "spawn_to_ready", "query", "map", "pin", "verify", "cont" */
    double ms;
} QpinTiming;

QpinReport *qpin_report_new(const char *command);
void qpin_report_free(QpinReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinReport, qpin_report_free)

QpinReportVcpu *qpin_report_add_vcpu(QpinReport *report);
QpinReportThread *qpin_report_add_thread(GPtrArray *threads);
/* Records a phase (replacing an earlier one of the same name). */
void qpin_report_timing(QpinReport *report, const char *name, double ms);

/* Before anything starts: whether the --report file can be written to @path (see
 * qpin_file_write_check()), creating nothing. Errors are QPIN_ERROR, QPIN_ERROR_USAGE:
 * "--report PATH: what is wrong; what would be right". */
gboolean qpin_report_path_check(const char *path, GError **error);

G_END_DECLS
