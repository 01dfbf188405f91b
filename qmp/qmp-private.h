/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — QMP client internals shared by the transport and the typed commands. */
#pragma once

#include <qpin/qmp.h>

G_BEGIN_DECLS

/* Sets a QMP_COMMAND_ERROR for QEMU's {"error": {"class": @klass, "desc": @desc}}. */
void qmp_set_command_error(GError **error, const char *klass, const char *desc);

G_END_DECLS
