/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the command line a plan starts QEMU with: only the options that shape the guest's vCPUs
 * and memory, so that a plan made on a login node needs neither the guest's disks nor KVM. */
#pragma once

#include "qpin-report.h"

#include <glib.h>

G_BEGIN_DECLS

/* Note kinds of qpin_qemu_argv_probe() (QpinNote.kind). */
#define QPIN_NOTE_PROBE_TCG     "probe-tcg"     /* the probe runs under TCG, not KVM */
#define QPIN_NOTE_PROBE_CPU     "probe-cpu"     /* -cpu host became -cpu max for the probe */
#define QPIN_NOTE_PROBE_MEMORY  "probe-memory"  /* user memory backends as reserve=off RAM */
#define QPIN_NOTE_PROBE_DROPPED "probe-dropped" /* options left out of the probe */

/* The user command line (@user_argv: NULL-terminated, [0] the QEMU binary or a wrapper that
 * execs it, see qpin_qemu_argv_binary()) reduced to what shapes the guest's vCPUs and memory,
 * for qpin_qemu_argv_build(): the QEMU binary without the wrapper, then
 *  - kept: -machine/-M (without accel=), -smp, -numa, -m, -name, -cpu (model host -> max,
 *    without properties: TCG has no host model), -device of a CPU driver (*-cpu; host-* ->
 *    max-*), -object iothread (id only), -object memory-backend-* as memory-backend-ram with
 *    the same id and size and reserve=off (nothing allocated, no host node of another machine);
 *  - dropped: everything else (drives, netdevs, other devices, kernel, initrd, firmware,
 *    display, chardevs, monitors, serial, other objects, -accel, -enable-kvm, arguments that
 *    are no option);
 *  - added: -accel tcg,thread=multi -nodefaults -display none.
 * The vCPU props QEMU reports (socket, die, core, thread, node) come from -machine, -smp and
 * -numa alone, whatever the accelerator. Each change that matters to the user is appended to
 * @notes (QpinNote*, may be NULL). Never fails: a value QEMU would refuse is kept for QEMU to
 * refuse. */
GPtrArray *qpin_qemu_argv_probe(char *const *user_argv, GPtrArray *notes);

G_END_DECLS
