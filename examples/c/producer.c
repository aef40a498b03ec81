/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/*
 * producer: a C application that publishes frames with
 *
 *   appsrc ! zcipcsink socket-path=PATH
 *
 * writing each frame in place, straight into the shared memory that
 * consumers read: no copy anywhere.
 *
 * How the application gets zcipcsink's buffers (the helper pattern,
 * acquire_sink_pool() below):
 *
 *  1. Build the pipeline and set it to PLAYING, so that appsrc's src pad
 *     and zcipcsink's sink pad are active (a serialized query on a flushing
 *     pad fails).
 *  2. Ask downstream, as an element would: an ALLOCATION query with the
 *     caps you will push, sent from appsrc's src pad to its peer:
 *       query = gst_query_new_allocation (caps, TRUE);
 *       gst_pad_peer_query (appsrc_src_pad, query);
 *     zcipcsink answers with its GstZcipcProducerPool (slots in sealed memfd
 *     regions) and the size / min / max buffers to use.
 *  3. Take the pool from the answer (gst_query_parse_nth_allocation_pool),
 *     configure it with the same caps and sizes (set_config; add the
 *     GstVideoMeta option so padded strides are described), activate it.
 *  4. Per frame: gst_buffer_pool_acquire_buffer(), map it with
 *     gst_video_frame_map (GST_MAP_WRITE) and write the picture (honour the
 *     plane strides), set PTS/duration, gst_app_src_push_buffer(). The
 *     buffer goes back to the pool once every consumer released it.
 *
 * If the pool is missing (not a zcipcsink downstream, non-video caps), a
 * plain gst_buffer_new_allocate() still works: zcipcsink then copies each
 * frame once, counted in its "stats" (frames-copied).
 *
 * Each frame carries a test pattern and its frame counter (pattern.h);
 * the producer prints "frame N checksum X" per frame so that a consumer
 * (examples/c/consumer.c) can be checked against it.
 *
 *   producer --stream-name cam0 [--frames 300] [--width 640]
 *            [--height 480] [--lossless]
 *
 * (or --socket-path PATH for an explicit socket path instead of a name)
 */
#include <stdio.h>
#include <stdlib.h>

#include <gst/gst.h>
#include <gst/app/app.h>
#include <gst/video/video.h>

#include "pattern.h"

/* Asks the element downstream of appsrc for its buffer pool and makes it
 * ready to hand out buffers for `caps`. NULL when downstream proposes none. */
static GstBufferPool *
acquire_sink_pool (GstElement * appsrc, GstCaps * caps)
{
  GstPad *pad = gst_element_get_static_pad (appsrc, "src");
  GstQuery *query = gst_query_new_allocation (caps, TRUE);
  GstBufferPool *pool = NULL;
  GstStructure *config;
  guint size, min, max;

  if (!gst_pad_peer_query (pad, query) ||
      gst_query_get_n_allocation_pools (query) == 0) {
    gst_query_unref (query);
    gst_object_unref (pad);
    return NULL;
  }
  gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, &min, &max);
  gst_query_unref (query);
  gst_object_unref (pad);
  if (!pool)
    return NULL;

  config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, size, min, max);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  if (!gst_buffer_pool_set_config (pool, config) ||
      !gst_buffer_pool_set_active (pool, TRUE)) {
    gst_object_unref (pool);
    return NULL;
  }
  return pool;
}

static gboolean
wait_for_end (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  gboolean ok = msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;

  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = NULL;
    gchar *dbg = NULL;
    gst_message_parse_error (msg, &err, &dbg);
    g_printerr ("producer: error: %s (%s)\n", err->message, dbg);
    g_clear_error (&err);
    g_free (dbg);
  } else if (!msg) {
    g_printerr ("producer: no EOS within 120 s\n");
  }
  gst_clear_message (&msg);
  gst_object_unref (bus);
  return ok;
}

