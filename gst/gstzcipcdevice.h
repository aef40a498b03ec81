/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_DEVICE_H__
#define __GST_ZCIPC_DEVICE_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_ZCIPC_DEVICE (gst_zcipc_device_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcDevice, gst_zcipc_device, GST, ZCIPC_DEVICE,
    GstDevice)

GstDevice *gst_zcipc_device_new (const gchar * stream_name,
    const gchar * socket_path, gint pid, const gchar * caps_string);

const gchar *gst_zcipc_device_get_socket_path (GstZcipcDevice * device);
const gchar *gst_zcipc_device_get_caps_string (GstZcipcDevice * device);

G_END_DECLS
#endif
