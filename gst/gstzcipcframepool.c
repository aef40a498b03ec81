/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/**
 * SECTION:gstzcipcframepool
 * @title: GstZcipcFramePool
 * @short_description: zcipcsrc's GstBuffers, kept per slot and reused
 *
 * A frame from the producer is one or more ranges of a region the consumer
 * maps once; the producer sends frames from the same few slots over and
 * over. This pool keeps, for each slot, the #GstBuffer with its wrapped
 * read-only #GstMemory that carried the slot's last frame, and hands it out
 * again for the next frame in that slot: no buffer, memory or bookkeeping
 * is allocated per frame in steady state, and the structures a cold path
 * touches are the same few.
 *
 * The frame is given back to the producer when the buffer comes back to
 * the pool with its memories as they were and held by nobody else. When
 * downstream still holds one of them (a copy of the buffer shares them) or
 * changed them, the buffer is not reused: the frame goes back when its
 * last memory is freed, as for a buffer that never came from a pool.
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
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include <gst/video/video.h>

#include "gstzcipcframepool.h"

GST_DEBUG_CATEGORY_STATIC (gst_zcipc_frame_pool_debug);
#define GST_CAT_DEFAULT gst_zcipc_frame_pool_debug

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

/* One buffer's frame: what it wraps, and which frame it holds now. Kept
 * alive by the buffer and by each of its memories, so that whichever goes
 * last gives back a frame still held. */
typedef struct
{
  gint refs;
  GstBuffer *buffer;            /* not a reference */
  guint generation;             /* the pool's, when the buffer was made */
  guint n_mems;
  const guint8 *data[ZCIPC_WIRE_MAX_MEMS];
  gsize size[ZCIPC_WIRE_MAX_MEMS];

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
} PooledFrame;

struct _GstZcipcFramePool
{
  GstBufferPool parent;

  GMutex lock;                  /* protects free and generation */
  GPtrArray *free;              /* PooledFrame*, each owning its buffer;
                                 * the last released last */
  guint generation;             /* bumped by flush(): older buffers go */

  /* Streaming thread: the frame wrap() looks for, and the one
   * acquire_buffer() found or made for it */
  const struct zcipc_client_event *wanted;
  PooledFrame *found;

  guint64 reused;               /* atomic */
};

#define gst_zcipc_frame_pool_parent_class parent_class
G_DEFINE_TYPE (GstZcipcFramePool, gst_zcipc_frame_pool, GST_TYPE_BUFFER_POOL);

static GQuark
pooled_frame_quark (void)
{
  static GQuark quark = 0;

  if (!quark)
    quark = g_quark_from_static_string ("GstZcipcPooledFrame");
  return quark;
}

static void
pooled_frame_unref (gpointer data)
{
  PooledFrame *frame = data;

  if (!g_atomic_int_dec_and_test (&frame->refs))
    return;
  /* Gives back the frame (and the client reference it held: the last frame
   * of a closed connection unmaps its regions here). */
  if (frame->held)
    zcipc_client_release (frame->client, frame->seq);
  g_free (frame);
}

static PooledFrame *
pooled_frame_of (GstBuffer * buffer)
{
  return gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (buffer),
      pooled_frame_quark ());
}

static gboolean
wraps (const PooledFrame * frame, const struct zcipc_client_event *ev)
{
  if (frame->n_mems != ev->frame.n_mems)
    return FALSE;
  for (guint i = 0; i < frame->n_mems; i++)
    if (frame->data[i] != ev->frame.mems[i].data ||
        frame->size[i] != ev->frame.mems[i].size)
      return FALSE;
  return TRUE;
}

/* Frees a kept buffer (which frees its frame). */
static void
free_pooled_frame_buffer (gpointer data)
{
  gst_buffer_unref (((PooledFrame *) data)->buffer);
}

/* A frame and its new buffer, wrapping what `ev` points at. */
static PooledFrame *
new_frame (const struct zcipc_client_event *ev, guint generation)
{
  PooledFrame *frame = g_new0 (PooledFrame, 1);
  GstBuffer *buffer = gst_buffer_new ();

  frame->refs = 1 + (gint) ev->frame.n_mems;
  frame->buffer = buffer;
  frame->generation = generation;
  frame->n_mems = ev->frame.n_mems;
  for (guint i = 0; i < frame->n_mems; i++) {
    const struct zcipc_client_mem *m = &ev->frame.mems[i];

    frame->data[i] = m->data;
    frame->size[i] = m->size;
    /* Read-only: the mapping is PROT_READ, and a writer downstream must
     * copy (gst_buffer_make_writable) rather than crash. */
    gst_buffer_append_memory (buffer,
        gst_memory_new_wrapped (GST_MEMORY_FLAG_READONLY,
            (gpointer) m->data, m->size, 0, m->size, frame,
            pooled_frame_unref));
  }
  gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (buffer),
      pooled_frame_quark (), frame, pooled_frame_unref);
  return frame;
}

