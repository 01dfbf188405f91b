/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the live view of a pinned guest (`qpin top`): which threads are QEMU's vCPUs, emulator
 * threads and iothreads, where each was meant to run, and, per interval, where each runs, how
 * busy it is, how long it waits for its CPU, whether it migrates or left its plan; the timer
 * and device interrupts of the host CPUs of the map; where the guest memory lies; KVM's exits
 * per vCPU when QEMU offers them over QMP. Reads /proc under a root (fixture trees in tests),
 * each file once per interval through descriptors kept open; computes the rates; prints
 * nothing. */
#pragma once

#include "qpin-placement-check.h"
#include "qpin-qmp-peer.h"

#include <qpin/cpuset.h>
#include <qpin/qmp.h>

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef enum {
    QPIN_TOP_VCPU,
    QPIN_TOP_EMULATOR,
    QPIN_TOP_IOTHREAD,
} QpinTopKind;

/* Raw counters of one thread at one instant. */
typedef struct {
    guint64 ticks;        /* utime + stime, clock ticks (stat fields 14 and 15) */
    guint64 run_delay_ns; /* time spent runnable but waiting for a CPU (schedstat field 2) */
    guint64 nvcsw, nivcsw;
    guint64 migrations; /* se.nr_migrations */
    gboolean has_migrations;
} QpinTopCounters;

typedef struct {
    QpinTopKind kind;
    int index; /* vCPU index; -1 for other threads */
    char *id;  /* iothread id, or NULL */
    pid_t tid;
    char *name;       /* comm when top started */
    char *qom_path;   /* vCPUs found over QMP: for query-stats */
    TopoCpuSet *plan; /* where it is meant to run; NULL when nothing is known */

    /* The last sample. */
    TopoCpuSet *cpus;  /* allowed CPUs now (Cpus_allowed_list) */
    int last_cpu;      /* stat field 39 */
    double usage_pct;  /* of one CPU, over the interval */
    double steal_pct;  /* of the interval spent waiting on a run queue */
    gint64 migrations; /* in the interval; -1 when the kernel does not count them */
    double nvcsw_per_s, nivcsw_per_s;
    gboolean drift;
    char *drift_reason; /* why drift is set, or NULL */
    gboolean has_exits;
    double exits_per_s; /* KVM exits per second (query-stats), when has_exits */

    /* private: counters of the previous and the current sample, descriptors kept open */
    QpinTopCounters prev, now;
    guint64 exits_prev, exits_now;
    gboolean exits_seen_prev;
    int fd_stat, fd_schedstat, fd_sched, fd_status;
} QpinTopThread;

typedef struct {
    int cpu;
    double loc_per_s;   /* local timer interrupts (LOC) */
    double irq_per_s;   /* device interrupts (the numbered rows) */
    double other_per_s; /* the other architectural rows (RES, CAL, TLB ...) */
    /* private */
    guint64 loc, irq, other;
} QpinTopHostCpu;

typedef struct {
    pid_t pid;
    char *proc_root;
    char *source;              /* "report", "qmp" or "pid" */
    GPtrArray *threads;        /* QpinTopThread*: vCPUs by index, emulator threads, iothreads */
    GArray *host_cpus;         /* QpinTopHostCpu, ascending: the CPUs of the vCPUs' plans */
    TopoCpuSet *emulator_cpus; /* the plan's emulator CPUs, or NULL */
    GPtrArray *numa_nodes;     /* QpinNumaNode* from the report, or NULL */
    GPtrArray *memdevs;        /* QmpMemdev* of query-memdev (--qmp), or NULL */
    GArray *ram_blocks;        /* QpinMemRamBlock found in smaps (--pid), or NULL */
    const char *memory_source; /* "report", "qmp", "numa_maps", or NULL: no memory view */
    GPtrArray *memory;         /* QpinMemPlacement* of the last memory read, or NULL */
    gint64 memory_read_ns;     /* when memory was last read */
    gint64 memory_every_ns;    /* how often numa_maps is read (it walks QEMU's page tables) */
    QmpClient *qmp;            /* borrowed; NULL without --qmp */
    gboolean kvm_stats;        /* QEMU answered query-stats with KVM vCPU stats */
    gint64 time_ns;            /* CLOCK_REALTIME of the last sample */
    double interval_s;         /* between the last two samples; 0 after the first */
    guint samples;
    char *ended; /* set when a thread or QEMU ended: what ended */
    /* private */
    gint64 mono_prev_ns;
    int fd_interrupts;
    char *buf;
    gsize buf_len, buf_cap;
} QpinTop;

