/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* The caps zcipcsink answers a caps query with: it takes any caps, but
 * offers an upstream free to choose the raw video formats consumers
 * commonly expect first.
 *
 * Owns nothing and keeps no state (one static caps, thread-safe).
 */
#ifndef __GST_ZCIPC_SINK_CAPS_H__
#define __GST_ZCIPC_SINK_CAPS_H__

#include <gst/gst.h>

G_BEGIN_DECLS

GstCaps *gst_zcipc_sink_caps_for_filter (GstCaps * filter);

G_END_DECLS
#endif
