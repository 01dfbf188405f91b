/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin check — audit the host's tuning against a guest's map, with the fix for each gap. The
 * map comes from the options of `qpin plan` (QEMU is started paused, the map computed, QEMU
 * quit, nothing pinned), from a plan or run report (--from), from a running QEMU (--pid), or is
 * given directly (--vcpu-cpus). */
#include "qpin-cli.h"
#include "qpin-audit.h"
#include "qpin-error.h"
#include "qpin-help.h"
#include "qpin-options.h"
#include "qpin-output-check.h"
#include "qpin-output.h"
#include "qpin-run.h"

#include <stdio.h>
#include <string.h>

/* check's own options, for --help only: check parses its command line by hand, because
 * everything it does not know belongs to `qpin plan`. */
static const GOptionEntry own_options[] = {
    {"vcpu-cpus", 0, 0, G_OPTION_ARG_STRING, NULL, "Host CPUs the vCPU threads run on", "CPUS"},
    {"housekeeping-cpus", 0, 0, G_OPTION_ARG_STRING, NULL,
     "CPUs of the emulator threads and iothreads (default: the online CPUs without vCPUs that "
     "are neither isolated nor nohz_full)",
     "CPUS"},
    {"rt", 0, 0, G_OPTION_ARG_NONE, NULL, "The vCPUs run SCHED_FIFO or SCHED_RR", NULL},
    {"hugepages", 0, 0, G_OPTION_ARG_STRING_ARRAY, NULL,
     "SIZE of guest memory in hugepages on host NODE (PAGESIZE 2M, the default, or 1G; "
     "repeatable)",
     "SIZE@NODE[:PAGESIZE]"},
    {"from", 0, 0, G_OPTION_ARG_FILENAME, NULL, "The map of a plan --json or run --report file",
     "FILE"},
    {"pid", 0, 0, G_OPTION_ARG_STRING, NULL, "The current map of a running QEMU", "PID"},
    {"sysroot", 0, 0, G_OPTION_ARG_FILENAME, NULL,
     "Audit the host tree under DIR, not this machine", "DIR"},
    {"json", 0, 0, G_OPTION_ARG_NONE, NULL, "Print the audit as one JSON document", NULL},
    {"help", 'h', 0, G_OPTION_ARG_NONE, NULL, "Show this help", NULL},
};

/* The options of `qpin plan` that shape the map check audits; the rest of plan's options
 * (output, reports) mean nothing to check. */
static const char *const plan_shown[] = {
    "pin",    "emulator-pin", "iothread-pin", "vcpu-sched",    "reserve", "allow-overcommit",
    "numa",   "numa-dist",    "mirror",       "mirror-memory", "config",  "qmp-timeout",
    NULL,
};

static const char *const examples[] = {
    "qpin check --vcpu-cpus 2-63,66-127 --housekeeping-cpus 0-1,64-65",
    "qpin check --from /run/qpin/vm.json",
    "qpin check --pid \"$(pgrep -f 'qemu-system.*vm1')\" --json",
    "qpin check --pin auto --numa 8G@0:hugepages=1G -- qemu-system-x86_64 -smp 8",
    NULL,
};
static const int exits[] = {
    QPIN_EXIT_OK,          QPIN_EXIT_FAILURE, QPIN_EXIT_USAGE,       QPIN_EXIT_HOST,
    QPIN_EXIT_QEMU_START,  QPIN_EXIT_QMP,     QPIN_EXIT_QMP_COMMAND, QPIN_EXIT_MAP,
    QPIN_EXIT_PREFLIGHT,   QPIN_EXIT_CHECK,   -1,
};

static int print_help(void)
{
    /* check's options, then plan's own entries for those that shape the map, so that their
     * texts are the ones `qpin plan --help` shows. */
    g_autofree GOptionEntry *plan = qpin_options_entries(QPIN_COMMAND_PLAN);
    g_autoptr(GArray) entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
    g_array_append_vals(entries, own_options, G_N_ELEMENTS(own_options) - 1);
    for (const GOptionEntry *e = plan; e->long_name; e++)
        if (g_strv_contains(plan_shown, e->long_name))
            g_array_append_val(entries, *e);
    g_array_append_val(entries, own_options[G_N_ELEMENTS(own_options) - 1]);
    const QpinHelp help = {
        .command = "check",
        .usage = "[OPTIONS] --vcpu-cpus CPUS [--housekeeping-cpus CPUS] [--rt]\n"
                 "    [--hugepages SIZE@NODE[:PAGESIZE]...]\n"
                 "[OPTIONS] --from FILE\n"
                 "[OPTIONS] --pid PID\n"
                 "[OPTIONS] [PLAN-OPTIONS] -- QEMU [QEMU-ARGS...]",
        .description = "Audits the host's tuning (isolation, nohz_full, RCU, IRQs, kthreads, "
                       "workqueues, memory, frequency, idle states, SMT) against a guest's map "
                       "and prints, for each gap, the command that closes it. The map is given "
                       "directly (--vcpu-cpus), read from a plan or run report (--from), from a "
                       "running QEMU (--pid), or computed as qpin plan does from the plan "
                       "options and the QEMU command line (QEMU is started paused, then quit). "
                       "Nothing on the host is changed.",
        .options = (const GOptionEntry *)(void *)entries->data,
        .examples = examples,
        .exit_statuses = exits,
        .exit_note = "Status 20 when a check fails; warn and unknown checks leave it 0.",
        .see_also = "qpin(1), qpin-plan(1), qpin-run(1), qpin-host(1)",
    };
    return qpin_help_print(&help);
}

