/* qpin — the threads of a process, from /proc/PID/task. */
#pragma once

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

/* The process (thread group) thread @tid belongs to, from PROC/TID/status `Tgid:`. */
pid_t qpin_thread_tgid(pid_t tid, const char *proc_root, GError **error);

/* Whether process @pid is a descendant (child, grandchild ...) of @ancestor, following the
 * `PPid:` lines of PROC/PID/status. */
gboolean qpin_process_descends_from(pid_t pid, pid_t ancestor, const char *proc_root);

G_END_DECLS
