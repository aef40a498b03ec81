/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* zcipcsrc's quota and mapping limits (see gstzcipcquota.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/video/video.h>

#include "gstzcipcquota.h"

GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_src_debug);
#define GST_CAT_DEFAULT gst_zcipc_src_debug

/* What a producer may make us map, in frames of the stream's caps beyond
 * the quota asked: a zcipcsink's pool with default settings grows to
 * pool-size 8 + consumer-quota 8 x max-consumers 32 = 264 frames, any of
 * which may come to us. Populated up front: 16 frames beyond the quota.
 * Never less than the floors (metas, non-raw caps, a first region before
 * the caps: ZCIPC_WIRE_MAX_META_SIZE is 64 MiB). */
#define MAP_SLACK_FRAMES 264
#define POPULATE_SLACK_FRAMES 16
#define MAP_FLOOR (256 * 1024 * 1024)
#define POPULATE_FLOOR (64 * 1024 * 1024)

void
gst_zcipc_quota_init (GstZcipcQuota * quota, guint max_held)
{
  g_mutex_init (&quota->lock);
  quota->max_held = max_held;
  gst_zcipc_quota_reset (quota);
}

void
gst_zcipc_quota_clear (GstZcipcQuota * quota)
{
  g_mutex_clear (&quota->lock);
}

/* start(): nothing known of downstream yet, nothing asked. */
void
gst_zcipc_quota_reset (GstZcipcQuota * quota)
{
  g_mutex_lock (&quota->lock);
  quota->downstream_min_buffers = 0;
  quota->downstream_latency = GST_CLOCK_TIME_NONE;
  quota->frame_duration = GST_CLOCK_TIME_NONE;
  quota->asked = 0;
  g_mutex_unlock (&quota->lock);
}

void
gst_zcipc_quota_set_max_held (GstZcipcQuota * quota, guint max_held)
{
  g_mutex_lock (&quota->lock);
  quota->max_held = max_held;
  g_mutex_unlock (&quota->lock);
}

guint
gst_zcipc_quota_get_max_held (GstZcipcQuota * quota)
{
  guint max_held;

  g_mutex_lock (&quota->lock);
  max_held = quota->max_held;
  g_mutex_unlock (&quota->lock);
  return max_held;
}

guint
gst_zcipc_quota_get_asked (GstZcipcQuota * quota)
{
  guint asked;

  g_mutex_lock (&quota->lock);
  asked = quota->asked;
  g_mutex_unlock (&quota->lock);
  return asked;
}

/* Lock held. The frames to ask the producer for: max-held, what downstream
 * says it keeps, and one for the frame on its way to us (the producer sends
 * only while we hold less than our quota). */
static guint
wanted_locked (GstZcipcQuota * quota)
{
  guint64 frames = (guint64) quota->max_held +
      quota->downstream_min_buffers + 1;

  /* Frames sitting downstream for its latency; durations are rounded
   * (33333333 ns at 30 fps), so a latency of exactly N frames is N. */
  if (GST_CLOCK_TIME_IS_VALID (quota->downstream_latency) &&
      GST_CLOCK_TIME_IS_VALID (quota->frame_duration) &&
      quota->downstream_latency > quota->frame_duration / 100)
    frames += gst_util_uint64_scale_ceil (quota->downstream_latency -
        quota->frame_duration / 100, 1, quota->frame_duration);
  return (guint) MIN (frames, ZCIPC_WIRE_MAX_QUOTA);
}

/* The quota a new connection asks for: what is wanted now, never less than
 * asked before. */
guint
gst_zcipc_quota_for_connect (GstZcipcQuota * quota)
{
  guint asked;

  g_mutex_lock (&quota->lock);
  quota->asked = MAX (quota->asked, wanted_locked (quota));
  asked = quota->asked;
  g_mutex_unlock (&quota->lock);
  return asked;
}

/* When downstream turns out to keep more than asked for: the quota to ask
 * for now (recorded as asked), else 0. */
