/* qpin plan — start QEMU paused, compute and print the map, quit QEMU; nothing is pinned. */
#include "error.h"
#include "launch.h"
#include "options.h"
#include "qpin.h"

#include <stdio.h>

int qpin_cmd_plan(int argc, char **argv)
{
    GError *error = NULL;
    g_autoptr(QpinOptions) opt = qpin_options_parse(QPIN_COMMAND_PLAN, argc, argv, &error);
    if (!opt) {
        qpin_err("%s", error->message);
        int code = qpin_error_exit_code(error, QPIN_EXIT_USAGE);
        g_error_free(error);
        return code;
    }
    if (opt->help) {
        fputs(opt->help, stdout);
        return QPIN_EXIT_OK;
    }
    return qpin_launch(opt);
}
