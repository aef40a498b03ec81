/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* zcipcsrc's streaming thread (see gstzcipcsrcreceive.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>

#include <zcipc/clock.h>

#include "gstzcipcsrcreceive.h"

GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_src_debug);
#define GST_CAT_DEFAULT gst_zcipc_src_debug

/* Connects to the producer, asking for the quota downstream needs. */
static GstFlowReturn
connect_to_producer (GstZcipcSrc * self)
{
  GstZcipcConnectTarget target = {
    .path = self->path,.stream_name = self->path_stream_name,
    .dir_missing = self->path_dir_missing,
  };
  GstFlowReturn ret;

  target.max_held = gst_zcipc_quota_for_connect (&self->quota);
  GST_OBJECT_LOCK (self);
  target.timeout_ms = self->timeout;
  GST_OBJECT_UNLOCK (self);
  ret = gst_zcipc_connection_connect (&self->conn, GST_ELEMENT_CAST (self),
      &target);
  if (ret == GST_FLOW_OK)
    self->last_seq = 0;
  return ret;
}

/* Pushes the segment the schedule makes (retimestamp: basesrc's own
 * 0-based one). */
static void
update_segment (GstZcipcSrc * self)
{
  GstSegment seg;

  if (self->retimestamp_active ||
      !gst_zcipc_schedule_make_segment (&self->schedule,
          GST_ELEMENT_CAST (self), &seg))
    return;
  self->out_segment = seg;
  self->segment_pending = TRUE;
  gst_base_src_new_segment (GST_BASE_SRC (self), &seg);
}

/* Serialized events after the segment must not overtake it. */
static void
push_serialized_event (GstZcipcSrc * self, GstEvent * event)
{
  GstPad *pad = GST_BASE_SRC_PAD (self);

  if (self->segment_pending && GST_EVENT_TYPE (event) != GST_EVENT_STREAM_START) {
    gst_pad_push_event (pad, gst_event_new_segment (&self->out_segment));
    self->segment_pending = FALSE;
  }
  gst_pad_push_event (pad, event);
}

/* The producer broke a rule: it loses this connection (and we stop, as for
 * any other protocol error). */
static GstFlowReturn
protocol_error (GstZcipcSrc * self, const gchar * reason)
{
  GST_ELEMENT_ERROR (self, STREAM, DECODE,
      ("The producer on '%s' broke the protocol: %s", self->path,
          reason), ("refused what the producer sent"));
  gst_zcipc_src_drop_connection (self);
  return GST_FLOW_ERROR;
}

/* The producer's caps: ours from now on, if downstream takes them. */
static GstFlowReturn
handle_caps (GstZcipcSrc * self, GstEvent * event)
{
  GstCaps *caps;

  gst_event_parse_caps (event, &caps);
  GST_OBJECT_LOCK (self);
  gst_caps_replace (&self->caps, caps);
  GST_OBJECT_UNLOCK (self);
  /* Pushing a sticky caps event succeeds whatever downstream thinks of
   * it: ask first, so a refusal names both caps. */
  if (!gst_pad_peer_query_accept_caps (GST_BASE_SRC_PAD (self), caps) ||
      !gst_base_src_set_caps (GST_BASE_SRC (self), caps)) {
    GstCaps *peer = gst_pad_peer_query_caps (GST_BASE_SRC_PAD (self), NULL);
    gchar *ours = gst_caps_to_string (caps);
    gchar *theirs = gst_caps_to_string (peer);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("Downstream does not accept the producer's caps %s (it accepts "
            "%s)", ours, theirs), ("gst_base_src_set_caps failed"));
    g_free (ours);
    g_free (theirs);
    gst_caps_unref (peer);
    gst_event_unref (event);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  gst_zcipc_quota_learn_caps (&self->quota, GST_BASE_SRC_PAD (self), caps);
  gst_zcipc_src_update_quota_request (self);
  gst_zcipc_meta_context_set_caps (self->meta_ctx, caps);
  gst_zcipc_quota_limit_mappings (&self->quota, GST_ELEMENT_CAST (self),
      self->conn.client, caps);
  gst_event_unref (event);
  return GST_FLOW_OK;
}

/* When the producer renders: the segment we push follows. */
static void
handle_timing (GstZcipcSrc * self, const struct zcipc_client_event *ev)
{
  if (!gst_zcipc_timing_deserialize (ev->event.payload, ev->event.size,
          &self->schedule.timing)) {
    GST_WARNING_OBJECT (self, "malformed timing from the producer");
    return;
  }
  self->schedule.have_timing = TRUE;
  update_segment (self);
}

