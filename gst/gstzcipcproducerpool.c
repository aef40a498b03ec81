/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/**
 * SECTION:gstzcipcproducerpool
 * @title: GstZcipcProducerPool
 * @short_description: the buffer pool zcipcsink proposes upstream
 *
 * A video-aware pool (alignment, strides, #GstVideoMeta) whose buffers are
 * slots of shared memory regions: upstream writes a frame once, straight
 * into memory every consumer maps. The pool starts with one region holding
 * min-buffers slots; it adds regions only while consumers hold frames, up to
 * max-buffers, so that in steady state every frame reuses the same mapping.
 * When demand falls back for a while (2 s: the consumers that held frames
 * released them or died), buffers of the added regions are freed as they
 * come back, and an added region goes away with its last buffer: a pool
 * that grew for a stalled consumer returns to its first region, while one
 * that serves a steady holder keeps its regions.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <zcipc/os.h>

#include <gst/video/video.h>

#include "gstzcipcproducerpool.h"

GST_DEBUG_CATEGORY_STATIC (gst_zcipc_producer_pool_debug);
#define GST_CAT_DEFAULT gst_zcipc_producer_pool_debug

/* A region's slot bitmap is 64 bits wide. */
#define MAX_SLOTS_PER_REGION 64

struct _GstZcipcProducerPool
{
  GstBufferPool parent;

  GstZcipcAllocator *allocator;

  /* Set in set_config, read in alloc_buffer (the pool serializes both). */
  gboolean is_video;
  GstVideoInfo info;
  gboolean add_video_meta;
  gsize size;
  gsize slot_stride;
  guint min_buffers;

  GMutex lock;                  /* protects regions */
  GPtrArray *regions;           /* GstZcipcRegion*, owned; [0] is the first */

  gint outstanding;             /* atomic: buffers acquired, not released */
  gint allocated;               /* atomic: buffers alive */

  /* Free buffers, the most recently released last: handed out first, so a
   * producer that writes frames keeps writing into the same few slots,
   * still in its caches (GstBufferPool's own queue is first in, first
   * out). Safe because a slot comes back only once no consumer, cut off
   * ones included, may still read it. */
  GMutex free_lock;             /* protects free and in_parent_acquire;
                                 * taken before lock where both are */
  GPtrArray *free;              /* GstBuffer*, owned */
  /* Threads in GstBufferPool's acquire: it may wait for a release into its
   * own queue, so releases go there while one is in it. */
  guint in_parent_acquire;

  GMutex reclaim_lock;          /* protects the reclaim function */
  GstZcipcReclaimFunc reclaim;
  gpointer reclaim_data;
  GDestroyNotify reclaim_notify;

  /* lock: demand over the current window, and whether the last complete
   * window stayed within the first region (then added regions may go). */
  gint window_peak;
  gint64 window_start;
  gboolean shrinking;
};

/* How long demand must stay within the first region before added regions
 * are freed: long enough that a consumer holding a steady handful of frames
 * never makes the pool free and recreate regions (mmap, seal, fd passing to
 * every consumer) over and over. */
#define SHRINK_WINDOW_US (2 * G_USEC_PER_SEC)

G_DEFINE_TYPE (GstZcipcProducerPool, gst_zcipc_producer_pool,
    GST_TYPE_BUFFER_POOL);

static const gchar **
gst_zcipc_producer_pool_get_options (GstBufferPool * pool)
{
  static const gchar *options[] = { GST_BUFFER_POOL_OPTION_VIDEO_META,
    GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT, NULL
  };
  return options;
}

