/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* clock_gettime under -std=c11 */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <time.h>

#include <gst/audio/audio.h>
#include <gst/video/video.h>

#include "gstzcipcserial.h"

/* Events travel as GstStructure strings: self-describing, versionable, and
 * parsed by GStreamer's own strict parser on the way back. Metas travel as
 * binary records: [guint32 kind][guint32 size][size bytes][pad to 8]. */

gboolean
gst_zcipc_string_is_bounded (const gchar * str, gsize size)
{
  gboolean quoted = FALSE;
  guint depth = 0;

  if (size > GST_ZCIPC_MAX_STRING_SIZE)
    return FALSE;
  /* GStreamer's parsers recurse per list, array, range, nested structure
   * or caps, and type cast: count those brackets. Nesting through quoted
   * strings costs the peer twice the escapes per level, so that 256 KiB
   * reach no depth worth counting. */
  for (gsize i = 0; i < size && str[i]; i++) {
    gchar ch = str[i];

    if (ch == '\\') {
      if (i + 1 < size && str[i + 1])
        i++;
      continue;
    }
    if (quoted) {
      quoted = ch != '"';
      continue;
    }
    switch (ch) {
      case '"':
        quoted = TRUE;
        break;
      case '(':
      case '[':
      case '{':
      case '<':
        if (++depth > GST_ZCIPC_MAX_STRING_DEPTH)
          return FALSE;
        break;
      case ')':
      case ']':
      case '}':
      case '>':
        if (depth > 0)
          depth--;
        break;
      default:
        break;
    }
  }
  return TRUE;
}

static GBytes *
bytes_from_structure (GstStructure * s)
{
  gchar *str = gst_structure_to_string (s);
  gst_structure_free (s);
  return g_bytes_new_take (str, strlen (str) + 1);
}

static GstStructure *
structure_from_payload (const guint8 * payload, gsize size, const gchar * name)
{
  GstStructure *s;

  /* Producers send the terminating NUL; anything else is malformed. */
  if (size == 0 || payload[size - 1] != '\0' ||
      memchr (payload, '\0', size) != payload + size - 1 ||
      !gst_zcipc_string_is_bounded ((const gchar *) payload, size - 1))
    return NULL;
  s = gst_structure_from_string ((const gchar *) payload, NULL);
  if (s && name && !gst_structure_has_name (s, name)) {
    gst_structure_free (s);
    return NULL;
  }
  return s;
}

GBytes *
gst_zcipc_event_serialize (GstEvent * event, guint32 * kind)
{
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gchar *str;

      gst_event_parse_caps (event, &caps);
      str = gst_caps_to_string (caps);
      *kind = GST_ZCIPC_EVENT_CAPS;
      return g_bytes_new_take (str, strlen (str) + 1);
    }
    case GST_EVENT_STREAM_START:{
      const gchar *stream_id = NULL;
      GstStreamFlags flags = 0;
      guint group_id = 0;
      gboolean has_group;

      gst_event_parse_stream_start (event, &stream_id);
      gst_event_parse_stream_flags (event, &flags);
      has_group = gst_event_parse_group_id (event, &group_id);
      *kind = GST_ZCIPC_EVENT_STREAM_START;
      return bytes_from_structure (gst_structure_new ("stream-start",
              "stream-id", G_TYPE_STRING, stream_id ? stream_id : "",
              "flags", G_TYPE_UINT, (guint) flags,
              "has-group-id", G_TYPE_BOOLEAN, has_group,
              "group-id", G_TYPE_UINT, group_id, NULL));
    }
    case GST_EVENT_SEGMENT:{
      const GstSegment *seg;

      gst_event_parse_segment (event, &seg);
      *kind = GST_ZCIPC_EVENT_SEGMENT;
      return bytes_from_structure (gst_structure_new ("segment",
              "flags", G_TYPE_UINT, (guint) seg->flags,
              "rate", G_TYPE_DOUBLE, seg->rate,
              "applied-rate", G_TYPE_DOUBLE, seg->applied_rate,
              "format", G_TYPE_INT, (gint) seg->format,
              "base", G_TYPE_UINT64, seg->base,
              "offset", G_TYPE_UINT64, seg->offset,
              "start", G_TYPE_UINT64, seg->start,
              "stop", G_TYPE_UINT64, seg->stop,
              "time", G_TYPE_UINT64, seg->time,
              "position", G_TYPE_UINT64, seg->position,
              "duration", G_TYPE_UINT64, seg->duration, NULL));
    }
    case GST_EVENT_TAG:{
      GstTagList *tags;
      gchar *str;
      GstStructure *s;

      gst_event_parse_tag (event, &tags);
      str = gst_tag_list_to_string (tags);
      s = gst_structure_new ("tag", "scope", G_TYPE_INT,
          (gint) gst_tag_list_get_scope (tags), "tags", G_TYPE_STRING, str,
          NULL);
      g_free (str);
      *kind = GST_ZCIPC_EVENT_TAG;
      return bytes_from_structure (s);
    }
    case GST_EVENT_EOS:
      *kind = GST_ZCIPC_EVENT_EOS;
      return g_bytes_new_static ("", 1);
    case GST_EVENT_GAP:{
      GstClockTime ts, duration;

      gst_event_parse_gap (event, &ts, &duration);
      *kind = GST_ZCIPC_EVENT_GAP;
      return bytes_from_structure (gst_structure_new ("gap",
              "timestamp", G_TYPE_UINT64, ts,
              "duration", G_TYPE_UINT64, duration, NULL));
    }
    case GST_EVENT_CUSTOM_DOWNSTREAM:
    case GST_EVENT_CUSTOM_DOWNSTREAM_STICKY:{
      const GstStructure *custom = gst_event_get_structure (event);
      gchar *str;
      GstStructure *s;

      if (!custom)
        return NULL;
      str = gst_structure_to_string (custom);
      s = gst_structure_new ("custom", "type", G_TYPE_UINT,
          (guint) GST_EVENT_TYPE (event), "structure", G_TYPE_STRING, str,
          NULL);
      g_free (str);
      *kind = GST_ZCIPC_EVENT_CUSTOM;
      return bytes_from_structure (s);
    }
    default:
      return NULL;
  }
}

