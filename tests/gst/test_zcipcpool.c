/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "gstzcipcallocator.h"
#include "gstzcipcproducerpool.h"

/* GstZcipcAllocator and GstZcipcProducerPool, compiled into this test (the
 * plugin hides their symbols). This suite never loads the plugin: its types
 * have the same names. */

#ifndef F_SEAL_SHRINK
#define F_SEAL_SHRINK 0x0002
#define F_SEAL_GROW 0x0004
#endif

#define RGBA_CAPS "video/x-raw,format=RGBA,width=320,height=240," \
  "framerate=30/1"

static ZgResources before;
static gsize page;

static void
setup (void)
{
  page = (gsize) sysconf (_SC_PAGESIZE);
  zg_resources_snapshot (&before);
}

static guint32
region_id (GstMemory * mem, gsize * offset)
{
  GstZcipcRegion *region = gst_zcipc_memory_get_region (mem, offset);

  fail_unless (region != NULL, "not zcipc memory");
  return region->id;
}

static guint32
buffer_region_id (GstBuffer * buffer)
{
  fail_unless_equals_int (gst_buffer_n_memory (buffer), 1);
  return region_id (gst_buffer_peek_memory (buffer, 0), NULL);
}

/* The region's memfd carries SHRINK and GROW seals, and they hold. */
static void
assert_sealed (GstZcipcRegion * region)
{
  gint fd = region->region.fd;
  gint seals = fcntl (fd, F_GET_SEALS);

  fail_unless (seals >= 0, "F_GET_SEALS: %s", g_strerror (errno));
  fail_unless_equals_int (seals & (F_SEAL_SHRINK | F_SEAL_GROW),
      F_SEAL_SHRINK | F_SEAL_GROW);
  fail_unless (ftruncate (fd, 0) < 0 && errno == EPERM);
  fail_unless (ftruncate (fd, region->region.size * 2) < 0 && errno == EPERM);
}

/* A pool on `allocator` configured for `caps`; returns set_config's
 * verdict, and the pool in *out. */
static gboolean
configure_pool (GstAllocator * allocator, const gchar * caps_str, guint size,
    guint min, guint max, const GstVideoAlignment * align, GstBufferPool ** out)
{
  GstBufferPool *pool = gst_zcipc_producer_pool_new (allocator);
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstStructure *config = gst_buffer_pool_get_config (pool);
  gboolean ok;

  gst_buffer_pool_config_set_params (config, caps, size, min, max);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  if (align) {
    gst_buffer_pool_config_add_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT);
    gst_buffer_pool_config_set_video_alignment (config,
        (GstVideoAlignment *) align);
  }
  ok = gst_buffer_pool_set_config (pool, config);
  gst_caps_unref (caps);
  *out = pool;
  return ok;
}

/* ---------------------------------------------------------------- regions */

GST_START_TEST (test_regions_are_sealed_against_shrinking_and_growing)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstBufferPool *pool;
  GstBuffer *buffer = NULL;
  GstZcipcRegion *region;
  GstMemory *mem;
  GError *error = NULL;

  /* A bare region. */
  region = gst_zcipc_region_new (100000, 0, 0, &error);
  fail_unless (region != NULL && error == NULL);
  assert_sealed (region);
  gst_zcipc_region_unref (region);

  /* A whole-region allocation. */
  mem = gst_allocator_alloc (allocator, 100000, NULL);
  fail_unless (mem != NULL);
  assert_sealed (gst_zcipc_memory_get_region (mem, NULL));
  gst_memory_unref (mem);

  /* A pool's region. */
  fail_unless (configure_pool (allocator, RGBA_CAPS, 0, 2, 2, NULL, &pool));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &buffer,
          NULL), GST_FLOW_OK);
  assert_sealed (gst_zcipc_memory_get_region (gst_buffer_peek_memory (buffer,
              0), NULL));
  gst_buffer_unref (buffer);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);

  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* ------------------------------------------------------------ set_config */

