/* qpin — command dispatch. */
#include "qpin.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

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

static void usage(FILE *out)
{
    fprintf(out, "Usage: qpin COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        fprintf(out, "  %-6s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'qpin COMMAND --help' for the options of a command.\n");
}

int main(int argc, char **argv)
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
    if (!strcmp(argv[1], "--version")) {
        printf("qpin %s\n", QPIN_VERSION);
        return QPIN_EXIT_OK;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    qpin_err("unknown command '%s' (expected one of: run, plan, pin, host, qmp)", argv[1]);
    return QPIN_EXIT_USAGE;
}
