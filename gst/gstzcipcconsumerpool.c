/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/**
 * SECTION:gstzcipcconsumerpool
 * @title: GstZcipcConsumerPool
 * @short_description: zcipcsrc's GstBuffers: frames from the producer
 *   wrapped in place, kept per slot and reused
 *
 * Every frame zcipcsrc pushes from shared memory is made here. A frame is
 * one or more ranges of regions the consumer maps once. Each range becomes
 * a share of its region's one parent memory: an fd memory of
 * #GstZcipcConsumerAllocator for a memfd region (mapping it gives the
 * consumer's mapping), a #GstDmaBufMemory for a region the producer passed
 * as DMABuf. Either way the memory says its fd (gst_fd_memory_get_fd()) and
 * its offset in it (the memory's offset).
 *
 * The producer sends frames from the same few slots over and over. For
 * frames in memfd regions the pool keeps, for each slot, the #GstBuffer
 * with its memories that carried the slot's last frame, and hands it out
 * again for the next frame in that slot: no buffer, memory or bookkeeping
 * is allocated per frame in steady state, and the structures a cold path
 * touches are the same few. Frames in DMABuf regions get a new buffer each.
 *
 * The frame is given back to the producer when the buffer comes back to
 * the pool with its memories as they were and held by nobody else. When
 * downstream still holds one of them or a share of one (a copy of the
 * buffer, a sub-buffer) or changed them, the buffer is not reused: the
 * frame goes back when its last memory is freed, as for a buffer that never
 * came from a pool.
 *
 * A buffer's metas are kept for the slot's next frame only when that
 * frame brings the same serialized metas and the buffer comes back with
 * exactly the metas it went out with, field by field: a writer downstream
 * may add metas to a buffer it made writable (the same buffer, when it
 * held the only reference) or change the ones it has. Only plain-data
 * metas are kept that way (#GstVideoMeta, #GstVideoCropMeta: the common
 * case, a video frame with its layout); others are removed when the buffer
 * comes back and made again for each frame.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* F_DUPFD_CLOEXEC under -std=c11 */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>
#include <gst/video/video.h>

#include "gstzcipcconsumerallocator.h"
#include "gstzcipcconsumerpool.h"

GST_DEBUG_CATEGORY_STATIC (gst_zcipc_consumer_pool_debug);
#define GST_CAT_DEFAULT gst_zcipc_consumer_pool_debug

/* More than any producer's pool has slots; bounds what slots of regions
 * gone long ago can keep (a buffer and a memory each, no mapping). */
#define MAX_CACHED 64

/* Kept metas: at most this many, made from serialized metas of at most
 * KEPT_BLOB_MAX bytes. */
#define KEPT_METAS_MAX 2
#define KEPT_BLOB_MAX 256

/* A kept meta as it was made. */
typedef union
{
  GstMeta meta;
  GstVideoMeta video;
  GstVideoCropMeta crop;
} KeptMeta;

/* A frame held from the producer, and the memories that read it. Kept
 * alive by each of its memories (and the shares of them), and by its
 * buffer when the pool keeps that for reuse: whichever goes last gives back
 * a frame still held. A buffer of the pool carries its slot's frames one
 * after the other (the same memories, a new seq each time). */
typedef struct
{
  gint refs;
  GstBuffer *buffer;            /* the pool's, not a reference; else NULL */
  guint generation;             /* the pool's, when the buffer was made */
  guint n_mems;
  const guint8 *data[ZCIPC_WIRE_MAX_MEMS];
  gsize size[ZCIPC_WIRE_MAX_MEMS];
  gsize offset[ZCIPC_WIRE_MAX_MEMS];    /* in the region */
  GstMemory *region[ZCIPC_WIRE_MAX_MEMS];       /* parents, not references */

  /* Written by the streaming thread before the buffer goes out; read when
   * it comes back or its last reference goes, after it went out. */
  struct zcipc_client *client;
  guint64 seq;
  gboolean held;

  /* The metas on the buffer, as made from `blob`, and a copy of each as
   * it was made: compared with what comes back. */
  gboolean metas_kept;
  guint32 blob_size;
  guint8 blob[KEPT_BLOB_MAX];
  guint n_kept;
  GstMeta *kept[KEPT_METAS_MAX];
  KeptMeta kept_as_made[KEPT_METAS_MAX];
} HeldFrame;

