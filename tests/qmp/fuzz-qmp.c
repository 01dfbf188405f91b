/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target for the QMP client: the input is everything a peer sends.
 *
 * Byte 0 configures the run (bit 0: a 512-byte message cap instead of the default; bit 1: a
 * trace callback; bits 2-3: where the command sequence starts), the rest is written to one end
 * of a socketpair, which is then shut down for writing, and the client on the other end
 * negotiates and runs every typed command, raw execute, the event calls and quit. Ids are
 * predictable (qpin-1 for qmp_capabilities, then qpin-2, ...), so the seed corpus, made from
 * recorded QEMU transcripts by scripts/fuzz, reaches every reply parser. The peer never
 * stalls: each wait ends with data or EOF, never with a timeout.
 *
 * Built with -Dfuzz=true (clang); run by scripts/fuzz.
 */
#include <qpin/qmp.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_MAX_INPUT (64 * 1024)
#define SMALL_CAP      512
#define N_COMMANDS     9

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void trace_sink(const char *direction, const char *json, gpointer user_data)
{
    gsize *total = user_data;
    *total += strlen(direction) + strlen(json);
}

static void free_array(GPtrArray *array)
{
    if (array)
        g_ptr_array_unref(array);
}

static void run_command(QmpClient *client, int which)
{
    GError *error = NULL;
    switch (which) {
    case 0:
        free_array(qmp_query_cpus_fast(client, &error));
        break;
    case 1:
        free_array(qmp_query_iothreads(client, &error));
        break;
    case 2:
        free_array(qmp_query_memdev(client, &error));
        break;
    case 3: {
        gboolean running;
        g_free(qmp_query_status(client, &running, &error));
        break;
    }
    case 4:
        qmp_cont(client, &error);
        break;
    case 5:
        qmp_stop(client, &error);
        break;
    case 6: {
        json_object *args = json_object_new_object();
        json_object_object_add(args, "path", json_object_new_string("/machine"));
        json_object *ret = qmp_client_execute(client, "qom-list", args, &error);
        if (ret)
            json_object_put(ret);
        json_object_put(args);
        if (error && error->domain == QMP_COMMAND_ERROR &&
            (!qmp_command_error_class(error) || !qmp_command_error_desc(error)))
            abort();
        break;
    }
    case 7: {
        QmpEvent *event = qmp_client_wait_event(client, "SHUTDOWN", 0, &error);
        qmp_event_free(event);
        while ((event = qmp_client_pop_event(client)))
            qmp_event_free(event);
        break;
    }
    default:
        qmp_quit(client, &error);
        break;
    }
    g_clear_error(&error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FUZZ_MAX_INPUT + 1)
        return 0;
    uint8_t config = data[0];
    data++;
    size--;

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    int bufsize = 4 * FUZZ_MAX_INPUT;
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof(bufsize));
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
    for (size_t off = 0; off < size;) {
        ssize_t n = write(sv[1], data + off, size - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    shutdown(sv[1], SHUT_WR);

    GError *error = NULL;
    QmpClient *client = qmp_client_new_from_fd(sv[0], &error);
    if (!client)
        abort();
    gsize cap = (config & 1) ? SMALL_CAP : QMP_DEFAULT_MAX_MESSAGE;
    gsize traced = 0;
    qmp_client_set_max_message(client, cap);
    qmp_client_set_timeout(client, 2000);
    if (config & 2)
        qmp_client_set_trace(client, trace_sink, &traced);

    if (qmp_client_handshake(client, &error)) {
        const QmpGreeting *greeting = qmp_client_greeting(client);
        if (!greeting || !greeting->package || !greeting->capabilities)
            abort();
        int first = (config >> 2) & 3;
        for (int i = 0; i < N_COMMANDS; i++)
            run_command(client, (first + i) % N_COMMANDS);
    } else if (qmp_client_greeting(client)) {
        abort();
    }
    g_clear_error(&error);

    /* The cap bounds what the client ever holds, whatever the peer sent. */
    if (qmp_client_peak_message_bytes(client) > cap + 1)
        abort();
    qmp_client_free(client);
    close(sv[1]);
    return 0;
}
