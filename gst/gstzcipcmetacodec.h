/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_META_CODEC_H__
#define __GST_ZCIPC_META_CODEC_H__

/* Inside the meta serialization (not for the elements, which use
 * gstzcipcserial.h): what one meta codec is, the per-connection context
 * the decoders share, and the codecs gstzcipcmeta.c dispatches to. One
 * codec per meta API, each in a file of its own. */

#include <gst/video/video.h>

#include "gstzcipcserial.h"

G_BEGIN_DECLS

/* Meta kinds on the wire. Stable: never renumber. */
enum
{
  GST_ZCIPC_META_VIDEO = 1,
  GST_ZCIPC_META_VIDEO_CROP = 2,
  GST_ZCIPC_META_REFERENCE_TIMESTAMP = 3,
  GST_ZCIPC_META_CUSTOM = 4,
  GST_ZCIPC_META_AUDIO = 5,
};

struct _GstZcipcMetaContext
{
  GHashTable *custom_names;     /* gchar* -> NULL: used on this connection */
  gboolean have_info;           /* the stream's caps are raw video: */
  GstVideoInfo info;
  guint n_skipped;              /* of the record being decoded */
  gchar *error;                 /* why the last record was malformed */
};

typedef struct
{
  /* The meta API; NULL for the custom codec, which gst_meta_info_is_custom()
   * picks instead (each custom meta has an API of its own). */
  GType (*api) (void);
  guint32 kind;
  /* Appends the record payload; FALSE skips this meta. */
    gboolean (*encode) (GstMeta * meta, GByteArray * out);
  /* FALSE: the record is malformed (why in ctx->error). */
    gboolean (*decode) (GstBuffer * buffer, const guint8 * data, gsize size,
      GstZcipcMetaContext * ctx);
} GstZcipcMetaCodec;

/* Says why a record is malformed in ctx->error; returns FALSE, for
 * `return gst_zcipc_meta_malformed (ctx, ...);` in decoders. */
gboolean gst_zcipc_meta_malformed (GstZcipcMetaContext * ctx,
    const gchar * format, ...) G_GNUC_PRINTF (2, 3);

extern const GstZcipcMetaCodec gst_zcipc_meta_codec_video;
extern const GstZcipcMetaCodec gst_zcipc_meta_codec_video_crop;
extern const GstZcipcMetaCodec gst_zcipc_meta_codec_reference_timestamp;
extern const GstZcipcMetaCodec gst_zcipc_meta_codec_audio;
extern const GstZcipcMetaCodec gst_zcipc_meta_codec_custom;

G_END_DECLS
#endif