static GstFlowReturn
handle_event (GstZcipcSrc * self, const struct zcipc_client_event *ev)
{
  GstEvent *event;

  /* Every event payload is a string for GStreamer's parsers. */
  if (!gst_zcipc_string_is_bounded ((const gchar *) ev->event.payload,
          ev->event.size)) {
    gchar *reason = g_strdup_printf ("an event (kind %u) of %u bytes, longer "
        "than %d or nested deeper than %d levels", ev->event.kind,
        ev->event.size, GST_ZCIPC_MAX_STRING_SIZE,
        GST_ZCIPC_MAX_STRING_DEPTH);
    GstFlowReturn ret = protocol_error (self, reason);

    g_free (reason);
    return ret;
  }

  if (ev->event.kind == GST_ZCIPC_EVENT_TIMING) {
    handle_timing (self, ev);
    return GST_FLOW_OK;
  }

  event = gst_zcipc_event_deserialize (ev->event.kind, ev->event.payload,
      ev->event.size);
  if (!event) {
    GST_WARNING_OBJECT (self, "skipping malformed or unknown event kind %u "
        "from the producer", ev->event.kind);
    return GST_FLOW_OK;
  }
  GST_DEBUG_OBJECT (self, "producer event %" GST_PTR_FORMAT, event);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      return handle_caps (self, event);
    case GST_EVENT_SEGMENT:{
      const GstSegment *seg;

      gst_event_parse_segment (event, &seg);
      self->schedule.producer_segment = *seg;
      self->schedule.have_segment = TRUE;
      gst_event_unref (event);
      update_segment (self);
      return GST_FLOW_OK;
    }
    case GST_EVENT_EOS:
      gst_event_unref (event);
      GST_INFO_OBJECT (self, "end of stream from the producer");
      return GST_FLOW_EOS;
    default:
      push_serialized_event (self, event);
      return GST_FLOW_OK;
  }
}

/* Gives a buffer the frame's timestamps, flags and metas. `keep_metas`: a
 * buffer of the consumer pool, which may keep them for the slot's next
 * frame; `metas_ready`: it kept this frame's already. */
static gboolean
stamp_frame (GstZcipcSrc * self, GstBuffer * buffer,
    const struct zcipc_client_event *ev, gboolean keep_metas,
    gboolean metas_ready, gchar ** error)
{
  const struct zcipc_wire_frame *info = &ev->frame.info;
  guint n_unknown = 0, n_skipped = 0;
  gboolean ok = TRUE;

  GST_BUFFER_PTS (buffer) = info->pts;
  GST_BUFFER_DTS (buffer) = info->dts;
  GST_BUFFER_DURATION (buffer) = info->duration;
  GST_BUFFER_OFFSET (buffer) = info->offset;
  GST_BUFFER_OFFSET_END (buffer) = info->offset_end;
  /* Also clears TAG_MEMORY, which adding memories to a buffer set. */
  GST_MINI_OBJECT_FLAGS (buffer) = info->flags & ~GST_BUFFER_FLAG_TAG_MEMORY;
  if (metas_ready || !ev->frame.meta_size) {
    /* nothing to add */
  } else if (!gst_zcipc_metas_deserialize (buffer, ev->frame.meta,
          ev->frame.meta_size, self->meta_ctx, &n_unknown, &n_skipped, error)) {
    ok = FALSE;
  } else if (keep_metas && !n_unknown && !n_skipped) {
    /* Not with unknown or skipped metas: kept, they would no longer be
     * counted. */
    gst_zcipc_consumer_pool_keep_metas (self->consumer_pool, buffer,
        ev->frame.meta, ev->frame.meta_size);
  }
  if (n_unknown)
    g_atomic_pointer_add (&self->metas_unknown, n_unknown);
  if (n_skipped) {
    g_atomic_pointer_add (&self->metas_skipped, n_skipped);
    GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT ": skipped %u custom "
        "metas past the bounds on names", info->seq, n_skipped);
  }
  return ok;
}

