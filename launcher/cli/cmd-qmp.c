/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin qmp — send one QMP command to a running QEMU and print its return value as JSON. */
#include <qpin/qmp.h>
#include "qpin-file-write.h"
#include "qpin-cli.h"
#include "qpin-help.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void trace_to_stderr(const char *direction, const char *json, gpointer user_data)
{
    fprintf(stderr, "qpin: qmp %s %s\n", direction, json);
}

/* ARGUMENTS-JSON must be exactly one JSON object, nothing before or after it. */
static json_object *parse_arguments(const char *text, GError **error)
{
    gsize len = strlen(text);
    if (len > G_MAXINT / 2) {
        g_set_error_literal(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                            "ARGUMENTS-JSON is too long");
        return NULL;
    }
    json_tokener *tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    /* The terminating NUL tells the tokener the input ends here. */
    g_autoptr(QmpJson) obj = json_tokener_parse_ex(tok, text, (int)len + 1);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!obj) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "ARGUMENTS-JSON is not valid JSON: %s",
                    jerr == json_tokener_continue ? "unexpected end of input"
                                                  : json_tokener_error_desc(jerr));
        return NULL;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "ARGUMENTS-JSON must be a JSON object, not %s",
                    json_type_to_name(json_object_get_type(obj)));
        return NULL;
    }
    return g_steal_pointer(&obj);
}

int qpin_cmd_qmp(int argc, char **argv)
{
    g_autofree char *socket_path = NULL;
    double timeout = QMP_DEFAULT_TIMEOUT_MS / 1000.0;
    gboolean debug = FALSE, want_help = FALSE;
    GOptionEntry entries[] = {
        {"qmp", 0, 0, G_OPTION_ARG_FILENAME, &socket_path, "QEMU's QMP unix socket", "SOCKET"},
        {"timeout", 0, 0, G_OPTION_ARG_DOUBLE, &timeout,
         "Give up after SECS for connecting, the handshake and the reply (default 10)", "SECS"},
        {"debug", 0, 0, G_OPTION_ARG_NONE, &debug, "Show the raw QMP traffic on stderr", NULL},
        {"help", 'h', 0, G_OPTION_ARG_NONE, &want_help, "Show this help", NULL},
        {NULL},
    };
    static const char *const examples[] = {
        "qpin qmp --qmp /run/vm/qmp.sock query-cpus-fast",
        "qpin qmp --qmp /run/vm/qmp.sock qom-get \\",
        "    '{\"path\": \"/machine\", \"property\": \"type\"}'",
        NULL,
    };
    static const int exits[] = {QPIN_EXIT_OK,  QPIN_EXIT_FAILURE,     QPIN_EXIT_USAGE,
                                QPIN_EXIT_QMP, QPIN_EXIT_QMP_COMMAND, -1};
    const QpinHelp help = {
        .command = "qmp",
        .usage = "--qmp SOCKET [--timeout SECS] [--debug] COMMAND [ARGUMENTS-JSON]",
        .description = "Connects to a QEMU QMP socket, negotiates, executes COMMAND with the "
                       "arguments given as one JSON object, and prints QEMU's return value as "
                       "JSON. An error answer is printed as CLASS: desc.",
        .options = entries,
        .examples = examples,
        .exit_statuses = exits,
        .see_also = "qpin(1), qpin-pin(1), libqpin-qmp(3)",
    };
    g_autoptr(GOptionContext) context = g_option_context_new(NULL);
    g_option_context_add_main_entries(context, entries, NULL);
    g_option_context_set_help_enabled(context, FALSE);
    g_set_prgname("qpin qmp");

    g_autoptr(GError) error = NULL;
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        qpin_err("qmp: %s (see 'qpin qmp --help')", error->message);
        return QPIN_EXIT_USAGE;
    }
    if (want_help)
        return qpin_help_print(&help);
    if (!socket_path) {
        qpin_err("qmp: --qmp SOCKET is required");
        return QPIN_EXIT_USAGE;
    }
    if (!isfinite(timeout) || timeout <= 0 || timeout > 24 * 3600) {
        qpin_err("qmp: --timeout must be a number of seconds above 0 and at most 86400");
        return QPIN_EXIT_USAGE;
    }
    if (argc < 2) {
        qpin_err("qmp: missing COMMAND (try 'qpin qmp --help')");
        return QPIN_EXIT_USAGE;
    }
    if (argc > 3) {
        qpin_err("qmp: unexpected argument '%s' (ARGUMENTS-JSON is one JSON object)", argv[3]);
        return QPIN_EXIT_USAGE;
    }
    const char *command = argv[1];
    if (!*command) {
        qpin_err("qmp: empty COMMAND");
        return QPIN_EXIT_USAGE;
    }
    g_autoptr(QmpJson) arguments = NULL;
    if (argc == 3 && !(arguments = parse_arguments(argv[2], &error))) {
        qpin_err("qmp: %s", error->message);
        return QPIN_EXIT_USAGE;
    }

    gint64 timeout_ms = (gint64)(timeout * 1000 + 0.999);
    g_autoptr(QmpClient) client = qmp_client_connect(socket_path, timeout_ms, NULL, NULL, &error);
    if (!client) {
        qpin_err("qmp: %s", error->message);
        return QPIN_EXIT_QMP;
    }
    qmp_client_set_timeout(client, timeout_ms);
    if (debug)
        qmp_client_set_trace(client, trace_to_stderr, NULL);
    if (!qmp_client_handshake(client, &error)) {
        qpin_err("qmp: %s", error->message);
        return QPIN_EXIT_QMP;
    }
    g_autoptr(QmpJson) ret = qmp_client_execute(client, command, arguments, &error);
    if (!ret) {
        if (error->domain == QMP_COMMAND_ERROR) {
            qpin_err("%s: %s", qmp_command_error_class(error), qmp_command_error_desc(error));
            return QPIN_EXIT_QMP_COMMAND;
        }
        qpin_err("qmp: %s: %s", command, error->message);
        return QPIN_EXIT_QMP;
    }
    /* json-c pretty-prints an empty object as "{\n}"; most replies (cont, quit) are one. */
    int flags = JSON_C_TO_STRING_NOSLASHESCAPE;
    if (!json_object_is_type(ret, json_type_object) || json_object_object_length(ret) > 0)
        flags |= JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;
    g_autofree char *text = g_strconcat(json_object_to_json_string_ext(ret, flags), "\n", NULL);
    if (!qpin_stream_write(stdout, text, &error)) {
        qpin_err("%s", error->message);
        return QPIN_EXIT_FAILURE;
    }
    return QPIN_EXIT_OK;
}