/* A region of the connection, as the frames in it are wrapped. */
typedef struct
{
  GstMemory *memory;            /* the parent every frame shares */
  gboolean dmabuf;              /* memory is a GstDmaBufMemory */
  /* The region it was made for: a region id the producer reuses names a
   * new fd and mapping. */
  const guint8 *data;
  gint fd;
  guint64 size;
} Region;

struct _GstZcipcConsumerPool
{
  GstBufferPool parent;

  GMutex lock;                  /* protects free and generation */
  GPtrArray *free;              /* HeldFrame*, each owning its buffer;
                                 * the last released last */
  guint generation;             /* bumped by flush(): older buffers go */

  /* Streaming thread: region id -> Region* of this connection */
  GHashTable *regions;
  GstAllocator *allocator;      /* fd memory over memfd regions */
  GstAllocator *dmabuf_allocator;

  guint64 reused;               /* atomic */
  guint dmabuf_regions;         /* atomic */
};

#define gst_zcipc_consumer_pool_parent_class parent_class
G_DEFINE_TYPE (GstZcipcConsumerPool, gst_zcipc_consumer_pool,
    GST_TYPE_BUFFER_POOL);

/* ----------------------------------------------------------- held frames */

static GQuark
held_frame_quark (void)
{
  static GQuark quark = 0;

  if (!quark)
    quark = g_quark_from_static_string ("GstZcipcHeldFrame");
  return quark;
}

static void
held_frame_unref (gpointer data)
{
  HeldFrame *frame = data;

  if (!g_atomic_int_dec_and_test (&frame->refs))
    return;
  /* Gives back the frame (and the client reference it held: the last frame
   * of a closed connection unmaps its regions here). */
  if (frame->held)
    zcipc_client_release (frame->client, frame->seq);
  g_free (frame);
}

static HeldFrame *
held_frame_of (gpointer object)
{
  return gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (object),
      held_frame_quark ());
}

/* Makes `mem` hold `frame` (one reference) until it is freed. */
static void
hold_frame (GstMemory * mem, HeldFrame * frame)
{
  g_atomic_int_inc (&frame->refs);
  gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (mem), held_frame_quark (),
      frame, held_frame_unref);
}

/* On an allocator whose share we wrap: its own. */
static GQuark
fd_share_quark (void)
{
  static GQuark quark = 0;

  if (!quark)
    quark = g_quark_from_static_string ("GstZcipcFdShare");
  return quark;
}

/* A share of a share of fd memory has the region's parent as its parent,
 * not the frame's memory it was made from: it holds that memory's frame
 * itself, or the frame would go back to the producer while it still reads
 * it. */
static GstMemory *
share_holding_frame (GstMemory * mem, gssize offset, gssize size)
{
  GstMemoryShareFunction share = g_object_get_qdata (G_OBJECT
      (mem->allocator), fd_share_quark ());
  GstMemory *sub = share (mem, offset, size);
  HeldFrame *frame = held_frame_of (mem);

  if (sub && frame)
    hold_frame (sub, frame);
  return sub;
}

static void
make_shares_hold_frames (GstAllocator * allocator)
{
  g_object_set_qdata (G_OBJECT (allocator), fd_share_quark (),
      allocator->mem_share);
  allocator->mem_share = share_holding_frame;
}

/* --------------------------------------------------------------- regions */

static void
region_free (gpointer data)
{
  Region *region = data;

  gst_memory_unref (region->memory);
  g_free (region);
}

/* The one read-only DMABuf memory over a DMABuf region, made at its first
 * frame with a duplicate of the region's fd. KEEP_MAPPED: the first CPU map
 * downstream mmaps it, and it stays mapped until the memory goes (the
 * region removed or the connection gone, and its last frame released), so
 * there is no per-frame mmap. NULL when the fd cannot be wrapped. */
