/* qpin — the threads of a process, see threads.h. */
#include "threads.h"

#include "error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char *proc(const char *proc_root)
{
    return proc_root ? proc_root : "/proc";
}

void qpin_thread_free(QpinThread *thread)
{
    if (!thread)
        return;
    g_free(thread->name);
    g_free(thread);
}

char *qpin_thread_name(pid_t pid, pid_t tid, const char *proc_root)
{
    g_autofree char *path =
        g_strdup_printf("%s/%d/task/%d/comm", proc(proc_root), (int)pid, (int)tid);
    char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    g_strchomp(text);
    return text;
}

static gint compare_pid(gconstpointer a, gconstpointer b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

GArray *qpin_threads_ids(pid_t pid, const char *proc_root, GError **error)
{
    g_autofree char *path = g_strdup_printf("%s/%d/task", proc(proc_root), (int)pid);
    GError *local = NULL;
    g_autoptr(GDir) dir = g_dir_open(path, 0, &local);
    if (!dir) {
        g_set_error(error, QPIN_ERROR, QPIN_EXIT_PIN, "cannot list the threads of process %d: %s",
                    (int)pid, local->message);
        g_error_free(local);
        return NULL;
    }
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(pid_t));
    const char *entry;
    while ((entry = g_dir_read_name(dir))) {
        guint64 tid;
        if (!g_ascii_string_to_unsigned(entry, 10, 1, G_MAXINT, &tid, NULL))
            continue;
        pid_t t = (pid_t)tid;
        g_array_append_val(ids, t);
    }
    g_array_sort(ids, compare_pid);
    return ids;
}

GPtrArray *qpin_threads_list(pid_t pid, const char *proc_root, GError **error)
{
    g_autoptr(GArray) ids = qpin_threads_ids(pid, proc_root, error);
    if (!ids)
        return NULL;
    GPtrArray *threads = g_ptr_array_new_with_free_func((GDestroyNotify)qpin_thread_free);
    for (guint i = 0; i < ids->len; i++) {
        pid_t tid = g_array_index(ids, pid_t, i);
        char *name = qpin_thread_name(pid, tid, proc_root);
        if (!name)
            continue; /* ended meanwhile */
        QpinThread *thread = g_new0(QpinThread, 1);
        thread->tid = tid;
        thread->name = name;
        g_ptr_array_add(threads, thread);
    }
    return threads;
}

gboolean qpin_thread_of(pid_t pid, pid_t tid, const char *proc_root)
{
    if (pid <= 0 || tid <= 0)
        return FALSE;
    g_autofree char *path = g_strdup_printf("%s/%d/task/%d", proc(proc_root), (int)pid, (int)tid);
    return g_file_test(path, G_FILE_TEST_IS_DIR);
}

/* A numeric field ("Tgid", "PPid") of PROC/PID/status, or -1 with @error. */
static pid_t status_pid_field(pid_t pid, const char *key, const char *proc_root, GError **error)
{
    g_autofree char *path = g_strdup_printf("%s/%d/status", proc(proc_root), (int)pid);
    g_autofree char *text = NULL;
    GError *local = NULL;
    if (pid <= 0 || !g_file_get_contents(path, &text, NULL, &local)) {
        g_set_error(error, QPIN_ERROR, QPIN_EXIT_PIN, "process or thread %d does not exist%s%s",
                    (int)pid, local ? ": " : "", local ? local->message : "");
        g_clear_error(&local);
        return -1;
    }
    gsize klen = strlen(key);
    for (char *line = text; line && *line;) {
        char *next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            guint64 v;
            if (g_ascii_string_to_unsigned(g_strstrip(line + klen + 1), 10, 0, G_MAXINT, &v, NULL))
                return (pid_t)v;
            break;
        }
        line = next;
    }
    g_set_error(error, QPIN_ERROR, QPIN_EXIT_PIN, "%s has no readable %s line", path, key);
    return -1;
}

pid_t qpin_thread_tgid(pid_t tid, const char *proc_root, GError **error)
{
    pid_t tgid = status_pid_field(tid, "Tgid", proc_root, error);
    if (tgid == 0) {
        g_set_error(error, QPIN_ERROR, QPIN_EXIT_PIN, "thread %d has no thread group", (int)tid);
        return -1;
    }
    return tgid;
}

gboolean qpin_process_descends_from(pid_t pid, pid_t ancestor, const char *proc_root)
{
    /* The parent chain is short; the bound only guards against a loop in a forged tree. */
    for (int depth = 0; pid > 1 && depth < 4096; depth++) {
        pid_t parent = status_pid_field(pid, "PPid", proc_root, NULL);
        if (parent == ancestor)
            return TRUE;
        if (parent <= 0)
            return FALSE;
        pid = parent;
    }
    return FALSE;
}
