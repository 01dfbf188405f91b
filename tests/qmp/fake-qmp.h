/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin tests — a scripted fake QMP server.
 *
 * A real socket peer on its own thread, either one end of a socketpair or a listening unix
 * socket in a private directory. It follows a script built before fake_qmp_start(): send bytes
 * (whole, in chunks, split at offsets), expect a command (name and, optionally, arguments) and
 * answer it, stall, close. A command the script does not expect fails the test.
 *
 * Pieces of a split send reach the client as separate reads: before the next piece the server
 * waits until the client has consumed everything sent so far (SIOCOUTQ == 0).
 *
 * Reply templates may contain @ID@, replaced by the id (as JSON) of the command last expected.
 */
#pragma once

#include <glib.h>
#include <json-c/json.h>

#include <qpin/qmp.h>

G_BEGIN_DECLS

typedef struct FakeQmp FakeQmp;

/* A fake on one end of a socketpair; fake_qmp_take_client_fd() hands out the other end. */
FakeQmp *fake_qmp_new(void);
/* A fake listening at fake_qmp_path() (in a private 0700 directory); it accepts one
 * connection, then runs the script. */
FakeQmp *fake_qmp_new_listening(void);
/* Stops the server if still running and frees everything (removes the socket directory). */
void fake_qmp_free(FakeQmp *fake);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeQmp, fake_qmp_free)

int fake_qmp_take_client_fd(FakeQmp *fake);
const char *fake_qmp_path(const FakeQmp *fake);

/* QEMU 7.2's greeting, as QEMU writes it. */
#define FAKE_QMP_GREETING                                                                          \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "             \
    "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"

/* ---- script steps ---- */

/* Sends @len bytes in one write (@len < 0: strlen). */
void fake_qmp_send(FakeQmp *fake, const char *bytes, gssize len);
/* Sends in pieces of @chunk bytes, each one read by the client before the next is sent. */
void fake_qmp_send_chunked(FakeQmp *fake, const char *bytes, gssize len, gsize chunk);
/* Sends in pieces cut at the ascending @offsets. */
void fake_qmp_send_split(FakeQmp *fake, const char *bytes, gssize len, const gsize *offsets,
                         gsize n_offsets);
/* Sends @head, then @count copies of the string @fill, then @tail, streamed in writes of
 * about 64 KiB without ever holding the whole stream; stops quietly when the client goes away.
 * @head and @tail may contain @ID@. */
void fake_qmp_send_generated(FakeQmp *fake, const char *head, const char *fill, guint64 count,
                             const char *tail);
/* The greeting, then expects qmp_capabilities and answers {"return": {}}. */
void fake_qmp_handshake(FakeQmp *fake);
/* Expects the command @name; @arguments_json, if not NULL, must equal its arguments ("{}" or
 * "null" for none given). Then sends @reply (if not NULL) with @ID@ substituted. */
void fake_qmp_expect(FakeQmp *fake, const char *name, const char *arguments_json,
                     const char *reply);
/* Waits @ms milliseconds (cut short by fake_qmp_free). */
void fake_qmp_stall(FakeQmp *fake, guint ms);
/* Closes the connection. */
void fake_qmp_close(FakeQmp *fake);
/* Stops reading: shutdown(SHUT_RD). On a unix socket this shuts the client's sending side at
 * once, so every later write of the client fails with EPIPE, whether or not the server has
 * closed by then. */
void fake_qmp_shutdown_read(FakeQmp *fake);
/* Writes one byte to @fd (not owned), telling the test that the script got here. */
void fake_qmp_notify(FakeQmp *fake, int fd);
/* Waits until @fd (not owned) is readable, without reading it: the test (or a client hook)
 * lets the script go on. Cut short by fake_qmp_free; fails the script after the step limit. */
void fake_qmp_wait_fd(FakeQmp *fake, int fd);
/* Appends the steps of a recorded transcript: "<- MESSAGE" lines are sent (with CRLF; in
 * pieces of @chunk bytes unless 0), "-> COMMAND" lines expected (name and arguments). */
gboolean fake_qmp_load_transcript(FakeQmp *fake, const char *path, gsize chunk, GError **error);

/* ---- running ---- */

void fake_qmp_start(FakeQmp *fake);
/* Waits (at most @timeout_ms) until every step ran; FALSE on timeout. */
gboolean fake_qmp_wait_script(FakeQmp *fake, guint timeout_ms);
/* Stops the server (after the script, it keeps reading to catch unexpected commands until
 * the client closes or this is called) and returns its verdict: NULL when every step ran as
 * scripted and no unexpected command came, else a description of what went wrong. */
char *fake_qmp_finish(FakeQmp *fake);
/* Bytes the server managed to send in total. */
guint64 fake_qmp_bytes_sent(FakeQmp *fake);

G_END_DECLS
