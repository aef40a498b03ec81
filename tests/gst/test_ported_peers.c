/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <string.h>
#include <unistd.h>

#include "helpers.h"

/* GStreamer's own element tests of its IPC pairs, shmsink/shmsrc
 * (gst-plugins-bad tests/check/elements/shm.c) and unixfdsink/unixfdsrc
 * (unixfd.c), asked of zcipcsink/zcipcsrc: one test here per test there,
 * checking the same property. Where zcipc differs on purpose the test
 * checks zcipc's behaviour; docs/peers.md has the table (their test, what
 * it checks, ours, and where and why zcipc differs).
 *
 * Both sides run in this process, but they only meet through the socket
 * and the memfds, as two processes would. */

static gchar *tmpdir;
static gchar *socket_path;
static ZgResources before;
/* Pipelines of the running test not yet freed: teardown stops them, so a
 * test that failed half-way (valgrind runs with CK_FORK=no) leaves no
 * streaming thread behind to block the next test or gst_deinit(). */
static GPtrArray *pipelines;

static void
pipeline_stop_and_unref (gpointer pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  /* Queued messages hold the elements, which hold the bus. */
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
}

static void
setup (void)
{
  socket_path = zg_tmp_socket_new (&tmpdir);
  pipelines = g_ptr_array_new_with_free_func (pipeline_stop_and_unref);
  zg_warm_up ();
  zg_resources_snapshot (&before);
}

static void
teardown (void)
{
  g_clear_pointer (&pipelines, g_ptr_array_unref);
  zg_tmp_socket_remove (&socket_path, &tmpdir);
  g_clear_pointer (&before.fd_list, g_free);
}

/* ------------------------------------------------------------ helpers */

/* `desc` with "%s" replaced by the quoted socket path, parsed, in NULL. */
static GstElement *
pipeline_new (const gchar * desc_format)
{
  gchar *quoted = g_strdup_printf ("\"%s\"", socket_path);
  gchar **parts = g_strsplit (desc_format, "%s", -1);
  gchar *desc = g_strjoinv (quoted, parts);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);

  fail_unless (pipeline != NULL && error == NULL, "%s: %s", desc,
      error ? error->message : "?");
  g_strfreev (parts);
  g_free (quoted);
  g_free (desc);
  g_ptr_array_add (pipelines, pipeline);
  return pipeline;
}

/* The element called `name` in `pipeline` (transfer none: the pipeline
 * holds it). */
static GstElement *
pipeline_get (GstElement * pipeline, const gchar * name)
{
  GstElement *element = gst_bin_get_by_name (GST_BIN (pipeline), name);

  fail_unless (element != NULL, "no element %s", name);
  gst_object_unref (element);
  return element;
}

/* Sets NULL, asserts the bus saw no error or warning, frees. */
static void
pipeline_free (GstElement * pipeline)
{
  GstBus *bus = gst_element_get_bus (pipeline);

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  zg_assert_bus_quiet (bus);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  g_ptr_array_remove (pipelines, pipeline);
}

/* The next sample of appsink `sink`, within `seconds`. */
static GstSample *
appsink_pull (GstElement * sink, guint seconds)
{
  GstSample *sample = NULL;

  g_signal_emit_by_name (sink, "try-pull-sample", seconds * GST_SECOND,
      &sample);
  fail_unless (sample != NULL, "no sample within %u s", seconds);
  return sample;
}

/* Sets PLAYING and waits (10 s) until the state change completed: every
 * sink got its first buffer. */
