/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin plan — start QEMU paused, compute and print the map, quit QEMU; nothing is pinned. */
#include "qpin-run.h"
#include "qpin-options.h"
#include "qpin-output.h"
#include "qpin-cli.h"

static const char *const examples[] = {
    "qpin plan --pin auto -- qemu-system-x86_64 -smp 4",
    "qpin plan --sysroot tests/fixtures/hosts/xeon-phi-7250 --pin auto \\",
    "    --show grid -- qemu-system-x86_64 -smp 240,sockets=1,cores=60,threads=4",
    "qpin plan --config /etc/qpin/vm.ini --json",
    NULL,
};
static const int exits[] = {
    QPIN_EXIT_OK,
    QPIN_EXIT_FAILURE,
    QPIN_EXIT_USAGE,
    QPIN_EXIT_HOST,
    QPIN_EXIT_QEMU_START,
    QPIN_EXIT_QMP,
    QPIN_EXIT_QMP_COMMAND,
    QPIN_EXIT_MAP,
    QPIN_EXIT_PREFLIGHT,
    QPIN_EXIT_INTERRUPTED,
    -1,
};
static const QpinHelp help = {
    .command = "plan",
    .usage = "[OPTIONS] -- QEMU [QEMU-ARGS...]\n--config FILE [OPTIONS]",
    .description = "Goes through the steps of qpin run up to the map: starts QEMU paused, asks it "
                   "for its vCPUs and iothreads, computes and validates the map and the guest "
                   "memory plan, then quits QEMU. Nothing is pinned. Prints the plan (the vCPU "
                   "table or the host grid, the memory plan and its preflight) or, with --json, "
                   "the JSON document. With --sysroot the host is a recorded tree.",
    .examples = examples,
    .exit_statuses = exits,
    .see_also = "qpin(1), qpin-run(1), qpin-host(1)",
};

int qpin_cmd_plan(int argc, char **argv)
{
    int code = QPIN_EXIT_OK;
    g_autoptr(QpinOptions) opt = qpin_output_options(QPIN_COMMAND_PLAN, argc, argv, &help, &code);
    return opt ? qpin_launch(opt) : code;
}
