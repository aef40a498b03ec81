/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* Fd-backed memory that upstream owns (a DMABuf, a memfd) crosses as its fd:
 * one region per underlying object, announced once and kept as long as one
 * GstMemory over it lives. See gstzcipcfdcache.h for ownership and locking. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* F_ADD_SEALS, F_GET_SEALS */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>

#include "gstzcipcfdcache.h"

/* The sink's parts log in the sink's category, with the sink as object. */
GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_sink_debug);
#define GST_CAT_DEFAULT gst_zcipc_sink_debug

struct _GstZcipcFdCache
{
  gint refcount;                /* atomic */
  GMutex lock;                  /* protects regions, removed and each
                                 * region's users and announced */
  GHashTable *regions;          /* GstZcipcFdRegion* (key and value) */
  GArray *removed;              /* guint32 ids to REGION_REMOVE */
  /* Names this cache's qdata: one quark per cache (two sinks may see one
   * memory), never reused (a dead sink's qdata may outlive it). */
  GQuark quark;
};

/* The qdata the cache sets on each root fd memory it has seen: its region,
 * or why it cannot be passed by fd (then it is copied). */
typedef struct
{
  GstZcipcFdCache *cache;
  GstZcipcFdRegion *region;     /* NULL: refused, see reason */
  gchar *reason;
} GstZcipcFdUse;

static guint
fd_region_hash (gconstpointer key)
{
  const GstZcipcFdRegion *r = key;
  return (guint) r->ino ^ (guint) (r->ino >> 32) ^ (guint) r->dev;
}

static gboolean
fd_region_equal (gconstpointer a, gconstpointer b)
{
  const GstZcipcFdRegion *ra = a, *rb = b;
  return ra->ino == rb->ino && ra->dev == rb->dev;
}

GstZcipcFdCache *
gst_zcipc_fd_cache_new (void)
{
  static gint n_caches = 0;     /* atomic */
  GstZcipcFdCache *cache = g_new0 (GstZcipcFdCache, 1);
  gchar *quark_name;

  cache->refcount = 1;
  g_mutex_init (&cache->lock);
  cache->regions = g_hash_table_new_full (fd_region_hash, fd_region_equal,
      NULL, g_free);
  cache->removed = g_array_new (FALSE, FALSE, sizeof (guint32));
  /* A quark per cache is a few bytes for the process's lifetime. */
  quark_name = g_strdup_printf ("GstZcipcSink-fd-%d",
      g_atomic_int_add (&n_caches, 1));
  cache->quark = g_quark_from_string (quark_name);
  g_free (quark_name);
  return cache;
}

GstZcipcFdCache *
gst_zcipc_fd_cache_ref (GstZcipcFdCache * cache)
{
  g_atomic_int_inc (&cache->refcount);
  return cache;
}

void
gst_zcipc_fd_cache_unref (GstZcipcFdCache * cache)
{
  if (!g_atomic_int_dec_and_test (&cache->refcount))
    return;
  g_hash_table_unref (cache->regions);
  g_array_unref (cache->removed);
  g_mutex_clear (&cache->lock);
  g_free (cache);
}

/* The qdata's destroy notify: the memory is being freed, from whatever
 * thread dropped it last (the sink's socket thread when a consumer releases,
 * upstream's pool, or after the sink itself is gone). No frame can point
 * into the region any more (the sink held the buffer while consumers held
 * the frame), so once no memory over the object is left the region is
 * queued for REGION_REMOVE, sent by the next render() (or dropped with the
 * server at stop()). */
static void
fd_use_free (gpointer data)
{
  GstZcipcFdUse *use = data;
  GstZcipcFdCache *cache = use->cache;
  GstZcipcFdRegion *region = use->region;

  if (region) {
    g_mutex_lock (&cache->lock);
    if (--region->users == 0) {
      if (region->announced)
        g_array_append_val (cache->removed, region->id);
      g_hash_table_remove (cache->regions, region);     /* frees it */
    }
    g_mutex_unlock (&cache->lock);
  }
  gst_zcipc_fd_cache_unref (cache);
  g_free (use->reason);
  g_free (use);
}

static GstZcipcFdUse *
fd_use_refuse (GstZcipcFdUse * use, const gchar * format, ...)
G_GNUC_PRINTF (2, 3);

     static GstZcipcFdUse *fd_use_refuse (GstZcipcFdUse * use,
    const gchar * format, ...)
{
  va_list args;

  va_start (args, format);
  use->reason = g_strdup_vprintf (format, args);
  va_end (args);
  return use;
}

