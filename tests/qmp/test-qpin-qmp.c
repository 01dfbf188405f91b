/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `qpin qmp` against the fake server: its output and exit codes, and that no broken or hostile
 * peer makes it hang past --timeout, crash, or print a wrong answer as success. */
#include "fake-qmp.h"
#include "qpin-check.h"
#include "qpin-test-util.h"

#include <string.h>
#include <unistd.h>

#define REPLY(json) "{\"return\": " json ", \"id\": @ID@}\r\n"

/* Runs `qpin qmp ARGS...` (NULL-terminated). */
static QpinTestRun run_qpin(const char *first, ...)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        g_ptr_array_add(args, (char *)a);
    va_end(ap);
    g_ptr_array_add(args, NULL);
    return qpin_test_run_qpin("qmp", (const char *const *)args->pdata);
}

/* A started fake that negotiates, then answers @command (with @arguments) by @reply. */
static FakeQmp *fake_answering(const char *command, const char *arguments, const char *reply)
{
    FakeQmp *fake = fake_qmp_new_listening();
    fake_qmp_handshake(fake);
    fake_qmp_expect(fake, command, arguments, reply);
    fake_qmp_start(fake);
    return fake;
}

static void assert_fake_ok(FakeQmp *fake)
{
    g_autofree char *failure = fake_qmp_finish(fake);
    ck_assert_msg(failure == NULL, "fake QMP server: %s", failure);
}

START_TEST(test_success)
{
    g_autoptr(FakeQmp) fake = fake_answering(
        "qom-list", "{\"path\": \"/machine/peripheral\"}",
        "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}\r\n"
        "{\"return\": [{\"name\": \"wrong\"}], \"id\": \"qpin-99\"}\r\n" REPLY(
            "[{\"name\": \"type\", \"type\": \"string\"}, {\"name\": \"caf\\u00e9\", \"type\": "
            "\"child<x>\"}]"));
    QpinTestRun run = run_qpin("--qmp", fake_qmp_path(fake), "qom-list",
                               "{\"path\": \"/machine/peripheral\"}", NULL);
    ck_assert_msg(run.status == 0, "exit %d: %s", run.status, run.err);
    g_autoptr(QmpJson) doc = json_tokener_parse(run.out);
    ck_assert_msg(json_object_is_type(doc, json_type_array), "stdout: %s", run.out);
    ck_assert_int_eq(json_object_array_length(doc), 2);
    ck_assert_str_eq(
        json_object_get_string(json_object_object_get(json_object_array_get_idx(doc, 1), "name")),
        "caf\xc3\xa9");
    ck_assert_str_eq(run.err, "");
    qpin_test_run_clear(&run);
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_empty_return)
{
    g_autoptr(FakeQmp) fake = fake_answering("cont", "{}", REPLY("{}"));
    QpinTestRun run = run_qpin("--qmp", fake_qmp_path(fake), "cont", NULL);
    ck_assert_msg(run.status == 0, "exit %d: %s", run.status, run.err);
    ck_assert_str_eq(run.out, "{}\n");
    qpin_test_run_clear(&run);
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_command_error)
{
    g_autoptr(FakeQmp) fake =
        fake_answering("device_del", "{\"id\": \"nic0\"}",
                       "{\"id\": @ID@, \"error\": {\"class\": \"SomeNewClass\", \"desc\": \"Device "
                       "'nic0' is busy\"}}\r\n");
    QpinTestRun run =
        run_qpin("--qmp", fake_qmp_path(fake), "device_del", "{\"id\": \"nic0\"}", NULL);
    ck_assert_int_eq(run.status, 13);
    ck_assert_str_eq(run.out, "");
    ck_assert_msg(strstr(run.err, "SomeNewClass: Device 'nic0' is busy\n"), "%s", run.err);
    qpin_test_run_clear(&run);
    assert_fake_ok(fake);
}
END_TEST

