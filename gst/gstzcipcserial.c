/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* Events on the wire: the serialized events a consumer should see and the
 * producer's timing record, both as GstStructure strings (self-describing,
 * versionable, and parsed by GStreamer's own strict parser on the way
 * back), and the bounds every string from a peer passes before a parser
 * sees it. Metas are gstzcipcmeta.c's, the clock readings
 * gstzcipcclock.c's. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstzcipcserial.h"

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

static GBytes *
serialize_caps (GstEvent * event)
{
  GstCaps *caps;
  gchar *str;

  gst_event_parse_caps (event, &caps);
  str = gst_caps_to_string (caps);
  return g_bytes_new_take (str, strlen (str) + 1);
}

static GBytes *
serialize_stream_start (GstEvent * event)
{
  const gchar *stream_id = NULL;
  GstStreamFlags flags = 0;
  guint group_id = 0;
  gboolean has_group;

  gst_event_parse_stream_start (event, &stream_id);
  gst_event_parse_stream_flags (event, &flags);
  has_group = gst_event_parse_group_id (event, &group_id);
  return bytes_from_structure (gst_structure_new ("stream-start",
          "stream-id", G_TYPE_STRING, stream_id ? stream_id : "",
          "flags", G_TYPE_UINT, (guint) flags,
          "has-group-id", G_TYPE_BOOLEAN, has_group,
          "group-id", G_TYPE_UINT, group_id, NULL));
}

