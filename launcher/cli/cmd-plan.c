/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin plan — start QEMU paused, compute and print the map, quit QEMU; nothing is pinned. */
#include "qpin-run.h"
#include "qpin-options.h"
#include "qpin-output.h"
#include "qpin-cli.h"

int qpin_cmd_plan(int argc, char **argv)
{
    int code = QPIN_EXIT_OK;
    g_autoptr(QpinOptions) opt = qpin_output_options(QPIN_COMMAND_PLAN, argc, argv, &code);
    return opt ? qpin_launch(opt) : code;
}
