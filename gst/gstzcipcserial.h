/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_SERIAL_H__
#define __GST_ZCIPC_SERIAL_H__

/* What crosses the wire besides pixels: events and buffer metas, turned into
 * bytes by the producer and back into GStreamer objects by the consumer.
 * GStreamer 1.22 has no meta serialization API, so zcipc brings its own: a
 * registry with one encoder/decoder pair per meta API.
 *
 * Events, the timing record and string bounds are gstzcipcserial.c's;
 * metas gstzcipcmeta.c's (one codec per gstzcipcmeta*.c). The clock
 * readings the timing record carries are gstzcipcclock.h's, included here
 * for the elements that send and apply it. */

#include <gst/gst.h>

#include "gstzcipcclock.h"

G_BEGIN_DECLS

/* Event kinds on the wire (zcipc_wire_event.kind). Stable: never renumber. */
typedef enum
{
  GST_ZCIPC_EVENT_CAPS = 1,
  GST_ZCIPC_EVENT_STREAM_START = 2,
  GST_ZCIPC_EVENT_SEGMENT = 3,
  GST_ZCIPC_EVENT_TAG = 4,
  GST_ZCIPC_EVENT_EOS = 5,
  GST_ZCIPC_EVENT_GAP = 6,
  GST_ZCIPC_EVENT_CUSTOM = 7,
  GST_ZCIPC_EVENT_TIMING = 8,   /* the producer's clock mapping */
} GstZcipcEventKind;

/* When the producer renders running time 0 of its segment. Both processes
 * share the host's CLOCK_MONOTONIC, so that time said in CLOCK_MONOTONIC
 * lets a consumer on any clock map running times onto its own.
 * render_offset and monotonic are all that producers before
 * render_monotonic sent; consumers of that age read nothing else. */
typedef struct
{
  GstClockTime render_offset;   /* producer base time + its render latency */
  gboolean monotonic;           /* the producer's clock is CLOCK_MONOTONIC */
  gboolean have_render_monotonic;
  gint64 render_monotonic;      /* render_offset in CLOCK_MONOTONIC */
  /* The producer renders as fast as frames come (sync=false), not at their
   * running times: its schedule says nothing of when a frame is rendered.
   * Absent (FALSE) from older producers. */
  gboolean unpaced;
} GstZcipcTiming;

/* How far a clock may drift against CLOCK_MONOTONIC before the mapping is
 * said again (producer) or applied again (consumer): a new segment per
 * millisecond of drift, every 20 s for an audio clock 50 ppm off. */
#define GST_ZCIPC_TIMING_TOLERANCE GST_MSECOND

/* Serializes a serialized downstream event the consumer should see.
 * Returns NULL for events that do not cross (flushes, QoS, ...). *kind is
 * the wire kind; the bytes are the payload. */
GBytes *gst_zcipc_event_serialize (GstEvent * event, guint32 * kind);

/* Rebuilds an event; NULL if the payload is malformed (the caller logs). */
GstEvent *gst_zcipc_event_deserialize (guint32 kind, const guint8 * payload,
    gsize size);

GBytes *gst_zcipc_timing_serialize (const GstZcipcTiming * timing);
gboolean gst_zcipc_timing_deserialize (const guint8 * payload, gsize size,
    GstZcipcTiming * timing);

/* Appends every meta of `buffer` that has a registered encoder to `out`.
 * Metas without one stay behind (counted in *n_skipped when not NULL), and
 * so does one that would take the metas past GST_ZCIPC_MAX_META_SIZE bytes
 * (counted too): the first such is named in *too_big (its API's name) with
 * its encoded size in *too_big_size, when those are not NULL. */
void gst_zcipc_metas_serialize (GstBuffer * buffer, GByteArray * out,
    guint * n_skipped, const gchar ** too_big, gsize * too_big_size);

/* Most bytes of metas one frame may carry (in shared memory of their own
 * beyond GST_ZCIPC_MAX_INLINE_META_SIZE): ZCIPC_WIRE_MAX_META_SIZE. */
#define GST_ZCIPC_MAX_META_SIZE (64 * 1024 * 1024)
/* Most bytes of metas that travel in the frame's message itself. */
#define GST_ZCIPC_MAX_INLINE_META_SIZE (192 * 1024)

/* What one connection's metas may cost this process, and the stream they
 * describe: see gst_zcipc_metas_deserialize(). Streaming thread only. */
typedef struct _GstZcipcMetaContext GstZcipcMetaContext;

GstZcipcMetaContext *gst_zcipc_meta_context_new (void);
void gst_zcipc_meta_context_free (GstZcipcMetaContext * ctx);
/* The stream's caps: video metas must then describe that format, at least
 * that size. NULL (or caps that are not raw video): no such check. */
void gst_zcipc_meta_context_set_caps (GstZcipcMetaContext * ctx,
    GstCaps * caps);

/* Custom meta names one connection may use, and that this process
 * registers with GStreamer for peers (registrations last for good): past
 * either, a custom meta is skipped and counted. */
#define GST_ZCIPC_MAX_CUSTOM_METAS_PER_CONNECTION 32
#define GST_ZCIPC_MAX_CUSTOM_METAS_PER_PROCESS 256

/* Adds the metas in `data` to `buffer`. Records of unknown kinds are skipped
 * and counted in *n_unknown, custom metas past the bounds above in
 * *n_skipped; a malformed record (a video meta whose planes reach past the
 * buffer's memory, a string past the bounds below) ends decoding and
 * returns FALSE, with what was wrong in *error (free it) when not NULL. */
gboolean gst_zcipc_metas_deserialize (GstBuffer * buffer, const guint8 * data,
    gsize size, GstZcipcMetaContext * ctx, guint * n_unknown,
    guint * n_skipped, gchar ** error);

/* Strings from a peer reach GStreamer's parsers (caps, structures, tag
 * lists), which recurse once per nesting level: a string longer than
 * GST_ZCIPC_MAX_STRING_SIZE bytes or nested deeper than
 * GST_ZCIPC_MAX_STRING_DEPTH brackets ((, [, {, <; outside quotes) is
 * refused before any parser sees it. Event strings are bounded tighter by
 * their message (ZCIPC_WIRE_MAX_MESSAGE_SIZE, 256 KiB); a custom meta may
 * carry megabytes. `size` counts the bytes up to the terminating NUL or
 * the end. */
#define GST_ZCIPC_MAX_STRING_SIZE GST_ZCIPC_MAX_META_SIZE
#define GST_ZCIPC_MAX_STRING_DEPTH 16
gboolean gst_zcipc_string_is_bounded (const gchar * str, gsize size);

G_END_DECLS
#endif