/* The options of `qpin plan` that take a value as the next word: their value is passed on
 * with them, never read as an option of check. */
static const char *const plan_valued[] = {
    "--pin",  "--emulator-pin", "--iothread-pin", "--vcpu-sched", "--reserve",
    "--numa", "--config",       "--qmp-timeout",  "--report",     NULL,
};

typedef struct {
    char *from, *pid, *vcpu_cpus, *hk_cpus, *sysroot;
    GPtrArray *hugepages; /* char* */
    gboolean rt, json, help;
    GPtrArray *plan_args; /* char*, borrowed; [0] = "check" */
} CheckCli;

/* Takes the value of option @name at argv[*i] ("--name=V" or "--name V"). */
static gboolean take_value(const char *name, int argc, char **argv, int *i, char **dest,
                           GError **error)
{
    const char *arg = argv[*i];
    gsize n = strlen(name);
    const char *value = NULL;
    if (arg[n] == '=')
        value = arg + n + 1;
    else if (*i + 1 < argc)
        value = argv[++*i];
    if (!value) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "check: option %s needs a value (see 'qpin check --help')", name);
        return FALSE;
    }
    if (*dest) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "check: option %s is given twice", name);
        return FALSE;
    }
    *dest = g_strdup(value);
    return TRUE;
}

static gboolean is_option(const char *arg, const char *name)
{
    gsize n = strlen(name);
    return !strncmp(arg, name, n) && (arg[n] == '\0' || arg[n] == '=');
}

static gboolean parse_cli(int argc, char **argv, CheckCli *cli, GError **error)
{
    cli->plan_args = g_ptr_array_new();
    cli->hugepages = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(cli->plan_args, "check");
    int i;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--"))
            break;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            cli->help = TRUE;
        } else if (!strcmp(a, "--json")) {
            cli->json = TRUE;
        } else if (!strcmp(a, "--rt")) {
            cli->rt = TRUE;
        } else if (is_option(a, "--from")) {
            if (!take_value("--from", argc, argv, &i, &cli->from, error))
                return FALSE;
        } else if (is_option(a, "--pid")) {
            if (!take_value("--pid", argc, argv, &i, &cli->pid, error))
                return FALSE;
        } else if (is_option(a, "--vcpu-cpus")) {
            if (!take_value("--vcpu-cpus", argc, argv, &i, &cli->vcpu_cpus, error))
                return FALSE;
        } else if (is_option(a, "--housekeeping-cpus")) {
            if (!take_value("--housekeeping-cpus", argc, argv, &i, &cli->hk_cpus, error))
                return FALSE;
        } else if (is_option(a, "--sysroot")) {
            if (!take_value("--sysroot", argc, argv, &i, &cli->sysroot, error))
                return FALSE;
        } else if (is_option(a, "--hugepages")) {
            char *v = NULL;
            if (!take_value("--hugepages", argc, argv, &i, &v, error))
                return FALSE;
            g_ptr_array_add(cli->hugepages, v);
        } else {
            /* Everything else belongs to plan, which says what is wrong with it. */
            g_ptr_array_add(cli->plan_args, argv[i]);
            for (int k = 0; plan_valued[k]; k++)
                if (!strcmp(a, plan_valued[k]) && i + 1 < argc)
                    g_ptr_array_add(cli->plan_args, argv[++i]);
        }
    }
    if (i < argc) {
        g_ptr_array_add(cli->plan_args, "--");
        for (i++; i < argc; i++)
            g_ptr_array_add(cli->plan_args, argv[i]);
    }
    return TRUE;
}

static void cli_clear(CheckCli *cli)
{
    g_free(cli->from);
    g_free(cli->pid);
    g_free(cli->vcpu_cpus);
    g_free(cli->hk_cpus);
    g_free(cli->sysroot);
    if (cli->hugepages)
        g_ptr_array_unref(cli->hugepages);
    if (cli->plan_args)
        g_ptr_array_unref(cli->plan_args);
}

