/* SPDX-License-Identifier: GPL-2.0-or-later */
/* qpin — QMP client: error domains and the plain data types, see <qpin/qmp.h>. */
#include "qmp-private.h"

#include <string.h>

G_DEFINE_QUARK(qmp - error - quark, qmp_error)

/* QEMU's error class and desc travel with the GError itself (an extended error domain), so they
 * survive g_prefix_error() and g_propagate_error() unchanged. */
typedef struct {
    char *klass;
    char *desc;
} QmpCommandErrorPrivate;

static void qmp_command_error_private_init(QmpCommandErrorPrivate *priv)
{
    priv->klass = NULL;
    priv->desc = NULL;
}

static void qmp_command_error_private_copy(const QmpCommandErrorPrivate *src,
                                           QmpCommandErrorPrivate *dest)
{
    dest->klass = g_strdup(src->klass);
    dest->desc = g_strdup(src->desc);
}

static void qmp_command_error_private_clear(QmpCommandErrorPrivate *priv)
{
    g_clear_pointer(&priv->klass, g_free);
    g_clear_pointer(&priv->desc, g_free);
}

G_DEFINE_EXTENDED_ERROR(QmpCommandError, qmp_command_error)

static const struct {
    const char *name;
    QmpCommandError code;
} command_error_classes[] = {
    {"GenericError", QMP_COMMAND_ERROR_GENERIC},
    {"CommandNotFound", QMP_COMMAND_ERROR_COMMAND_NOT_FOUND},
    {"DeviceNotActive", QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE},
    {"DeviceNotFound", QMP_COMMAND_ERROR_DEVICE_NOT_FOUND},
    {"KVMMissingCap", QMP_COMMAND_ERROR_KVM_MISSING_CAP},
};

void qmp_set_command_error(GError **error, const char *klass, const char *desc)
{
    QmpCommandError code = QMP_COMMAND_ERROR_OTHER;
    for (gsize i = 0; i < G_N_ELEMENTS(command_error_classes); i++)
        if (!strcmp(klass, command_error_classes[i].name))
            code = command_error_classes[i].code;
    if (!error)
        return;
    g_set_error(error, QMP_COMMAND_ERROR, code, "%s: %s", klass, desc);
    if (*error) {
        QmpCommandErrorPrivate *priv = qmp_command_error_get_private(*error);
        priv->klass = g_strdup(klass);
        priv->desc = g_strdup(desc);
    }
}

const char *qmp_command_error_class(const GError *error)
{
    if (!error || error->domain != QMP_COMMAND_ERROR)
        return NULL;
    return qmp_command_error_get_private(error)->klass;
}

const char *qmp_command_error_desc(const GError *error)
{
    if (!error || error->domain != QMP_COMMAND_ERROR)
        return NULL;
    return qmp_command_error_get_private(error)->desc;
}

void qmp_event_free(QmpEvent *event)
{
    if (!event)
        return;
    g_free(event->name);
    if (event->data)
        json_object_put(event->data);
    g_free(event);
}

void qmp_cpu_info_free(QmpCpuInfo *info)
{
    if (!info)
        return;
    g_free(info->qom_path);
    g_free(info->target);
    g_free(info);
}

void qmp_iothread_free(QmpIothread *iothread)
{
    if (!iothread)
        return;
    g_free(iothread->id);
    g_free(iothread);
}

void qmp_memdev_free(QmpMemdev *memdev)
{
    if (!memdev)
        return;
    g_free(memdev->id);
    g_free(memdev->policy);
    if (memdev->host_nodes)
        g_array_unref(memdev->host_nodes);
    g_free(memdev);
}
