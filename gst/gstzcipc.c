/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstzcipcdeviceprovider.h"
#include "gstzcipcsink.h"
#include "gstzcipcsrc.h"

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (zcipcsink, plugin);
  ret |= GST_ELEMENT_REGISTER (zcipcsrc, plugin);
  ret |= GST_DEVICE_PROVIDER_REGISTER (zcipcdeviceprovider, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, zcipc,
    "Zero-copy inter-process video through shared memory",
    plugin_init, PACKAGE_VERSION, GST_LICENSE, GST_PACKAGE_NAME,
    GST_PACKAGE_ORIGIN)
