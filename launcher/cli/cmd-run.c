/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin run — launch QEMU paused, pin, verify, cont, supervise. */
#include "qpin-run.h"
#include "qpin-options.h"
#include "qpin-output.h"
#include "qpin-cli.h"

static const char *const examples[] = {
    "qpin run --pin auto --emulator-pin auto -- qemu-system-x86_64 -smp 4 disk.img",
    "qpin run --pin 2,70,138,206 --numa 8G@0:prealloc=on -- qemu-system-x86_64 \\",
    "    -smp 4",
    "qpin run --config /etc/qpin/vm.ini",
    NULL,
};
static const int exits[] = {
    QPIN_EXIT_OK,          QPIN_EXIT_FAILURE,
    QPIN_EXIT_USAGE,       QPIN_EXIT_HOST,
    QPIN_EXIT_QEMU_START,  QPIN_EXIT_QMP,
    QPIN_EXIT_QMP_COMMAND, QPIN_EXIT_MAP,
    QPIN_EXIT_PIN,         QPIN_EXIT_PREFLIGHT,
    QPIN_EXIT_MEMORY,      QPIN_EXIT_INTERRUPTED,
    QPIN_EXIT_RESUMED,     QPIN_EXIT_CHECK,
    -1,
};
static const QpinHelp help = {
    .command = "run",
    .usage = "[OPTIONS] -- QEMU [QEMU-ARGS...]\n--config FILE [OPTIONS]",
    .description = "Starts QEMU paused with the guest NUMA memory qpin generates, asks it over QMP "
                   "for its vCPU threads, maps the vCPUs to host CPUs, pins the vCPU, emulator and "
                   "I/O threads, proves the affinity and the memory placement, and only then "
                   "resumes the guest; then supervises QEMU, forwarding signals, and exits with "
                   "its status. The table of what was pinned goes to standard error.",
    .examples = examples,
    .exit_statuses = exits,
    .exit_note = "Once the guest runs, qpin exits with QEMU's own status (128+N when QEMU died of "
                 "signal N).",
    .see_also = "qpin(1), qpin-plan(1), qpin-pin(1), qpin-host(1)",
};

int qpin_cmd_run(int argc, char **argv)
{
    int code = QPIN_EXIT_OK;
    g_autoptr(QpinOptions) opt = qpin_output_options(QPIN_COMMAND_RUN, argc, argv, &help, &code);
    return opt ? qpin_launch(opt) : code;
}
