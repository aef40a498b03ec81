/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>

#include "helpers.h"

/* zcipcsrc against a real producer pipeline in this process:
 * videotestsrc ! capsfilter ! zcipcsink min-consumers=1 slow-consumer=wait,
 * which waits for the consumer and never skips a frame, so frame i on the
 * consumer is frame i the sink received. Both sides map the same memfds
 * here: the producer's mapping is rw-s, the consumer's r--s, so "inside the
 * consumer's read-only mapping" is checked with the permissions. */

/* Odd sizes: I420 of 321x241 has padded strides (324, 164, 164) and three
 * plane offsets, which the consumer's GstVideoMeta must carry over. */
#define CAPS "video/x-raw,format=I420,width=321,height=241,framerate=30/1"
#define N_FRAMES 20

static gchar *tmpdir;
static gchar *socket_path;
static ZgResources before;

static void
setup (void)
{
  socket_path = zg_tmp_socket_new (&tmpdir);
  zg_warm_up ();
  zg_resources_snapshot (&before);
}

static void
teardown (void)
{
  zg_tmp_socket_remove (&socket_path, &tmpdir);
}

static ZgProducer *
start_producer (const gchar * src_props)
{
  return zg_producer_start (socket_path, src_props, CAPS,
      ZG_LOSSLESS_SINK_PROPS);
}

/* The first ERROR on `bus` within 5 s, asserting it came from `src` in
 * RESOURCE and mentions each string. */
static void
expect_error (GstBus * bus, GstElement * src, const gchar * text1,
    const gchar * text2)
{
  GstMessage *msg = zg_bus_pop_error (bus, 5 * GST_SECOND);

  zg_assert_error (msg, src, GST_RESOURCE_ERROR, text1, text2, NULL);
  gst_message_unref (msg);
}

/* A consumer pipeline "zcipcsrc <props> ! fakesink", in NULL. */
static GstElement *
consumer_pipeline_new (const gchar * path, const gchar * props,
    GstElement ** src)
{
  gchar *desc = g_strdup_printf ("zcipcsrc name=src socket-path=\"%s\" %s ! "
      "fakesink sync=false", path, props ? props : "");
  GstElement *pipeline = gst_parse_launch (desc, NULL);

  fail_unless (pipeline != NULL, "%s", desc);
  g_free (desc);
  *src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  return pipeline;
}

static void
consumer_pipeline_free (GstElement * pipeline, GstElement * src)
{
  GstBus *bus = gst_element_get_bus (pipeline);

  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (pipeline);
}

/* ---------------------------------------------------------- the stream */

/* Pulls and drops 3 x (4 + 4) frames: several turns of the producer
 * through every slot (a pool of 4 and a consumer quota of 4), none of them
 * `kept` (the buffer a test holds on to). */
static void
pull_through_every_slot (GstHarness * h, GstBuffer * kept)
{
  for (guint i = 0; i < 3 * (4 + 4); i++) {
    GstBuffer *next = gst_harness_pull (h);

    fail_unless (next != NULL);
    fail_if (next == kept);
    gst_buffer_unref (next);
  }
}

