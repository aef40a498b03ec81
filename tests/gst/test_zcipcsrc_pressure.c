/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "helpers.h"

/* zcipcsrc whose downstream keeps frames: a harness whose test keeps every
 * buffer it pulls, as an encoder's lookahead, a queue with thresholds or
 * filesink's buffering would. The producer is lossless (it waits for room,
 * and cuts off a consumer stuck at its quota for wait-timeout), so before
 * copies under pressure existed such a consumer stalled and was cut off.
 *
 * The quota zcipcsrc asks for is max-held + what downstream says it keeps
 * (ALLOCATION pool minimums, LATENCY in frames) + 1 for the frame in
 * flight; the frame that would take the last granted slot is copied. */

#define CAPS "video/x-raw,format=I420,width=321,height=241,framerate=30/1"
/* A frame's size as the producer's pool lays it out. */
#define POOL_FRAME_SIZE 118096

static gchar *tmpdir;
static gchar *socket_path;

static void
setup (void)
{
  socket_path = zg_tmp_socket_new (&tmpdir);
  zg_warm_up ();
}

static void
teardown (void)
{
  zg_tmp_socket_remove (&socket_path, &tmpdir);
}

static ZgProducer *
start_producer (const gchar * sink_props)
{
  gchar *props = g_strdup_printf ("%s %s", ZG_LOSSLESS_SINK_PROPS,
      sink_props ? sink_props : "");
  ZgProducer *p = zg_producer_start (socket_path, "pattern=ball", CAPS, props);

  g_free (props);
  return p;
}

/* The next buffer within 5 s: a consumer that starves fails here instead
 * of waiting for the harness's minute. */
static GstBuffer *
pull_soon (GstHarness * h, guint i)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  GstBuffer *buffer;

  while (!(buffer = gst_harness_try_pull (h))) {
    fail_unless (g_get_monotonic_time () < deadline, "frame %u did not come "
        "within 5 s: the consumer starves", i);
    g_usleep (1000);
  }
  return buffer;
}

/* Whether the buffer's bytes lie in a shared region mapping (zero copy). */
static gboolean
in_shared_memory (GstBuffer * buffer)
{
  GstMapInfo map;
  gboolean shared;

  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
  shared = zg_overlaps_region_map (map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  return shared;
}

/* Asserts `buffer` is frame `i` of the producer: bytes, time, layout. */
static void
assert_is_frame (ZgProducer * p, GstBuffer * buffer, guint i)
{
  ZgFrame f = zg_producer_get_frame (p, i);
  GstVideoMeta *vmeta = gst_buffer_get_video_meta (buffer);
  gchar *sum = zg_buffer_checksum (buffer);

  fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), f.pts);
  fail_unless_equals_uint64 (GST_BUFFER_DURATION (buffer), f.duration);
  fail_unless_equals_string (sum, f.checksum);
  fail_unless (vmeta != NULL, "frame %u lost its video meta", i);
  for (guint plane = 0; plane < f.n_planes; plane++) {
    fail_unless_equals_int (vmeta->stride[plane], f.stride[plane]);
    fail_unless_equals_uint64 (vmeta->offset[plane], f.offset[plane]);
  }
  g_free (sum);
  zg_frame_clear (&f);
}

/* zcipcsrc's default max-held (tests read it, so they follow it). */
static guint
default_max_held (GstElement * src)
{
  guint max_held = 0;

  g_object_get (src, "max-held", &max_held, NULL);
  fail_unless (max_held > 0);
  return max_held;
}

/* Lets go of what a test kept, its consumer and its producer. */
static void
finish (ZgProducer * p, GstHarness * h, GstBus * bus, GPtrArray * kept)
{
  g_ptr_array_unref (kept);
  if (bus) {
    /* Queued messages hold the element, which holds the bus. */
    gst_bus_set_flushing (bus, TRUE);
    gst_object_unref (bus);
  }
  gst_harness_teardown (h);
  zg_producer_free (p);
}

/* Every copy is counted with its bytes: whole frames. */
static void
assert_copied_whole_frames (GstElement * src)
{
  GstStructure *stats = NULL;
  guint64 frames = 0, bytes = 0;

  g_object_get (src, "stats", &stats, NULL);
  fail_unless (gst_structure_get_uint64 (stats, "frames-copied", &frames));
  fail_unless (gst_structure_get_uint64 (stats, "bytes-copied", &bytes));
  fail_unless_equals_uint64 (bytes, frames * POOL_FRAME_SIZE);
  gst_structure_free (stats);
}

