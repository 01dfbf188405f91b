/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin check — audit the host's tuning against a guest's map, with the fix for each gap. The
 * map comes from the options of `qpin plan` (QEMU is started paused, the map computed, QEMU
 * quit, nothing pinned), from a plan or run report (--from), from a running QEMU (--pid), or is
 * given directly (--vcpu-cpus). */
#include "qpin-cli.h"
#include "qpin-audit.h"
#include "qpin-error.h"
#include "qpin-options.h"
#include "qpin-output-check.h"
#include "qpin-output.h"
#include "qpin-run.h"

#include <stdio.h>
#include <string.h>

static const char help_text[] =
    "Usage:\n"
    "  qpin check [OPTIONS] --vcpu-cpus CPUS [--housekeeping-cpus CPUS] [--rt]\n"
    "             [--hugepages SIZE@NODE[:PAGESIZE]...]\n"
    "  qpin check [OPTIONS] --from FILE\n"
    "  qpin check [OPTIONS] --pid PID\n"
    "  qpin check [OPTIONS] [PLAN-OPTIONS] -- QEMU [QEMU-ARGS...]\n"
    "\n"
    "Audit the host's tuning (isolation, nohz_full, RCU, IRQs, kthreads, workqueues,\n"
    "memory, frequency, idle states, SMT) against a guest's map, with the fix for\n"
    "each gap. Nothing on the host is changed. Exit status 0 when no check fails, 20\n"
    "when one does.\n"
    "\n"
    "Map options:\n"
    "  --vcpu-cpus CPUS           Host CPUs the vCPU threads run on\n"
    "  --housekeeping-cpus CPUS   CPUs of the emulator threads and iothreads\n"
    "                             (default: the online CPUs without vCPUs that\n"
    "                             are neither isolated nor nohz_full)\n"
    "  --rt                       The vCPUs run SCHED_FIFO or SCHED_RR\n"
    "  --hugepages SIZE@NODE[:PAGESIZE]\n"
    "                             SIZE of guest memory in hugepages on host NODE\n"
    "                             (PAGESIZE 2M, the default, or 1G; repeatable)\n"
    "  --from FILE                The map of a plan --json or run --report file\n"
    "  --pid PID                  The current map of a running QEMU\n"
    "\n"
    "Plan options (the map `qpin plan` computes; QEMU is started paused, then quit):\n"
    "  --pin MAP                  auto, a cpulist, VCPUS@CPUS;... or expr:EXPR\n"
    "  --emulator-pin CPUS        CPUs of the emulator threads, or auto\n"
    "  --iothread-pin ID=CPUS     CPUs of the iothread object ID (repeatable)\n"
    "  --vcpu-sched POLICY[:PRIO] vCPU scheduling policy (fifo, rr: real-time)\n"
    "  --numa SPEC                Guest NUMA node (repeatable), as in qpin plan\n"
    "  --reserve CPUS             CPUs automatic placement leaves to others\n"
    "  --allow-overcommit         Let automatic placement share host CPUs\n"
    "  --config FILE              Read settings from FILE (INI)\n"
    "  --qmp-timeout SECONDS      Seconds each QMP command may take (default 10)\n"
    "  -- QEMU [QEMU-ARGS...]     The QEMU command line\n"
    "\n"
    "Other options:\n"
    "  --sysroot DIR              Audit the host tree under DIR, not this machine\n"
    "  --json                     Print the audit as JSON\n"
    "  -h, --help                 Show this help\n";

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
        return fputs(help_text, stdout) == EOF ? QPIN_EXIT_FAILURE : QPIN_EXIT_OK;
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
