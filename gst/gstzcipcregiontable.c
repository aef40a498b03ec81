/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* Which regions consumers know: announced before the first frame that
 * needs them, removed once no frame can point into them any more. See
 * gstzcipcregiontable.h for ownership and locking. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/allocators/allocators.h>

#include "gstzcipcregiontable.h"

/* The sink's parts log in the sink's category, with the sink as object. */
GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_sink_debug);
#define GST_CAT_DEFAULT gst_zcipc_sink_debug

struct _GstZcipcRegionTable
{
  GstElement *sink;             /* not a reference: the sink owns us */
  GstZcipcFdCache *fd_cache;
  GstZcipcSinkCounters *counters;       /* the sink's */
  struct zcipc_server *server;  /* between attach and detach; not owned */
  GHashTable *announced;        /* region id -> GstZcipcRegion* (ref) */
};

GstZcipcRegionTable *
gst_zcipc_region_table_new (GstElement * sink, GstZcipcFdCache * fd_cache,
    GstZcipcSinkCounters * counters)
{
  GstZcipcRegionTable *table = g_new0 (GstZcipcRegionTable, 1);

  table->sink = sink;
  table->fd_cache = gst_zcipc_fd_cache_ref (fd_cache);
  table->counters = counters;
  table->announced = g_hash_table_new_full (NULL, NULL, NULL,
      (GDestroyNotify) gst_zcipc_region_unref);
  return table;
}

void
gst_zcipc_region_table_free (GstZcipcRegionTable * table)
{
  g_hash_table_unref (table->announced);
  gst_zcipc_fd_cache_unref (table->fd_cache);
  g_free (table);
}

void
gst_zcipc_region_table_attach (GstZcipcRegionTable * table,
    struct zcipc_server *server)
{
  table->server = server;
}

/* The server is gone, and what it announced with it. */
void
gst_zcipc_region_table_detach (GstZcipcRegionTable * table)
{
  table->server = NULL;
  g_hash_table_remove_all (table->announced);
  gst_zcipc_fd_cache_forget_announced (table->fd_cache);
}

/* Where `mem` (not empty) lies: in one of our own regions (zcipc memory)
 * or in the region of its fd (DMABuf, memfd). */
static gboolean
describe_memory (GstZcipcRegionTable * table, GstMemory * mem,
    GstZcipcFrameMems * out, guint i, const gchar ** reason)
{
  gsize offset;

  if ((out->own[i] = gst_zcipc_memory_get_region (mem, &offset))) {
    out->mems[i] = (struct zcipc_wire_mem) {
      .region_id = out->own[i]->id,.offset = offset,.size = mem->size
    };
    return TRUE;
  }
  if (gst_is_fd_memory (mem))
    return gst_zcipc_fd_cache_resolve (table->fd_cache,
        GST_OBJECT_CAST (table->sink), mem, &out->mems[i], &out->fd[i], reason);
  *reason = "memory without an fd, not from zcipcsink's pool or allocator";
  return FALSE;
}

/**
 * gst_zcipc_region_table_describe:
 *
 * Where each memory of `buffer` lies in a region consumers can map. FALSE,
 * with the reason, when one cannot be passed (then the buffer is copied);
 * `out->n_mems` is how many memories were described. Announces nothing.
 */
gboolean
gst_zcipc_region_table_describe (GstZcipcRegionTable * table,
    GstBuffer * buffer, GstZcipcFrameMems * out, const gchar ** reason)
{
  guint n = gst_buffer_n_memory (buffer);

  out->n_mems = 0;
  if (n == 0 || n > ZCIPC_WIRE_MAX_MEMS) {
    *reason = "a buffer of more than 16 memories";
    return FALSE;
  }
  for (guint i = 0; i < n; i++) {
    GstMemory *mem = gst_buffer_peek_memory (buffer, i);

    out->own[i] = NULL;
    out->fd[i] = NULL;
    if (mem->size == 0) {
      /* The wire has no empty mems: copied into one memory (rare). */
      *reason = "an empty memory among others";
      return FALSE;
    }
    if (!describe_memory (table, mem, out, i, reason))
      return FALSE;
  }
  out->n_mems = n;
  return TRUE;
}

