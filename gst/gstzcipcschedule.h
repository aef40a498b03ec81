/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* GstZcipcSchedule: where zcipcsrc's frames play on its own clock.
 *
 * Owns the producer's segment and render schedule (its TIMING: when it
 * renders running time 0, in CLOCK_MONOTONIC) as the producer sent them,
 * and what the segment zcipcsrc pushes was made from (its base time, its
 * clock's offset from CLOCK_MONOTONIC); makes that segment, and says when
 * it is out of date (base time changed, clock drifted).
 *
 * Locking: none; the streaming thread's (and start()'s, while it is
 * stopped). Lifetime: a member of GstZcipcSrc; start() resets it, each new
 * connection forgets its anchor. */
#ifndef __GST_ZCIPC_SCHEDULE_H__
#define __GST_ZCIPC_SCHEDULE_H__

#include <gst/gst.h>

#include "gstzcipcserial.h"
#include "zcipc/wire.h"

G_BEGIN_DECLS

typedef struct
{
  GstZcipcTiming timing;
  gboolean have_timing;
  /* A producer that does not pace its frames (sync=false): our clock time
   * at which its running time 0 is taken to render, set from the first
   * frame of a connection, which plays at once. */
  gboolean anchor_pending;
  gboolean anchored;
  gint64 anchor_render_time;
  GstSegment producer_segment;
  gboolean have_segment;
  GstClockTime segment_base_time;       /* our base time the segment used */
  gboolean segment_translated;  /* mapped through CLOCK_MONOTONIC, with: */
  gint64 segment_clock_offset;  /* our clock minus CLOCK_MONOTONIC then */
} GstZcipcSchedule;

void gst_zcipc_schedule_reset (GstZcipcSchedule * schedule);

void gst_zcipc_schedule_new_connection (GstZcipcSchedule * schedule);

gboolean gst_zcipc_schedule_make_segment (GstZcipcSchedule * schedule,
    GstElement * element, GstSegment * segment);

gboolean gst_zcipc_schedule_anchor (GstZcipcSchedule * schedule,
    GstElement * element, const struct zcipc_wire_frame *info);

gboolean gst_zcipc_schedule_out_of_date (GstZcipcSchedule * schedule,
    GstElement * element);

void gst_zcipc_schedule_retimestamp (GstElement * element, GstBuffer * buffer);

G_END_DECLS
#endif
