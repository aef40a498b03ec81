/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <gst/audio/audio.h>

#include "helpers.h"

/* zcipcsink on its own (in a GstHarness, or alone for state-change errors)
 * and with a zcipcsrc of this process as its consumer. Zero copy is checked
 * by identity: the proposed pool's buffers live in the producer's writable
 * region mapping; the consumer reads the same bytes through its read-only
 * mapping of the same memfd. */

#define VIDEO_CAPS "video/x-raw,format=RGBA,width=320,height=240," \
  "framerate=30/1"
#define SMALL_VIDEO_CAPS "video/x-raw,format=RGBA,width=64,height=48," \
  "framerate=30/1"
#define SMALL_FRAME_SIZE (64 * 48 * 4)

static gchar *tmpdir;
static gchar *socket_path;
static ZgResources before;

static void
setup (void)
{
  socket_path = zg_tmp_socket_new (&tmpdir);
  zg_resources_snapshot (&before);
}

static void
teardown (void)
{
  zg_tmp_socket_remove (&socket_path, &tmpdir);
}

static gboolean
path_exists (const gchar * path)
{
  struct stat st;

  return lstat (path, &st) == 0;
}

/* A zcipcsink (with `props`) on socket_path in a harness, so started; its
 * messages go to *bus when `bus` is not NULL. */
static GstHarness *
sink_harness_new (const gchar * props, GstBus ** bus)
{
  GError *error = NULL;
  GstElement *sink;
  GstHarness *h;
  gchar *desc;

  desc = g_strdup_printf ("zcipcsink name=sink socket-path=\"%s\" %s",
      socket_path, props ? props : "");
  sink = gst_parse_launch (desc, &error);
  fail_unless (sink != NULL && error == NULL, "%s", desc);
  g_free (desc);
  if (bus) {
    *bus = gst_bus_new ();
    gst_element_set_bus (sink, *bus);
  }
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  fail_unless (path_exists (socket_path));
  return h;
}

/* Sends `caps` and asks the sink how to allocate for them. */
static GstQuery *
query_allocation (GstHarness * h, const gchar * caps_str)
{
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstQuery *query;

  fail_unless (caps != NULL);
  gst_harness_set_src_caps (h, gst_caps_ref (caps));
  query = gst_query_new_allocation (caps, TRUE);
  fail_unless (gst_pad_peer_query (h->srcpad, query));
  gst_caps_unref (caps);
  return query;
}

/* The zcipc allocator among the query's allocation params (a ref), or
 * NULL. */
static GstAllocator *
find_zcipc_allocator (GstQuery * query)
{
  for (guint i = 0; i < gst_query_get_n_allocation_params (query); i++) {
    GstAllocator *allocator = NULL;
    GstAllocationParams params;

    gst_query_parse_nth_allocation_param (query, i, &allocator, &params);
    if (allocator && g_strcmp0 (allocator->mem_type, "ZcipcMemory") == 0 &&
        g_strcmp0 (G_OBJECT_TYPE_NAME (allocator), "GstZcipcAllocator") == 0)
      return allocator;
    gst_clear_object (&allocator);
  }
  return NULL;
}

/* A buffer no zcipc allocator made, filled with a pattern derived from
 * `seed`. */
static GstBuffer *
foreign_buffer (gsize size, guint seed, GstClockTime pts)
{
  guint8 *data = g_malloc (size);
  GstBuffer *buffer;

  for (gsize i = 0; i < size; i++)
    data[i] = (guint8) (i * 7 + seed * 13);
  buffer = gst_buffer_new_wrapped (data, size);
  GST_BUFFER_PTS (buffer) = pts;
  GST_BUFFER_DURATION (buffer) = GST_SECOND / 30;
  return buffer;
}

/* ----------------------------------------------------------- allocation */