static GstMemory *
dmabuf_region_memory (GstZcipcConsumerPool * self,
    const struct zcipc_client_mem *m)
{
  GstMemory *memory;
  int fd;

  if ((fd = fcntl (m->region_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
    GST_WARNING_OBJECT (self, "could not duplicate the fd of DMABuf region "
        "%u: %s; its frames are pushed as fd memory", m->region_id,
        g_strerror (errno));
    return NULL;
  }
  /* Owns fd from here on (closed when the memory is freed). */
  memory = gst_dmabuf_allocator_alloc_with_flags (self->dmabuf_allocator, fd,
      (gsize) m->region_size, GST_FD_MEMORY_FLAG_KEEP_MAPPED);
  if (!memory) {
    close (fd);
    return NULL;
  }
  /* Shares inherit it: a writer downstream copies, never maps writable. */
  GST_MINI_OBJECT_FLAG_SET (memory, GST_MEMORY_FLAG_READONLY);
  GST_DEBUG_OBJECT (self, "DMABuf region %u: %" G_GUINT64_FORMAT " bytes, "
      "fd %d", m->region_id, m->region_size, fd);
  return memory;
}

/* The parent memory of the region `m` lies in, made at its first frame. */
static GstMemory *
region_memory (GstZcipcConsumerPool * self, const struct zcipc_client_mem *m)
{
  gpointer key = GUINT_TO_POINTER (m->region_id);
  Region *region = g_hash_table_lookup (self->regions, key);

  if (region && region->data == m->region_data && region->fd == m->region_fd
      && region->size == m->region_size)
    return region->memory;
  if (region)
    gst_zcipc_consumer_pool_forget_region (self, m->region_id);

  region = g_new0 (Region, 1);
  region->data = m->region_data;
  region->fd = m->region_fd;
  region->size = m->region_size;
  if (m->region_flags & ZCIPC_REGION_FLAG_DMABUF)
    region->memory = dmabuf_region_memory (self, m);
  region->dmabuf = region->memory != NULL;
  if (!region->memory)
    region->memory = gst_zcipc_consumer_allocator_wrap_region
        (self->allocator, m->region_fd, m->region_data, m->region_size);
  if (region->dmabuf)
    g_atomic_int_inc (&self->dmabuf_regions);
  g_hash_table_insert (self->regions, key, region);
  return region->memory;
}

/**
 * gst_zcipc_consumer_pool_forget_region:
 * @pool: the pool
 * @region_id: a region the producer no longer announces
 *
 * Drops the pool's memory of the region: frames still held keep it (a share
 * holds its parent) until the last of them goes.
 */
void
gst_zcipc_consumer_pool_forget_region (GstZcipcConsumerPool * pool,
    guint32 region_id)
{
  gpointer key = GUINT_TO_POINTER (region_id);
  Region *region = g_hash_table_lookup (pool->regions, key);

  if (!region)
    return;
  if (region->dmabuf)
    g_atomic_int_add (&pool->dmabuf_regions, -1);
  g_hash_table_remove (pool->regions, key);
}

/* ------------------------------------------------------ making buffers */

/* Whether `frame` is the slot of `ev`: the same ranges of the same region
 * memories. */
static gboolean
wraps (const HeldFrame * frame, const struct zcipc_client_event *ev,
    GstMemory * const *regions)
{
  if (frame->n_mems != ev->frame.n_mems)
    return FALSE;
  for (guint i = 0; i < frame->n_mems; i++)
    if (frame->data[i] != ev->frame.mems[i].data ||
        frame->size[i] != ev->frame.mems[i].size ||
        frame->region[i] != regions[i])
      return FALSE;
  return TRUE;
}

/* Frees a kept buffer (which frees its frame). */
static void
free_held_frame_buffer (gpointer data)
{
  gst_buffer_unref (((HeldFrame *) data)->buffer);
}

/* A frame holding nothing yet, with a new buffer whose memories are shares
 * of `regions` at `ev`'s ranges, each holding the frame. */
static HeldFrame *
new_frame (const struct zcipc_client_event *ev, GstMemory * const *regions)
{
  HeldFrame *frame = g_new0 (HeldFrame, 1);

  frame->buffer = gst_buffer_new ();
  frame->n_mems = ev->frame.n_mems;
  for (guint i = 0; i < frame->n_mems; i++) {
    const struct zcipc_client_mem *m = &ev->frame.mems[i];
    GstMemory *mem = gst_memory_share (regions[i], (gssize) m->offset,
        (gssize) m->size);

    frame->data[i] = m->data;
    frame->size[i] = m->size;
    frame->offset[i] = m->offset;
    frame->region[i] = regions[i];
    hold_frame (mem, frame);
    gst_buffer_append_memory (frame->buffer, mem);
  }
  return frame;
}

/* The frame now carries `ev`'s frame of `client`, given back by the last
 * of what holds it. */
static void
take_frame (HeldFrame * frame, struct zcipc_client *client,
    const struct zcipc_client_event *ev)
{
  frame->client = client;
  frame->seq = ev->frame.info.seq;
  frame->held = TRUE;
}

static void
find_regions (GstZcipcConsumerPool * self, const struct zcipc_client_event *ev,
    GstMemory ** regions)
{
  for (guint i = 0; i < ev->frame.n_mems; i++)
    regions[i] = region_memory (self, &ev->frame.mems[i]);
}

/* The slot's kept frame (and buffer) if it is free, else NULL. */
static HeldFrame *
steal_kept_frame (GstZcipcConsumerPool * self,
    const struct zcipc_client_event *ev, GstMemory * const *regions,
    guint * generation)
{
  HeldFrame *found = NULL;

  g_mutex_lock (&self->lock);
  *generation = self->generation;
  for (guint i = self->free->len; i-- > 0;) {
    if (wraps (g_ptr_array_index (self->free, i), ev, regions)) {
      found = g_ptr_array_steal_index (self->free, i);
      break;
    }
  }
  g_mutex_unlock (&self->lock);
  return found;
}

static GstFlowReturn
gst_zcipc_consumer_pool_acquire_buffer (GstBufferPool * pool,
    GstBuffer ** buffer, GstBufferPoolAcquireParams * params)
{
  GstZcipcConsumerPool *self = GST_ZCIPC_CONSUMER_POOL (pool);
  GstZcipcConsumerPoolAcquireParams *wanted =
      (GstZcipcConsumerPoolAcquireParams *) params;
  GstMemory *regions[ZCIPC_WIRE_MAX_MEMS] = { NULL, };
  HeldFrame *frame;
  guint generation;

  g_return_val_if_fail (wanted != NULL && wanted->event != NULL,
      GST_FLOW_ERROR);
  find_regions (self, wanted->event, regions);
  frame = steal_kept_frame (self, wanted->event, regions, &generation);
  if (frame) {
    g_atomic_pointer_add (&self->reused, 1);
  } else {
    frame = new_frame (wanted->event, regions);
    frame->generation = generation;
    /* The pool's buffer holds it too, while it is kept for reuse. */
    g_atomic_int_inc (&frame->refs);
    gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (frame->buffer),
        held_frame_quark (), frame, held_frame_unref);
  }
  take_frame (frame, wanted->client, wanted->event);
  *buffer = frame->buffer;
  return GST_FLOW_OK;
}

static gboolean
remove_meta (GstBuffer * buffer, GstMeta ** meta, gpointer user_data)
{
  /* A locked one stays, and keeps the buffer from being reused. */
  if (!GST_META_FLAG_IS_SET (*meta, GST_META_FLAG_LOCKED))
    *meta = NULL;
  return TRUE;
}

static gboolean
plain_data_meta (const GstMeta * meta)
{
  return meta->info->api == GST_VIDEO_META_API_TYPE ||
      meta->info->api == GST_VIDEO_CROP_META_API_TYPE;
}

/* Field by field: the structures' padding is never written, so comparing
 * their bytes would read uninitialised memory. */
static gboolean
same_video_meta (const GstVideoMeta * a, const GstVideoMeta * b)
{
  if (a->buffer != b->buffer || a->flags != b->flags ||
      a->format != b->format || a->id != b->id || a->width != b->width ||
      a->height != b->height || a->n_planes != b->n_planes ||
      a->map != b->map || a->unmap != b->unmap ||
      a->alignment.padding_top != b->alignment.padding_top ||
      a->alignment.padding_bottom != b->alignment.padding_bottom ||
      a->alignment.padding_left != b->alignment.padding_left ||
      a->alignment.padding_right != b->alignment.padding_right)
    return FALSE;
  for (guint i = 0; i < GST_VIDEO_MAX_PLANES; i++)
    if (a->offset[i] != b->offset[i] || a->stride[i] != b->stride[i] ||
        a->alignment.stride_align[i] != b->alignment.stride_align[i])
      return FALSE;
  return TRUE;
}

static gboolean
same_meta (const GstMeta * meta, const KeptMeta * as_made)
{
  if (meta->info != as_made->meta.info || meta->flags != as_made->meta.flags)
    return FALSE;
  if (meta->info->api == GST_VIDEO_META_API_TYPE)
    return same_video_meta ((const GstVideoMeta *) meta, &as_made->video);
  if (meta->info->api == GST_VIDEO_CROP_META_API_TYPE) {
    const GstVideoCropMeta *crop = (const GstVideoCropMeta *) meta;

    return crop->x == as_made->crop.x && crop->y == as_made->crop.y &&
        crop->width == as_made->crop.width &&
        crop->height == as_made->crop.height;
  }
  return FALSE;
}

/* Whether the buffer's metas are exactly the kept ones, unchanged. */
static gboolean
kept_metas_intact (GstBuffer * buffer, const HeldFrame * frame)
{
  gpointer state = NULL;
  GstMeta *meta;
  guint n = 0;

  if (!frame->metas_kept)
    return FALSE;
  while ((meta = gst_buffer_iterate_meta (buffer, &state))) {
    if (n == frame->n_kept || meta != frame->kept[n] ||
        !same_meta (meta, &frame->kept_as_made[n]))
      return FALSE;
    n++;
  }
  return n == frame->n_kept;
}

static void
remove_metas (GstBuffer * buffer, HeldFrame * frame)
{
  gst_buffer_foreach_meta (buffer, remove_meta, NULL);
  frame->metas_kept = FALSE;
}

static void
gst_zcipc_consumer_pool_reset_buffer (GstBufferPool * pool, GstBuffer * buffer)
{
  /* Not GstBufferPool's: it resizes a buffer to the configured size, which
   * this pool has none of. Timestamps and flags are set per frame, metas
   * are dealt with in release_buffer(), which looks up the frame anyway. */
}

/* Whether the buffer still holds exactly the memories it was made with,
 * whole, and nobody else holds them or a share of them (then nobody can
 * read the frame through it any more), and has no meta but kept ones
 * (after the others were removed). */
static gboolean
intact_and_unshared (GstBuffer * buffer, HeldFrame * frame)
{
  gpointer state = NULL;

  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_TAG_MEMORY) ||
      gst_buffer_n_memory (buffer) != frame->n_mems ||
      (!frame->metas_kept && gst_buffer_iterate_meta (buffer, &state)) ||
      g_atomic_int_get (&frame->refs) != 1 + (gint) frame->n_mems)
    return FALSE;
  for (guint i = 0; i < frame->n_mems; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buffer, i);
    gsize offset, size;

    size = gst_memory_get_sizes (mem, &offset, NULL);
    if (GST_MINI_OBJECT_REFCOUNT_VALUE (mem) != 1 ||
        offset != frame->offset[i] || size != frame->size[i] ||
        held_frame_of (mem) != frame)
      return FALSE;
  }
  return TRUE;
}

