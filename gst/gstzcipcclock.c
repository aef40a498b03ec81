/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* How a GstClock relates to CLOCK_MONOTONIC, the clock both processes
 * share: whether it is that clock, and its offset from it. What the timing
 * record (gstzcipcserial.c) says is measured here. */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* clock_gettime under -std=c11 */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <zcipc/clock.h>

#include "gstzcipcclock.h"

gboolean
gst_zcipc_clock_is_monotonic (GstClock * clock)
{
  GstClockTime internal, external, num, denom;
  GstClockType type;

  /* A subclass (a network clock) or a calibration (a slaved clock) tells
   * another time than the one it reads. */
  if (!clock || G_OBJECT_TYPE (clock) != GST_TYPE_SYSTEM_CLOCK)
    return FALSE;
  gst_clock_get_calibration (clock, &internal, &external, &num, &denom);
  if (internal != external || num != denom)
    return FALSE;
  g_object_get (clock, "clock-type", &type, NULL);
  return type == GST_CLOCK_TYPE_MONOTONIC;
}

gint64
gst_zcipc_clock_monotonic_offset (GstClock * clock)
{
  gint64 best_gap = G_MAXINT64, offset = 0;
  guint i;

  /* A preemption between the two reads would be an error in the offset:
   * take the read of the clock that CLOCK_MONOTONIC brackets closest. */
  for (i = 0; i < 3; i++) {
    gint64 before = zcipc_now_ns ();
    GstClockTime now = gst_clock_get_time (clock);
    gint64 after = zcipc_now_ns ();

    if (after - before < best_gap) {
      best_gap = after - before;
      offset = (gint64) now - (before + (after - before) / 2);
    }
  }
  return offset;
}