GST_START_TEST (test_propose_allocation_offers_pool_allocator_and_video_meta)
{
  GstHarness *h = sink_harness_new (NULL, NULL);
  GstQuery *query = query_allocation (h, VIDEO_CAPS);
  GstAllocator *allocator, *config_allocator = NULL;
  GstBufferPool *pool = NULL;
  GstStructure *config;
  GstCaps *caps = gst_caps_from_string (VIDEO_CAPS);
  GstVideoInfo info;
  guint size, min, max;

  fail_unless (gst_video_info_from_caps (&info, caps));

  /* The pool. */
  fail_unless (gst_query_get_n_allocation_pools (query) >= 1);
  gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, &min, &max);
  fail_unless (pool != NULL);
  fail_unless_equals_string (G_OBJECT_TYPE_NAME (pool), "GstZcipcProducerPool");
  fail_unless (size >= GST_VIDEO_INFO_SIZE (&info));
  fail_unless_equals_int (min, 8);      /* the default pool-size */
  fail_unless (max == 0 || max >= min);

  /* The allocator, as a param too (for upstream that builds its own pool),
   * and the same one the pool carves its memory from. */
  allocator = find_zcipc_allocator (query);
  fail_unless (allocator != NULL, "no zcipc allocator among the params");
  config = gst_buffer_pool_get_config (pool);
  fail_unless (gst_buffer_pool_config_get_allocator (config,
          &config_allocator, NULL));
  fail_unless (config_allocator == allocator);
  fail_unless (gst_buffer_pool_config_has_option (config,
          GST_BUFFER_POOL_OPTION_VIDEO_META));
  gst_structure_free (config);

  /* The meta. */
  fail_unless (gst_query_find_allocation_meta (query, GST_VIDEO_META_API_TYPE,
          NULL));

  gst_object_unref (allocator);
  gst_object_unref (pool);
  gst_caps_unref (caps);
  gst_query_unref (query);
  gst_harness_teardown (h);
  fail_if (path_exists (socket_path));
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_pool_buffers_are_writable_page_aligned_slots_of_one_region)
{
  GstHarness *h = sink_harness_new ("pool-size=4", NULL);
  GstQuery *query = query_allocation (h, VIDEO_CAPS);
  GstCaps *caps = gst_caps_from_string (VIDEO_CAPS);
  gsize page = (gsize) sysconf (_SC_PAGESIZE);
  GstBufferPool *pool = NULL;
  GstBuffer *slots[4];
  guint8 *data[4];
  guintptr region_start = 0;
  GstVideoInfo info;
  guint size, min, max;

  fail_unless (gst_video_info_from_caps (&info, caps));
  gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, &min, &max);
  fail_unless (pool != NULL);
  fail_unless_equals_int (min, G_N_ELEMENTS (slots));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));

  for (guint i = 0; i < G_N_ELEMENTS (slots); i++) {
    GstBuffer *buffer = NULL;
    GstVideoMeta *meta;
    GstMemory *mem;
    GstMapInfo map;
    guintptr start;

    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &buffer,
            NULL), GST_FLOW_OK);
    slots[i] = buffer;
    fail_unless_equals_int (gst_buffer_n_memory (buffer), 1);
    mem = gst_buffer_peek_memory (buffer, 0);
    fail_unless (gst_memory_is_type (mem, "ZcipcMemory"));
    fail_unless (gst_buffer_get_size (buffer) >= GST_VIDEO_INFO_SIZE (&info));

    /* Writable in place: the mapping is the producer's own (rw-s) mapping
     * of the region, not a copy. */
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READWRITE));
    data[i] = map.data;
    fail_unless_equals_int ((guintptr) map.data % page, 0);
    start = zg_assert_in_region_map (map.data, map.size, "rw-s");
    if (i == 0)
      region_start = start;
    fail_unless (start == region_start, "buffer %u is in another region", i);
    memset (map.data, 0x40 + i, map.size);
    gst_buffer_unmap (buffer, &map);

    /* Slots do not overlap. */
    for (guint j = 0; j < i; j++) {
      gsize distance = data[i] > data[j] ? data[i] - data[j] :
          data[j] - data[i];
      fail_unless (distance >= gst_buffer_get_size (buffer));
    }

    meta = gst_buffer_get_video_meta (buffer);
    fail_unless (meta != NULL);
    fail_unless_equals_int (meta->format, GST_VIDEO_INFO_FORMAT (&info));
    fail_unless_equals_int (meta->width, GST_VIDEO_INFO_WIDTH (&info));
    fail_unless_equals_int (meta->height, GST_VIDEO_INFO_HEIGHT (&info));
    fail_unless_equals_int (meta->n_planes, GST_VIDEO_INFO_N_PLANES (&info));
    fail_unless_equals_int (meta->stride[0], GST_VIDEO_INFO_PLANE_STRIDE
        (&info, 0));
  }

  /* What each producer wrote is still there: the slots are separate. */
  for (guint i = 0; i < G_N_ELEMENTS (slots); i++) {
    GstMapInfo map;

    fail_unless (gst_buffer_map (slots[i], &map, GST_MAP_READ));
    fail_unless (map.data == data[i]);
    fail_unless_equals_int (map.data[0], 0x40 + i);
    fail_unless_equals_int (map.data[map.size - 1], 0x40 + i);
    gst_buffer_unmap (slots[i], &map);
    gst_buffer_unref (slots[i]);
  }

  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_caps_unref (caps);
  gst_query_unref (query);
  gst_harness_teardown (h);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* The sink reads consumers' releases with the next frame (lazily). When
 * upstream takes every buffer of the pool before that frame, the pool
 * takes the released ones back instead of growing: the stream keeps to the
 * slots of its first region. */
