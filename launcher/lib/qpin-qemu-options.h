/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — QEMU's command-line options: which names QEMU knows and which of them read the next
 * argument as their value. The table is generated from QEMU's own qemu-options.hx of several
 * versions by scripts/gen-qemu-options (see qemu-options.c); `scripts/gen-qemu-options --check
 * qemu-system-x86_64` compares it with an installed QEMU (7.2.22 of Debian 12: all 121 of its
 * options in the table and agreeing). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    const char *name; /* without leading dashes: "m", "append", "async-teardown" */
    gboolean has_arg; /* QEMU takes the next argument as the value, whatever it looks like */
} QpinQemuOption;

/* The option @name (without leading dashes) of QEMU 7.2 or a later QEMU, or NULL when none of
 * them has it. */
const QpinQemuOption *qpin_qemu_option_lookup(const char *name);

G_END_DECLS