GST_START_TEST (test_buffers_keep_the_producers_timestamps_caps_and_strides)
{
  ZgProducer *p = start_producer ("pattern=ball");
  GstHarness *h = zg_consumer_new_bounded (socket_path, "max-held=4", NULL,
      TRUE);
  GstCaps *producer_caps, *consumer_caps;
  GstPad *sinkpad;

  for (guint i = 0; i < N_FRAMES; i++) {
    GstBuffer *buffer = gst_harness_pull (h);
    ZgFrame f = zg_producer_get_frame (p, i);
    GstVideoMeta *meta;
    gchar *sum;

    fail_unless (buffer != NULL);
    /* Upstream of the producer wrote into the proposed pool: no copy. */
    fail_unless (f.zcipc_memory, "producer frame %u is not zcipc memory", i);

    /* Timestamps exactly, and the same bytes. */
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), f.pts);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (buffer), f.duration);
    sum = zg_buffer_checksum (buffer);
    fail_unless_equals_string (sum, f.checksum);

    /* The producer's layout, padded strides and plane offsets included. */
    fail_unless (f.has_video_meta);
    meta = gst_buffer_get_video_meta (buffer);
    fail_unless (meta != NULL, "frame %u lost its GstVideoMeta", i);
    fail_unless_equals_int (meta->format, GST_VIDEO_FORMAT_I420);
    fail_unless_equals_int (meta->width, 321);
    fail_unless_equals_int (meta->height, 241);
    fail_unless_equals_int (meta->n_planes, f.n_planes);
    for (guint j = 0; j < meta->n_planes; j++) {
      fail_unless_equals_int (meta->stride[j], f.stride[j]);
      fail_unless_equals_uint64 (meta->offset[j], f.offset[j]);
    }
    fail_unless_equals_int (meta->stride[0], 324);
    fail_unless_equals_int (meta->stride[1], 164);

    g_free (sum);
    zg_frame_clear (&f);
    gst_buffer_unref (buffer);
  }
  /* Exact deltas: the producer's timestamps, not re-stamped ones. */
  {
    ZgFrame f0 = zg_producer_get_frame (p, 0);
    ZgFrame f1 = zg_producer_get_frame (p, 1);
    fail_unless_equals_uint64 (f1.pts - f0.pts, GST_SECOND / 30);
    zg_frame_clear (&f0);
    zg_frame_clear (&f1);
  }

  /* Caps equal to the producer's. */
  sinkpad = gst_element_get_static_pad (p->sink, "sink");
  producer_caps = gst_pad_get_current_caps (sinkpad);
  consumer_caps = gst_pad_get_current_caps (h->sinkpad);
  fail_unless (producer_caps != NULL && consumer_caps != NULL);
  fail_unless (gst_caps_is_equal (producer_caps, consumer_caps),
      "producer %" GST_PTR_FORMAT " consumer %" GST_PTR_FORMAT, producer_caps,
      consumer_caps);
  gst_caps_unref (producer_caps);
  gst_caps_unref (consumer_caps);
  gst_object_unref (sinkpad);

  fail_unless_equals_uint64 (zg_stats_get (p->sink, "frames-copied"), 0);
  fail_unless_equals_uint64 (zg_stats_get (h->element, "frames-dropped"), 0);
  fail_unless (zg_stats_get (h->element, "frames-received") >= N_FRAMES);

  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_every_buffer_is_read_only_memory_in_the_consumers_mapping)
{
  ZgProducer *p = start_producer ("pattern=ball");
  GstHarness *h = zg_consumer_new_bounded (socket_path, "max-held=4", NULL,
      TRUE);
  /* region name -> start of the consumer's mapping of it */
  GHashTable *mapped_at = g_hash_table_new_full (g_str_hash, g_str_equal,
      g_free, NULL);

  for (guint i = 0; i < N_FRAMES; i++) {
    GstBuffer *buffer = gst_harness_pull (h);
    GstMapInfo map;
    struct zt_mapping m;
    gpointer start;

    fail_unless (buffer != NULL);
    fail_unless (gst_buffer_n_memory (buffer) >= 1);
    for (guint j = 0; j < gst_buffer_n_memory (buffer); j++) {
      GstMemory *mem = gst_buffer_peek_memory (buffer, j);

      fail_unless (GST_MEMORY_IS_READONLY (mem),
          "frame %u memory %u is not read-only", i, j);
      fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
      zg_assert_in_region_map (map.data, map.size, "r--s");
      gst_memory_unmap (mem, &map);
    }
    /* The whole buffer, mapped at once, points into the mapping too. */
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    zg_assert_in_region_map (map.data, map.size, "r--s");

    /* Consumers map a region once, not once per frame: every frame in a
     * region finds it at the same place. */
    fail_unless (zt_find_mapping (map.data, map.size, &m));
    if (g_hash_table_lookup_extended (mapped_at, m.name, NULL, &start))
      fail_unless ((guintptr) start == m.start, "%s was mapped again", m.name);
    else
      g_hash_table_insert (mapped_at, g_strdup (m.name), (gpointer) m.start);
    gst_buffer_unmap (buffer, &map);
    gst_buffer_unref (buffer);
  }
  g_hash_table_unref (mapped_at);

  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* From /proc/self/maps: the inode and file offset of the mapping holding
 * `addr` (its offset in the file is `pgoff` plus the distance from the
 * mapping's start), or whether one mapping with `perms` maps `inode`. */
static gboolean
read_maps (gconstpointer addr, const gchar * perms, guint64 inode,
    guint64 * inode_out, guintptr * file_offset)
{
  FILE *f = fopen ("/proc/self/maps", "r");
  gchar line[512];
  gboolean found = FALSE;

  fail_unless (f != NULL);
  while (!found && fgets (line, sizeof line, f)) {
    uintptr_t start, end;
    uint64_t pgoff, ino;
    char p[5];

    if (sscanf (line, "%" SCNxPTR "-%" SCNxPTR " %4s %" SCNx64 " %*s %"
            SCNu64, &start, &end, p, &pgoff, &ino) != 5)
      continue;
    if (addr && (guintptr) addr >= start && (guintptr) addr < end) {
      *inode_out = ino;
      *file_offset = pgoff + ((guintptr) addr - start);
      found = TRUE;
    } else if (!addr && ino == inode && strcmp (p, perms) == 0) {
      found = TRUE;
    }
  }
  fclose (f);
  return found;
}

/* The memory zcipcsrc pushes is fd memory (see docs/elements.md, "Memory
 * zcipcsrc pushes"): its fd is the memfd of the producer's region, and the
 * memory's offset is where its bytes lie in that file, so a reader of the
 * fd at that offset (pread, or another process's mmap) reads what the
 * mapped memory holds. Still zero-copy: the map points into the consumer's
 * read-only mapping of that same file. */
GST_START_TEST (test_every_memory_is_fd_memory_of_the_region_at_its_offset)
{
  ZgProducer *p = start_producer ("pattern=ball");
  GstHarness *h = zg_consumer_new_bounded (socket_path, "max-held=4", NULL,
      TRUE);

  for (guint i = 0; i < N_FRAMES; i++) {
    GstBuffer *buffer = gst_harness_pull (h);

    fail_unless (buffer != NULL);
    fail_unless (gst_buffer_n_memory (buffer) >= 1);
    for (guint j = 0; j < gst_buffer_n_memory (buffer); j++) {
      GstMemory *mem = gst_buffer_peek_memory (buffer, j);
      gchar *link, *target;
      guint64 inode = 0;
      guintptr file_offset = 0;
      struct stat st;
      GstMapInfo map;
      guint8 *read_back;

      fail_unless (gst_is_fd_memory (mem), "frame %u memory %u: %s is no fd "
          "memory", i, j, mem->allocator->mem_type);
      link = g_strdup_printf ("/proc/self/fd/%d", gst_fd_memory_get_fd (mem));
      fail_unless (fstat (gst_fd_memory_get_fd (mem), &st) == 0);
      target = g_file_read_link (link, NULL);
      fail_unless (target && g_str_has_prefix (target, "/" ZG_REGION_MAP_NAME),
          "fd %s is %s, not a zcipc region's memfd", link, target);
      fail_unless ((guint64) st.st_size >= mem->offset + mem->size);
      fail_unless (mem->maxsize <= (gsize) st.st_size);

      fail_unless (gst_memory_map (mem, &map, GST_MAP_READ));
      /* Zero copy: the consumer's mapping of that very file, at the
       * memory's offset, which the producer maps too (rw-s). */
      zg_assert_in_region_map (map.data, map.size, "r--s");
      fail_unless (read_maps (map.data, NULL, 0, &inode, &file_offset));
      fail_unless_equals_uint64 (inode, (guint64) st.st_ino);
      fail_unless_equals_uint64 ((guint64) file_offset, mem->offset);
      fail_unless (read_maps (NULL, "rw-s", st.st_ino, &inode, &file_offset),
          "no producer mapping of inode %" G_GUINT64_FORMAT,
          (guint64) st.st_ino);

      read_back = g_malloc (map.size);
      fail_unless_equals_int64 (pread (gst_fd_memory_get_fd (mem), read_back,
              map.size, (off_t) mem->offset), (gint64) map.size);
      fail_unless (memcmp (read_back, map.data, map.size) == 0,
          "frame %u memory %u: the fd at offset %" G_GSIZE_FORMAT " holds "
          "other bytes than the memory", i, j, mem->offset);
      g_free (read_back);
      gst_memory_unmap (mem, &map);
      g_free (target);
      g_free (link);
    }
    gst_buffer_unref (buffer);
  }

  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* A consumer cannot write the stream: its memory refuses a writable map,
 * a write map of a buffer that is not writable fails, and what a writer
 * gets from gst_buffer_make_writable() maps (for writing) to a private copy
 * outside the shared mapping, which leaves the shared bytes alone.
 *
 * Note: gst_buffer_map (WRITE) of a *writable* buffer cannot return FALSE
 * here whatever the element does: GStreamer's gst_buffer_map_range() copies
 * a memory that refuses to map (gst_memory_make_mapped) and puts the copy
 * into the buffer. So the FALSE is checked where GStreamer gives it (the
 * memory itself, a non-writable buffer), and the copy where it happens. */
GST_START_TEST (test_writing_needs_a_copy)
{
  ZgProducer *p = start_producer ("pattern=ball");
  GstHarness *h = zg_consumer_new (socket_path, "max-held=4", NULL);
  GstBuffer *buffer = gst_harness_pull (h);
  GstBuffer *writable;
  GstMemory *mem;
  GstMapInfo map, shared;
  gboolean mapped = TRUE;
  gchar *sum, *after;

  fail_unless (buffer != NULL);
  sum = zg_buffer_checksum (buffer);
  mem = gst_buffer_peek_memory (buffer, 0);

  /* The memory itself cannot be mapped for writing. */
  fail_if (gst_memory_map (mem, &map, GST_MAP_WRITE));

  /* Nor can the buffer while somebody else holds it too. */
  gst_buffer_ref (buffer);
  ASSERT_CRITICAL (mapped = gst_buffer_map (buffer, &map, GST_MAP_WRITE));
  fail_if (mapped);

  /* A writer makes it writable: a new buffer, whose write map is a copy. */
  writable = gst_buffer_make_writable (buffer);
  fail_unless (writable != buffer, "make_writable did not copy");
  fail_unless (gst_buffer_map (writable, &map, GST_MAP_WRITE));
  fail_if (zg_overlaps_region_map (map.data, map.size),
      "a write map points into a shared region");
  memset (map.data, 0xff, map.size);
  gst_buffer_unmap (writable, &map);

  /* The original still reads the shared bytes, unchanged. */
  fail_unless (gst_buffer_map (buffer, &shared, GST_MAP_READ));
  zg_assert_in_region_map (shared.data, shared.size, "r--s");
  gst_buffer_unmap (buffer, &shared);
  after = zg_buffer_checksum (buffer);
  fail_unless_equals_string (after, sum);

  g_free (after);
  gst_buffer_unref (writable);
  gst_buffer_unref (buffer);
  g_free (sum);
  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_buffer_held_past_null_stays_valid_then_frees_everything)
{
  ZgProducer *p = start_producer ("pattern=ball");
  GstHarness *h = zg_consumer_new (socket_path, "max-held=4", NULL);
  GstBuffer *held = gst_harness_pull (h);
  GstMapInfo map;

  fail_unless (held != NULL);

  /* The consumer goes to NULL and away; the buffer outlives it, its
   * memory is still the consumer's read-only mapping, and every byte reads
   * (no SIGSEGV, no SIGBUS). */
  gst_harness_teardown (h);
  fail_unless (gst_buffer_map (held, &map, GST_MAP_READ));
  zg_assert_in_region_map (map.data, map.size, "r--s");
  g_free (g_compute_checksum_for_data (G_CHECKSUM_SHA256, map.data, map.size));
  gst_buffer_unmap (held, &map);
  fail_unless (zg_count_region_maps ("r--s") >= 1);

  /* Dropping it unmaps the consumer's side at once. */
  gst_buffer_unref (held);
  fail_unless_equals_int (zg_count_region_maps ("r--s"), 0);

  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* A GstBuffer is immutable while it is shared: the frame a consumer still
 * holds after its zcipcsrc went to NULL must keep its bytes, even while the
 * producer goes on with other consumers and cycles through its slots.
 *
 * BUG (reported, not fixed here): this fails. When zcipcsrc stops, it closes
 * its socket (zcipc_client_disconnect) although frames are still held; the
 * producer takes the hang-up as "every hold released" and hands the slot
 * back to its pool, so upstream writes a new frame into the memory the
 * held buffer still points at. */
GST_START_TEST (test_held_buffer_keeps_its_bytes_after_the_consumer_stops)
{
  ZgProducer *p = start_producer ("pattern=ball");
  GstHarness *h = zg_consumer_new (socket_path, "max-held=4", NULL);
  GstBuffer *held = gst_harness_pull (h);
  gchar *sum, *after;

  fail_unless (held != NULL);
  sum = zg_buffer_checksum (held);
  gst_harness_teardown (h);

  /* Another consumer keeps the producer going through every slot, several
   * times (pool-size 4 plus this consumer's quota). */
  h = zg_consumer_new (socket_path, "max-held=4", NULL);
  pull_through_every_slot (h, NULL);

  after = zg_buffer_checksum (held);
  fail_unless_equals_string (after, sum);

  gst_buffer_unref (held);
  g_free (after);
  g_free (sum);
  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* ------------------------------------------------- buffers kept per slot */

/* The producer sends frames from the same few slots; the consumer pushes
 * each in the GstBuffer that carried the slot's last frame, with the
 * GstVideoMeta it had (nothing allocated), and every one of them still
 * reads its own frame's bytes, timestamps and layout. */
GST_START_TEST (test_a_slots_next_frame_comes_in_the_same_buffer)
{
  ZgProducer *p = start_producer ("pattern=ball");
  GstHarness *h = zg_consumer_new_bounded (socket_path, "max-held=4", NULL,
      TRUE);
  /* buffer -> the seqnum of the video meta it carried last */
  GHashTable *seen = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  const guint n_frames = 3 * N_FRAMES;
  guint64 reused, *last_meta;
  guint came_again = 0, metas_kept = 0;

  for (guint i = 0; i < n_frames; i++) {
    GstBuffer *buffer = gst_harness_pull (h);
    ZgFrame f = zg_producer_get_frame (p, i);
    GstVideoMeta *vmeta;
    GstMapInfo map;
    gchar *sum;

    fail_unless (buffer != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), f.pts);
    sum = zg_buffer_checksum (buffer);
    fail_unless_equals_string (sum, f.checksum);
    fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
    zg_assert_in_region_map (map.data, map.size, "r--s");
    gst_buffer_unmap (buffer, &map);
    vmeta = gst_buffer_get_video_meta (buffer);
    fail_unless (vmeta != NULL);
    fail_unless_equals_int (vmeta->width, 321);
    fail_unless_equals_int (vmeta->stride[1], f.stride[1]);
    fail_unless_equals_uint64 (vmeta->offset[2], f.offset[2]);

    last_meta = g_hash_table_lookup (seen, buffer);
    if (!last_meta) {
      last_meta = g_new (guint64, 1);
      g_hash_table_insert (seen, buffer, last_meta);
    } else {
      came_again++;
      if (*last_meta == gst_meta_get_seqnum (GST_META_CAST (vmeta)))
        metas_kept++;
    }
    *last_meta = gst_meta_get_seqnum (GST_META_CAST (vmeta));
    g_free (sum);
    zg_frame_clear (&f);
    gst_buffer_unref (buffer);
  }

  /* A buffer per slot, made once: the producer's pool has a handful. (The
   * stats count frames already waiting in the harness too.) */
  reused = zg_stats_get (h->element, "buffers-reused");
  fail_unless (g_hash_table_size (seen) <= 8, "%u different buffers",
      g_hash_table_size (seen));
  fail_unless (came_again >= n_frames - 8);
  fail_unless (reused >= came_again, "%u frames came in a buffer seen "
      "before, but only %" G_GUINT64_FORMAT " were counted", came_again,
      reused);
  /* Each reused buffer kept its video meta, made once, too. */
  fail_unless_equals_int (metas_kept, came_again);

  g_hash_table_unref (seen);
  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* A copy of a buffer shares its memory: the frame must stay the consumer's
 * (its bytes unchanged while the producer cycles through its slots) after
 * the buffer itself went back, until the copy goes too. */
GST_START_TEST (test_a_frame_whose_memory_is_still_shared_is_kept)
{
  ZgProducer *p = start_producer ("pattern=ball");
  GstHarness *h = zg_consumer_new_bounded (socket_path, "max-held=4", NULL,
      TRUE);
  GstBuffer *buffer = gst_harness_pull (h);
  GstBuffer *copy;
  gchar *sum, *after;

  fail_unless (buffer != NULL);
  sum = zg_buffer_checksum (buffer);
  copy = gst_buffer_copy (buffer);
  fail_unless (gst_buffer_peek_memory (copy, 0) ==
      gst_buffer_peek_memory (buffer, 0), "the copy does not share memory");
  gst_buffer_unref (buffer);

  /* Several turns through every slot (the producer's pool and this
   * consumer's quota). */
  pull_through_every_slot (h, copy);
  after = zg_buffer_checksum (copy);
  fail_unless_equals_string (after, sum);

  gst_buffer_unref (copy);
  g_free (after);
  g_free (sum);
  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* A part of a buffer (gst_buffer_copy_region: a share of its memory,
 * whose parent is the region's memory, not the frame's) keeps the frame
 * the consumer's too, after the buffer itself went back. */
GST_START_TEST (test_a_frame_whose_memory_part_is_still_shared_is_kept)
{
  ZgProducer *p = start_producer ("pattern=ball");
  GstHarness *h = zg_consumer_new_bounded (socket_path, "max-held=4", NULL,
      TRUE);
  GstBuffer *buffer = gst_harness_pull (h);
  gsize size = gst_buffer_get_size (buffer);
  GstBuffer *part;
  gchar *sum, *after;

  fail_unless (buffer != NULL);
  part = gst_buffer_copy_region (buffer, GST_BUFFER_COPY_MEMORY, 1, size - 1);
  fail_unless (gst_buffer_n_memory (part) == 1);
  fail_if (gst_buffer_peek_memory (part, 0) ==
      gst_buffer_peek_memory (buffer, 0), "the part is the buffer's memory");
  sum = zg_buffer_checksum (part);
  gst_buffer_unref (buffer);

  pull_through_every_slot (h, NULL);
  after = zg_buffer_checksum (part);
  fail_unless_equals_string (after, sum);

  gst_buffer_unref (part);
  g_free (after);
  g_free (sum);
  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* A writer downstream may add metas to a buffer it made writable (the same
 * buffer, when it holds the only reference) and change the ones it has:
 * none of that may come back with the slot's next frame (the video meta
 * is kept for it only when it comes back as it went out). The first
 * frames, more than the producer has slots, are all changed that way, so
 * every buffer reused afterwards is one of them. */
GST_START_TEST (test_a_reused_buffer_carries_only_its_own_frames_metas)
{
  const guint n_marked = 2 * (4 + 4);
  ZgProducer *p = start_producer ("pattern=ball");
  GstHarness *h = zg_consumer_new_bounded (socket_path, "max-held=4", NULL,
      TRUE);
  GstCaps *reference = gst_caps_new_empty_simple ("timestamp/x-test");
  GHashTable *marked = g_hash_table_new (NULL, NULL);
  guint came_again = 0;

  for (guint i = 0; i < n_marked + 2 * N_FRAMES; i++) {
    GstBuffer *buffer = gst_harness_pull (h);
    ZgFrame f = zg_producer_get_frame (p, i);
    GstVideoMeta *vmeta;
    gchar *sum;

    fail_unless (buffer != NULL);
    if (g_hash_table_contains (marked, buffer))
      came_again++;
    fail_unless (gst_buffer_get_reference_timestamp_meta (buffer, NULL) ==
        NULL, "a meta added downstream came back with frame %u", i);
    vmeta = gst_buffer_get_video_meta (buffer);
    fail_unless (vmeta != NULL);
    fail_unless_equals_int (vmeta->width, 321);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), f.pts);
    sum = zg_buffer_checksum (buffer);
    fail_unless_equals_string (sum, f.checksum);

    /* Half get a meta, the others only a change to the one they have. */
    if (i < n_marked) {
      buffer = gst_buffer_make_writable (buffer);
      if (i % 2)
        gst_buffer_add_reference_timestamp_meta (buffer, reference, 42,
            GST_CLOCK_TIME_NONE);
      else
        gst_buffer_get_video_meta (buffer)->width = 1;
      g_hash_table_add (marked, buffer);
    }
    g_free (sum);
    zg_frame_clear (&f);
    gst_buffer_unref (buffer);
  }
  /* Else this proved nothing. */
  fail_unless (came_again >= N_FRAMES, "only %u frames came in a buffer "
      "changed downstream before", came_again);

  g_hash_table_unref (marked);
  gst_caps_unref (reference);
  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* A custom meta whose structure holds a string of `len` bytes. */
static void
add_blob_meta (GstBuffer * buffer, guint n, gsize len)
{
  GstCustomMeta *meta = gst_buffer_add_custom_meta (buffer, "zcipc-test-blob");
  gchar *blob = g_malloc (len + 1);

  memset (blob, 'a' + n % 26, len);
  blob[len] = '\0';
  gst_structure_set (gst_custom_meta_get_structure (meta), "n", G_TYPE_UINT,
      n, "blob", G_TYPE_STRING, blob, NULL);
  g_free (blob);
}

static void
assert_blob_meta (GstBuffer * buffer, guint n, gsize len)
{
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buffer, "zcipc-test-blob");
  const gchar *blob;
  guint got_n = 0;

  fail_unless (meta != NULL, "frame %u lost its meta", n);
  fail_unless (gst_structure_get_uint (gst_custom_meta_get_structure (meta),
          "n", &got_n));
  fail_unless_equals_int (got_n, n);
  blob = gst_structure_get_string (gst_custom_meta_get_structure (meta),
      "blob");
  fail_unless (blob != NULL);
  fail_unless_equals_uint64 (strlen (blob), len);
  fail_unless (blob[0] == (gchar) ('a' + n % 26) &&
      blob[len - 1] == (gchar) ('a' + n % 26));
}

/* Buffers without memory and metas too big for a message cross in this
 * process too, where valgrind and the resource check see what they leave:
 * the metas' region and the frame buffers that carry it must all go. */
GST_START_TEST (test_empty_buffers_and_big_metas_cross_and_leave_nothing)
{
  static const gsize sizes[] = { 16, 300 * 1024, 16, 300 * 1024, 16 };
  gchar *desc = g_strdup_printf ("appsrc name=src format=time caps=\"%s\" ! "
      "zcipcsink name=sink socket-path=\"%s\" " ZG_LOSSLESS_SINK_PROPS, CAPS,
      socket_path);
  GstElement *producer = gst_parse_launch (desc, NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (producer), "src");
  GstElement *sink = gst_bin_get_by_name (GST_BIN (producer), "sink");
  const gchar *tags[] = { NULL };
  GstAllocator *shared = NULL;
  GstHarness *h;
  GstQuery *query;
  GstCaps *caps;
  GstPad *pad;

  gst_meta_register_custom ("zcipc-test-blob", tags, NULL, NULL, NULL);
  fail_unless (gst_element_set_state (producer, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  h = zg_consumer_new (socket_path, "max-held=4", NULL);
  caps = gst_caps_from_string (CAPS);
  query = gst_query_new_allocation (caps, TRUE);
  pad = gst_element_get_static_pad (sink, "sink");
  fail_unless (gst_pad_query (pad, query));
  gst_object_unref (pad);
  fail_unless (gst_query_get_n_allocation_params (query) > 0);
  gst_query_parse_nth_allocation_param (query, 0, &shared, NULL);
  fail_unless (shared != NULL);
  gst_query_unref (query);
  gst_caps_unref (caps);

  /* Frames 0 and 2 have no bytes (0: no memory, 2: one of 0 bytes), the
   * others 64 (4: and an empty memory after them); frames 1 and 3 carry
   * metas past the message. */
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    GstBuffer *buffer = i == 0 ? gst_buffer_new () :
        gst_buffer_new_allocate (i == 4 ? shared : NULL, 64, NULL);
    GstFlowReturn ret;

    if (i == 2)
      gst_buffer_resize (buffer, 0, 0);
    else if (i > 0)
      gst_buffer_memset (buffer, 0, 0x40 + i, 64);
    if (i == 4) {
      /* Shared memory, which crosses without a copy: the empty one too. */
      GstMemory *empty = gst_allocator_alloc (shared, 8, NULL);
      gst_memory_resize (empty, 0, 0);
      gst_buffer_append_memory (buffer, empty);
    }
    GST_BUFFER_PTS (buffer) = i * GST_SECOND;
    GST_BUFFER_DURATION (buffer) = GST_SECOND;
    if (i == 0 || i == 2)
      GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_GAP);
    add_blob_meta (buffer, i, sizes[i]);
    g_signal_emit_by_name (src, "push-buffer", buffer, &ret);
    fail_unless_equals_int (ret, GST_FLOW_OK);
    gst_buffer_unref (buffer);
  }
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    GstBuffer *buffer = gst_harness_pull (h);

    fail_unless (buffer != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), i * GST_SECOND);
    fail_unless_equals_uint64 (GST_BUFFER_DURATION (buffer), GST_SECOND);
    fail_unless_equals_int (GST_BUFFER_FLAG_IS_SET (buffer,
            GST_BUFFER_FLAG_GAP), i == 0 || i == 2);
    if (i != 0 && i != 2) {
      guint8 byte = 0;
      fail_unless_equals_uint64 (gst_buffer_get_size (buffer), 64);
      gst_buffer_extract (buffer, 63, &byte, 1);
      fail_unless_equals_int (byte, 0x40 + i);
    } else {
      fail_unless_equals_int (gst_buffer_n_memory (buffer), 0);
    }
    assert_blob_meta (buffer, i, sizes[i]);
    gst_buffer_unref (buffer);
  }
  fail_unless_equals_uint64 (zg_stats_get (sink, "metas-skipped"), 0);

  gst_harness_teardown (h);
  fail_unless_equals_int (gst_element_set_state (producer, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (shared);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (producer);
  g_free (desc);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_eos_from_the_producer_becomes_eos_on_the_consumer)
{
  ZgProducer *p = start_producer ("num-buffers=10");
  GstHarness *h = zg_consumer_new (socket_path, NULL, NULL);
  GstEvent *event;
  GstMessage *msg;

  for (guint i = 0; i < 10; i++) {
    GstBuffer *buffer = gst_harness_pull (h);
    ZgFrame f = zg_producer_get_frame (p, i);

    fail_unless (buffer != NULL);
    fail_unless_equals_uint64 (GST_BUFFER_PTS (buffer), f.pts);
    zg_frame_clear (&f);
    gst_buffer_unref (buffer);
  }
  while ((event = gst_harness_pull_event (h))) {
    GstEventType type = GST_EVENT_TYPE (event);

    gst_event_unref (event);
    if (type == GST_EVENT_EOS)
      break;
  }
  fail_unless (event != NULL, "no EOS");
  fail_unless_equals_int (gst_harness_buffers_received (h), 10);

  msg = gst_bus_timed_pop_filtered (p->bus, 5 * GST_SECOND, GST_MESSAGE_EOS);
  fail_unless (msg != NULL);
  gst_message_unref (msg);

  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_latency_query_answers_live)
{
  ZgProducer *p = start_producer (NULL);
  GstHarness *h = zg_consumer_new (socket_path, NULL, NULL);
  GstBuffer *buffer = gst_harness_pull (h);
  GstQuery *query = gst_query_new_latency ();
  GstClockTime min, max;
  gboolean live;

  fail_unless (buffer != NULL);
  gst_buffer_unref (buffer);
  fail_unless (gst_pad_peer_query (h->sinkpad, query));
  gst_query_parse_latency (query, &live, &min, &max);
  fail_unless (live);
  fail_unless_equals_uint64 (min, 0);
  fail_unless (max == GST_CLOCK_TIME_NONE || max >= min);
  gst_query_unref (query);

  gst_harness_teardown (h);
  zg_producer_free (p);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

/* ----------------------------------------------------------- failures */

/* Worth running under -Db_sanitize=address (with GST_REGISTRY_FORK=no):
 * the timeout path frees the connection before it posts the error. */
GST_START_TEST (test_nobody_listening_times_out_with_an_error_naming_the_path)
{
  GstElement *src, *pipeline = consumer_pipeline_new (socket_path,
      "timeout=300", &src);
  GstBus *bus = gst_element_get_bus (pipeline);
  GstMessage *msg;
  gint64 start, elapsed_ms;

  start = g_get_monotonic_time ();
  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  msg = zg_bus_pop_error (bus, 5 * GST_SECOND);
  elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  zg_assert_error (msg, src, GST_RESOURCE_ERROR, socket_path, NULL);
  gst_message_unref (msg);
  GST_INFO ("error after %" G_GINT64_FORMAT " ms", elapsed_ms);
  fail_unless (elapsed_ms >= 290, "gave up after %" G_GINT64_FORMAT " ms",
      elapsed_ms);
  fail_unless (elapsed_ms <= 1000, "took %" G_GINT64_FORMAT " ms", elapsed_ms);

  gst_object_unref (bus);
  consumer_pipeline_free (pipeline, src);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

static void
check_start_fails (const gchar * path, const gchar * text1, const gchar * text2)
{
  GstElement *src = gst_element_factory_make ("zcipcsrc", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;

  fail_unless (src != NULL);
  if (path)
    g_object_set (src, "socket-path", path, NULL);
  gst_element_set_bus (src, bus);
  fail_unless_equals_int (gst_element_set_state (src, GST_STATE_READY),
      GST_STATE_CHANGE_SUCCESS);
  fail_unless_equals_int (gst_element_set_state (src, GST_STATE_PAUSED),
      GST_STATE_CHANGE_FAILURE);
  msg = zg_bus_pop_error (bus, 0);
  zg_assert_error (msg, src, GST_RESOURCE_ERROR, text1, text2, NULL);
  gst_message_unref (msg);
  fail_unless_equals_int (gst_element_set_state (src, GST_STATE_NULL),
      GST_STATE_CHANGE_SUCCESS);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (src);
}

GST_START_TEST (test_empty_socket_path_fails_at_state_change)
{
  check_start_fails ("", "socket-path", NULL);
  check_start_fails (NULL, "socket-path", NULL);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_too_long_socket_path_fails_at_state_change)
{
  GString *path = g_string_new (tmpdir);

  g_string_append_c (path, '/');
  while (path->len < 200)
    g_string_append_c (path, 'a');
  check_start_fails (path->str, path->str, "too long");
  g_string_free (path, TRUE);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

GST_START_TEST (test_producer_gone_without_reconnect_is_an_error)
{
  ZgProducer *p = start_producer (NULL);
  GstElement *src, *pipeline = consumer_pipeline_new (socket_path,
      "reconnect=false", &src);
  GstBus *bus = gst_element_get_bus (pipeline);

  fail_unless (gst_element_set_state (pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  fail_unless (zg_wait_stats_ge (src, "frames-received", 1));

  zg_producer_free (p);
  expect_error (bus, src, socket_path, "went away");

  gst_object_unref (bus);
  consumer_pipeline_free (pipeline, src);
  zg_assert_resources_back (&before);
}

GST_END_TEST;

static Suite *
zcipcsrc_suite (void)
{
  Suite *s = suite_create ("zcipcsrc");
  TCase *tc;

  tc = tcase_create ("stream");
  tcase_add_unchecked_fixture (tc, zg_tmpdir_base_setup,
      zg_tmpdir_base_teardown);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc,
      test_buffers_keep_the_producers_timestamps_caps_and_strides);
  tcase_add_test (tc,
      test_every_buffer_is_read_only_memory_in_the_consumers_mapping);
  tcase_add_test (tc,
      test_every_memory_is_fd_memory_of_the_region_at_its_offset);
  tcase_add_test (tc, test_writing_needs_a_copy);
  tcase_add_test (tc,
      test_buffer_held_past_null_stays_valid_then_frees_everything);
  tcase_add_test (tc,
      test_held_buffer_keeps_its_bytes_after_the_consumer_stops);
  tcase_add_test (tc, test_a_slots_next_frame_comes_in_the_same_buffer);
  tcase_add_test (tc, test_a_frame_whose_memory_is_still_shared_is_kept);
  tcase_add_test (tc, test_a_frame_whose_memory_part_is_still_shared_is_kept);
  tcase_add_test (tc, test_a_reused_buffer_carries_only_its_own_frames_metas);
  tcase_add_test (tc, test_eos_from_the_producer_becomes_eos_on_the_consumer);
  tcase_add_test (tc, test_latency_query_answers_live);
  tcase_add_test (tc, test_empty_buffers_and_big_metas_cross_and_leave_nothing);
  suite_add_tcase (s, tc);

  tc = tcase_create ("failures");
  tcase_add_unchecked_fixture (tc, zg_tmpdir_base_setup,
      zg_tmpdir_base_teardown);
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc,
      test_nobody_listening_times_out_with_an_error_naming_the_path);
  tcase_add_test (tc, test_empty_socket_path_fails_at_state_change);
  tcase_add_test (tc, test_too_long_socket_path_fails_at_state_change);
  tcase_add_test (tc, test_producer_gone_without_reconnect_is_an_error);
  suite_add_tcase (s, tc);

  return s;
}

GST_CHECK_MAIN (zcipcsrc);