/* Announces one of our own regions, if consumers do not know it yet. */
gboolean
gst_zcipc_region_table_announce (GstZcipcRegionTable * table,
    GstZcipcRegion * region)
{
  int res;

  if (g_hash_table_contains (table->announced, GUINT_TO_POINTER (region->id)))
    return TRUE;
  res = zcipc_server_add_region (table->server, region->id,
      region->region.fd, region->region.size, ZCIPC_REGION_FLAG_MEMFD);
  if (res < 0) {
    GST_ELEMENT_ERROR (table->sink, RESOURCE, FAILED,
        ("Could not share a memory region with consumers"),
        ("zcipc_server_add_region: %s", g_strerror (-res)));
    return FALSE;
  }
  g_hash_table_insert (table->announced, GUINT_TO_POINTER (region->id),
      gst_zcipc_region_ref (region));
  GST_ZCIPC_SINK_COUNT (table->counters, regions_announced, 1);
  GST_DEBUG_OBJECT (table->sink, "announced region %u (%" G_GSIZE_FORMAT
      " bytes)", region->id, region->region.size);
  return TRUE;
}

/* Announces an fd region on first use (and again to a new server after a
 * restart), with the fd of `mem`, a memory over it. The server hands
 * consumers a read-only reopen of a memfd (ZCIPC_REGION_FLAG_MEMFD), so
 * upstream's read-write fd never reaches them. */
static gboolean
announce_fd_region (GstZcipcRegionTable * table, GstZcipcFdRegion * region,
    GstMemory * mem)
{
  int fd = gst_fd_memory_get_fd (mem), res;

  if (gst_zcipc_fd_cache_is_announced (table->fd_cache, region))
    return TRUE;
  res = zcipc_server_add_region (table->server, region->id, fd, region->size,
      region->flags);
  if (res < 0) {
    GST_ELEMENT_ERROR (table->sink, RESOURCE, FAILED,
        ("Could not share upstream's fd-backed memory with consumers"),
        ("zcipc_server_add_region (fd %d): %s", fd, g_strerror (-res)));
    return FALSE;
  }
  gst_zcipc_fd_cache_set_announced (table->fd_cache, region);
  GST_ZCIPC_SINK_COUNT (table->counters, regions_announced, 1);
  GST_ZCIPC_SINK_COUNT (table->counters, fd_regions_announced, 1);
  GST_DEBUG_OBJECT (table->sink, "announced fd region %u (%s, %"
      G_GUINT64_FORMAT " bytes)", region->id,
      (region->flags & ZCIPC_REGION_FLAG_DMABUF) ? "DMABuf" : "memfd",
      region->size);
  return TRUE;
}

/**
 * gst_zcipc_region_table_announce_frame:
 *
 * Announces the regions of the memories `mems` describes (of `buffer`)
 * that consumers do not know yet, and counts a frame passed by fd. FALSE
 * after posting an error.
 */
gboolean
gst_zcipc_region_table_announce_frame (GstZcipcRegionTable * table,
    GstBuffer * buffer, const GstZcipcFrameMems * mems)
{
  gboolean by_fd = FALSE;

  for (guint i = 0; i < mems->n_mems; i++) {
    gboolean ok;

    if (mems->own[i]) {
      ok = gst_zcipc_region_table_announce (table, mems->own[i]);
    } else {
      ok = announce_fd_region (table, mems->fd[i],
          gst_buffer_peek_memory (buffer, i));
      by_fd = TRUE;
    }
    if (!ok)
      return FALSE;
  }
  if (by_fd)
    GST_ZCIPC_SINK_COUNT (table->counters, frames_by_fd, 1);
  return TRUE;
}

/* Sends REGION_REMOVE for fd regions whose last memory went. */
void
gst_zcipc_region_table_remove_freed_fd_regions (GstZcipcRegionTable * table)
{
  GArray *removed = gst_zcipc_fd_cache_take_removed (table->fd_cache);

  if (!removed)
    return;
  for (guint i = 0; i < removed->len; i++) {
    guint32 id = g_array_index (removed, guint32, i);
    GST_DEBUG_OBJECT (table->sink, "fd region %u: its last memory was freed",
        id);
    zcipc_server_remove_region (table->server, id);
  }
  g_array_unref (removed);
}

/* Forgets regions only we still use (their pool went away and every
 * consumer released its frames), so consumers unmap them. */
void
gst_zcipc_region_table_sweep (GstZcipcRegionTable * table)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, table->announced);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    GstZcipcRegion *region = value;
    if (gst_zcipc_region_is_held_only_by_caller (region)) {
      GST_DEBUG_OBJECT (table->sink, "region %u no longer used", region->id);
      zcipc_server_remove_region (table->server, region->id);
      g_hash_table_iter_remove (&iter);
    }
  }
}
