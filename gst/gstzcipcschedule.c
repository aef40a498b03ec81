/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* Where zcipcsrc's frames play on its clock: the producer's segment,
 * shifted so that running time + zcipcsrc's base time is the clock time
 * the producer renders at (see the element's documentation). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzcipcschedule.h"

GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_src_debug);
#define GST_CAT_DEFAULT gst_zcipc_src_debug

void
gst_zcipc_schedule_reset (GstZcipcSchedule * schedule)
{
  schedule->have_timing = FALSE;
  schedule->have_segment = FALSE;
}

/* A new connection plays its first frame at once again, if unpaced. */
void
gst_zcipc_schedule_new_connection (GstZcipcSchedule * schedule)
{
  schedule->anchored = FALSE;
  schedule->anchor_pending = FALSE;
}

/* When our clock reaches the time the producer renders running time 0 of
 * its segment at: the CLOCK_MONOTONIC time it said, on our clock. FALSE when
 * that is unknown: no clock, or a producer too old to say it in
 * CLOCK_MONOTONIC on another clock than ours. */
static gboolean
producer_render_time (GstZcipcSchedule * s, GstClock * clock,
    gint64 * render_time)
{
  gboolean ours_monotonic = gst_zcipc_clock_is_monotonic (clock);

  s->segment_translated = FALSE;
  s->segment_clock_offset = 0;
  if (s->timing.unpaced) {
    /* Its schedule is no time at which frames are rendered: a consumer
     * that joined after it started (or while it waited for consumers)
     * would find every frame in the past. The first frame plays now. */
    s->anchor_pending = !s->anchored;
    *render_time = s->anchor_render_time;
    return s->anchored;
  }
  if (s->timing.have_render_monotonic) {
    /* Exact when both are on CLOCK_MONOTONIC: the offset is 0. */
    s->segment_clock_offset = ours_monotonic ? 0 :
        gst_zcipc_clock_monotonic_offset (clock);
    s->segment_translated = !ours_monotonic;
    *render_time = s->timing.render_monotonic + s->segment_clock_offset;
    return TRUE;
  }
  if (s->timing.monotonic && ours_monotonic) {
    *render_time = (gint64) s->timing.render_offset;
    return TRUE;
  }
  return FALSE;
}

/* The segment to push: the producer's, shifted so that running time + our
 * base time is the clock time the producer renders at. FALSE while the
 * producer has not sent its segment. */
gboolean
gst_zcipc_schedule_make_segment (GstZcipcSchedule * s, GstElement * element,
    GstSegment * segment)
{
  GstSegment seg;
  GstClock *clock;
  GstClockTime base_time;
  gint64 render_time;

  if (!s->have_segment)
    return FALSE;
  seg = s->producer_segment;
  base_time = gst_element_get_base_time (element);
  clock = gst_element_get_clock (element);
  s->segment_translated = FALSE;

  if (seg.format == GST_FORMAT_TIME && s->have_timing && clock &&
      GST_CLOCK_TIME_IS_VALID (base_time) &&
      producer_render_time (s, clock, &render_time)) {
    gint64 shift = render_time - (gint64) base_time;
    if (!gst_segment_offset_running_time (&seg, GST_FORMAT_TIME, shift))
      GST_WARNING_OBJECT (element, "could not shift the segment by %"
          GST_STIME_FORMAT, GST_STIME_ARGS (shift));
    GST_DEBUG_OBJECT (element, "segment shifted by %" GST_STIME_FORMAT
        " (our clock is CLOCK_MONOTONIC %+" G_GINT64_FORMAT " ns)",
        GST_STIME_ARGS (shift), s->segment_clock_offset);
  } else if (seg.format == GST_FORMAT_TIME) {
    GST_DEBUG_OBJECT (element, "the producer's running times pass "
        "unchanged: no clock, or no mapping from the producer");
  }
  gst_clear_object (&clock);
  s->segment_base_time = base_time;
  *segment = seg;
  return TRUE;
}

/* A producer that does not pace its frames: this first frame of the
 * connection is taken to render now, and the ones after it at their
 * distance in running time from it. TRUE when that changed the segment
 * (make it again). */
gboolean
gst_zcipc_schedule_anchor (GstZcipcSchedule * s, GstElement * element,
    const struct zcipc_wire_frame *info)
{
  GstClock *clock;
  GstClockTime ts = GST_CLOCK_TIME_IS_VALID (info->pts) ? info->pts :
      info->dts, running;
  gboolean anchored_now = FALSE;

  if (!s->anchor_pending || !(clock = gst_element_get_clock (element)))
    return FALSE;
  running = gst_segment_to_running_time (&s->producer_segment,
      GST_FORMAT_TIME, ts);
  if (GST_CLOCK_TIME_IS_VALID (running)) {
    s->anchor_render_time = (gint64) gst_clock_get_time (clock) -
        (gint64) running;
    s->anchored = TRUE;
    s->anchor_pending = FALSE;
    anchored_now = TRUE;
    GST_DEBUG_OBJECT (element, "unpaced producer: running time %"
        GST_TIME_FORMAT " plays now", GST_TIME_ARGS (running));
  }
  gst_object_unref (clock);
  return anchored_now;
}

/* Whether the segment we push no longer maps the producer's render times
 * onto our clock: our base time changed (paused and resumed), or our clock
 * drifted against CLOCK_MONOTONIC (an audio or network clock) past the
 * tolerance. */
gboolean
gst_zcipc_schedule_out_of_date (GstZcipcSchedule * s, GstElement * element)
{
  GstClock *clock;
  gint64 drift;

  if (!s->have_segment)
    return FALSE;
  if (s->segment_base_time != gst_element_get_base_time (element))
    return TRUE;
  if (!s->segment_translated || !(clock = gst_element_get_clock (element)))
    return FALSE;
  drift = gst_zcipc_clock_monotonic_offset (clock) - s->segment_clock_offset;
  gst_object_unref (clock);
  return ABS (drift) >= GST_ZCIPC_TIMING_TOLERANCE;
}

/* The running time now becomes the PTS; the producer's PTS is kept. */
void
gst_zcipc_schedule_retimestamp (GstElement * element, GstBuffer * buffer)
{
  static GstCaps *reference = NULL;
  GstClock *clock = gst_element_get_clock (element);
  GstClockTime now = GST_CLOCK_TIME_NONE;

  if (g_once_init_enter (&reference)) {
    GstCaps *caps = gst_caps_new_empty_simple ("timestamp/x-zcipc-pts");
    GST_MINI_OBJECT_FLAG_SET (caps, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
    g_once_init_leave (&reference, caps);
  }
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    gst_buffer_add_reference_timestamp_meta (buffer, reference,
        GST_BUFFER_PTS (buffer), GST_BUFFER_DURATION (buffer));
  if (clock) {
    GstClockTime base = gst_element_get_base_time (element);
    now = gst_clock_get_time (clock);
    now = now > base ? now - base : 0;
    gst_object_unref (clock);
  }
  GST_BUFFER_PTS (buffer) = now;
  GST_BUFFER_DTS (buffer) = GST_CLOCK_TIME_NONE;
}