static void
gst_zcipc_consumer_pool_release_buffer (GstBufferPool * pool,
    GstBuffer * buffer)
{
  GstZcipcConsumerPool *self = GST_ZCIPC_CONSUMER_POOL (pool);
  HeldFrame *frame = held_frame_of (buffer);
  GstBuffer *evicted = NULL;

  if (frame && !kept_metas_intact (buffer, frame))
    remove_metas (buffer, frame);
  if (!frame || !intact_and_unshared (buffer, frame)) {
    /* Its frame goes back with the last of its memories. */
    gst_buffer_unref (buffer);
    return;
  }
  if (frame->held) {
    frame->held = FALSE;
    zcipc_client_release (frame->client, frame->seq);
  }

  g_mutex_lock (&self->lock);
  if (frame->generation != self->generation) {
    evicted = buffer;           /* made for a connection that is gone */
  } else {
    if (self->free->len == MAX_CACHED)
      evicted = ((HeldFrame *) g_ptr_array_steal_index (self->free, 0))->buffer;
    g_ptr_array_add (self->free, frame);
  }
  g_mutex_unlock (&self->lock);
  if (evicted)
    gst_buffer_unref (evicted);
}

static void
gst_zcipc_consumer_pool_free_buffer (GstBufferPool * pool, GstBuffer * buffer)
{
  gst_buffer_unref (buffer);
}