static gboolean
gst_zcipc_producer_pool_set_config (GstBufferPool * pool, GstStructure * config)
{
  GstZcipcProducerPool *self = GST_ZCIPC_PRODUCER_POOL (pool);
  GstCaps *caps;
  guint size, min, max;

  if (!gst_buffer_pool_config_get_params (config, &caps, &size, &min, &max)) {
    GST_WARNING_OBJECT (pool, "invalid config");
    return FALSE;
  }
  if (!caps) {
    GST_WARNING_OBJECT (pool, "no caps in config");
    return FALSE;
  }

  self->is_video = FALSE;
  self->add_video_meta = FALSE;
  if (gst_video_info_from_caps (&self->info, caps)) {
    self->is_video = TRUE;
    self->add_video_meta = gst_buffer_pool_config_has_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_META);
    if (gst_buffer_pool_config_has_option (config,
            GST_BUFFER_POOL_OPTION_VIDEO_ALIGNMENT)) {
      GstVideoAlignment align;

      gst_buffer_pool_config_get_video_alignment (config, &align);
      if (!gst_video_info_align (&self->info, &align)) {
        GST_WARNING_OBJECT (pool, "cannot apply the requested alignment");
        return FALSE;
      }
      gst_buffer_pool_config_set_video_alignment (config, &align);
    }
    size = MAX (size, (guint) self->info.size);
  }
  if (size == 0) {
    GST_WARNING_OBJECT (pool, "buffer size 0 for caps %" GST_PTR_FORMAT, caps);
    return FALSE;
  }
  if (min == 0)
    min = 1;
  if (max != 0 && max < min) {
    GST_WARNING_OBJECT (pool, "max-buffers %u below min-buffers %u", max, min);
    return FALSE;
  }
  self->size = size;
  self->slot_stride = zcipc_page_round (size);
  self->min_buffers = min;
  GST_DEBUG_OBJECT (pool, "size %" G_GSIZE_FORMAT " (slot %" G_GSIZE_FORMAT
      "), min %u, max %u, video meta %d", self->size, self->slot_stride, min,
      max, self->add_video_meta);

  /* Write back what we will really do. */
  gst_buffer_pool_config_set_params (config, caps, size, min, max);
  return
      GST_BUFFER_POOL_CLASS (gst_zcipc_producer_pool_parent_class)->set_config
      (pool, config);
}

/* Lock held. A region with a free slot, creating one if all are full. */
static GstZcipcRegion *
find_free_slot_locked (GstZcipcProducerPool * self, guint * slot,
    GError ** error)
{
  GstZcipcRegion *region;
  guint n;

  /* A retired region leaves the pool: none of its slots is used again. */
  for (guint i = 0; i < self->regions->len;) {
    if (gst_zcipc_region_is_retired (g_ptr_array_index (self->regions, i)))
      g_ptr_array_remove_index (self->regions, i);
    else
      i++;
  }
  for (guint i = 0; i < self->regions->len; i++) {
    region = g_ptr_array_index (self->regions, i);
    guint64 used = (guint64) g_atomic_pointer_get (&region->slots_used);
    for (guint s = 0; s < region->n_slots; s++) {
      if (!(used & (G_GUINT64_CONSTANT (1) << s))) {
        *slot = s;
        return region;
      }
    }
  }
  /* The first region holds min-buffers; later ones, grown while consumers
   * hold frames, half as many (at least 2) to keep growth gradual. */
  n = self->regions->len == 0 ? self->min_buffers :
      MAX (2, self->min_buffers / 2);
  n = MIN (n, MAX_SLOTS_PER_REGION);
  region = gst_zcipc_region_new (self->slot_stride * n, n, self->slot_stride,
      error);
  if (!region)
    return NULL;
  g_ptr_array_add (self->regions, region);
  *slot = 0;
  return region;
}

static GstFlowReturn
gst_zcipc_producer_pool_alloc_buffer (GstBufferPool * pool, GstBuffer ** buffer,
    GstBufferPoolAcquireParams * params)
{
  GstZcipcProducerPool *self = GST_ZCIPC_PRODUCER_POOL (pool);
  GstZcipcRegion *region;
  GError *error = NULL;
  GstBuffer *buf;
  GstMemory *mem;
  guint slot;

  g_mutex_lock (&self->lock);
  region = find_free_slot_locked (self, &slot, &error);
  if (!region) {
    g_mutex_unlock (&self->lock);
    GST_ERROR_OBJECT (pool, "%s", error->message);
    g_clear_error (&error);
    return GST_FLOW_ERROR;
  }
  mem = gst_zcipc_allocator_alloc_slot (self->allocator, region, slot,
      self->size);
  g_mutex_unlock (&self->lock);

  g_atomic_int_inc (&self->allocated);
  buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, mem);
  if (self->add_video_meta) {
    GstVideoInfo *info = &self->info;
    gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE,
        GST_VIDEO_INFO_FORMAT (info), GST_VIDEO_INFO_WIDTH (info),
        GST_VIDEO_INFO_HEIGHT (info), GST_VIDEO_INFO_N_PLANES (info),
        info->offset, info->stride);
  }
  GST_LOG_OBJECT (pool, "buffer %p: region %u slot %u", buf, region->id, slot);
  *buffer = buf;
  return GST_FLOW_OK;
}