static gboolean
get_u64 (const GstStructure * s, const gchar * field, guint64 * out)
{
  return gst_structure_get_uint64 (s, field, out);
}

static GstEvent *
deserialize_segment (const GstStructure * s)
{
  GstSegment seg;
  guint flags;
  gint format;

  gst_segment_init (&seg, GST_FORMAT_TIME);
  if (!gst_structure_get_uint (s, "flags", &flags) ||
      !gst_structure_get_double (s, "rate", &seg.rate) ||
      !gst_structure_get_double (s, "applied-rate", &seg.applied_rate) ||
      !gst_structure_get_int (s, "format", &format) ||
      !get_u64 (s, "base", &seg.base) || !get_u64 (s, "offset", &seg.offset) ||
      !get_u64 (s, "start", &seg.start) || !get_u64 (s, "stop", &seg.stop) ||
      !get_u64 (s, "time", &seg.time) ||
      !get_u64 (s, "position", &seg.position) ||
      !get_u64 (s, "duration", &seg.duration))
    return NULL;
  if (seg.rate == 0.0 || seg.applied_rate == 0.0)
    return NULL;
  seg.flags = flags;
  seg.format = format;
  return gst_event_new_segment (&seg);
}

GstEvent *
gst_zcipc_event_deserialize (guint32 kind, const guint8 * payload, gsize size)
{
  GstStructure *s = NULL;
  GstEvent *event = NULL;

  switch (kind) {
    case GST_ZCIPC_EVENT_CAPS:{
      GstCaps *caps;

      if (size == 0 || payload[size - 1] != '\0' ||
          !gst_zcipc_string_is_bounded ((const gchar *) payload, size - 1))
        return NULL;
      caps = gst_caps_from_string ((const gchar *) payload);
      if (!caps)
        return NULL;
      if (!gst_caps_is_fixed (caps)) {
        gst_caps_unref (caps);
        return NULL;
      }
      event = gst_event_new_caps (caps);
      gst_caps_unref (caps);
      return event;
    }
    case GST_ZCIPC_EVENT_STREAM_START:{
      const gchar *id;
      guint flags, group;
      gboolean has_group;

      if (!(s = structure_from_payload (payload, size, "stream-start")))
        return NULL;
      id = gst_structure_get_string (s, "stream-id");
      if (id && gst_structure_get_uint (s, "flags", &flags) &&
          gst_structure_get_boolean (s, "has-group-id", &has_group) &&
          gst_structure_get_uint (s, "group-id", &group)) {
        event = gst_event_new_stream_start (id);
        gst_event_set_stream_flags (event, flags);
        if (has_group)
          gst_event_set_group_id (event, group);
      }
      break;
    }
    case GST_ZCIPC_EVENT_SEGMENT:
      if ((s = structure_from_payload (payload, size, "segment")))
        event = deserialize_segment (s);
      break;
    case GST_ZCIPC_EVENT_TAG:{
      const gchar *str;
      GstTagList *tags;
      gint scope;

      if (!(s = structure_from_payload (payload, size, "tag")))
        return NULL;
      str = gst_structure_get_string (s, "tags");
      if (str && gst_zcipc_string_is_bounded (str, strlen (str)) &&
          gst_structure_get_int (s, "scope", &scope)
          && (tags = gst_tag_list_new_from_string (str))) {
        gst_tag_list_set_scope (tags,
            scope ==
            GST_TAG_SCOPE_GLOBAL ? GST_TAG_SCOPE_GLOBAL : GST_TAG_SCOPE_STREAM);
        event = gst_event_new_tag (tags);
      }
      break;
    }
    case GST_ZCIPC_EVENT_EOS:
      return gst_event_new_eos ();
    case GST_ZCIPC_EVENT_GAP:{
      guint64 ts, duration;

      if (!(s = structure_from_payload (payload, size, "gap")))
        return NULL;
      if (get_u64 (s, "timestamp", &ts) && get_u64 (s, "duration", &duration)
          && GST_CLOCK_TIME_IS_VALID (ts))
        event = gst_event_new_gap (ts, duration);
      break;
    }
    case GST_ZCIPC_EVENT_CUSTOM:{
      const gchar *str;
      guint type;
      GstStructure *custom;

      if (!(s = structure_from_payload (payload, size, "custom")))
        return NULL;
      str = gst_structure_get_string (s, "structure");
      if (str && gst_zcipc_string_is_bounded (str, strlen (str)) &&
          gst_structure_get_uint (s, "type", &type) &&
          (type == GST_EVENT_CUSTOM_DOWNSTREAM ||
              type == GST_EVENT_CUSTOM_DOWNSTREAM_STICKY) &&
          (custom = gst_structure_from_string (str, NULL)))
        event = gst_event_new_custom (type, custom);
      break;
    }
    default:
      return NULL;
  }
  if (s)
    gst_structure_free (s);
  return event;
}

