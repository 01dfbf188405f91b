/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — command dispatch. */
#include "qpin-cli.h"
#include "qpin-help.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} QpinCommand;

static const QpinCommand commands[] = {
    {"run", qpin_cmd_run, "launch QEMU paused, pin, verify, cont, supervise"},
    {"plan", qpin_cmd_plan, "compute and print the map without pinning"},
    {"pin", qpin_cmd_pin, "pin an already running QEMU through its QMP socket"},
    {"host", qpin_cmd_host, "show what qpin sees of the host"},
    {"qmp", qpin_cmd_qmp, "send one raw QMP command"},
    {"top", qpin_cmd_top, "watch a pinned guest's vCPUs live against its plan"},
    {"check", qpin_cmd_check, "audit the host's tuning against a guest's map"},
};

void qpin_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "qpin: %s\n", msg);
}

void qpin_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    fprintf(stderr, "qpin: warning: %s\n", msg);
}

static char *usage_text(void)
{
    static const GOptionEntry options[] = {
        {"help", 'h', 0, G_OPTION_ARG_NONE, NULL, "Show this help", NULL},
        {"version", 'V', 0, G_OPTION_ARG_NONE, NULL, "Print the version of qpin", NULL},
        {NULL},
    };
    static const char *const examples[] = {
        "qpin host",
        "qpin plan --pin auto -- qemu-system-x86_64 -smp 4",
        "qpin run --config /etc/qpin/vm.ini",
        "qpin plan --help",
        NULL,
    };
    static const int exits[] = {QPIN_EXIT_OK, QPIN_EXIT_USAGE, -1};
    g_autoptr(GString) list = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        g_string_append_printf(list, "  %-6s %s\n", commands[i].name, commands[i].summary);
    g_string_append(list, "Run 'qpin COMMAND --help' for the options of a command.\n");
    QpinHelp help = {
        .usage = "COMMAND [OPTIONS]\n--help | --version",
        .description = "Pins the vCPU, emulator and I/O threads of QEMU guests to host CPUs and "
                       "binds their memory to host NUMA nodes, proving both before the guest "
                       "runs.",
        .options = options,
        .examples = examples,
        .exit_statuses = exits,
        .exit_note = "Otherwise the status of the command (see its --help).",
        .see_also = "qpin-run(1), qpin-plan(1), qpin-pin(1), qpin-host(1), qpin-qmp(1)",
        .extra_title = "Commands",
        .extra = list->str,
    };
    return qpin_help_text(&help);
}

static void usage(FILE *out)
{
    g_autofree char *text = usage_text();
    fputs(text, out);
}

/* A descriptor among 0, 1 and 2 that qpin was started without would be the next one qpin
 * opens (the QMP socket, the signalfd), and a later printf would write into it: each is
 * held by /dev/null instead. */
static void open_standard_fds(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        /* The lower descriptors are open, so this one is the lowest free. */
        int null = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
        if (null < 0) {
            int e = errno;
            fprintf(stderr, "qpin: descriptor %d is closed and /dev/null cannot be opened: %s\n",
                    fd, g_strerror(e));
            exit(QPIN_EXIT_FAILURE);
        }
        if (null != fd) {
            dup2(null, fd);
            close(null);
        }
    }
}

/* Like gnulib's close_stdout: output still buffered in stdout is only known to be written
 * once it is flushed and closed, so a full disk or a closed pipe shows here; @status is
 * what the command returned. */
static int close_stdout(int status)
{
    errno = 0;
    gboolean failed = fflush(stdout) == EOF || ferror(stdout);
    int e = errno;
    if (fclose(stdout) == EOF && !failed) {
        failed = TRUE;
        e = errno;
    }
    /* A command that already failed has said why; its status stays. */
    if (!failed || status != QPIN_EXIT_OK)
        return status;
    if (e)
        qpin_err("cannot write to standard output: %s", g_strerror(e));
    else
        qpin_err("cannot write to standard output");
    return QPIN_EXIT_FAILURE;
}

static int run_command(int argc, char **argv)
{
    /* Only the character set comes from the environment: GOption converts string arguments
     * from it to UTF-8, and g_print() converts back. Every category is loaded from its own
     * file, so LC_ALL costs about 0.3 ms per run under a UTF-8 locale against 0.1 ms for
     * LC_CTYPE alone; qpin's messages are English and its numbers must stay in the "C" form
     * (a decimal comma would break "1.5 GiB" and machine-read output), so nothing else is
     * wanted from the locale anyway. */
    setlocale(LC_CTYPE, "");
    if (argc < 2) {
        usage(stderr);
        return QPIN_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return QPIN_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
        printf("qpin %s\n", QPIN_VERSION);
        return QPIN_EXIT_OK;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    qpin_err("unknown command '%s' (expected one of: run, plan, pin, host, qmp, top, check)", argv[1]);
    return QPIN_EXIT_USAGE;
}

int main(int argc, char **argv)
{
    open_standard_fds();
    return close_stdout(run_command(argc, argv));
}