GST_START_TEST (test_pool_takes_back_released_buffers_before_growing)
{
  /* enable-last-sample=false: basesink would keep a third buffer. */
  GstHarness *h = sink_harness_new ("pool-size=2 consumer-quota=4 "
      "max-consumers=1 sync=false enable-last-sample=false", NULL);
  GstQuery *query = query_allocation (h, SMALL_VIDEO_CAPS);
  GstBufferPool *pool = NULL;
  GHashTable *slots = g_hash_table_new (NULL, NULL);
  GstHarness *consumer;
  guint size, min, max;

  gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, &min, &max);
  fail_unless (pool != NULL);
  fail_unless_equals_int (min, 2);
  fail_unless (max > min, "the pool may grow: the test needs that");
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  consumer = zg_consumer_new (socket_path, "max-held=4", NULL);
  fail_unless (zg_wait_stats_eq (h->element, "consumers", 1));

  for (guint i = 0; i < 10; i++) {
    GstBuffer *frames[2];

    /* Both slots out at once; the consumer released both of the previous
     * round, but no frame came since to read those releases. */
    for (guint j = 0; j < 2; j++) {
      GstMapInfo map;

      fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool,
              &frames[j], NULL), GST_FLOW_OK);
      fail_unless (gst_buffer_map (frames[j], &map, GST_MAP_WRITE));
      g_hash_table_add (slots, map.data);
      memset (map.data, i * 2 + j, map.size);
      gst_buffer_unmap (frames[j], &map);
      GST_BUFFER_PTS (frames[j]) = (i * 2 + j) * GST_SECOND / 30;
    }
    for (guint j = 0; j < 2; j++)
      fail_unless_equals_int (gst_harness_push (h, frames[j]), GST_FLOW_OK);
    for (guint j = 0; j < 2; j++) {
      GstBuffer *got = gst_harness_pull (consumer);
      GstMapInfo map;

      fail_unless (got != NULL);
      fail_unless (gst_buffer_map (got, &map, GST_MAP_READ));
      fail_unless_equals_int (map.data[0], i * 2 + j);
      fail_unless_equals_int (map.data[map.size - 1], i * 2 + j);
      gst_buffer_unmap (got, &map);
      gst_buffer_unref (got);   /* releases it to the producer */
    }
  }
  fail_unless_equals_int (g_hash_table_size (slots), 2);
  fail_unless_equals_uint64 (zg_stats_get (h->element, "regions-announced"), 1);
  fail_unless_equals_uint64 (zg_stats_get (h->element, "frames-copied"), 0);

  g_hash_table_unref (slots);
  gst_harness_teardown (consumer);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_query_unref (query);
  gst_harness_teardown (h);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