GST_START_TEST (test_set_config_writes_back_a_size_that_holds_the_frame)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstCaps *caps = gst_caps_from_string (RGBA_CAPS);
  GstBufferPool *pool;
  GstStructure *config;
  GstVideoInfo info;
  guint size, min, max;

  fail_unless (gst_video_info_from_caps (&info, caps));

  /* Too small a size (and 0) grow to the frame. */
  for (guint asked = 0; asked <= 1000; asked += 1000) {
    fail_unless (configure_pool (allocator, RGBA_CAPS, asked, 2, 4, NULL,
            &pool));
    config = gst_buffer_pool_get_config (pool);
    fail_unless (gst_buffer_pool_config_get_params (config, NULL, &size, &min,
            &max));
    fail_unless (size >= GST_VIDEO_INFO_SIZE (&info), "size %u < %"
        G_GSIZE_FORMAT, size, GST_VIDEO_INFO_SIZE (&info));
    fail_unless_equals_int (min, 2);
    fail_unless_equals_int (max, 4);
    gst_structure_free (config);
    gst_object_unref (pool);
  }

  /* Without caps that give a frame size, size 0 is refused. */
  fail_if (configure_pool (allocator, "application/octet-stream", 0, 1, 2,
          NULL, &pool));
  gst_object_unref (pool);

  gst_caps_unref (caps);
  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

static void
check_alignment (const gchar * caps_str, const GstVideoAlignment * align)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstVideoInfo plain, aligned;
  GstVideoAlignment expected = *align, written;
  GstBufferPool *pool;
  GstStructure *config;
  GstBuffer *buffer = NULL;
  GstVideoMeta *meta;
  guint size;

  fail_unless (gst_video_info_from_caps (&plain, caps));
  aligned = plain;
  fail_unless (gst_video_info_align (&aligned, &expected));
  /* The alignment asked for must make a difference, or this proves
   * nothing. */
  fail_unless (GST_VIDEO_INFO_PLANE_STRIDE (&aligned, 0) >
      GST_VIDEO_INFO_PLANE_STRIDE (&plain, 0));

  fail_unless (configure_pool (allocator, caps_str, 0, 2, 2, align, &pool));
  config = gst_buffer_pool_get_config (pool);
  fail_unless (gst_buffer_pool_config_get_params (config, NULL, &size, NULL,
          NULL));
  fail_unless (size >= GST_VIDEO_INFO_SIZE (&aligned), "size %u < %"
      G_GSIZE_FORMAT, size, GST_VIDEO_INFO_SIZE (&aligned));
  fail_unless (gst_buffer_pool_config_get_video_alignment (config, &written));
  fail_unless_equals_int (written.padding_right, expected.padding_right);
  fail_unless_equals_int (written.padding_bottom, expected.padding_bottom);
  for (guint i = 0; i < GST_VIDEO_MAX_PLANES; i++)
    fail_unless_equals_int (written.stride_align[i], expected.stride_align[i]);
  gst_structure_free (config);

  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &buffer,
          NULL), GST_FLOW_OK);
  fail_unless (gst_buffer_get_size (buffer) >= GST_VIDEO_INFO_SIZE (&aligned));
  meta = gst_buffer_get_video_meta (buffer);
  fail_unless (meta != NULL);
  fail_unless_equals_int (meta->width, GST_VIDEO_INFO_WIDTH (&plain));
  fail_unless_equals_int (meta->height, GST_VIDEO_INFO_HEIGHT (&plain));
  for (guint i = 0; i < GST_VIDEO_INFO_N_PLANES (&aligned); i++) {
    fail_unless_equals_int (meta->stride[i],
        GST_VIDEO_INFO_PLANE_STRIDE (&aligned, i));
    fail_unless_equals_uint64 (meta->offset[i],
        GST_VIDEO_INFO_PLANE_OFFSET (&aligned, i));
  }
  /* The padded frame fits: the last visible byte can be written. */
  {
    GstVideoFrame frame;
    guint last = GST_VIDEO_INFO_N_PLANES (&aligned) - 1;

    fail_unless (gst_video_frame_map (&frame, &plain, buffer, GST_MAP_WRITE));
    fail_unless_equals_int (GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
        GST_VIDEO_INFO_PLANE_STRIDE (&aligned, 0));
    ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, last))
        [GST_VIDEO_FRAME_PLANE_STRIDE (&frame, last) *
        (GST_VIDEO_FRAME_COMP_HEIGHT (&frame, last) - 1)] = 0xab;
    gst_video_frame_unmap (&frame);
  }
  gst_buffer_unref (buffer);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_caps_unref (caps);
  gst_object_unref (allocator);
}