static GstZcipcRegion *
buffer_region (GstBuffer * buffer)
{
  GstMemory *mem = gst_buffer_n_memory (buffer) == 1 ?
      gst_buffer_peek_memory (buffer, 0) : NULL;
  return mem ? gst_zcipc_memory_get_region (mem, NULL) : NULL;
}

/* Lock held. An added region is extra while demand fits the first one. */
static gboolean
is_added_region_locked (GstZcipcProducerPool * self, GstZcipcRegion * region)
{
  return region && self->regions->len > 1 &&
      region != g_ptr_array_index (self->regions, 0);
}

static void free_through_parent (GstZcipcProducerPool * self,
    GstBuffer * buffer);

static GstFlowReturn
gst_zcipc_producer_pool_acquire_buffer (GstBufferPool * pool,
    GstBuffer ** buffer, GstBufferPoolAcquireParams * params)
{
  GstZcipcProducerPool *self = GST_ZCIPC_PRODUCER_POOL (pool);
  GstFlowReturn ret;

  /* All out: the sink may hold buffers whose consumers already let go
   * (it reads releases lazily). Take them back before growing or waiting. */
  if (g_atomic_int_get (&self->allocated) -
      g_atomic_int_get (&self->outstanding) <= 0) {
    g_mutex_lock (&self->reclaim_lock);
    if (self->reclaim) {
      GST_LOG_OBJECT (pool, "no free buffer: reclaiming");
      self->reclaim (self->reclaim_data);
    }
    g_mutex_unlock (&self->reclaim_lock);
  }
again:
  g_mutex_lock (&self->free_lock);
  if (GST_BUFFER_POOL_IS_FLUSHING (pool)) {
    g_mutex_unlock (&self->free_lock);
    return GST_FLOW_FLUSHING;
  }
  if (self->free->len > 0) {
    *buffer = g_ptr_array_remove_index_fast (self->free, self->free->len - 1);
    g_mutex_unlock (&self->free_lock);
    ret = GST_FLOW_OK;
  } else {
    /* Allocates, or takes (or waits for) one from its queue. */
    self->in_parent_acquire++;
    g_mutex_unlock (&self->free_lock);
    ret =
        GST_BUFFER_POOL_CLASS
        (gst_zcipc_producer_pool_parent_class)->acquire_buffer (pool, buffer,
        params);
    g_mutex_lock (&self->free_lock);
    self->in_parent_acquire--;
    g_mutex_unlock (&self->free_lock);
  }
  /* Retired while it was free (another slot of its region was pinned):
   * never handed out again. */
  if (ret == GST_FLOW_OK && buffer_region (*buffer) &&
      gst_zcipc_region_is_retired (buffer_region (*buffer))) {
    GST_DEBUG_OBJECT (pool, "freeing %p of retired region %u", *buffer,
        buffer_region (*buffer)->id);
    free_through_parent (self, *buffer);
    *buffer = NULL;
    goto again;
  }
  if (ret == GST_FLOW_OK) {
    gint outstanding = g_atomic_int_add (&self->outstanding, 1) + 1;
    g_mutex_lock (&self->lock);
    self->window_peak = MAX (self->window_peak, outstanding);
    /* Demand is past the first region again: stop freeing added buffers
     * now, not at the window's end, or every one freed is made again
     * (a region created, populated and announced per few frames). */
    if (self->shrinking && self->regions->len > 0 && outstanding >
        (gint) ((GstZcipcRegion *) g_ptr_array_index (self->regions,
                0))->n_slots)
      self->shrinking = FALSE;
    g_mutex_unlock (&self->lock);
  }
  return ret;
}

/* Frees a buffer through GstBufferPool, which frees one that comes back
 * memory-tagged (and with it, in the end, its region). */
static void
free_through_parent (GstZcipcProducerPool * self, GstBuffer * buffer)
{
  GST_BUFFER_FLAG_SET (buffer, GST_BUFFER_FLAG_TAG_MEMORY);
  GST_BUFFER_POOL_CLASS (gst_zcipc_producer_pool_parent_class)->release_buffer
      (GST_BUFFER_POOL_CAST (self), buffer);
}

/* Frees the free buffers of added regions. The last released are handed
 * out first, so those under the first region's may never come out (and
 * back, to be freed on release) again. */
