/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — options of run, plan and pin, see qpin-options.h. */
#include "qpin-options.h"

#include "qpin-error.h"

#include <string.h>

#define RUN  (1u << QPIN_COMMAND_RUN)
#define PLAN (1u << QPIN_COMMAND_PLAN)
#define PIN  (1u << QPIN_COMMAND_PIN)
#define ALL  (RUN | PLAN | PIN)

/* The command line as given, before the config file is merged in. */
typedef struct {
    char *config, *pin, *emulator_pin, *vcpu_sched, *reserve, *report, *sysroot, *qmp, *pid;
    char *kill_timeout, *qmp_timeout, *show;
    char *numa_dist, *mirror, *mirror_memory;
    char **iothread_pin, **numa;
    gboolean allow_overcommit, cont, no_cont, quiet, json, explain, help;
    QpinCheckMode check;
    gboolean bare_metal, reserve_hugepages;
} Cli;

/* --check[=strict]: the value is optional, which GOption offers only to callbacks. */
static gboolean parse_check(const char *name, const char *value, gpointer data, GError **error)
{
    Cli *cli = data;
    if (!value || !*value) {
        cli->check = QPIN_CHECK_MODE_WARN;
    } else if (!strcmp(value, "strict")) {
        cli->check = QPIN_CHECK_MODE_STRICT;
    } else {
        g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "%s=%s: expected --check or --check=strict", name, value);
        return FALSE;
    }
    return TRUE;
}

static void cli_clear(Cli *cli)
{
    g_free(cli->config);
    g_free(cli->pin);
    g_free(cli->emulator_pin);
    g_free(cli->vcpu_sched);
    g_free(cli->reserve);
    g_free(cli->report);
    g_free(cli->sysroot);
    g_free(cli->qmp);
    g_free(cli->pid);
    g_free(cli->kill_timeout);
    g_free(cli->qmp_timeout);
    g_free(cli->numa_dist);
    g_free(cli->mirror);
    g_free(cli->mirror_memory);
    g_free(cli->show);
    g_strfreev(cli->iothread_pin);
    g_strfreev(cli->numa);
}

const char *qpin_command_name(QpinCommandKind command)
{
    switch (command) {
    case QPIN_COMMAND_RUN:
        return "run";
    case QPIN_COMMAND_PLAN:
        return "plan";
    case QPIN_COMMAND_PIN:
        return "pin";
    }
    return "?";
}

static void iothread_pin_free(QpinIothreadPin *pin)
{
    if (!pin)
        return;
    g_free(pin->id);
    g_free(pin->cpus);
    g_free(pin);
}

void qpin_options_free(QpinOptions *options)
{
    if (!options)
        return;
    g_free(options->help);
    g_free(options->config);
    if (options->keyfile)
        g_key_file_unref(options->keyfile);
    g_strfreev(options->qemu_argv);
    g_free(options->pin);
    g_free(options->emulator_pin);
    if (options->iothread_pins)
        g_ptr_array_unref(options->iothread_pins);
    g_free(options->vcpu_sched);
    g_free(options->reserve);
    g_strfreev(options->numa);
    g_free(options->mirror);
    g_free(options->mirror_memory);
    g_free(options->report);
    g_free(options->sysroot);
    g_free(options->qmp);
    g_free(options->show);
    g_free(options);
}

