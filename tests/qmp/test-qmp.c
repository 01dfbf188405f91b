/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Tests of the QMP client against a scripted fake server: framing, ids, events, deadlines,
 * size caps, hostile peers, connecting, and the typed commands. */
#include "fake-qmp.h"
#include <qpin/qmp.h>
#include "qpin-check.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPLY(json) "{\"return\": " json ", \"id\": @ID@}\r\n"

/* ---- common steps ---- */

static QmpClient *client_for(FakeQmp *fake, gint64 timeout_ms)
{
    GError *error = NULL;
    QmpClient *client = qmp_client_new_from_fd(fake_qmp_take_client_fd(fake), &error);
    ck_assert_msg(client, "adopting the socketpair end failed: %s", error ? error->message : "");
    qmp_client_set_timeout(client, timeout_ms);
    return client;
}

static void assert_fake_ok(FakeQmp *fake)
{
    g_autofree char *failure = fake_qmp_finish(fake);
    ck_assert_msg(failure == NULL, "fake QMP server: %s", failure);
}

static void assert_error(const GError *error, GQuark domain, int code, const char *needle)
{
    ck_assert_msg(error != NULL, "expected an error containing '%s'", needle);
    ck_assert_msg(error->domain == domain && error->code == code,
                  "expected error %s/%d, got %s/%d: %s", g_quark_to_string(domain), code,
                  g_quark_to_string(error->domain), error->code, error->message);
    ck_assert_msg(!needle || strstr(error->message, needle), "error '%s' lacks '%s'",
                  error->message, needle);
}

static void assert_handshake(QmpClient *client)
{
    g_autoptr(GError) error = NULL;
    ck_assert_msg(qmp_client_handshake(client, &error), "handshake failed: %s",
                  error ? error->message : "");
}

static double elapsed_ms(gint64 start)
{
    return (double)(g_get_monotonic_time() - start) / 1000.0;
}

/* Starts @fake and returns a client that has negotiated with it. */
static QmpClient *start_negotiated(FakeQmp *fake, gint64 timeout_ms)
{
    fake_qmp_start(fake);
    QmpClient *client = client_for(fake, timeout_ms);
    assert_handshake(client);
    return client;
}

/* A fake with a finished handshake, ready for the test's own steps. */
static FakeQmp *fake_after_handshake(void)
{
    FakeQmp *fake = fake_qmp_new();
    fake_qmp_handshake(fake);
    return fake;
}

/* ---- basics ---- */

START_TEST(test_handshake_and_execute)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "qom-get", "{\"path\": \"/machine\", \"property\": \"type\"}",
                    REPLY("\"pc-i440fx-7.2-machine\""));
    fake_qmp_start(fake);
    g_autoptr(QmpClient) client = client_for(fake, 5000);

    ck_assert_ptr_null(qmp_client_greeting(client));
    assert_handshake(client);
    const QmpGreeting *greeting = qmp_client_greeting(client);
    ck_assert_ptr_nonnull(greeting);
    ck_assert_int_eq(greeting->major, 7);
    ck_assert_int_eq(greeting->minor, 2);
    ck_assert_int_eq(greeting->micro, 22);
    ck_assert_str_eq(greeting->package, "Debian 1:7.2+dfsg-7+deb12u18+b3");
    ck_assert_str_eq(greeting->capabilities[0], "oob");
    ck_assert_ptr_null(greeting->capabilities[1]);

    g_autoptr(QmpJson) args = json_object_new_object();
    json_object_object_add(args, "path", json_object_new_string("/machine"));
    json_object_object_add(args, "property", json_object_new_string("type"));
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpJson) ret = qmp_client_execute(client, "qom-get", args, &error);
    ck_assert_msg(ret, "%s", error ? error->message : "");
    ck_assert_str_eq(json_object_get_string(ret), "pc-i440fx-7.2-machine");
    ck_assert_uint_eq(qmp_client_commands_sent(client), 2);
    ck_assert(!qmp_client_is_broken(client));
    assert_fake_ok(fake);
}
END_TEST

static void collect_trace(const char *direction, const char *json, gpointer user_data)
{
    g_string_append_printf(user_data, "%s %s\n", direction, json);
}

/* Ids are unique per command, replies are matched by id, a reply with an unknown id is
 * dropped and noted in the trace. */
START_TEST(test_ids_and_unknown_id)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(
        fake, "query-status", NULL,
        "{\"return\": {\"status\": \"wrong\", \"running\": true}, \"id\": \"other\"}\r\n"
        "{\"return\": {\"status\": \"wrong\", \"running\": true}, \"id\": 17}\r\n"
        "{\"return\": {\"status\": \"wrong\", \"running\": true}}\r\n" REPLY(
            "{\"status\": \"paused\", \"singlestep\": false, \"running\": false}"));
    fake_qmp_expect(fake, "cont", NULL, REPLY("{}"));
    fake_qmp_start(fake);
    g_autoptr(QmpClient) client = client_for(fake, 5000);
    g_autoptr(GString) trace = g_string_new(NULL);
    qmp_client_set_trace(client, collect_trace, trace);
    assert_handshake(client);

    g_autoptr(GError) error = NULL;
    gboolean running = TRUE;
    g_autofree char *status = qmp_query_status(client, &running, &error);
    ck_assert_msg(status, "%s", error ? error->message : "");
    ck_assert_str_eq(status, "paused");
    ck_assert(!running);
    ck_assert_msg(qmp_cont(client, &error), "%s", error ? error->message : "");

    ck_assert_msg(strstr(trace->str, "-> {\"execute\":\"qmp_capabilities\",\"id\":\"qpin-1\"}"),
                  "%s", trace->str);
    ck_assert_msg(strstr(trace->str, "-> {\"execute\":\"query-status\",\"id\":\"qpin-2\"}"), "%s",
                  trace->str);
    ck_assert_msg(strstr(trace->str, "-> {\"execute\":\"cont\",\"id\":\"qpin-3\"}"), "%s",
                  trace->str);
    ck_assert_msg(strstr(trace->str, "-- dropped a reply with unknown id \"other\""), "%s",
                  trace->str);
    ck_assert_msg(strstr(trace->str, "-- dropped a reply with unknown id 17"), "%s", trace->str);
    ck_assert_msg(strstr(trace->str, "-- dropped a reply without id"), "%s", trace->str);
    ck_assert_msg(strstr(trace->str, "<- {\"return\":{\"status\":\"paused\""), "%s", trace->str);
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_execute_misuse)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_start(fake);
    g_autoptr(QmpClient) client = client_for(fake, 5000);
    g_autoptr(GError) error = NULL;

    /* Nothing is sent before the handshake. */
    ck_assert_ptr_null(qmp_client_execute(client, "query-status", NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "before the QMP handshake");
    ck_assert_uint_eq(qmp_client_commands_sent(client), 0);
    g_clear_error(&error);

    assert_handshake(client);
    /* A second handshake does nothing. */
    assert_handshake(client);
    g_autoptr(QmpJson) array = json_object_new_array();
    ck_assert_ptr_null(qmp_client_execute(client, "query-status", array, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "must be a JSON object");
    g_clear_error(&error);
    ck_assert_ptr_null(qmp_client_execute(client, "", NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "empty");
    ck_assert_uint_eq(qmp_client_commands_sent(client), 1);
    ck_assert(!qmp_client_is_broken(client));
    assert_fake_ok(fake);
}
END_TEST

/* ---- framing ---- */

/* A session with events everywhere, escapes of every kind, CRLF and blank lines between
 * messages. Replies carry the ids the client will use, so the whole of it can be sent at once
 * or cut anywhere. */
static const char session_transcript[] =
    "\r\n{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 1}, \"event\": "
    "\"VSERPORT_CHANGE\", \"data\": {\"open\": true, \"id\": \"channel0\"}}\r\n" FAKE_QMP_GREETING
    "{\"timestamp\": {\"seconds\": 1700000001, \"microseconds\": 22}, \"event\": \"NIC_RX\", "
    "\"data\": {\"name\": \"caf\\u00e9\"}}\r\n"
    "{\"return\": {}, \"id\": \"qpin-1\"}\r\n\r\n"
    "{\"timestamp\": {\"seconds\": 1700000002, \"microseconds\": 333}, \"event\": \"RESUME\"}\n"
    "{\"return\": {\"text\": \"smile \\ud83d\\ude00 caf\\u00e9 nul \\u0000 end\", "
    "\"escapes\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"n\": [1, -2, 9007199254740993]}, "
    "\"id\": \"qpin-2\"}\r\n";

/* Runs handshake + one command over @transcript cut at @cuts, and describes everything the
 * client saw. */
static char *run_session(const gsize *cuts, gsize n_cuts, gsize chunk)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    if (chunk)
        fake_qmp_send_chunked(fake, session_transcript, -1, chunk);
    else
        fake_qmp_send_split(fake, session_transcript, -1, cuts, n_cuts);
    fake_qmp_expect(fake, "qmp_capabilities", "{}", NULL);
    fake_qmp_expect(fake, "qom-list", "{\"path\": \"/\"}", NULL);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    g_autoptr(QmpJson) args = json_tokener_parse("{\"path\": \"/\"}");
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpJson) ret = qmp_client_execute(client, "qom-list", args, &error);
    ck_assert_msg(ret, "cut at %zu: %s", n_cuts ? cuts[0] : chunk, error ? error->message : "");

    GString *out = g_string_new(NULL);
    const QmpGreeting *g = qmp_client_greeting(client);
    g_string_append_printf(out, "greeting %d.%d.%d %s\n", g->major, g->minor, g->micro, g->package);
    for (QmpEvent *ev; (ev = qmp_client_pop_event(client)); qmp_event_free(ev))
        g_string_append_printf(
            out, "event %s %" G_GINT64_FORMAT ".%06" G_GINT64_FORMAT " %s\n", ev->name, ev->seconds,
            ev->microseconds,
            ev->data ? json_object_to_json_string_ext(ev->data, JSON_C_TO_STRING_PLAIN) : "-");
    json_object *text = json_object_object_get(ret, "text");
    const char *bytes = json_object_get_string(text);
    int len = json_object_get_string_len(text);
    g_string_append(out, "text");
    for (int i = 0; i < len; i++)
        g_string_append_printf(out, " %02x", (guchar)bytes[i]);
    g_string_append_printf(out, "\nreturn %s\n",
                           json_object_to_json_string_ext(ret, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    assert_fake_ok(fake);
    return g_string_free(out, FALSE);
}

static const char *expected_session =
    "greeting 7.2.22 Debian 1:7.2+dfsg-7+deb12u18+b3\n"
    "event VSERPORT_CHANGE 1700000000.000001 {\"open\":true,\"id\":\"channel0\"}\n"
    "event NIC_RX 1700000001.000022 {\"name\":\"caf\xc3\xa9\"}\n"
    "event RESUME 1700000002.000333 -\n"
    /* "smile 😀 café nul \0 end": the surrogate pair is one 4-byte UTF-8 character. */
    "text 73 6d 69 6c 65 20 f0 9f 98 80 20 63 61 66 c3 a9 20 6e 75 6c 20 00 20 65 6e 64\n";

/* All in one write: greeting, events and replies dispatched in order. */
START_TEST(test_all_in_one_write)
{
    g_autofree char *seen = run_session(NULL, 0, 0);
    ck_assert_msg(g_str_has_prefix(seen, expected_session), "got:\n%s", seen);
    ck_assert_msg(strstr(seen, "\"n\":[1,-2,9007199254740993]"), "%s", seen);
    ck_assert_msg(strstr(seen, "\"escapes\":\"\\\"\\\\/\\b\\f\\n\\r\\t\""), "%s", seen);
}
END_TEST

START_TEST(test_byte_by_byte)
{
    g_autofree char *whole = run_session(NULL, 0, 0);
    g_autofree char *seen = run_session(NULL, 0, 1);
    ck_assert_str_eq(seen, whole);
}
END_TEST

/* Cut at every offset, which includes inside CRLF, inside \uXXXX and between the two halves
 * of a surrogate pair: always the same result. */
START_TEST(test_split_every_offset)
{
    g_autofree char *whole = run_session(NULL, 0, 0);
    ck_assert(g_str_has_prefix(whole, expected_session));
    gsize n = strlen(session_transcript);
    for (gsize cut = 1; cut < n; cut++) {
        g_autofree char *seen = run_session(&cut, 1, 0);
        ck_assert_msg(!strcmp(seen, whole), "cut at %zu:\n%s\nexpected:\n%s", cut, seen, whole);
    }
}
END_TEST

/* Pieces of 2, 3, 5, 7 ... bytes: cuts fall at every phase of every token. */
START_TEST(test_split_chunk_sizes)
{
    static const gsize chunks[] = {2, 3, 5, 7, 11, 64};
    g_autofree char *whole = run_session(NULL, 0, 0);
    for (gsize i = 0; i < G_N_ELEMENTS(chunks); i++) {
        g_autofree char *seen = run_session(NULL, 0, chunks[i]);
        ck_assert_msg(!strcmp(seen, whole), "chunks of %zu:\n%s", chunks[i], seen);
    }
}
END_TEST

START_TEST(test_pretty_printed_reply)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_send(fake,
                  "{\r\n    \"QMP\": {\r\n        \"version\": {\r\n            \"qemu\": {\r\n"
                  "                \"micro\": 0,\r\n                \"minor\": 2,\r\n"
                  "                \"major\": 7\r\n            },\r\n"
                  "            \"package\": \"\"\r\n        },\r\n"
                  "        \"capabilities\": [\r\n            \"oob\"\r\n        ]\r\n    }\r\n"
                  "}\r\n",
                  -1);
    fake_qmp_expect(fake, "qmp_capabilities", NULL,
                    "{\r\n    \"return\": {\r\n    },\r\n"
                    "    \"id\": @ID@\r\n}\r\n");
    fake_qmp_expect(fake, "query-iothreads", NULL,
                    "{\n    \"return\": [\n        {\n            \"poll-shrink\": 0,\n"
                    "            \"thread-id\": 4242,\n            \"poll-grow\": 0,\n"
                    "            \"poll-max-ns\": 32768,\n            \"id\": \"io0\",\n"
                    "            \"aio-max-batch\": 0\n        }\n    ],\n"
                    "    \"id\": @ID@\n}\n");
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    ck_assert_int_eq(qmp_client_greeting(client)->minor, 2);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) iothreads = qmp_query_iothreads(client, &error);
    ck_assert_msg(iothreads, "%s", error ? error->message : "");
    ck_assert_uint_eq(iothreads->len, 1);
    QmpIothread *io = g_ptr_array_index(iothreads, 0);
    ck_assert_str_eq(io->id, "io0");
    ck_assert_int_eq(io->thread_id, 4242);
    assert_fake_ok(fake);
}
END_TEST