static GstFlowReturn
gst_zcipc_frame_pool_acquire_buffer (GstBufferPool * pool,
    GstBuffer ** buffer, GstBufferPoolAcquireParams * params)
{
  GstZcipcFramePool *self = GST_ZCIPC_FRAME_POOL (pool);
  const struct zcipc_client_event *ev = self->wanted;
  PooledFrame *found = NULL;
  guint generation;

  g_return_val_if_fail (ev != NULL, GST_FLOW_ERROR);
  g_mutex_lock (&self->lock);
  generation = self->generation;
  for (guint i = self->free->len; i-- > 0;) {
    PooledFrame *candidate = g_ptr_array_index (self->free, i);

    if (wraps (candidate, ev)) {
      found = g_ptr_array_steal_index (self->free, i);
      break;
    }
  }
  g_mutex_unlock (&self->lock);

  if (found)
    g_atomic_pointer_add (&self->reused, 1);
  else
    found = new_frame (ev, generation);
  self->found = found;
  *buffer = found->buffer;
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
kept_metas_intact (GstBuffer * buffer, const PooledFrame * frame)
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
remove_metas (GstBuffer * buffer, PooledFrame * frame)
{
  gst_buffer_foreach_meta (buffer, remove_meta, NULL);
  frame->metas_kept = FALSE;
}

static void
gst_zcipc_frame_pool_reset_buffer (GstBufferPool * pool, GstBuffer * buffer)
{
  /* Not GstBufferPool's: it resizes a buffer to the configured size, which
   * this pool has none of. Timestamps and flags are set per frame, metas
   * are dealt with in release_buffer(), which looks up the frame anyway. */
}

/* Whether the buffer still holds exactly the memories it was made with,
 * whole, and nobody else holds them (then nobody can read the frame
 * through it any more), and has no meta but kept ones (after the others
 * were removed). */
static gboolean
intact_and_unshared (GstBuffer * buffer, const PooledFrame * frame)
{
  gpointer state = NULL;

  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_TAG_MEMORY) ||
      gst_buffer_n_memory (buffer) != frame->n_mems ||
      (!frame->metas_kept && gst_buffer_iterate_meta (buffer, &state)))
    return FALSE;
  for (guint i = 0; i < frame->n_mems; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buffer, i);
    gsize offset, size;

    size = gst_memory_get_sizes (mem, &offset, NULL);
    if (GST_MINI_OBJECT_REFCOUNT_VALUE (mem) != 1 || offset != 0 ||
        size != frame->size[i])
      return FALSE;
  }
  return TRUE;
}

static void
gst_zcipc_frame_pool_release_buffer (GstBufferPool * pool, GstBuffer * buffer)
{
  GstZcipcFramePool *self = GST_ZCIPC_FRAME_POOL (pool);
  PooledFrame *frame = pooled_frame_of (buffer);
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
      evicted = ((PooledFrame *) g_ptr_array_steal_index (self->free,
              0))->buffer;
    g_ptr_array_add (self->free, frame);
  }
  g_mutex_unlock (&self->lock);
  if (evicted)
    gst_buffer_unref (evicted);
}

static void
gst_zcipc_frame_pool_free_buffer (GstBufferPool * pool, GstBuffer * buffer)
{
  gst_buffer_unref (buffer);
}

/**
 * gst_zcipc_frame_pool_wrap:
 * @pool: the pool
 * @client: the connection the frame came from
 * @ev: a frame event of @client whose memories are all plain mappings
 *   (no DMABuf region)
 *
 * @metas_ready: (out): TRUE when the buffer already carries the metas
 *   the frame's serialized metas make (kept from the slot's last frame)
 *
 * Returns: (transfer full): a buffer whose memories read the frame in place,
 * holding the frame: it goes back to the producer when the buffer comes
 * back to the pool, or else with the last of its memories. Timestamps and
 * flags are the caller's to set, and the metas unless @metas_ready (then
 * gst_zcipc_frame_pool_keep_metas() after adding them).
 */