GST_START_TEST (test_set_config_honours_video_alignment_padding)
{
  GstVideoAlignment align;

  /* Padding on the right and below. */
  gst_video_alignment_reset (&align);
  align.padding_right = 16;
  align.padding_bottom = 8;
  check_alignment (RGBA_CAPS, &align);

  /* 64-byte aligned strides of an odd-width planar format. */
  gst_video_alignment_reset (&align);
  for (guint i = 0; i < GST_VIDEO_MAX_PLANES; i++)
    align.stride_align[i] = 63;
  check_alignment ("video/x-raw,format=I420,width=321,height=241", &align);

  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* ----------------------------------------------------------------- growth */

/* A consumer that steadily holds a few more frames than the first region
 * has makes the pool grow once, not free and recreate regions over and
 * over (each one an mmap, seals, and an fd sent to every consumer). */
GST_START_TEST (test_a_steady_holder_does_not_make_the_pool_recreate_regions)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstBufferPool *pool;
  GQueue held = G_QUEUE_INIT;
  GHashTable *regions = g_hash_table_new (NULL, NULL);
  gint64 end = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  GstBuffer *buf;

  fail_unless (configure_pool (allocator, RGBA_CAPS, 0, 2, 12, NULL, &pool));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  /* Hold up to 7 (the first region has 2 slots), one new frame every 5 ms,
   * and every 20 frames let go of all of them for a moment, as a consumer
   * with a queue does: for longer than two of the pool's 2 s windows. */
  for (guint n = 0; g_get_monotonic_time () < end; n++) {
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &buf, NULL),
        GST_FLOW_OK);
    g_hash_table_add (regions, GUINT_TO_POINTER (buffer_region_id (buf)));
    g_queue_push_tail (&held, buf);
    while (held.length > (n % 20 == 19 ? 0 : 7))
      gst_buffer_unref (g_queue_pop_head (&held));
    g_usleep (5 * 1000);
  }
  /* First region (2 slots) + added ones of 2 slots each for the other 5. */
  fail_unless (g_hash_table_size (regions) <= 4, "%u regions were created",
      g_hash_table_size (regions));
  while ((buf = g_queue_pop_head (&held)))
    gst_buffer_unref (buf);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  g_hash_table_unref (regions);
  gst_object_unref (allocator);
}

GST_END_TEST;


/* A producer that writes frames should keep writing into the slot it
 * wrote last, still in its caches: the last buffer given back is the first
 * handed out. */
GST_START_TEST (test_pool_hands_out_the_last_released_buffer_first)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstBufferPool *pool;
  GstBuffer *b[4], *again = NULL;

  fail_unless (configure_pool (allocator, RGBA_CAPS, 0, 4, 4, NULL, &pool));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  for (guint i = 0; i < 4; i++)
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b[i],
            NULL), GST_FLOW_OK);
  for (guint round = 0; round < 3; round++) {
    GstBuffer *was = b[round % 4];

    gst_buffer_unref (b[(round + 2) % 4]);
    gst_buffer_unref (was);     /* released last */
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &again,
            NULL), GST_FLOW_OK);
    fail_unless (again == was, "round %u: got %p, not %p, the last released",
        round, again, was);
    b[round % 4] = again;
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool,
            &b[(round + 2) % 4], NULL), GST_FLOW_OK);
  }
  for (guint i = 0; i < 4; i++)
    gst_buffer_unref (b[i]);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

typedef struct
{
  GstBufferPool *pool;
  GstBuffer *buffer;
  GstFlowReturn ret;
} AcquireJob;

