/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The meta record stream of a frame: metas travel as binary records,
 * [guint32 kind][guint32 size][size bytes][pad to 8], one codec per meta
 * API (gstzcipcmetacodec.h; each in gstzcipcmeta*.c). This file owns the
 * framing, the table of codecs and the per-connection decoding context. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstzcipcmetacodec.h"

typedef struct
{
  guint32 kind;
  guint32 size;
} MetaRecordHeader;

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

gboolean
gst_zcipc_meta_malformed (GstZcipcMetaContext * ctx, const gchar * format, ...)
{
  va_list args;

  g_free (ctx->error);
  va_start (args, format);
  ctx->error = g_strdup_vprintf (format, args);
  va_end (args);
  return FALSE;
}

static const GstZcipcMetaCodec *const meta_codecs[] = {
  &gst_zcipc_meta_codec_video,
  &gst_zcipc_meta_codec_video_crop,
  &gst_zcipc_meta_codec_reference_timestamp,
  &gst_zcipc_meta_codec_audio,
};

static const GstZcipcMetaCodec *
codec_for_meta (GstMeta * meta)
{
  for (guint i = 0; i < G_N_ELEMENTS (meta_codecs); i++)
    if (meta->info->api == meta_codecs[i]->api ())
      return meta_codecs[i];
  if (gst_meta_info_is_custom (meta->info))
    return &gst_zcipc_meta_codec_custom;
  return NULL;
}

static const GstZcipcMetaCodec *
codec_for_kind (guint32 kind)
{
  for (guint i = 0; i < G_N_ELEMENTS (meta_codecs); i++)
    if (meta_codecs[i]->kind == kind)
      return meta_codecs[i];
  return kind == GST_ZCIPC_META_CUSTOM ? &gst_zcipc_meta_codec_custom : NULL;
}

void
gst_zcipc_metas_serialize (GstBuffer * buffer, GByteArray * out,
    guint * n_skipped, const gchar ** too_big, gsize * too_big_size)
{
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta (buffer, &state))) {
    const GstZcipcMetaCodec *codec = codec_for_meta (meta);
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
    const GstZcipcMetaCodec *codec;

    if (size - pos < sizeof header) {
      gst_zcipc_meta_malformed (ctx, "a meta record cut short");
      goto failed;
    }
    memcpy (&header, data + pos, sizeof header);
    pos += sizeof header;
    if (header.size > size - pos) {
      gst_zcipc_meta_malformed (ctx,
          "a meta record of %u bytes where %" G_GSIZE_FORMAT " are left",
          header.size, size - pos);
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
