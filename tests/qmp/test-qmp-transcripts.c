/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Replays transcripts recorded from QEMU 7.2 (tests/qmp/transcripts/, made with
 * record-transcript) through the fake server, and checks the structs the client builds against
 * the topology each guest was started with. Each transcript is replayed whole and in small
 * pieces: the result must not depend on how the bytes arrive. */
#include "fake-qmp.h"
#include <qpin/qmp.h>
#include "qpin-check.h"

#include <string.h>

static const gsize chunk_sizes[] = {0, 7, 61};

static char *transcript_path(const char *name)
{
    const char *root = g_getenv("QPIN_SOURCE_ROOT");
    ck_assert_msg(root, "QPIN_SOURCE_ROOT is not set");
    return g_build_filename(root, "tests", "qmp", "transcripts", name, NULL);
}

static FakeQmp *replay(const char *name, gsize chunk, QmpClient **client_out)
{
    FakeQmp *fake = fake_qmp_new();
    g_autofree char *path = transcript_path(name);
    g_autoptr(GError) error = NULL;
    ck_assert_msg(fake_qmp_load_transcript(fake, path, chunk, &error), "%s", error->message);
    fake_qmp_start(fake);
    QmpClient *client = qmp_client_new_from_fd(fake_qmp_take_client_fd(fake), &error);
    ck_assert_ptr_nonnull(client);
    qmp_client_set_timeout(client, 10000);
    ck_assert_msg(qmp_client_handshake(client, &error), "%s", error ? error->message : "");
    const QmpGreeting *greeting = qmp_client_greeting(client);
    ck_assert_int_eq(greeting->major, 7);
    ck_assert_int_eq(greeting->minor, 2);
    ck_assert_str_eq(greeting->capabilities[0], "oob");
    *client_out = client;
    return fake;
}

static void finish(FakeQmp *fake, QmpClient *client)
{
    g_autoptr(GError) error = NULL;
    ck_assert_msg(qmp_quit(client, &error), "%s", error ? error->message : "");
    g_autoptr(QmpEvent) shutdown = qmp_client_wait_event(client, "SHUTDOWN", 0, &error);
    ck_assert_msg(shutdown, "no SHUTDOWN event: %s", error ? error->message : "");
    ck_assert_str_eq(json_object_get_string(json_object_object_get(shutdown->data, "reason")),
                     "host-qmp-quit");
    ck_assert_int_gt(shutdown->seconds, 0);
    qmp_client_free(client);
    g_autofree char *failure = fake_qmp_finish(fake);
    ck_assert_msg(failure == NULL, "fake QMP server: %s", failure);
    fake_qmp_free(fake);
}

static void assert_distinct_threads(GPtrArray *cpus)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_int64_hash, g_int64_equal);
    for (guint i = 0; i < cpus->len; i++) {
        QmpCpuInfo *cpu = g_ptr_array_index(cpus, i);
        ck_assert_int_gt(cpu->thread_id, 0);
        ck_assert_msg(g_hash_table_add(seen, &cpu->thread_id),
                      "thread %" G_GINT64_FORMAT
                      " twice (multi-threaded TCG gives each vCPU its own)",
                      cpu->thread_id);
    }
}

/* -smp 4,sockets=2,cores=2,threads=1, node 0 = cpus 0-1 (mem0), node 1 = cpus 2-3 (mem1). */
START_TEST(test_numa_4vcpu_2node)
{
    QmpClient *client;
    FakeQmp *fake = replay("numa-4vcpu-2node.txt", chunk_sizes[_i], &client);
    g_autoptr(GError) error = NULL;

    g_autoptr(GPtrArray) cpus = qmp_query_cpus_fast(client, &error);
    ck_assert_msg(cpus, "%s", error ? error->message : "");
    ck_assert_uint_eq(cpus->len, 4);
    for (guint i = 0; i < cpus->len; i++) {
        QmpCpuInfo *cpu = g_ptr_array_index(cpus, i);
        ck_assert_int_eq(cpu->cpu_index, i);
        ck_assert(cpu->has_node && cpu->has_socket && cpu->has_core && cpu->has_thread);
        ck_assert(!cpu->has_die && !cpu->has_cluster);
        ck_assert_int_eq(cpu->node, i / 2);
        ck_assert_int_eq(cpu->socket, i / 2);
        ck_assert_int_eq(cpu->core, i % 2);
        ck_assert_int_eq(cpu->thread, 0);
        ck_assert_str_eq(cpu->target, "x86_64");
        ck_assert(g_str_has_prefix(cpu->qom_path, "/machine/"));
    }
    assert_distinct_threads(cpus);

    g_autoptr(GPtrArray) memdevs = qmp_query_memdev(client, &error);
    ck_assert_msg(memdevs, "%s", error ? error->message : "");
    ck_assert_uint_eq(memdevs->len, 2);
    gboolean seen[2] = {FALSE, FALSE};
    for (guint i = 0; i < memdevs->len; i++) {
        QmpMemdev *m = g_ptr_array_index(memdevs, i);
        ck_assert(!strcmp(m->id, "mem0") || !strcmp(m->id, "mem1"));
        seen[m->id[3] - '0'] = TRUE;
        ck_assert_uint_eq(m->size, 256 * 1024 * 1024);
        ck_assert_str_eq(m->policy, "default");
        ck_assert_uint_eq(m->host_nodes->len, 0);
        ck_assert(m->merge && m->dump && !m->prealloc && !m->share);
    }
    ck_assert(seen[0] && seen[1]);

    gboolean running = TRUE;
    g_autofree char *status = qmp_query_status(client, &running, &error);
    ck_assert_str_eq(status, "prelaunch");
    ck_assert(!running);

    ck_assert_ptr_null(qmp_client_execute(client, "x-no-such-command", NULL, &error));
    ck_assert(g_error_matches(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND));
    ck_assert_str_eq(qmp_command_error_class(error), "CommandNotFound");
    ck_assert_str_eq(qmp_command_error_desc(error),
                     "The command x-no-such-command has not been found");
    g_clear_error(&error);

    g_autoptr(QmpJson) args =
        json_tokener_parse("{\"path\": \"/nonexistent\", \"property\": \"type\"}");
    ck_assert_ptr_null(qmp_client_execute(client, "qom-get", args, &error));
    ck_assert(g_error_matches(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_DEVICE_NOT_FOUND));
    ck_assert_str_eq(error->message, "DeviceNotFound: Device '/nonexistent' not found");
    g_clear_error(&error);

    ck_assert_msg(qmp_cont(client, &error), "%s", error ? error->message : "");
    g_autoptr(QmpEvent) resume = qmp_client_pop_event(client);
    ck_assert_ptr_nonnull(resume);
    ck_assert_str_eq(resume->name, "RESUME");
    g_autofree char *after = qmp_query_status(client, &running, &error);
    ck_assert_str_eq(after, "running");
    ck_assert(running);
    ck_assert(!qmp_client_is_broken(client));
    finish(fake, client);
}
END_TEST

