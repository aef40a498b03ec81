/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#include <string.h>

#include "helpers.h"

/* zcipcsink's caps query: the raw video formats consumers commonly expect
 * come first, so an upstream free to choose publishes one of them; any caps
 * an upstream insists on still cross. Asked directly (a caps query with a
 * filter, as negotiating peers ask), and through real negotiation with
 * videotestsrc, videoconvert, capsfilter, audiotestsrc and jpegenc. */

/* The documented order (docs/design.md, "Caps"). */
static const gchar *preferred_formats[] = {
  "RGBA", "RGB", "BGRx", "I420", "NV12", "GRAY8",
};

static gchar *tmpdir;
static gchar *socket_path;

static void
setup (void)
{
  socket_path = zg_tmp_socket_new (&tmpdir);
}

static void
teardown (void)
{
  zg_tmp_socket_remove (&socket_path, &tmpdir);
}

/* A zcipcsink (not started: the caps query needs no socket). */
static GstElement *
new_sink (void)
{
  GstElement *sink = gst_element_factory_make ("zcipcsink", NULL);

  fail_unless (sink != NULL);
  return sink;
}

/* What the sink answers to a caps query with `filter` (NULL: none). */
static GstCaps *
query_sink_caps (GstElement * sink, const gchar * filter_str)
{
  GstCaps *filter = filter_str ? gst_caps_from_string (filter_str) : NULL;
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  GstCaps *caps;

  fail_unless (filter_str == NULL || filter != NULL, "%s", filter_str);
  caps = gst_pad_query_caps (pad, filter);
  fail_unless (caps != NULL);
  GST_INFO ("filter %s: %" GST_PTR_FORMAT, filter_str, caps);
  gst_object_unref (pad);
  if (filter)
    gst_caps_unref (filter);
  return caps;
}

/* Whether `caps` allow some of `str`. */
static gboolean
can_take (const GstCaps * caps, const gchar * str)
{
  GstCaps *other = gst_caps_from_string (str);
  gboolean can;

  fail_unless (other != NULL, "%s", str);
  can = gst_caps_can_intersect (caps, other);
  gst_caps_unref (other);
  return can;
}

static const gchar *
nth_format (const GstCaps * caps, guint i)
{
  return gst_structure_get_string (gst_caps_get_structure (caps, i), "format");
}

GST_START_TEST (test_caps_query_puts_the_preferred_formats_first_then_all)
{
  GstElement *sink = new_sink ();
  GstElement *src = gst_element_factory_make ("videotestsrc", NULL);
  GstPad *src_pad = gst_element_get_static_pad (src, "src");
  GstCaps *offered = gst_pad_query_caps (src_pad, NULL);
  gchar *offered_str = gst_caps_to_string (offered);
  GstCaps *caps = query_sink_caps (sink, offered_str);

  /* Asked with everything videotestsrc can make (as its negotiation asks):
   * one structure per preferred format, in order, ... */
  fail_unless (gst_caps_get_size (caps) > G_N_ELEMENTS (preferred_formats));
  for (guint i = 0; i < G_N_ELEMENTS (preferred_formats); i++) {
    GstStructure *s = gst_caps_get_structure (caps, i);

    fail_unless (gst_structure_has_name (s, "video/x-raw"));
    fail_unless_equals_string (nth_format (caps, i), preferred_formats[i]);
  }
  /* ... each still within what was offered, and then all the rest. */
  fail_unless (gst_caps_is_subset (caps, offered));
  fail_unless (gst_caps_is_subset (offered, caps));
  fail_unless (can_take (caps, "video/x-raw,format=Y444"));

  gst_caps_unref (caps);
  g_free (offered_str);
  gst_caps_unref (offered);
  gst_object_unref (src_pad);
  gst_object_unref (src);
  gst_object_unref (sink);
}

GST_END_TEST;

GST_START_TEST (test_caps_query_keeps_the_filter_order_among_preferred_formats)
{
  GstElement *sink = new_sink ();
  /* Offered in the opposite order, and without RGB: the sink's order wins,
   * the format it is not offered is not invented. */
  GstCaps *caps = query_sink_caps (sink,
      "video/x-raw,format={ GRAY8, NV12, I420, BGRx, RGBA, Y444 },"
      "width=640,height=480");

  fail_unless_equals_int (gst_caps_get_size (caps), 6);
  fail_unless_equals_string (nth_format (caps, 0), "RGBA");
  fail_unless_equals_string (nth_format (caps, 1), "BGRx");
  fail_unless_equals_string (nth_format (caps, 2), "I420");
  fail_unless_equals_string (nth_format (caps, 3), "NV12");
  fail_unless_equals_string (nth_format (caps, 4), "GRAY8");
  /* Then the filter itself, Y444 included. */
  fail_unless (can_take (caps, "video/x-raw,format=Y444,width=640,"
          "height=480"));
  fail_if (can_take (caps, "video/x-raw,format=RGB"));
  gst_caps_unref (caps);
  gst_object_unref (sink);
}

