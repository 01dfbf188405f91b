/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the layout of every --help, see qpin-help.h. */
#include "qpin-help.h"

#include "qpin-cli.h"
#include "qpin-file-write.h"

#include <stdio.h>
#include <string.h>

#define HELP_WIDTH  80
#define HELP_COLUMN 28 /* where option descriptions start */

/* What each exit status means, the same words as README.md's table. */
static const struct {
    int code;
    const char *meaning;
} exit_meanings[] = {
    {QPIN_EXIT_OK, "success"},
    {QPIN_EXIT_FAILURE, "failure without a status of its own (e.g. output not written)"},
    {QPIN_EXIT_USAGE, "bad command line or config file"},
    {QPIN_EXIT_HOST, "the host (or --sysroot tree) could not be read"},
    {QPIN_EXIT_QEMU_START, "QEMU could not be started or exited before QMP was ready"},
    {QPIN_EXIT_QMP, "QMP connection or protocol failure, timeouts included"},
    {QPIN_EXIT_QMP_COMMAND, "QEMU answered a QMP command with an error"},
    {QPIN_EXIT_MAP, "the map is invalid or does not fit the host or allowed CPUs"},
    {QPIN_EXIT_PIN, "applying or verifying affinity failed"},
    {QPIN_EXIT_PREFLIGHT, "the host cannot hold the requested guest memory"},
    {QPIN_EXIT_MEMORY, "guest memory landed on the wrong host node"},
    {QPIN_EXIT_INTERRUPTED, "a signal stopped qpin before the guest started"},
    {QPIN_EXIT_RESUMED, "someone else resumed the guest before qpin had pinned it"},
    {QPIN_EXIT_CHECK, "a check failed (qpin check, run --check=strict)"},
};

/* @text wrapped to HELP_WIDTH, every line starting with @indent spaces, the first one after
 * @first_used columns already taken on the current line. */
static void append_wrapped(GString *out, const char *text, guint indent, guint first_used)
{
    g_auto(GStrv) words = g_strsplit_set(text, " \n", -1);
    guint col = first_used;
    gboolean line_empty = TRUE;
    if (col < indent) {
        for (; col < indent; col++)
            g_string_append_c(out, ' ');
    }
    for (int i = 0; words[i]; i++) {
        guint len = (guint)strlen(words[i]);
        if (!len)
            continue;
        if (!line_empty && col + 1 + len > HELP_WIDTH) {
            g_string_append_c(out, '\n');
            for (col = 0; col < indent; col++)
                g_string_append_c(out, ' ');
            line_empty = TRUE;
        }
        if (!line_empty) {
            g_string_append_c(out, ' ');
            col++;
        }
        g_string_append(out, words[i]);
        col += len;
        line_empty = FALSE;
    }
    g_string_append_c(out, '\n');
}

static void append_option(GString *out, const GOptionEntry *e)
{
    gsize start = out->len;
    g_string_append(out, "  ");
    if (e->short_name)
        g_string_append_printf(out, "-%c, ", e->short_name);
    else
        g_string_append(out, "    ");
    g_string_append_printf(out, "--%s", e->long_name);
    if (e->arg != G_OPTION_ARG_NONE)
        g_string_append_printf(out, "=%s", e->arg_description ? e->arg_description : "VALUE");
    guint used = (guint)(out->len - start);
    if (used + 2 > HELP_COLUMN) {
        g_string_append_c(out, '\n');
        used = 0;
    }
    append_wrapped(out, e->description ? e->description : "", HELP_COLUMN, used);
}

char *qpin_help_text(const QpinHelp *h)
{
    GString *out = g_string_new("Usage:\n");
    g_auto(GStrv) usages = g_strsplit(h->usage ? h->usage : "", "\n", -1);
    g_autofree char *prefix = g_strdup_printf("qpin%s%s", h->command ? " " : "",
                                              h->command ? h->command : "");
    for (int i = 0; usages[i]; i++) {
        /* A line that starts with a space continues the one before, under its arguments. */
        if (usages[i][0] == ' ')
            g_string_append_printf(out, "  %*s %s\n", (int)strlen(prefix), "",
                                   g_strchug(usages[i]));
        else
            g_string_append_printf(out, "  %s%s%s\n", prefix, *usages[i] ? " " : "", usages[i]);
    }

    g_string_append_c(out, '\n');
    append_wrapped(out, h->description, 0, 0);

    if (h->extra_title) {
        g_string_append_printf(out, "\n%s:\n%s", h->extra_title, h->extra);
    }

    g_string_append(out, "\nOptions:\n");
    for (const GOptionEntry *e = h->options; e && e->long_name; e++)
        if (!(e->flags & G_OPTION_FLAG_HIDDEN))
            append_option(out, e);

    if (h->examples && h->examples[0]) {
        g_string_append(out, "\nExamples:\n");
        for (int i = 0; h->examples[i]; i++)
            g_string_append_printf(out, "  %s\n", h->examples[i]);
    }

    g_string_append(out, "\nExit status:\n");
    for (const int *code = h->exit_statuses; code && *code >= 0; code++) {
        for (gsize i = 0; i < G_N_ELEMENTS(exit_meanings); i++) {
            if (exit_meanings[i].code != *code)
                continue;
            g_string_append_printf(out, "  %-4d", *code);
            append_wrapped(out, exit_meanings[i].meaning, 6, 6);
        }
    }
    if (h->exit_note) {
        append_wrapped(out, h->exit_note, 2, 0);
    }

    g_string_append_printf(out, "\nSee also:\n  %s\n", h->see_also ? h->see_also : "qpin(1)");
    return g_string_free(out, FALSE);
}

int qpin_help_print(const QpinHelp *help)
{
    g_autofree char *text = qpin_help_text(help);
    g_autoptr(GError) error = NULL;
    if (!qpin_stream_write(stdout, text, &error)) {
        qpin_err("%s", error->message);
        return QPIN_EXIT_FAILURE;
    }
    return QPIN_EXIT_OK;
}