static gpointer
acquire_in_thread (gpointer data)
{
  AcquireJob *job = data;

  job->ret = gst_buffer_pool_acquire_buffer (job->pool, &job->buffer, NULL);
  return NULL;
}

/* At max-buffers an acquire waits; a buffer given back meanwhile must reach
 * it (our own free list must not keep it from GstBufferPool's wait), and
 * deactivating the pool frees every buffer, the kept ones included. */
GST_START_TEST (test_pool_release_reaches_an_acquire_waiting_at_max)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstBufferPool *pool;
  GstBuffer *b[2];
  AcquireJob job = { NULL, NULL, GST_FLOW_ERROR };
  GThread *thread;

  fail_unless (configure_pool (allocator, RGBA_CAPS, 0, 2, 2, NULL, &pool));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  for (guint i = 0; i < 2; i++)
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b[i],
            NULL), GST_FLOW_OK);
  job.pool = pool;
  for (guint round = 0; round < 20; round++) {
    thread = g_thread_new ("acquire", acquire_in_thread, &job);
    g_usleep (round % 2 ? 20000 : 0);   /* before it waits, and while */
    gst_buffer_unref (b[0]);
    g_thread_join (thread);
    fail_unless_equals_int (job.ret, GST_FLOW_OK);
    b[0] = job.buffer;
  }
  gst_buffer_unref (b[0]);
  gst_buffer_unref (b[1]);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* The pool hands out the last released buffer first; buffers of an added
 * region given back before the first region's ones lie under them and are
 * never handed out again. The pool must still free them (and the region)
 * once demand stays low. */
GST_START_TEST (test_pool_shrinks_whatever_order_buffers_came_back_in)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstBufferPoolAcquireParams dontwait = {
    .flags = GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT
  };
  GstBufferPool *pool;
  GstBuffer *held[5];
  gint64 deadline;

  fail_unless (configure_pool (allocator, RGBA_CAPS, 0, 2, 5, NULL, &pool));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  for (guint i = 0; i < 5; i++)
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held[i],
            &dontwait), GST_FLOW_OK);
  fail_unless (zg_count_region_maps ("rw-s") >= 2);
  for (gint i = 4; i >= 0; i--) /* the added regions' first */
    gst_buffer_unref (held[i]);

  deadline = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;
  while (zg_count_region_maps ("rw-s") != 1 &&
      g_get_monotonic_time () < deadline) {
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held[0],
            &dontwait), GST_FLOW_OK);
    gst_buffer_unref (held[0]);
    g_usleep (20 * 1000);
  }
  fail_unless_equals_int (zg_count_region_maps ("rw-s"), 1);

  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_pool_grows_by_new_regions_past_min_but_never_past_max)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstBufferPoolAcquireParams dontwait = {
    .flags = GST_BUFFER_POOL_ACQUIRE_FLAG_DONTWAIT
  };
  GstBufferPool *pool;
  GstBuffer *held[5], *extra = NULL;
  GHashTable *regions = g_hash_table_new (NULL, NULL);
  guint32 first_region;

  fail_unless (configure_pool (allocator, RGBA_CAPS, 0, 2, 5, NULL, &pool));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));

  /* min-buffers come from one region. */
  for (guint i = 0; i < 2; i++) {
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held[i],
            NULL), GST_FLOW_OK);
    g_hash_table_add (regions, GUINT_TO_POINTER (buffer_region_id (held[i])));
  }
  fail_unless_equals_int (g_hash_table_size (regions), 1);
  first_region = buffer_region_id (held[0]);

  /* All held: the pool grows by new regions... */
  for (guint i = 2; i < 5; i++) {
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held[i],
            &dontwait), GST_FLOW_OK);
    fail_unless (buffer_region_id (held[i]) != first_region);
    g_hash_table_add (regions, GUINT_TO_POINTER (buffer_region_id (held[i])));
  }
  fail_unless (g_hash_table_size (regions) >= 2);

  /* ...never past max-buffers. */
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &extra,
          &dontwait), GST_FLOW_EOS);
  fail_unless (extra == NULL);

  /* Given back, with demand low again (one buffer at a time) for longer
   * than the pool's 2 s window, the pool returns to its first region: the
   * added ones are freed and unmapped. */
  for (guint i = 0; i < 5; i++)
    gst_buffer_unref (held[i]);
  {
    gint64 deadline = g_get_monotonic_time () + 8 * G_USEC_PER_SEC;
    while (zg_count_region_maps ("rw-s") != 1 &&
        g_get_monotonic_time () < deadline) {
      fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held[0],
              &dontwait), GST_FLOW_OK);
      gst_buffer_unref (held[0]);
      g_usleep (20 * 1000);
    }
  }
  fail_unless_equals_int (zg_count_region_maps ("rw-s"), 1);
  for (guint i = 0; i < 2; i++) {
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held[i],
            &dontwait), GST_FLOW_OK);
    fail_unless_equals_int (buffer_region_id (held[i]), first_region);
  }

  /* It grows again when all are held, still never past max-buffers. */
  for (guint i = 2; i < 5; i++) {
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &held[i],
            &dontwait), GST_FLOW_OK);
    fail_unless (buffer_region_id (held[i]) != first_region);
  }
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &extra,
          &dontwait), GST_FLOW_EOS);
  for (guint i = 0; i < 5; i++)
    gst_buffer_unref (held[i]);

  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  g_hash_table_unref (regions);
  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* -------------------------------------------------------------- allocator */