/* The region of the object `key` names, if the cache knows it: then one
 * more root memory uses it. */
static GstZcipcFdRegion *
fd_cache_lookup_and_use (GstZcipcFdCache * cache, const GstZcipcFdRegion * key)
{
  GstZcipcFdRegion *region;

  g_mutex_lock (&cache->lock);
  if ((region = g_hash_table_lookup (cache->regions, key)))
    region->users++;
  g_mutex_unlock (&cache->lock);
  return region;
}

/* How consumers can map the object behind `fd` safely: its size and region
 * flags, or a refusal. An object that takes seals (a memfd, a tmpfs file)
 * could be shrunk under the consumers' mappings (SIGBUS) unless sealed:
 * consumers refuse it unsealed, so seal it now or copy. A DMABuf takes no
 * seals and cannot change size. */
static gboolean
fd_object_shape (GstObject * sink, GstZcipcFdUse * use, GstMemory * root,
    int fd, guint64 * size, guint32 * flags)
{
  gboolean dmabuf = gst_is_dmabuf_memory (root);
  const int need = F_SEAL_SHRINK | F_SEAL_GROW;
  int seals = fcntl (fd, F_GET_SEALS);
  struct stat st;
  off_t end;

  if (seals >= 0) {
    if ((seals & need) != need && fcntl (fd, F_ADD_SEALS, need) < 0) {
      fd_use_refuse (use, "%s memory in a memfd that cannot be "
          "sealed against shrinking (F_ADD_SEALS: %s)",
          root->allocator->mem_type, g_strerror (errno));
      return FALSE;
    }
    if ((seals & need) != need)
      GST_INFO_OBJECT (sink, "sealed upstream's memfd (fd %d) against "
          "shrinking and growing, so consumers can map it", fd);
    if (fstat (fd, &st) < 0) {
      fd_use_refuse (use, "fstat on fd %d: %s", fd, g_strerror (errno));
      return FALSE;
    }
    *size = (guint64) st.st_size;
    *flags = ZCIPC_REGION_FLAG_MEMFD | (dmabuf ? ZCIPC_REGION_FLAG_DMABUF : 0);
    return TRUE;
  }
  if (!dmabuf) {
    fd_use_refuse (use, "%s memory whose fd is neither a DMABuf nor "
        "a memfd, so consumers could not be kept safe from it shrinking",
        root->allocator->mem_type);
    return FALSE;
  }
  end = lseek (fd, 0, SEEK_END);
  if (end <= 0) {
    fd_use_refuse (use, "DMABuf fd %d of unknown size (lseek: %s)",
        fd, end < 0 ? g_strerror (errno) : "0 bytes");
    return FALSE;
  }
  *size = (guint64) end;
  *flags = ZCIPC_REGION_FLAG_DMABUF;
  return TRUE;
}

/* First sight of a root fd memory: find (or make) the region of the object
 * behind its fd. The only syscalls of the fd path are here: fstat for the
 * identity, and for an object not seen before F_GET_SEALS (and F_ADD_SEALS
 * or lseek). Everything later goes through the memory's qdata. */
static GstZcipcFdUse *
fd_use_new (GstZcipcFdCache * cache, GstObject * sink, GstMemory * root)
{
  static gint next_id = 0;      /* atomic */
  GstZcipcFdUse *use = g_new0 (GstZcipcFdUse, 1);
  GstZcipcFdRegion key = { 0 }, *region;
  int fd = gst_fd_memory_get_fd (root);
  struct stat st;

  use->cache = gst_zcipc_fd_cache_ref (cache);
  if (fd < 0)
    return fd_use_refuse (use, "%s memory without an fd",
        root->allocator->mem_type);
  if (fstat (fd, &st) < 0)
    return fd_use_refuse (use, "fstat on fd %d: %s", fd, g_strerror (errno));
  key.dev = st.st_dev;
  key.ino = st.st_ino;
  if ((use->region = fd_cache_lookup_and_use (cache, &key))) {
    GST_DEBUG_OBJECT (sink, "memory %p: fd %d is region %u again", root, fd,
        use->region->id);
    return use;
  }

  if (!fd_object_shape (sink, use, root, fd, &key.size, &key.flags))
    return use;
  if (key.size == 0)
    return fd_use_refuse (use, "fd %d is empty", fd);

  region = g_new0 (GstZcipcFdRegion, 1);
  *region = key;
  region->id = 0x80000000u | ((guint32) g_atomic_int_add (&next_id, 1) + 1u);
  region->users = 1;
  /* Only this (streaming) thread adds entries, so nobody added this one
   * while the lock was not held. */
  g_mutex_lock (&cache->lock);
  g_hash_table_add (cache->regions, region);
  g_mutex_unlock (&cache->lock);
  use->region = region;
  GST_DEBUG_OBJECT (sink, "memory %p: %s fd %d is new region %u (%"
      G_GUINT64_FORMAT " bytes, flags 0x%x)", root, root->allocator->mem_type,
      fd, region->id, region->size, region->flags);
  return use;
}

