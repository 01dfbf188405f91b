/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the one layout of every `--help`: usage, description, options, examples, exit
 * statuses, see also.
 *
 * A command adopts it with a few lines: a static QpinHelp naming its usage, a paragraph, its
 * GOptionEntry table (the same one it parses with; turn GOption's own --help off with
 * g_option_context_set_help_enabled(ctx, FALSE) and add {"help", 'h', ...} as a plain flag),
 * examples, the exit statuses it can return (codes of qpin-cli.h, -1 ends the list) and its
 * man page; when --help was given it returns qpin_help_print(&help). For example:
 *
 *     static const int exits[] = {QPIN_EXIT_OK, QPIN_EXIT_USAGE, QPIN_EXIT_CHECK, -1};
 *     static const char *const examples[] = {"qpin check", "qpin check --json", NULL};
 *     QpinHelp help = {.command = "check", .usage = "[OPTIONS]",
 *                      .description = "Checks ...", .options = entries,
 *                      .examples = examples, .exit_statuses = exits,
 *                      .see_also = "qpin(1), qpin-host(1)"};
 *     if (want_help)
 *         return qpin_help_print(&help);
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    const char *command;             /* "plan"; NULL for qpin itself */
    const char *usage;               /* what follows "qpin COMMAND"; lines separated by '\n', a
                                      * line starting with a space continues the one before */
    const char *description;         /* one paragraph, wrapped to 80 columns */
    const GOptionEntry *options;     /* ends with {NULL}; G_OPTION_FLAG_HIDDEN ones are left out */
    const char *const *examples;     /* NULL-terminated command lines */
    const int *exit_statuses;        /* exit codes of qpin-cli.h, ending with -1 */
    const char *exit_note;           /* a last line for the exit statuses, or NULL */
    const char *see_also;            /* "qpin(1), qpin-run(1)" */
    const char *extra_title, *extra; /* a section of its own ("Commands"), or NULL */
} QpinHelp;

/* The help text of @help, in the one layout. */
char *qpin_help_text(const QpinHelp *help);

/* Prints qpin_help_text() to stdout and returns the exit status: QPIN_EXIT_OK, or
 * QPIN_EXIT_FAILURE when it cannot be written (said on stderr). */
int qpin_help_print(const QpinHelp *help);

G_END_DECLS
