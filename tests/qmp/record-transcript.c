/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Records a QMP transcript from a real QEMU for the replay tests.
 *
 *   record-transcript [--command JSON]... -- qemu-system-x86_64 ARGS...
 *
 * Starts QEMU with a socketpair end as its QMP monitor, negotiates, sends each command and
 * finally quit, and writes to stdout every message exactly as QEMU sent it ("<- ") and every
 * command sent ("-> "). Commands carry the ids qpin's client uses (qpin-1 for
 * qmp_capabilities, then qpin-2, ...), so a replay through the fake server matches the client.
 */
#include <errno.h>
#include <glib.h>
#include <json-c/json.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define QMP_FD 3

static GString *inbuf;

static void child_setup(gpointer data)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* The next line QEMU sent, without its CRLF; NULL at EOF or after 30 s of silence. */
static char *read_line(int fd)
{
    for (;;) {
        char *nl = memchr(inbuf->str, '\n', inbuf->len);
        if (nl) {
            gsize len = (gsize)(nl - inbuf->str);
            char *line = g_strndup(inbuf->str, len);
            g_string_erase(inbuf, 0, (gssize)len + 1);
            return g_strchomp(line);
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 30000) <= 0)
            return NULL;
        char buf[65536];
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        g_string_append_len(inbuf, buf, n);
    }
}

/* Records messages until the reply carrying @id (NULL: the greeting); FALSE at EOF. */
static gboolean record_until(int fd, const char *id)
{
    for (;;) {
        g_autofree char *line = read_line(fd);
        if (!line)
            return FALSE;
        if (!*line)
            continue;
        printf("<- %s\n", line);
        json_object *msg = json_tokener_parse(line);
        json_object *rid = NULL;
        gboolean done = msg && (id ? json_object_object_get_ex(msg, "id", &rid) &&
                                         !strcmp(json_object_get_string(rid), id)
                                   : json_object_object_get_ex(msg, "QMP", NULL));
        json_object_put(msg);
        if (done)
            return TRUE;
    }
}

static gboolean send_command(int fd, const char *text, guint n)
{
    json_object *cmd = json_tokener_parse(text);
    if (!cmd || !json_object_is_type(cmd, json_type_object)) {
        fprintf(stderr, "record-transcript: not a JSON object: %s\n", text);
        exit(2);
    }
    g_autofree char *id = g_strdup_printf("qpin-%u", n);
    json_object_object_add(cmd, "id", json_object_new_string(id));
    const char *out = json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
    printf("-> %s\n", out);
    g_autofree char *wire = g_strconcat(out, "\r\n", NULL);
    gboolean ok = send(fd, wire, strlen(wire), MSG_NOSIGNAL) == (ssize_t)strlen(wire);
    json_object_put(cmd);
    return ok && record_until(fd, id);
}

int main(int argc, char **argv)
{
    g_auto(GStrv) commands = NULL;
    GOptionEntry entries[] = {
        {"command", 0, 0, G_OPTION_ARG_STRING_ARRAY, &commands, "A command to send", "JSON"},
        {NULL},
    };
    g_autoptr(GOptionContext) context = g_option_context_new("-- QEMU [ARGS...]");
    g_option_context_add_main_entries(context, entries, NULL);
    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, &argc, &argv, &error) || argc < 2) {
        fprintf(stderr, "record-transcript: %s\n", error ? error->message : "no QEMU given");
        return 2;
    }
    int first = !strcmp(argv[1], "--") ? 2 : 1;
    if (first >= argc) {
        fprintf(stderr, "record-transcript: no QEMU given\n");
        return 2;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 1;
    g_autoptr(GPtrArray) qemu = g_ptr_array_new();
    for (int i = first; i < argc; i++)
        g_ptr_array_add(qemu, argv[i]);
    g_autofree char *chardev = g_strdup_printf("socket,id=qmp,fd=%d", QMP_FD);
    const char *extra[] = {"-chardev", chardev, "-mon", "chardev=qmp,mode=control"};
    for (gsize i = 0; i < G_N_ELEMENTS(extra); i++)
        g_ptr_array_add(qemu, (char *)extra[i]);
    g_ptr_array_add(qemu, NULL);

    int source_fds[] = {sv[1]}, target_fds[] = {QMP_FD};
    GPid pid;
    if (!g_spawn_async_with_pipes_and_fds(NULL, (const char *const *)qemu->pdata, NULL,
                                          G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
                                          child_setup, NULL, -1, -1, -1, source_fds, target_fds, 1,
                                          &pid, NULL, NULL, NULL, &error)) {
        fprintf(stderr, "record-transcript: %s\n", error->message);
        return 1;
    }
    close(sv[1]);
    inbuf = g_string_new(NULL);

    printf("# Recorded from QEMU with:");
    for (int i = first; i < argc; i++)
        printf(" %s", argv[i]);
    printf("\n");
    guint n = 1;
    gboolean ok = record_until(sv[0], NULL) &&
                  send_command(sv[0], "{\"execute\": \"qmp_capabilities\"}", n++);
    for (char **c = commands; ok && c && *c; c++)
        ok = send_command(sv[0], *c, n++);
    if (ok) {
        /* quit: QEMU may close before or after its reply. */
        send_command(sv[0], "{\"execute\": \"quit\"}", n++);
    }
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++)
        g_usleep(50000);
    if (waitpid(pid, &status, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ok = FALSE;
    }
    fflush(stdout);
    if (!ok) {
        fprintf(stderr, "record-transcript: the session did not complete\n");
        return 1;
    }
    return 0;
}