/* QEMU sends ASCII, but a peer that sends raw UTF-8 is understood, and bytes that are no
 * UTF-8 at all are refused. */
START_TEST(test_utf8)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "qom-get", NULL, REPLY("\"caf\xc3\xa9 \xf0\x9f\x98\x80\""));
    fake_qmp_expect(fake, "qom-get", NULL, REPLY("\"bad \xff\xfe\""));
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpJson) ret = qmp_client_execute(client, "qom-get", NULL, &error);
    ck_assert_msg(ret, "%s", error ? error->message : "");
    ck_assert_str_eq(json_object_get_string(ret), "caf\xc3\xa9 \xf0\x9f\x98\x80");
    ck_assert_ptr_null(qmp_client_execute(client, "qom-get", NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "not a QMP server");
    ck_assert(qmp_client_is_broken(client));
    assert_fake_ok(fake);
}
END_TEST

/* ---- events ---- */

START_TEST(test_event_before_greeting)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_send(fake,
                  "{\"timestamp\": {\"seconds\": 5, \"microseconds\": 6}, \"event\": "
                  "\"VSERPORT_CHANGE\", \"data\": {\"open\": true, \"id\": \"vs0\"}}\r\n",
                  -1);
    fake_qmp_stall(fake, 20);
    fake_qmp_handshake(fake);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    ck_assert_uint_eq(qmp_client_pending_events(client), 1);
    g_autoptr(QmpEvent) event = qmp_client_pop_event(client);
    ck_assert_str_eq(event->name, "VSERPORT_CHANGE");
    ck_assert_int_eq(event->seconds, 5);
    ck_assert_int_eq(event->microseconds, 6);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(event->data, "id")), "vs0");
    ck_assert_ptr_null(qmp_client_pop_event(client));
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_event_between_command_and_reply)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_send(fake, FAKE_QMP_GREETING, -1);
    fake_qmp_expect(fake, "qmp_capabilities", NULL,
                    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": \"A\"}\r\n"
                    "{\"return\": {}, \"id\": @ID@}\r\n");
    fake_qmp_expect(
        fake, "query-cpus-fast", NULL,
        "{\"timestamp\": {\"seconds\": 2, \"microseconds\": 0}, \"event\": \"B\"}\r\n"
        "{\"timestamp\": {\"seconds\": 3, \"microseconds\": 0}, \"event\": \"C\", \"data\": {}}\r\n"
        "{\"timestamp\": {\"seconds\": 4, \"microseconds\": 0}, \"event\": \"B\"}\r\n" REPLY(
            "[{\"cpu-index\": 0, \"thread-id\": 100, \"qom-path\": \"/m/cpu0\", \"target\": "
            "\"x86_64\", \"props\": {\"core-id\": 0, \"thread-id\": 0, \"socket-id\": 0}}]"));
    fake_qmp_send(fake, "{\"timestamp\": {\"seconds\": 5, \"microseconds\": 0}, \"event\": \"D\"}",
                  -1);
    fake_qmp_stall(fake, 50);
    fake_qmp_send(fake, "\r\n", -1);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) cpus = qmp_query_cpus_fast(client, &error);
    ck_assert_msg(cpus, "%s", error ? error->message : "");
    ck_assert_uint_eq(cpus->len, 1);
    ck_assert_uint_eq(qmp_client_pending_events(client), 4);

    /* Waiting by name leaves the others queued in order. */
    g_autoptr(QmpEvent) c = qmp_client_wait_event(client, "C", 1000, &error);
    ck_assert_msg(c, "%s", error ? error->message : "");
    ck_assert_int_eq(c->seconds, 3);
    g_autoptr(QmpEvent) d = qmp_client_wait_event(client, "D", 2000, &error);
    ck_assert_msg(d, "%s", error ? error->message : "");
    ck_assert_int_eq(d->seconds, 5);
    static const char *order[] = {"A", "B", "B"};
    static const gint64 seconds[] = {1, 2, 4};
    for (gsize i = 0; i < G_N_ELEMENTS(order); i++) {
        g_autoptr(QmpEvent) ev = qmp_client_pop_event(client);
        ck_assert_ptr_nonnull(ev);
        ck_assert_str_eq(ev->name, order[i]);
        ck_assert_int_eq(ev->seconds, seconds[i]);
    }
    ck_assert_uint_eq(qmp_client_pending_events(client), 0);

    /* A wait that times out leaves the session usable. */
    gint64 start = g_get_monotonic_time();
    ck_assert_ptr_null(qmp_client_wait_event(client, "NEVER", 100, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT, "NEVER");
    ck_assert(elapsed_ms(start) >= 99);
    ck_assert(!qmp_client_is_broken(client));
    assert_fake_ok(fake);
}
END_TEST

/* Messages that came with the reply wait in the client's buffer, where poll() on the socket
 * cannot see them: qmp_client_has_buffered_input() says so, wait_event(0) takes them. */
START_TEST(test_buffered_input)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_send(fake,
                  FAKE_QMP_GREETING "{\"return\": {}, \"id\": \"qpin-1\"}\r\n"
                                    "{\"timestamp\": {\"seconds\": 9, \"microseconds\": 0}, "
                                    "\"event\": \"STOP\"}\r\n",
                  -1);
    fake_qmp_expect(fake, "qmp_capabilities", NULL, NULL);
    fake_qmp_start(fake);
    g_autoptr(QmpClient) client = client_for(fake, 5000);
    ck_assert(!qmp_client_has_buffered_input(client));
    assert_handshake(client);
    ck_assert(qmp_client_has_buffered_input(client));
    ck_assert_uint_eq(qmp_client_pending_events(client), 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpEvent) event = qmp_client_wait_event(client, NULL, 0, &error);
    ck_assert_msg(event, "%s", error ? error->message : "");
    ck_assert_str_eq(event->name, "STOP");
    ck_assert(!qmp_client_has_buffered_input(client));
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_event_queue_capped)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    g_autoptr(GString) events = g_string_new(FAKE_QMP_GREETING);
    for (int i = 0; i < 1100; i++)
        g_string_append_printf(events,
                               "{\"timestamp\": {\"seconds\": %d, \"microseconds\": 0}, "
                               "\"event\": \"E\", \"data\": {\"n\": %d}}\r\n",
                               i, i);
    fake_qmp_send(fake, events->str, -1);
    fake_qmp_expect(fake, "qmp_capabilities", NULL, REPLY("{}"));
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    ck_assert_uint_eq(qmp_client_pending_events(client), 1024);
    g_autoptr(QmpEvent) oldest = qmp_client_pop_event(client);
    ck_assert_int_eq(json_object_get_int(json_object_object_get(oldest->data, "n")), 1100 - 1024);
    assert_fake_ok(fake);
}
END_TEST

/* ---- errors from QEMU ---- */

