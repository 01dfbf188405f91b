/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — launching QEMU for run and plan: build the argv, spawn paused with the private QMP
 * channel, wait for readiness, query, map; then either pin, verify, cont and supervise (run)
 * or print the plan and quit QEMU (plan). */
#pragma once

#include "qpin-options.h"

G_BEGIN_DECLS

/* Runs the whole flow of @opt->command (QPIN_COMMAND_RUN or QPIN_COMMAND_PLAN); returns qpin's
 * exit status. */
int qpin_launch(QpinOptions *opt);

G_END_DECLS