GstBuffer *
gst_zcipc_frame_pool_wrap (GstZcipcFramePool * pool,
    struct zcipc_client *client, const struct zcipc_client_event *ev,
    gboolean * metas_ready)
{
  GstBuffer *buffer = NULL;
  PooledFrame *frame;

  pool->wanted = ev;
  gst_buffer_pool_acquire_buffer (GST_BUFFER_POOL_CAST (pool), &buffer, NULL);
  frame = pool->found;
  pool->wanted = NULL;
  pool->found = NULL;

  frame->client = client;
  frame->seq = ev->frame.info.seq;
  frame->held = TRUE;

  *metas_ready = frame->metas_kept && frame->blob_size == ev->frame.meta_size
      && memcmp (frame->blob, ev->frame.meta, ev->frame.meta_size) == 0;
  if (!*metas_ready && frame->metas_kept)
    remove_metas (buffer, frame);
  return buffer;
}

/**
 * gst_zcipc_frame_pool_keep_metas:
 * @pool: the pool
 * @buffer: a buffer of @pool, with the metas made from @blob just added
 * @blob: the frame's serialized metas
 * @size: their size
 *
 * Keeps @buffer's metas for the slot's next frame, if it brings the same
 * @blob and they come back unchanged; only plain-data metas are kept.
 */
void
gst_zcipc_frame_pool_keep_metas (GstZcipcFramePool * pool, GstBuffer * buffer,
    const guint8 * blob, guint32 size)
{
  PooledFrame *frame = pooled_frame_of (buffer);
  gpointer state = NULL;
  GstMeta *meta;
  guint n = 0;

  g_return_if_fail (frame != NULL);
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
 * gst_zcipc_frame_pool_flush:
 * @pool: the pool
 *
 * The connection is gone (its client may unmap its regions once its last
 * frame is back): the buffers kept for it are freed, and those still out
 * are freed when they come back.
 */
void
gst_zcipc_frame_pool_flush (GstZcipcFramePool * pool)
{
  GPtrArray *old;

  g_mutex_lock (&pool->lock);
  pool->generation++;
  old = pool->free;
  pool->free = g_ptr_array_new_with_free_func (free_pooled_frame_buffer);
  g_mutex_unlock (&pool->lock);
  g_ptr_array_unref (old);
}

/* Frames that found their slot's buffer kept, since the pool was made. */
guint64
gst_zcipc_frame_pool_reused (GstZcipcFramePool * pool)
{
  return g_atomic_pointer_get (&pool->reused);
}

GstZcipcFramePool *
gst_zcipc_frame_pool_new (void)
{
  GstZcipcFramePool *pool = g_object_new (GST_TYPE_ZCIPC_FRAME_POOL, NULL);
  GstBufferPool *base = GST_BUFFER_POOL_CAST (pool);
  GstStructure *config = gst_buffer_pool_get_config (base);

  gst_object_ref_sink (pool);
  /* Active, so that GstBufferPool does not look for buffers to free each
   * time the last one comes back; it preallocates nothing (min 0). */
  gst_buffer_pool_config_set_params (config, NULL, 0, 0, 0);
  if (!gst_buffer_pool_set_config (base, config) ||
      !gst_buffer_pool_set_active (base, TRUE))
    GST_WARNING_OBJECT (pool, "could not activate the frame pool");
  return pool;
}

static void
gst_zcipc_frame_pool_finalize (GObject * object)
{
  GstZcipcFramePool *self = GST_ZCIPC_FRAME_POOL (object);

  g_ptr_array_unref (self->free);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_zcipc_frame_pool_init (GstZcipcFramePool * self)
{
  g_mutex_init (&self->lock);
  self->free = g_ptr_array_new_with_free_func (free_pooled_frame_buffer);
}

static void
gst_zcipc_frame_pool_class_init (GstZcipcFramePoolClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  gobject_class->finalize = gst_zcipc_frame_pool_finalize;
  pool_class->acquire_buffer = gst_zcipc_frame_pool_acquire_buffer;
  pool_class->reset_buffer = gst_zcipc_frame_pool_reset_buffer;
  pool_class->release_buffer = gst_zcipc_frame_pool_release_buffer;
  pool_class->free_buffer = gst_zcipc_frame_pool_free_buffer;

  GST_DEBUG_CATEGORY_INIT (gst_zcipc_frame_pool_debug, "zcipcframepool", 0,
      "zcipcsrc's per-slot buffers");
}
