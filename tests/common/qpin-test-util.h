/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin tests — helpers shared by the test binaries: running a program to completion and
 * choosing QEMU's accelerator. Failures end the current Check test. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* What a program did, once it has exited. */
typedef struct {
    int status;     /* its exit status */
    char *out;      /* everything it wrote to stdout */
    char *err;      /* everything it wrote to stderr */
    double seconds; /* how long it ran */
} QpinTestRun;

/* Runs @argv (NULL-terminated; argv[0] is a path) to completion with stdout and stderr
 * captured. Fails the test when it cannot be started or is killed by a signal. */
QpinTestRun qpin_test_run(const char *const *argv);

/* Runs `$QPIN @command @args...` (@args NULL-terminated, or NULL) like qpin_test_run(). Fails
 * the test when QPIN is not set. */
QpinTestRun qpin_test_run_qpin(const char *command, const char *const *args);

/* Frees what @run holds. */
void qpin_test_run_clear(QpinTestRun *run);

/* Whether tests should start their paused guests under KVM: FALSE when QPIN_TEST_ACCEL=tcg
 * (to exercise the fallback on a machine with KVM), else TRUE when a probe shows that a guest
 * of @qemu runs here under KVM with -cpu qemu64 and QEMU then quits cleanly. */
gboolean qpin_test_kvm_usable(const char *qemu);

/* QEMU's accelerator arguments (NULL-terminated): `-accel kvm -cpu qemu64` with @kvm, else
 * `-accel tcg,thread=multi`, which gives every vCPU its own thread. */
const char *const *qpin_test_accel_args(gboolean kvm);

G_END_DECLS
