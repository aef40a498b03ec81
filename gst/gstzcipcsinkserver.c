/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>

#include "gstzcipcsinkserver.h"
#include "gstzcipcproducerpool.h"
#include "gstzcipcsinkconfig.h"

/* The sink's parts log in the sink's category, with the sink as object. */
GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_sink_debug);
#define GST_CAT_DEFAULT gst_zcipc_sink_debug

static void
on_hold (void *data, void *frame)
{
  gst_buffer_ref (GST_BUFFER_CAST (frame));
}

static void
on_release (void *data, void *frame)
{
  gst_buffer_unref (GST_BUFFER_CAST (frame));
}

/* A consumer that left or was cut off pinned `frame` past the server's
 * bounds: once its regions are never written or handed out again, the
 * server may drop our reference while the pinner still reads them. */
static bool
on_retire (void *data, void *frame)
{
  GstBuffer *buffer = GST_BUFFER_CAST (frame);

  if (!gst_zcipc_producer_pool_retire_buffer (buffer)) {
    GST_DEBUG_OBJECT (data, "frame %p is not all in our own memory: it "
        "stays pinned", buffer);
    return false;
  }
  return true;
}

static void
post_consumer_message (GstElement * sink, const gchar * name,
    const struct zcipc_consumer_info *info, const gchar * reason)
{
  GstStructure *s = gst_structure_new (name,
      "id", G_TYPE_UINT, info->id,
      "pid", G_TYPE_INT, (gint) info->pid,
      "uid", G_TYPE_UINT, (guint) info->uid,
      "gid", G_TYPE_UINT, (guint) info->gid,
      "quota", G_TYPE_UINT, info->quota, NULL);
  if (reason)
    gst_structure_set (s, "reason", G_TYPE_STRING, reason, NULL);
  gst_element_post_message (sink,
      gst_message_new_element (GST_OBJECT_CAST (sink), s));
}

static void
on_consumer_joined (void *data, const struct zcipc_consumer_info *info)
{
  GstElement *sink = data;

  post_consumer_message (sink, "zcipc-consumer-joined", info, NULL);
  g_signal_emit_by_name (sink, "consumer-joined", info->id,
      (gint) info->pid, (guint) info->uid);
}

static void
on_consumer_left (void *data, const struct zcipc_consumer_info *info,
    const char *reason)
{
  GstElement *sink = data;

  post_consumer_message (sink, "zcipc-consumer-left", info, reason);
  g_signal_emit_by_name (sink, "consumer-left", info->id, (gint) info->pid,
      (guint) info->uid, reason);
}

static void
on_log (void *data, enum zcipc_log_level level, const char *message)
{
  static const GstDebugLevel levels[] = {
    [ZCIPC_LOG_ERROR] = GST_LEVEL_ERROR,
    [ZCIPC_LOG_WARNING] = GST_LEVEL_WARNING,
    [ZCIPC_LOG_INFO] = GST_LEVEL_INFO,
    [ZCIPC_LOG_DEBUG] = GST_LEVEL_DEBUG,
  };
  GST_CAT_LEVEL_LOG (GST_CAT_DEFAULT, levels[level], data, "%s", message);
}

static const struct zcipc_server_callbacks server_callbacks = {
  .hold = on_hold,
  .release = on_release,
  .retire = on_retire,
  .consumer_joined = on_consumer_joined,
  .consumer_left = on_consumer_left,
  .log = on_log,
};

/* Fills `config` (and the id arrays it points into) from `settings`;
 * FALSE after posting an error. */
static gboolean
configure (GstElement * sink, const GstZcipcSinkServerSettings * settings,
    struct zcipc_server_config *config, GArray * uids, GArray * gids)
{
  config->quota = settings->quota;
  config->max_consumers = settings->max_consumers;
  if (!gst_zcipc_sink_config_socket_mode (sink, settings->socket_mode,
          &config->socket_mode))
    return FALSE;
  GST_DEBUG_OBJECT (sink, "socket mode %04o", config->socket_mode);
  if (!gst_zcipc_sink_config_allowed_ids (sink, settings->allowed_uids,
          settings->allowed_gids, uids, gids))
    return FALSE;
  G_STATIC_ASSERT (sizeof (uid_t) == sizeof (guint32));
  G_STATIC_ASSERT (sizeof (gid_t) == sizeof (guint32));
  config->allowed_uids = (const uid_t *) uids->data;
  config->n_allowed_uids = uids->len;
  config->allowed_gids = (const gid_t *) gids->data;
  config->n_allowed_gids = gids->len;
  return TRUE;
}

/**
 * gst_zcipc_sink_server_new:
 *
 * A server publishing on `path` for `sink`, made from `settings`; NULL
 * after posting an error that says what to change.
 */
struct zcipc_server *
gst_zcipc_sink_server_new (GstElement * sink, const gchar * path,
    const GstZcipcSinkServerSettings * settings)
{
  struct zcipc_server_config config = { 0 };
  struct zcipc_server *server = NULL;
  /* Freed on every return: the checks below just return. */
  g_autoptr (GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GArray) gids = g_array_new (FALSE, FALSE, sizeof (guint32));
  int res;

  if (!configure (sink, settings, &config, uids, gids))
    return NULL;
  config.path = path;
  res = zcipc_server_new (&config, &server_callbacks, sink, &server);
  if (res < 0) {
    gst_zcipc_sink_config_post_server_error (sink, path, res);
    return NULL;
  }
  return server;
}

/**
 * gst_zcipc_sink_server_wait:
 *
 * Waits as min-consumers and slow-consumer=wait ask. unlock() cancels the
 * waits for a flush, a stop and for PLAYING -> PAUSED alike; the last is no
 * reason to drop the frame: as a prerolled sink we then wait in
 * gst_base_sink_wait_preroll(), which says FLUSHING for the first two and
 * OK once the pipeline plays again, and wait once more.
 */
GstFlowReturn
gst_zcipc_sink_server_wait (GstBaseSink * sink, struct zcipc_server *server,
    guint min_consumers, GstZcipcSlowConsumer policy, guint wait_timeout)
{
  for (;;) {
    GstFlowReturn ret;
    int res = 0;

    if (min_consumers > 0)
      res = zcipc_server_wait_consumers (server, min_consumers, -1);
    if (res == 0 && policy == GST_ZCIPC_SLOW_CONSUMER_WAIT)
      res = zcipc_server_wait_room (server, wait_timeout ?
          (gint64) wait_timeout * GST_MSECOND : -1);
    if (res != -ECANCELED)
      return GST_FLOW_OK;
    GST_DEBUG_OBJECT (sink, "wait for consumers interrupted; waiting for "
        "PLAYING or a flush");
    ret = gst_base_sink_wait_preroll (sink);
    if (ret != GST_FLOW_OK) {
      GST_DEBUG_OBJECT (sink, "not waiting any more: %s",
          gst_flow_get_name (ret));
      return ret;
    }
  }
}