START_TEST(test_error_classes)
{
    static const struct {
        const char *klass;
        int code;
    } cases[] = {
        {"GenericError", QMP_COMMAND_ERROR_GENERIC},
        {"CommandNotFound", QMP_COMMAND_ERROR_COMMAND_NOT_FOUND},
        {"DeviceNotActive", QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE},
        {"DeviceNotFound", QMP_COMMAND_ERROR_DEVICE_NOT_FOUND},
        {"KVMMissingCap", QMP_COMMAND_ERROR_KVM_MISSING_CAP},
        {"SomeFutureClass", QMP_COMMAND_ERROR_OTHER},
    };
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *reply = g_strdup_printf(
            "{\"id\": @ID@, \"error\": {\"class\": \"%s\", \"desc\": \"it failed: %zu\", "
            "\"extra\": [1]}, \"more\": true}\r\n",
            cases[i].klass, i);
        fake_qmp_expect(fake, "x-test", NULL, reply);
    }
    fake_qmp_expect(fake, "query-status", NULL,
                    REPLY("{\"status\": \"running\", \"running\": true, \"new-key\": [1]}"));
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *desc = g_strdup_printf("it failed: %zu", i);
        g_autofree char *message = g_strdup_printf("%s: %s", cases[i].klass, desc);
        ck_assert_ptr_null(qmp_client_execute(client, "x-test", NULL, &error));
        assert_error(error, QMP_COMMAND_ERROR, cases[i].code, NULL);
        ck_assert_str_eq(error->message, message);
        ck_assert_str_eq(qmp_command_error_class(error), cases[i].klass);
        ck_assert_str_eq(qmp_command_error_desc(error), desc);
        /* Class and desc survive a prefix and a copy. */
        g_prefix_error(&error, "while testing: ");
        g_autoptr(GError) copy = g_error_copy(error);
        ck_assert_str_eq(qmp_command_error_class(copy), cases[i].klass);
        ck_assert_str_eq(qmp_command_error_desc(copy), desc);
    }
    /* A command error leaves the session usable. */
    ck_assert(!qmp_client_is_broken(client));
    g_autoptr(GError) error = NULL;
    gboolean running = FALSE;
    g_autofree char *status = qmp_query_status(client, &running, &error);
    ck_assert_msg(status, "%s", error ? error->message : "");
    ck_assert(running);
    g_autoptr(GError) io = g_error_new_literal(QMP_ERROR, QMP_ERROR_IO, "x");
    ck_assert_ptr_null(qmp_command_error_class(io));
    ck_assert_ptr_null(qmp_command_error_desc(io));
    assert_fake_ok(fake);
}
END_TEST

/* QEMU answers input it cannot parse with an error that has no id: a clear error, at once. */
START_TEST(test_error_without_id)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-status", NULL,
                    "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, "
                    "invalid keyword 'x'\"}}\r\n");
    g_autoptr(QmpClient) client = start_negotiated(fake, 10000);
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    g_autofree char *status = qmp_query_status(client, NULL, &error);
    ck_assert_ptr_null(status);
    assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "JSON parse error, invalid keyword");
    ck_assert_msg(strstr(error->message, "query-status"), "%s", error->message);
    ck_assert(elapsed_ms(start) < 2000);
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_bad_replies)
{
    static const struct {
        const char *reply;
        const char *needle;
    } cases[] = {
        {"{\"id\": @ID@}\r\n", "bad reply to x-test: no return value"},
        {"{\"id\": @ID@, \"return\": null}\r\n", "no return value"},
        {"{\"id\": @ID@, \"error\": \"bad\"}\r\n", "error without a class and desc"},
        {"{\"id\": @ID@, \"error\": {\"class\": 1, \"desc\": \"d\"}}\r\n", "class and desc"},
        {"{\"id\": @ID@, \"error\": {\"class\": \"GenericError\"}}\r\n", "class and desc"},
    };
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++)
        fake_qmp_expect(fake, "x-test", NULL, cases[i].reply);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        ck_assert_ptr_null(qmp_client_execute(client, "x-test", NULL, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, cases[i].needle);
    }
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_negotiation_error)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_send(fake, FAKE_QMP_GREETING, -1);
    fake_qmp_expect(fake, "qmp_capabilities", NULL,
                    "{\"id\": @ID@, \"error\": {\"class\": \"CommandNotFound\", \"desc\": "
                    "\"Capabilities negotiation is already complete, command ignored\"}}\r\n");
    fake_qmp_start(fake);
    g_autoptr(QmpClient) client = client_for(fake, 5000);
    g_autoptr(GError) error = NULL;
    ck_assert(!qmp_client_handshake(client, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                 "QMP negotiation failed: CommandNotFound: Capabilities negotiation");
    ck_assert(qmp_client_is_broken(client));
    ck_assert_ptr_null(qmp_client_greeting(client));
    g_clear_error(&error);
    ck_assert(!qmp_client_handshake(client, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_BROKEN, "negotiation failed");
    assert_fake_ok(fake);
}
END_TEST

/* ---- hostile and broken peers ---- */

static void assert_not_qmp(const char *bytes, gssize len, const char *needle)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_send(fake, bytes, len);
    fake_qmp_start(fake);
    g_autoptr(QmpClient) client = client_for(fake, 5000);
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    ck_assert_msg(!qmp_client_handshake(client, &error), "'%s' was taken for QMP", bytes);
    assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "not a QMP server");
    ck_assert_msg(strstr(error->message, needle), "'%s': '%s' lacks '%s'", bytes, error->message,
                  needle);
    ck_assert_msg(elapsed_ms(start) < 2000, "'%s' took %.0f ms", bytes, elapsed_ms(start));
    ck_assert(qmp_client_is_broken(client));
    assert_fake_ok(fake);
}

START_TEST(test_not_qmp)
{
    assert_not_qmp("QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ", -1,
                   "human monitor, HMP");
    assert_not_qmp("hello world\r\n", -1, "'hello world\\r\\n'");
    assert_not_qmp("[{\"QMP\": {}}]\r\n", -1, "a JSON array");
    assert_not_qmp("\"QMP\"\r\n", -1, "a JSON string");
    assert_not_qmp("42\r\n", -1, "a JSON number");
    assert_not_qmp("null\r\n", -1, "JSON null");
    assert_not_qmp("{\"hello\": \"world\"}\r\n", -1, "expected the QMP greeting");
    assert_not_qmp("\xff\xfe\x00\x01", 4, "\\xff\\xfe");
    assert_not_qmp("{\"QMP\": \"\xff\"}\r\n", -1, "invalid JSON");
    assert_not_qmp("{\"a\": 1,}\r\n", -1, "invalid JSON");
    assert_not_qmp("{\"a\": \"b\0c\"}\r\n", 14, "invalid JSON");
}
END_TEST

START_TEST(test_bad_greeting)
{
    /* json-c lets single-quoted keys and NaN through even in strict mode: what they build
     * is still checked like any greeting. */
    static const char *greetings[] = {
        "{'QMP': 1}\r\n",
        "{\"QMP\": {\"version\": {\"qemu\": {\"major\": NaN, \"minor\": 2, \"micro\": 0}}}}\r\n",
        "{\"QMP\": 1}\r\n",
        "{\"QMP\": {\"capabilities\": []}}\r\n",
        "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2}}, \"capabilities\": "
        "[]}}\r\n",
        "{\"QMP\": {\"version\": {\"qemu\": {\"major\": -7, \"minor\": 2, \"micro\": 0}}}}\r\n",
        "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": "
        "99999999999999999999}}}}\r\n",
        "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}, "
        "\"capabilities\": \"oob\"}}\r\n",
        "{\"QMP\": {\"version\": {\"qemu\": {\"major\": 7, \"minor\": 2, \"micro\": 0}}, "
        "\"capabilities\": [1]}}\r\n",
        "{\"QMP\": {\"version\": {\"package\": 1, \"qemu\": {\"major\": 7, \"minor\": 2, "
        "\"micro\": 0}}}}\r\n",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(greetings); i++) {
        g_autoptr(FakeQmp) fake = fake_qmp_new();
        fake_qmp_send(fake, greetings[i], -1);
        fake_qmp_start(fake);
        g_autoptr(QmpClient) client = client_for(fake, 5000);
        g_autoptr(GError) error = NULL;
        ck_assert_msg(!qmp_client_handshake(client, &error), "accepted %s", greetings[i]);
        assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "bad QMP greeting");
        assert_fake_ok(fake);
    }
}
END_TEST

START_TEST(test_garbage_after_handshake)
{
    static const char *replies[] = {
        "QEMU 7.2.22 monitor - type 'help' for more information\r\n",
        "[\"return\", {}]\r\n",
        "{\"unknown\": true, \"id-less\": \"qpin-2\"}\r\n",
        "{\"return\": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]",
        FAKE_QMP_GREETING,
        "{\"event\": 5}\r\n",
    };
    static const char *needles[] = {
        "HMP",
        "a JSON array",
        "no reply, event or greeting",
        "nested deeper than",
        "second QMP greeting",
        "event whose name is not a string",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(replies); i++) {
        g_autoptr(FakeQmp) fake = fake_after_handshake();
        fake_qmp_expect(fake, "query-status", NULL, replies[i]);
        g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
        g_autoptr(GError) error = NULL;
        gint64 start = g_get_monotonic_time();
        ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, needles[i]);
        ck_assert(elapsed_ms(start) < 2000);
        ck_assert(qmp_client_is_broken(client));
        g_clear_error(&error);
        ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_BROKEN, needles[i]);
        assert_fake_ok(fake);
    }
}
END_TEST

START_TEST(test_closed_mid_message)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-status", NULL, "{\"return\": {\"status\": \"runn");
    fake_qmp_close(fake);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED, "in the middle of a message");
    g_clear_error(&error);
    ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED, "connection closed");
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_closed_between_messages)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_send(fake, FAKE_QMP_GREETING "\r\n  \r\n", -1);
    fake_qmp_expect(fake, "qmp_capabilities", NULL, NULL);
    fake_qmp_close(fake);
    fake_qmp_start(fake);
    g_autoptr(QmpClient) client = client_for(fake, 5000);
    g_autoptr(GError) error = NULL;
    ck_assert(!qmp_client_handshake(client, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_CLOSED, "connection closed by QEMU");
    ck_assert_msg(!strstr(error->message, "middle"), "%s", error->message);
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_no_greeting_timeout)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new();
    /* Half a greeting, then silence: the partial message must not stretch the deadline. */
    fake_qmp_send(fake, "{\"QMP\": {\"version\"", -1);
    fake_qmp_stall(fake, 10000);
    fake_qmp_start(fake);
    g_autoptr(QmpClient) client = client_for(fake, 200);
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    ck_assert(!qmp_client_handshake(client, &error));
    double ms = elapsed_ms(start);
    assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT, "no QMP greeting within 200 ms");
    ck_assert_msg(ms >= 199 && ms < 2000, "timed out after %.0f ms", ms);
    ck_assert(qmp_client_is_broken(client));
    g_clear_error(&error);
    ck_assert(!qmp_client_handshake(client, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_BROKEN, "no QMP greeting");
    assert_fake_ok(fake);
}
END_TEST

/* After a timeout the session is broken: the late reply can never be taken for the reply to
 * the next command, because no next command is sent. */