static void
free_idle_added_buffers (GstZcipcProducerPool * self)
{
  GPtrArray *idle = g_ptr_array_new ();

  g_mutex_lock (&self->free_lock);
  g_mutex_lock (&self->lock);
  for (guint i = 0; i < self->free->len;) {
    GstBuffer *buffer = g_ptr_array_index (self->free, i);

    if (is_added_region_locked (self, buffer_region (buffer)))
      g_ptr_array_add (idle, g_ptr_array_steal_index (self->free, i));
    else
      i++;
  }
  g_mutex_unlock (&self->lock);
  g_mutex_unlock (&self->free_lock);
  for (guint i = 0; i < idle->len; i++) {
    GstBuffer *buffer = g_ptr_array_index (idle, i);

    GST_DEBUG_OBJECT (self, "freeing idle %p of added region %u", buffer,
        buffer_region (buffer)->id);
    free_through_parent (self, buffer);
  }
  g_ptr_array_unref (idle);
}

static void
gst_zcipc_producer_pool_release_buffer (GstBufferPool * pool,
    GstBuffer * buffer)
{
  GstZcipcProducerPool *self = GST_ZCIPC_PRODUCER_POOL (pool);
  gint outstanding = g_atomic_int_add (&self->outstanding, -1) - 1;
  GstZcipcRegion *region = buffer_region (buffer);
  gboolean shrink, purge = FALSE;

  if (region && gst_zcipc_region_is_retired (region)) {
    GST_DEBUG_OBJECT (pool, "freeing %p of retired region %u", buffer,
        region->id);
    free_through_parent (self, buffer);
    return;
  }

  /* Hysteresis: added regions go only after a whole window in which
   * demand never exceeded the first region. */
  g_mutex_lock (&self->lock);
  if (self->regions->len > 0) {
    GstZcipcRegion *first = g_ptr_array_index (self->regions, 0);
    gint64 now = g_get_monotonic_time ();
    if (now - self->window_start >= SHRINK_WINDOW_US) {
      self->shrinking = self->window_peak <= (gint) first->n_slots;
      self->window_peak = MAX (outstanding, 0);
      self->window_start = now;
      purge = self->shrinking && self->regions->len > 1;
    }
  }
  shrink = self->shrinking && is_added_region_locked (self, region);
  g_mutex_unlock (&self->lock);
  if (purge)
    free_idle_added_buffers (self);
  if (shrink) {
    GST_DEBUG_OBJECT (pool, "freeing %p of added region %u (%d outstanding)",
        buffer, region->id, outstanding);
    free_through_parent (self, buffer);
    return;
  }
  /* What GstBufferPool would keep, we keep, unless someone may be waiting
   * in its acquire; it frees the rest. */
  if (!GST_BUFFER_FLAG_IS_SET (buffer, GST_BUFFER_FLAG_TAG_MEMORY) &&
      gst_buffer_get_size (buffer) == self->size &&
      gst_buffer_is_all_memory_writable (buffer)) {
    g_mutex_lock (&self->free_lock);
    if (self->in_parent_acquire == 0) {
      g_ptr_array_add (self->free, buffer);
      g_mutex_unlock (&self->free_lock);
      return;
    }
    g_mutex_unlock (&self->free_lock);
  }
  GST_BUFFER_POOL_CLASS (gst_zcipc_producer_pool_parent_class)->release_buffer
      (pool, buffer);
}

static void
gst_zcipc_producer_pool_free_buffer (GstBufferPool * pool, GstBuffer * buffer)
{
  GstZcipcProducerPool *self = GST_ZCIPC_PRODUCER_POOL (pool);
  GstZcipcRegion *region = buffer_region (buffer);

  if (region)
    gst_zcipc_region_ref (region);
  g_atomic_int_add (&self->allocated, -1);
  GST_BUFFER_POOL_CLASS (gst_zcipc_producer_pool_parent_class)->free_buffer
      (pool, buffer);
  if (!region)
    return;
  /* Its last slot gone, an added region leaves the pool; the sink tells
   * consumers once nobody references it any more. */
  g_mutex_lock (&self->lock);
  if (gst_zcipc_region_is_retired (region)) {
    g_ptr_array_remove (self->regions, region);
  } else if (is_added_region_locked (self, region) &&
      g_atomic_pointer_get (&region->slots_used) == 0) {
    GST_DEBUG_OBJECT (pool, "added region %u is empty, dropping it",
        region->id);
    g_ptr_array_remove (self->regions, region);
  }
  g_mutex_unlock (&self->lock);
  gst_zcipc_region_unref (region);
}