GBytes *
gst_zcipc_timing_serialize (const GstZcipcTiming * timing)
{
  GstStructure *s = gst_structure_new ("timing",
      "render-offset", G_TYPE_UINT64, timing->render_offset,
      "monotonic", G_TYPE_BOOLEAN, timing->monotonic, NULL);

  if (timing->have_render_monotonic)
    gst_structure_set (s, "render-monotonic", G_TYPE_INT64,
        timing->render_monotonic, NULL);
  if (timing->unpaced)
    gst_structure_set (s, "unpaced", G_TYPE_BOOLEAN, TRUE, NULL);
  return bytes_from_structure (s);
}

gboolean
gst_zcipc_timing_deserialize (const guint8 * payload, gsize size,
    GstZcipcTiming * timing)
{
  GstStructure *s = structure_from_payload (payload, size, "timing");
  gboolean ok;

  if (!s)
    return FALSE;
  ok = gst_structure_get_uint64 (s, "render-offset", &timing->render_offset)
      && gst_structure_get_boolean (s, "monotonic", &timing->monotonic);
  /* Absent from older producers: then only a consumer on their clock maps. */
  timing->have_render_monotonic = gst_structure_get_int64 (s,
      "render-monotonic", &timing->render_monotonic);
  if (!gst_structure_get_boolean (s, "unpaced", &timing->unpaced))
    timing->unpaced = FALSE;
  gst_structure_free (s);
  return ok;
}

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

static gint64
monotonic_now (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * GST_SECOND + ts.tv_nsec;
}

gint64
gst_zcipc_clock_monotonic_offset (GstClock * clock)
{
  gint64 best_gap = G_MAXINT64, offset = 0;
  guint i;

  /* A preemption between the two reads would be an error in the offset:
   * take the read of the clock that CLOCK_MONOTONIC brackets closest. */
  for (i = 0; i < 3; i++) {
    gint64 before = monotonic_now ();
    GstClockTime now = gst_clock_get_time (clock);
    gint64 after = monotonic_now ();

    if (after - before < best_gap) {
      best_gap = after - before;
      offset = (gint64) now - (before + (after - before) / 2);
    }
  }
  return offset;
}

/* ------------------------------------------------------------------ metas */

/* Meta kinds on the wire. Stable: never renumber. */
enum
{
  META_VIDEO = 1,
  META_VIDEO_CROP = 2,
  META_REFERENCE_TIMESTAMP = 3,
  META_CUSTOM = 4,
  META_AUDIO = 5,
};

typedef struct
{
  guint32 kind;
  guint32 size;
} MetaRecordHeader;

typedef struct
{
  guint32 flags;
  guint32 format;
  guint32 width;
  guint32 height;
  guint32 n_planes;
  guint32 id;
  guint64 offset[GST_VIDEO_MAX_PLANES];
  gint32 stride[GST_VIDEO_MAX_PLANES];
} WireVideoMeta;
G_STATIC_ASSERT (sizeof (WireVideoMeta) == 72);

typedef struct
{
  guint32 x, y, width, height;
} WireCropMeta;

typedef struct
{
  guint64 timestamp;
  guint64 duration;
} WireReferenceTimestamp;       /* followed by the reference caps string */

typedef struct
{
  guint32 format;               /* GstAudioFormat */
  guint32 flags;                /* GstAudioFlags */
  guint32 layout;               /* GstAudioLayout */
  guint32 rate;
  guint32 channels;             /* 1..64 */
  guint32 n_offsets;            /* channels if non-interleaved, else 0 */
  guint64 samples;
} WireAudioMeta;                /* followed by n_offsets guint64 plane offsets,
                                 * then channels gint32 positions */
G_STATIC_ASSERT (sizeof (WireAudioMeta) == 32);

struct _GstZcipcMetaContext
{
  GHashTable *custom_names;     /* gchar* -> NULL: used on this connection */
  gboolean have_info;           /* the stream's caps are raw video: */
  GstVideoInfo info;
  guint n_skipped;              /* of the record being decoded */
  gchar *error;                 /* why the last record was malformed */
};

/* Custom meta names this process registered for peers (for good: GStreamer
 * has no unregistering), and their lock. */
static GMutex registered_lock;
static GHashTable *registered_names;

GstZcipcMetaContext *
gst_zcipc_meta_context_new (void)
{
  GstZcipcMetaContext *ctx = g_new0 (GstZcipcMetaContext, 1);

  ctx->custom_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      NULL);
  return ctx;
}

void
gst_zcipc_meta_context_free (GstZcipcMetaContext * ctx)
{
  if (!ctx)
    return;
  g_hash_table_unref (ctx->custom_names);
  g_free (ctx->error);
  g_free (ctx);
}

void
gst_zcipc_meta_context_set_caps (GstZcipcMetaContext * ctx, GstCaps * caps)
{
  ctx->have_info = caps && gst_video_info_from_caps (&ctx->info, caps) &&
      GST_VIDEO_INFO_FORMAT (&ctx->info) != GST_VIDEO_FORMAT_ENCODED;
}

static gboolean
malformed (GstZcipcMetaContext * ctx, const gchar * format, ...)
G_GNUC_PRINTF (2, 3);

     static gboolean
         malformed (GstZcipcMetaContext * ctx, const gchar * format, ...)
{
  va_list args;

  g_free (ctx->error);
  va_start (args, format);
  ctx->error = g_strdup_vprintf (format, args);
  va_end (args);
  return FALSE;
}