/* Waits until `src` was granted `quota`, then takes the frames that came
 * before (which it may have copied) and lets them go: from here on, frame
 * j kept downstream is the j-th frame the consumer holds. */
static void
wait_for_grant (GstHarness * h, GstElement * src, guint quota)
{
  fail_unless (zg_wait_stats_eq (src, "quota", quota),
      "quota %" G_GUINT64_FORMAT ", not %u", zg_stats_get (src, "quota"),
      quota);
  for (guint i = 0; i < 4; i++)
    gst_buffer_unref (pull_soon (h, i));
}

/* Counts the WARNING messages on `bus`, checking each names `text`. */
static guint
count_warnings (GstBus * bus, const gchar * text)
{
  GstMessage *msg;
  guint n = 0;

  while ((msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING))) {
    GError *error = NULL;

    gst_message_parse_warning (msg, &error, NULL);
    fail_unless (strstr (error->message, text), "warning '%s' lacks '%s'",
        error->message, text);
    g_error_free (error);
    gst_message_unref (msg);
    n++;
  }
  return n;
}

/* Downstream keeps every frame: the first max-held come zero-copy, every
 * later one is a copy with the same bytes, timestamps and video meta; the
 * stream never stalls, the lossless producer never cuts the consumer off,
 * and one warning says what to raise. */
GST_START_TEST (test_frames_beyond_the_quota_are_copied_not_starved)
{
  const guint n_frames = 24;
  ZgProducer *p = start_producer (NULL);
  GstBus *bus;
  GstHarness *h = zg_consumer_new_bounded (socket_path, NULL, &bus,
      TRUE);
  GPtrArray *kept = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  guint shared = 0, max_held = default_max_held (h->element);

  for (guint i = 0; i < n_frames; i++) {
    GstBuffer *buffer = pull_soon (h, i);

    assert_is_frame (p, buffer, i);
    if (in_shared_memory (buffer)) {
      /* Only while downstream keeps fewer than it was granted. */
      fail_unless (i < max_held, "frame %u is in shared memory while "
          "downstream keeps %u frames", i, i);
      shared++;
    }
    g_ptr_array_add (kept, buffer);
  }
  fail_unless_equals_int (shared, max_held);
  fail_unless_equals_uint64 (zg_stats_get (h->element, "quota"), max_held + 1);
  fail_unless_equals_uint64 (zg_stats_get (h->element, "quota-asked"),
      max_held + 1);
  /* The harness may hold a frame or two more that were copied already. */
  fail_unless (zg_stats_get (h->element, "frames-copied") >=
      n_frames - max_held);
  assert_copied_whole_frames (h->element);
  fail_unless_equals_uint64 (zg_stats_get (p->sink, "consumers-dropped"), 0);
  fail_unless_equals_int (count_warnings (bus, "max-held"), 1);

  /* Downstream lets go: frames are zero-copy again, without a warning. */
  g_ptr_array_set_size (kept, 0);
  for (guint i = n_frames; i < n_frames + 40; i++) {
    GstBuffer *buffer = pull_soon (h, i);

    assert_is_frame (p, buffer, i);
    if (i >= n_frames + 8)
      fail_unless (in_shared_memory (buffer), "frame %u is a copy", i);
    gst_buffer_unref (buffer);
  }
  fail_unless_equals_int (count_warnings (bus, "max-held"), 0);
  fail_unless_equals_uint64 (zg_stats_get (p->sink, "consumers-dropped"), 0);

  finish (p, h, bus, kept);
}

GST_END_TEST;

/* Downstream says it delays frames by 300 ms (9 frames at 30 fps): zcipcsrc
 * asks for max-held + 9 + 1 and downstream may keep max-held + 9 frames
 * zero-copy. */
