/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* zcipcsink's zcipc_server in GStreamer terms.
 *
 * gst_zcipc_sink_server_new() makes the server from the sink's setup
 * properties (through gstzcipcsinkconfig: names to ids, socket-mode, an
 * error for each failure), with callbacks that turn lib's calls into
 * GStreamer: a frame held or released is a buffer reference, a frame a
 * departed consumer pinned is retired by the producer pool's rule, a
 * consumer joining or leaving is the sink's signal and element message,
 * lib's log is the sink's debug category. gst_zcipc_sink_server_wait() is
 * the wait for consumers render() does before each frame.
 *
 * Owns nothing: the caller owns the server it gets (zcipc_server_free).
 *
 * Locking: the callbacks run on the server's thread (joined, left, log,
 * release, retire) or the sending thread (hold); they touch only buffer
 * references, the sink's signals and its bus, all thread-safe.
 */
#ifndef __GST_ZCIPC_SINK_SERVER_H__
#define __GST_ZCIPC_SINK_SERVER_H__

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

#include "gstzcipcsink.h"
#include "zcipc/server.h"

G_BEGIN_DECLS

/* The setup properties the server is made from, as the sink read them. */
typedef struct
{
  guint socket_mode;
  guint quota;
  guint max_consumers;
  const gchar *allowed_uids;
  const gchar *allowed_gids;
} GstZcipcSinkServerSettings;

struct zcipc_server *gst_zcipc_sink_server_new (GstElement * sink,
    const gchar * path, const GstZcipcSinkServerSettings * settings);
GstFlowReturn gst_zcipc_sink_server_wait (GstBaseSink * sink,
    struct zcipc_server *server, guint min_consumers,
    GstZcipcSlowConsumer policy, guint wait_timeout);

G_END_DECLS
#endif