typedef struct
{
  GType (*api) (void);
  guint32 kind;
  /* Appends the record payload; FALSE skips this meta. */
    gboolean (*encode) (GstMeta * meta, GByteArray * out);
  /* FALSE: the record is malformed (why in ctx->error). */
    gboolean (*decode) (GstBuffer * buffer, const guint8 * data, gsize size,
      GstZcipcMetaContext * ctx);
} MetaCodec;

static gboolean
encode_video (GstMeta * meta, GByteArray * out)
{
  GstVideoMeta *vm = (GstVideoMeta *) meta;
  WireVideoMeta w = { 0 };
  guint i;

  w.flags = vm->flags;
  w.format = vm->format;
  w.width = vm->width;
  w.height = vm->height;
  w.n_planes = vm->n_planes;
  w.id = (guint32) vm->id;
  for (i = 0; i < vm->n_planes && i < GST_VIDEO_MAX_PLANES; i++) {
    w.offset[i] = vm->offset[i];
    w.stride[i] = vm->stride[i];
  }
  g_byte_array_append (out, (const guint8 *) &w, sizeof w);
  return TRUE;
}

/* Whether `format` is one this build knows as raw video (what
 * gst_video_format_get_info() may be asked about without a critical). */
static gboolean
known_raw_format (guint32 format)
{
  const GstVideoFormat *formats;
  guint n;

  formats = gst_video_formats_raw (&n);
  for (guint i = 0; i < n; i++)
    if ((guint32) formats[i] == format)
      return TRUE;
  return FALSE;
}

/* Rows of plane `plane`, and the bytes its last row needs at least, of a
 * w x h frame of `finfo`: from the format's components where each pixel
 * of the plane takes whole bytes (pixel_stride), else (packed, complex,
 * palette formats) from GStreamer's own default layout (`info`,
 * `plane_size`). FALSE where neither tells. */
static gboolean
plane_extent (const GstVideoFormatInfo * finfo, const GstVideoInfo * info,
    const gsize * plane_size, guint plane, guint width, guint height,
    guint64 * rows, guint64 * row_bytes)
{
  gboolean simple = !GST_VIDEO_FORMAT_INFO_IS_COMPLEX (finfo) &&
      !GST_VIDEO_FORMAT_INFO_HAS_PALETTE (finfo);
  gboolean found = FALSE;

  *rows = 0;
  *row_bytes = 0;
  for (guint c = 0; simple && c < GST_VIDEO_FORMAT_INFO_N_COMPONENTS (finfo);
      c++) {
    guint64 w, h;

    if (GST_VIDEO_FORMAT_INFO_PLANE (finfo, c) != plane)
      continue;
    if (GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, c) <= 0) {
      simple = FALSE;
      break;
    }
    w = (guint64) GST_VIDEO_FORMAT_INFO_SCALE_WIDTH (finfo, c, (gint) width);
    h = (guint64) GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT (finfo, c, (gint) height);
    *row_bytes = MAX (*row_bytes,
        w * (guint64) GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, c));
    *rows = MAX (*rows, h);
    found = TRUE;
  }
  if (simple && found)
    return TRUE;
  if (GST_VIDEO_INFO_PLANE_STRIDE (info, plane) <= 0)
    return FALSE;
  *row_bytes = (guint64) GST_VIDEO_INFO_PLANE_STRIDE (info, plane);
  *rows = plane_size[plane] / *row_bytes;
  return *rows > 0;
}

/* Checks a video meta from a peer before GStreamer sees it: GStreamer 1.22
 * checks no buffer size once a video meta is there, so every plane
 * (offset + stride x (rows - 1) + its last row) must lie within the
 * buffer's memory, or downstream reads past it. Strides must be positive
 * and hold a row; tiled formats must use GStreamer's own tiling. */
