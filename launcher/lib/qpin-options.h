/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — options of run, plan and pin, from the command line and the --config file (GKeyFile
 * INI). Options given on the command line override the file. */
#pragma once

#include "qpin-threads.h"

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    QPIN_COMMAND_RUN,
    QPIN_COMMAND_PLAN,
    QPIN_COMMAND_PIN,
} QpinCommandKind;

/* --iothread-pin ID=CPUS */
typedef struct {
    char *id;
    char *cpus; /* the CPUS text, parsed when the map is computed */
} QpinIothreadPin;

/* --check of run and plan, and `qpin check` given a QEMU command line. */
typedef enum {
    QPIN_CHECK_MODE_OFF,
    QPIN_CHECK_MODE_WARN,   /* audit the computed map, say what is wrong, go on */
    QPIN_CHECK_MODE_STRICT, /* run: refuse to start the guest on a failed check */
    QPIN_CHECK_MODE_ONLY,   /* qpin check: audit the plan's map, print the audit, nothing else */
} QpinCheckMode;

#define QPIN_DEFAULT_KILL_TIMEOUT_MS 10000
/* QMP_DEFAULT_TIMEOUT_MS of qmp/qmp.h, which this library does not include. */
#define QPIN_DEFAULT_QMP_TIMEOUT_MS 10000

typedef struct {
    QpinCommandKind command;
    char *help; /* set when --help was given: the text to print, nothing else is valid */

    char *config;      /* --config FILE, or NULL */
    GKeyFile *keyfile; /* the loaded config file, or NULL (its [numa.N] sections are read later) */

    char **qemu_argv; /* run, plan: QEMU binary and arguments (NULL-terminated) */
    char *pin;        /* --pin MAP, or NULL */
    char *emulator_pin;
    GPtrArray *iothread_pins; /* QpinIothreadPin*, one per id, command line over file */
    char *vcpu_sched;         /* text, or NULL */
    QpinSched sched;          /* parsed --vcpu-sched */
    char *reserve;
    gboolean allow_overcommit;
    char **numa;            /* --numa texts from the command line (NULL-terminated), or NULL */
    gboolean numa_dist_off; /* --numa-dist off: no -numa dist from the host's distances */
    char *mirror;           /* --mirror node=N[,N...]|host, or NULL */
    char *mirror_memory;    /* --mirror-memory SIZE[:split][:KEY=VALUE...], or NULL */
    gboolean cont;          /* run: default TRUE (--no-cont); pin: default FALSE (--cont) */
    gboolean quiet;
    gboolean json;
    gboolean explain;
    gboolean bare_metal;        /* plan: print the bare-metal twin's commands */
    gboolean reserve_hugepages; /* run: raise the hugepage pools by what the guest lacks */
    char *report;  /* --report FILE */
    char *sysroot; /* plan */
    char *qmp;     /* pin: --qmp SOCKET */
    char *show; /* --show WHAT (table, grid, both, auto), checked by the command line */
    gint64 pid; /* pin: --pid PID, 0 when not given */
    gint64 kill_timeout_ms;
    gint64 qmp_timeout_ms; /* --qmp-timeout: deadline of each QMP command after the negotiation */
    QpinCheckMode check;   /* run, plan: --check[=strict] */
} QpinOptions;

void qpin_options_free(QpinOptions *options);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QpinOptions, qpin_options_free)

/* Parses the options of @command from @argv (argv[0] is the subcommand name; the array is not
 * modified) and the --config file they name. Errors are QPIN_ERROR_USAGE and name the option or
 * the file, section and key. */
QpinOptions *qpin_options_parse(QpinCommandKind command, int argc, char **argv, GError **error);

/* The options of @command as GOption describes them (names, argument names, texts; no
 * arg_data), ending with an all-zero entry, for the help text; g_free() it. */
GOptionEntry *qpin_options_entries(QpinCommandKind command);

/* The subcommand name: "run", "plan", "pin". */
const char *qpin_command_name(QpinCommandKind command);

G_END_DECLS
