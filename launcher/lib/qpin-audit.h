/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — auditing the host's tuning against a guest's map ("qpin check").
 *
 * The input is what the map asks of the host: the CPUs the vCPUs run on, the housekeeping CPUs
 * (emulator threads and iothreads), whether the vCPUs run real-time, and the hugepages each
 * host node must hold. The audit reads the host under a sysroot ("/" for the live machine):
 * the kernel command line, sysfs, /proc/irq, and the processes of SYSROOT/proc. It changes
 * nothing. Each check says what it observed, what it expected, where it looked, and the
 * command that would close the gap; qpin never runs that command.
 */
#pragma once

#include <qpin/cpuset.h>
#include <qpin/host.h>

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    QPIN_AUDIT_PASS,
    QPIN_AUDIT_WARN,
    QPIN_AUDIT_FAIL,
    QPIN_AUDIT_UNKNOWN, /* the evidence could not be read (no cpufreq on a VM ...) */
} QpinAuditStatus;

/* Hugepages the guest memory needs on one host node. */
typedef struct {
    int node;         /* host node id; -1: any node (memory without a host binding) */
    guint64 page_kib; /* 2048, 1048576 ... */
    guint64 bytes;    /* guest memory to back with pages of that size */
} QpinAuditHugepages;

/* What the map asks of the host. */
typedef struct {
    TopoCpuSet *vcpu_cpus;         /* union of the vCPU threads' CPUs; required, not empty */
    TopoCpuSet *housekeeping_cpus; /* emulator + iothread CPUs; NULL: the online CPUs the vCPUs
                                      do not use and that are neither isolated nor nohz_full
                                      (all the vCPUs leave when that is none) */
    gboolean rt;                   /* vCPUs run SCHED_FIFO or SCHED_RR */
    GArray *hugepages;             /* QpinAuditHugepages; may be empty, never NULL */
    char *source;                  /* where the map came from, for people ("--from plan.json") */
} QpinAuditMap;

QpinAuditMap *qpin_audit_map_new(void);
void qpin_audit_map_free(QpinAuditMap *map);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinAuditMap, qpin_audit_map_free)

/* One finding. @id is stable ("cpu.isolated"); @group is its first part ("cpu"). */
typedef struct {
    const char *id;    /* static */
    const char *group; /* static */
    QpinAuditStatus status;
    char *observed;
    char *expected;
    char *evidence; /* the files or processes read */
    char *fix;      /* the command(s) that close the gap; NULL when nothing is to be done */
} QpinAuditCheck;

typedef struct {
    char *sysroot;
    TopoCpuSet *vcpu_cpus;
    TopoCpuSet *housekeeping_cpus; /* as audited: given or derived */
    gboolean rt;
    GPtrArray *checks;       /* QpinAuditCheck*, in the documented order */
    QpinAuditStatus verdict; /* FAIL if any fails; WARN if any warns or is unknown; else PASS */
} QpinAuditResult;

void qpin_audit_result_free(QpinAuditResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinAuditResult, qpin_audit_result_free)

/* Audits the host under @sysroot ("/" or NULL: the live machine) against @map. Fails only when
 * the host model cannot be read (QPIN_ERROR_HOST) or the map names CPUs the host does not have
 * online (QPIN_ERROR_MAP); everything else that cannot be read is a check of status unknown.
 * @host may be given when the caller already read it (it must come from the same sysroot). */
QpinAuditResult *qpin_audit_run(const char *sysroot, const TopoHost *host, const QpinAuditMap *map,
                                GError **error);

/* The check @id of @result, or NULL. */
const QpinAuditCheck *qpin_audit_find(const QpinAuditResult *result, const char *id);

/* "pass", "warn", "fail", "unknown". */
const char *qpin_audit_status_name(QpinAuditStatus status);

/* The map of a running QEMU: the current affinity of its vCPU threads (comm "CPU N/KVM" or
 * "CPU N/TCG") and of every other thread (housekeeping), and whether a vCPU runs SCHED_FIFO or
 * SCHED_RR, read from SYSROOT/proc/PID/task. Errors: QPIN_ERROR_USAGE when there is no such
 * process or it has no vCPU thread. */
QpinAuditMap *qpin_audit_map_from_pid(const char *sysroot, gint64 pid, GError **error);

/* The map of a `qpin plan --json` or `qpin run --json`/--report document: vCPU "cpus" (or
 * "cpus_actual"), emulator and iothread CPUs, "vcpu_sched", and the hugepage-backed guest
 * nodes of "numa". Errors are QPIN_ERROR_USAGE naming the file and member. */
QpinAuditMap *qpin_audit_map_from_report(const char *path, GError **error);

/* Parses --hugepages SIZE@NODE[:PAGESIZE] (PAGESIZE 2M default, or 1G) into @map. */
gboolean qpin_audit_map_add_hugepages(QpinAuditMap *map, const char *text, GError **error);

/* A Linux hex CPU mask as sysfs writes it: 32-bit groups joined by ',' ("ff,000000f0"). */
char *qpin_audit_format_mask(const TopoCpuSet *set);

G_END_DECLS
