/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_DEVICE_PROVIDER_H__
#define __GST_ZCIPC_DEVICE_PROVIDER_H__

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_ZCIPC_DEVICE_PROVIDER (gst_zcipc_device_provider_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcDeviceProvider, gst_zcipc_device_provider,
    GST, ZCIPC_DEVICE_PROVIDER, GstDeviceProvider)

GST_DEVICE_PROVIDER_REGISTER_DECLARE (zcipcdeviceprovider);

G_END_DECLS
#endif