/* A frame with memory in a DMABuf region: a new buffer, not kept for
 * reuse, whose memories hold the frame. */
static GstBuffer *
wrap_unpooled (GstZcipcConsumerPool * self, struct zcipc_client *client,
    const struct zcipc_client_event *ev)
{
  GstMemory *regions[ZCIPC_WIRE_MAX_MEMS] = { NULL, };
  HeldFrame *frame;
  GstBuffer *buffer;

  find_regions (self, ev, regions);
  frame = new_frame (ev, regions);
  take_frame (frame, client, ev);
  buffer = frame->buffer;
  frame->buffer = NULL;
  return buffer;
}

/**
 * gst_zcipc_consumer_pool_wrap:
 * @pool: the pool
 * @client: the connection the frame came from
 * @ev: a frame event of @client, with memory
 * @metas_ready: (out): TRUE when the buffer already carries the metas
 *   the frame's serialized metas make (kept from the slot's last frame)
 *
 * Returns: (transfer full): a buffer whose memories read the frame in place,
 * holding the frame: it goes back to the producer when the buffer comes
 * back to the pool, or else with the last of its memories. Timestamps and
 * flags are the caller's to set, and the metas unless @metas_ready (then
 * gst_zcipc_consumer_pool_keep_metas() after adding them).
 */