/* -smp 240,sockets=1,cores=60,threads=4: cpu-index i is thread i%4 of core i/4. */
START_TEST(test_smp_240vcpu)
{
    QmpClient *client;
    FakeQmp *fake = replay("smp-240vcpu.txt", chunk_sizes[_i], &client);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) cpus = qmp_query_cpus_fast(client, &error);
    ck_assert_msg(cpus, "%s", error ? error->message : "");
    ck_assert_uint_eq(cpus->len, 240);
    guint per_core[60] = {0};
    for (guint i = 0; i < cpus->len; i++) {
        QmpCpuInfo *cpu = g_ptr_array_index(cpus, i);
        ck_assert_int_eq(cpu->cpu_index, i);
        ck_assert(cpu->has_socket && cpu->has_core && cpu->has_thread && !cpu->has_node);
        ck_assert_int_eq(cpu->socket, 0);
        ck_assert_int_eq(cpu->thread, i % 4);
        ck_assert_int_eq(cpu->core, i / 4);
        ck_assert(cpu->core >= 0 && cpu->core < 60);
        per_core[cpu->core]++;
    }
    for (guint c = 0; c < 60; c++)
        ck_assert_uint_eq(per_core[c], 4);
    assert_distinct_threads(cpus);
    finish(fake, client);
}
END_TEST

/* -smp 2 -object iothread,id=io0 -object iothread,id=io1 */
START_TEST(test_iothreads)
{
    QmpClient *client;
    FakeQmp *fake = replay("iothreads.txt", chunk_sizes[_i], &client);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) iothreads = qmp_query_iothreads(client, &error);
    ck_assert_msg(iothreads, "%s", error ? error->message : "");
    ck_assert_uint_eq(iothreads->len, 2);
    QmpIothread *a = g_ptr_array_index(iothreads, 0), *b = g_ptr_array_index(iothreads, 1);
    ck_assert(!strcmp(a->id, "io0") || !strcmp(a->id, "io1"));
    ck_assert(!strcmp(b->id, "io0") || !strcmp(b->id, "io1"));
    ck_assert_str_ne(a->id, b->id);
    ck_assert_int_gt(a->thread_id, 0);
    ck_assert_int_gt(b->thread_id, 0);
    ck_assert_int_ne(a->thread_id, b->thread_id);

    g_autoptr(GPtrArray) cpus = qmp_query_cpus_fast(client, &error);
    ck_assert_msg(cpus, "%s", error ? error->message : "");
    ck_assert_uint_eq(cpus->len, 2);
    assert_distinct_threads(cpus);
    for (guint i = 0; i < cpus->len; i++) {
        QmpCpuInfo *cpu = g_ptr_array_index(cpus, i);
        ck_assert_int_ne(cpu->thread_id, a->thread_id);
        ck_assert_int_ne(cpu->thread_id, b->thread_id);
    }
    finish(fake, client);
}
END_TEST

static Suite *transcripts_suite(void)
{
    Suite *s = suite_create("qmp-transcripts");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_numa_4vcpu_2node, 0, G_N_ELEMENTS(chunk_sizes));
    tcase_add_loop_test(tc, test_smp_240vcpu, 0, G_N_ELEMENTS(chunk_sizes));
    tcase_add_loop_test(tc, test_iothreads, 0, G_N_ELEMENTS(chunk_sizes));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(transcripts_suite());
}