int
main (int argc, char **argv)
{
  gchar *socket_path = NULL, *stream_name = NULL, *where;
  gint frames = 300, width = 640, height = 480, fps = 30;
  gboolean lossless = FALSE;
  GOptionEntry entries[] = {
    {"stream-name", 0, 0, G_OPTION_ARG_STRING, &stream_name,
        "Name to publish the stream under", "NAME"},
    {"socket-path", 's', 0, G_OPTION_ARG_STRING, &socket_path,
        "Socket to publish on (instead of a name)", "PATH"},
    {"frames", 'n', 0, G_OPTION_ARG_INT, &frames, "Frames to send", "N"},
    {"width", 0, 0, G_OPTION_ARG_INT, &width, "Frame width", "W"},
    {"height", 0, 0, G_OPTION_ARG_INT, &height, "Frame height", "H"},
    {"fps", 0, 0, G_OPTION_ARG_INT, &fps, "Frame rate", "FPS"},
    {"lossless", 0, 0, G_OPTION_ARG_NONE, &lossless,
        "Wait for a consumer and never skip one (min-consumers=1 "
          "slow-consumer=wait sync=false)", NULL},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- publish frames written in "
      "place into zcipcsink's pool");
  GError *error = NULL;
  GstElement *pipeline, *appsrc, *sink;
  GstBufferPool *pool;
  GstStructure *stats;
  GstVideoInfo info;
  GstCaps *caps;
  gchar *desc;
  guint64 copied = 0;
  guint from_pool = 0;
  gboolean ok;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)
      || !stream_name == !socket_path) {
    g_printerr ("producer: %s\n", error ? error->message :
        "give either --stream-name or --socket-path");
    return 2;
  }
  g_option_context_free (ctx);

  gst_video_info_set_format (&info, PATTERN_FORMAT, width, height);
  info.fps_n = fps;
  info.fps_d = 1;
  caps = gst_video_info_to_caps (&info);

  where = stream_name ? g_strdup_printf ("stream-name=%s", stream_name) :
      g_strdup_printf ("socket-path=%s", socket_path);
  desc = g_strdup_printf ("appsrc name=src format=time is-live=%s ! "
      "zcipcsink name=sink %s %s", lossless ? "false" : "true",
      where, lossless ? "min-consumers=1 slow-consumer=wait sync=false" : "");
  g_free (where);
  pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (!pipeline) {
    g_printerr ("producer: %s\n", error->message);
    return 1;
  }
  appsrc = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_app_src_set_caps (GST_APP_SRC (appsrc), caps);
  /* Blocking: the application waits while the sink waits for consumers,
   * instead of queueing frames in appsrc. */
  g_object_set (appsrc, "block", TRUE, "max-buffers", (guint64) 2, NULL);

  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_printerr ("producer: could not start the pipeline\n");
    wait_for_end (pipeline);    /* prints the element's error */
    return 1;
  }

  pool = acquire_sink_pool (appsrc, caps);
  if (!pool)
    g_printerr ("producer: downstream proposed no pool; frames will be "
        "copied\n");

  for (gint n = 0; n < frames; n++) {
    GstBuffer *buffer = NULL;
    GstVideoFrame frame;
    GstFlowReturn ret;

    if (pool) {
      if (gst_buffer_pool_acquire_buffer (pool, &buffer, NULL) != GST_FLOW_OK) {
        g_printerr ("producer: could not acquire a buffer\n");
        break;
      }
      from_pool++;
    } else {
      buffer = gst_buffer_new_allocate (NULL, info.size, NULL);
    }
    if (!gst_video_frame_map (&frame, &info, buffer, GST_MAP_WRITE)) {
      g_printerr ("producer: could not map a buffer for writing\n");
      gst_buffer_unref (buffer);
      break;
    }
    pattern_write (&frame, (guint64) n);
    g_print ("frame %d checksum %016" G_GINT64_MODIFIER "x\n", n,
        pattern_checksum (&frame));
    gst_video_frame_unmap (&frame);
    GST_BUFFER_PTS (buffer) = gst_util_uint64_scale (n, GST_SECOND, fps);
    GST_BUFFER_DURATION (buffer) = gst_util_uint64_scale (1, GST_SECOND, fps);
    GST_BUFFER_OFFSET (buffer) = n;
    ret = gst_app_src_push_buffer (GST_APP_SRC (appsrc), buffer);
    if (ret != GST_FLOW_OK) {
      g_printerr ("producer: push: %s\n", gst_flow_get_name (ret));
      break;
    }
  }
  gst_app_src_end_of_stream (GST_APP_SRC (appsrc));
  ok = wait_for_end (pipeline);

  g_object_get (sink, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "frames-copied", &copied);
  g_print ("producer: %d frames, %u from zcipcsink's pool, %" G_GUINT64_FORMAT
      " copied\n", frames, from_pool, copied);
  gst_structure_free (stats);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  if (pool) {
    gst_buffer_pool_set_active (pool, FALSE);
    gst_object_unref (pool);
  }
  gst_caps_unref (caps);
  gst_object_unref (appsrc);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (socket_path);
  g_free (stream_name);
  return ok ? 0 : 1;
}
