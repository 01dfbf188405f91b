/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — the one mapping from the libraries' error codes to qpin's exit statuses. */
#include "qpin-cli.h"

#include "qpin-error.h"

#include <qpin/cpuset.h>
#include <qpin/qmp.h>

static int qpin_code_status(QpinErrorCode code)
{
    switch (code) {
    case QPIN_ERROR_FAILED:
        return QPIN_EXIT_FAILURE;
    case QPIN_ERROR_USAGE:
        return QPIN_EXIT_USAGE;
    case QPIN_ERROR_HOST:
        return QPIN_EXIT_HOST;
    case QPIN_ERROR_QEMU_START:
        return QPIN_EXIT_QEMU_START;
    case QPIN_ERROR_QMP:
        return QPIN_EXIT_QMP;
    case QPIN_ERROR_QMP_COMMAND:
        return QPIN_EXIT_QMP_COMMAND;
    case QPIN_ERROR_MAP:
        return QPIN_EXIT_MAP;
    case QPIN_ERROR_PIN:
        return QPIN_EXIT_PIN;
    case QPIN_ERROR_PREFLIGHT:
        return QPIN_EXIT_PREFLIGHT;
    case QPIN_ERROR_MEMORY:
        return QPIN_EXIT_MEMORY;
    case QPIN_ERROR_INTERRUPTED:
        return QPIN_EXIT_INTERRUPTED;
    case QPIN_ERROR_RESUMED:
        return QPIN_EXIT_RESUMED;
    case QPIN_ERROR_CHECK:
        return QPIN_EXIT_CHECK;
    }
    return QPIN_EXIT_FAILURE;
}

int qpin_exit_status(const GError *error, int fallback)
{
    if (!error)
        return fallback;
    if (error->domain == QPIN_ERROR)
        return qpin_code_status((QpinErrorCode)error->code);
    if (error->domain == QMP_COMMAND_ERROR)
        return QPIN_EXIT_QMP_COMMAND;
    if (error->domain == QMP_ERROR)
        return QPIN_EXIT_QMP;
    return fallback;
}
