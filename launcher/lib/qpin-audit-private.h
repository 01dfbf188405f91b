/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — what the check modules (qpin-audit-cpu.c, -irq.c, -mm.c) share with qpin-audit.c: the
 * audit's context, the careful reader of the sysroot, the process table and the kernel command
 * line. Not installed; not for other modules. */
#pragma once

#include "qpin-audit.h"

G_BEGIN_DECLS

/* A process of SYSROOT/proc. */
typedef struct {
    gint64 pid;
    char *comm;
} QpinAuditProc;

typedef struct {
    const char *sysroot; /* "/" for the live machine */
    const TopoHost *host;
    const QpinAuditMap *map;
    TopoCpuSet *vcpu;
    TopoCpuSet *hk;
    gboolean hk_given;   /* the map named housekeeping CPUs (else: online minus vCPU CPUs) */
    GPtrArray *procs;    /* QpinAuditProc*, ascending pid; empty when none could be listed */
    gboolean procs_read; /* SYSROOT/proc could be listed and held at least one process */
    GPtrArray *checks;   /* QpinAuditCheck* */
} QpinAuditCtx;

/* The path of @rel (relative, no leading '/') under the sysroot. */
char *qpin_audit_path(const QpinAuditCtx *c, const char *rel);

/* Reads SYSROOT/@rel when it is a regular file (sysfs and procfs files are; a FIFO or device
 * planted in a sysroot is refused, never opened for a blocking read), at most 1 MiB. NULL when
 * it cannot be read, with *@why (when not NULL) saying why ("missing", "not a regular file",
 * the errno text). NUL bytes are kept (cmdline, environ); *@len gets the length when not NULL. */
char *qpin_audit_read(const QpinAuditCtx *c, const char *rel, gsize *len, char **why);

/* Adds a check; takes the strings (fix may be NULL). */
void qpin_audit_add(QpinAuditCtx *c, const char *id, QpinAuditStatus status, char *observed,
                    char *expected, char *evidence, char *fix);

/* The value of the last `NAME=VALUE` (or bare `NAME`: "") of the kernel command line before a
 * "--", as the kernel reads its parameters; NULL when absent. */
char *qpin_audit_cmdline_value(const char *cmdline, const char *name);

/* The text of a kernel command-line fix: add @params to GRUB_CMDLINE_LINUX, update, reboot. */
char *qpin_audit_kernel_fix(const char *params);

/* The processes whose comm is @comm (or starts with @comm when @prefix). */
GPtrArray *qpin_audit_procs_named(const QpinAuditCtx *c, const char *comm, gboolean prefix);

/* The NUL-separated words of SYSROOT/proc/PID/@file (cmdline, environ), or NULL. */
char **qpin_audit_proc_words(const QpinAuditCtx *c, gint64 pid, const char *file);

/* A cpulist for people ("1-3,5-7"), "none" when empty. */
char *qpin_audit_cpus(const TopoCpuSet *set);

/* The checks, in the order they are documented. */
void qpin_audit_cpu_run(QpinAuditCtx *c);
void qpin_audit_irq_run(QpinAuditCtx *c);
void qpin_audit_mm_run(QpinAuditCtx *c);
void qpin_audit_cpu_late_run(QpinAuditCtx *c);

G_END_DECLS
