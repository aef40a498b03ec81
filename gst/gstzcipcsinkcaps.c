/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzcipcsinkcaps.h"

/* An upstream free to choose (videotestsrc with no capsfilter picks the
 * first format it is offered) should publish a format consumers commonly
 * expect, not the first of GStreamer's list (ABGR64_LE, 8 bytes a pixel).
 * One structure per format keeps the order through intersections. */
#define PREFERRED_CAPS \
  "video/x-raw, format=RGBA; " \
  "video/x-raw, format=RGB; " \
  "video/x-raw, format=BGRx; " \
  "video/x-raw, format=I420; " \
  "video/x-raw, format=NV12; " \
  "video/x-raw, format=GRAY8"

static GstStaticCaps preferred_caps = GST_STATIC_CAPS (PREFERRED_CAPS);

/* The preferred formats upstream can produce first, then everything else
 * upstream offers. Without a filter the answer stays ANY: nothing can be
 * put before ANY, and negotiating peers (basesrc, basetransform, capsfilter)
 * query with their own caps as the filter. */
GstCaps *
gst_zcipc_sink_caps_for_filter (GstCaps * filter)
{
  GstCaps *preferred, *caps;

  if (!filter)
    return gst_caps_new_any ();

  preferred = gst_static_caps_get (&preferred_caps);
  caps = gst_caps_intersect_full (preferred, filter, GST_CAPS_INTERSECT_FIRST);
  gst_caps_unref (preferred);
  return gst_caps_merge (caps, gst_caps_ref (filter));
}