GST_START_TEST (test_allocator_memory_is_shared_memory_and_recycled)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstMemory *mem, *other;
  GstMapInfo map;
  guint32 id, id2;
  gsize offset = 1;

  mem = gst_allocator_alloc (allocator, 100000, NULL);
  fail_unless (mem != NULL);
  fail_unless (gst_is_zcipc_memory (mem));
  fail_unless (gst_memory_is_type (mem, GST_ZCIPC_MEMORY_TYPE));
  id = region_id (mem, &offset);
  fail_unless_equals_int (offset, 0);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  fail_unless_equals_int ((guintptr) map.data % page, 0);
  zg_assert_in_region_map (map.data, map.size, "rw-s");
  memset (map.data, 0x11, map.size);
  gst_memory_unmap (mem, &map);
  gst_memory_unref (mem);

  /* The freed region serves the next allocation of a similar size. */
  mem = gst_allocator_alloc (allocator, 90000, NULL);
  fail_unless (mem != NULL);
  fail_unless_equals_int (region_id (mem, NULL), id);

  /* One in use is not handed out twice. */
  other = gst_allocator_alloc (allocator, 100000, NULL);
  fail_unless (other != NULL);
  id2 = region_id (other, NULL);
  fail_unless (id2 != id);
  gst_memory_unref (other);
  gst_memory_unref (mem);

  /* Sizes far apart get regions of their own. */
  mem = gst_allocator_alloc (allocator, 10 * 1024 * 1024, NULL);
  fail_unless (mem != NULL);
  fail_unless (region_id (mem, NULL) != id && region_id (mem, NULL) != id2);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READWRITE));
  zg_assert_in_region_map (map.data, map.size, "rw-s");
  gst_memory_unmap (mem, &map);
  gst_memory_unref (mem);

  mem = gst_allocator_alloc (allocator, 1000, NULL);
  fail_unless (mem != NULL);
  fail_unless (region_id (mem, NULL) != id && region_id (mem, NULL) != id2);
  gst_memory_unref (mem);

  /* The cache goes with the allocator. */
  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;


/* A region retired while a departed consumer may still read one of its
 * slots (issue 15): none of its slots is handed out again, whether its
 * buffers were free, in use or come back later, and the region goes once
 * its last buffer does. */
