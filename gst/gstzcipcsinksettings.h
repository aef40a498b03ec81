/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* GstZcipcSinkSettings: the values of zcipcsink's properties (documented
 * with their GParamSpecs in gstzcipcsink.c), their defaults, and the types
 * of its enum properties (GstZcipcSlowConsumer, GstZcipcCopyMode, declared
 * in gstzcipcsink.h).
 *
 * Owns: its strings (socket-path, stream-name, allowed-uids, allowed-gids).
 *
 * Locking: none of its own. It lives inside the sink, whose OBJECT LOCK
 * guards every field: the sink holds it around get/set and while it copies
 * out what start() and render() read.
 *
 * Lifetime: the sink's; init() in instance init, clear() in finalize.
 */
#ifndef __GST_ZCIPC_SINK_SETTINGS_H__
#define __GST_ZCIPC_SINK_SETTINGS_H__

#include <gst/gst.h>

#include "gstzcipcsink.h"

G_BEGIN_DECLS

#define DEFAULT_SOCKET_PATH NULL
#define DEFAULT_STREAM_NAME NULL
#define DEFAULT_SOCKET_MODE 0660
#define DEFAULT_CONSUMER_QUOTA 8
#define DEFAULT_MAX_CONSUMERS 32
#define DEFAULT_SLOW_CONSUMER GST_ZCIPC_SLOW_CONSUMER_SKIP
#define DEFAULT_WAIT_TIMEOUT 2000
#define DEFAULT_MIN_CONSUMERS 0
#define DEFAULT_POOL_SIZE 8
#define DEFAULT_COPY_MODE GST_ZCIPC_COPY_MODE_ALLOW
#define DEFAULT_YIELD_AFTER_SEND TRUE
#define DEFAULT_ALLOWED_UIDS NULL
#define DEFAULT_ALLOWED_GIDS NULL

enum
{
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_STREAM_NAME,
  PROP_SOCKET_MODE,
  PROP_CONSUMER_QUOTA,
  PROP_MAX_CONSUMERS,
  PROP_SLOW_CONSUMER,
  PROP_WAIT_TIMEOUT,
  PROP_MIN_CONSUMERS,
  PROP_POOL_SIZE,
  PROP_COPY_MODE,
  PROP_YIELD_AFTER_SEND,
  PROP_ALLOWED_UIDS,
  PROP_ALLOWED_GIDS,
  PROP_STATS,
  N_PROPERTIES
};

typedef struct
{
  gchar *socket_path;
  gchar *stream_name;
  guint socket_mode;
  guint consumer_quota;
  guint max_consumers;
  GstZcipcSlowConsumer slow_consumer;
  guint wait_timeout;
  guint min_consumers;
  guint pool_size;
  GstZcipcCopyMode copy_mode;
  gboolean yield_after_send;
  gchar *allowed_uids;
  gchar *allowed_gids;
} GstZcipcSinkSettings;

void gst_zcipc_sink_settings_init (GstZcipcSinkSettings * settings);
void gst_zcipc_sink_settings_clear (GstZcipcSinkSettings * settings);
gboolean gst_zcipc_sink_settings_set (GstZcipcSinkSettings * settings,
    guint prop_id, const GValue * value);
gboolean gst_zcipc_sink_settings_get (const GstZcipcSinkSettings * settings,
    guint prop_id, GValue * value);

G_END_DECLS
#endif