/* A buffer whose memory is the frame's, in the shared mapping. */
static GstBuffer *
wrap_frame (GstZcipcSrc * self, struct zcipc_client *client,
    const struct zcipc_client_event *ev, gchar ** error)
{
  gboolean metas_ready = FALSE;
  GstBuffer *buffer = gst_zcipc_consumer_pool_wrap (self->consumer_pool,
      client, ev, &metas_ready);

  if (!buffer) {
    /* The frame is still ours: it goes back with the connection. */
    *error = g_strdup ("the consumer pool could not wrap it");
    return NULL;
  }
  if (!stamp_frame (self, buffer, ev, TRUE, metas_ready, error))
    gst_clear_buffer (&buffer);
  return buffer;
}

/* A frame without memory (a zero-size buffer, a gap): a buffer with its
 * timestamps, flags and metas. The client gave the frame back already:
 * nothing of it lies in shared memory. */
static GstBuffer *
wrap_memoryless_frame (GstZcipcSrc * self, const struct zcipc_client_event *ev,
    gchar ** error)
{
  GstBuffer *buffer = gst_buffer_new ();

  if (!stamp_frame (self, buffer, ev, FALSE, FALSE, error))
    gst_clear_buffer (&buffer);
  return buffer;
}

/* Downstream keeps every frame it was granted but the one in flight: this
 * one is copied into private memory and its slot given back at once, so
 * the producer can send the next and the stream goes on. NULL if no memory
 * could be had (the frame is still held) or its metas broke a rule. */
static GstBuffer *
copy_frame (GstZcipcSrc * self, struct zcipc_client *client,
    const struct zcipc_client_event *ev, gsize * size, gchar ** error)
{
  GstBuffer *buffer = gst_zcipc_frame_copier_copy (&self->copier, ev, size);

  if (!buffer)
    return NULL;
  zcipc_client_release (client, ev->frame.info.seq);
  if (!stamp_frame (self, buffer, ev, FALSE, FALSE, error))
    gst_clear_buffer (&buffer);
  return buffer;
}

/* Counts a copy, and says once per episode what to raise. */
static void
note_copy (GstZcipcSrc * self, struct zcipc_client *client,
    const struct zcipc_client_event *ev, gsize size, guint held)
{
  GstZcipcCopyContext context = {
    .path = self->path,.quota = zcipc_client_quota (client),.held = held,
  };

  context.asked = gst_zcipc_quota_get_asked (&self->quota);
  context.max_held = gst_zcipc_quota_get_max_held (&self->quota);
  gst_zcipc_frame_copier_note (&self->copier, GST_ELEMENT_CAST (self), ev,
      size, &context);
}

/* Once a second, tells the producer what only we know, for its stats
 * (zcipc-top): frames copied, and how long after the producer sent it the
 * frame we are about to push goes downstream. */
static void
report_to_producer (GstZcipcSrc * self, struct zcipc_client *client,
    const struct zcipc_wire_frame *info)
{
  gint64 now_us = g_get_monotonic_time ();
  gint64 lag_ns;

  if (self->last_report_us && now_us - self->last_report_us < G_USEC_PER_SEC)
    return;
  self->last_report_us = now_us;
  /* send_time is the producer's CLOCK_MONOTONIC, which every process
   * shares. */
  lag_ns = zcipc_now_ns () - (gint64) info->send_time;
  zcipc_client_send_report (client,
      (guint64) g_atomic_pointer_get (&self->copier.frames_copied), MAX (lag_ns,
          0));
}

/* The next frame the producer sent, in `ev`: connects first when needed,
 * handles events and region removals on the way, and connects again after
 * a lost connection (when reconnect says so). */
static GstFlowReturn
next_frame (GstZcipcSrc * self, struct zcipc_client_event *ev)
{
  for (;;) {
    GstFlowReturn ret;
    gboolean reconnect;
    int res;

    if (!self->conn.connected &&
        (ret = connect_to_producer (self)) != GST_FLOW_OK)
      return ret;
    res = zcipc_client_next (self->conn.client, ev, -1);
    if (res == -ECANCELED)
      return GST_FLOW_FLUSHING;
    if (res < 0) {
      GST_OBJECT_LOCK (self);
      reconnect = self->reconnect;
      GST_OBJECT_UNLOCK (self);
      reconnect = gst_zcipc_connection_read_failed (&self->conn,
          GST_ELEMENT_CAST (self), self->path, res, reconnect);
      gst_zcipc_src_drop_connection (self);
      if (!reconnect)
        return GST_FLOW_ERROR;
      g_atomic_pointer_add (&self->reconnects, 1);
    } else if (ev->type == ZCIPC_CLIENT_REGION_REMOVED) {
      gst_zcipc_consumer_pool_forget_region (self->consumer_pool,
          ev->region.id);
    } else if (ev->type == ZCIPC_CLIENT_EVENT) {
      if ((ret = handle_event (self, ev)) != GST_FLOW_OK)
        return ret;
    } else {
      return GST_FLOW_OK;
    }
  }
}

