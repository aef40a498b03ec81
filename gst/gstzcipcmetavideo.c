/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The video meta codecs: GstVideoMeta (format, size, plane offsets and
 * strides, checked against the buffer's memory before GStreamer sees
 * them) and GstVideoCropMeta. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstzcipcmetacodec.h"

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
    return gst_zcipc_meta_malformed (ctx,
        "video meta of unknown format %u or size %ux%u", w->format, w->width,
        w->height);
  finfo = gst_video_format_get_info (w->format);
  if (w->n_planes != GST_VIDEO_FORMAT_INFO_N_PLANES (finfo))
    return gst_zcipc_meta_malformed (ctx,
        "video meta with %u planes for %s (which has %u)", w->n_planes,
        GST_VIDEO_FORMAT_INFO_NAME (finfo),
        GST_VIDEO_FORMAT_INFO_N_PLANES (finfo));
  if (ctx->have_info && (GST_VIDEO_INFO_FORMAT (&ctx->info) != w->format
          || (guint) GST_VIDEO_INFO_WIDTH (&ctx->info) > w->width
          || (guint) GST_VIDEO_INFO_HEIGHT (&ctx->info) > w->height))
    return gst_zcipc_meta_malformed (ctx,
        "video meta %s %ux%u for a stream of %s %dx%d",
        GST_VIDEO_FORMAT_INFO_NAME (finfo), w->width, w->height,
        GST_VIDEO_INFO_NAME (&ctx->info), GST_VIDEO_INFO_WIDTH (&ctx->info),
        GST_VIDEO_INFO_HEIGHT (&ctx->info));
  gst_video_alignment_reset (&align);
  if (!gst_video_info_set_format (&info, w->format, w->width, w->height) ||
      !gst_video_info_align_full (&info, &align, plane_size))
    return gst_zcipc_meta_malformed (ctx,
        "video meta %s %ux%u: no layout GStreamer can " "compute",
        GST_VIDEO_FORMAT_INFO_NAME (finfo), w->width, w->height);

  for (guint p = 0; p < w->n_planes; p++) {
    guint64 rows, row_bytes, end;
    gint32 stride = w->stride[p];

    if (GST_VIDEO_FORMAT_INFO_IS_TILED (finfo)) {
      /* The stride encodes the tiles; only GStreamer's own is checked. */
      if (stride != GST_VIDEO_INFO_PLANE_STRIDE (&info, p) ||
          w->offset[p] > buffer_size ||
          plane_size[p] > buffer_size - w->offset[p])
        return gst_zcipc_meta_malformed (ctx,
            "video meta plane %u of tiled %s (offset %" G_GUINT64_FORMAT
            ", stride %d) does not fit the %" G_GSIZE_FORMAT
            " bytes of its memory", p, GST_VIDEO_FORMAT_INFO_NAME (finfo),
            w->offset[p], stride, buffer_size);
      continue;
    }
    if (!plane_extent (finfo, &info, plane_size, p, w->width, w->height,
            &rows, &row_bytes))
      return gst_zcipc_meta_malformed (ctx,
          "video meta plane %u of %s: no size " "GStreamer can compute", p,
          GST_VIDEO_FORMAT_INFO_NAME (finfo));
    if (stride <= 0 || (guint64) stride < row_bytes)
      return gst_zcipc_meta_malformed (ctx,
          "video meta plane %u of %s %ux%u has stride %d, "
          "less than its rows' %" G_GUINT64_FORMAT " bytes", p,
          GST_VIDEO_FORMAT_INFO_NAME (finfo), w->width, w->height, stride,
          row_bytes);
    /* No overflow: stride < 2^31, rows < 2^31, row_bytes < 2^35. */
    end = (guint64) stride *(rows - 1) + row_bytes;
    if (w->offset[p] > buffer_size || end > buffer_size - w->offset[p])
      return gst_zcipc_meta_malformed (ctx,
          "video meta plane %u of %s %ux%u (offset %" G_GUINT64_FORMAT
          ", stride %d, %" G_GUINT64_FORMAT " rows) reaches " "past the %"
          G_GSIZE_FORMAT " bytes of its memory", p,
          GST_VIDEO_FORMAT_INFO_NAME (finfo), w->width, w->height, w->offset[p],
          stride, rows, buffer_size);
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
    return gst_zcipc_meta_malformed (ctx,
        "video meta of %" G_GSIZE_FORMAT " bytes", size);
  memcpy (&w, data, sizeof w);
  if (w.n_planes == 0 || w.n_planes > GST_VIDEO_MAX_PLANES)
    return gst_zcipc_meta_malformed (ctx, "video meta with %u planes",
        w.n_planes);
  if (!video_layout_fits (&w, gst_buffer_get_size (buffer), ctx))
    return FALSE;
  for (i = 0; i < w.n_planes; i++) {
    offset[i] = w.offset[i];
    stride[i] = w.stride[i];
  }
  vm = gst_buffer_add_video_meta_full (buffer, w.flags, w.format, w.width,
      w.height, w.n_planes, offset, stride);
  if (!vm)
    return gst_zcipc_meta_malformed (ctx, "GStreamer refused the video meta");
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
    return gst_zcipc_meta_malformed (ctx,
        "crop meta of %" G_GSIZE_FORMAT " bytes", size);
  memcpy (&w, data, sizeof w);
  cm = gst_buffer_add_video_crop_meta (buffer);
  cm->x = w.x;
  cm->y = w.y;
  cm->width = w.width;
  cm->height = w.height;
  return TRUE;
}

const GstZcipcMetaCodec gst_zcipc_meta_codec_video = {
  gst_video_meta_api_get_type, GST_ZCIPC_META_VIDEO, encode_video,
  decode_video
};

const GstZcipcMetaCodec gst_zcipc_meta_codec_video_crop = {
  gst_video_crop_meta_api_get_type, GST_ZCIPC_META_VIDEO_CROP, encode_crop,
  decode_crop
};
