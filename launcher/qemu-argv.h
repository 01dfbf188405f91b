/* qpin — building the QEMU command line: the user's argv passed through untouched, plus what
 * qpin needs (-S, the private QMP channel, named threads), with QEMU option values escaped. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The chardev id of qpin's private QMP channel. */
#define QPIN_QMP_CHARDEV_ID "qpin-qmp"

/* Escapes @value for use inside a QEMU option value (QemuOpts: ',' is the separator, ',,' a
 * literal comma). Newlines and carriage returns are refused (QPIN_EXIT_USAGE): QEMU's option
 * and config parsers are line-based in places and such a value is always a mistake. @what
 * names the value in the error. */
char *qpin_qemu_escape(const char *value, const char *what, GError **error);

/* Index in @argv (NULL-terminated, argv[0] = binary) of the last occurrence of option
 * @name ("name" matches both -name and --name, as QEMU accepts either), or -1. */
int qpin_qemu_argv_find(char *const *argv, const char *name);

/* The value of a user's `-name` with debug-threads=on merged in: appended after the user's
 * own keys (`vmm,process=vmm` -> `vmm,process=vmm,debug-threads=on`), or replacing an existing
 * debug-threads key. The rest of the value is kept byte for byte. */
char *qpin_qemu_name_value(const char *value);

/* Builds the argv qpin starts QEMU with from @user_argv (NULL-terminated; [0] is the QEMU
 * binary): the binary, then -S and the QMP channel on inherited descriptor @qmp_fd
 * (`-chardev socket,id=qpin-qmp,fd=N -mon chardev=qpin-qmp,mode=control`), then
 * `-name debug-threads=on` when the user has no -name, then every user argument unchanged
 * except the value of the last -name, which gets debug-threads=on merged in. Refuses options
 * that would take QEMU away from qpin's supervision (-daemonize) with QPIN_EXIT_USAGE. The
 * result is a NULL-terminated array of strings. */
GPtrArray *qpin_qemu_argv_build(char *const *user_argv, int qmp_fd, GError **error);

/* @argv as one line for messages: arguments separated by spaces, each one quoted when it holds
 * anything but [A-Za-z0-9,._+:@%/=-]. For display only; qpin never hands it to a shell. */
char *qpin_qemu_argv_display(char *const *argv);

G_END_DECLS
