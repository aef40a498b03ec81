/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* From a rendered buffer to a frame on the wire. See gstzcipcframesender.h
 * for ownership and locking. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sched.h>
#include <string.h>

#include "gstzcipcframesender.h"
#include "gstzcipcserial.h"

/* The sink's parts log in the sink's category, with the sink as object. */
GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_sink_debug);
#define GST_CAT_DEFAULT gst_zcipc_sink_debug
GST_DEBUG_CATEGORY_EXTERN (GST_CAT_PERFORMANCE);

struct _GstZcipcFrameSender
{
  GstElement *sink;             /* not a reference: the sink owns us */
  GstAllocator *allocator;
  GstZcipcRegionTable *regions; /* the sink's */
  GstZcipcSinkCounters *counters;       /* the sink's */
  struct zcipc_server *server;  /* between attach and detach; not owned */
  GByteArray *meta_scratch;     /* the metas of the frame being sent */
  gboolean copy_logged;         /* first copy of the stream said at INFO */
  gboolean meta_refusal_said;   /* first meta too big, posted as WARNING */
};

GstZcipcFrameSender *
gst_zcipc_frame_sender_new (GstElement * sink, GstAllocator * allocator,
    GstZcipcRegionTable * regions, GstZcipcSinkCounters * counters)
{
  GstZcipcFrameSender *sender = g_new0 (GstZcipcFrameSender, 1);

  sender->sink = sink;
  sender->allocator = gst_object_ref (allocator);
  sender->regions = regions;
  sender->counters = counters;
  sender->meta_scratch = g_byte_array_new ();
  return sender;
}

void
gst_zcipc_frame_sender_free (GstZcipcFrameSender * sender)
{
  g_byte_array_unref (sender->meta_scratch);
  gst_object_unref (sender->allocator);
  g_free (sender);
}

void
gst_zcipc_frame_sender_attach (GstZcipcFrameSender * sender,
    struct zcipc_server *server)
{
  sender->server = server;
}

/* The server is gone: the next one starts a new stream, whose first copy
 * and first refused meta are said again. */
void
gst_zcipc_frame_sender_detach (GstZcipcFrameSender * sender)
{
  sender->server = NULL;
  sender->copy_logged = FALSE;
  sender->meta_refusal_said = FALSE;
}

/* gst_buffer_copy_into() leaves out metas tagged "memory" (GstVideoMeta
 * among them) when memories are not copied along. Our copy keeps the byte
 * layout exactly (planes at the same offsets), so they stay true: copy
 * them through their own transform. */
static void
copy_memory_metas (GstBuffer * dest, GstBuffer * src)
{
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta (src, &state))) {
    GstMetaTransformCopy copy_data = { FALSE, 0, (gsize) - 1 };

    if (!gst_meta_api_type_has_tag (meta->info->api,
            g_quark_from_static_string (GST_META_TAG_MEMORY_STR)) ||
        !meta->info->transform_func)
      continue;
    meta->info->transform_func (dest, meta, src, _gst_meta_transform_copy,
        &copy_data);
  }
}

/* `size` bytes of our shared memory, mapped for writing into `map`; NULL
 * when none can be had. */
static GstMemory *
alloc_mapped (GstZcipcFrameSender * self, gsize size, GstMapInfo * map)
{
  GstMemory *mem = gst_allocator_alloc (self->allocator, size, NULL);

  if (mem && !gst_memory_map (mem, map, GST_MAP_WRITE)) {
    gst_memory_unref (mem);
    return NULL;
  }
  return mem;
}

static GstBuffer *
copy_into_shared (GstZcipcFrameSender * self, GstBuffer * buffer,
    const gchar * reason)
{
  gsize size = gst_buffer_get_size (buffer);
  GstBuffer *copy;
  GstMemory *mem;
  GstMapInfo map;

  if (!(mem = alloc_mapped (self, size, &map)))
    return NULL;
  gst_buffer_extract (buffer, 0, map.data, size);
  gst_memory_unmap (mem, &map);
  copy = gst_buffer_new ();
  gst_buffer_append_memory (copy, mem);
  gst_buffer_copy_into (copy, buffer, GST_BUFFER_COPY_METADATA, 0, -1);
  copy_memory_metas (copy, buffer);

  GST_ZCIPC_SINK_COUNT (self->counters, frames_copied, 1);
  GST_ZCIPC_SINK_COUNT (self->counters, bytes_copied, size);
  if (!self->copy_logged) {
    /* Once per stream where it can be seen without LOG level. */
    GST_CAT_INFO_OBJECT (GST_CAT_PERFORMANCE, self->sink, "copying frames into "
        "shared memory (%s): upstream did not allocate from zcipcsink's "
        "pool or allocator (behind a tee, say); frames-copied counts them",
        reason);
    self->copy_logged = TRUE;
  }
  GST_CAT_LOG_OBJECT (GST_CAT_PERFORMANCE, self->sink, "copied %" G_GSIZE_FORMAT
      " bytes into shared memory: %s", size, reason);
  return copy;
}

