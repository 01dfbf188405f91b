/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin run — launch QEMU paused, pin, verify, cont, supervise. */
#include "qpin-run.h"
#include "qpin-options.h"
#include "qpin-output.h"
#include "qpin-cli.h"

int qpin_cmd_run(int argc, char **argv)
{
    int code = QPIN_EXIT_OK;
    g_autoptr(QpinOptions) opt = qpin_output_options(QPIN_COMMAND_RUN, argc, argv, &code);
    return opt ? qpin_launch(opt) : code;
}
