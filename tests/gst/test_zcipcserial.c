/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#include <string.h>

#include <gst/check/gstcheck.h>
#include <gst/video/video.h>

#include "gstzcipcserial.h"

/* What a consumer accepts from a producer's serialized metas and strings
 * (gst/gstzcipcserial.c, gstzcipcmeta*.c and gstzcipcclock.c, compiled into
 * this test: the plugin hides them). */

/* The metas of a buffer of `size` bytes carrying one video meta. */
static GByteArray *
serialized_video_meta (GstVideoFormat format, guint width, guint height,
    const gsize * offset, const gint * stride, guint n_planes)
{
  GstBuffer *buffer = gst_buffer_new ();
  GByteArray *out = g_byte_array_new ();

  gst_buffer_add_video_meta_full (buffer, GST_VIDEO_FRAME_FLAG_NONE, format,
      width, height, n_planes, (gsize *) offset, (gint *) stride);
  gst_zcipc_metas_serialize (buffer, out, NULL, NULL, NULL);
  gst_buffer_unref (buffer);
  return out;
}

static gboolean
decodes (GByteArray * metas, gsize size, gchar ** error)
{
  GstZcipcMetaContext *ctx = gst_zcipc_meta_context_new ();
  GstBuffer *buffer = gst_buffer_new_allocate (NULL, size, NULL);
  gboolean ok = gst_zcipc_metas_deserialize (buffer, metas->data, metas->len,
      ctx, NULL, NULL, error);

  /* Refused: GStreamer never saw it. */
  if (!ok)
    fail_unless (gst_buffer_get_video_meta (buffer) == NULL);
  gst_buffer_unref (buffer);
  gst_zcipc_meta_context_free (ctx);
  return ok;
}

GST_START_TEST (test_every_raw_format_in_its_default_layout_is_accepted)
{
  static const guint sizes[][2] = { {320, 240}, {67, 45}, {2, 2} };
  const GstVideoFormat *formats;
  guint n_formats;

  formats = gst_video_formats_raw (&n_formats);
  for (guint f = 0; f < n_formats; f++) {
    for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
      GstVideoInfo info;
      GByteArray *metas;
      gchar *error = NULL;
      gint stride[GST_VIDEO_MAX_PLANES];
      guint n_planes;

      if (!gst_video_info_set_format (&info, formats[f], sizes[i][0],
              sizes[i][1]))
        continue;
      n_planes = GST_VIDEO_INFO_N_PLANES (&info);
      metas = serialized_video_meta (formats[f], sizes[i][0], sizes[i][1],
          info.offset, info.stride, n_planes);
      fail_unless (decodes (metas, info.size, &error), "%s %ux%u: %s",
          gst_video_format_to_string (formats[f]), sizes[i][0], sizes[i][1],
          error);
      g_byte_array_unref (metas);

      /* A stride that sends the second row 1 GiB on is refused, whatever
       * the format. */
      memcpy (stride, info.stride, sizeof stride);
      stride[0] = 1 << 30;
      metas = serialized_video_meta (formats[f], sizes[i][0], sizes[i][1],
          info.offset, stride, n_planes);
      fail_if (decodes (metas, info.size, &error), "%s %ux%u accepted a "
          "stride of 1 GiB", gst_video_format_to_string (formats[f]),
          sizes[i][0], sizes[i][1]);
      g_clear_pointer (&error, g_free);
      g_byte_array_unref (metas);
    }
  }
}

GST_END_TEST;

GST_START_TEST (test_a_plane_one_byte_past_the_memory_is_refused)
{
  GstVideoInfo info;
  GByteArray *metas;
  gchar *error = NULL;
  gsize offset[GST_VIDEO_MAX_PLANES];
  gint stride[GST_VIDEO_MAX_PLANES];

  /* RGB, tightly packed (no padding to 4 bytes): the last row ends at the
   * last byte. */
  gst_video_info_set_format (&info, GST_VIDEO_FORMAT_RGB, 321, 10);
  offset[0] = 0;
  stride[0] = 963;
  metas = serialized_video_meta (GST_VIDEO_FORMAT_RGB, 321, 10, offset,
      stride, 1);
  fail_unless (decodes (metas, 963 * 10, &error), "%s", error);
  fail_if (decodes (metas, 963 * 10 - 1, &error));
  fail_unless (strstr (error, "reaches past"), "%s", error);
  g_clear_pointer (&error, g_free);
  g_byte_array_unref (metas);

  /* A negative stride, and one shorter than a row. */
  stride[0] = -963;
  offset[0] = 963 * 9;
  metas = serialized_video_meta (GST_VIDEO_FORMAT_RGB, 321, 10, offset,
      stride, 1);
  fail_if (decodes (metas, 963 * 10, &error));
  g_clear_pointer (&error, g_free);
  g_byte_array_unref (metas);
  stride[0] = 962;
  offset[0] = 0;
  metas = serialized_video_meta (GST_VIDEO_FORMAT_RGB, 321, 10, offset,
      stride, 1);
  fail_if (decodes (metas, 963 * 10, &error));
  fail_unless (strstr (error, "less than its rows"), "%s", error);
  g_clear_pointer (&error, g_free);
  g_byte_array_unref (metas);
}