/* The serializer's limits fit the wire's: what it lets through inline fits
 * a frame's message, and the rest a metas' region. */
G_STATIC_ASSERT (GST_ZCIPC_MAX_META_SIZE <= ZCIPC_WIRE_MAX_META_SIZE);
G_STATIC_ASSERT (GST_ZCIPC_MAX_INLINE_META_SIZE + sizeof (struct
        zcipc_wire_frame) + (ZCIPC_WIRE_MAX_MEMS + 1) *
    sizeof (struct zcipc_wire_mem) <= ZCIPC_WIRE_MAX_MESSAGE_SIZE);

/* Metas too big for the frame's message go in shared memory of their own,
 * named by one more mem at the end of `mems`. The frame handed to the
 * server is then a buffer that holds that memory and (as its parent) the
 * frame's buffer, so that both live until every consumer released it.
 * Returns that buffer (a new reference), or NULL after an error. */
static GstBuffer *
put_metas_in_region (GstZcipcFrameSender * self, GstBuffer * shared,
    struct zcipc_wire_mem *meta_mem)
{
  gsize size = self->meta_scratch->len, offset;
  GstZcipcRegion *region;
  GstBuffer *carrier;
  GstMemory *mem;
  GstMapInfo map;

  if (!(mem = alloc_mapped (self, size, &map))) {
    GST_ELEMENT_ERROR (self->sink, RESOURCE, NO_SPACE_LEFT,
        ("Could not allocate %" G_GSIZE_FORMAT " bytes of shared memory for "
            "a frame's metas", size), (NULL));
    return NULL;
  }
  memcpy (map.data, self->meta_scratch->data, size);
  gst_memory_unmap (mem, &map);
  region = gst_zcipc_memory_get_region (mem, &offset);
  if (!gst_zcipc_region_table_announce (self->regions, region)) {
    gst_memory_unref (mem);
    return NULL;
  }
  *meta_mem = (struct zcipc_wire_mem) {
    .region_id = region->id,.offset = offset,.size = size
  };
  carrier = gst_buffer_new ();
  gst_buffer_append_memory (carrier, mem);
  gst_buffer_add_parent_buffer_meta (carrier, shared);
  GST_LOG_OBJECT (self->sink, "%" G_GSIZE_FORMAT " bytes of metas in region %u",
      size, region->id);
  return carrier;
}

/* Serializes the metas of `shared` into self->meta_scratch. A meta that
 * cannot cross for its size is said once per stream, as a WARNING. */
static void
serialize_metas (GstZcipcFrameSender * self, GstBuffer * shared)
{
  const gchar *too_big = NULL;
  gsize too_big_size = 0;
  guint n_skipped = 0;

  g_byte_array_set_size (self->meta_scratch, 0);
  gst_zcipc_metas_serialize (shared, self->meta_scratch, &n_skipped,
      &too_big, &too_big_size);
  if (n_skipped)
    GST_ZCIPC_SINK_COUNT (self->counters, metas_skipped, n_skipped);
  if (too_big && !self->meta_refusal_said) {
    GST_ELEMENT_WARNING (self->sink, STREAM, FAILED,
        ("A %s of %" G_GSIZE_FORMAT " bytes was left out of a frame: a "
            "frame's metas cross up to %u bytes in all", too_big,
            too_big_size, GST_ZCIPC_MAX_META_SIZE),
        ("counted in metas-skipped; said once per stream"));
    self->meta_refusal_said = TRUE;
  }
}

/**
 * gst_zcipc_frame_sender_copy:
 *
 * A copy of `buffer` in our shared memory, described in `mems` (`reason`:
 * why it is copied, for the log); NULL after posting an error.
 */
GstBuffer *
gst_zcipc_frame_sender_copy (GstZcipcFrameSender * self, GstBuffer * buffer,
    GstZcipcFrameMems * mems, const gchar * reason)
{
  GstBuffer *copy = copy_into_shared (self, buffer, reason);

  if (!copy || !gst_zcipc_region_table_describe (self->regions, copy, mems,
          &reason)) {
    gst_clear_buffer (&copy);
    GST_ELEMENT_ERROR (self->sink, RESOURCE, NO_SPACE_LEFT,
        ("Could not allocate shared memory for a frame of %" G_GSIZE_FORMAT
            " bytes", gst_buffer_get_size (buffer)), (NULL));
  }
  return copy;
}