/* Builds the option table of @command; entries point into @cli. */
static GArray *option_entries(QpinCommandKind command, Cli *cli)
{
    const struct {
        guint commands;
        GOptionEntry entry;
    } table[] = {
        {ALL,
         {"config", 0, 0, G_OPTION_ARG_FILENAME, &cli->config,
          "Read settings from FILE (INI); options given here override it", "FILE"}},
        {PIN,
         {"qmp", 0, 0, G_OPTION_ARG_FILENAME, &cli->qmp, "QMP unix socket of the running QEMU",
          "SOCKET"}},
        {PIN,
         {"pid", 0, 0, G_OPTION_ARG_STRING, &cli->pid,
          "QEMU's process id (default: found from the vCPU thread ids)", "PID"}},
        {ALL,
         {"pin", 0, 0, G_OPTION_ARG_STRING, &cli->pin,
          "vCPU map: auto, a cpulist, VCPUS@CPUS;... groups, or expr:EXPR", "MAP"}},
        {ALL,
         {"emulator-pin", 0, 0, G_OPTION_ARG_STRING, &cli->emulator_pin,
          "CPUs of the emulator threads (every thread that is neither vCPU nor iothread), or auto",
          "CPUS"}},
        {ALL,
         {"iothread-pin", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cli->iothread_pin,
          "CPUs of the iothread object ID (repeatable)", "ID=CPUS"}},
        {ALL,
         {"vcpu-sched", 0, 0, G_OPTION_ARG_STRING, &cli->vcpu_sched,
          "Scheduling policy of the vCPU threads: fifo, rr (PRIO 1-99), batch, idle, other",
          "POLICY[:PRIO]"}},
        {ALL,
         {"reserve", 0, 0, G_OPTION_ARG_STRING, &cli->reserve,
          "CPUs automatic placement must leave to others", "CPUS"}},
        {ALL,
         {"allow-overcommit", 0, 0, G_OPTION_ARG_NONE, &cli->allow_overcommit,
          "Let automatic placement share host CPUs between vCPUs when there are too few", NULL}},
        {RUN | PLAN,
         {"numa", 0, 0, G_OPTION_ARG_STRING_ARRAY, &cli->numa,
          "Guest NUMA node N (repeatable, in node order): SIZE[@HOSTNODES][:KEY=VALUE...]",
          "SPEC"}},
        {RUN | PLAN,
         {"numa-dist", 0, 0, G_OPTION_ARG_STRING, &cli->numa_dist,
          "Guest node distances: auto (from the host's, the default) or off (QEMU's default)",
          "auto|off"}},
        {RUN | PLAN,
         {"mirror", 0, 0, G_OPTION_ARG_STRING, &cli->mirror,
          "Shape the guest like host nodes N (or the whole host): -smp, NUMA nodes, distances "
          "and the 1:1 map",
          "node=N[,N...]|host"}},
        {RUN | PLAN,
         {"mirror-memory", 0, 0, G_OPTION_ARG_STRING, &cli->mirror_memory,
          "Memory of each mirrored guest node (with :split, SIZE in all), and --numa keys",
          "SIZE[:split][:KEY=VALUE...]"}},
        {PLAN,
         {"bare-metal", 0, 0, G_OPTION_ARG_NONE, &cli->bare_metal,
          "Also print the commands giving a host process the guest's CPUs and memory (numactl, "
          "taskset, srun, chcpu)",
          NULL}},
        {RUN,
         {"reserve-hugepages", 0, 0, G_OPTION_ARG_NONE, &cli->reserve_hugepages,
          "Raise each host node's hugepage pool by what the guest lacks, give it back when QEMU "
          "exits",
          NULL}},
        {PLAN,
         {"sysroot", 0, 0, G_OPTION_ARG_FILENAME, &cli->sysroot,
          "Read the host's /sys and /proc under DIR (plan for another machine)", "DIR"}},
        {RUN,
         {"no-cont", 0, 0, G_OPTION_ARG_NONE, &cli->no_cont, "Leave the guest paused after pinning",
          NULL}},
        {RUN,
         {"cont", 0, 0, G_OPTION_ARG_NONE, &cli->cont,
          "Resume the guest after pinning (the default; overrides cont = false of --config)",
          NULL}},
        {PIN,
         {"cont", 0, 0, G_OPTION_ARG_NONE, &cli->cont,
          "Resume the guest after pinning and verifying (it is left as it was otherwise)", NULL}},
        {RUN,
         {"kill-timeout", 0, 0, G_OPTION_ARG_STRING, &cli->kill_timeout,
          "Seconds to wait for QEMU after forwarding a signal or asking it to quit, before "
          "SIGKILL (default 10)",
          "SECONDS"}},
        {ALL,
         {"qmp-timeout", 0, 0, G_OPTION_ARG_STRING, &cli->qmp_timeout,
          "Seconds each QMP command may take after the negotiation (default 10)", "SECONDS"}},
        {ALL,
         {"report", 0, 0, G_OPTION_ARG_FILENAME, &cli->report, "Write the JSON report to FILE",
          "FILE"}},
        {ALL,
         {"json", 0, 0, G_OPTION_ARG_NONE, &cli->json, "Write the plan or report as JSON to stdout",
          NULL}},
        {ALL,
         {"explain", 0, 0, G_OPTION_ARG_NONE, &cli->explain,
          "Show why automatic placement chose each CPU", NULL}},
        {RUN | PLAN,
         {"check", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, (gpointer)parse_check,
          "Audit the host's tuning against the map (as qpin check); =strict: refuse to start "
          "the guest when a check fails",
          NULL}},
        {ALL,
         {"show", 0, 0, G_OPTION_ARG_STRING, &cli->show,
          "What the table shows of the vCPUs: table (a row each), grid (the host, a cell per "
          "CPU), both, or auto (the default: both up to 32 vCPUs, the grid alone above)",
          "WHAT"}},
        {ALL, {"quiet", 'q', 0, G_OPTION_ARG_NONE, &cli->quiet, "Do not print the table", NULL}},
        {ALL, {"help", 'h', 0, G_OPTION_ARG_NONE, &cli->help, "Show this help", NULL}},
    };
    GArray *entries = g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
    for (gsize i = 0; i < G_N_ELEMENTS(table); i++)
        if (table[i].commands & (1u << command))
            g_array_append_val(entries, table[i].entry);
    return entries;
}