/**
 * gst_zcipc_fd_cache_resolve:
 *
 * Where `mem`'s bytes lie in a region consumers can map by fd; FALSE (with
 * the reason, owned by the memory's qdata or static) when they cannot. Per
 * frame for memory seen before: one qdata lookup, no syscall. Streaming
 * thread only; `sink` is for the log.
 */
gboolean
gst_zcipc_fd_cache_resolve (GstZcipcFdCache * cache, GstObject * sink,
    GstMemory * mem, struct zcipc_wire_mem *out,
    GstZcipcFdRegion ** out_region, const gchar ** reason)
{
  /* Shares point at their root (gst_fd_mem_share): the root lives as long
   * as they do, and carries the cache entry for all of them. */
  GstMemory *root = mem->parent && gst_is_fd_memory (mem->parent) ?
      mem->parent : mem;
  GstZcipcFdUse *use = gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (root),
      cache->quark);

  if (!use) {
    use = fd_use_new (cache, sink, root);
    gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (root), cache->quark,
        use, fd_use_free);
    if (!use->region)
      GST_DEBUG_OBJECT (sink, "memory %p cannot be passed by fd: %s", root,
          use->reason);
  }
  if (!use->region) {
    *reason = use->reason;
    return FALSE;
  }
  /* GstFdMemory maps its fd from offset 0; mem->offset is where the bytes
   * start inside it (shares included), so it is the offset in the fd. */
  if (mem->offset + mem->size > use->region->size) {
    *reason = "fd memory reaching past the end of its fd";
    return FALSE;
  }
  *out = (struct zcipc_wire_mem) {
    .region_id = use->region->id,.offset = mem->offset,.size = mem->size
  };
  *out_region = use->region;
  return TRUE;
}

gboolean
gst_zcipc_fd_cache_is_announced (GstZcipcFdCache * cache,
    GstZcipcFdRegion * region)
{
  gboolean announced;

  g_mutex_lock (&cache->lock);
  announced = region->announced;
  g_mutex_unlock (&cache->lock);
  return announced;
}

void
gst_zcipc_fd_cache_set_announced (GstZcipcFdCache * cache,
    GstZcipcFdRegion * region)
{
  g_mutex_lock (&cache->lock);
  region->announced = TRUE;
  g_mutex_unlock (&cache->lock);
}

/* The ids of announced regions whose last memory was freed since the last
 * call, for REGION_REMOVE (the caller frees the array); NULL when none. */
GArray *
gst_zcipc_fd_cache_take_removed (GstZcipcFdCache * cache)
{
  GArray *removed = NULL;

  g_mutex_lock (&cache->lock);
  if (cache->removed->len) {
    removed = cache->removed;
    cache->removed = g_array_new (FALSE, FALSE, sizeof (guint32));
  }
  g_mutex_unlock (&cache->lock);
  return removed;
}

/* The server is gone: nothing is announced any more. Memories still alive
 * keep their entries and are announced again to the next server. */
void
gst_zcipc_fd_cache_forget_announced (GstZcipcFdCache * cache)
{
  GHashTableIter iter;
  gpointer key;

  g_mutex_lock (&cache->lock);
  g_array_set_size (cache->removed, 0);
  g_hash_table_iter_init (&iter, cache->regions);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    ((GstZcipcFdRegion *) key)->announced = FALSE;
  g_mutex_unlock (&cache->lock);
}

/* Upstream's fd-backed objects known now (the stats' fd-regions). */
guint
gst_zcipc_fd_cache_n_regions (GstZcipcFdCache * cache)
{
  guint n;

  g_mutex_lock (&cache->lock);
  n = g_hash_table_size (cache->regions);
  g_mutex_unlock (&cache->lock);
  return n;
}