guint
gst_zcipc_quota_grow (GstZcipcQuota * quota)
{
  guint wanted;

  g_mutex_lock (&quota->lock);
  wanted = wanted_locked (quota);
  if (wanted > quota->asked)
    quota->asked = wanted;
  else
    wanted = 0;
  g_mutex_unlock (&quota->lock);
  return wanted;
}

/* Learns from new caps how long a frame lasts and how many buffers
 * downstream's pools keep (their minimums), asking through `srcpad`. */
void
gst_zcipc_quota_learn_caps (GstZcipcQuota * quota, GstPad * srcpad,
    GstCaps * caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  GstQuery *query = gst_query_new_allocation (caps, FALSE);
  GstClockTime duration = GST_CLOCK_TIME_NONE;
  guint min_buffers = 0;
  gint num = 0, den = 0;

  if (gst_structure_get_fraction (s, "framerate", &num, &den) && num > 0 &&
      den > 0)
    duration = gst_util_uint64_scale_int (GST_SECOND, den, num);
  if (gst_pad_peer_query (srcpad, query)) {
    for (guint i = 0; i < gst_query_get_n_allocation_pools (query); i++) {
      guint min = 0;
      gst_query_parse_nth_allocation_pool (query, i, NULL, NULL, &min, NULL);
      min_buffers = MAX (min_buffers, min);
    }
  }
  gst_query_unref (query);
  GST_DEBUG_OBJECT (GST_OBJECT_PARENT (srcpad), "downstream pools keep %u "
      "buffers; a frame lasts "
      "%" GST_TIME_FORMAT, min_buffers, GST_TIME_ARGS (duration));

  g_mutex_lock (&quota->lock);
  quota->downstream_min_buffers = min_buffers;
  if (GST_CLOCK_TIME_IS_VALID (duration))
    quota->frame_duration = duration;
  g_mutex_unlock (&quota->lock);
}

/* Streams without a framerate (audio, some encoded video): a frame lasts
 * what its buffers say. Only the first known duration counts: TRUE when
 * this is it. */
gboolean
gst_zcipc_quota_learn_frame_duration (GstZcipcQuota * quota,
    GstClockTime duration)
{
  gboolean learnt = FALSE;

  if (!GST_CLOCK_TIME_IS_VALID (duration) || duration == 0)
    return FALSE;
  g_mutex_lock (&quota->lock);
  if (!GST_CLOCK_TIME_IS_VALID (quota->frame_duration)) {
    quota->frame_duration = duration;
    learnt = TRUE;
  }
  g_mutex_unlock (&quota->lock);
  return learnt;
}

/* The pipeline's latency: frames that sit downstream (an encoder's
 * lookahead, a sink's render delay) before they are let go. */
void
gst_zcipc_quota_learn_latency (GstZcipcQuota * quota, GstClockTime latency)
{
  g_mutex_lock (&quota->lock);
  quota->downstream_latency = latency;
  g_mutex_unlock (&quota->lock);
}

/* Bounds what the producer may make `client` map by what frames of `caps`
 * need (see MAP_SLACK_FRAMES). */
void
gst_zcipc_quota_limit_mappings (GstZcipcQuota * quota, GstElement * element,
    struct zcipc_client *client, GstCaps * caps)
{
  guint64 frame = 0, frames, map, populate;
  GstVideoInfo info;

  if (gst_video_info_from_caps (&info, caps))
    frame = GST_VIDEO_INFO_SIZE (&info);
  frames = MAX (gst_zcipc_quota_get_asked (quota), 1);
  map = MAX (MAP_FLOOR, frame * (frames + MAP_SLACK_FRAMES));
  populate = MAX (POPULATE_FLOOR, frame * (frames + POPULATE_SLACK_FRAMES));
  zcipc_client_set_map_limits (client, map, populate);
  GST_DEBUG_OBJECT (element, "frames of %" G_GUINT64_FORMAT " bytes: mapping "
      "at most %" G_GUINT64_FORMAT " bytes, populating %" G_GUINT64_FORMAT,
      frame, map, populate);
}