START_TEST(test_command_timeout_breaks_session)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-status", NULL, NULL);
    fake_qmp_stall(fake, 400);
    fake_qmp_send(fake,
                  "{\"return\": {\"status\": \"late\", \"running\": true}, \"id\": \"qpin-2\"}\r\n"
                  "{\"return\": {\"status\": \"late\", \"running\": true}, \"id\": \"qpin-3\"}\r\n",
                  -1);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    qmp_client_set_timeout(client, 250);
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
    double ms = elapsed_ms(start);
    assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT, "no reply to 'query-status' within 250 ms");
    ck_assert_msg(ms >= 249 && ms < 2000, "timed out after %.0f ms", ms);
    ck_assert(qmp_client_is_broken(client));
    ck_assert(fake_qmp_wait_script(fake, 5000));

    g_clear_error(&error);
    start = g_get_monotonic_time();
    ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_BROKEN, "no reply to 'query-status'");
    ck_assert(elapsed_ms(start) < 100);
    ck_assert_uint_eq(qmp_client_commands_sent(client), 2);
    g_clear_error(&error);
    ck_assert_ptr_null(qmp_client_wait_event(client, NULL, 100, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_BROKEN, NULL);
    assert_fake_ok(fake);
}
END_TEST

/* A peer that never stops sending (events, blank lines, stale replies) still cannot hold a
 * call past its deadline, and the event queue stays capped meanwhile. */
START_TEST(test_flood_cannot_stretch_deadline)
{
    static const char *floods[] = {
        "{\"event\": \"FLOOD\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\r\n",
        " \r\n",
        "{\"return\": {}, \"id\": \"qpin-1\"}\r\n",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(floods); i++) {
        g_autoptr(FakeQmp) fake = fake_after_handshake();
        fake_qmp_expect(fake, "query-status", NULL, NULL);
        fake_qmp_send_generated(fake, "", floods[i], G_MAXUINT64, "");
        g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
        qmp_client_set_timeout(client, 300);
        g_autoptr(GError) error = NULL;
        gint64 start = g_get_monotonic_time();
        ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
        double ms = elapsed_ms(start);
        assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT, "no reply to 'query-status'");
        ck_assert_msg(ms >= 299 && ms < 1500, "flood %zu: gave up after %.0f ms", i, ms);
        ck_assert_uint_le(qmp_client_pending_events(client), 1024);
        ck_assert_uint_gt(fake_qmp_bytes_sent(fake), 100000);
        qmp_client_free(g_steal_pointer(&client));
        assert_fake_ok(fake);
    }
}
END_TEST

/* ---- size cap ---- */

START_TEST(test_large_reply_accepted)
{
    const gsize size = 9 * 1024 * 1024;
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-qmp-schema", NULL, NULL);
    fake_qmp_send_generated(fake, "{\"return\": {\"blob\": \"", "q", size,
                            "\"}, \"id\": @ID@}\r\n");
    g_autoptr(QmpClient) client = start_negotiated(fake, 20000);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpJson) ret = qmp_client_execute(client, "query-qmp-schema", NULL, &error);
    ck_assert_msg(ret, "%s", error ? error->message : "");
    json_object *blob = json_object_object_get(ret, "blob");
    ck_assert_int_eq(json_object_get_string_len(blob), (int)size);
    ck_assert_int_eq(json_object_get_string(blob)[size - 1], 'q');
    ck_assert_uint_le(qmp_client_peak_message_bytes(client), QMP_DEFAULT_MAX_MESSAGE + 1);
    ck_assert_uint_ge(qmp_client_peak_message_bytes(client), size);
    assert_fake_ok(fake);
}
END_TEST

static glong max_rss_kib(void)
{
    struct rusage usage;
    ck_assert_int_eq(getrusage(RUSAGE_SELF, &usage), 0);
    return usage.ru_maxrss;
}

/* A peer streaming a message far beyond the cap: refused once the cap is passed, with no
 * more than cap + 1 bytes of it ever held. */
static void check_over_cap(gsize cap, gsize sent)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-qmp-schema", NULL, NULL);
    fake_qmp_send_generated(fake, "{\"return\": [\"", "z", sent, "\"], \"id\": @ID@}\r\n");
    fake_qmp_start(fake);
    g_autoptr(QmpClient) client = client_for(fake, 20000);
    if (cap)
        qmp_client_set_max_message(client, cap);
    else
        cap = QMP_DEFAULT_MAX_MESSAGE;
    assert_handshake(client);
    glong rss_before = max_rss_kib();
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(qmp_client_execute(client, "query-qmp-schema", NULL, &error));
    g_autofree char *needle = g_strdup_printf("larger than the %zu-byte limit", cap);
    assert_error(error, QMP_ERROR, QMP_ERROR_TOO_BIG, needle);
    ck_assert(qmp_client_is_broken(client));
    ck_assert_uint_le(qmp_client_peak_message_bytes(client), cap + 1);
    ck_assert_uint_ge(qmp_client_peak_message_bytes(client), cap);
    /* The client stopped reading: most of the message was never sent. */
    ck_assert_uint_lt(fake_qmp_bytes_sent(fake), cap + 8 * 1024 * 1024);
    glong grown_mib = (max_rss_kib() - rss_before) / 1024;
    ck_assert_msg(grown_mib < (glong)(4 * cap / (1024 * 1024) + 48),
                  "memory grew by %ld MiB for a %zu-byte cap", grown_mib, cap);
    g_clear_error(&error);
    ck_assert_ptr_null(qmp_client_execute(client, "query-qmp-schema", NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_BROKEN, "limit");
    qmp_client_free(g_steal_pointer(&client));
    assert_fake_ok(fake);
}

START_TEST(test_over_cap_refused)
{
    check_over_cap(1024 * 1024, (gsize)256 * 1024 * 1024);
}
END_TEST

START_TEST(test_over_default_cap_refused)
{
    check_over_cap(0, QMP_DEFAULT_MAX_MESSAGE + 4096);
}
END_TEST

/* Exactly at the cap is accepted, one byte more is not. */
START_TEST(test_cap_boundary)
{
    const char *reply = "{\"return\": \"0123456789\", \"id\": \"qpin-2\"}";
    gsize len = strlen(reply);
    for (int extra = 0; extra <= 1; extra++) {
        g_autoptr(FakeQmp) fake = fake_after_handshake();
        fake_qmp_expect(fake, "x-test", NULL, NULL);
        fake_qmp_send(fake, reply, -1);
        fake_qmp_send(fake, "\r\n", -1);
        g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
        qmp_client_set_max_message(client, len - (gsize)extra);
        g_autoptr(GError) error = NULL;
        g_autoptr(QmpJson) ret = qmp_client_execute(client, "x-test", NULL, &error);
        if (extra == 0) {
            ck_assert_msg(ret, "%s", error ? error->message : "");
        } else {
            ck_assert_ptr_null(ret);
            assert_error(error, QMP_ERROR, QMP_ERROR_TOO_BIG, NULL);
        }
        assert_fake_ok(fake);
    }
}
END_TEST

/* ---- system-level faults ---- */

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    alarms++;
}

/* Signals interrupting poll/recv/send/connect are retried; large commands are written
 * completely through many short writes. */