static gboolean
gst_zcipc_producer_pool_start (GstBufferPool * pool)
{
  GstZcipcProducerPool *self = GST_ZCIPC_PRODUCER_POOL (pool);
  gboolean ret;

  g_atomic_int_set (&self->outstanding, 0);
  g_mutex_lock (&self->lock);
  self->window_peak = 0;
  self->window_start = g_get_monotonic_time ();
  self->shrinking = FALSE;
  g_mutex_unlock (&self->lock);
  ret = GST_BUFFER_POOL_CLASS (gst_zcipc_producer_pool_parent_class)->start
      (pool);
  /* GstBufferPool preallocates min-buffers by releasing them straight into
   * its queue, without an acquire: balance the count. */
  g_atomic_int_add (&self->outstanding, (gint) self->min_buffers);
  return ret;
}

static gboolean
gst_zcipc_producer_pool_stop (GstBufferPool * pool)
{
  GstZcipcProducerPool *self = GST_ZCIPC_PRODUCER_POOL (pool);
  GPtrArray *free_buffers;
  gboolean ret;

  /* GstBufferPool frees what is in its queue: put ours there. */
  g_mutex_lock (&self->free_lock);
  free_buffers = self->free;
  self->free = g_ptr_array_new ();
  g_mutex_unlock (&self->free_lock);
  for (guint i = 0; i < free_buffers->len; i++)
    GST_BUFFER_POOL_CLASS (gst_zcipc_producer_pool_parent_class)->release_buffer
        (pool, g_ptr_array_index (free_buffers, i));
  g_ptr_array_unref (free_buffers);
  ret =
      GST_BUFFER_POOL_CLASS (gst_zcipc_producer_pool_parent_class)->stop (pool);
  /* The buffers are freed; regions stay alive while a consumer or the sink
   * still references them. */
  g_mutex_lock (&self->lock);
  g_ptr_array_set_size (self->regions, 0);
  g_mutex_unlock (&self->lock);
  return ret;
}

static void
gst_zcipc_producer_pool_finalize (GObject * object)
{
  GstZcipcProducerPool *self = GST_ZCIPC_PRODUCER_POOL (object);

  gst_zcipc_producer_pool_set_reclaim_func (self, NULL, NULL, NULL);
  g_ptr_array_unref (self->regions);
  g_ptr_array_unref (self->free);       /* emptied by stop */
  g_mutex_clear (&self->free_lock);
  g_mutex_clear (&self->lock);
  g_mutex_clear (&self->reclaim_lock);
  gst_object_unref (self->allocator);
  G_OBJECT_CLASS (gst_zcipc_producer_pool_parent_class)->finalize (object);
}

static void
gst_zcipc_producer_pool_class_init (GstZcipcProducerPoolClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstBufferPoolClass *pool_class = GST_BUFFER_POOL_CLASS (klass);

  gobject_class->finalize = gst_zcipc_producer_pool_finalize;
  pool_class->get_options = gst_zcipc_producer_pool_get_options;
  pool_class->set_config = gst_zcipc_producer_pool_set_config;
  pool_class->alloc_buffer = gst_zcipc_producer_pool_alloc_buffer;
  pool_class->start = gst_zcipc_producer_pool_start;
  pool_class->stop = gst_zcipc_producer_pool_stop;
  pool_class->acquire_buffer = gst_zcipc_producer_pool_acquire_buffer;
  pool_class->release_buffer = gst_zcipc_producer_pool_release_buffer;
  pool_class->free_buffer = gst_zcipc_producer_pool_free_buffer;

  GST_DEBUG_CATEGORY_INIT (gst_zcipc_producer_pool_debug, "zcipcproducerpool",
      0, "zcipc shared memory buffer pool");
}

static void
gst_zcipc_producer_pool_init (GstZcipcProducerPool * self)
{
  g_mutex_init (&self->lock);
  g_mutex_init (&self->reclaim_lock);
  g_mutex_init (&self->free_lock);
  self->free = g_ptr_array_new ();
  self->regions = g_ptr_array_new_with_free_func (
      (GDestroyNotify) gst_zcipc_region_unref);
}

GstBufferPool *
gst_zcipc_producer_pool_new (GstAllocator * allocator)
{
  GstZcipcProducerPool *self;

  g_return_val_if_fail (GST_IS_ZCIPC_ALLOCATOR (allocator), NULL);
  self = g_object_new (GST_TYPE_ZCIPC_PRODUCER_POOL, NULL);
  self->allocator = gst_object_ref (GST_ZCIPC_ALLOCATOR (allocator));
  gst_object_ref_sink (self);
  return GST_BUFFER_POOL_CAST (self);
}

