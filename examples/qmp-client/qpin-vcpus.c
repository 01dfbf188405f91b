/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin-vcpus — list a running QEMU's vCPUs and their host threads through libqpin-qmp.
 *
 *   cc -o qpin-vcpus qpin-vcpus.c $(pkg-config --cflags --libs qpin-qmp)
 *   ./qpin-vcpus /run/vm.qmp
 *
 * QEMU must have a QMP socket: -qmp unix:/run/vm.qmp,server=on,wait=off. The program connects,
 * negotiates, asks query-cpus-fast and query-status, and prints one line per vCPU. */
#include <qpin/qmp.h>

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s QMP-SOCKET\n", argv[0]);
        return 2;
    }
    g_autoptr(GError) error = NULL;
    /* No alive callback: a socket that does not exist (yet) fails at once. */
    g_autoptr(QmpClient) qmp = qmp_client_connect(argv[1], 5000, NULL, NULL, &error);
    if (!qmp || !qmp_client_handshake(qmp, &error)) {
        fprintf(stderr, "%s: %s\n", argv[1], error->message);
        return 1;
    }
    const QmpGreeting *greeting = qmp_client_greeting(qmp);
    g_autoptr(GPtrArray) cpus = qmp_query_cpus_fast(qmp, &error);
    if (!cpus) {
        fprintf(stderr, "query-cpus-fast: %s\n", error->message);
        return 1;
    }
    gboolean running = FALSE;
    g_autofree char *status = qmp_query_status(qmp, &running, &error);
    if (!status) {
        fprintf(stderr, "query-status: %s\n", error->message);
        return 1;
    }
    printf("QEMU %d.%d.%d, %u vCPUs, %s\n", greeting->major, greeting->minor, greeting->micro,
           cpus->len, status);
    for (guint i = 0; i < cpus->len; i++) {
        const QmpCpuInfo *c = cpus->pdata[i];
        printf("vCPU %" G_GINT64_FORMAT " thread %" G_GINT64_FORMAT " socket %" G_GINT64_FORMAT
               " core %" G_GINT64_FORMAT " thread-id %" G_GINT64_FORMAT "\n",
               c->cpu_index, c->thread_id, c->has_socket ? c->socket : -1,
               c->has_core ? c->core : -1, c->has_thread ? c->thread : -1);
    }
    return 0;
}