GOptionEntry *qpin_options_entries(QpinCommandKind command)
{
    Cli cli = {0};
    GArray *entries = option_entries(command, &cli);
    /* The values point into @cli, which is gone: only the names and texts are for the caller. */
    for (guint i = 0; i < entries->len; i++)
        g_array_index(entries, GOptionEntry, i).arg_data = NULL;
    return (GOptionEntry *)(void *)g_array_free(entries, FALSE);
}

/* Kept in rows: clang-format's column layout gives up on a key this long. */
/* clang-format off */
static const char *const qpin_keys[] = {
    "pin",  "emulator-pin", "iothread-pin", "vcpu-sched", "reserve",       "allow-overcommit",
    "cont", "kill-timeout", "report",       "quiet",      "sysroot",       "qmp",
    "pid",  "qmp-timeout",  "numa-dist",    "mirror",     "mirror-memory", "bare-metal",
    "reserve-hugepages",    "show",         NULL,
};
/* clang-format on */
static const char *const qemu_keys[] = {"binary", "args", NULL};

/* The one number parser of the options and the config file: DIGITS or DIGITS.DIGITS, in decimal,
 * scaled by 10^@scale (3: seconds to milliseconds; 0: integers, no point), fraction digits beyond
 * the scale rounded half up. strtod and strtoul would also take " 10", "+10", "0x10", "1e3" or
 * "inf", and GKeyFile keeps a value's trailing spaces, so nothing is skipped. */
static gboolean parse_decimal(const char *text, guint scale, guint64 min, guint64 max,
                              guint64 *value)
{
    const char *p = text;
    guint64 v = 0;
    if (!g_ascii_isdigit(*p))
        return FALSE;
    /* Each step stays at most @max, so nothing can overflow. */
    for (; g_ascii_isdigit(*p); p++) {
        guint digit = *p - '0';
        if (v > max / 10 || max - v * 10 < digit)
            return FALSE;
        v = v * 10 + digit;
    }
    for (guint i = 0; i < scale; i++) {
        if (v > max / 10)
            return FALSE;
        v *= 10;
    }
    if (*p == '.') {
        p++;
        if (!scale || !g_ascii_isdigit(*p))
            return FALSE;
        guint64 unit = 1, fraction = 0; /* unit: the weight of the next fraction digit */
        for (guint i = 1; i < scale; i++)
            unit *= 10;
        for (guint i = 0; g_ascii_isdigit(*p); p++, i++) {
            if (i < scale) {
                fraction += (guint64)(*p - '0') * unit;
                unit /= 10;
            } else if (i == scale && *p >= '5') {
                fraction++;
            }
        }
        if (fraction > max - v)
            return FALSE;
        v += fraction;
    }
    if (*p || v < min)
        return FALSE;
    *value = v;
    return TRUE;
}

/* Seconds with up to millisecond resolution, as --kill-timeout and --qmp-timeout take them. */
static gboolean parse_seconds(const char *text, const char *source, gboolean zero_ok, gint64 *ms,
                              GError **error)
{
    guint64 v;
    if (!parse_decimal(text, 3, zero_ok ? 0 : 1, 86400 * 1000, &v)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "%s '%s': expected a decimal number of seconds %s 86400 (e.g. 10 or 2.5)",
                    source, text, zero_ok ? "from 0 to" : "above 0, up to");
        return FALSE;
    }
    *ms = (gint64)v;
    return TRUE;
}