/**
 * gst_zcipc_producer_pool_set_reclaim_func:
 * @pool: the pool
 * @func: (nullable): called when every buffer is out, or %NULL
 * @user_data: for @func
 * @notify: (nullable): frees @user_data when replaced
 *
 * Once this returns, the previous function is not running and will not run.
 */
void
gst_zcipc_producer_pool_set_reclaim_func (GstZcipcProducerPool * pool,
    GstZcipcReclaimFunc func, gpointer user_data, GDestroyNotify notify)
{
  GDestroyNotify old_notify;
  gpointer old_data;

  g_mutex_lock (&pool->reclaim_lock);
  old_notify = pool->reclaim_notify;
  old_data = pool->reclaim_data;
  pool->reclaim = func;
  pool->reclaim_data = user_data;
  pool->reclaim_notify = notify;
  g_mutex_unlock (&pool->reclaim_lock);
  if (old_notify)
    old_notify (old_data);
}

/**
 * gst_zcipc_producer_pool_new_configured:
 * @allocator: the sink's allocator
 * @caps: the caps upstream asked a pool for
 * @size: the size of one frame
 * @min: buffers to preallocate
 * @max: most buffers
 * @reclaim: (nullable): see gst_zcipc_producer_pool_set_reclaim_func()
 * @user_data: for @reclaim
 * @notify: (nullable): frees @user_data (also when this fails)
 *
 * The pool the sink proposes upstream for @caps, with video metas.
 *
 * Returns: (transfer full) (nullable): the pool, or %NULL when @caps
 * cannot be configured.
 */
GstBufferPool *
gst_zcipc_producer_pool_new_configured (GstAllocator * allocator,
    GstCaps * caps, guint size, guint min, guint max,
    GstZcipcReclaimFunc reclaim, gpointer user_data, GDestroyNotify notify)
{
  GstBufferPool *pool = gst_zcipc_producer_pool_new (allocator);
  GstStructure *config;
  GstAllocationParams params;

  gst_allocation_params_init (&params);
  gst_zcipc_producer_pool_set_reclaim_func (GST_ZCIPC_PRODUCER_POOL (pool),
      reclaim, user_data, notify);
  config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, size, min, max);
  gst_buffer_pool_config_set_allocator (config, allocator, &params);
  gst_buffer_pool_config_add_option (config, GST_BUFFER_POOL_OPTION_VIDEO_META);
  if (!gst_buffer_pool_set_config (pool, config)) {
    gst_object_unref (pool);
    return NULL;
  }
  return pool;
}

/* Whether every memory of `buffer` (and of the buffers it keeps alive
 * through a parent buffer meta: a frame whose metas lie in a region) is
 * ours and freed, not recycled, when the buffer goes: then retiring its
 * regions keeps anyone from writing them again. A buffer of another pool
 * would go back to that pool and be written again. */
static gboolean
buffer_can_retire (GstBuffer * buffer, gboolean retire)
{
  gpointer state = NULL;
  GstMeta *meta;

  if (buffer->pool && !GST_IS_ZCIPC_PRODUCER_POOL (buffer->pool))
    return FALSE;
  for (guint i = 0; i < gst_buffer_n_memory (buffer); i++) {
    GstZcipcRegion *region =
        gst_zcipc_memory_get_region (gst_buffer_peek_memory (buffer, i), NULL);
    if (!region)
      return FALSE;
    if (retire)
      gst_zcipc_region_retire (region);
  }
  while ((meta = gst_buffer_iterate_meta_filtered (buffer, &state,
              GST_PARENT_BUFFER_META_API_TYPE)))
    if (!buffer_can_retire (((GstParentBufferMeta *) meta)->buffer, retire))
      return FALSE;
  return TRUE;
}

/**
 * gst_zcipc_producer_pool_retire_buffer:
 * @buffer: a frame a departed consumer pinned
 *
 * Retires the regions of @buffer, so that nothing is written to or handed
 * out of them again, when all of its memory is ours (our pool's or our
 * allocator's) and so goes away instead of being recycled; then the
 * sender may drop @buffer while the pinner still reads it.
 *
 * Returns: whether @buffer's regions were retired (FALSE: nothing was).
 */
gboolean
gst_zcipc_producer_pool_retire_buffer (GstBuffer * buffer)
{
  if (!buffer_can_retire (buffer, FALSE))
    return FALSE;
  buffer_can_retire (buffer, TRUE);
  return TRUE;
}
