/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* GstZcipcFdCache: the foreign fd-backed memory a zcipcsink has seen.
 *
 * Owns: one GstZcipcFdRegion per object behind upstream's fds (a DMABuf, a
 * memfd of another allocator), named by (st_dev, st_ino), and the ids of
 * announced regions whose last memory was freed, queued for REGION_REMOVE.
 * Each root GstMemory looked up carries qdata under the cache's own quark:
 * its region, or why it cannot be passed by fd (then the sink copies it).
 *
 * Locking: one mutex guards the table, the removal queue and each region's
 * users and announced flag, because memory is freed from any thread (a
 * consumer's release on the server thread, upstream's pool, after the sink
 * is gone). Regions are added from the streaming thread only. A region's id,
 * dev, ino, size and flags never change once it is in the table.
 *
 * Lifetime: reference counted (atomic). The sink holds one reference and
 * each memory's qdata another, so memory freed after the sink is still safe.
 * A region lives while a root memory over its object lives.
 */
#ifndef __GST_ZCIPC_FD_CACHE_H__
#define __GST_ZCIPC_FD_CACHE_H__

#include <sys/types.h>

#include <gst/gst.h>

#include "zcipc/wire.h"

G_BEGIN_DECLS

typedef struct _GstZcipcFdCache GstZcipcFdCache;

/* One object behind upstream's fds, as consumers map it. */
typedef struct _GstZcipcFdRegion
{
  guint32 id;                   /* wire id, in the upper half of the space */
  dev_t dev;
  ino_t ino;
  guint64 size;
  guint32 flags;                /* ZCIPC_REGION_FLAG_* */
  gint users;                   /* cache lock: root memories carrying it */
  gboolean announced;           /* cache lock: to the current server */
} GstZcipcFdRegion;

GstZcipcFdCache *gst_zcipc_fd_cache_new (void);
GstZcipcFdCache *gst_zcipc_fd_cache_ref (GstZcipcFdCache * cache);
void gst_zcipc_fd_cache_unref (GstZcipcFdCache * cache);

gboolean gst_zcipc_fd_cache_resolve (GstZcipcFdCache * cache,
    GstObject * sink, GstMemory * mem, struct zcipc_wire_mem *out,
    GstZcipcFdRegion ** out_region, const gchar ** reason);

gboolean gst_zcipc_fd_cache_is_announced (GstZcipcFdCache * cache,
    GstZcipcFdRegion * region);
void gst_zcipc_fd_cache_set_announced (GstZcipcFdCache * cache,
    GstZcipcFdRegion * region);
GArray *gst_zcipc_fd_cache_take_removed (GstZcipcFdCache * cache);
void gst_zcipc_fd_cache_forget_announced (GstZcipcFdCache * cache);
guint gst_zcipc_fd_cache_n_regions (GstZcipcFdCache * cache);

G_END_DECLS
#endif
