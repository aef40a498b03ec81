/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/*
 * consumer: a C application that receives a stream with
 *
 *   zcipcsrc stream-name=NAME ! appsink
 *
 * and reads each frame where the producer wrote it (the buffer's memory
 * points into the shared mapping; nothing is copied). It checks the test
 * pattern of examples/c/producer.c in every frame, prints
 * "frame N checksum X" per frame (the same line the producer printed for
 * it) and a summary, and exits 0 when every frame it got was intact.
 *
 * Frames are read through gst_video_frame_map(), which honours the
 * producer's GstVideoMeta (strides) that crossed with the frame.
 *
 *   consumer --stream-name cam0 [--timeout-ms 10000] [--max-frames N]
 *
 * (or --socket-path PATH for an explicit socket path instead of a name)
 */
#include <stdio.h>

#include <gst/gst.h>
#include <gst/app/app.h>
#include <gst/video/video.h>

#include "pattern.h"

int
main (int argc, char **argv)
{
  gchar *socket_path = NULL, *stream_name = NULL, *where;
  gint timeout_ms = 10000, max_frames = 0;
  GOptionEntry entries[] = {
    {"stream-name", 0, 0, G_OPTION_ARG_STRING, &stream_name,
        "Name of the stream to receive", "NAME"},
    {"socket-path", 's', 0, G_OPTION_ARG_STRING, &socket_path,
        "Socket of the zcipcsink to receive from (instead of a name)", "PATH"},
    {"timeout-ms", 0, 0, G_OPTION_ARG_INT, &timeout_ms,
        "How long to wait for the producer to appear (0: forever)", "MS"},
    {"max-frames", 0, 0, G_OPTION_ARG_INT, &max_frames,
        "Stop after this many frames (0: at the end of the stream)", "N"},
    {NULL}
  };
  GOptionContext *ctx = g_option_context_new ("- receive and check frames");
  GError *error = NULL;
  GstElement *pipeline, *appsink;
  guint64 frames = 0, bad = 0, gaps = 0, first = 0, last = 0;
  gboolean have_last = FALSE, failed = FALSE;
  gchar *desc;

  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  if (!g_option_context_parse (ctx, &argc, &argv, &error)
      || !stream_name == !socket_path) {
    g_printerr ("consumer: %s\n", error ? error->message :
        "give either --stream-name or --socket-path");
    return 2;
  }
  g_option_context_free (ctx);

  where = stream_name ? g_strdup_printf ("stream-name=%s", stream_name) :
      g_strdup_printf ("socket-path=%s", socket_path);
  desc = g_strdup_printf ("zcipcsrc %s timeout=%d ! "
      "appsink name=sink sync=false max-buffers=2", where, timeout_ms);
  g_free (where);
  pipeline = gst_parse_launch (desc, &error);
  g_free (desc);
  if (!pipeline) {
    g_printerr ("consumer: %s\n", error->message);
    return 1;
  }
  appsink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  gst_element_set_state (pipeline, GST_STATE_PLAYING);

  for (;;) {
    GstSample *sample = gst_app_sink_try_pull_sample (GST_APP_SINK (appsink),
        30 * GST_SECOND);
    GstVideoFrame frame;
    GstVideoInfo info;
    gboolean intact;
    guint64 n;

    if (!sample)
      break;                    /* EOS, error or timeout: see below */
    if (!gst_video_info_from_caps (&info, gst_sample_get_caps (sample)) ||
        GST_VIDEO_INFO_FORMAT (&info) != PATTERN_FORMAT ||
        !gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample),
            GST_MAP_READ)) {
      g_printerr ("consumer: not an RGBA frame of the example producer\n");
      gst_sample_unref (sample);
      failed = TRUE;
      break;
    }
    n = pattern_check (&frame, &intact);
    g_print ("frame %" G_GUINT64_FORMAT " checksum %016" G_GINT64_MODIFIER
        "x%s\n", n, pattern_checksum (&frame), intact ? "" : " BAD");
    gst_video_frame_unmap (&frame);
    gst_sample_unref (sample);

    if (!intact)
      bad++;
    if (!frames)
      first = n;
    else if (have_last && n > last + 1)
      gaps += n - last - 1;     /* frames the producer skipped for us */
    last = n;
    have_last = TRUE;
    frames++;
    if (max_frames > 0 && frames >= (guint64) max_frames)
      break;
  }

  if (!gst_app_sink_is_eos (GST_APP_SINK (appsink)) && !(max_frames > 0 &&
          frames >= (guint64) max_frames)) {
    GstBus *bus = gst_element_get_bus (pipeline);
    GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (msg) {
      GError *err = NULL;
      gst_message_parse_error (msg, &err, NULL);
      g_printerr ("consumer: error: %s\n", err->message);
      g_clear_error (&err);
      gst_message_unref (msg);
    } else {
      g_printerr ("consumer: no frame for 30 s\n");
    }
    gst_object_unref (bus);
    failed = TRUE;
  }
  g_print ("consumer: %" G_GUINT64_FORMAT " frames (%" G_GUINT64_FORMAT
      " to %" G_GUINT64_FORMAT "), %" G_GUINT64_FORMAT " bad, %"
      G_GUINT64_FORMAT " skipped by the producer\n", frames, first, last, bad,
      gaps);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (appsink);
  gst_object_unref (pipeline);
  g_free (socket_path);
  g_free (stream_name);
  return failed || bad || frames == 0 ? 1 : 0;
}
