/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzcipcsinkevents.h"

/* The sink's parts log in the sink's category, with the sink as object. */
GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_sink_debug);
#define GST_CAT_DEFAULT gst_zcipc_sink_debug

static void
send_event_bytes (GstObject * sink, struct zcipc_server *server, guint32 kind,
    GBytes * bytes, gboolean sticky)
{
  gsize size;
  gconstpointer data = g_bytes_get_data (bytes, &size);
  int res = zcipc_server_send_event (server, kind, data, (guint32) size,
      sticky);

  if (res < 0)
    GST_WARNING_OBJECT (sink, "could not send event kind %u: %s", kind,
        g_strerror (-res));
}

/* What the server must do about `event` before it is forwarded. */
static void
prepare_server_for_event (GstObject * sink, struct zcipc_server *server,
    GstEvent * event)
{
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_EOS:
      /* No frame will come to read releases lazily: read them now, and
       * let the server thread read the rest. */
      zcipc_server_collect_releases (server);
      break;
    case GST_EVENT_FLUSH_STOP:
      /* After a flush the stream goes on: a new segment follows. */
      zcipc_server_forget_event (server, GST_ZCIPC_EVENT_EOS);
      break;
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gchar *text;
      int res;

      /* For monitors (zcipc-top, the device provider). */
      gst_event_parse_caps (event, &caps);
      text = gst_caps_to_string (caps);
      if ((res = zcipc_server_set_caps_string (server, text)) < 0)
        GST_WARNING_OBJECT (sink, "zcipc_server_set_caps_string: %s",
            g_strerror (-res));
      g_free (text);
      break;
    }
    case GST_EVENT_STREAM_START:
      /* A new stream: late joiners must not see the old one's end. */
      zcipc_server_forget_event (server, GST_ZCIPC_EVENT_EOS);
      zcipc_server_forget_event (server, GST_ZCIPC_EVENT_TAG);
      break;
    default:
      break;
  }
}

/* Forwards `event` to consumers, if it is one that crosses. */
void
gst_zcipc_sink_events_forward (GstObject * sink, struct zcipc_server *server,
    GstEvent * event)
{
  guint32 kind = 0;
  GBytes *bytes;

  prepare_server_for_event (sink, server, event);
  bytes = gst_zcipc_event_serialize (event, &kind);
  if (bytes) {
    GST_DEBUG_OBJECT (sink, "forwarding %" GST_PTR_FORMAT, event);
    send_event_bytes (sink, server, kind, bytes, GST_EVENT_IS_STICKY (event));
    g_bytes_unref (bytes);
  }
}

/* When running time 0 renders: at base time + latency on the sink's clock,
 * and that time in CLOCK_MONOTONIC. */
static void
current_timing (GstBaseSink * sink, GstZcipcTiming * timing)
{
  GstElement *element = GST_ELEMENT_CAST (sink);
  GstClock *clock;

  timing->render_offset = gst_element_get_base_time (element) +
      gst_base_sink_get_latency (sink);
  clock = gst_element_get_clock (element);
  if (clock) {
    timing->monotonic = gst_zcipc_clock_is_monotonic (clock);
    timing->have_render_monotonic = TRUE;
    timing->render_monotonic = (gint64) timing->render_offset -
        (timing->monotonic ? 0 : gst_zcipc_clock_monotonic_offset (clock));
    gst_object_unref (clock);
  }
  timing->unpaced = !gst_base_sink_get_sync (sink);
}

/* Tells consumers when we render running time 0, which every process can
 * read in CLOCK_MONOTONIC. Said again when it changes (`sent` is the last
 * said); our clock may drift against CLOCK_MONOTONIC (an audio or network
 * clock), so that is checked each frame. */
void
gst_zcipc_sink_events_update_timing (GstBaseSink * sink,
    struct zcipc_server *server, GstZcipcTiming * sent)
{
  GstZcipcTiming timing = { 0 };
  GBytes *bytes;

  current_timing (sink, &timing);
  if (timing.render_offset == sent->render_offset &&
      timing.unpaced == sent->unpaced &&
      timing.monotonic == sent->monotonic &&
      timing.have_render_monotonic == sent->have_render_monotonic &&
      ABS (timing.render_monotonic - sent->render_monotonic) <
      GST_ZCIPC_TIMING_TOLERANCE)
    return;
  GST_DEBUG_OBJECT (sink, "running time 0 renders at %" GST_TIME_FORMAT
      " on our clock, %" GST_STIME_FORMAT " in CLOCK_MONOTONIC",
      GST_TIME_ARGS (timing.render_offset),
      GST_STIME_ARGS (timing.render_monotonic));
  bytes = gst_zcipc_timing_serialize (&timing);
  send_event_bytes (GST_OBJECT_CAST (sink), server, GST_ZCIPC_EVENT_TIMING,
      bytes, TRUE);
  g_bytes_unref (bytes);
  *sent = timing;
}
