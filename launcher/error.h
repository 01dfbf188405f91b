/* qpin — the launcher's error domain: the code of a QPIN_ERROR is the exit status (QPIN_EXIT_*)
 * the failure leads to, so a command can return error->code. */
#pragma once

#include "qpin.h"

#include <glib.h>

G_BEGIN_DECLS

#define QPIN_ERROR qpin_error_quark()
GQuark qpin_error_quark(void);

/* The exit status for @error: its code for a QPIN_ERROR, else @fallback. */
int qpin_error_exit_code(const GError *error, int fallback);

/* Wraps @src (taken) into a new QPIN_ERROR with exit code @code, keeping its message, in
 * *@dest. */
void qpin_error_propagate(GError **dest, GError *src, int code);

G_END_DECLS