static gboolean
video_layout_fits (const WireVideoMeta * w, gsize buffer_size,
    GstZcipcMetaContext * ctx)
{
  const GstVideoFormatInfo *finfo;
  gsize plane_size[GST_VIDEO_MAX_PLANES] = { 0 };
  GstVideoAlignment align;
  GstVideoInfo info;

  if (!known_raw_format (w->format) || w->width == 0 || w->height == 0 ||
      w->width > G_MAXINT / 8 || w->height > G_MAXINT / 8)
    return malformed (ctx, "video meta of unknown format %u or size %ux%u",
        w->format, w->width, w->height);
  finfo = gst_video_format_get_info (w->format);
  if (w->n_planes != GST_VIDEO_FORMAT_INFO_N_PLANES (finfo))
    return malformed (ctx, "video meta with %u planes for %s (which has %u)",
        w->n_planes, GST_VIDEO_FORMAT_INFO_NAME (finfo),
        GST_VIDEO_FORMAT_INFO_N_PLANES (finfo));
  if (ctx->have_info && (GST_VIDEO_INFO_FORMAT (&ctx->info) != w->format ||
          (guint) GST_VIDEO_INFO_WIDTH (&ctx->info) > w->width ||
          (guint) GST_VIDEO_INFO_HEIGHT (&ctx->info) > w->height))
    return malformed (ctx, "video meta %s %ux%u for a stream of %s %dx%d",
        GST_VIDEO_FORMAT_INFO_NAME (finfo), w->width, w->height,
        GST_VIDEO_INFO_NAME (&ctx->info), GST_VIDEO_INFO_WIDTH (&ctx->info),
        GST_VIDEO_INFO_HEIGHT (&ctx->info));
  gst_video_alignment_reset (&align);
  if (!gst_video_info_set_format (&info, w->format, w->width, w->height) ||
      !gst_video_info_align_full (&info, &align, plane_size))
    return malformed (ctx, "video meta %s %ux%u: no layout GStreamer can "
        "compute", GST_VIDEO_FORMAT_INFO_NAME (finfo), w->width, w->height);

  for (guint p = 0; p < w->n_planes; p++) {
    guint64 rows, row_bytes, end;
    gint32 stride = w->stride[p];

    if (GST_VIDEO_FORMAT_INFO_IS_TILED (finfo)) {
      /* The stride encodes the tiles; only GStreamer's own is checked. */
      if (stride != GST_VIDEO_INFO_PLANE_STRIDE (&info, p) ||
          w->offset[p] > buffer_size ||
          plane_size[p] > buffer_size - w->offset[p])
        return malformed (ctx, "video meta plane %u of tiled %s (offset %"
            G_GUINT64_FORMAT ", stride %d) does not fit the %" G_GSIZE_FORMAT
            " bytes of its memory", p, GST_VIDEO_FORMAT_INFO_NAME (finfo),
            w->offset[p], stride, buffer_size);
      continue;
    }
    if (!plane_extent (finfo, &info, plane_size, p, w->width, w->height,
            &rows, &row_bytes))
      return malformed (ctx, "video meta plane %u of %s: no size "
          "GStreamer can compute", p, GST_VIDEO_FORMAT_INFO_NAME (finfo));
    if (stride <= 0 || (guint64) stride < row_bytes)
      return malformed (ctx, "video meta plane %u of %s %ux%u has stride %d, "
          "less than its rows' %" G_GUINT64_FORMAT " bytes", p,
          GST_VIDEO_FORMAT_INFO_NAME (finfo), w->width, w->height, stride,
          row_bytes);
    /* No overflow: stride < 2^31, rows < 2^31, row_bytes < 2^35. */
    end = (guint64) stride *(rows - 1) + row_bytes;
    if (w->offset[p] > buffer_size || end > buffer_size - w->offset[p])
      return malformed (ctx, "video meta plane %u of %s %ux%u (offset %"
          G_GUINT64_FORMAT ", stride %d, %" G_GUINT64_FORMAT " rows) reaches "
          "past the %" G_GSIZE_FORMAT " bytes of its memory", p,
          GST_VIDEO_FORMAT_INFO_NAME (finfo), w->width, w->height,
          w->offset[p], stride, rows, buffer_size);
  }
  return TRUE;
}

static gboolean
decode_video (GstBuffer * buffer, const guint8 * data, gsize size,
    GstZcipcMetaContext * ctx)
{
  WireVideoMeta w;
  gsize offset[GST_VIDEO_MAX_PLANES] = { 0 };
  gint stride[GST_VIDEO_MAX_PLANES] = { 0 };
  GstVideoMeta *vm;
  guint i;

  if (size != sizeof w)
    return malformed (ctx, "video meta of %" G_GSIZE_FORMAT " bytes", size);
  memcpy (&w, data, sizeof w);
  if (w.n_planes == 0 || w.n_planes > GST_VIDEO_MAX_PLANES)
    return malformed (ctx, "video meta with %u planes", w.n_planes);
  if (!video_layout_fits (&w, gst_buffer_get_size (buffer), ctx))
    return FALSE;
  for (i = 0; i < w.n_planes; i++) {
    offset[i] = w.offset[i];
    stride[i] = w.stride[i];
  }
  vm = gst_buffer_add_video_meta_full (buffer, w.flags, w.format, w.width,
      w.height, w.n_planes, offset, stride);
  if (!vm)
    return malformed (ctx, "GStreamer refused the video meta");
  vm->id = w.id;
  return TRUE;
}

static gboolean
encode_crop (GstMeta * meta, GByteArray * out)
{
  GstVideoCropMeta *cm = (GstVideoCropMeta *) meta;
  WireCropMeta w = { cm->x, cm->y, cm->width, cm->height };
  g_byte_array_append (out, (const guint8 *) &w, sizeof w);
  return TRUE;
}

static gboolean
decode_crop (GstBuffer * buffer, const guint8 * data, gsize size,
    GstZcipcMetaContext * ctx)
{
  WireCropMeta w;
  GstVideoCropMeta *cm;

  if (size != sizeof w)
    return malformed (ctx, "crop meta of %" G_GSIZE_FORMAT " bytes", size);
  memcpy (&w, data, sizeof w);
  cm = gst_buffer_add_video_crop_meta (buffer);
  cm->x = w.x;
  cm->y = w.y;
  cm->width = w.width;
  cm->height = w.height;
  return TRUE;
}

static gboolean
encode_reference_timestamp (GstMeta * meta, GByteArray * out)
{
  GstReferenceTimestampMeta *rm = (GstReferenceTimestampMeta *) meta;
  WireReferenceTimestamp w = { rm->timestamp, rm->duration };
  gchar *caps = rm->reference ? gst_caps_to_string (rm->reference) :
      g_strdup ("");

  g_byte_array_append (out, (const guint8 *) &w, sizeof w);
  g_byte_array_append (out, (const guint8 *) caps, strlen (caps) + 1);
  g_free (caps);
  return TRUE;
}

