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
 * Metas are not kept: a writer downstream may have changed the ones on a
 * buffer it made writable (the same buffer, when it held the only
 * reference), so they are removed when the buffer comes back and the
 * caller adds each frame's own.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstzcipcframepool.h"

GST_DEBUG_CATEGORY_STATIC (gst_zcipc_frame_pool_debug);
#define GST_CAT_DEFAULT gst_zcipc_frame_pool_debug

/* More than any producer's pool has slots; bounds what slots of regions
 * gone long ago can keep (a buffer and a memory each, no mapping). */
#define MAX_CACHED 64

/* One buffer's frame: what it wraps, and which frame it holds now. Kept
 * alive by the buffer and by each of its memories, so that whichever goes
 * last gives back a frame still held. */
typedef struct
{
  gint refs;
  guint generation;             /* the pool's, when the buffer was made */
  guint n_mems;
  const guint8 *data[ZCIPC_WIRE_MAX_MEMS];
  gsize size[ZCIPC_WIRE_MAX_MEMS];

  /* Written by the streaming thread before the buffer goes out; read when
   * it comes back or its last reference goes, after it went out. */
  struct zcipc_client *client;
  guint64 seq;
  gboolean held;
} PooledFrame;

struct _GstZcipcFramePool
{
  GstBufferPool parent;

  GMutex lock;                  /* protects free and generation */
  GPtrArray *free;              /* GstBuffer*, owned; last released last */
  guint generation;             /* bumped by flush(): older buffers go */

  /* The frame wrap() looks for, for acquire_buffer() (streaming thread) */
  const struct zcipc_client_event *wanted;

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

static GstBuffer *
new_buffer (GstZcipcFramePool * self, const struct zcipc_client_event *ev,
    guint generation)
{
  PooledFrame *frame = g_new0 (PooledFrame, 1);
  GstBuffer *buffer = gst_buffer_new ();

  frame->refs = 1 + (gint) ev->frame.n_mems;
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
  return buffer;
}

static GstFlowReturn
gst_zcipc_frame_pool_acquire_buffer (GstBufferPool * pool,
    GstBuffer ** buffer, GstBufferPoolAcquireParams * params)
{
  GstZcipcFramePool *self = GST_ZCIPC_FRAME_POOL (pool);
  const struct zcipc_client_event *ev = self->wanted;
  GstBuffer *found = NULL;
  guint generation;

  g_return_val_if_fail (ev != NULL, GST_FLOW_ERROR);
  g_mutex_lock (&self->lock);
  generation = self->generation;
  for (guint i = self->free->len; i-- > 0;) {
    GstBuffer *candidate = g_ptr_array_index (self->free, i);

    if (wraps (pooled_frame_of (candidate), ev)) {
      found = g_ptr_array_steal_index (self->free, i);
      break;
    }
  }
  g_mutex_unlock (&self->lock);

  if (found)
    g_atomic_pointer_add (&self->reused, 1);
  else
    found = new_buffer (self, ev, generation);
  *buffer = found;
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

static void
gst_zcipc_frame_pool_reset_buffer (GstBufferPool * pool, GstBuffer * buffer)
{
  /* Not GstBufferPool's: it resizes a buffer to the configured size, which
   * this pool has none of. Timestamps and flags are set per frame. */
  gst_buffer_foreach_meta (buffer, remove_meta, NULL);
}

/* Whether the buffer still holds exactly the memories it was made with,
 * whole, and nobody else holds them (then nobody can read the frame
 * through it any more), and no meta is left on it. */
static gboolean
intact_and_unshared (GstBuffer * buffer, const PooledFrame * frame)
{
  gpointer state = NULL;

  if (GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_TAG_MEMORY) ||
      gst_buffer_n_memory (buffer) != frame->n_mems ||
      gst_buffer_iterate_meta (buffer, &state) != NULL)
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
      evicted = g_ptr_array_steal_index (self->free, 0);
    g_ptr_array_add (self->free, buffer);
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
 * Returns: (transfer full): a buffer whose memories read the frame in place,
 * holding the frame: it goes back to the producer when the buffer comes
 * back to the pool, or else with the last of its memories. Timestamps,
 * flags and metas are the caller's to set.
 */
GstBuffer *
gst_zcipc_frame_pool_wrap (GstZcipcFramePool * pool,
    struct zcipc_client * client, const struct zcipc_client_event * ev)
{
  GstBuffer *buffer = NULL;
  PooledFrame *frame;

  pool->wanted = ev;
  gst_buffer_pool_acquire_buffer (GST_BUFFER_POOL_CAST (pool), &buffer, NULL);
  pool->wanted = NULL;

  frame = pooled_frame_of (buffer);
  frame->client = client;
  frame->seq = ev->frame.info.seq;
  frame->held = TRUE;
  return buffer;
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
  pool->free = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
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
  self->free = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_buffer_unref);
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