static GBytes *
serialize_segment (GstEvent * event)
{
  const GstSegment *seg;

  gst_event_parse_segment (event, &seg);
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

static GBytes *
serialize_tag (GstEvent * event)
{
  GstTagList *tags;
  gchar *str;
  GstStructure *s;

  gst_event_parse_tag (event, &tags);
  str = gst_tag_list_to_string (tags);
  s = gst_structure_new ("tag", "scope", G_TYPE_INT,
      (gint) gst_tag_list_get_scope (tags), "tags", G_TYPE_STRING, str, NULL);
  g_free (str);
  return bytes_from_structure (s);
}

static GBytes *
serialize_gap (GstEvent * event)
{
  GstClockTime ts, duration;

  gst_event_parse_gap (event, &ts, &duration);
  return bytes_from_structure (gst_structure_new ("gap",
          "timestamp", G_TYPE_UINT64, ts,
          "duration", G_TYPE_UINT64, duration, NULL));
}

/* NULL for a custom event without a structure: nothing to send. */
static GBytes *
serialize_custom (GstEvent * event)
{
  const GstStructure *custom = gst_event_get_structure (event);
  gchar *str;
  GstStructure *s;

  if (!custom)
    return NULL;
  str = gst_structure_to_string (custom);
  s = gst_structure_new ("custom", "type", G_TYPE_UINT,
      (guint) GST_EVENT_TYPE (event), "structure", G_TYPE_STRING, str, NULL);
  g_free (str);
  return bytes_from_structure (s);
}

GBytes *
gst_zcipc_event_serialize (GstEvent * event, guint32 * kind)
{
  GBytes *bytes;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:
      *kind = GST_ZCIPC_EVENT_CAPS;
      return serialize_caps (event);
    case GST_EVENT_STREAM_START:
      *kind = GST_ZCIPC_EVENT_STREAM_START;
      return serialize_stream_start (event);
    case GST_EVENT_SEGMENT:
      *kind = GST_ZCIPC_EVENT_SEGMENT;
      return serialize_segment (event);
    case GST_EVENT_TAG:
      *kind = GST_ZCIPC_EVENT_TAG;
      return serialize_tag (event);
    case GST_EVENT_EOS:
      *kind = GST_ZCIPC_EVENT_EOS;
      return g_bytes_new_static ("", 1);
    case GST_EVENT_GAP:
      *kind = GST_ZCIPC_EVENT_GAP;
      return serialize_gap (event);
    case GST_EVENT_CUSTOM_DOWNSTREAM:
    case GST_EVENT_CUSTOM_DOWNSTREAM_STICKY:
      /* *kind is left alone when nothing crosses, as it always was. */
      if ((bytes = serialize_custom (event)))
        *kind = GST_ZCIPC_EVENT_CUSTOM;
      return bytes;
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

static GstEvent *
deserialize_caps (const guint8 * payload, gsize size)
{
  GstCaps *caps;
  GstEvent *event;

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

static GstEvent *
deserialize_stream_start (const GstStructure * s)
{
  const gchar *id = gst_structure_get_string (s, "stream-id");
  guint flags, group;
  gboolean has_group;
  GstEvent *event;

  if (!id || !gst_structure_get_uint (s, "flags", &flags) ||
      !gst_structure_get_boolean (s, "has-group-id", &has_group) ||
      !gst_structure_get_uint (s, "group-id", &group))
    return NULL;
  event = gst_event_new_stream_start (id);
  gst_event_set_stream_flags (event, flags);
  if (has_group)
    gst_event_set_group_id (event, group);
  return event;
}

static GstEvent *
deserialize_tag (const GstStructure * s)
{
  const gchar *str = gst_structure_get_string (s, "tags");
  GstTagList *tags;
  gint scope;

  if (!str || !gst_zcipc_string_is_bounded (str, strlen (str)) ||
      !gst_structure_get_int (s, "scope", &scope) ||
      !(tags = gst_tag_list_new_from_string (str)))
    return NULL;
  gst_tag_list_set_scope (tags, scope == GST_TAG_SCOPE_GLOBAL ?
      GST_TAG_SCOPE_GLOBAL : GST_TAG_SCOPE_STREAM);
  return gst_event_new_tag (tags);
}

static GstEvent *
deserialize_gap (const GstStructure * s)
{
  guint64 ts, duration;

  if (!get_u64 (s, "timestamp", &ts) || !get_u64 (s, "duration", &duration)
      || !GST_CLOCK_TIME_IS_VALID (ts))
    return NULL;
  return gst_event_new_gap (ts, duration);
}

static GstEvent *
deserialize_custom (const GstStructure * s)
{
  const gchar *str = gst_structure_get_string (s, "structure");
  guint type;
  GstStructure *custom;

  if (!str || !gst_zcipc_string_is_bounded (str, strlen (str)) ||
      !gst_structure_get_uint (s, "type", &type) ||
      (type != GST_EVENT_CUSTOM_DOWNSTREAM &&
          type != GST_EVENT_CUSTOM_DOWNSTREAM_STICKY) ||
      !(custom = gst_structure_from_string (str, NULL)))
    return NULL;
  return gst_event_new_custom (type, custom);
}

/* The structure-carried event kinds: the name their payload's structure
 * must have and what rebuilds the event from it. */
typedef struct
{
  guint32 kind;
  const gchar *name;
  GstEvent *(*rebuild) (const GstStructure * s);
} StructureEvent;

static const StructureEvent structure_events[] = {
  {GST_ZCIPC_EVENT_STREAM_START, "stream-start", deserialize_stream_start},
  {GST_ZCIPC_EVENT_SEGMENT, "segment", deserialize_segment},
  {GST_ZCIPC_EVENT_TAG, "tag", deserialize_tag},
  {GST_ZCIPC_EVENT_GAP, "gap", deserialize_gap},
  {GST_ZCIPC_EVENT_CUSTOM, "custom", deserialize_custom},
};

GstEvent *
gst_zcipc_event_deserialize (guint32 kind, const guint8 * payload, gsize size)
{
  GstStructure *s;
  GstEvent *event;

  if (kind == GST_ZCIPC_EVENT_CAPS)
    return deserialize_caps (payload, size);
  if (kind == GST_ZCIPC_EVENT_EOS)
    return gst_event_new_eos ();
  for (guint i = 0; i < G_N_ELEMENTS (structure_events); i++) {
    if (structure_events[i].kind != kind)
      continue;
    s = structure_from_payload (payload, size, structure_events[i].name);
    if (!s)
      return NULL;
    event = structure_events[i].rebuild (s);
    gst_structure_free (s);
    return event;
  }
  return NULL;
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