GST_END_TEST;

/* Caps no preferred format matches: the answer is the filter itself, and
 * the sink accepts them. */
static void
check_crosses_as_is (GstElement * sink, const gchar * filter_str)
{
  GstCaps *filter = gst_caps_from_string (filter_str);
  GstCaps *caps = query_sink_caps (sink, filter_str);
  GstPad *pad = gst_element_get_static_pad (sink, "sink");

  fail_unless (gst_caps_is_equal (caps, filter), "%s gave %" GST_PTR_FORMAT,
      filter_str, caps);
  if (gst_caps_is_fixed (filter))
    fail_unless (gst_pad_query_accept_caps (pad, filter), "%s", filter_str);
  gst_object_unref (pad);
  gst_caps_unref (caps);
  gst_caps_unref (filter);
}

GST_START_TEST (test_caps_query_lets_every_other_caps_cross)
{
  GstElement *sink = new_sink ();
  GstCaps *caps;

  check_crosses_as_is (sink, "video/x-raw,format=Y444,width=320,height=240,"
      "framerate=30/1");
  check_crosses_as_is (sink, "audio/x-raw,format=S16LE,rate=48000,"
      "channels=2,layout=interleaved");
  check_crosses_as_is (sink, "image/jpeg,width=320,height=240");
  check_crosses_as_is (sink, "application/octet-stream");
  check_crosses_as_is (sink, "video/x-raw(memory:DMABuf),format=NV12,"
      "width=320,height=240");
  /* A preferred format in other memory is not system memory: as is. */
  check_crosses_as_is (sink, "video/x-raw(memory:DMABuf),format=RGBA");

  /* Without a filter nothing can come before ANY: the sink takes anything. */
  caps = query_sink_caps (sink, NULL);
  fail_unless (gst_caps_is_any (caps));
  gst_caps_unref (caps);
  gst_object_unref (sink);
}

GST_END_TEST;

/* The caps zcipcsink negotiated in "<head> ! zcipcsink", after one buffer. */
static GstCaps *
negotiated_caps (const gchar * head)
{
  GstElement *pipeline, *sink;
  GstMessage *msg;
  GstCaps *caps;
  GstPad *pad;
  GError *error = NULL;
  gchar *desc = g_strdup_printf ("%s ! zcipcsink name=sink "
      "socket-path=\"%s\" sync=false", head, socket_path);

  pipeline = gst_parse_launch (desc, &error);
  fail_unless (pipeline != NULL && error == NULL, "%s", desc);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  zg_set_state_sync (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      10 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
      "%s did not reach EOS", desc);
  gst_message_unref (msg);
  pad = gst_element_get_static_pad (sink, "sink");
  caps = gst_pad_get_current_caps (pad);
  fail_unless (caps != NULL, "%s: no caps", desc);
  GST_INFO ("%s: %" GST_PTR_FORMAT, head, caps);
  gst_object_unref (pad);
  gst_object_unref (sink);
  zg_set_state_sync (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  g_free (desc);
  return caps;
}

static void
check_negotiates (const gchar * head, const gchar * expected_name,
    const gchar * expected_format)
{
  GstCaps *caps = negotiated_caps (head);
  GstStructure *s = gst_caps_get_structure (caps, 0);

  fail_unless (gst_structure_has_name (s, expected_name), "%s: %"
      GST_PTR_FORMAT, head, caps);
  if (expected_format)
    fail_unless_equals_string (gst_structure_get_string (s, "format"),
        expected_format);
  gst_caps_unref (caps);
}

GST_START_TEST (test_free_upstream_publishes_the_first_preferred_format)
{
  /* videotestsrc alone would pick ABGR64_LE, its first format. */
  check_negotiates ("videotestsrc num-buffers=1", "video/x-raw", "RGBA");
  check_negotiates ("videotestsrc num-buffers=1 ! videoconvert",
      "video/x-raw", "RGBA");
  /* Where the first is impossible, the next one upstream can make. */
  check_negotiates ("videotestsrc num-buffers=1 ! "
      "video/x-raw,format={ Y444, NV12, I420 }", "video/x-raw", "I420");
}

GST_END_TEST;

GST_START_TEST (test_caps_upstream_insists_on_still_cross)
{
  check_negotiates ("videotestsrc num-buffers=1 ! video/x-raw,format=Y444",
      "video/x-raw", "Y444");
  check_negotiates ("audiotestsrc num-buffers=1", "audio/x-raw", NULL);
  check_negotiates ("videotestsrc num-buffers=1 ! jpegenc", "image/jpeg", NULL);
}

GST_END_TEST;

/* Renegotiation: a capsfilter changed while frames flow, from unconstrained
 * to Y444 and back. */
typedef struct
{
  GstElement *capsfilter;
  guint n;
  GString *formats;             /* the format of each frame, in order */
  guint from_zcipc_pool;
} Renegotiation;

static GstPadProbeReturn
on_src_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Renegotiation *r = user_data;
  GstCaps *caps = NULL;

  /* videotestsrc renegotiates before its next buffer once the capsfilter
   * sends a reconfigure event upstream. */
  if (r->n == 4)
    caps = gst_caps_from_string ("video/x-raw,format=Y444");
  else if (r->n == 8)
    caps = gst_caps_from_string ("video/x-raw");
  if (caps) {
    g_object_set (r->capsfilter, "caps", caps, NULL);
    gst_caps_unref (caps);
  }
  r->n++;
  return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn
on_sink_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Renegotiation *r = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCaps *caps = gst_pad_get_current_caps (pad);

  g_string_append_printf (r->formats, "%s%s", r->formats->len ? " " : "",
      gst_structure_get_string (gst_caps_get_structure (caps, 0), "format"));
  if (buffer->pool && g_strcmp0 (G_OBJECT_TYPE_NAME (buffer->pool),
          "GstZcipcProducerPool") == 0)
    r->from_zcipc_pool++;
  gst_caps_unref (caps);
  return GST_PAD_PROBE_OK;
}