/* Counts a frame, and keeps the segment in step with our base time (which
 * changes when our pipeline is paused and resumed) and with our clock, and
 * the quota with the frame's duration. */
static void
account_frame (GstZcipcSrc * self, const struct zcipc_wire_frame *info)
{
  if (gst_zcipc_schedule_anchor (&self->schedule, GST_ELEMENT_CAST (self),
          info) ||
      gst_zcipc_schedule_out_of_date (&self->schedule, GST_ELEMENT_CAST (self)))
    update_segment (self);
  self->segment_pending = FALSE;        /* basesrc pushes it before this buffer */

  if (self->last_seq && info->seq > self->last_seq + 1)
    g_atomic_pointer_add (&self->frames_dropped,
        info->seq - self->last_seq - 1);
  self->last_seq = info->seq;
  g_atomic_pointer_add (&self->frames_received, 1);

  if (gst_zcipc_quota_learn_frame_duration (&self->quota, info->duration))
    gst_zcipc_src_update_quota_request (self);
}

/* The frame as a buffer: memoryless, wrapped in place, or copied when it
 * takes the last slot we were lent (downstream keeps all the others). */
static GstFlowReturn
frame_to_buffer (GstZcipcSrc * self, struct zcipc_client *client,
    const struct zcipc_client_event *ev, GstBuffer ** buffer)
{
  guint held = zcipc_client_held (client);
  gchar *error = NULL, *reason;
  GstFlowReturn ret;

  if (ev->frame.n_mems == 0) {
    *buffer = wrap_memoryless_frame (self, ev, &error);
  } else if (held >= zcipc_client_quota (client)) {
    gsize size = 0;

    if (!(*buffer = copy_frame (self, client, ev, &size, &error)) && !error) {
      zcipc_client_release (client, ev->frame.info.seq);
      GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
          ("Could not allocate memory to copy a frame that downstream "
              "has no room for"), ("frame %" G_GUINT64_FORMAT,
              ev->frame.info.seq));
      return GST_FLOW_ERROR;
    }
    if (*buffer)
      note_copy (self, client, ev, size, held);
  } else {
    *buffer = wrap_frame (self, client, ev, &error);
    if (gst_zcipc_frame_copier_episode_ended (&self->copier))
      GST_INFO_OBJECT (self, "downstream keeps fewer frames again: no more "
          "copies");
  }
  if (*buffer)
    return GST_FLOW_OK;
  /* Its metas broke a rule (a layout past the frame's memory): the frame
   * went back with its buffer, the connection goes too. */
  reason = g_strdup_printf ("frame %" G_GUINT64_FORMAT ": %s",
      ev->frame.info.seq, error);
  ret = protocol_error (self, reason);
  g_free (reason);
  g_free (error);
  return ret;
}

/**
 * gst_zcipc_src_receive:
 * @self: the zcipcsrc
 * @buffer: (out): the next frame's buffer
 *
 * create(): waits for the next frame from the producer, dealing with what
 * comes before it.
 *
 * Returns: GST_FLOW_OK with a buffer, or why there is none.
 */
GstFlowReturn
gst_zcipc_src_receive (GstZcipcSrc * self, GstBuffer ** buffer)
{
  struct zcipc_client_event ev;
  struct zcipc_client *client;
  GstFlowReturn ret;

  if ((ret = next_frame (self, &ev)) != GST_FLOW_OK)
    return ret;
  client = self->conn.client;
  account_frame (self, &ev.frame.info);
  if ((ret = frame_to_buffer (self, client, &ev, buffer)) != GST_FLOW_OK)
    return ret;
  if (self->retimestamp_active)
    gst_zcipc_schedule_retimestamp (GST_ELEMENT_CAST (self), *buffer);
  GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " %" GST_PTR_FORMAT,
      ev.frame.info.seq, *buffer);
  report_to_producer (self, client, &ev.frame.info);
  return GST_FLOW_OK;
}