static gboolean
decode_reference_timestamp (GstBuffer * buffer, const guint8 * data,
    gsize size, GstZcipcMetaContext * ctx)
{
  WireReferenceTimestamp w;
  const gchar *str;
  GstCaps *caps;

  if (size <= sizeof w || data[size - 1] != '\0')
    return FALSE;
  memcpy (&w, data, sizeof w);
  str = (const gchar *) data + sizeof w;
  if (memchr (str, '\0', size - sizeof w) != data + size - 1)
    return malformed (ctx, "reference timestamp meta without its caps");
  if (!gst_zcipc_string_is_bounded (str, size - sizeof w - 1))
    return malformed (ctx, "reference timestamp meta caps longer than %d "
        "bytes or nested deeper than %d", GST_ZCIPC_MAX_STRING_SIZE,
        GST_ZCIPC_MAX_STRING_DEPTH);
  caps = gst_caps_from_string (str);
  if (!caps)
    return malformed (ctx, "reference timestamp meta with malformed caps");
  gst_buffer_add_reference_timestamp_meta (buffer, caps, w.timestamp,
      w.duration);
  gst_caps_unref (caps);
  return TRUE;
}

static gboolean
encode_custom (GstMeta * meta, GByteArray * out)
{
  GstStructure *s;
  gchar *str;

  if (!gst_meta_info_is_custom (meta->info))
    return FALSE;
  s = gst_custom_meta_get_structure ((GstCustomMeta *) meta);
  /* The structure's name is the registered meta name by convention of
   * gst_meta_register_custom(); send the name explicitly anyway. */
  str = gst_structure_to_string (s);
  g_byte_array_append (out, (const guint8 *) g_type_name (meta->info->type),
      strlen (g_type_name (meta->info->type)) + 1);
  g_byte_array_append (out, (const guint8 *) str, strlen (str) + 1);
  g_free (str);
  return TRUE;
}

/* A name GStreamer can register as a type (g_type_register_static's
 * rules) and that names no type yet: registering it then cannot fail. */
static gboolean
registrable_name (const gchar * name)
{
  gchar *api_name;
  gboolean unused;

  if (!g_ascii_isalpha (name[0]) && name[0] != '_')
    return FALSE;
  for (const gchar * p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '+')
      return FALSE;
  api_name = g_strdup_printf ("%s-api", name);
  unused = g_type_from_name (name) == 0 && g_type_from_name (api_name) == 0;
  g_free (api_name);
  return unused;
}

/* The custom meta named `name`, registering it for the peer within the
 * bounds; NULL (counted in ctx->n_skipped) past them. *bad: the name is
 * no custom meta's (malformed). */
static const GstMetaInfo *
custom_meta_info (GstZcipcMetaContext * ctx, const gchar * name, gboolean * bad)
{
  const GstMetaInfo *info;

  *bad = FALSE;
  if (!g_hash_table_contains (ctx->custom_names, name)) {
    if (g_hash_table_size (ctx->custom_names) >=
        GST_ZCIPC_MAX_CUSTOM_METAS_PER_CONNECTION) {
      ctx->n_skipped++;
      return NULL;
    }
  }
  g_mutex_lock (&registered_lock);
  info = gst_meta_get_info (name);
  if (!info) {
    /* A custom meta is known by its registered name; the consumer registers
     * names it has not seen, so applications need no setup to read them,
     * but only so many: each registration lasts for the process. */
    if (!registered_names)
      registered_names = g_hash_table_new (g_str_hash, g_str_equal);
    if (g_hash_table_size (registered_names) >=
        GST_ZCIPC_MAX_CUSTOM_METAS_PER_PROCESS) {
      g_mutex_unlock (&registered_lock);
      ctx->n_skipped++;
      return NULL;
    }
    if (registrable_name (name)) {
      const gchar *tags[] = { NULL };

      info = gst_meta_register_custom (name, tags, NULL, NULL, NULL);
      if (info)
        g_hash_table_add (registered_names, (gpointer) g_intern_string (name));
    }
  }
  g_mutex_unlock (&registered_lock);
  if (!info || !gst_meta_info_is_custom (info)) {
    *bad = TRUE;
    return NULL;
  }
  g_hash_table_add (ctx->custom_names, g_strdup (name));
  return info;
}

static gboolean
decode_custom (GstBuffer * buffer, const guint8 * data, gsize size,
    GstZcipcMetaContext * ctx)
{
  const gchar *name = (const gchar *) data, *str;
  const guint8 *nul;
  GstStructure *src, *dst;
  GstCustomMeta *cm;
  gboolean bad;

  if (size < 4 || data[size - 1] != '\0' ||
      !(nul = memchr (data, '\0', size)) || nul == data + size - 1)
    return malformed (ctx, "custom meta without a name and a structure");
  str = (const gchar *) nul + 1;
  if (memchr (str, '\0', size - (gsize) (nul + 1 - data)) != data + size - 1)
    return malformed (ctx, "custom meta with bytes after its structure");
  if (nul - data > 128)
    return malformed (ctx, "custom meta name longer than 128 bytes");
  if (!gst_zcipc_string_is_bounded (str, size - (gsize) (nul + 1 - data) - 1))
    return malformed (ctx, "custom meta '%s' whose structure is longer than "
        "%d bytes or nested deeper than %d", name, GST_ZCIPC_MAX_STRING_SIZE,
        GST_ZCIPC_MAX_STRING_DEPTH);
  if (!custom_meta_info (ctx, name, &bad))
    return bad ? malformed (ctx, "custom meta name '%s' is no custom meta's",
        name) : TRUE;
  if (!(src = gst_structure_from_string (str, NULL)))
    return malformed (ctx, "custom meta '%s' with a malformed structure", name);
  cm = gst_buffer_add_custom_meta (buffer, name);
  if (!cm) {
    gst_structure_free (src);
    return malformed (ctx, "GStreamer refused custom meta '%s'", name);
  }
  dst = gst_custom_meta_get_structure (cm);
  gst_structure_set_name (dst, gst_structure_get_name (src));
  for (gint i = 0; i < gst_structure_n_fields (src); i++) {
    const gchar *field = gst_structure_nth_field_name (src, i);
    gst_structure_set_value (dst, field, gst_structure_get_value (src, field));
  }
  gst_structure_free (src);
  return TRUE;
}