static gboolean parse_pid(const char *text, const char *source, gint64 *pid, GError **error)
{
    guint64 v;
    if (!parse_decimal(text, 0, 1, G_MAXINT, &v)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "%s '%s': expected a process id, a decimal number from 1 to %d", source, text,
                    G_MAXINT);
        return FALSE;
    }
    *pid = (gint64)v;
    return TRUE;
}

static gboolean parse_numa_dist(const char *text, const char *source, gboolean *off, GError **error)
{
    if (strcmp(text, "auto") && strcmp(text, "off")) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "%s '%s': expected auto (distances from the host's) or off (QEMU's default)",
                    source, text);
        return FALSE;
    }
    *off = strcmp(text, "off") == 0;
    return TRUE;
}

static gboolean config_fail(GError **error, const char *path, const char *group, const char *key,
                            const char *message)
{
    g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "%s: [%s] %s: %s", path, group, key, message);
    return FALSE;
}

static gboolean check_keys(GKeyFile *kf, const char *path, const char *group,
                           const char *const *known, GError **error)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
    for (int i = 0; keys && keys[i]; i++) {
        if (!g_strv_contains(known, keys[i])) {
            g_autofree char *list = g_strjoinv(", ", (char **)known);
            g_autofree char *message = g_strdup_printf("unknown key (known: %s)", list);
            return config_fail(error, path, group, keys[i], message);
        }
    }
    return TRUE;
}

/* GKeyFile silently keeps the last of two equal keys, also across two headers of one section, so
 * the text is scanned the way GKeyFile reads it: lines end at \n; leading spaces (\r included)
 * are skipped; only '#' starts a comment (a "; k = v" line is a key named "; k"); a group is
 * "[name]" up to the last ']'; a key, locale suffix included, ends at the first '=', less
 * trailing spaces. @data was loaded into a GKeyFile, so every line is one of these. */
static gboolean check_duplicate_keys(const char *path, const char *data, gsize length,
                                     GError **error)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autofree char *group = NULL;
    const char *end = data + length;
    guint line_no = 0;
    for (const char *p = data; p < end;) {
        const char *nl = memchr(p, '\n', end - p);
        g_autofree char *line = g_strndup(p, (nl ? nl : end) - p);
        p = nl ? nl + 1 : end;
        line_no++;
        const char *s = line;
        while (g_ascii_isspace(*s))
            s++;
        if (!*s || *s == '#')
            continue;
        if (*s == '[') {
            const char *close = strrchr(s, ']');
            if (close) {
                g_free(group);
                group = g_strndup(s + 1, close - s - 1);
            }
            continue;
        }
        const char *eq = strchr(s, '=');
        if (!eq || !group)
            continue;
        g_autofree char *key = g_strchomp(g_strndup(s, eq - s));
        /* Neither a group nor a key holds a newline. */
        char *id = g_strdup_printf("%s\n%s", group, key);
        guint first = GPOINTER_TO_UINT(g_hash_table_lookup(seen, id));
        if (first) {
            g_free(id);
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "%s:%u: key '%s' in [%s] is already set on line %u", path, line_no, key,
                        group, first);
            return FALSE;
        }
        g_hash_table_insert(seen, id, GUINT_TO_POINTER(line_no));
    }
    return TRUE;
}

static GKeyFile *config_load(const char *path, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *data = NULL;
    gsize length = 0;
    GError *local = NULL;
    /* One read for GKeyFile and the duplicate scan: both see the same text. */
    if (!g_file_get_contents(path, &data, &length, &local)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "cannot read config file: %s",
                    local->message);
        g_error_free(local);
        return NULL;
    }
    if (!g_key_file_load_from_data(kf, data, length, G_KEY_FILE_NONE, &local)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "cannot read config file %s: %s", path,
                    local->message);
        g_error_free(local);
        return NULL;
    }
    if (!check_duplicate_keys(path, data, length, error))
        return NULL;
    g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
    for (int i = 0; groups[i]; i++) {
        const char *g = groups[i];
        if (!strcmp(g, "qpin")) {
            if (!check_keys(kf, path, g, qpin_keys, error))
                return NULL;
        } else if (!strcmp(g, "qemu")) {
            if (!check_keys(kf, path, g, qemu_keys, error))
                return NULL;
        } else if (g_str_has_prefix(g, "numa.")) {
            /* The keys are checked where the sections are parsed, which looks the sections up
             * as numa.0, numa.1, ...: [numa.01] would be node 1 that is never found. */
            guint64 n;
            if (!parse_decimal(g + 5, 0, 0, 1023, &n) || (g[5] == '0' && g[6])) {
                g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                            "%s: [%s]: guest NUMA sections are named [numa.N], N = 0, 1, ...", path,
                            g);
                return NULL;
            }
        } else {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "%s: unknown section [%s] (known: [qemu], [qpin], [numa.N])", path, g);
            return NULL;
        }
    }
    return g_steal_pointer(&kf);
}

