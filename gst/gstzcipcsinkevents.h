/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* What zcipcsink tells consumers besides frames: upstream's events, in
 * stream order (with the server's bookkeeping each needs: late joiners'
 * sticky events, lazy releases at EOS, the caps string for monitors), and
 * the render timing (when running time 0 renders, in CLOCK_MONOTONIC).
 *
 * Owns nothing: the caller passes its server, and for the timing the last
 * timing sent (streaming thread only, like every call here).
 */
#ifndef __GST_ZCIPC_SINK_EVENTS_H__
#define __GST_ZCIPC_SINK_EVENTS_H__

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

#include "gstzcipcserial.h"
#include "zcipc/server.h"

G_BEGIN_DECLS

void gst_zcipc_sink_events_forward (GstObject * sink,
    struct zcipc_server *server, GstEvent * event);
void gst_zcipc_sink_events_update_timing (GstBaseSink * sink,
    struct zcipc_server *server, GstZcipcTiming * sent);

G_END_DECLS
#endif