GST_START_TEST (test_renegotiation_keeps_the_preference_and_the_pool)
{
  Renegotiation r = { NULL, 0, g_string_new (NULL), 0 };
  GstElement *pipeline, *src, *sink;
  GstMessage *msg;
  GstPad *pad;
  gchar *desc = g_strdup_printf ("videotestsrc name=src num-buffers=12 ! "
      "capsfilter name=cf caps=video/x-raw,width=64,height=48 ! "
      "zcipcsink name=sink socket-path=\"%s\" sync=false", socket_path);

  pipeline = gst_parse_launch (desc, NULL);
  fail_unless (pipeline != NULL);
  r.capsfilter = gst_bin_get_by_name (GST_BIN (pipeline), "cf");
  src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  pad = gst_element_get_static_pad (src, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_src_buffer, &r, NULL);
  gst_object_unref (pad);
  pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_sink_buffer, &r, NULL);
  gst_object_unref (pad);

  zg_set_state_sync (pipeline, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipeline),
      10 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS);
  gst_message_unref (msg);
  zg_set_state_sync (pipeline, GST_STATE_NULL);

  /* Frame 4 is already on its way when the capsfilter changes. */
  fail_unless_equals_string (r.formats->str,
      "RGBA RGBA RGBA RGBA RGBA Y444 Y444 Y444 Y444 RGBA RGBA RGBA");
  /* Every frame, in each format, was written into the sink's own pool. */
  fail_unless_equals_int (r.from_zcipc_pool, 12);

  g_string_free (r.formats, TRUE);
  gst_object_unref (r.capsfilter);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
}

GST_END_TEST;

static Suite *
zcipcsink_caps_suite (void)
{
  Suite *s = suite_create ("zcipcsink_caps");
  TCase *tc;

  tc = tcase_create ("query");
  tcase_add_test (tc,
      test_caps_query_puts_the_preferred_formats_first_then_all);
  tcase_add_test (tc,
      test_caps_query_keeps_the_filter_order_among_preferred_formats);
  tcase_add_test (tc, test_caps_query_lets_every_other_caps_cross);
  suite_add_tcase (s, tc);

  tc = tcase_create ("negotiation");
  tcase_add_unchecked_fixture (tc, zg_tmpdir_base_setup,
      zg_tmpdir_base_teardown);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_free_upstream_publishes_the_first_preferred_format);
  tcase_add_test (tc, test_caps_upstream_insists_on_still_cross);
  tcase_add_test (tc, test_renegotiation_keeps_the_preference_and_the_pool);
  suite_add_tcase (s, tc);

  return s;
}

GST_CHECK_MAIN (zcipcsink_caps);