/* Reads string key @key of [group] into *@dest unless the command line already set it. */
static gboolean config_string(GKeyFile *kf, const char *path, const char *group, const char *key,
                              char **dest, GError **error)
{
    if (*dest || !g_key_file_has_key(kf, group, key, NULL))
        return TRUE;
    GError *local = NULL;
    char *value = g_key_file_get_string(kf, group, key, &local);
    if (!value) {
        gboolean ok = config_fail(error, path, group, key, local->message);
        g_error_free(local);
        return ok;
    }
    *dest = value;
    return TRUE;
}

static gboolean config_bool(GKeyFile *kf, const char *path, const char *key, gboolean *dest,
                            gboolean *found, GError **error)
{
    *found = FALSE;
    if (!g_key_file_has_key(kf, "qpin", key, NULL))
        return TRUE;
    GError *local = NULL;
    gboolean value = g_key_file_get_boolean(kf, "qpin", key, &local);
    if (local) {
        config_fail(error, path, "qpin", key, "expected true or false");
        g_error_free(local);
        return FALSE;
    }
    *dest = value;
    *found = TRUE;
    return TRUE;
}

static gboolean parse_iothread_pin(const char *text, const char *source, GPtrArray *pins,
                                   gboolean replace, GError **error)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text || !eq[1]) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "%s '%s': expected ID=CPUS (e.g. io0=2-3)",
                    source, text);
        return FALSE;
    }
    g_autofree char *id = g_strndup(text, eq - text);
    for (guint i = 0; i < pins->len; i++) {
        QpinIothreadPin *old = pins->pdata[i];
        if (strcmp(old->id, id))
            continue;
        if (!replace) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "%s '%s': iothread '%s' is given twice", source, text, id);
            return FALSE;
        }
        g_free(old->cpus);
        old->cpus = g_strdup(eq + 1);
        return TRUE;
    }
    QpinIothreadPin *pin = g_new0(QpinIothreadPin, 1);
    pin->id = g_steal_pointer(&id);
    pin->cpus = g_strdup(eq + 1);
    g_ptr_array_add(pins, pin);
    return TRUE;
}

/* The QEMU command of the [qemu] section: binary (default qemu-system-x86_64) and args, split
 * into words with shell-like quoting but no expansion of any kind. */
static gboolean config_qemu_argv(GKeyFile *kf, const char *path, char ***argv, GError **error)
{
    if (!g_key_file_has_group(kf, "qemu"))
        return TRUE;
    g_autofree char *binary = NULL, *args = NULL;
    if (!config_string(kf, path, "qemu", "binary", &binary, error) ||
        !config_string(kf, path, "qemu", "args", &args, error))
        return FALSE;
    g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
    g_strv_builder_add(builder, binary && *binary ? binary : "qemu-system-x86_64");
    if (args && *g_strstrip(args)) {
        g_auto(GStrv) words = NULL;
        GError *local = NULL;
        if (!g_shell_parse_argv(args, NULL, &words, &local)) {
            config_fail(error, path, "qemu", "args", local->message);
            g_error_free(local);
            return FALSE;
        }
        g_strv_builder_addv(builder, (const char **)words);
    }
    *argv = g_strv_builder_end(builder);
    return TRUE;
}

