/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* zcipcsrc's copies of frames that downstream has no room for (see the
 * element's documentation): private memory, counted, told once per
 * episode. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstzcipcframecopier.h"

GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_src_debug);
GST_DEBUG_CATEGORY_EXTERN (GST_CAT_PERFORMANCE);
#define GST_CAT_DEFAULT gst_zcipc_src_debug

/* A copy episode ends after this long without a copy; the next copy warns
 * again. */
#define COPY_EPISODE_END_US G_USEC_PER_SEC
/* Smaller copies come from the heap; larger ones (raw video) from a pool of
 * the frame's size, so that copying under pressure does not map and fault
 * in fresh pages for every frame. */
#define COPY_POOL_MIN_SIZE (64 * 1024)

void
gst_zcipc_frame_copier_clear (GstZcipcFrameCopier * copier)
{
  if (copier->pool) {
    gst_buffer_pool_set_active (copier->pool, FALSE);
    gst_clear_object (&copier->pool);
  }
}

/* A private buffer of `size` bytes for a copy of a frame of one memory. */
static GstBuffer *
new_copy_buffer (GstZcipcFrameCopier * self, gsize size)
{
  GstBuffer *buffer = NULL;

  if (size < COPY_POOL_MIN_SIZE)
    return gst_buffer_new_allocate (NULL, size, NULL);
  if (!self->pool || self->pool_size != size) {
    GstBufferPool *pool = gst_buffer_pool_new ();
    GstStructure *config = gst_buffer_pool_get_config (pool);

    gst_buffer_pool_config_set_params (config, NULL, (guint) size, 0, 0);
    if (!gst_buffer_pool_set_config (pool, config) ||
        !gst_buffer_pool_set_active (pool, TRUE)) {
      gst_object_unref (pool);
      return gst_buffer_new_allocate (NULL, size, NULL);
    }
    /* Buffers still out keep the old pool until they come back. */
    if (self->pool) {
      gst_buffer_pool_set_active (self->pool, FALSE);
      gst_object_unref (self->pool);
    }
    self->pool = pool;
    self->pool_size = size;
  }
  if (gst_buffer_pool_acquire_buffer (self->pool, &buffer, NULL) != GST_FLOW_OK)
    return gst_buffer_new_allocate (NULL, size, NULL);
  return buffer;
}

/**
 * gst_zcipc_frame_copier_copy:
 * @copier: the copier
 * @ev: a frame event with memory
 * @size: (out): the bytes copied
 *
 * Memory by memory, so the copy has the frame's layout (what its video
 * meta counts). The frame stays the caller's to give back.
 *
 * Returns: (transfer full) (nullable): a private copy of the frame's bytes,
 * no timestamps, flags or metas; NULL if no memory could be had.
 */
GstBuffer *
gst_zcipc_frame_copier_copy (GstZcipcFrameCopier * copier,
    const struct zcipc_client_event *ev, gsize * size)
{
  GstBuffer *buffer;
  gsize total = 0;

  for (guint i = 0; i < ev->frame.n_mems; i++)
    total += ev->frame.mems[i].size;
  buffer = ev->frame.n_mems == 1 ? new_copy_buffer (copier, total) :
      gst_buffer_new ();
  if (!buffer)
    return NULL;
  for (guint i = 0; i < ev->frame.n_mems; i++) {
    const struct zcipc_client_mem *m = &ev->frame.mems[i];
    GstMemory *mem = ev->frame.n_mems == 1 ?
        gst_buffer_peek_memory (buffer, 0) :
        gst_allocator_alloc (NULL, m->size, NULL);
    GstMapInfo map;

    if (!mem || !gst_memory_map (mem, &map, GST_MAP_WRITE)) {
      if (mem && ev->frame.n_mems != 1)
        gst_memory_unref (mem);
      gst_buffer_unref (buffer);
      return NULL;
    }
    memcpy (map.data, m->data, m->size);
    gst_memory_unmap (mem, &map);
    if (ev->frame.n_mems != 1)
      gst_buffer_append_memory (buffer, mem);
  }
  *size = total;
  return buffer;
}

/* Says that downstream keeps more than the producer lends, and what to
 * raise. */
static void
warn_copy_episode (GstElement * element, const struct zcipc_client_event *ev,
    gsize size, const GstZcipcCopyContext * c)
{
  if (c->quota < c->asked) {
    GST_ELEMENT_WARNING (element, RESOURCE, BUSY,
        ("Downstream of zcipcsrc keeps %u frames, all the producer on '%s' "
            "lends it (its consumer-quota; %u were asked for): further "
            "frames are copied while it does (stats: frames-copied). Raise "
            "zcipcsink's consumer-quota to %u to keep them zero-copy",
            c->quota - 1, c->path, c->asked, c->asked),
        ("frame %" G_GUINT64_FORMAT " of %" G_GSIZE_FORMAT " bytes copied; "
            "%u frames held", ev->frame.info.seq, size, c->held - 1));
  } else {
    GST_ELEMENT_WARNING (element, RESOURCE, BUSY,
        ("Downstream of zcipcsrc keeps %u frames, more than it says it "
            "keeps (max-held %u, plus what its allocation query and latency "
            "report): further frames are copied while it does (stats: "
            "frames-copied). Raise zcipcsrc's max-held (and zcipcsink's "
            "consumer-quota if that caps it) to keep them zero-copy",
            c->quota - 1, c->max_held),
        ("frame %" G_GUINT64_FORMAT " of %" G_GSIZE_FORMAT " bytes copied; "
            "%u frames granted", ev->frame.info.seq, size, c->quota));
  }
}

/**
 * gst_zcipc_frame_copier_note:
 * @copier: the copier
 * @element: the zcipcsrc that copied
 * @ev: the frame copied
 * @size: its bytes
 * @context: where, and what was asked
 *
 * Counts a copy, and warns once per episode.
 */
void
gst_zcipc_frame_copier_note (GstZcipcFrameCopier * copier,
    GstElement * element, const struct zcipc_client_event *ev, gsize size,
    const GstZcipcCopyContext * context)
{
  g_atomic_pointer_add (&copier->frames_copied, 1);
  g_atomic_pointer_add (&copier->bytes_copied, size);
  GST_CAT_LOG_OBJECT (GST_CAT_PERFORMANCE, element, "copied frame %"
      G_GUINT64_FORMAT " (%" G_GSIZE_FORMAT " bytes): downstream keeps %u "
      "of the %u frames granted", ev->frame.info.seq, size,
      context->held - 1, context->quota);
  copier->last_copy_us = g_get_monotonic_time ();
  if (copier->copying)
    return;
  copier->copying = TRUE;
  warn_copy_episode (element, ev, size, context);
}

/* A frame went downstream without a copy: TRUE when that ends an episode
 * (no copy for a while), which the next copy tells again. */
gboolean
gst_zcipc_frame_copier_episode_ended (GstZcipcFrameCopier * copier)
{
  if (!copier->copying ||
      g_get_monotonic_time () - copier->last_copy_us <= COPY_EPISODE_END_US)
    return FALSE;
  copier->copying = FALSE;
  return TRUE;
}