GST_START_TEST (test_downstream_latency_raises_the_quota)
{
  ZgProducer *p = start_producer ("consumer-quota=16");
  GstBus *bus;
  GstHarness *h = zg_consumer_new (socket_path, NULL, &bus);
  GPtrArray *kept = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
  GstBuffer *buffer;
  guint keeps = default_max_held (h->element) + 9;

  fail_unless (gst_harness_push_upstream_event (h,
          gst_event_new_latency (300 * GST_MSECOND)));
  fail_unless (zg_wait_stats_eq (h->element, "quota-asked", keeps + 1));
  wait_for_grant (h, h->element, keeps + 1);
  /* Frames the consumer copied before the grant warned about it. */
  gst_bus_set_flushing (bus, TRUE);
  gst_bus_set_flushing (bus, FALSE);

  for (guint i = 0; i < keeps; i++) {
    buffer = pull_soon (h, i);
    fail_unless (in_shared_memory (buffer), "frame %u is a copy", i);
    g_ptr_array_add (kept, buffer);
  }
  /* The next would take the last slot. */
  buffer = pull_soon (h, keeps);
  fail_if (in_shared_memory (buffer));
  g_ptr_array_add (kept, buffer);
  fail_unless_equals_int (count_warnings (bus, "max-held"), 1);

  finish (p, h, bus, kept);
}

GST_END_TEST;

static GstPadProbeReturn
propose_min_buffers (GstPad * pad, GstPadProbeInfo * info, gpointer data)
{
  GstQuery *query = GST_PAD_PROBE_INFO_QUERY (info);

  if (GST_QUERY_TYPE (query) == GST_QUERY_ALLOCATION)
    gst_query_add_allocation_pool (query, NULL, POOL_FRAME_SIZE,
        GPOINTER_TO_UINT (data), 0);
  return GST_PAD_PROBE_OK;
}

/* Downstream's pool needs 5 buffers: zcipcsrc asks for max-held + 5 + 1. */
GST_START_TEST (test_downstream_pool_minimum_raises_the_quota)
{
  ZgProducer *p = start_producer ("consumer-quota=16");
  GstElement *src = gst_element_factory_make ("zcipcsrc", NULL);
  GstHarness *h;
  guint keeps;
  GPtrArray *kept = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);

  g_object_set (src, "socket-path", socket_path, NULL);
  h = gst_harness_new_with_element (src, NULL, "src");
  gst_pad_add_probe (h->sinkpad, GST_PAD_PROBE_TYPE_QUERY_DOWNSTREAM,
      propose_min_buffers, GUINT_TO_POINTER (5), NULL);
  gst_harness_play (h);
  keeps = default_max_held (src) + 5;
  wait_for_grant (h, src, keeps + 1);
  fail_unless_equals_uint64 (zg_stats_get (src, "quota-asked"), keeps + 1);

  for (guint i = 0; i < keeps; i++) {
    GstBuffer *buffer = pull_soon (h, i);

    fail_unless (in_shared_memory (buffer), "frame %u is a copy", i);
    g_ptr_array_add (kept, buffer);
  }
  g_ptr_array_add (kept, pull_soon (h, keeps));
  fail_if (in_shared_memory (g_ptr_array_index (kept, keeps)));

  gst_object_unref (src);
  finish (p, h, NULL, kept);
}

GST_END_TEST;

/* The producer's consumer-quota caps what is granted; the warning says to
 * raise it, to what. */
GST_START_TEST (test_the_producers_cap_is_named_in_the_warning)
{
  ZgProducer *p = start_producer ("consumer-quota=4");
  GstBus *bus;
  GstHarness *h = zg_consumer_new (socket_path, "max-held=10", &bus);
  GPtrArray *kept = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);

  for (guint i = 0; i < 8; i++) {
    GstBuffer *buffer = pull_soon (h, i);

    assert_is_frame (p, buffer, i);
    fail_unless_equals_int (in_shared_memory (buffer), i < 3);
    g_ptr_array_add (kept, buffer);
  }
  fail_unless_equals_uint64 (zg_stats_get (h->element, "quota-asked"), 11);
  fail_unless_equals_uint64 (zg_stats_get (h->element, "quota"), 4);
  fail_unless_equals_int (count_warnings (bus, "consumer-quota to 11"), 1);

  finish (p, h, bus, kept);
}

GST_END_TEST;

static Suite *
zcipcsrc_pressure_suite (void)
{
  Suite *s = suite_create ("zcipcsrc-pressure");
  TCase *tc = tcase_create ("pressure");

  tcase_add_unchecked_fixture (tc, zg_tmpdir_base_setup,
      zg_tmpdir_base_teardown);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_frames_beyond_the_quota_are_copied_not_starved);
  tcase_add_test (tc, test_downstream_latency_raises_the_quota);
  tcase_add_test (tc, test_downstream_pool_minimum_raises_the_quota);
  tcase_add_test (tc, test_the_producers_cap_is_named_in_the_warning);
  suite_add_tcase (s, tc);
  return s;
}

GST_CHECK_MAIN (zcipcsrc_pressure);