/* Hostile or broken peers: a clear reason, exit 12, nothing on stdout, within the timeout. */
static const struct {
    const char *what;
    const char *greeting; /* sent first (NULL: the regular handshake runs) */
    const char *reply;    /* answer to query-status (NULL: none) */
    gboolean stall;       /* after the steps, say nothing more */
    const char *needle;
} hostile[] = {
    {"HMP", "QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ", NULL, FALSE,
     "human monitor, HMP"},
    {"garbage", "\x01\x02garbage\r\n", NULL, FALSE, "not a QMP server"},
    {"array", "[\"QMP\"]\r\n", NULL, FALSE, "not a QMP server"},
    {"silent", "", NULL, TRUE, "no QMP greeting within 500 ms"},
    {"half greeting", "{\"QMP\": {\"vers", NULL, TRUE, "no QMP greeting within 500 ms"},
    {"no answer", NULL, NULL, TRUE, "no reply to 'query-status' within 500 ms"},
    {"half answer", NULL, "{\"return\": {\"status\": ", TRUE, "no reply to 'query-status'"},
    {"closed mid-reply", NULL, "{\"return\": {\"status\": ", FALSE, "connection closed"},
    {"no return", NULL, "{\"id\": @ID@}\r\n", FALSE, "bad reply to query-status"},
    {"error without id", NULL,
     "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, stray '}'\"}}\r\n",
     FALSE, "JSON parse error"},
    {"only foreign replies", NULL,
     "{\"return\": {\"status\": \"running\"}, \"id\": \"qpin-1\"}\r\n"
     "{\"return\": {\"status\": \"running\"}}\r\n",
     TRUE, "no reply to 'query-status'"},
    {"deep nesting", NULL,
     "{\"return\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", FALSE,
     "nested deeper"},
};

START_TEST(test_hostile_peer)
{
    gsize i = (gsize)_i;
    g_autoptr(FakeQmp) fake = fake_qmp_new_listening();
    if (hostile[i].greeting) {
        fake_qmp_send(fake, hostile[i].greeting, -1);
    } else {
        fake_qmp_handshake(fake);
        fake_qmp_expect(fake, "query-status", NULL, hostile[i].reply);
    }
    if (hostile[i].stall)
        fake_qmp_stall(fake, 20000);
    else
        fake_qmp_close(fake);
    fake_qmp_start(fake);
    QpinTestRun run =
        run_qpin("--qmp", fake_qmp_path(fake), "--timeout", "0.5", "query-status", NULL);
    ck_assert_msg(run.status == 12, "%s: exit %d, stdout '%s', stderr '%s'", hostile[i].what,
                  run.status, run.out, run.err);
    ck_assert_msg(strstr(run.err, hostile[i].needle), "%s: stderr '%s' lacks '%s'", hostile[i].what,
                  run.err, hostile[i].needle);
    ck_assert_str_eq(run.out, "");
    ck_assert_msg(run.seconds < 3, "%s: took %.1f s", hostile[i].what, run.seconds);
    qpin_test_run_clear(&run);
    assert_fake_ok(fake);
}
END_TEST

/* A peer that never stops talking (stale replies, events) cannot hold qpin past --timeout. */
START_TEST(test_endless_peer)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new_listening();
    fake_qmp_handshake(fake);
    fake_qmp_expect(fake, "query-status", NULL, NULL);
    fake_qmp_send_generated(fake, "",
                            "{\"return\": {}, \"id\": \"qpin-1\"}\r\n{\"event\": \"X\", "
                            "\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}\r\n",
                            G_MAXUINT64, "");
    fake_qmp_start(fake);
    QpinTestRun run =
        run_qpin("--qmp", fake_qmp_path(fake), "--timeout", "0.5", "query-status", NULL);
    ck_assert_msg(run.status == 12, "exit %d: %s", run.status, run.err);
    ck_assert_msg(strstr(run.err, "no reply to 'query-status' within 500 ms"), "%s", run.err);
    ck_assert_msg(run.seconds < 3, "took %.1f s", run.seconds);
    ck_assert_str_eq(run.out, "");
    qpin_test_run_clear(&run);
    assert_fake_ok(fake);
}
END_TEST

/* The peer goes away before qpin writes: an error, never a SIGPIPE death.
 *
 * qpin writes qmp_capabilities as soon as it has the greeting, so a close right after the
 * greeting races with that write; when the write wins, the close finds the command unread and
 * qpin's next read fails with ECONNRESET instead. The fake therefore stops reading before it
 * greets: the greeting itself is the event after which every write of qpin fails (EPIPE). */
