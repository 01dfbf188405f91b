/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the program: shared declarations of the launcher. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Exit codes of qpin's own failures. Once a guest has started (`qpin run` after `cont`), qpin
 * exits with QEMU's own status instead (128+N when QEMU died of signal N), so these values are
 * chosen not to collide with QEMU's 0/1 or with signal statuses. Documented in README.md. */
enum {
    QPIN_EXIT_OK = 0,
    QPIN_EXIT_FAILURE = 1,      /* generic failure of a command that is not `run` */
    QPIN_EXIT_USAGE = 2,        /* bad command line or config file */
    QPIN_EXIT_HOST = 10,        /* the host (or --sysroot tree) could not be read */
    QPIN_EXIT_QEMU_START = 11,  /* QEMU could not be started or exited before QMP was ready */
    QPIN_EXIT_QMP = 12,         /* QMP connection or protocol failure (incl. timeouts) */
    QPIN_EXIT_QMP_COMMAND = 13, /* QEMU answered a QMP command with an error */
    QPIN_EXIT_MAP = 14,         /* the map is invalid or does not fit the host/allowed CPUs */
    QPIN_EXIT_PIN = 15,         /* applying or verifying affinity failed */
    QPIN_EXIT_PREFLIGHT = 16,   /* the host cannot hold the requested guest memory */
    QPIN_EXIT_MEMORY = 17,      /* guest memory landed on the wrong host node */
    QPIN_EXIT_INTERRUPTED = 18, /* a signal stopped qpin before the guest started */
    QPIN_EXIT_RESUMED = 19,     /* someone else resumed the guest before qpin had pinned it */
};

/* Subcommands: each gets argv starting at the subcommand name. */
int qpin_cmd_host(int argc, char **argv);
int qpin_cmd_qmp(int argc, char **argv);
int qpin_cmd_run(int argc, char **argv);
int qpin_cmd_plan(int argc, char **argv);
int qpin_cmd_pin(int argc, char **argv);
int qpin_cmd_top(int argc, char **argv);

/* The exit status for @error: the one place where the libraries' error codes (QPIN_ERROR,
 * QMP_ERROR, QMP_COMMAND_ERROR) become qpin's documented exit
 * statuses; @fallback for NULL or an error of another domain. */
int qpin_exit_status(const GError *error, int fallback);

/* Prints "qpin: MESSAGE" to stderr. */
void qpin_err(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
void qpin_warn(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

G_END_DECLS