static gboolean merge_config(QpinOptions *o, Cli *cli, GError **error)
{
    GKeyFile *kf = o->keyfile;
    const char *path = o->config;
    if (!config_string(kf, path, "qpin", "pin", &o->pin, error) ||
        !config_string(kf, path, "qpin", "emulator-pin", &o->emulator_pin, error) ||
        !config_string(kf, path, "qpin", "vcpu-sched", &o->vcpu_sched, error) ||
        !config_string(kf, path, "qpin", "reserve", &o->reserve, error) ||
        !config_string(kf, path, "qpin", "report", &o->report, error))
        return FALSE;
    if (!config_string(kf, path, "qpin", "show", &o->show, error))
        return FALSE;
    if (o->command == QPIN_COMMAND_PLAN &&
        !config_string(kf, path, "qpin", "sysroot", &o->sysroot, error))
        return FALSE;
    if (o->command != QPIN_COMMAND_PIN &&
        (!config_string(kf, path, "qpin", "mirror", &o->mirror, error) ||
         !config_string(kf, path, "qpin", "mirror-memory", &o->mirror_memory, error)))
        return FALSE;
    if (o->command == QPIN_COMMAND_PIN && !config_string(kf, path, "qpin", "qmp", &o->qmp, error))
        return FALSE;

    gboolean found, value = FALSE;
    if (!cli->allow_overcommit) {
        if (!config_bool(kf, path, "allow-overcommit", &value, &found, error))
            return FALSE;
        o->allow_overcommit = found && value;
    }
    if (!cli->bare_metal && o->command == QPIN_COMMAND_PLAN) {
        if (!config_bool(kf, path, "bare-metal", &value, &found, error))
            return FALSE;
        o->bare_metal = found && value;
    }
    if (!cli->reserve_hugepages && o->command == QPIN_COMMAND_RUN) {
        if (!config_bool(kf, path, "reserve-hugepages", &value, &found, error))
            return FALSE;
        o->reserve_hugepages = found && value;
    }
    if (!cli->quiet) {
        if (!config_bool(kf, path, "quiet", &value, &found, error))
            return FALSE;
        o->quiet = found && value;
    }
    if (!cli->cont && !cli->no_cont && o->command != QPIN_COMMAND_PLAN) {
        if (!config_bool(kf, path, "cont", &value, &found, error))
            return FALSE;
        if (found)
            o->cont = value;
    }
    if (!cli->kill_timeout && g_key_file_has_key(kf, "qpin", "kill-timeout", NULL)) {
        g_autofree char *text = g_key_file_get_string(kf, "qpin", "kill-timeout", NULL);
        g_autofree char *source = g_strdup_printf("%s: [qpin] kill-timeout", path);
        if (!parse_seconds(text ? text : "", source, TRUE, &o->kill_timeout_ms, error))
            return FALSE;
    }
    if (!cli->qmp_timeout && g_key_file_has_key(kf, "qpin", "qmp-timeout", NULL)) {
        g_autofree char *text = g_key_file_get_string(kf, "qpin", "qmp-timeout", NULL);
        g_autofree char *source = g_strdup_printf("%s: [qpin] qmp-timeout", path);
        if (!parse_seconds(text ? text : "", source, FALSE, &o->qmp_timeout_ms, error))
            return FALSE;
    }
    if (!cli->numa_dist && o->command != QPIN_COMMAND_PIN &&
        g_key_file_has_key(kf, "qpin", "numa-dist", NULL)) {
        g_autofree char *text = g_key_file_get_string(kf, "qpin", "numa-dist", NULL);
        g_autofree char *source = g_strdup_printf("%s: [qpin] numa-dist", path);
        if (!parse_numa_dist(text ? text : "", source, &o->numa_dist_off, error))
            return FALSE;
    }
    if (!cli->pid && o->command == QPIN_COMMAND_PIN &&
        g_key_file_has_key(kf, "qpin", "pid", NULL)) {
        g_autofree char *text = g_key_file_get_string(kf, "qpin", "pid", NULL);
        g_autofree char *source = g_strdup_printf("%s: [qpin] pid", path);
        if (!parse_pid(text ? text : "", source, &o->pid, error))
            return FALSE;
    }
    if (g_key_file_has_key(kf, "qpin", "iothread-pin", NULL)) {
        GError *local = NULL;
        g_auto(GStrv) list = g_key_file_get_string_list(kf, "qpin", "iothread-pin", NULL, &local);
        if (!list) {
            config_fail(error, path, "qpin", "iothread-pin", local->message);
            g_error_free(local);
            return FALSE;
        }
        g_autofree char *source = g_strdup_printf("%s: [qpin] iothread-pin", path);
        /* The command line's pins were parsed first: the file fills in the other ids only. */
        g_autoptr(GPtrArray) from_file =
            g_ptr_array_new_with_free_func((GDestroyNotify)iothread_pin_free);
        for (int i = 0; list[i]; i++)
            if (!parse_iothread_pin(g_strstrip(list[i]), source, from_file, FALSE, error))
                return FALSE;
        for (guint i = 0; i < from_file->len; i++) {
            QpinIothreadPin *pin = from_file->pdata[i];
            gboolean overridden = FALSE;
            for (guint j = 0; j < o->iothread_pins->len; j++)
                if (!strcmp(((QpinIothreadPin *)o->iothread_pins->pdata[j])->id, pin->id))
                    overridden = TRUE;
            if (!overridden)
                g_ptr_array_add(o->iothread_pins, g_ptr_array_steal_index(from_file, i--));
        }
    }
    /* Parsed even when the command line replaces it: a broken file is an error either way. */
    g_auto(GStrv) qemu_argv = NULL;
    if (!config_qemu_argv(kf, path, &qemu_argv, error))
        return FALSE;
    if (o->command != QPIN_COMMAND_PIN && !o->qemu_argv)
        o->qemu_argv = g_steal_pointer(&qemu_argv);
    return TRUE;
}