GstBuffer *
gst_zcipc_consumer_pool_wrap (GstZcipcConsumerPool * pool,
    struct zcipc_client *client, const struct zcipc_client_event *ev,
    gboolean * metas_ready)
{
  GstZcipcConsumerPoolAcquireParams params = {
    .client = client,.event = ev,
  };
  GstBuffer *buffer = NULL;
  HeldFrame *frame;

  *metas_ready = FALSE;
  for (guint i = 0; i < ev->frame.n_mems; i++)
    if (ev->frame.mems[i].region_flags & ZCIPC_REGION_FLAG_DMABUF)
      return wrap_unpooled (pool, client, ev);

  if (gst_buffer_pool_acquire_buffer (GST_BUFFER_POOL_CAST (pool), &buffer,
          &params.parent) != GST_FLOW_OK)
    return NULL;
  frame = held_frame_of (buffer);
  *metas_ready = frame->metas_kept && frame->blob_size == ev->frame.meta_size
      && memcmp (frame->blob, ev->frame.meta, ev->frame.meta_size) == 0;
  if (!*metas_ready && frame->metas_kept)
    remove_metas (buffer, frame);
  return buffer;
}

/**
 * gst_zcipc_consumer_pool_keep_metas:
 * @pool: the pool
 * @buffer: a buffer of gst_zcipc_consumer_pool_wrap(), with the metas made
 *   from @blob just added
 * @blob: the frame's serialized metas
 * @size: their size
 *
 * Keeps @buffer's metas for the slot's next frame, if it brings the same
 * @blob and they come back unchanged; only plain-data metas are kept. A
 * buffer the pool does not keep for reuse (a DMABuf frame's) keeps none.
 */
void
gst_zcipc_consumer_pool_keep_metas (GstZcipcConsumerPool * pool,
    GstBuffer * buffer, const guint8 * blob, guint32 size)
{
  HeldFrame *frame = held_frame_of (buffer);
  gpointer state = NULL;
  GstMeta *meta;
  guint n = 0;

  if (!frame)
    return;
  frame->metas_kept = FALSE;
  if (size > KEPT_BLOB_MAX)
    return;
  while ((meta = gst_buffer_iterate_meta (buffer, &state))) {
    if (n == KEPT_METAS_MAX || !plain_data_meta (meta))
      return;
    frame->kept[n] = meta;
    if (meta->info->api == GST_VIDEO_META_API_TYPE)
      frame->kept_as_made[n].video = *(GstVideoMeta *) meta;
    else
      frame->kept_as_made[n].crop = *(GstVideoCropMeta *) meta;
    n++;
  }
  frame->n_kept = n;
  memcpy (frame->blob, blob, size);
  frame->blob_size = size;
  frame->metas_kept = TRUE;
}