START_TEST(test_eintr_and_short_writes)
{
    struct sigaction sa = {.sa_handler = on_alarm}; /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    /* Only this thread gets the signals: the fake's thread inherits the blocked mask. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    gsize big = 4 * 1024 * 1024;
    g_autofree char *value = g_malloc(big + 1);
    memset(value, 'v', big);
    value[big] = '\0';
    g_autoptr(QmpJson) args = json_object_new_object();
    json_object_object_add(args, "value", json_object_new_string(value));

    g_autoptr(FakeQmp) fake = fake_qmp_new();
    fake_qmp_stall(fake, 50);
    fake_qmp_send_chunked(fake, FAKE_QMP_GREETING, -1, 16);
    fake_qmp_expect(fake, "qmp_capabilities", NULL, NULL);
    fake_qmp_stall(fake, 50);
    fake_qmp_send(fake, "{\"return\": {}, \"id\": \"qpin-1\"}\r\n", -1);
    fake_qmp_expect(fake, "qom-set", json_object_to_json_string(args), NULL);
    fake_qmp_stall(fake, 50);
    fake_qmp_send_chunked(fake, "{\"return\": {}, \"id\": \"qpin-2\"}\r\n", -1, 3);
    fake_qmp_start(fake);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    struct itimerval timer = {.it_interval = {0, 500}, .it_value = {0, 500}};
    ck_assert_int_eq(setitimer(ITIMER_REAL, &timer, NULL), 0);
    g_autoptr(QmpClient) client = client_for(fake, 10000);
    g_autoptr(GError) error = NULL;
    gboolean ok = qmp_client_handshake(client, &error);
    g_autoptr(QmpJson) ret = ok ? qmp_client_execute(client, "qom-set", args, &error) : NULL;
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    ck_assert_msg(ret, "%s", error ? error->message : "");
    ck_assert_msg(alarms >= 20, "only %d signals arrived", (int)alarms);
    assert_fake_ok(fake);
}
END_TEST

/* Writing to a peer that is gone is an error, not a SIGPIPE death. */
START_TEST(test_epipe)
{
    signal(SIGPIPE, SIG_DFL);
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_close(fake);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    ck_assert(fake_qmp_wait_script(fake, 5000));
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(qmp_client_execute(client, "query-status", NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_IO, "QEMU closed the connection");
    ck_assert_msg(strstr(error->message, "cannot send 'query-status'"), "%s", error->message);
    ck_assert(qmp_client_is_broken(client));
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_quit)
{
    /* reply, then EOF */
    {
        g_autoptr(FakeQmp) fake = fake_after_handshake();
        fake_qmp_expect(fake, "quit", NULL,
                        "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": "
                        "\"SHUTDOWN\", \"data\": {\"guest\": false, \"reason\": "
                        "\"host-qmp-quit\"}}\r\n" REPLY("{}"));
        fake_qmp_close(fake);
        g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
        g_autoptr(GError) error = NULL;
        ck_assert_msg(qmp_quit(client, &error), "%s", error ? error->message : "");
        g_autoptr(QmpEvent) event = qmp_client_pop_event(client);
        ck_assert_str_eq(event->name, "SHUTDOWN");
        assert_fake_ok(fake);
    }
    /* EOF instead of the reply */
    {
        g_autoptr(FakeQmp) fake = fake_after_handshake();
        fake_qmp_expect(fake, "quit", NULL, NULL);
        fake_qmp_close(fake);
        g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
        g_autoptr(GError) error = NULL;
        ck_assert_msg(qmp_quit(client, &error), "%s", error ? error->message : "");
        assert_fake_ok(fake);
    }
    /* an error reply is an error; a connection closed before quit was sent too */
    {
        g_autoptr(FakeQmp) fake = fake_after_handshake();
        fake_qmp_expect(fake, "quit", NULL,
                        "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, \"id\": "
                        "@ID@}\r\n");
        fake_qmp_close(fake);
        g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
        g_autoptr(GError) error = NULL;
        ck_assert(!qmp_quit(client, &error));
        assert_error(error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC, "GenericError: no");
        ck_assert(fake_qmp_wait_script(fake, 5000));
        g_clear_error(&error);
        /* The fake closed before this quit: it cannot be sent, which is no success. */
        ck_assert(!qmp_quit(client, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_IO, "QEMU closed the connection");
        assert_fake_ok(fake);
    }
    /* a session already broken is not "success" */
    {
        g_autoptr(FakeQmp) fake = fake_after_handshake();
        fake_qmp_expect(fake, "query-status", NULL, "[]\r\n");
        g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
        g_autoptr(GError) error = NULL;
        ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
        g_clear_error(&error);
        ck_assert(!qmp_quit(client, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_BROKEN, NULL);
        assert_fake_ok(fake);
    }
}
END_TEST

/* ---- connecting ---- */

typedef struct {
    int calls;
    int alive_for; /* calls that answer TRUE; -1: always */
} AliveState;

static gboolean alive_cb(gpointer data)
{
    AliveState *state = data;
    state->calls++;
    return state->alive_for < 0 || state->calls <= state->alive_for;
}

static char *private_dir(void)
{
    char *dir = g_dir_make_tmp("qpin-test-qmp-XXXXXX", NULL);
    ck_assert_ptr_nonnull(dir);
    return dir;
}

START_TEST(test_connect_path)
{
    g_autoptr(FakeQmp) fake = fake_qmp_new_listening();
    fake_qmp_handshake(fake);
    fake_qmp_expect(fake, "cont", NULL, REPLY("{}"));
    fake_qmp_start(fake);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpClient) client = qmp_client_connect(fake_qmp_path(fake), 5000, NULL, NULL, &error);
    ck_assert_msg(client, "%s", error ? error->message : "");
    assert_handshake(client);
    ck_assert_msg(qmp_cont(client, &error), "%s", error ? error->message : "");
    assert_fake_ok(fake);
}
END_TEST

START_TEST(test_connect_missing)
{
    g_autofree char *dir = private_dir();
    g_autofree char *path = g_build_filename(dir, "missing.sock", NULL);
    g_autoptr(GError) error = NULL;

    /* No liveness check: no retry. */
    gint64 start = g_get_monotonic_time();
    ck_assert_ptr_null(qmp_client_connect(path, 5000, NULL, NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "No such file or directory");
    ck_assert(strstr(error->message, path));
    ck_assert(elapsed_ms(start) < 1000);
    g_clear_error(&error);

    /* QEMU alive: retried until the deadline. */
    AliveState alive = {0, -1};
    start = g_get_monotonic_time();
    ck_assert_ptr_null(qmp_client_connect(path, 300, alive_cb, &alive, &error));
    double ms = elapsed_ms(start);
    assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT, "did not accept a connection within 300 ms");
    ck_assert_msg(ms >= 299 && ms < 2000, "gave up after %.0f ms", ms);
    ck_assert_int_ge(alive.calls, 4);
    g_clear_error(&error);

    /* QEMU exits: retrying stops at once. */
    AliveState dies = {0, 3};
    start = g_get_monotonic_time();
    ck_assert_ptr_null(qmp_client_connect(path, 10000, alive_cb, &dies, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "QEMU exited before");
    ck_assert_int_eq(dies.calls, 4);
    ck_assert(elapsed_ms(start) < 2000);
    rmdir(dir);
}
END_TEST

START_TEST(test_connect_refused)
{
    g_autofree char *dir = private_dir();
    g_autofree char *bound = g_build_filename(dir, "bound.sock", NULL);
    g_autofree char *closed = g_build_filename(dir, "closed.sock", NULL);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};

    /* Bound but not listening. */
    strcpy(addr.sun_path, bound);
    int fd1 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(bind(fd1, (struct sockaddr *)&addr, sizeof(addr)), 0);
    /* Listened on, then closed: the file stays behind. */
    strcpy(addr.sun_path, closed);
    int fd2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_eq(bind(fd2, (struct sockaddr *)&addr, sizeof(addr)), 0);
    ck_assert_int_eq(listen(fd2, 1), 0);
    close(fd2);

    const char *paths[] = {bound, closed};
    for (gsize i = 0; i < G_N_ELEMENTS(paths); i++) {
        g_autoptr(GError) error = NULL;
        ck_assert_ptr_null(qmp_client_connect(paths[i], 5000, NULL, NULL, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "Connection refused");
        g_clear_error(&error);
        AliveState alive = {0, -1};
        gint64 start = g_get_monotonic_time();
        ck_assert_ptr_null(qmp_client_connect(paths[i], 200, alive_cb, &alive, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT, "Connection refused");
        ck_assert(elapsed_ms(start) >= 199);
        ck_assert_int_ge(alive.calls, 2);
    }
    close(fd1);
    unlink(bound);
    unlink(closed);
    rmdir(dir);
}
END_TEST

typedef struct {
    char *path;
    int fd;
} LateListener;

static gpointer late_listen(gpointer data)
{
    LateListener *late = data;
    g_usleep(150 * 1000);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, late->path);
    late->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(late->fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
        listen(late->fd, 1);
    return NULL;
}

START_TEST(test_connect_socket_appears_late)
{
    g_autofree char *dir = private_dir();
    LateListener late = {g_build_filename(dir, "late.sock", NULL), -1};
    GThread *thread = g_thread_new("late", late_listen, &late);
    AliveState alive = {0, -1};
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    g_autoptr(QmpClient) client = qmp_client_connect(late.path, 5000, alive_cb, &alive, &error);
    ck_assert_msg(client, "%s", error ? error->message : "");
    ck_assert(elapsed_ms(start) >= 140);
    ck_assert_int_ge(alive.calls, 2);
    g_thread_join(thread);
    close(late.fd);
    unlink(late.path);
    g_free(late.path);
    rmdir(dir);
}
END_TEST

START_TEST(test_connect_path_too_long)
{
    g_autofree char *path = g_strnfill(sizeof(((struct sockaddr_un *)0)->sun_path), 'p');
    path[0] = '/';
    AliveState alive = {0, -1};
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(qmp_client_connect(path, 5000, alive_cb, &alive, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "must be shorter than 108 bytes");
    ck_assert_int_eq(alive.calls, 0);
    g_clear_error(&error);
    ck_assert_ptr_null(qmp_client_connect("", 5000, NULL, NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "empty");
}
END_TEST

START_TEST(test_adopt_fd)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    g_autoptr(GError) error = NULL;
    g_autoptr(QmpClient) client = qmp_client_new_from_fd(sv[0], &error);
    ck_assert_ptr_nonnull(client);
    ck_assert(fcntl(sv[0], F_GETFD) & FD_CLOEXEC);
    qmp_client_free(g_steal_pointer(&client));
    ck_assert_int_eq(fcntl(sv[0], F_GETFD), -1);
    close(sv[1]);

    int p[2];
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_ptr_null(qmp_client_new_from_fd(p[0], &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "not a stream socket");
    ck_assert_int_eq(fcntl(p[0], F_GETFD), -1);
    close(p[1]);
    g_clear_error(&error);
    ck_assert_ptr_null(qmp_client_new_from_fd(-1, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_CONNECT, "invalid");
    qmp_client_free(NULL);
}
END_TEST

/* ---- long negotiation, wait hook, event records, peer credentials ---- */

#define EVENT(name)                                                                                \
    "{\"timestamp\": {\"seconds\": 7, \"microseconds\": 8}, \"event\": \"" name "\"}\r\n"

/* QEMU greets at once but answers qmp_capabilities only once every vCPU is built: with its
 * own deadline (none here), a negotiation slower than the normal timeout is accepted. */
START_TEST(test_negotiation_timeout)
{
    /* the reply comes 1 s after the command; the normal timeout is 200 ms */
    {
        g_autoptr(FakeQmp) fake = fake_qmp_new();
        fake_qmp_send(fake, FAKE_QMP_GREETING, -1);
        fake_qmp_expect(fake, "qmp_capabilities", NULL, NULL);
        fake_qmp_stall(fake, 1000);
        fake_qmp_send(fake, EVENT("RESUME") "{\"return\": {}, \"id\": \"qpin-1\"}\r\n", -1);
        fake_qmp_start(fake);
        g_autoptr(QmpClient) client = client_for(fake, 200);
        qmp_client_set_negotiation_timeout(client, -1);
        assert_handshake(client);
        ck_assert(qmp_client_event_seen(client, "RESUME"));
        assert_fake_ok(fake);
    }
    /* the same peer without the separate deadline: the normal timeout applies */
    {
        g_autoptr(FakeQmp) fake = fake_qmp_new();
        fake_qmp_send(fake, FAKE_QMP_GREETING, -1);
        fake_qmp_expect(fake, "qmp_capabilities", NULL, NULL);
        fake_qmp_stall(fake, 1000);
        fake_qmp_send(fake, "{\"return\": {}, \"id\": \"qpin-1\"}\r\n", -1);
        fake_qmp_start(fake);
        g_autoptr(QmpClient) client = client_for(fake, 200);
        g_autoptr(GError) error = NULL;
        ck_assert(!qmp_client_handshake(client, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT,
                     "no reply to 'qmp_capabilities' within 200 ms");
        assert_fake_ok(fake);
    }
    /* a finite negotiation deadline is honoured and named */
    {
        g_autoptr(FakeQmp) fake = fake_qmp_new();
        fake_qmp_send(fake, FAKE_QMP_GREETING, -1);
        fake_qmp_expect(fake, "qmp_capabilities", NULL, NULL);
        fake_qmp_stall(fake, 10000);
        fake_qmp_start(fake);
        g_autoptr(QmpClient) client = client_for(fake, 5000);
        qmp_client_set_negotiation_timeout(client, 300);
        g_autoptr(GError) error = NULL;
        gint64 start = g_get_monotonic_time();
        ck_assert(!qmp_client_handshake(client, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT,
                     "no reply to 'qmp_capabilities' within 300 ms");
        ck_assert_msg(elapsed_ms(start) < 4000, "took %.0f ms", elapsed_ms(start));
        assert_fake_ok(fake);
    }
    /* the greeting keeps the normal timeout */
    {
        g_autoptr(FakeQmp) fake = fake_qmp_new();
        fake_qmp_stall(fake, 10000);
        fake_qmp_start(fake);
        g_autoptr(QmpClient) client = client_for(fake, 200);
        qmp_client_set_negotiation_timeout(client, -1);
        g_autoptr(GError) error = NULL;
        ck_assert(!qmp_client_handshake(client, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT, "no QMP greeting within 200 ms");
        assert_fake_ok(fake);
    }
}
END_TEST

/* qmp_client_set_timeout(-1): no deadline at all. */
START_TEST(test_no_deadline)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "stop", NULL, NULL);
    fake_qmp_stall(fake, 500);
    fake_qmp_send(fake, "{\"return\": {}, \"id\": \"qpin-2\"}\r\n", -1);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    qmp_client_set_timeout(client, -1);
    g_autoptr(GError) error = NULL;
    ck_assert_msg(qmp_stop(client, &error), "%s", error ? error->message : "");
    assert_fake_ok(fake);
}
END_TEST

typedef struct {
    int fd;         /* drained by the hook when >= 0 and drain is set */
    gboolean drain; /* read the fd's bytes */
    guint calls;    /* how often the hook ran */
    guint stop_at;  /* return FALSE on this call (0: never) */
    int poke_fd;    /* on call poke_at, write a byte here */
    guint poke_at;  /* 0: never */
    gint64 last;    /* monotonic time of the previous call */
    gint64 min_gap; /* the shortest time between two calls, in us */
} HookState;

static gboolean hook_cb(gpointer data)
{
    HookState *h = data;
    gint64 now = g_get_monotonic_time();
    if (h->calls > 0)
        h->min_gap = MIN(h->min_gap, now - h->last);
    h->last = now;
    h->calls++;
    if (h->drain && h->fd >= 0) {
        char buf[64];
        while (read(h->fd, buf, sizeof(buf)) > 0)
            ;
    }
    if (h->poke_at && h->calls == h->poke_at)
        ck_assert_int_eq(write(h->poke_fd, "p", 1), 1);
    return !(h->stop_at && h->calls >= h->stop_at);
}

static void make_pipe(int p[2])
{
    ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

/* The hook ends a hung reply wait as soon as its fd becomes readable (the launcher's signalfd
 * on SIGINT), long before the deadline; the session is then broken, and the late reply that
 * follows is never matched to a next command, because none is sent. */
START_TEST(test_hook_interrupts_reply_wait)
{
    int p[2];
    make_pipe(p);
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-status", NULL, NULL);
    /* The fd becomes readable before the reply is sent: whatever wakes the client sees both. */
    fake_qmp_notify(fake, p[1]);
    fake_qmp_send(fake,
                  "{\"return\": {\"status\": \"late\", \"running\": true}, \"id\": "
                  "\"qpin-2\"}\r\n",
                  -1);
    fake_qmp_stall(fake, 20000);
    g_autoptr(QmpClient) client = start_negotiated(fake, 30000);
    HookState h = {.fd = p[0], .drain = TRUE, .stop_at = 1};
    qmp_client_set_wait_hook(client, p[0], 0, hook_cb, &h);

    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_INTERRUPTED,
                 "interrupted while waiting for the reply to 'query-status'");
    ck_assert_msg(elapsed_ms(start) < 10000, "took %.0f ms", elapsed_ms(start));
    ck_assert_uint_eq(h.calls, 1);
    ck_assert(qmp_client_is_broken(client));

    g_clear_error(&error);
    ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_BROKEN, "interrupted while waiting");
    ck_assert_uint_eq(qmp_client_commands_sent(client), 2);
    assert_fake_ok(fake);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* Interrupting the wait for the greeting; and a wait for an event, which leaves the session
 * usable (like its timeout). */
START_TEST(test_hook_interrupts_greeting_and_event_wait)
{
    int p[2];
    make_pipe(p);
    {
        g_autoptr(FakeQmp) fake = fake_qmp_new();
        fake_qmp_notify(fake, p[1]);
        fake_qmp_stall(fake, 20000);
        fake_qmp_start(fake);
        g_autoptr(QmpClient) client = client_for(fake, 30000);
        HookState h = {.fd = p[0], .drain = TRUE, .stop_at = 1};
        qmp_client_set_wait_hook(client, p[0], -1, hook_cb, &h);
        g_autoptr(GError) error = NULL;
        ck_assert(!qmp_client_handshake(client, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_INTERRUPTED,
                     "interrupted while waiting for the QMP greeting");
        ck_assert(qmp_client_is_broken(client));
        assert_fake_ok(fake);
    }
    {
        g_autoptr(FakeQmp) fake = fake_after_handshake();
        fake_qmp_expect(fake, "cont", NULL, REPLY("{}"));
        g_autoptr(QmpClient) client = start_negotiated(fake, 30000);
        HookState h = {.fd = p[0], .drain = TRUE, .stop_at = 1};
        qmp_client_set_wait_hook(client, p[0], 0, hook_cb, &h);
        ck_assert_int_eq(write(p[1], "s", 1), 1);
        g_autoptr(GError) error = NULL;
        ck_assert_ptr_null(qmp_client_wait_event(client, "RESUME", -1, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_INTERRUPTED,
                     "interrupted while waiting for RESUME event");
        ck_assert(!qmp_client_is_broken(client));
        g_clear_error(&error);
        ck_assert_msg(qmp_cont(client, &error), "%s", error ? error->message : "");
        assert_fake_ok(fake);
    }
    close(p[0]);
    close(p[1]);
}
END_TEST

/* Without an fd the hook runs every interval; returning TRUE keeps waiting. Here its second
 * call lets the fake answer, the reply is taken; a later wait's third call ends it. */
START_TEST(test_hook_interval)
{
    int go[2];
    make_pipe(go);
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-status", NULL, NULL);
    fake_qmp_wait_fd(fake, go[0]);
    fake_qmp_send(fake,
                  "{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": "
                  "\"qpin-2\"}\r\n",
                  -1);
    fake_qmp_expect(fake, "cont", NULL, NULL);
    fake_qmp_stall(fake, 20000);
    g_autoptr(QmpClient) client = start_negotiated(fake, 30000);
    HookState h = {.fd = -1, .poke_fd = go[1], .poke_at = 2, .min_gap = G_MAXINT64};
    qmp_client_set_wait_hook(client, -1, 40, hook_cb, &h);

    g_autoptr(GError) error = NULL;
    g_autofree char *status = qmp_query_status(client, NULL, &error);
    ck_assert_msg(status, "%s", error ? error->message : "");
    ck_assert_str_eq(status, "paused");
    ck_assert_uint_ge(h.calls, 2);
    /* Every call of a wait comes an interval after the previous one. */
    ck_assert_msg(h.min_gap >= 40000, "calls %" G_GINT64_FORMAT " us apart", h.min_gap);

    h = (HookState){.fd = -1, .stop_at = 3, .min_gap = G_MAXINT64};
    gint64 start = g_get_monotonic_time();
    ck_assert(!qmp_cont(client, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_INTERRUPTED, "the reply to 'cont'");
    ck_assert_uint_eq(h.calls, 3);
    ck_assert_msg(h.min_gap >= 40000, "calls %" G_GINT64_FORMAT " us apart", h.min_gap);
    ck_assert_msg(elapsed_ms(start) < 10000, "took %.0f ms", elapsed_ms(start));
    assert_fake_ok(fake);
    close(go[0]);
    close(go[1]);
}
END_TEST

/* A hook that returns TRUE but leaves its fd readable is not called in a busy loop. */
START_TEST(test_hook_fd_left_readable)
{
    int p[2];
    make_pipe(p);
    ck_assert_int_eq(write(p[1], "x", 1), 1);
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-status", NULL, NULL);
    fake_qmp_stall(fake, 20000);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    qmp_client_set_timeout(client, 500);
    HookState h = {.fd = p[0], .min_gap = G_MAXINT64};
    qmp_client_set_wait_hook(client, p[0], 0, hook_cb, &h);
    g_autoptr(GError) error = NULL;
    gint64 start = g_get_monotonic_time();
    ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
    double ms = elapsed_ms(start);
    assert_error(error, QMP_ERROR, QMP_ERROR_TIMEOUT, "no reply to 'query-status' within 500 ms");
    ck_assert_uint_ge(h.calls, 1);
    /* at most one call per 50 ms, however loaded the machine */
    ck_assert_msg(h.calls <= ms / 50 + 1, "%u calls in %.0f ms", h.calls, ms);
    ck_assert_msg(h.calls < 2 || h.min_gap >= 50000, "calls %" G_GINT64_FORMAT " us apart",
                  h.min_gap);
    assert_fake_ok(fake);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* A peer that never stops sending cannot keep the hook from running, even without deadline. */
START_TEST(test_hook_during_flood)
{
    int p[2];
    make_pipe(p);
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-status", NULL, NULL);
    fake_qmp_send_generated(fake, "", EVENT("X") "\r\n", G_MAXUINT64, "");
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    qmp_client_set_timeout(client, -1);
    HookState h = {.fd = p[0], .drain = TRUE, .stop_at = 3};
    qmp_client_set_wait_hook(client, p[0], 20, hook_cb, &h);
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_INTERRUPTED, "the reply to 'query-status'");
    ck_assert_uint_eq(h.calls, 3);
    ck_assert_uint_eq(qmp_client_pending_events(client),
                      MIN(qmp_client_event_count(client, "X"), 1024));
    assert_fake_ok(fake);
    close(p[0]);
    close(p[1]);
}
END_TEST

/* peek leaves the event queued; event_seen and event_count keep the record. */
START_TEST(test_peek_and_seen)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-status", NULL,
                    EVENT("STOP") "{\"timestamp\": {\"seconds\": 5, \"microseconds\": 6}, "
                                  "\"event\": \"RESUME\", \"data\": {\"n\": 1}}\r\n" EVENT("RESUME")
                                      EVENT("BLOCK_JOB_READY")
                                          REPLY("{\"status\": \"running\", \"running\": true}"));
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    ck_assert_ptr_null(qmp_client_peek_event(client, NULL));
    ck_assert(!qmp_client_event_seen(client, "RESUME"));
    g_autofree char *status = qmp_query_status(client, NULL, NULL);
    ck_assert_str_eq(status, "running");

    ck_assert_uint_eq(qmp_client_pending_events(client), 4);
    const QmpEvent *resume = qmp_client_peek_event(client, "RESUME");
    ck_assert_ptr_nonnull(resume);
    ck_assert_int_eq(resume->seconds, 5);
    ck_assert_int_eq(resume->microseconds, 6);
    ck_assert_int_eq(json_object_get_int(json_object_object_get(resume->data, "n")), 1);
    ck_assert_ptr_eq(qmp_client_peek_event(client, "RESUME"), resume);
    ck_assert_uint_eq(qmp_client_pending_events(client), 4);
    ck_assert_str_eq(qmp_client_peek_event(client, NULL)->name, "STOP");
    ck_assert_ptr_null(qmp_client_peek_event(client, "SHUTDOWN"));
    ck_assert(qmp_client_event_seen(client, "RESUME"));
    ck_assert(qmp_client_event_seen(client, "BLOCK_JOB_READY"));
    ck_assert(!qmp_client_event_seen(client, "SHUTDOWN"));
    ck_assert(!qmp_client_event_seen(client, "resume"));
    ck_assert_uint_eq(qmp_client_event_count(client, "RESUME"), 2);

    while (qmp_client_pending_events(client))
        qmp_event_free(qmp_client_pop_event(client));
    ck_assert_ptr_null(qmp_client_peek_event(client, "RESUME"));
    ck_assert(qmp_client_event_seen(client, "RESUME"));
    ck_assert_uint_eq(qmp_client_event_count(client, "RESUME"), 2);
    assert_fake_ok(fake);
}
END_TEST

/* A RESUME that the full queue drops is still on record. */
START_TEST(test_seen_survives_full_queue)
{
    g_autoptr(GString) flood = g_string_new(EVENT("RESUME"));
    for (int i = 0; i < 1100; i++)
        g_string_append(flood, EVENT("VSERPORT_CHANGE"));
    g_string_append(flood, REPLY("{\"status\": \"running\", \"running\": true}"));
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-status", NULL, flood->str);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    g_autofree char *status = qmp_query_status(client, NULL, NULL);
    ck_assert_str_eq(status, "running");
    ck_assert_uint_eq(qmp_client_pending_events(client), 1024);
    ck_assert_ptr_null(qmp_client_peek_event(client, "RESUME"));
    ck_assert(qmp_client_event_seen(client, "RESUME"));
    ck_assert_uint_eq(qmp_client_event_count(client, "RESUME"), 1);
    ck_assert_uint_eq(qmp_client_event_count(client, "VSERPORT_CHANGE"), 1100);
    assert_fake_ok(fake);
}
END_TEST

/* A peer inventing event names without end is refused before their record grows unbounded. */
START_TEST(test_event_names_capped)
{
    g_autoptr(GString) flood = g_string_new(NULL);
    for (int i = 0; i < 5000; i++)
        g_string_append_printf(flood,
                               "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, "
                               "\"event\": \"NAME_%08d_%s\"}\r\n",
                               i, "PADDINGPADDINGPADDING");
    g_string_append(flood, REPLY("{}"));
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "stop", NULL, flood->str);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    g_autoptr(GError) error = NULL;
    ck_assert(!qmp_stop(client, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "distinct event names");
    assert_fake_ok(fake);
}
END_TEST

/* qmp_client_read_available() takes in everything readable now, in several reads, without
 * waiting and without taking any event. */
START_TEST(test_read_available)
{
    g_autoptr(GString) events = g_string_new(NULL);
    for (int i = 0; i < 1500; i++)
        g_string_append(events, EVENT("X"));
    g_string_append(events, EVENT("RESUME"));
    ck_assert_uint_gt(events->len, 65536);
    int sent[2], go[2];
    make_pipe(sent);
    make_pipe(go);
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    /* Not before the handshake is over: its read must not take in any of the events. */
    fake_qmp_wait_fd(fake, go[0]);
    fake_qmp_send(fake, events->str, -1);
    fake_qmp_send(fake, "{\"return\": {}, \"id\": \"stale\"}\r\n", -1);
    fake_qmp_notify(fake, sent[1]);
    fake_qmp_stall(fake, 20000);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    ck_assert(!qmp_client_has_buffered_input(client));
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    /* A unix socket write returns once the bytes are in the reader's queue: after the notice
     * everything is readable. */
    struct pollfd pfd = {.fd = sent[0], .events = POLLIN};
    ck_assert_int_eq(poll(&pfd, 1, 20000), 1);
    g_autoptr(GError) error = NULL;
    ck_assert_msg(qmp_client_read_available(client, &error), "%s", error->message);
    ck_assert_uint_eq(qmp_client_event_count(client, "X"), 1500);
    ck_assert(qmp_client_event_seen(client, "RESUME"));
    ck_assert_ptr_nonnull(qmp_client_peek_event(client, "RESUME"));
    ck_assert_uint_eq(qmp_client_pending_events(client), 1024);
    ck_assert(!qmp_client_has_buffered_input(client));
    ck_assert(!qmp_client_is_broken(client));
    /* nothing more to read: returns at once */
    gint64 start = g_get_monotonic_time();
    ck_assert(qmp_client_read_available(client, &error));
    ck_assert_msg(elapsed_ms(start) < 3000, "took %.0f ms", elapsed_ms(start));
    ck_assert_uint_eq(qmp_client_event_count(client, "X"), 1500);
    assert_fake_ok(fake);
    close(sent[0]);
    close(sent[1]);
    close(go[0]);
    close(go[1]);
}
END_TEST

START_TEST(test_get_fd_and_peer_pid)
{
    /* a socketpair: the process that made the pair, here this one */
    {
        g_autoptr(FakeQmp) fake = fake_qmp_new();
        int fd = fake_qmp_take_client_fd(fake);
        g_autoptr(QmpClient) client = qmp_client_new_from_fd(fd, NULL);
        ck_assert_int_eq(qmp_client_get_fd(client), fd);
        uid_t uid = 12345;
        ck_assert_int_eq(qmp_client_peer_pid(client, &uid), getpid());
        ck_assert_int_eq(uid, getuid());
        ck_assert_int_eq(qmp_client_peer_pid(client, NULL), getpid());
    }
    /* a unix socket listened on by another process: that process */
    {
        g_autofree char *dir = private_dir();
        g_autofree char *path = g_build_filename(dir, "peer.sock", NULL);
        int ready[2];
        ck_assert_int_eq(pipe(ready), 0);
        pid_t child = fork();
        ck_assert_int_ge(child, 0);
        if (child == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            struct sockaddr_un addr = {.sun_family = AF_UNIX};
            strcpy(addr.sun_path, path);
            int s = socket(AF_UNIX, SOCK_STREAM, 0);
            if (s < 0 || bind(s, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(s, 1) < 0)
                _exit(1);
            if (write(ready[1], "r", 1) != 1)
                _exit(1);
            for (;;)
                pause();
        }
        close(ready[1]);
        char c;
        ck_assert_int_eq(read(ready[0], &c, 1), 1);
        g_autoptr(GError) error = NULL;
        g_autoptr(QmpClient) client = qmp_client_connect(path, 5000, NULL, NULL, &error);
        ck_assert_msg(client, "%s", error ? error->message : "");
        uid_t uid = 12345;
        pid_t peer = qmp_client_peer_pid(client, &uid);
        kill(child, SIGKILL);
        waitpid(child, NULL, 0);
        close(ready[0]);
        unlink(path);
        rmdir(dir);
        ck_assert_int_eq(peer, child);
        ck_assert_int_eq(uid, getuid());
    }
    /* an unconnected socket has no peer */
    {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        g_autoptr(QmpClient) client = qmp_client_new_from_fd(fd, NULL);
        ck_assert_ptr_nonnull(client);
        uid_t uid = 12345;
        errno = 0;
        ck_assert_int_eq(qmp_client_peer_pid(client, &uid), -1);
        ck_assert_int_eq(errno, ESRCH);
        ck_assert_int_eq(uid, (uid_t)-1);
    }
}
END_TEST

/* ---- typed commands ---- */

static GPtrArray *cpus_from(const char *reply_json, GError **error)
{
    g_autofree char *reply = g_strdup_printf("{\"return\": %s, \"id\": @ID@}\r\n", reply_json);
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-cpus-fast", "{}", reply);
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    GPtrArray *cpus = qmp_query_cpus_fast(client, error);
    /* A bad reply is no transport fault. */
    ck_assert(!qmp_client_is_broken(client));
    assert_fake_ok(fake);
    return cpus;
}

START_TEST(test_cpus_fast_variants)
{
    g_autoptr(GError) error = NULL;
    /* Unknown keys everywhere, props partly or entirely missing, s390x's cpu-state. */
    g_autoptr(GPtrArray) cpus = cpus_from(
        "[{\"cpu-index\": 0, \"thread-id\": 2147483647, \"qom-path\": \"/machine/cpu[0]\", "
        "\"target\": \"x86_64\", \"props\": {\"node-id\": 1, \"socket-id\": 2, \"die-id\": 3, "
        "\"cluster-id\": 4, \"core-id\": 5, \"thread-id\": 6, \"drawer-id\": 7, \"book-id\": 8, "
        "\"module-id\": 9, \"future-id\": {\"x\": [1]}}, \"cpu-state\": \"operating\", "
        "\"new\": null},"
        " {\"thread-id\": 77, \"cpu-index\": 1, \"props\": {\"core-id\": 1}},"
        " {\"cpu-index\": 2, \"thread-id\": 77, \"qom-path\": \"/machine/cpu[2]\", \"target\": "
        "\"s390x\"}]",
        &error);
    ck_assert_msg(cpus, "%s", error ? error->message : "");
    ck_assert_uint_eq(cpus->len, 3);
    QmpCpuInfo *a = g_ptr_array_index(cpus, 0), *b = g_ptr_array_index(cpus, 1),
               *c = g_ptr_array_index(cpus, 2);
    ck_assert_int_eq(a->cpu_index, 0);
    ck_assert_int_eq(a->thread_id, 2147483647);
    ck_assert_str_eq(a->qom_path, "/machine/cpu[0]");
    ck_assert_str_eq(a->target, "x86_64");
    ck_assert(a->has_node && a->has_socket && a->has_die && a->has_cluster && a->has_core &&
              a->has_thread);
    ck_assert_int_eq(a->node, 1);
    ck_assert_int_eq(a->socket, 2);
    ck_assert_int_eq(a->die, 3);
    ck_assert_int_eq(a->cluster, 4);
    ck_assert_int_eq(a->core, 5);
    ck_assert_int_eq(a->thread, 6);
    ck_assert_int_eq(b->cpu_index, 1);
    ck_assert_ptr_null(b->qom_path);
    ck_assert_ptr_null(b->target);
    ck_assert(b->has_core && b->core == 1);
    ck_assert(!b->has_node && !b->has_socket && !b->has_die && !b->has_cluster && !b->has_thread);
    ck_assert(!c->has_node && !c->has_socket && !c->has_core && !c->has_thread);
    /* Single-threaded TCG: identical thread ids are QEMU's answer, reported as such. */
    ck_assert_int_eq(b->thread_id, c->thread_id);

    g_autoptr(GPtrArray) none = cpus_from("[]", &error);
    ck_assert_ptr_nonnull(none);
    ck_assert_uint_eq(none->len, 0);
}
END_TEST

START_TEST(test_cpus_fast_refused)
{
    static const struct {
        const char *reply;
        const char *needle;
    } cases[] = {
        {"{}", "bad reply to query-cpus-fast: the return value is object, not an array"},
        {"[1]", "entry 0: int, not an object"},
        {"[{\"thread-id\": 5}]", "entry 0: 'cpu-index' is missing"},
        {"[{\"cpu-index\": 0}]", "entry 0: 'thread-id' is missing"},
        {"[{\"cpu-index\": 0, \"thread-id\": \"5\"}]", "'thread-id' is string, not an integer"},
        {"[{\"cpu-index\": 0, \"thread-id\": 5.0}]", "'thread-id' is double, not an integer"},
        {"[{\"cpu-index\": 0, \"thread-id\": 0}]", "'thread-id' is out of range (0, expected 1.."},
        {"[{\"cpu-index\": 0, \"thread-id\": -1}]", "'thread-id' is out of range (-1"},
        {"[{\"cpu-index\": 0, \"thread-id\": 2147483648}]", "'thread-id' is out of range"},
        {"[{\"cpu-index\": 0, \"thread-id\": 99999999999999999999}]",
         "'thread-id' is out of range"},
        {"[{\"cpu-index\": 0, \"thread-id\": -99999999999999999999}]",
         "'thread-id' is out of range"},
        {"[{\"cpu-index\": 9223372036854775807, \"thread-id\": 1}]", "'cpu-index' is out of range"},
        {"[{\"cpu-index\": -1, \"thread-id\": 1}]", "'cpu-index' is out of range"},
        {"[{\"cpu-index\": 0, \"thread-id\": 1, \"qom-path\": 3}]", "'qom-path' is int"},
        {"[{\"cpu-index\": 0, \"thread-id\": 1, \"target\": null}]", "'target' is null"},
        {"[{\"cpu-index\": 0, \"thread-id\": 1, \"props\": []}]", "'props' is array"},
        {"[{\"cpu-index\": 0, \"thread-id\": 1, \"props\": {\"core-id\": true}}]",
         "entry 0 props: 'core-id' is boolean"},
        {"[{\"cpu-index\": 0, \"thread-id\": 1, \"props\": {\"node-id\": -3}}]",
         "'node-id' is out of range"},
        {"[{\"cpu-index\": 0, \"thread-id\": 1}, {\"cpu-index\": 0, \"thread-id\": 2}]",
         "entry 1: cpu-index 0 appears twice"},
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) cpus = cpus_from(cases[i].reply, &error);
        ck_assert_msg(cpus == NULL, "accepted %s", cases[i].reply);
        assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, cases[i].needle);
    }
}
END_TEST

START_TEST(test_iothreads_memdev_status)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "query-iothreads", NULL,
                    REPLY("[{\"poll-shrink\": 0, \"thread-id\": 31, \"poll-grow\": 0, "
                          "\"poll-max-ns\": 32768, \"id\": \"io0\", \"aio-max-batch\": 0}, "
                          "{\"id\": \"io1\", \"thread-id\": 32}]"));
    fake_qmp_expect(fake, "query-iothreads", NULL, REPLY("[{\"id\": \"io0\", \"thread-id\": 0}]"));
    fake_qmp_expect(fake, "query-iothreads", NULL, REPLY("[{\"thread-id\": 3}]"));
    fake_qmp_expect(
        fake, "query-memdev", NULL,
        REPLY("[{\"dump\": true, \"prealloc\": false, \"share\": false, \"reserve\": true, "
              "\"host-nodes\": [0, 1], \"id\": \"m0\", \"size\": 85899345920, \"merge\": true, "
              "\"policy\": \"bind\"}, {\"dump\": false, \"prealloc\": true, \"host-nodes\": [], "
              "\"size\": 1073741824, \"merge\": false, \"policy\": \"default\"}]"));
    fake_qmp_expect(fake, "query-memdev", NULL,
                    REPLY("[{\"dump\": true, \"prealloc\": false, \"host-nodes\": [-1], \"size\": "
                          "1, \"merge\": true, \"policy\": \"bind\"}]"));
    fake_qmp_expect(fake, "query-memdev", NULL,
                    REPLY("[{\"dump\": true, \"prealloc\": false, \"host-nodes\": [], \"size\": "
                          "-1, \"merge\": true, \"policy\": \"bind\"}]"));
    fake_qmp_expect(fake, "query-memdev", NULL,
                    REPLY("[{\"dump\": true, \"prealloc\": 1, \"host-nodes\": [], \"size\": "
                          "1, \"merge\": true, \"policy\": \"bind\"}]"));
    fake_qmp_expect(fake, "query-status", NULL, REPLY("{\"running\": true}"));
    fake_qmp_expect(fake, "query-status", NULL,
                    REPLY("{\"status\": \"running\", \"running\": \"yes\"}"));
    fake_qmp_expect(fake, "query-status", NULL, REPLY("[]"));
    fake_qmp_expect(fake, "stop", NULL, REPLY("{}"));
    g_autoptr(QmpClient) client = start_negotiated(fake, 5000);
    g_autoptr(GError) error = NULL;

    g_autoptr(GPtrArray) io = qmp_query_iothreads(client, &error);
    ck_assert_msg(io, "%s", error ? error->message : "");
    ck_assert_uint_eq(io->len, 2);
    ck_assert_str_eq(((QmpIothread *)g_ptr_array_index(io, 0))->id, "io0");
    ck_assert_int_eq(((QmpIothread *)g_ptr_array_index(io, 0))->thread_id, 31);
    ck_assert_str_eq(((QmpIothread *)g_ptr_array_index(io, 1))->id, "io1");
    ck_assert_ptr_null(qmp_query_iothreads(client, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                 "bad reply to query-iothreads: entry 0: 'thread-id' is out of range");
    g_clear_error(&error);
    ck_assert_ptr_null(qmp_query_iothreads(client, &error));
    assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, "'id' is missing");
    g_clear_error(&error);

    g_autoptr(GPtrArray) memdevs = qmp_query_memdev(client, &error);
    ck_assert_msg(memdevs, "%s", error ? error->message : "");
    ck_assert_uint_eq(memdevs->len, 2);
    QmpMemdev *m0 = g_ptr_array_index(memdevs, 0), *m1 = g_ptr_array_index(memdevs, 1);
    ck_assert_str_eq(m0->id, "m0");
    ck_assert_uint_eq(m0->size, 85899345920ull);
    ck_assert(m0->merge && m0->dump && !m0->prealloc && !m0->share);
    ck_assert_str_eq(m0->policy, "bind");
    ck_assert_uint_eq(m0->host_nodes->len, 2);
    ck_assert_uint_eq(g_array_index(m0->host_nodes, guint, 1), 1);
    ck_assert_ptr_null(m1->id);
    ck_assert(m1->prealloc && !m1->merge);
    ck_assert_uint_eq(m1->host_nodes->len, 0);
    static const char *memdev_needles[] = {"'host-nodes' holds -1", "'size' is out of range",
                                           "'prealloc' is int, not a boolean"};
    for (gsize i = 0; i < G_N_ELEMENTS(memdev_needles); i++) {
        ck_assert_ptr_null(qmp_query_memdev(client, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, memdev_needles[i]);
        g_clear_error(&error);
    }

    static const char *status_needles[] = {"'status' is missing", "'running' is string",
                                           "the return value is array, not an object"};
    for (gsize i = 0; i < G_N_ELEMENTS(status_needles); i++) {
        ck_assert_ptr_null(qmp_query_status(client, NULL, &error));
        assert_error(error, QMP_ERROR, QMP_ERROR_PROTOCOL, status_needles[i]);
        g_clear_error(&error);
    }
    ck_assert_msg(qmp_stop(client, &error), "%s", error ? error->message : "");
    assert_fake_ok(fake);
}
END_TEST

/* The fake itself: an unexpected command or wrong arguments fail the test. */
START_TEST(test_fake_catches_unexpected)
{
    g_autoptr(FakeQmp) fake = fake_after_handshake();
    fake_qmp_expect(fake, "cont", NULL, REPLY("{}"));
    g_autoptr(QmpClient) client = start_negotiated(fake, 300);
    g_autoptr(GError) error = NULL;
    ck_assert(!qmp_stop(client, &error));
    g_autofree char *failure = fake_qmp_finish(fake);
    ck_assert_msg(failure && strstr(failure, "expected command 'cont'"), "%s", failure);

    g_autoptr(FakeQmp) fake2 = fake_after_handshake();
    g_autoptr(QmpClient) client2 = start_negotiated(fake2, 300);
    ck_assert(!qmp_cont(client2, NULL));
    g_autofree char *failure2 = fake_qmp_finish(fake2);
    ck_assert_msg(failure2 && strstr(failure2, "unexpected command"), "%s", failure2);
}
END_TEST

static Suite *qmp_suite(void)
{
    Suite *s = suite_create("qmp");
    TCase *tc = tcase_create("transport");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_handshake_and_execute);
    tcase_add_test(tc, test_ids_and_unknown_id);
    tcase_add_test(tc, test_execute_misuse);
    tcase_add_test(tc, test_all_in_one_write);
    tcase_add_test(tc, test_byte_by_byte);
    tcase_add_test(tc, test_split_every_offset);
    tcase_add_test(tc, test_split_chunk_sizes);
    tcase_add_test(tc, test_pretty_printed_reply);
    tcase_add_test(tc, test_utf8);
    tcase_add_test(tc, test_event_before_greeting);
    tcase_add_test(tc, test_event_between_command_and_reply);
    tcase_add_test(tc, test_buffered_input);
    tcase_add_test(tc, test_event_queue_capped);
    tcase_add_test(tc, test_error_classes);
    tcase_add_test(tc, test_error_without_id);
    tcase_add_test(tc, test_bad_replies);
    tcase_add_test(tc, test_negotiation_error);
    tcase_add_test(tc, test_not_qmp);
    tcase_add_test(tc, test_bad_greeting);
    tcase_add_test(tc, test_garbage_after_handshake);
    tcase_add_test(tc, test_closed_mid_message);
    tcase_add_test(tc, test_closed_between_messages);
    tcase_add_test(tc, test_no_greeting_timeout);
    tcase_add_test(tc, test_command_timeout_breaks_session);
    tcase_add_test(tc, test_flood_cannot_stretch_deadline);
    tcase_add_test(tc, test_large_reply_accepted);
    tcase_add_test(tc, test_over_cap_refused);
    tcase_add_test(tc, test_over_default_cap_refused);
    tcase_add_test(tc, test_cap_boundary);
    tcase_add_test(tc, test_eintr_and_short_writes);
    tcase_add_test(tc, test_epipe);
    tcase_add_test(tc, test_quit);
    tcase_add_test(tc, test_fake_catches_unexpected);
    suite_add_tcase(s, tc);

    TCase *connect = tcase_create("connect");
    tcase_set_timeout(connect, 30);
    tcase_add_test(connect, test_connect_path);
    tcase_add_test(connect, test_connect_missing);
    tcase_add_test(connect, test_connect_refused);
    tcase_add_test(connect, test_connect_socket_appears_late);
    tcase_add_test(connect, test_connect_path_too_long);
    tcase_add_test(connect, test_adopt_fd);
    suite_add_tcase(s, connect);

    TCase *waits = tcase_create("waits");
    tcase_set_timeout(waits, 60);
    tcase_add_test(waits, test_negotiation_timeout);
    tcase_add_test(waits, test_no_deadline);
    tcase_add_test(waits, test_hook_interrupts_reply_wait);
    tcase_add_test(waits, test_hook_interrupts_greeting_and_event_wait);
    tcase_add_test(waits, test_hook_interval);
    tcase_add_test(waits, test_hook_fd_left_readable);
    tcase_add_test(waits, test_hook_during_flood);
    tcase_add_test(waits, test_peek_and_seen);
    tcase_add_test(waits, test_seen_survives_full_queue);
    tcase_add_test(waits, test_event_names_capped);
    tcase_add_test(waits, test_read_available);
    tcase_add_test(waits, test_get_fd_and_peer_pid);
    suite_add_tcase(s, waits);

    TCase *typed = tcase_create("commands");
    tcase_set_timeout(typed, 30);
    tcase_add_test(typed, test_cpus_fast_variants);
    tcase_add_test(typed, test_cpus_fast_refused);
    tcase_add_test(typed, test_iothreads_memdev_status);
    suite_add_tcase(s, typed);
    return s;
}

int main(void)
{
    return qpin_check_run(qmp_suite());
}