QpinOptions *qpin_options_parse(QpinCommandKind command, int argc, char **argv, GError **error)
{
    Cli cli = {0};
    g_autoptr(QpinOptions) o = g_new0(QpinOptions, 1);
    o->command = command;
    o->cont = command == QPIN_COMMAND_RUN;
    o->kill_timeout_ms = QPIN_DEFAULT_KILL_TIMEOUT_MS;
    o->qmp_timeout_ms = QPIN_DEFAULT_QMP_TIMEOUT_MS;
    o->iothread_pins = g_ptr_array_new_with_free_func((GDestroyNotify)iothread_pin_free);

    g_autoptr(GArray) entries = option_entries(command, &cli);
    const char *parameter = command == QPIN_COMMAND_PIN ? "--qmp SOCKET" : "-- QEMU [QEMU-ARGS...]";
    g_autoptr(GOptionContext) ctx = g_option_context_new(parameter);
    /* A group of its own so that the --check callback gets @cli. */
    GOptionGroup *main_group = g_option_group_new(NULL, NULL, NULL, &cli, NULL);
    g_option_group_add_entries(main_group, (GOptionEntry *)(void *)entries->data);
    g_option_context_set_main_group(ctx, main_group);
    g_option_context_set_help_enabled(ctx, FALSE);
    /* Parsing stops at the first argument that is not an option: the QEMU command line is
     * never parsed as qpin options. */
    g_option_context_set_strict_posix(ctx, TRUE);
    static const char *const summaries[] = {
        [QPIN_COMMAND_RUN] = "Start QEMU paused, pin its threads, verify, resume and supervise it.",
        [QPIN_COMMAND_PLAN] = "Start QEMU paused, compute and print the map, quit QEMU. Nothing "
                              "is pinned.",
        [QPIN_COMMAND_PIN] = "Pin the threads of a QEMU started by someone else, through its QMP "
                             "socket.",
    };
    g_option_context_set_summary(ctx, summaries[command]);

    /* GOption rearranges its argument: work on a copy. */
    int n = argc;
    g_autofree char **copy = g_new0(char *, argc + 1);
    memcpy(copy, argv, sizeof(char *) * argc);
    char **args = copy;
    GError *local = NULL;
    if (!g_option_context_parse(ctx, &n, &args, &local)) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE, "%s: %s (see 'qpin %s --help')",
                    qpin_command_name(command), local->message, qpin_command_name(command));
        g_error_free(local);
        cli_clear(&cli);
        return NULL;
    }
    if (cli.help) {
        g_autofree char *prog = g_strdup_printf("qpin %s", qpin_command_name(command));
        g_set_prgname(prog);
        o->help = g_option_context_get_help(ctx, TRUE, NULL);
        cli_clear(&cli);
        return g_steal_pointer(&o);
    }

    int rest = 1;
    if (rest < n && !strcmp(args[rest], "--"))
        rest++;
    gboolean ok = TRUE;
    if (rest < n) {
        if (command == QPIN_COMMAND_PIN) {
            g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                        "pin: unexpected argument '%s' (pin attaches to a running QEMU through "
                        "--qmp SOCKET)",
                        args[rest]);
            ok = FALSE;
        } else {
            g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
            for (int i = rest; i < n; i++)
                g_strv_builder_add(builder, args[i]);
            o->qemu_argv = g_strv_builder_end(builder);
        }
    }

    o->config = g_steal_pointer(&cli.config);
    o->pin = g_steal_pointer(&cli.pin);
    o->emulator_pin = g_steal_pointer(&cli.emulator_pin);
    o->vcpu_sched = g_steal_pointer(&cli.vcpu_sched);
    o->reserve = g_steal_pointer(&cli.reserve);
    o->report = g_steal_pointer(&cli.report);
    o->sysroot = g_steal_pointer(&cli.sysroot);
    o->qmp = g_steal_pointer(&cli.qmp);
    o->show = g_steal_pointer(&cli.show);
    o->numa = g_steal_pointer(&cli.numa);
    o->mirror = g_steal_pointer(&cli.mirror);
    o->mirror_memory = g_steal_pointer(&cli.mirror_memory);
    o->allow_overcommit = cli.allow_overcommit;
    o->quiet = cli.quiet;
    o->json = cli.json;
    o->explain = cli.explain;
    o->check = cli.check;
    o->bare_metal = cli.bare_metal;
    o->reserve_hugepages = cli.reserve_hugepages;
    if (cli.cont && cli.no_cont) {
        g_set_error_literal(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                            "--cont and --no-cont contradict each other");
        ok = FALSE;
    } else if (cli.cont) {
        o->cont = TRUE;
    } else if (cli.no_cont) {
        o->cont = FALSE;
    }
    for (int i = 0; ok && cli.iothread_pin && cli.iothread_pin[i]; i++)
        ok = parse_iothread_pin(cli.iothread_pin[i], "--iothread-pin", o->iothread_pins, FALSE,
                                error);
    if (ok && cli.kill_timeout)
        ok = parse_seconds(cli.kill_timeout, "--kill-timeout", TRUE, &o->kill_timeout_ms, error);
    if (ok && cli.qmp_timeout)
        ok = parse_seconds(cli.qmp_timeout, "--qmp-timeout", FALSE, &o->qmp_timeout_ms, error);
    if (ok && cli.pid)
        ok = parse_pid(cli.pid, "--pid", &o->pid, error);
    if (ok && cli.numa_dist)
        ok = parse_numa_dist(cli.numa_dist, "--numa-dist", &o->numa_dist_off, error);

    gboolean sched_from_cli = o->vcpu_sched != NULL, show_from_cli = o->show != NULL;
    if (ok && o->config) {
        o->keyfile = config_load(o->config, error);
        ok = o->keyfile && merge_config(o, &cli, error);
    }
    if (ok && o->vcpu_sched) {
        ok = qpin_sched_parse(o->vcpu_sched, &o->sched, error);
        if (!ok && !sched_from_cli)
            g_prefix_error(error, "%s: [qpin] vcpu-sched: ", o->config);
    }
    static const char *const shows[] = {"auto", "table", "grid", "both", NULL};
    if (ok && o->show && !g_strv_contains(shows, o->show)) {
        g_autofree char *source =
            show_from_cli ? g_strdup("--show") : g_strdup_printf("%s: [qpin] show", o->config);
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "%s '%s': expected table, grid, both or auto", source, o->show);
        ok = FALSE;
    }
    if (ok && command != QPIN_COMMAND_PIN && !o->qemu_argv) {
        g_set_error(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                    "%s: no QEMU command given (expected: qpin %s [OPTIONS] -- QEMU "
                    "[QEMU-ARGS...], or a [qemu] section in --config)",
                    qpin_command_name(command), qpin_command_name(command));
        ok = FALSE;
    }
    if (ok && command == QPIN_COMMAND_PIN && !o->qmp) {
        g_set_error_literal(error, QPIN_ERROR, QPIN_ERROR_USAGE,
                            "pin: --qmp SOCKET is required (the QMP socket of the running QEMU, "
                            "e.g. started with -qmp unix:/run/vm.qmp,server=on,wait=off)");
        ok = FALSE;
    }
    cli_clear(&cli);
    if (!ok)
        return NULL;
    return g_steal_pointer(&o);
}