/**
 * gst_zcipc_consumer_pool_flush:
 * @pool: the pool
 *
 * The connection is gone (its client may unmap its regions once its last
 * frame is back): its regions are forgotten, the buffers kept for it are
 * freed, and those still out are freed when they come back.
 */
void
gst_zcipc_consumer_pool_flush (GstZcipcConsumerPool * pool)
{
  GPtrArray *old;

  g_hash_table_remove_all (pool->regions);
  g_atomic_int_set (&pool->dmabuf_regions, 0);
  g_mutex_lock (&pool->lock);
  pool->generation++;
  old = pool->free;
  pool->free = g_ptr_array_new_with_free_func (free_held_frame_buffer);
  g_mutex_unlock (&pool->lock);
  g_ptr_array_unref (old);
}

/* Frames that found their slot's buffer kept, since the pool was made. */
guint64
gst_zcipc_consumer_pool_reused (GstZcipcConsumerPool * pool)
{
  return g_atomic_pointer_get (&pool->reused);
}

/* DMABuf regions of the connection whose frames are DMABuf memory. */
guint
gst_zcipc_consumer_pool_n_dmabuf_regions (GstZcipcConsumerPool * pool)
{
  return (guint) g_atomic_int_get (&pool->dmabuf_regions);
}

GstZcipcConsumerPool *
gst_zcipc_consumer_pool_new (void)
{
  GstZcipcConsumerPool *pool = g_object_new (GST_TYPE_ZCIPC_CONSUMER_POOL,
      NULL);
  GstBufferPool *base = GST_BUFFER_POOL_CAST (pool);
  GstStructure *config = gst_buffer_pool_get_config (base);

  gst_object_ref_sink (pool);
  /* Active, so that GstBufferPool does not look for buffers to free each
   * time the last one comes back; it preallocates nothing (min 0). */
  gst_buffer_pool_config_set_params (config, NULL, 0, 0, 0);
  if (!gst_buffer_pool_set_config (base, config) ||
      !gst_buffer_pool_set_active (base, TRUE))
    GST_WARNING_OBJECT (pool, "could not activate the consumer pool");
  return pool;
}

static void
gst_zcipc_consumer_pool_finalize (GObject * object)
{
  GstZcipcConsumerPool *self = GST_ZCIPC_CONSUMER_POOL (object);

  g_ptr_array_unref (self->free);
  g_hash_table_unref (self->regions);
  gst_object_unref (self->allocator);
  gst_object_unref (self->dmabuf_allocator);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_zcipc_consumer_pool_init (GstZcipcConsumerPool * self)
{
  g_mutex_init (&self->lock);
  self->free = g_ptr_array_new_with_free_func (free_held_frame_buffer);
  self->regions = g_hash_table_new_full (NULL, NULL, NULL, region_free);
  self->allocator = gst_zcipc_consumer_allocator_new ();
  self->dmabuf_allocator = gst_dmabuf_allocator_new ();
  make_shares_hold_frames (self->allocator);
  make_shares_hold_frames (self->dmabuf_allocator);
}

static void
gst_zcipc_consumer_pool_class_init (GstZcipcConsumerPoolClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  gobject_class->finalize = gst_zcipc_consumer_pool_finalize;
  pool_class->acquire_buffer = gst_zcipc_consumer_pool_acquire_buffer;
  pool_class->reset_buffer = gst_zcipc_consumer_pool_reset_buffer;
  pool_class->release_buffer = gst_zcipc_consumer_pool_release_buffer;
  pool_class->free_buffer = gst_zcipc_consumer_pool_free_buffer;

  GST_DEBUG_CATEGORY_INIT (gst_zcipc_consumer_pool_debug, "zcipcconsumerpool",
      0, "zcipcsrc's buffers: frames wrapped in place, reused per slot");
}
