/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — building the QEMU command line: the user's argv passed through untouched, plus what
 * qpin needs (-S, the private QMP channel, named threads), with QEMU option values escaped. */
#pragma once

#include "qpin-qemu-options.h"

#include <glib.h>

G_BEGIN_DECLS

/* The chardev id of qpin's private QMP channel. */
#define QPIN_QMP_CHARDEV_ID "qpin-qmp"

/* Escapes @value for use inside a QEMU option value (QemuOpts: ',' is the separator, ',,' a
 * literal comma). Newlines and carriage returns are refused (QPIN_ERROR_USAGE): QEMU's option
 * and config parsers are line-based in places and such a value is always a mistake. @what
 * names the value in the error. */
char *qpin_qemu_escape(const char *value, const char *what, GError **error);

/* One option of a QEMU command line, as qpin_qemu_argv_next() finds it. */
typedef struct {
    int index;                    /* argv index of the option ("-m", "--name") */
    const char *name;             /* its name without the leading dashes, pointing into argv */
    int value;                    /* argv index of its value; -1: it takes none, or argv ends */
    const QpinQemuOption *option; /* QEMU's table entry; NULL for an option the table lacks */
} QpinQemuArg;

#define QPIN_QEMU_ARG_INIT                                                                         \
    {                                                                                              \
        0, NULL, -1, NULL                                                                          \
    }

/* Index in @argv of the QEMU binary: 0, unless argv[0] is not a QEMU system emulator
 * (qemu-system-*, qemu-kvm, kvm) and a later argument is, as in a wrapper that execs QEMU
 * (`numactl --membind=1 qemu-system-x86_64 ...`, `taskset -c 2-5 qemu-system-x86_64 ...`): then
 * that argument's index. The wrapper's own options are not QEMU's. @argc as for
 * qpin_qemu_argv_next(). */
int qpin_qemu_argv_binary(char *const *argv, int argc);

/* Steps @arg (start from QPIN_QEMU_ARG_INIT) to the next option of @argv (argv[0] = the binary;
 * @argc elements, or up to the NULL when @argc < 0, stopping at a NULL element either way);
 * FALSE at the end. Scanning starts after the QEMU binary (qpin_qemu_argv_binary()). Reads
 * the line as QEMU does:
 *  - an argument starting with '-' is an option, unless it is the value of the option before
 *    it; "-name" and "--name" are the same option (name "name"). Other arguments (QEMU takes
 *    them for a disk image) are skipped.
 *  - an option of QEMU's table (qemu-options.h) that takes a value takes the next argument,
 *    whatever it looks like: `-append -daemonize` is -append with the value "-daemonize".
 *    When argv ends first, value is -1 (QEMU would refuse: "requires an argument").
 *  - an option the table lacks (of a QEMU newer than the table, or a typo QEMU will refuse) is
 *    taken to have a value when the next argument exists and does not start with '-':
 *    `-foo-new-flag -m 1G` is a flag and -m, `-foo-new-opt value` takes "value". */
gboolean qpin_qemu_argv_next(char *const *argv, int argc, QpinQemuArg *arg);

/* Index in @argv (NULL-terminated, argv[0] = binary) of the last occurrence of option
 * @name ("name" matches both -name and --name, as QEMU accepts either), or -1. Arguments that
 * are the value of an option are never options (see qpin_qemu_argv_next()). */
int qpin_qemu_argv_find(char *const *argv, const char *name);

/* The value of a user's `-name` with debug-threads=on merged in: appended after the user's
 * own keys (`vmm,process=vmm` -> `vmm,process=vmm,debug-threads=on`), or replacing an existing
 * debug-threads key. The rest of the value is kept byte for byte. */
char *qpin_qemu_name_value(const char *value);

/* Builds the argv qpin starts QEMU with from @user_argv (NULL-terminated; [0] is the QEMU
 * binary, or a wrapper that execs it, see qpin_qemu_argv_binary()): the binary (after the
 * wrapper and its arguments), then -S and the QMP channel on inherited descriptor @qmp_fd
 * (`-chardev socket,id=qpin-qmp,fd=N -mon chardev=qpin-qmp,mode=control`), then
 * `-name debug-threads=on` when the user has no -name, then every user argument unchanged
 * except the value of the last -name, which gets debug-threads=on merged in. Refuses options
 * that would take QEMU away from qpin's supervision (-daemonize), and a last option of QEMU's
 * table that needs a value but has none (`... -m`), with QPIN_ERROR_USAGE. The result is a
 * NULL-terminated array of strings. */
GPtrArray *qpin_qemu_argv_build(char *const *user_argv, int qmp_fd, GError **error);

/* What replaces a secret in qpin_qemu_argv_mask_secrets(). */
#define QPIN_QEMU_SECRET_MASK "***"

/* A copy of @argv (NULL-terminated, argv[0] = binary; NULL gives NULL) for reports and logs,
 * with secret values replaced by QPIN_QEMU_SECRET_MASK and every other byte kept. Only option
 * values are read (qpin_qemu_argv_next()), as QemuOpts (KEY=VALUE items separated by ',', ",,"
 * a literal comma) or, when they start with '{', as JSON. Masked: the data= of a secret object
 * (`-object secret,id=s0,data=...`, also qom-type=secret and the JSON form), and the value of
 * any key named password or ending in "password" (`-spice password=...`, `-iscsi`,
 * `file.password=`, JSON members at any depth, `-set`/`-global` properties) except the
 * booleans on and off (`-vnc :0,password=on`). Keys that name a secret object
 * (password-secret=, passwordid=, key-secret=) are ids, not secrets, and stay. */
char **qpin_qemu_argv_mask_secrets(char *const *argv);

/* @argv as one line for messages: arguments separated by spaces, each one quoted when it holds
 * anything but [A-Za-z0-9,._+:@%/=-]. For display only; qpin never hands it to a shell. */
char *qpin_qemu_argv_display(char *const *argv);

G_END_DECLS
