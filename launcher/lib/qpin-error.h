/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the launcher library's error domain. Codes say what went wrong, in the library's own
 * terms; only the command line turns them into exit statuses (launcher/cli/exit.c). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define QPIN_ERROR qpin_error_quark()
GQuark qpin_error_quark(void);

typedef enum {
    QPIN_ERROR_FAILED,      /* anything else: an output that could not be written ... */
    QPIN_ERROR_USAGE,       /* a bad request: options, config file, --numa, QEMU command line */
    QPIN_ERROR_HOST,        /* the host (or a --sysroot tree) could not be read */
    QPIN_ERROR_QEMU_START,  /* QEMU could not be executed, or ended before its monitor spoke */
    QPIN_ERROR_QMP,         /* the QMP connection or protocol failed, or a deadline passed */
    QPIN_ERROR_QMP_COMMAND, /* QEMU answered a QMP command with an error */
    QPIN_ERROR_MAP,         /* the map does not fit the host or the allowed CPUs */
    QPIN_ERROR_PIN,         /* a thread could not be pinned, read back, or proven QEMU's */
    QPIN_ERROR_PREFLIGHT,   /* the host cannot hold the guest memory */
    QPIN_ERROR_MEMORY,      /* guest memory landed on the wrong host node */
    QPIN_ERROR_INTERRUPTED, /* a terminating signal ended the work */
    QPIN_ERROR_RESUMED,     /* someone else resumed the guest before qpin had pinned it */
    QPIN_ERROR_CHECK,       /* the host audit found a failed check (run --check=strict) */
} QpinErrorCode;

/* Wraps @src (taken) into a new QPIN_ERROR with @code, keeping its message, in *@dest; a
 * QPIN_ERROR is passed on as it is. */
void qpin_error_propagate(GError **dest, GError *src, QpinErrorCode code);

G_END_DECLS