static void
check_allocator_but_no_pool (const gchar * caps_str)
{
  GstHarness *h = sink_harness_new (NULL, NULL);
  GstQuery *query = query_allocation (h, caps_str);
  GstAllocator *allocator;
  GstMemory *mem;
  GstMapInfo map;

  fail_unless_equals_int (gst_query_get_n_allocation_pools (query), 0);
  allocator = find_zcipc_allocator (query);
  fail_unless (allocator != NULL, "no zcipc allocator for %s", caps_str);

  /* Upstream that allocates from it writes straight into shared memory. */
  mem = gst_allocator_alloc (allocator, 10000, NULL);
  fail_unless (mem != NULL);
  fail_unless (gst_memory_is_type (mem, "ZcipcMemory"));
  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  zg_assert_in_region_map (map.data, map.size, "rw-s");
  memset (map.data, 0x5a, map.size);
  gst_memory_unmap (mem, &map);
  gst_memory_unref (mem);

  gst_object_unref (allocator);
  gst_query_unref (query);
  gst_harness_teardown (h);
}

GST_START_TEST (test_non_video_caps_get_the_allocator_but_no_pool)
{
  check_allocator_but_no_pool ("audio/x-raw,format=S16LE,rate=48000,"
      "channels=2,layout=interleaved");
  check_allocator_but_no_pool ("image/jpeg,width=640,height=480,"
      "framerate=30/1");
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* ---------------------------------------------------------------- stats */

typedef struct
{
  const gchar *name;
  GType type;
} Field;

static void
check_fields (const GstStructure * s, const Field * fields, guint n)
{
  for (guint i = 0; i < n; i++) {
    const GValue *v = gst_structure_get_value (s, fields[i].name);

    fail_unless (v != NULL, "stats lack '%s': %" GST_PTR_FORMAT,
        fields[i].name, s);
    fail_unless (G_VALUE_TYPE (v) == fields[i].type,
        "stats field '%s' is a %s, documented as %s", fields[i].name,
        G_VALUE_TYPE_NAME (v), g_type_name (fields[i].type));
  }
}

/* Every field the "stats" property documents, with its documented type. */
static void
check_sink_stats (GstElement * sink, guint expected_consumers)
{
  const Field fields[] = {
    /* GstBaseSink's own */
    {"average-rate", G_TYPE_DOUBLE},
    {"dropped", G_TYPE_UINT64},
    {"rendered", G_TYPE_UINT64},
    /* zcipcsink's */
    {"consumers", G_TYPE_UINT},
    {"frames-sent", G_TYPE_UINT64},
    {"frames-unsent", G_TYPE_UINT64},
    {"frames-dropped", G_TYPE_UINT64},
    {"frames-copied", G_TYPE_UINT64},
    {"bytes-copied", G_TYPE_UINT64},
    {"frames-held", G_TYPE_UINT},
    {"consumers-joined", G_TYPE_UINT64},
    {"consumers-dropped", G_TYPE_UINT64},
    {"metas-skipped", G_TYPE_UINT64},
    {"consumer-stats", GST_TYPE_ARRAY},
  };
  const Field consumer_fields[] = {
    {"id", G_TYPE_UINT},
    {"pid", G_TYPE_INT},
    {"uid", G_TYPE_UINT},
    {"quota", G_TYPE_UINT},
    {"frames-sent", G_TYPE_UINT64},
    {"frames-missed", G_TYPE_UINT64},
    {"frames-held", G_TYPE_UINT},
  };
  GstStructure *s = NULL;
  const GValue *array;
  guint consumers;

  g_object_get (sink, "stats", &s, NULL);
  fail_unless (s != NULL);
  check_fields (s, fields, G_N_ELEMENTS (fields));
  fail_unless (gst_structure_get_uint (s, "consumers", &consumers));
  fail_unless_equals_int (consumers, expected_consumers);
  array = gst_structure_get_value (s, "consumer-stats");
  fail_unless_equals_int (gst_value_array_get_size (array), expected_consumers);
  for (guint i = 0; i < expected_consumers; i++) {
    const GValue *v = gst_value_array_get_value (array, i);
    const GstStructure *c;
    gint pid;
    guint uid, quota;

    fail_unless (GST_VALUE_HOLDS_STRUCTURE (v));
    c = gst_value_get_structure (v);
    check_fields (c, consumer_fields, G_N_ELEMENTS (consumer_fields));
    /* The consumer is this very process. */
    fail_unless (gst_structure_get_int (c, "pid", &pid));
    fail_unless_equals_int (pid, getpid ());
    fail_unless (gst_structure_get_uint (c, "uid", &uid));
    fail_unless_equals_int (uid, getuid ());
    fail_unless (gst_structure_get_uint (c, "quota", &quota));
    /* zcipcsrc max-held=3, plus one for the frame in flight */
    fail_unless_equals_int (quota, 4);
  }
  gst_structure_free (s);
}

GST_START_TEST (test_stats_have_every_documented_field)
{
  GstElement *sink = gst_element_factory_make ("zcipcsink", NULL);
  GstHarness *h, *consumer;

  /* Before any server exists. */
  fail_unless (sink != NULL);
  check_sink_stats (sink, 0);
  gst_object_unref (sink);

  /* Started, then with a consumer. */
  h = sink_harness_new (NULL, NULL);
  check_sink_stats (h->element, 0);
  consumer = zg_consumer_new (socket_path, "max-held=3", NULL);
  fail_unless (zg_wait_stats_eq (h->element, "consumers", 1));
  check_sink_stats (h->element, 1);
  fail_unless_equals_int (zg_stats_get (h->element, "consumers-joined"), 1);

  gst_harness_teardown (consumer);
  fail_unless (zg_wait_stats_eq (h->element, "consumers", 0));
  check_sink_stats (h->element, 0);
  gst_harness_teardown (h);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* --------------------------------------------------------------- copies */

GST_START_TEST (test_foreign_memory_is_copied_counted_and_delivered)
{
  GstHarness *h = sink_harness_new ("sync=false", NULL);
  GstHarness *consumer;
  gchar *sums[3];

  gst_harness_set_src_caps_str (h, SMALL_VIDEO_CAPS);
  consumer = zg_consumer_new (socket_path, "max-held=4", NULL);
  fail_unless (zg_wait_stats_eq (h->element, "consumers", 1));

  for (guint i = 0; i < G_N_ELEMENTS (sums); i++) {
    GstBuffer *buffer = foreign_buffer (SMALL_FRAME_SIZE, i, i * GST_SECOND /
        30);
    sums[i] = zg_buffer_checksum (buffer);
    fail_unless_equals_int (gst_harness_push (h, buffer), GST_FLOW_OK);
  }
  fail_unless_equals_uint64 (zg_stats_get (h->element, "frames-copied"), 3);
  fail_unless_equals_uint64 (zg_stats_get (h->element, "bytes-copied"),
      3 * SMALL_FRAME_SIZE);
  fail_unless_equals_uint64 (zg_stats_get (h->element, "frames-sent"), 3);

  /* The copy went into shared memory: the consumer reads it in place, and
   * the bytes are the producer's. */
  for (guint i = 0; i < G_N_ELEMENTS (sums); i++) {
    GstBuffer *buffer = gst_harness_pull (consumer);
    GstMapInfo map;
    gchar *sum;

    fail_unless (buffer != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), i * GST_SECOND / 30);
    fail_unless_equals_int (gst_buffer_get_size (buffer), SMALL_FRAME_SIZE);
    sum = zg_buffer_checksum (buffer);
    fail_unless_equals_string (sum, sums[i]);
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    zg_assert_in_region_map (map.data, map.size, "r--s");
    gst_buffer_unmap (buffer, &map);
    gst_buffer_unref (buffer);
    g_free (sum);
    g_free (sums[i]);
  }

  gst_harness_teardown (consumer);
  gst_harness_teardown (h);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_copy_mode_forbid_refuses_foreign_memory_with_an_error)
{
  GstBus *bus = NULL;
  GstHarness *h = sink_harness_new ("copy-mode=forbid", &bus);
  GstQuery *query = query_allocation (h, SMALL_VIDEO_CAPS);
  GstBufferPool *pool = NULL;
  GstBuffer *buffer = NULL;
  GstMessage *msg;

  /* Buffers of the proposed pool are fine... */
  gst_query_parse_nth_allocation_pool (query, 0, &pool, NULL, NULL, NULL);
  fail_unless (pool != NULL);
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &buffer,
          NULL), GST_FLOW_OK);
  fail_unless_equals_int (gst_harness_push (h, buffer), GST_FLOW_OK);
  zg_assert_bus_quiet (bus);

  /* ...a buffer from another allocator is an error, posted by the sink. */
  fail_unless_equals_int (gst_harness_push (h, foreign_buffer
          (SMALL_FRAME_SIZE, 0, 0)), GST_FLOW_ERROR);
  msg = zg_bus_pop_error (bus, 0);
  zg_assert_error (msg, h->element, GST_STREAM_ERROR, "copy-mode=forbid", NULL);
  gst_message_unref (msg);
  fail_unless_equals_uint64 (zg_stats_get (h->element, "frames-copied"), 0);
  fail_unless_equals_uint64 (zg_stats_get (h->element, "bytes-copied"), 0);

  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_query_unref (query);
  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* -------------------------------------------------------- socket paths */