static void
play_and_wait_preroll (GstElement * pipeline)
{
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless_equals_int (gst_element_get_state (pipeline, NULL, NULL,
          10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
}

/* Polls fakesink `sink`'s last-sample until it has one (5 s). */
static GstSample *
fakesink_wait_last_sample (GstElement * sink)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  GstSample *sample = NULL;

  for (;;) {
    g_object_get (sink, "last-sample", &sample, NULL);
    if (sample || g_get_monotonic_time () > deadline)
      break;
    g_usleep (2 * 1000);
  }
  fail_unless (sample != NULL, "%s rendered nothing within 5 s",
      GST_OBJECT_NAME (sink));
  return sample;
}

/* Byte i of every test payload: not all one value, so an offset or a
 * truncation shows. */
static guint8
pattern_byte (gsize i)
{
  return (guint8) (i * 31 + (i >> 8) * 7 + 1);
}

static void
fill_pattern (guint8 * data, gsize size)
{
  for (gsize i = 0; i < size; i++)
    data[i] = pattern_byte (i);
}

/* Compares with memcmp, and looks for the first wrong byte only when
 * there is one: a check per byte would be 33 million checks for a 4K
 * frame (each one is a check mark point, slow under valgrind). */
static void
assert_pattern (GstBuffer * buffer, gsize size)
{
  guint8 *expected = g_malloc (size);
  GstMapInfo map;

  fail_unless_equals_uint64 (gst_buffer_get_size (buffer), size);
  fill_pattern (expected, size);
  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
  if (memcmp (map.data, expected, size) != 0) {
    gsize i = 0;

    while (map.data[i] == expected[i])
      i++;
    fail ("byte %" G_GSIZE_FORMAT " is %u, not %u", i, map.data[i],
        expected[i]);
  }
  gst_buffer_unmap (buffer, &map);
  g_free (expected);
}

static GstStaticPadTemplate any_src_template =
GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

/* A bare zcipcsink fed by a bare pad (*srcpad, active), in NULL: the test
 * pushes every event itself, as shm.c does, and sees the sink's own state
 * changes (a harness would hide the preroll). */
static GstElement *
bare_sink_new (GstPad ** srcpad)
{
  GstElement *sink = gst_check_setup_element ("zcipcsink");

  g_object_set (sink, "socket-path", socket_path, NULL);
  *srcpad = gst_check_setup_src_pad (sink, &any_src_template);
  fail_unless (gst_pad_set_active (*srcpad, TRUE));
  return sink;
}

static void
bare_sink_free (GstElement * sink)
{
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_check_teardown_src_pad (sink);
  gst_check_teardown_element (sink);
}

/* stream-start, then `caps` if not NULL, then a segment in `format`. */
static void
push_stream_head (GstPad * srcpad, GstCaps * caps, GstFormat format)
{
  GstSegment segment;

  fail_unless (gst_pad_push_event (srcpad,
          gst_event_new_stream_start ("zcipc-ported-peers")));
  if (caps)
    fail_unless (gst_pad_push_event (srcpad, gst_event_new_caps (caps)));
  gst_segment_init (&segment, format);
  fail_unless (gst_pad_push_event (srcpad, gst_event_new_segment (&segment)));
}

/* ------------------------------------------------ shm.c (shmsink/shmsrc) */

/* shm.c test_shm_sysmem_alloc: a buffer in plain system memory, pushed
 * with a BYTES segment and no caps, lets the sink preroll (it goes ASYNC
 * to PLAYING and completes on that buffer) and reaches the consumer with
 * its size. zcipc copies such a buffer into shared memory, once, and
 * counts it; the consumer gets the same bytes. */
GST_START_TEST (test_system_memory_buffer_prerolls_the_sink_and_crosses)
{
  GstPad *srcpad;
  GstElement *sink = bare_sink_new (&srcpad);
  GstHarness *consumer;
  GstState state, pending;
  GstBuffer *buffer;
  guint8 *data = g_malloc (1000);

  /* A sink prerolls: PLAYING completes once a buffer arrived. */
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  consumer = zg_consumer_new (socket_path, NULL, NULL);
  fail_unless (zg_wait_stats_eq (sink, "consumers", 1));
  fail_unless_equals_int (gst_element_get_state (sink, &state, &pending, 0),
      GST_STATE_CHANGE_ASYNC);

  push_stream_head (srcpad, NULL, GST_FORMAT_BYTES);
  fill_pattern (data, 1000);
  fail_unless_equals_int (gst_pad_push (srcpad, gst_buffer_new_wrapped (data,
              1000)), GST_FLOW_OK);

  fail_unless_equals_int (gst_element_get_state (sink, &state, &pending,
          5 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (state, GST_STATE_PLAYING);
  fail_unless_equals_int (pending, GST_STATE_VOID_PENDING);

  buffer = gst_harness_pull (consumer);
  fail_unless (buffer != NULL);
  assert_pattern (buffer, 1000);
  fail_unless_equals_int (gst_harness_buffers_received (consumer), 1);
  gst_buffer_unref (buffer);
  fail_unless_equals_uint64 (zg_stats_get (sink, "frames-copied"), 1);
  fail_unless_equals_uint64 (zg_stats_get (sink, "bytes-copied"), 1000);

  gst_harness_teardown (consumer);
  bare_sink_free (sink);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* shm.c test_shm_alloc: upstream that allocates with the allocator the
 * sink offers in the ALLOCATION query gets its buffer across without a
 * copy (shmsink's test makes it as large as the whole area, so a copy
 * would block). zcipc has no area to fill: each allocation is a region of
 * its own. So the buffer here is a 4K RGBA frame, larger than anything a
 * default pool holds, and no-copy is proven directly: the sink counts no
 * copy, and the consumer's bytes lie in its read-only region mapping. */
#define BIG_FRAME_SIZE ((gsize) 3840 * 2160 * 4)

GST_START_TEST (test_buffer_from_offered_allocator_crosses_without_copy)
{
  GstPad *srcpad;
  GstElement *sink = bare_sink_new (&srcpad);
  GstHarness *consumer;
  GstCaps *caps = gst_caps_new_empty_simple ("application/x-test");
  GstAllocator *allocator = NULL;
  GstAllocationParams params;
  GstQuery *query;
  GstBuffer *buffer;
  GstMemory *mem;
  GstMapInfo map;

  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  consumer = zg_consumer_new (socket_path, NULL, NULL);
  fail_unless (zg_wait_stats_eq (sink, "consumers", 1));
  push_stream_head (srcpad, caps, GST_FORMAT_BYTES);

  /* Not video: no pool to offer, only the allocator. */
  query = gst_query_new_allocation (caps, FALSE);
  fail_unless (gst_pad_peer_query (srcpad, query));
  fail_unless_equals_int (gst_query_get_n_allocation_params (query), 1);
  fail_unless_equals_int (gst_query_get_n_allocation_pools (query), 0);
  gst_query_parse_nth_allocation_param (query, 0, &allocator, &params);
  fail_unless (allocator != NULL);
  gst_query_unref (query);

  mem = gst_allocator_alloc (allocator, BIG_FRAME_SIZE, &params);
  fail_unless (mem != NULL);
  fail_unless (gst_memory_is_type (mem, "ZcipcMemory"));
  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  fill_pattern (map.data, map.size);
  gst_memory_unmap (mem, &map);
  buffer = gst_buffer_new ();
  gst_buffer_append_memory (buffer, mem);
  gst_object_unref (allocator);
  fail_unless_equals_int (gst_pad_push (srcpad, buffer), GST_FLOW_OK);

  buffer = gst_harness_pull (consumer);
  fail_unless (buffer != NULL);
  assert_pattern (buffer, BIG_FRAME_SIZE);
  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
  zg_assert_in_region_map (map.data, map.size, "r--s");
  gst_buffer_unmap (buffer, &map);
  gst_buffer_unref (buffer);
  fail_unless_equals_uint64 (zg_stats_get (sink, "frames-copied"), 0);

  /* The caps crossed too (shmsrc would need a capsfilter to know them). */
  {
    GstCaps *got = gst_pad_get_current_caps (consumer->sinkpad);

    fail_unless (got != NULL);
    fail_unless (gst_caps_is_equal (got, caps));
    gst_caps_unref (got);
  }
  gst_caps_unref (caps);

  gst_harness_teardown (consumer);
  bare_sink_free (sink);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* shm.c test_shm_live: a consumer that joins a producer already running
 * on its own (shmsink wait-for-connection=false; zcipcsink's default,
 * min-consumers=0) prerolls and gets a sample. zcipcsrc is always live
 * (shmsrc needs is-live=true). The producer goes away first, while the
 * consumer waits for more: both still reach NULL. */
GST_START_TEST (test_consumer_joins_a_running_producer_and_gets_a_sample)
{
  GstElement *producer = pipeline_new ("fakesrc sizetype=fixed "
      "filltype=pattern ! zcipcsink name=sink socket-path=%s");
  GstElement *consumer = pipeline_new ("zcipcsrc socket-path=%s ! "
      "appsink name=sink async=false enable-last-sample=false");
  GstElement *psink = pipeline_get (producer, "sink");
  GstElement *appsink = pipeline_get (consumer, "sink");
  GstSample *sample;
  GstBuffer *buffer;

  fail_unless (gst_element_set_state (producer, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  /* Running without anyone watching. */
  fail_unless (zg_wait_stats_ge (psink, "rendered", 10));
  fail_unless_equals_uint64 (zg_stats_get (psink, "consumers"), 0);

  play_and_wait_preroll (consumer);

  /* Not a latency test: the producer copies every fakesrc buffer into a
   * region of its own at full speed, which under valgrind is slow. */
  sample = appsink_pull (appsink, 30);
  buffer = gst_sample_get_buffer (sample);
  /* fakesrc's fixed size and its byte ramp. */
  fail_unless_equals_uint64 (gst_buffer_get_size (buffer), 4096);
  {
    guint8 ramp[4096];
    GstMapInfo map;

    for (guint i = 0; i < sizeof ramp; i++)
      ramp[i] = (guint8) i;
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    fail_unless (memcmp (map.data, ramp, sizeof ramp) == 0);
    gst_buffer_unmap (buffer, &map);
  }
  gst_sample_unref (sample);

  pipeline_free (producer);
  pipeline_free (consumer);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* shm.c test_shm_stop_no_error: a producer that reached EOS goes to NULL
 * without posting an error (shmsink once did, from its poll thread). Here
 * with a consumer still connected, so stopping also hangs up on it. */
GST_START_TEST (test_producer_stops_after_eos_without_error)
{
  GstElement *producer = pipeline_new ("fakesrc num-buffers=5 "
      "sizetype=fixed filltype=pattern ! zcipcsink name=sink "
      "socket-path=%s min-consumers=1");
  GstElement *psink = pipeline_get (producer, "sink");
  GstBus *bus = gst_element_get_bus (producer);
  GstHarness *consumer;
  GstMessage *msg;

  fail_unless (gst_element_set_state (producer, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  consumer = zg_consumer_new (socket_path, "max-held=8", NULL);

  msg = gst_bus_timed_pop_filtered (bus, 5 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "neither EOS nor an error within 5 s");
  fail_unless (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS, "%s, not EOS",
      GST_MESSAGE_TYPE_NAME (msg));
  gst_message_unref (msg);
  fail_unless_equals_uint64 (zg_stats_get (psink, "rendered"), 5);
  fail_unless_equals_uint64 (zg_stats_get (psink, "consumers"), 1);

  fail_unless_equals_int (gst_element_set_state (producer, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR | GST_MESSAGE_WARNING);
  fail_unless (msg == NULL, "the producer posted %s while stopping",
      msg ? GST_MESSAGE_TYPE_NAME (msg) : "");

  /* The consumer saw all five, then the end. */
  for (guint i = 0; i < 5; i++) {
    GstBuffer *buffer = gst_harness_pull (consumer);

    fail_unless (buffer != NULL);
    gst_buffer_unref (buffer);
  }
  {
    GstEvent *event;

    while ((event = gst_harness_pull_event (consumer))) {
      GstEventType type = GST_EVENT_TYPE (event);

      gst_event_unref (event);
      if (type == GST_EVENT_EOS)
        break;
    }
    fail_unless (event != NULL, "no EOS on the consumer");
  }

  gst_harness_teardown (consumer);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  g_ptr_array_remove (pipelines, producer);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* ---------------------------------------- unixfd.c (unixfdsink/unixfdsrc) */

#define TEST_CUSTOM_META "zcipc-ported-custom-meta"

/* Once per process: with CK_FORK=no every test runs in the same one. */
static void
register_custom_meta (const gchar * name)
{
  const gchar *tags[] = { NULL };

  if (!gst_meta_get_info (name))
    gst_meta_register_custom (name, tags, NULL, NULL, NULL);
}

static GstPadProbeReturn
add_custom_meta (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstCustomMeta *meta;

  /* Ours alone at this point (videotestsrc just made it): writable. */
  fail_unless (gst_buffer_is_writable (buffer));
  meta = gst_buffer_add_custom_meta (buffer, TEST_CUSTOM_META);
  gst_structure_set (gst_custom_meta_get_structure (meta), "field",
      G_TYPE_INT, 42, NULL);
  return GST_PAD_PROBE_OK;
}

static void
assert_sample_has_custom_meta (GstSample * sample)
{
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buffer, TEST_CUSTOM_META);
  gint value = 0;

  fail_unless (meta != NULL, "no custom meta on %" GST_PTR_FORMAT, buffer);
  fail_unless (gst_structure_get_int (gst_custom_meta_get_structure (meta),
          "field", &value));
  fail_unless_equals_int (value, 42);
}

/* unixfd.c test_unixfd_videotestsrc: videotestsrc's stream, each buffer
 * with a custom meta, reaches a consumer; the consumer disconnects
 * (READY) and connects again (PLAYING); a second consumer joins; the meta
 * arrives intact; when everything is in NULL the socket file is gone. */
GST_START_TEST (test_custom_meta_crosses_across_reconnect_and_second_consumer)
{
  GstElement *producer = pipeline_new ("videotestsrc name=src ! "
      "video/x-raw,format=RGBA,width=64,height=48,framerate=30/1 ! "
      "zcipcsink name=sink socket-path=%s");
  const gchar *consumer_desc = "zcipcsrc socket-path=%s ! fakesink name=sink";
  GstElement *consumer1 = pipeline_new (consumer_desc);
  GstElement *consumer2 = pipeline_new (consumer_desc);
  GstElement *psink = pipeline_get (producer, "sink");
  GstElement *fakesink1 = pipeline_get (consumer1, "sink");
  GstElement *fakesink2 = pipeline_get (consumer2, "sink");
  GstElement *src = pipeline_get (producer, "src");
  GstPad *pad = gst_element_get_static_pad (src, "src");
  GstSample *sample;

  register_custom_meta (TEST_CUSTOM_META);
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, add_custom_meta, NULL,
      NULL);
  gst_object_unref (pad);

  /* The producer prerolls with nobody connected. */
  play_and_wait_preroll (producer);

  play_and_wait_preroll (consumer1);
  sample = fakesink_wait_last_sample (fakesink1);
  assert_sample_has_custom_meta (sample);
  gst_sample_unref (sample);

  /* Disconnect, connect again: a new consumer to the producer. */
  fail_unless_equals_int (gst_element_set_state (consumer1, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless (zg_wait_stats_eq (psink, "consumers", 0));
  play_and_wait_preroll (consumer1);
  sample = fakesink_wait_last_sample (fakesink1);
  assert_sample_has_custom_meta (sample);
  gst_sample_unref (sample);

  play_and_wait_preroll (consumer2);
  sample = fakesink_wait_last_sample (fakesink2);
  assert_sample_has_custom_meta (sample);
  gst_sample_unref (sample);

  fail_unless_equals_uint64 (zg_stats_get (psink, "consumers"), 2);
  fail_unless_equals_uint64 (zg_stats_get (psink, "consumers-joined"), 3);

  pipeline_free (consumer1);
  pipeline_free (consumer2);
  pipeline_free (producer);
  fail_if (g_file_test (socket_path, G_FILE_TEST_EXISTS),
      "%s is still there", socket_path);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* appsrc (with `appsrc_props`) ! zcipcsink, lossless and unsynchronised,
 * and zcipcsrc ! appsink, both PLAYING (*appsrc and *appsink: transfer
 * none). */
static void
start_app_pair (const gchar * appsrc_props, GstElement ** producer,
    GstElement ** appsrc, GstElement ** consumer, GstElement ** appsink)
{
  gchar *desc = g_strdup_printf ("appsrc name=src format=time %s ! "
      "zcipcsink socket-path=%%s sync=false async=false min-consumers=1 "
      "slow-consumer=wait", appsrc_props);

  *producer = pipeline_new (desc);
  g_free (desc);
  *consumer = pipeline_new ("zcipcsrc socket-path=%s ! "
      "appsink name=sink sync=false async=false");
  *appsrc = pipeline_get (*producer, "src");
  *appsink = pipeline_get (*consumer, "sink");
  fail_unless_equals_int (gst_element_set_state (*producer,
          GST_STATE_PLAYING), GST_STATE_CHANGE_SUCCESS);
  fail_unless (gst_element_set_state (*consumer, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
}

static void
push_sample (GstElement * appsrc, GstBuffer * buffer, GstCaps * caps,
    const GstSegment * segment)
{
  GstSample *sample = gst_sample_new (buffer, caps, segment, NULL);
  GstFlowReturn ret = GST_FLOW_ERROR;

  g_signal_emit_by_name (appsrc, "push-sample", sample, &ret);
  fail_unless_equals_int (ret, GST_FLOW_OK);
  gst_sample_unref (sample);
}

/* A buffer of `size` pattern bytes (0: no memory at all) at `pts`. */
static GstBuffer *
payload_buffer (gsize size, GstClockTime pts)
{
  GstBuffer *buffer = gst_buffer_new ();

  if (size > 0) {
    guint8 *data = g_malloc (size);

    fill_pattern (data, size);
    gst_buffer_append_memory (buffer, gst_memory_new_wrapped (0, data, size,
            0, size, data, g_free));
  }
  GST_BUFFER_PTS (buffer) = pts;
  return buffer;
}

/* Iteration 0 carries 64 bytes per buffer; iteration 1 carries none, as
 * unixfd.c's buffers do (an empty buffer crosses: see docs/peers.md). */
static const gsize payload_sizes[] = { 64, 0 };

/* unixfd.c test_unixfd_segment: a buffer at PTS 30 s in a segment with
 * base 0, then one at PTS 1 s in a segment with base 30 s: on the
 * consumer they are 1 s apart. unixfdsink sends running times, so its
 * consumer's PTS differ by 1 s. zcipc keeps the producer's PTS and sends
 * the segment along, so here the *running times* (of each sample's own
 * segment) differ by exactly 1 s, and the PTS are the producer's. */
GST_START_TEST (test_segment_base_keeps_running_time_across)
{
  gsize size = payload_sizes[__i__];
  GstCaps *caps = gst_caps_new_empty_simple ("video/x-raw");
  GstElement *producer, *appsrc, *consumer, *appsink;
  GstClockTime running_time[2];
  GstSegment segment;

  start_app_pair ("handle-segment-change=true", &producer, &appsrc,
      &consumer, &appsink);

  gst_segment_init (&segment, GST_FORMAT_TIME);
  for (guint i = 0; i < 2; i++) {
    GstClockTime pts = i == 0 ? 30 * GST_SECOND : GST_SECOND;
    GstBuffer *buffer = payload_buffer (size, pts);
    GstSample *sample;
    GstBuffer *got;

    segment.base = i == 0 ? 0 : 30 * GST_SECOND;
    push_sample (appsrc, buffer, caps, &segment);
    gst_buffer_unref (buffer);

    sample = appsink_pull (appsink, 5);
    got = gst_sample_get_buffer (sample);
    fail_unless_equals_uint64 (gst_buffer_get_size (got), size);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (got), pts);
    running_time[i] = gst_segment_to_running_time (gst_sample_get_segment
        (sample), GST_FORMAT_TIME, GST_BUFFER_PTS (got));
    fail_unless (GST_CLOCK_TIME_IS_VALID (running_time[i]));
    gst_sample_unref (sample);
  }
  fail_unless_equals_uint64 (running_time[1] - running_time[0], GST_SECOND);

  gst_caps_unref (caps);
  pipeline_free (consumer);
  pipeline_free (producer);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

#define BIG_META "zcipc-ported-big-payload"
#define BIG_META_PAYLOAD 1000000

/* unixfd.c test_unixfd_big_payload: a custom meta whose structure holds a
 * 1 MB buffer (far more than one socket message carries) crosses with
 * every byte. Iteration 0 puts it on a 64-byte buffer, iteration 1 on an
 * empty one, as unixfd.c does. */
GST_START_TEST (test_megabyte_custom_meta_crosses_intact)
{
  gsize size = payload_sizes[__i__];
  GstCaps *caps = gst_caps_new_empty_simple ("video/x-raw");
  GstElement *producer, *appsrc, *consumer, *appsink;
  GstBuffer *inner = gst_buffer_new_allocate (NULL, BIG_META_PAYLOAD, NULL);
  GstBuffer *buffer, *got, *got_inner = NULL;
  GstCustomMeta *meta;
  GstSegment segment;
  GstSample *sample;
  GstMapInfo in_map, out_map;

  start_app_pair ("", &producer, &appsrc, &consumer, &appsink);

  fail_unless (gst_buffer_map (inner, &in_map, GST_MAP_WRITE));
  fill_pattern (in_map.data, in_map.size);
  gst_buffer_unmap (inner, &in_map);
  register_custom_meta (BIG_META);
  buffer = payload_buffer (size, 0);
  meta = gst_buffer_add_custom_meta (buffer, BIG_META);
  gst_structure_set (gst_custom_meta_get_structure (meta), "data",
      GST_TYPE_BUFFER, inner, NULL);
  gst_segment_init (&segment, GST_FORMAT_TIME);
  push_sample (appsrc, buffer, caps, &segment);
  gst_buffer_unref (buffer);

  /* A megabyte in a GstStructure goes through its string form both ways:
   * seconds under valgrind. */
  sample = appsink_pull (appsink, 30);
  got = gst_sample_get_buffer (sample);
  fail_unless_equals_uint64 (gst_buffer_get_size (got), size);
  meta = gst_buffer_get_custom_meta (got, BIG_META);
  fail_unless (meta != NULL, "the meta did not cross");
  fail_unless (gst_structure_get (gst_custom_meta_get_structure (meta),
          "data", GST_TYPE_BUFFER, &got_inner, NULL));
  gst_sample_unref (sample);

  fail_unless (gst_buffer_map (inner, &in_map, GST_MAP_READ));
  fail_unless (gst_buffer_map (got_inner, &out_map, GST_MAP_READ));
  fail_unless_equals_uint64 (out_map.size, in_map.size);
  fail_unless (memcmp (out_map.data, in_map.data, in_map.size) == 0);
  gst_buffer_unmap (got_inner, &out_map);
  gst_buffer_unmap (inner, &in_map);
  gst_buffer_unref (got_inner);
  gst_buffer_unref (inner);

  gst_caps_unref (caps);
  pipeline_free (consumer);
  pipeline_free (producer);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

static Suite *
ported_peers_suite (void)
{
  Suite *s = suite_create ("ported_peers");
  TCase *tc;

  tc = tcase_create ("shm");
  tcase_add_unchecked_fixture (tc, zg_tmpdir_base_setup,
      zg_tmpdir_base_teardown);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_system_memory_buffer_prerolls_the_sink_and_crosses);
  tcase_add_test (tc, test_buffer_from_offered_allocator_crosses_without_copy);
  tcase_add_test (tc, test_consumer_joins_a_running_producer_and_gets_a_sample);
  tcase_add_test (tc, test_producer_stops_after_eos_without_error);
  suite_add_tcase (s, tc);

  tc = tcase_create ("unixfd");
  tcase_add_unchecked_fixture (tc, zg_tmpdir_base_setup,
      zg_tmpdir_base_teardown);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc,
      test_custom_meta_crosses_across_reconnect_and_second_consumer);
  tcase_add_loop_test (tc, test_segment_base_keeps_running_time_across, 0,
      G_N_ELEMENTS (payload_sizes));
  tcase_add_loop_test (tc, test_megabyte_custom_meta_crosses_intact, 0,
      G_N_ELEMENTS (payload_sizes));
  suite_add_tcase (s, tc);

  return s;
}

GST_CHECK_MAIN (ported_peers);