/* The frame handed to the server for `shared`, its metas serialized in
 * self->meta_scratch: `shared` itself when they fit the frame's message
 * (`meta_size` of them go inline), else a buffer carrying them in a region
 * of their own, named by one more mem in `mems`. NULL after an error. */
static GstBuffer *
attach_metas (GstZcipcFrameSender * self, GstBuffer * shared,
    GstZcipcFrameMems * mems, struct zcipc_wire_frame *info, guint * meta_size)
{
  GstBuffer *frame;

  serialize_metas (self, shared);
  *meta_size = self->meta_scratch->len;
  if (*meta_size <= GST_ZCIPC_MAX_INLINE_META_SIZE)
    return gst_buffer_ref (shared);
  frame = put_metas_in_region (self, shared, &mems->mems[mems->n_mems]);
  if (!frame)
    return NULL;
  mems->n_mems++;
  *meta_size = 0;
  info->frame_flags = ZCIPC_FRAME_FLAG_METAS_IN_REGION;
  return frame;
}

static void
fill_frame_info (struct zcipc_wire_frame *info, GstBuffer * shared)
{
  info->pts = GST_BUFFER_PTS (shared);
  info->dts = GST_BUFFER_DTS (shared);
  info->duration = GST_BUFFER_DURATION (shared);
  info->offset = GST_BUFFER_OFFSET (shared);
  info->offset_end = GST_BUFFER_OFFSET_END (shared);
  info->flags = GST_BUFFER_FLAGS (shared) & ~GST_BUFFER_FLAG_TAG_MEMORY;
}

/* Releases are read with the next frame instead of waking a thread for
 * each (half the wake-ups per frame) when `lazy`: the sink says so when the
 * buffers come from its pool (which reclaims them when it runs dry) or are
 * our copies. Someone else's pool could run dry waiting for a frame that
 * needs its buffers. */
static void
choose_release_reading (GstZcipcFrameSender * self, gboolean lazy)
{
  zcipc_server_set_lazy_releases (self->server, lazy ?
      ZCIPC_SERVER_LAZY_WINDOW_NS : 0);
}

/* Waking a consumer queues it, often on our CPU, behind the rest of this
 * streaming thread's iteration: let it run first. A consumer still busy
 * with an earlier frame (it takes this one from its channel without
 * sleeping) was not woken: no yield, no system call. */
static void
yield_to_woken_consumers (GstZcipcFrameSender * self, guint n_sent,
    gboolean yield_after_send)
{
  if (n_sent && yield_after_send && zcipc_server_last_frame_woke (self->server))
    sched_yield ();
}

/* Sends `shared` (described by `mems`, its regions announced) to every
 * consumer that can take it. */
GstFlowReturn
gst_zcipc_frame_sender_send (GstZcipcFrameSender * self, GstBuffer * shared,
    GstZcipcFrameMems * mems, gboolean lazy_releases, gboolean yield_after_send)
{
  struct zcipc_wire_frame info = { {0} };
  unsigned int n_sent = 0;
  GstBuffer *frame;
  guint meta_size;
  int res;

  if (!(frame = attach_metas (self, shared, mems, &info, &meta_size)))
    return GST_FLOW_ERROR;
  fill_frame_info (&info, shared);
  choose_release_reading (self, lazy_releases);
  res = zcipc_server_send_frame (self->server, &info, mems->mems,
      mems->n_mems, self->meta_scratch->data, meta_size, frame, &n_sent);
  yield_to_woken_consumers (self, n_sent, yield_after_send);
  gst_buffer_unref (frame);
  if (res < 0) {
    GST_ELEMENT_ERROR (self->sink, STREAM, FAILED,
        ("Could not describe a frame to consumers"),
        ("zcipc_server_send_frame: %s (%u metas bytes)", g_strerror (-res),
            self->meta_scratch->len));
    return GST_FLOW_ERROR;
  }
  GST_LOG_OBJECT (self->sink,
      "frame %" GST_TIME_FORMAT " (%u memories, %u bytes "
      "of metas) sent to %u consumers", GST_TIME_ARGS (info.pts), mems->n_mems,
      self->meta_scratch->len, n_sent);
  return GST_FLOW_OK;
}