void qpin_top_free(QpinTop *top);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinTop, qpin_top_free)

/* Watches the guest of a `qpin run --report` / `qpin pin --report` document at @path: its
 * qemu_pid, its threads by id (each checked to be a thread of that process still), the plan's
 * cpus and emulator CPUs, the guest memory backends (QEMU's RAM blocks in smaps for a guest
 * started without --numa). Errors are QPIN_ERROR, QPIN_ERROR_USAGE
 * for a file that is no such report, QPIN_ERROR_PIN when the process or a thread is gone. */
QpinTop *qpin_top_new_from_report(const char *path, const char *proc_root, GError **error);

/* Watches process @pid: vCPUs are the threads named "CPU N/KVM" or "CPU N/TCG" (QEMU's
 * debug-threads=on names, which qpin run sets), iothreads "IO ID", emulator threads the rest.
 * The plan is each thread's affinity now. The guest memory is QEMU's RAM blocks as smaps shows
 * them (qpin_mem_ram_blocks_find()), each judged against its own numa_maps policy. */
QpinTop *qpin_top_new_from_pid(pid_t pid, const char *proc_root, GError **error);

/* Watches the QEMU behind @qmp, peer->pid (qpin_qmp_peer_find()): every vCPU and iothread
 * thread QMP names must be a thread of that process, else QPIN_ERROR_PIN says whose it is
 * (qpin_qmp_peer_thread_error()). The emulator threads are the rest, the plan each thread's
 * affinity now; the memory backends from query-memdev; KVM exits from query-stats when QEMU has
 * them. @qmp stays the caller's and must outlive @top; @peer is only read here. */
QpinTop *qpin_top_new_from_qmp(QmpClient *qmp, const QpinQmpPeer *peer, const char *proc_root,
                               GError **error);

/* Reads every thread, /proc/interrupts, numa_maps when due and KVM stats; @mono_ns is
 * CLOCK_MONOTONIC (tests pass their own). From the second sample on the rates cover the time
 * since the previous one. A thread or the process that ended sets top->ended and returns TRUE;
 * errors (a file that cannot be parsed, QMP failing) are QPIN_ERROR. */
gboolean qpin_top_sample(QpinTop *top, gint64 mono_ns, GError **error);

/* The union of the vCPUs' plans (the host CPUs of the map), or NULL when none is known. */
TopoCpuSet *qpin_top_map_cpus(const QpinTop *top);

/* Per-kind counts, for output. */
guint qpin_top_count(const QpinTop *top, QpinTopKind kind);

/* Whether any thread drifted or any memory backend has pages off its nodes. */
gboolean qpin_top_any_drift(const QpinTop *top);

/* --prometheus FILE: refuses (QPIN_ERROR, QPIN_ERROR_USAGE) an existing path that is not a
 * regular file (a symlink, FIFO, device, directory: the file is replaced at each interval,
 * and what is not a regular file is never replaced) and a directory that does not exist or
 * where no file can be created. */
gboolean qpin_top_textfile_check(const char *path, GError **error);

/* Replaces @path with @len bytes of @data the way node_exporter's textfile collector needs
 * it: a temporary file in the same directory, mode 0644 (the collector may run as another
 * user; the metrics hold no secret), renamed over @path, so the collector reads the old or
 * the new content, never half (qpin_file_replace_regular(), not fsynced: only the last
 * interval matters). Refuses what qpin_top_textfile_check() refuses; errors are QPIN_ERROR,
 * QPIN_ERROR_FAILED "PATH: reason". */
gboolean qpin_top_textfile_write(const char *path, const char *data, gsize len, GError **error);

/* "vcpu", "emulator", "iothread". */
const char *qpin_top_kind_name(QpinTopKind kind);

G_END_DECLS
