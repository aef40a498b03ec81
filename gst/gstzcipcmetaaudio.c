/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The audio meta codec: GstAudioMeta, checked whole before
 * gst_buffer_add_audio_meta() and gst_audio_info_set_format() see it
 * (both assert on bad input). */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gst/audio/audio.h>

#include "gstzcipcmetacodec.h"

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

/* The fixed part of a record: counts within bounds, flags this version
 * knows, offsets exactly for non-interleaved audio, and `size` the bytes
 * that header announces. */
static gboolean
audio_header_valid (const WireAudioMeta * w, gsize size)
{
  if (w->channels == 0 || w->channels > 64 || w->rate == 0 ||
      w->rate > G_MAXINT ||
      (w->flags & ~(guint32) GST_AUDIO_FLAG_UNPOSITIONED) != 0)
    return FALSE;
  if (w->layout == GST_AUDIO_LAYOUT_NON_INTERLEAVED) {
    if (w->n_offsets != w->channels)
      return FALSE;
  } else if (w->layout != GST_AUDIO_LAYOUT_INTERLEAVED || w->n_offsets != 0) {
    return FALSE;
  }
  return size == sizeof *w + (gsize) w->n_offsets * sizeof (guint64) +
      (gsize) w->channels * sizeof (gint32);
}

/* Bytes per sample of `format`, one this build knows with a sample size
 * (not ENCODED); 0 otherwise. */
static gsize
audio_format_bytes_per_sample (guint32 format)
{
  const GstAudioFormatInfo *finfo;
  const gchar *format_name;

  if (format == GST_AUDIO_FORMAT_UNKNOWN || format > G_MAXINT ||
      !(format_name = gst_audio_format_to_string (format)) ||
      gst_audio_format_from_string (format_name) != (GstAudioFormat) format)
    return 0;
  finfo = gst_audio_format_get_info (format);
  if (!finfo || finfo->width <= 0 || finfo->width % 8 != 0)
    return 0;
  return (gsize) finfo->width / 8;
}

/* Reads the plane offsets (each within the buffer) and channel positions
 * that follow the header: unpositioned means every channel NONE
 * (GStreamer only looks at the first), otherwise positions in GStreamer's
 * order, each once. */
static gboolean
read_audio_channels (const WireAudioMeta * w, const guint8 * data,
    gsize buffer_size, gsize * offsets, GstAudioChannelPosition * position)
{
  guint i;

  for (i = 0; i < w->channels; i++) {
    guint64 offset;
    gint32 pos;

    if (i < w->n_offsets) {
      memcpy (&offset, data + sizeof *w + i * sizeof offset, sizeof offset);
      if (offset > buffer_size)
        return FALSE;
      offsets[i] = offset;
    }
    memcpy (&pos, data + sizeof *w + w->n_offsets * sizeof (guint64) +
        i * sizeof pos, sizeof pos);
    position[i] = pos;
  }
  if (position[0] == GST_AUDIO_CHANNEL_POSITION_NONE) {
    for (i = 1; i < w->channels; i++)
      if (position[i] != GST_AUDIO_CHANNEL_POSITION_NONE)
        return FALSE;
    return TRUE;
  }
  return gst_audio_check_valid_channel_positions (position,
      (gint) w->channels, TRUE);
}

/* Every plane (or the interleaved frames) inside the buffer, and no two
 * planes overlapping. */
static gboolean
audio_samples_fit (const WireAudioMeta * w, gsize bps, gsize buffer_size,
    const gsize * offsets)
{
  gsize plane_size;
  guint i, j;

  if (w->samples > buffer_size / bps)
    return FALSE;
  plane_size = w->samples * bps;
  if (w->layout != GST_AUDIO_LAYOUT_NON_INTERLEAVED)
    return w->samples <= buffer_size / (bps * w->channels);
  for (i = 0; i < w->channels; i++) {
    if (offsets[i] > buffer_size - plane_size)
      return FALSE;
    for (j = 0; j < i; j++)
      if (plane_size > 0 && offsets[j] < offsets[i] + plane_size &&
          offsets[i] < offsets[j] + plane_size)
        return FALSE;
  }
  return TRUE;
}

static gboolean
decode_audio_record (GstBuffer * buffer, const guint8 * data, gsize size)
{
  WireAudioMeta w;
  GstAudioChannelPosition position[64];
  gsize offsets[64];
  GstAudioInfo info;
  gsize buffer_size = gst_buffer_get_size (buffer), bps;

  if (size < sizeof w)
    return FALSE;
  memcpy (&w, data, sizeof w);
  if (!audio_header_valid (&w, size) ||
      !(bps = audio_format_bytes_per_sample (w.format)) ||
      !read_audio_channels (&w, data, buffer_size, offsets, position) ||
      !audio_samples_fit (&w, bps, buffer_size, offsets))
    return FALSE;

  gst_audio_info_set_format (&info, w.format, (gint) w.rate,
      (gint) w.channels, position);
  info.flags = w.flags;
  info.layout = w.layout;
  return gst_buffer_add_audio_meta (buffer, &info, w.samples,
      w.n_offsets ? offsets : NULL) != NULL;
}

static gboolean
decode_audio (GstBuffer * buffer, const guint8 * data, gsize size,
    GstZcipcMetaContext * ctx)
{
  if (!decode_audio_record (buffer, data, size))
    return gst_zcipc_meta_malformed (ctx, "malformed audio meta");
  return TRUE;
}

const GstZcipcMetaCodec gst_zcipc_meta_codec_audio = {
  gst_audio_meta_api_get_type, GST_ZCIPC_META_AUDIO, encode_audio,
  decode_audio
};