GST_START_TEST (test_a_retired_region_is_never_handed_out_again)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstBufferPool *pool;
  GstBuffer *b[4], *again[8];
  GstZcipcRegion *retired;
  guint32 retired_id;

  fail_unless (configure_pool (allocator, RGBA_CAPS, 0, 4, 0, NULL, &pool));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  for (guint i = 0; i < 4; i++)
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b[i],
            NULL), GST_FLOW_OK);
  retired = gst_zcipc_memory_get_region (gst_buffer_peek_memory (b[0], 0),
      NULL);
  retired_id = retired->id;
  gst_buffer_unref (b[1]);      /* one free before the retirement */
  gst_zcipc_region_retire (retired);
  fail_unless (gst_zcipc_region_is_retired (retired));
  gst_buffer_unref (b[2]);      /* and one after it */
  for (guint i = 0; i < 8; i++) {
    fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &again[i],
            NULL), GST_FLOW_OK);
    fail_if (buffer_region_id (again[i]) == retired_id,
        "buffer %u came from the retired region", i);
  }
  gst_buffer_unref (b[0]);
  gst_buffer_unref (b[3]);
  for (guint i = 0; i < 8; i++)
    gst_buffer_unref (again[i]);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* The same for a whole-region allocation: a retired one is not cached for
 * the next. */
GST_START_TEST (test_a_retired_allocation_is_not_recycled)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstMemory *mem;
  guint32 id;

  mem = gst_allocator_alloc (allocator, 100000, NULL);
  id = region_id (mem, NULL);
  gst_zcipc_region_retire (gst_zcipc_memory_get_region (mem, NULL));
  gst_memory_unref (mem);
  mem = gst_allocator_alloc (allocator, 100000, NULL);
  fail_if (region_id (mem, NULL) == id, "a retired region was recycled");
  gst_memory_unref (mem);
  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_shared_part_of_zcipc_memory_is_read_only)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstMemory *mem, *sub, *subsub;
  GstMapInfo map, sub_map;
  GstZcipcRegion *region;
  gsize offset;

  mem = gst_allocator_alloc (allocator, 8192, NULL);
  fail_unless (mem != NULL);
  region = gst_zcipc_memory_get_region (mem, NULL);
  fail_unless (gst_memory_map (mem, &map, GST_MAP_WRITE));
  for (gsize i = 0; i < map.size; i++)
    map.data[i] = (guint8) (i * 31);
  gst_memory_unmap (mem, &map);

  sub = gst_memory_share (mem, 100, 1000);
  fail_unless (sub != NULL);
  fail_unless (gst_is_zcipc_memory (sub));
  fail_unless_equals_int (gst_memory_get_sizes (sub, NULL, NULL), 1000);
  fail_unless (GST_MEMORY_IS_READONLY (sub));
  fail_if (gst_memory_map (sub, &sub_map, GST_MAP_WRITE));

  /* The same bytes, in place. */
  fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
  fail_unless (gst_memory_map (sub, &sub_map, GST_MAP_READ));
  fail_unless (sub_map.data == map.data + 100);
  fail_unless_equals_int (sub_map.size, 1000);
  fail_unless (gst_zcipc_memory_get_region (sub, &offset) == region);
  fail_unless_equals_int (offset, 100);
  gst_memory_unmap (sub, &sub_map);

  /* A share of a share counts from the root. */
  subsub = gst_memory_share (sub, 10, 20);
  fail_unless (subsub != NULL);
  fail_unless (GST_MEMORY_IS_READONLY (subsub));
  fail_unless (gst_memory_map (subsub, &sub_map, GST_MAP_READ));
  fail_unless (sub_map.data == map.data + 110);
  fail_unless_equals_int (sub_map.size, 20);
  gst_memory_unmap (subsub, &sub_map);
  gst_memory_unmap (mem, &map);

  /* A shared part keeps its parent's bytes alive. */
  gst_memory_unref (mem);
  gst_memory_unref (sub);
  fail_unless (gst_memory_map (subsub, &sub_map, GST_MAP_READ));
  for (gsize i = 0; i < sub_map.size; i++)
    fail_unless_equals_int (sub_map.data[i], (guint8) ((110 + i) * 31));
  gst_memory_unmap (subsub, &sub_map);
  gst_memory_unref (subsub);

  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_pool_slot_shares_and_copies_keep_their_bytes)
{
  GstAllocator *allocator = gst_zcipc_allocator_new ();
  GstBufferPool *pool;
  GstBuffer *a = NULL, *b = NULL;
  GstMemory *sub, *copy;
  GstMapInfo map, sub_map;
  gsize offset_b, offset_sub;

  fail_unless (configure_pool (allocator, RGBA_CAPS, 0, 2, 2, NULL, &pool));
  fail_unless (gst_buffer_pool_set_active (pool, TRUE));
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &a, NULL),
      GST_FLOW_OK);
  fail_unless_equals_int (gst_buffer_pool_acquire_buffer (pool, &b, NULL),
      GST_FLOW_OK);
  fail_unless_equals_int (buffer_region_id (a), buffer_region_id (b));

  /* Slot b starts one page-rounded slot after slot a (or before it). */
  gst_zcipc_memory_get_region (gst_buffer_peek_memory (b, 0), &offset_b);
  fail_unless_equals_int (offset_b % page, 0);

  fail_unless (gst_buffer_map (b, &map, GST_MAP_WRITE));
  memset (map.data, 0x77, map.size);
  gst_buffer_unmap (b, &map);

  /* A share inside slot b knows its place in the region. */
  sub = gst_memory_share (gst_buffer_peek_memory (b, 0), 4096, 64);
  gst_zcipc_memory_get_region (sub, &offset_sub);
  fail_unless_equals_int (offset_sub, offset_b + 4096);
  fail_unless (gst_memory_map (sub, &sub_map, GST_MAP_READ));
  fail_unless_equals_int (sub_map.data[0], 0x77);
  gst_memory_unmap (sub, &sub_map);

  /* A copy is plain memory with the same bytes. */
  copy = gst_memory_copy (sub, 0, -1);
  fail_unless (copy != NULL);
  fail_if (gst_is_zcipc_memory (copy));
  fail_unless (gst_memory_map (copy, &sub_map, GST_MAP_READ));
  fail_unless_equals_int (sub_map.size, 64);
  fail_unless_equals_int (sub_map.data[63], 0x77);
  gst_memory_unmap (copy, &sub_map);
  gst_memory_unref (copy);
  gst_memory_unref (sub);

  gst_buffer_unref (a);
  gst_buffer_unref (b);
  fail_unless (gst_buffer_pool_set_active (pool, FALSE));
  gst_object_unref (pool);
  gst_object_unref (allocator);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