static gboolean decode_audio_record (GstBuffer * buffer, const guint8 * data,
    gsize size);

/* GstAudioMeta: the audio info that describes the buffer (format, layout,
 * rate, channel positions), the number of valid samples and, for
 * non-interleaved audio, where each channel's plane starts. Offsets and
 * positions are checked here, before gst_buffer_add_audio_meta() and
 * gst_audio_info_set_format() see them: both assert on bad input. */
static gboolean
encode_audio (GstMeta * meta, GByteArray * out)
{
  GstAudioMeta *am = (GstAudioMeta *) meta;
  const GstAudioInfo *info = &am->info;
  WireAudioMeta w = { 0 };
  gint i;

  /* Positions exist for 64 channels at most; more is not sent. Neither is
   * a meta the decoder would refuse as a whole (it ends the frame's metas):
   * planes without offsets, or positions out of GStreamer's order. */
  if (!info->finfo || info->channels <= 0 || info->channels > 64)
    return FALSE;
  if (info->layout == GST_AUDIO_LAYOUT_NON_INTERLEAVED ? !am->offsets :
      info->layout != GST_AUDIO_LAYOUT_INTERLEAVED || am->offsets)
    return FALSE;
  if (info->position[0] != GST_AUDIO_CHANNEL_POSITION_NONE &&
      !gst_audio_check_valid_channel_positions (info->position,
          info->channels, TRUE))
    return FALSE;
  w.format = GST_AUDIO_INFO_FORMAT (info);
  /* Only the flags this version knows: a newer flag would make an older
   * consumer refuse the meta. */
  w.flags = info->flags & GST_AUDIO_FLAG_UNPOSITIONED;
  w.layout = info->layout;
  w.rate = (guint32) info->rate;
  w.channels = (guint32) info->channels;
  w.n_offsets = am->offsets ? w.channels : 0;
  w.samples = am->samples;
  g_byte_array_append (out, (const guint8 *) &w, sizeof w);
  for (i = 0; i < (gint) w.n_offsets; i++) {
    guint64 offset = am->offsets[i];
    g_byte_array_append (out, (const guint8 *) &offset, sizeof offset);
  }
  for (i = 0; i < info->channels; i++) {
    /* Unpositioned: GStreamer only looks at the first; send them all NONE. */
    gint32 position = info->position[0] == GST_AUDIO_CHANNEL_POSITION_NONE ?
        GST_AUDIO_CHANNEL_POSITION_NONE : info->position[i];
    g_byte_array_append (out, (const guint8 *) &position, sizeof position);
  }
  return TRUE;
}

static gboolean
decode_audio (GstBuffer * buffer, const guint8 * data, gsize size,
    GstZcipcMetaContext * ctx)
{
  if (!decode_audio_record (buffer, data, size))
    return malformed (ctx, "malformed audio meta");
  return TRUE;
}

static gboolean
decode_audio_record (GstBuffer * buffer, const guint8 * data, gsize size)
{
  WireAudioMeta w;
  GstAudioChannelPosition position[64];
  gsize offsets[64];
  const GstAudioFormatInfo *finfo;
  const gchar *format_name;
  GstAudioInfo info;
  gsize buffer_size = gst_buffer_get_size (buffer), bps, plane_size;
  guint i, j;

  if (size < sizeof w)
    return FALSE;
  memcpy (&w, data, sizeof w);
  if (w.channels == 0 || w.channels > 64 || w.rate == 0 ||
      w.rate > G_MAXINT ||
      (w.flags & ~(guint32) GST_AUDIO_FLAG_UNPOSITIONED) != 0)
    return FALSE;
  if (w.layout == GST_AUDIO_LAYOUT_NON_INTERLEAVED) {
    if (w.n_offsets != w.channels)
      return FALSE;
  } else if (w.layout != GST_AUDIO_LAYOUT_INTERLEAVED || w.n_offsets != 0) {
    return FALSE;
  }
  if (size != sizeof w + (gsize) w.n_offsets * sizeof (guint64) +
      (gsize) w.channels * sizeof (gint32))
    return FALSE;

  /* A format this build knows, with a sample size (not ENCODED). */
  if (w.format == GST_AUDIO_FORMAT_UNKNOWN || w.format > G_MAXINT ||
      !(format_name = gst_audio_format_to_string (w.format)) ||
      gst_audio_format_from_string (format_name) != (GstAudioFormat) w.format)
    return FALSE;
  finfo = gst_audio_format_get_info (w.format);
  if (!finfo || finfo->width <= 0 || finfo->width % 8 != 0)
    return FALSE;
  bps = (gsize) finfo->width / 8;

  for (i = 0; i < w.channels; i++) {
    guint64 offset;
    gint32 pos;

    if (i < w.n_offsets) {
      memcpy (&offset, data + sizeof w + i * sizeof offset, sizeof offset);
      if (offset > buffer_size)
        return FALSE;
      offsets[i] = offset;
    }
    memcpy (&pos, data + sizeof w + w.n_offsets * sizeof (guint64) +
        i * sizeof pos, sizeof pos);
    position[i] = pos;
  }
  /* Unpositioned means every channel NONE (GStreamer only looks at the
   * first); otherwise positions in GStreamer's order, each once. */
  if (position[0] == GST_AUDIO_CHANNEL_POSITION_NONE) {
    for (i = 1; i < w.channels; i++)
      if (position[i] != GST_AUDIO_CHANNEL_POSITION_NONE)
        return FALSE;
  } else if (!gst_audio_check_valid_channel_positions (position,
          (gint) w.channels, TRUE)) {
    return FALSE;
  }

  /* Every plane (or the interleaved frames) inside the buffer. */
  if (w.samples > buffer_size / bps)
    return FALSE;
  plane_size = w.samples * bps;
  if (w.layout == GST_AUDIO_LAYOUT_NON_INTERLEAVED) {
    for (i = 0; i < w.channels; i++) {
      if (offsets[i] > buffer_size - plane_size)
        return FALSE;
      for (j = 0; j < i; j++)
        if (plane_size > 0 && offsets[j] < offsets[i] + plane_size &&
            offsets[i] < offsets[j] + plane_size)
          return FALSE;         /* planes overlap */
    }
  } else if (w.samples > buffer_size / (bps * w.channels)) {
    return FALSE;
  }

  gst_audio_info_set_format (&info, w.format, (gint) w.rate,
      (gint) w.channels, position);
  info.flags = w.flags;
  info.layout = w.layout;
  return gst_buffer_add_audio_meta (buffer, &info, w.samples,
      w.n_offsets ? offsets : NULL) != NULL;
}

