/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the threads of a process: listing them (/proc/PID/task), and the one place that
 * changes a thread's CPU affinity and scheduling policy, for every kind of QEMU thread (vCPU,
 * emulator, IO), and reads both back. Errors explain the kernel's answer (EINVAL, EPERM,
 * ESRCH) in terms of what the user can change. */
#pragma once

#include <qpin/cpuset.h>

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

typedef struct {
    pid_t tid;
    char *name; /* comm: "CPU 0/KVM", "IO io0", "qemu-system-x86" ...; "" when unreadable */
} QpinThread;

void qpin_thread_free(QpinThread *thread);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinThread, qpin_thread_free)

/* The threads of process @pid, ascending by thread id, read under @proc_root ("/proc" when
 * NULL). Threads that end while the directory is read are skipped. */
GPtrArray *qpin_threads_list(pid_t pid, const char *proc_root, GError **error);

/* The thread ids of process @pid, ascending, without their names (one directory read). */
GArray *qpin_threads_ids(pid_t pid, const char *proc_root, GError **error);

/* The name (comm) of thread @tid of @pid, or NULL when the thread does not exist. */
char *qpin_thread_name(pid_t pid, pid_t tid, const char *proc_root);

/* Whether @tid is a thread of process @pid right now (PROC/PID/task/TID exists). Thread ids
 * are reused, so this is checked before touching a thread QMP named. */
gboolean qpin_thread_of(pid_t pid, pid_t tid, const char *proc_root);

/* The text of PROC/PID/status (the one reader of that file in the launcher), or NULL with
 * @error when the process or thread does not exist. */
char *qpin_proc_status_read(pid_t pid, const char *proc_root, GError **error);

/* The number of the `KEY:` line of a status text ("Tgid", "VmRSS" in kB ...); FALSE when the
 * line is missing or holds no number. */
gboolean qpin_proc_status_value(const char *text, const char *key, guint64 *value);

/* The process (thread group) thread @tid belongs to, from PROC/TID/status `Tgid:`. */
pid_t qpin_thread_tgid(pid_t tid, const char *proc_root, GError **error);

/* Whether process @pid is a descendant (child, grandchild ...) of @ancestor, following the
 * `PPid:` lines of PROC/PID/status. */
gboolean qpin_process_descends_from(pid_t pid, pid_t ancestor, const char *proc_root);

/* A scheduling policy request (--vcpu-sched POLICY[:PRIO]). */
typedef struct {
    gboolean set;
    int policy;   /* SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, SCHED_OTHER */
    int priority; /* 1..99 for fifo/rr, 0 otherwise */
} QpinSched;

/* Parses POLICY[:PRIO]: fifo, rr (PRIO 1-99, default 1), batch, idle, other (no PRIO).
 * Errors are QPIN_ERROR_USAGE. */
gboolean qpin_sched_parse(const char *text, QpinSched *sched, GError **error);
/* "fifo:10", "batch" ... */
char *qpin_sched_format(const QpinSched *sched);

/* Applies @cpus (NULL: affinity left alone) and @sched (NULL or unset: policy left alone) to
 * thread @tid. @what names the thread in errors ("vCPU 3 (thread 1234)"); @allowed (may be
 * NULL) is quoted in the EINVAL explanation. Errors are QPIN_ERROR_PIN. */
gboolean qpin_thread_apply(pid_t tid, const TopoCpuSet *cpus, const QpinSched *sched,
                           const char *what, const TopoCpuSet *allowed, GError **error);

/* The affinity of thread @tid as the kernel holds it (sched_getaffinity). */
TopoCpuSet *qpin_thread_affinity(pid_t tid, const char *what, GError **error);

/* The scheduling policy and priority of thread @tid; reset-on-fork is masked off. */
gboolean qpin_thread_sched(pid_t tid, QpinSched *sched, const char *what, GError **error);

/* Whether two requests mean the same policy (priority compared for fifo/rr only). */
gboolean qpin_sched_equal(const QpinSched *a, const QpinSched *b);

G_END_DECLS