START_TEST(test_peer_gone_before_write)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new_listening();
    fake_qmp_shutdown_read(fake);
    fake_qmp_send(fake, FAKE_QMP_GREETING, -1);
    fake_qmp_close(fake);
    fake_qmp_start(fake);
    QpinTestRun run = run_qpin("--qmp", fake_qmp_path(fake), "query-status", NULL);
    ck_assert_int_eq(run.status, 12);
    ck_assert_msg(strstr(run.err, "closed"), "%s", run.err);
    ck_assert_msg(strstr(run.err, "cannot send 'qmp_capabilities'"), "%s", run.err);
    qpin_test_run_clear(&run);
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_connect_failures)
{
    g_autofree char *dir = g_dir_make_tmp("qpin-test-XXXXXX", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing.sock", NULL);
    QpinTestRun run = run_qpin("--qmp", missing, "query-status", NULL);
    ck_assert_int_eq(run.status, 12);
    ck_assert_msg(strstr(run.err, "No such file or directory"), "%s", run.err);
    ck_assert(run.seconds < 2);
    qpin_test_run_clear(&run);

    g_autofree char *longpath = g_strnfill(200, 'x');
    longpath[0] = '/';
    run = run_qpin("--qmp", longpath, "query-status", NULL);
    ck_assert_int_eq(run.status, 12);
    ck_assert_msg(strstr(run.err, "must be shorter than 108 bytes"), "%s", run.err);
    qpin_test_run_clear(&run);
    rmdir(dir);
}
END_TEST

START_TEST(test_usage)
{
    static const char *const cases[][6] = {
        {"query-status", NULL},
        {"--qmp", "/nonexistent", NULL},
        {"--qmp", "/nonexistent", "qom-get", "[1]", NULL},
        {"--qmp", "/nonexistent", "qom-get", "{\"a\": 1} x", NULL},
        {"--qmp", "/nonexistent", "qom-get", "{\"a\": ", NULL},
        {"--qmp", "/nonexistent", "qom-get", "{}", "extra", NULL},
        {"--qmp", "/nonexistent", "--timeout", "-1", "cont", NULL},
        {"--qmp", "/nonexistent", "--timeout", "abc", "cont", NULL},
        {"--qmp", "/nonexistent", "--no-such-option", "cont", NULL},
        {"--qmp", "/nonexistent", "", NULL},
    };
    static const char *needles[] = {
        "--qmp SOCKET is required", "missing COMMAND",
        "must be a JSON object",    "not valid JSON",
        "not valid JSON",           "unexpected argument 'extra'",
        "--timeout must be",        "abc",
        "no-such-option",           "empty COMMAND",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *const *c = cases[i];
        QpinTestRun run = run_qpin(c[0], c[1], c[2], c[3], c[4], c[5], NULL);
        ck_assert_msg(run.status == 2, "case %zu: exit %d (%s)", i, run.status, run.err);
        ck_assert_msg(strstr(run.err, needles[i]), "case %zu: '%s' lacks '%s'", i, run.err,
                      needles[i]);
        ck_assert_str_eq(run.out, "");
        qpin_test_run_clear(&run);
    }
    QpinTestRun help = run_qpin("--help", NULL);
    ck_assert_int_eq(help.status, 0);
    ck_assert_msg(strstr(help.out, "COMMAND [ARGUMENTS-JSON]") && strstr(help.out, "--timeout") &&
                      strstr(help.out, "\n  13  QEMU answered a QMP command with an error\n"),
                  "%s", help.out);
    qpin_test_run_clear(&help);
}
END_TEST

static Suite *qpin_qmp_suite(void)
{
    Suite *s = suite_create("qpin-qmp");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_success);
    tcase_add_test(tc, test_empty_return);
    tcase_add_test(tc, test_command_error);
    tcase_add_loop_test(tc, test_hostile_peer, 0, G_N_ELEMENTS(hostile));
    tcase_add_test(tc, test_endless_peer);
    tcase_add_test(tc, test_peer_gone_before_write);
    tcase_add_test(tc, test_connect_failures);
    tcase_add_test(tc, test_usage);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return qpin_check_run(qpin_qmp_suite());
}
