/* qpin — the one place that changes a thread's CPU affinity and scheduling policy, for every
 * kind of QEMU thread (vCPU, emulator, IO), and reads both back. Errors explain the kernel's
 * answer (EINVAL, EPERM, ESRCH) in terms of what the user can change. */
#pragma once

#include "cpuset.h"

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* A scheduling policy request (--vcpu-sched POLICY[:PRIO]). */
typedef struct {
    gboolean set;
    int policy;   /* SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, SCHED_OTHER */
    int priority; /* 1..99 for fifo/rr, 0 otherwise */
} QpinSched;

/* Parses POLICY[:PRIO]: fifo, rr (PRIO 1-99, default 1), batch, idle, other (no PRIO).
 * Errors are QPIN_EXIT_USAGE. */
gboolean qpin_sched_parse(const char *text, QpinSched *sched, GError **error);
/* "fifo:10", "batch" ... */
char *qpin_sched_format(const QpinSched *sched);

/* Applies @cpus (NULL: affinity left alone) and @sched (NULL or unset: policy left alone) to
 * thread @tid. @what names the thread in errors ("vCPU 3 (thread 1234)"); @allowed (may be
 * NULL) is quoted in the EINVAL explanation. Errors are QPIN_EXIT_PIN. */
gboolean qpin_thread_apply(pid_t tid, const TopoCpuSet *cpus, const QpinSched *sched,
                           const char *what, const TopoCpuSet *allowed, GError **error);

/* The affinity of thread @tid as the kernel holds it (sched_getaffinity). */
TopoCpuSet *qpin_thread_affinity(pid_t tid, const char *what, GError **error);

/* The scheduling policy and priority of thread @tid; reset-on-fork is masked off. */
gboolean qpin_thread_sched(pid_t tid, QpinSched *sched, const char *what, GError **error);

/* Whether two requests mean the same policy (priority compared for fifo/rr only). */
gboolean qpin_sched_equal(const QpinSched *a, const QpinSched *b);

G_END_DECLS