static const MetaCodec meta_codecs[] = {
  {gst_video_meta_api_get_type, META_VIDEO, encode_video, decode_video},
  {gst_video_crop_meta_api_get_type, META_VIDEO_CROP, encode_crop,
      decode_crop},
  {gst_reference_timestamp_meta_api_get_type, META_REFERENCE_TIMESTAMP,
      encode_reference_timestamp, decode_reference_timestamp},
  {gst_audio_meta_api_get_type, META_AUDIO, encode_audio, decode_audio},
};

static const MetaCodec custom_codec =
    { NULL, META_CUSTOM, encode_custom, decode_custom };

static const MetaCodec *
codec_for_meta (GstMeta * meta)
{
  for (guint i = 0; i < G_N_ELEMENTS (meta_codecs); i++)
    if (meta->info->api == meta_codecs[i].api ())
      return &meta_codecs[i];
  if (gst_meta_info_is_custom (meta->info))
    return &custom_codec;
  return NULL;
}

static const MetaCodec *
codec_for_kind (guint32 kind)
{
  for (guint i = 0; i < G_N_ELEMENTS (meta_codecs); i++)
    if (meta_codecs[i].kind == kind)
      return &meta_codecs[i];
  return kind == META_CUSTOM ? &custom_codec : NULL;
}

void
gst_zcipc_metas_serialize (GstBuffer * buffer, GByteArray * out,
    guint * n_skipped, const gchar ** too_big, gsize * too_big_size)
{
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta (buffer, &state))) {
    const MetaCodec *codec = codec_for_meta (meta);
    MetaRecordHeader header = { 0, 0 };
    guint start = out->len;
    static const guint8 zeros[8] = { 0 };

    if (!codec) {
      if (n_skipped)
        (*n_skipped)++;
      continue;
    }
    g_byte_array_append (out, (const guint8 *) &header, sizeof header);
    if (!codec->encode (meta, out)) {
      g_byte_array_set_size (out, start);
      if (n_skipped)
        (*n_skipped)++;
      continue;
    }
    /* Room for the padding too, which follows. */
    if ((gsize) out->len + 8 > GST_ZCIPC_MAX_META_SIZE) {
      if (too_big && !*too_big) {
        *too_big = g_type_name (meta->info->api);
        if (too_big_size)
          *too_big_size = out->len - start - sizeof header;
      }
      g_byte_array_set_size (out, start);
      if (n_skipped)
        (*n_skipped)++;
      continue;
    }
    header.kind = codec->kind;
    header.size = out->len - start - sizeof header;
    memcpy (out->data + start, &header, sizeof header);
    g_byte_array_append (out, zeros, (8 - out->len % 8) % 8);
  }
}

gboolean
gst_zcipc_metas_deserialize (GstBuffer * buffer, const guint8 * data,
    gsize size, GstZcipcMetaContext * ctx, guint * n_unknown,
    guint * n_skipped, gchar ** error)
{
  gsize pos = 0;

  g_return_val_if_fail (ctx != NULL, FALSE);
  ctx->n_skipped = 0;
  while (pos < size) {
    MetaRecordHeader header;
    const MetaCodec *codec;

    if (size - pos < sizeof header) {
      malformed (ctx, "a meta record cut short");
      goto failed;
    }
    memcpy (&header, data + pos, sizeof header);
    pos += sizeof header;
    if (header.size > size - pos) {
      malformed (ctx, "a meta record of %u bytes where %" G_GSIZE_FORMAT
          " are left", header.size, size - pos);
      goto failed;
    }
    codec = codec_for_kind (header.kind);
    if (!codec) {
      if (n_unknown)
        (*n_unknown)++;
    } else if (!codec->decode (buffer, data + pos, header.size, ctx)) {
      goto failed;
    }
    pos += header.size;
    pos += (8 - pos % 8) % 8;
  }
  if (n_skipped)
    *n_skipped += ctx->n_skipped;
  return TRUE;

failed:
  if (n_skipped)
    *n_skipped += ctx->n_skipped;
  if (error)
    *error = g_strdup (ctx->error ? ctx->error : "malformed metas");
  return FALSE;
}
