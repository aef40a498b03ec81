/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* GstZcipcRegionTable: the regions a zcipcsink announced to its server,
 * and where a buffer's memories lie in them.
 *
 * Owns: a reference on each of the sink's own regions (GstZcipcRegion)
 * announced to the current server, until the sweep finds nobody else uses
 * one and removes it; a reference on the sink's fd cache, whose regions
 * (upstream's fds) it announces on first use and removes once their last
 * memory is freed. It does not own the server it is attached to.
 *
 * Locking: none of its own. It is used from the streaming thread (render)
 * and from start() and stop(), which GstBaseSink never runs at the same
 * time as render; the fd cache locks itself; counters are atomic.
 *
 * Lifetime: as long as the sink. attach() at start() gives it the new
 * server; detach() at stop(), after the server is freed, forgets every
 * announcement (memory still alive is announced again to the next one).
 */
#ifndef __GST_ZCIPC_REGION_TABLE_H__
#define __GST_ZCIPC_REGION_TABLE_H__

#include <gst/gst.h>

#include "gstzcipcallocator.h"
#include "gstzcipcfdcache.h"
#include "gstzcipcsinkstats.h"
#include "zcipc/server.h"

G_BEGIN_DECLS

typedef struct _GstZcipcRegionTable GstZcipcRegionTable;

/* Where each memory of a frame lies: its wire mem and the region behind it,
 * ours (own) or upstream's fd (fd). One wire mem more than memories, for
 * metas that travel in a region of their own. */
typedef struct
{
  struct zcipc_wire_mem mems[ZCIPC_WIRE_MAX_MEMS + 1];
  GstZcipcRegion *own[ZCIPC_WIRE_MAX_MEMS];
  GstZcipcFdRegion *fd[ZCIPC_WIRE_MAX_MEMS];
  guint n_mems;
} GstZcipcFrameMems;

GstZcipcRegionTable *gst_zcipc_region_table_new (GstElement * sink,
    GstZcipcFdCache * fd_cache, GstZcipcSinkCounters * counters);
void gst_zcipc_region_table_free (GstZcipcRegionTable * table);

void gst_zcipc_region_table_attach (GstZcipcRegionTable * table,
    struct zcipc_server *server);
void gst_zcipc_region_table_detach (GstZcipcRegionTable * table);

gboolean gst_zcipc_region_table_describe (GstZcipcRegionTable * table,
    GstBuffer * buffer, GstZcipcFrameMems * out, const gchar ** reason);
gboolean gst_zcipc_region_table_announce (GstZcipcRegionTable * table,
    GstZcipcRegion * region);
gboolean gst_zcipc_region_table_announce_frame (GstZcipcRegionTable * table,
    GstBuffer * buffer, const GstZcipcFrameMems * mems);
void gst_zcipc_region_table_remove_freed_fd_regions (GstZcipcRegionTable *
    table);
void gst_zcipc_region_table_sweep (GstZcipcRegionTable * table);

G_END_DECLS
#endif