/* Takes a zcipcsink on `path` to READY, which must fail; returns the first
 * error it posted. */
static GstMessage *
start_sink_expecting_failure (const gchar * path, GstElement ** sink_out)
{
  GstElement *sink = gst_element_factory_make ("zcipcsink", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;

  fail_unless (sink != NULL);
  if (path)
    g_object_set (sink, "socket-path", path, NULL);
  gst_element_set_bus (sink, bus);
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_READY),
      GST_STATE_CHANGE_FAILURE);
  /* The first error is the sink's own, not basesink's "Failed to start". */
  msg = zg_bus_pop_error (bus, 0);
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  /* Drops basesink's fallback error too, which holds the sink. */
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  *sink_out = sink;
  return msg;
}

GST_START_TEST (test_missing_directory_fails_at_state_change)
{
  gchar *path = g_build_filename (tmpdir, "no-such-dir", "zcipc.sock", NULL);
  GstElement *sink;
  GstMessage *msg = start_sink_expecting_failure (path, &sink);

  zg_assert_error (msg, sink, GST_RESOURCE_ERROR, path,
      "directory does not exist", NULL);
  gst_message_unref (msg);
  gst_object_unref (sink);
  g_free (path);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_too_long_path_fails_at_state_change)
{
  GString *path = g_string_new (tmpdir);
  GstElement *sink;
  GstMessage *msg;

  g_string_append_c (path, '/');
  while (path->len < 200)
    g_string_append_c (path, 'a');
  fail_unless_equals_int (path->len, 200);

  msg = start_sink_expecting_failure (path->str, &sink);
  zg_assert_error (msg, sink, GST_RESOURCE_ERROR, path->str, "too long", NULL);
  gst_message_unref (msg);
  gst_object_unref (sink);
  fail_unless_equals_int (zg_tmpdir_n_entries (tmpdir), 0);
  g_string_free (path, TRUE);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_regular_file_in_the_way_fails_and_is_kept)
{
  GstElement *sink;
  GstMessage *msg;
  gchar *contents = NULL;

  fail_unless (g_file_set_contents (socket_path, "precious", -1, NULL));
  msg = start_sink_expecting_failure (socket_path, &sink);
  zg_assert_error (msg, sink, GST_RESOURCE_ERROR, socket_path,
      "not a socket", NULL);
  gst_message_unref (msg);
  gst_object_unref (sink);

  /* The sink did not remove somebody else's file. */
  fail_unless (g_file_get_contents (socket_path, &contents, NULL, NULL));
  fail_unless_equals_string (contents, "precious");
  g_free (contents);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* Connects to `path` as a consumer would (no handshake); -errno on
 * failure. */
static gint
raw_connect (const gchar * path)
{
  struct sockaddr_un addr = { AF_UNIX, };
  gint fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  gint res = 0;

  fail_unless (fd >= 0);
  g_strlcpy (addr.sun_path, path, sizeof addr.sun_path);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    res = -errno;
  close (fd);
  return res;
}

GST_START_TEST (test_path_served_by_a_running_sink_fails_as_already_in_use)
{
  GstElement *running = gst_element_factory_make ("zcipcsink", NULL);
  GstElement *other;
  GstMessage *msg;

  g_object_set (running, "socket-path", socket_path, NULL);
  fail_unless_equals_int (gst_element_set_state (running, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);

  msg = start_sink_expecting_failure (socket_path, &other);
  zg_assert_error (msg, other, GST_RESOURCE_ERROR, socket_path,
      "already in use", NULL);
  gst_message_unref (msg);
  gst_object_unref (other);

  /* The running sink keeps its socket. */
  fail_unless (path_exists (socket_path));
  fail_unless_equals_int (raw_connect (socket_path), 0);

  fail_unless_equals_int (gst_element_set_state (running, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_if (path_exists (socket_path));
  gst_object_unref (running);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_no_socket_path_fails_at_state_change)
{
  GstElement *sink;
  GstMessage *msg;

  msg = start_sink_expecting_failure (NULL, &sink);
  zg_assert_error (msg, sink, GST_RESOURCE_ERROR, "socket-path", NULL);
  gst_message_unref (msg);
  gst_object_unref (sink);

  msg = start_sink_expecting_failure ("", &sink);
  zg_assert_error (msg, sink, GST_RESOURCE_ERROR, "socket-path", NULL);
  gst_message_unref (msg);
  gst_object_unref (sink);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_stale_socket_file_is_replaced)
{
  struct sockaddr_un addr = { AF_UNIX, };
  GstElement *sink;
  struct stat st;
  gint fd;

  /* A producer that died: its socket file stays, nobody accepts. */
  fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  fail_unless (fd >= 0);
  g_strlcpy (addr.sun_path, socket_path, sizeof addr.sun_path);
  fail_unless_equals_int (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
  close (fd);
  fail_unless_equals_int (lstat (socket_path, &st), 0);
  fail_unless (S_ISSOCK (st.st_mode));
  fail_unless_equals_int (raw_connect (socket_path), -ECONNREFUSED);

  sink = gst_element_factory_make ("zcipcsink", NULL);
  g_object_set (sink, "socket-path", socket_path, NULL);
  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (raw_connect (socket_path), 0);

  fail_unless_equals_int (gst_element_set_state (sink, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  fail_if (path_exists (socket_path));
  gst_object_unref (sink);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* ------------------------------------------------------- state changes */

/* Every ordered pair of distinct states, as one walk (an Eulerian circuit
 * of the complete graph on the four states): up and down one step, and
 * every jump (NULL to PLAYING, PLAYING to NULL, ...). */
static const GstState every_transition[] = {
  GST_STATE_NULL, GST_STATE_READY, GST_STATE_NULL, GST_STATE_PAUSED,
  GST_STATE_NULL, GST_STATE_PLAYING, GST_STATE_READY, GST_STATE_PAUSED,
  GST_STATE_READY, GST_STATE_PLAYING, GST_STATE_PAUSED, GST_STATE_PLAYING,
  GST_STATE_NULL,
};

static void
cycle_states (gboolean with_consumer)
{
  ZgProducer *p;
  GstElement *consumer = NULL;
  GstBus *consumer_bus = NULL;
  GstMessage *msg;

  zg_warm_up ();
  zg_resources_snapshot (&before);

  p = zg_producer_new (socket_path, "pattern=ball", SMALL_VIDEO_CAPS, NULL);
  if (with_consumer) {
    gchar *desc = g_strdup_printf ("zcipcsrc socket-path=\"%s\" timeout=0 ! "
        "fakesink sync=false", socket_path);
    consumer = gst_parse_launch (desc, NULL);
    fail_unless (consumer != NULL);
    g_free (desc);
    consumer_bus = gst_element_get_bus (consumer);
    fail_unless (gst_element_set_state (consumer, GST_STATE_PLAYING) !=
        GST_STATE_CHANGE_FAILURE);
  }

  for (guint round = 0; round < 2; round++) {
    for (guint i = 1; i < G_N_ELEMENTS (every_transition); i++) {
      GstState state = every_transition[i];

      GST_INFO ("round %u: %s -> %s", round,
          gst_element_state_get_name (every_transition[i - 1]),
          gst_element_state_get_name (state));
      zg_set_state_sync (p->pipeline, state);
      /* The socket exists exactly while the sink is started. */
      fail_unless_equals_int (path_exists (socket_path),
          state >= GST_STATE_READY);
      if (with_consumer && state >= GST_STATE_READY)
        fail_unless (zg_wait_stats_eq (p->sink, "consumers", 1),
            "the consumer did not (re)connect in %s",
            gst_element_state_get_name (state));
      if (state == GST_STATE_PLAYING) {
        /* Frames flow: to the consumer when there is one. */
        const gchar *field = with_consumer ? "frames-sent" : "frames-unsent";
        guint64 n = zg_stats_get (p->sink, field);

        fail_unless (zg_wait_stats_ge (p->sink, field, n + 1),
            "no frame rendered (%s) in PLAYING", field);
      }
    }
    fail_if (path_exists (socket_path));
  }

  if (with_consumer) {
    fail_unless_equals_int (gst_element_set_state (consumer, GST_STATE_NULL),
        GST_STATE_CHANGE_SUCCESS);
    /* The consumer saw the producer go away and come back (warnings); it
     * never failed. */
    msg = gst_bus_pop_filtered (consumer_bus, GST_MESSAGE_ERROR);
    fail_unless (msg == NULL, "the consumer failed");
    gst_bus_set_flushing (consumer_bus, TRUE);
    gst_object_unref (consumer_bus);
    gst_object_unref (consumer);
  }
  zg_producer_free (p);

  fail_unless_equals_int (zg_tmpdir_n_entries (tmpdir), 0);
  zg_assert_resources_back (&before);
}

GST_START_TEST (test_state_changes_in_every_order_leave_nothing_behind)
{
  cycle_states (FALSE);
}

GST_END_TEST;

GST_START_TEST (test_state_changes_with_a_consumer_leave_nothing_behind)
{
  cycle_states (TRUE);
}

GST_END_TEST;

static Suite *
zcipcsink_suite (void)
{
  Suite *s = suite_create ("zcipcsink");
  TCase *tc;

  tc = tcase_create ("allocation");
  tcase_add_unchecked_fixture (tc, zg_tmpdir_base_setup,
      zg_tmpdir_base_teardown);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc,
      test_propose_allocation_offers_pool_allocator_and_video_meta);
  tcase_add_test (tc,
      test_pool_buffers_are_writable_page_aligned_slots_of_one_region);
  tcase_add_test (tc, test_non_video_caps_get_the_allocator_but_no_pool);
  tcase_add_test (tc, test_pool_takes_back_released_buffers_before_growing);
  suite_add_tcase (s, tc);

  tc = tcase_create ("stats");
  tcase_add_unchecked_fixture (tc, zg_tmpdir_base_setup,
      zg_tmpdir_base_teardown);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_stats_have_every_documented_field);
  tcase_add_test (tc, test_foreign_memory_is_copied_counted_and_delivered);
  tcase_add_test (tc,
      test_copy_mode_forbid_refuses_foreign_memory_with_an_error);
  suite_add_tcase (s, tc);

  tc = tcase_create ("socket-path");
  tcase_add_unchecked_fixture (tc, zg_tmpdir_base_setup,
      zg_tmpdir_base_teardown);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_missing_directory_fails_at_state_change);
  tcase_add_test (tc, test_too_long_path_fails_at_state_change);
  tcase_add_test (tc, test_regular_file_in_the_way_fails_and_is_kept);
  tcase_add_test (tc,
      test_path_served_by_a_running_sink_fails_as_already_in_use);
  tcase_add_test (tc, test_no_socket_path_fails_at_state_change);
  tcase_add_test (tc, test_stale_socket_file_is_replaced);
  suite_add_tcase (s, tc);

  tc = tcase_create ("states");
  tcase_add_unchecked_fixture (tc, zg_tmpdir_base_setup,
      zg_tmpdir_base_teardown);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_state_changes_in_every_order_leave_nothing_behind);
  tcase_add_test (tc, test_state_changes_with_a_consumer_leave_nothing_behind);
  suite_add_tcase (s, tc);

  return s;
}

GST_CHECK_MAIN (zcipcsink);
