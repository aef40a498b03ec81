/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The reference timestamp meta codec: GstReferenceTimestampMeta, its
 * timestamp and duration and the caps that name the reference (a string
 * bounded before GStreamer's caps parser sees it). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstzcipcmetacodec.h"

typedef struct
{
  guint64 timestamp;
  guint64 duration;
} WireReferenceTimestamp;       /* followed by the reference caps string */

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
    return gst_zcipc_meta_malformed (ctx,
        "reference timestamp meta without its caps");
  if (!gst_zcipc_string_is_bounded (str, size - sizeof w - 1))
    return gst_zcipc_meta_malformed (ctx,
        "reference timestamp meta caps longer than %d "
        "bytes or nested deeper than %d", GST_ZCIPC_MAX_STRING_SIZE,
        GST_ZCIPC_MAX_STRING_DEPTH);
  caps = gst_caps_from_string (str);
  if (!caps)
    return gst_zcipc_meta_malformed (ctx,
        "reference timestamp meta with malformed caps");
  gst_buffer_add_reference_timestamp_meta (buffer, caps, w.timestamp,
      w.duration);
  gst_caps_unref (caps);
  return TRUE;
}

const GstZcipcMetaCodec gst_zcipc_meta_codec_reference_timestamp = {
  gst_reference_timestamp_meta_api_get_type,
  GST_ZCIPC_META_REFERENCE_TIMESTAMP, encode_reference_timestamp,
  decode_reference_timestamp
};