static Suite *
zcipcpool_suite (void)
{
  Suite *s = suite_create ("zcipcpool");
  TCase *tc;

  tc = tcase_create ("allocator");
  tcase_add_checked_fixture (tc, setup, NULL);
  tcase_add_test (tc, test_regions_are_sealed_against_shrinking_and_growing);
  tcase_add_test (tc, test_allocator_memory_is_shared_memory_and_recycled);
  tcase_add_test (tc, test_shared_part_of_zcipc_memory_is_read_only);
  tcase_add_test (tc, test_a_retired_allocation_is_not_recycled);
  suite_add_tcase (s, tc);

  tc = tcase_create ("pool");
  tcase_add_checked_fixture (tc, setup, NULL);
  tcase_add_test (tc, test_set_config_writes_back_a_size_that_holds_the_frame);
  tcase_add_test (tc, test_set_config_honours_video_alignment_padding);
  tcase_add_test (tc, test_pool_hands_out_the_last_released_buffer_first);
  tcase_add_test (tc, test_a_retired_region_is_never_handed_out_again);
  tcase_add_test (tc, test_pool_release_reaches_an_acquire_waiting_at_max);
  tcase_add_test (tc,
      test_pool_grows_by_new_regions_past_min_but_never_past_max);
  tcase_add_test (tc, test_pool_shrinks_whatever_order_buffers_came_back_in);
  tcase_add_test (tc, test_pool_slot_shares_and_copies_keep_their_bytes);
  tcase_add_test (tc,
      test_a_steady_holder_does_not_make_the_pool_recreate_regions);
  suite_add_tcase (s, tc);

  return s;
}

GST_CHECK_MAIN (zcipcpool);