GST_END_TEST;

static gchar *
nested (guint depth)
{
  GString *s = g_string_new ("a, b=(int)");

  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, '{');
  g_string_append_c (s, '1');
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, '}');
  return g_string_free (s, FALSE);
}

GST_START_TEST (test_strings_nested_past_16_levels_are_refused)
{
  gchar *ok = nested (GST_ZCIPC_MAX_STRING_DEPTH);
  gchar *deep = nested (GST_ZCIPC_MAX_STRING_DEPTH + 1);
  gchar *deeper = nested (30000);
  const gchar *quoted = "a, b=(string)\"((((((((((((((((((((\\\"((((((\"";

  /* "(int)" closes before the list opens. */
  fail_unless (gst_zcipc_string_is_bounded (ok, strlen (ok)));
  fail_if (gst_zcipc_string_is_bounded (deep, strlen (deep)));
  fail_if (gst_zcipc_string_is_bounded (deeper, strlen (deeper)));
  /* Brackets in a quoted string (escaped quotes and all) are its text. */
  fail_unless (gst_zcipc_string_is_bounded (quoted, strlen (quoted)));
  /* Past the size bound, whatever it holds. */
  fail_if (gst_zcipc_string_is_bounded ("", GST_ZCIPC_MAX_STRING_SIZE + 1));
  g_free (ok);
  g_free (deep);
  g_free (deeper);
}

GST_END_TEST;

static GByteArray *
custom_meta_record (const gchar * name)
{
  GByteArray *out = g_byte_array_new ();
  gchar *structure = g_strdup_printf ("%s, n=(int)1;", name);
  guint32 header[2] = { 4, strlen (name) + 1 + strlen (structure) + 1 };
  static const guint8 zeros[8] = { 0 };

  g_byte_array_append (out, (const guint8 *) header, sizeof header);
  g_byte_array_append (out, (const guint8 *) name, strlen (name) + 1);
  g_byte_array_append (out, (const guint8 *) structure, strlen (structure) + 1);
  g_byte_array_append (out, zeros, (8 - out->len % 8) % 8);
  g_free (structure);
  return out;
}

GST_START_TEST (test_custom_meta_names_are_bounded_per_connection)
{
  GstZcipcMetaContext *ctx = gst_zcipc_meta_context_new ();
  guint skipped = 0;
  gchar *error = NULL;

  for (guint i = 0; i < GST_ZCIPC_MAX_CUSTOM_METAS_PER_CONNECTION + 4; i++) {
    gchar *name = g_strdup_printf ("ZtSerialConn%u", i);
    GByteArray *rec = custom_meta_record (name);
    GstBuffer *buffer = gst_buffer_new ();

    fail_unless (gst_zcipc_metas_deserialize (buffer, rec->data, rec->len,
            ctx, NULL, &skipped, &error), "%s", error);
    fail_unless_equals_int (gst_meta_get_info (name) != NULL,
        i < GST_ZCIPC_MAX_CUSTOM_METAS_PER_CONNECTION);
    gst_buffer_unref (buffer);
    g_byte_array_unref (rec);
    g_free (name);
  }
  fail_unless_equals_int (skipped, 4);
  gst_zcipc_meta_context_free (ctx);

  /* Names no GType can have, or that name a type already, are malformed. */
  {
    static const gchar *bad[] = { "9lives", "with space", "GstBuffer" };

    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
      GByteArray *rec = custom_meta_record (bad[i]);
      GstBuffer *buffer = gst_buffer_new ();

      ctx = gst_zcipc_meta_context_new ();
      fail_if (gst_zcipc_metas_deserialize (buffer, rec->data, rec->len,
              ctx, NULL, NULL, &error), "%s accepted", bad[i]);
      g_clear_pointer (&error, g_free);
      gst_zcipc_meta_context_free (ctx);
      gst_buffer_unref (buffer);
      g_byte_array_unref (rec);
    }
  }
}

GST_END_TEST;

static Suite *
zcipcserial_suite (void)
{
  Suite *s = suite_create ("zcipcserial");
  TCase *tc = tcase_create ("from a producer");

  tcase_add_test (tc, test_every_raw_format_in_its_default_layout_is_accepted);
  tcase_add_test (tc, test_a_plane_one_byte_past_the_memory_is_refused);
  tcase_add_test (tc, test_strings_nested_past_16_levels_are_refused);
  tcase_add_test (tc, test_custom_meta_names_are_bounded_per_connection);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (zcipcserial);
