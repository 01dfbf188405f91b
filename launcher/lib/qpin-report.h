/* qpin — what run, plan and pin computed and did, as one struct, rendered either as the human
 * table or as the JSON document of plans and reports (through json-c). */
#pragma once

#include <qpin/host.h>
#include <qpin/placement.h>

#include <glib.h>
#include <json-c/json.h>

G_BEGIN_DECLS

/* How qpin writes JSON documents: indented, "key": value, slashes as they are. */
#define QPIN_JSON_FLAGS                                                                            \
    (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE)

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

typedef struct {
    char *command; /* "run", "plan", "pin" */
    gint64 qemu_pid;
    char *qemu_version;
    char **qemu_argv; /* NULL for pin */
    char *qmp;        /* pin: the socket */
    char *map;        /* --pin text, or NULL */
    char *vcpu_sched;
    const TopoHost *host; /* borrowed: for host nodes and siblings; may be NULL */
    GPtrArray *vcpus;     /* QpinReportVcpu* */
    TopoCpuSet *emulator_cpus;
    GPtrArray *emulator;  /* QpinReportThread* */
    GPtrArray *iothreads; /* QpinReportThread* */
    GArray *timings;      /* QpinTiming, in phase order */
    GPtrArray *warnings;  /* char* */
    GPtrArray *explain;   /* char* */
    guint qmp_commands;
    char *state; /* the guest's run state when qpin finished its part: "running", "paused" */
    char *error; /* why the command failed, or NULL */
    /* The guest memory, as structs: the library renders neither (see QpinReportSections). */
    const GPtrArray *numa_nodes;  /* borrowed: the guest NUMA nodes (QpinNumaNode*), or NULL */
    GPtrArray *memory_placements; /* owned: memory read back (QpinMemPlacement*), or NULL */
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

/* The parts of a report its caller renders: the command line renders the guest memory
 * (numa_nodes, memory_placements) in launcher/cli/output-memory.c. @json adds members to the
 * document after "iothreads"; @table appends lines after the iothreads table. Either may be
 * NULL. */
typedef struct {
    void (*json)(const QpinReport *report, json_object *doc);
    void (*table)(const QpinReport *report, GString *out);
} QpinReportSections;

/* The JSON document of a plan or report (see docs/run.md for the fields), with the members of
 * @sections (may be NULL) at their place. */
json_object *qpin_report_to_json_full(const QpinReport *report, const QpinReportSections *sections);
/* qpin_report_to_json_full() without caller sections. */
json_object *qpin_report_to_json(const QpinReport *report);
/* The human table, with the lines of @sections (may be NULL), appended to @out. */
void qpin_report_format_full(const QpinReport *report, const QpinReportSections *sections,
                             GString *out);
/* qpin_report_format_full() without caller sections. */
void qpin_report_format(const QpinReport *report, GString *out);
/* Writes the JSON document (with @sections, may be NULL) to @path like an editor saves a file
 * (see qpin_file_write()): a device or FIFO is written in place, an existing file is replaced
 * atomically keeping its owner and mode, a new file is created 0600 (the document holds QEMU's
 * command line). Errors are QPIN_ERROR, QPIN_ERROR_FAILED: "cannot write the report PATH:
 * reason". */
gboolean qpin_report_write_full(const QpinReport *report, const QpinReportSections *sections,
                                const char *path, GError **error);
/* qpin_report_write_full() without caller sections. */
gboolean qpin_report_write(const QpinReport *report, const char *path, GError **error);
/* Before anything starts: whether qpin_report_write() to @path can work (see
 * qpin_file_write_check()), creating nothing. Errors are QPIN_ERROR, QPIN_ERROR_USAGE:
 * "--report PATH: what is wrong; what would be right". */
gboolean qpin_report_path_check(const char *path, GError **error);

G_END_DECLS
