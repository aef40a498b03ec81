/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_EXAMPLE_PATTERN_H
#define ZCIPC_EXAMPLE_PATTERN_H

/* The test pattern the example producer writes and the example consumer
 * checks: an RGBA frame whose first 8 bytes hold the frame counter
 * (little-endian), every other pixel a function of (x, y, counter). The
 * checksum (64-bit FNV-1a) covers the visible bytes row by row, so it does
 * not depend on the stride either side uses. */

#include <gst/video/video.h>

#define PATTERN_FORMAT GST_VIDEO_FORMAT_RGBA

static inline guint8
pattern_byte (guint x, guint y, guint c, guint64 n)
{
  switch (c) {
    case 0:
      return (guint8) (x + n);
    case 1:
      return (guint8) (y + 3 * n);
    case 2:
      return (guint8) ((x ^ y) + 7 * n);
    default:
      return (guint8) (x * 31 + y * 17);
  }
}

static inline void
pattern_write (GstVideoFrame * frame, guint64 n)
{
  guint width = GST_VIDEO_FRAME_WIDTH (frame);
  guint height = GST_VIDEO_FRAME_HEIGHT (frame);
  gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);

  for (guint y = 0; y < height; y++) {
    guint8 *row = data + (gsize) y * stride;
    for (guint x = 0; x < width; x++)
      for (guint c = 0; c < 4; c++)
        row[x * 4 + c] = pattern_byte (x, y, c, n);
  }
  for (guint i = 0; i < 8; i++)
    data[i] = (guint8) (n >> (8 * i));
}

/* The counter written in the frame; *ok is FALSE when any other byte is not
 * what pattern_write() would have written for that counter. */
static inline guint64
pattern_check (const GstVideoFrame * frame, gboolean * ok)
{
  guint width = GST_VIDEO_FRAME_WIDTH (frame);
  guint height = GST_VIDEO_FRAME_HEIGHT (frame);
  gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  guint64 n = 0;

  for (guint i = 0; i < 8; i++)
    n |= (guint64) data[i] << (8 * i);
  *ok = TRUE;
  for (guint y = 0; y < height && *ok; y++) {
    const guint8 *row = data + (gsize) y * stride;
    for (guint x = (y == 0 ? 2 : 0); x < width; x++)
      for (guint c = 0; c < 4; c++)
        if (row[x * 4 + c] != pattern_byte (x, y, c, n))
          *ok = FALSE;
  }
  return n;
}

static inline guint64
pattern_checksum (const GstVideoFrame * frame)
{
  guint row_bytes = GST_VIDEO_FRAME_WIDTH (frame) * 4;
  gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  const guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (guint y = 0; y < (guint) GST_VIDEO_FRAME_HEIGHT (frame); y++)
    for (guint i = 0; i < row_bytes; i++) {
      h ^= data[(gsize) y * stride + i];
      h *= G_GUINT64_CONSTANT (0x100000001b3);
    }
  return h;
}

#endif