static QpinAuditMap *map_direct(const CheckCli *cli, GError **error)
{
    g_autoptr(QpinAuditMap) map = qpin_audit_map_new();
    GError *local = NULL;
    map->vcpu_cpus = topo_cpuset_parse(cli->vcpu_cpus, &local);
    if (!map->vcpu_cpus || topo_cpuset_is_empty(map->vcpu_cpus)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--vcpu-cpus '%s': %s (expected a cpulist such as 2-5,8)", cli->vcpu_cpus,
                    local ? local->message : "no CPU");
        g_clear_error(&local);
        return NULL;
    }
    if (cli->hk_cpus) {
        map->housekeeping_cpus = topo_cpuset_parse(cli->hk_cpus, &local);
        if (!map->housekeeping_cpus || topo_cpuset_is_empty(map->housekeeping_cpus)) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "--housekeeping-cpus '%s': %s (expected a cpulist such as 0-1)",
                        cli->hk_cpus, local ? local->message : "no CPU");
            g_clear_error(&local);
            return NULL;
        }
    }
    map->rt = cli->rt;
    for (guint i = 0; i < cli->hugepages->len; i++)
        if (!qpin_audit_map_add_hugepages(map, cli->hugepages->pdata[i], error))
            return NULL;
    map->source = g_strdup("--vcpu-cpus");
    return g_steal_pointer(&map);
}

static gint64 parse_pid(const char *text, GError **error)
{
    char *end = NULL;
    gint64 pid = g_ascii_isdigit(text[0]) ? g_ascii_strtoll(text, &end, 10) : 0;
    if (!end || *end || pid < 1 || pid > G_MAXINT) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "--pid '%s': expected a process id, a decimal number from 1 to %d", text,
                    G_MAXINT);
        return 0;
    }
    return pid;
}

/* Through `qpin plan`: QEMU started paused, the map computed, QEMU quit, then the audit. */
static int check_through_plan(CheckCli *cli)
{
    g_autoptr(GPtrArray) args = g_ptr_array_new();
    for (guint i = 0; i < cli->plan_args->len; i++)
        g_ptr_array_add(args, cli->plan_args->pdata[i]);
    if (cli->sysroot) {
        g_ptr_array_insert(args, 1, "--sysroot");
        g_ptr_array_insert(args, 2, cli->sysroot);
    }
    g_ptr_array_add(args, NULL);
    int code = QPIN_EXIT_OK;
    g_autoptr(QpinOptions) opt =
        qpin_output_options(QPIN_COMMAND_PLAN, (int)args->len - 1, (char **)args->pdata, NULL,
                            &code);
    if (!opt)
        return code;
    opt->check = QPIN_CHECK_MODE_ONLY;
    opt->json = cli->json;
    /* The plan's own table and report are not what check prints. */
    opt->quiet = TRUE;
    g_clear_pointer(&opt->report, g_free);
    return qpin_launch(opt);
}

/* The audit of a map given without QEMU. */
static int check_map(CheckCli *cli)
{
    GError *error = NULL;
    g_autoptr(QpinAuditMap) map = NULL;
    if (cli->vcpu_cpus) {
        map = map_direct(cli, &error);
    } else if (cli->from) {
        map = qpin_audit_map_from_report(cli->from, &error);
    } else {
        gint64 pid = parse_pid(cli->pid, &error);
        /* A running QEMU is one of this machine's processes, or one of the sysroot's. */
        map = pid ? qpin_audit_map_from_pid(cli->sysroot, pid, &error) : NULL;
    }
    if (!map)
        return qpin_output_error(error, QPIN_EXIT_USAGE);
    g_autoptr(QpinAuditResult) result = qpin_audit_run(cli->sysroot, NULL, map, &error);
    if (!result)
        return qpin_output_error(error, QPIN_EXIT_FAILURE);
    if (!qpin_output_check(result, map->source, cli->json))
        return QPIN_EXIT_FAILURE;
    return result->verdict == QPIN_AUDIT_FAIL ? QPIN_EXIT_CHECK : QPIN_EXIT_OK;
}

static int check_command(CheckCli *cli)
{
    GError *error = NULL;
    if (cli->help)
        return print_help();
    gboolean plan = cli->plan_args->len > 1;
    guint sources = (cli->from != NULL) + (cli->pid != NULL) + (cli->vcpu_cpus != NULL) + plan;
    if (sources != 1) {
        g_set_error(&error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "check: %s (expected exactly one of --vcpu-cpus CPUS, --from FILE, --pid PID, "
                    "or plan options and -- QEMU ...)",
                    sources ? "more than one map is given" : "no map is given");
        return qpin_output_error(error, QPIN_EXIT_USAGE);
    }
    if (!cli->vcpu_cpus && (cli->hk_cpus || cli->rt || cli->hugepages->len)) {
        g_set_error_literal(&error, QPIN_ERROR, QPIN_ERROR_USAGE,
                            "check: --housekeeping-cpus, --rt and --hugepages describe a map "
                            "given with --vcpu-cpus");
        return qpin_output_error(error, QPIN_EXIT_USAGE);
    }
    return plan ? check_through_plan(cli) : check_map(cli);
}

int qpin_cmd_check(int argc, char **argv)
{
    CheckCli cli = {0};
    GError *error = NULL;
    int status = parse_cli(argc, argv, &cli, &error) ? check_command(&cli)
                                                     : qpin_output_error(error, QPIN_EXIT_USAGE);
    cli_clear(&cli);
    return status;
}
