/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* GstZcipcConsumerAllocator: the fd memories zcipcsrc pushes for frames in
 * a memfd region.
 *
 * Owns nothing but the memories it makes: one parent memory per region over
 * the region's fd (which stays the zcipc_client's, never closed here) and
 * the client's existing read-only mapping of it, which a map returns; no
 * memory of it ever mmaps or munmaps. Who makes a parent keeps the mapping
 * alive for as long as the parent or a share of it can be mapped (zcipcsrc:
 * each share holds its frame, which holds the region).
 *
 * Locking: none; a parent's mapping is set once, before the memory is
 * shared. Lifetime: a GstObject; each memory holds a reference. */
#ifndef __GST_ZCIPC_CONSUMER_ALLOCATOR_H__
#define __GST_ZCIPC_CONSUMER_ALLOCATOR_H__

#include <gst/gst.h>
#include <gst/allocators/allocators.h>

G_BEGIN_DECLS

#define GST_ZCIPC_CONSUMER_MEMORY_TYPE "ZcipcConsumerMemory"

#define GST_TYPE_ZCIPC_CONSUMER_ALLOCATOR \
    (gst_zcipc_consumer_allocator_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcConsumerAllocator, gst_zcipc_consumer_allocator,
    GST, ZCIPC_CONSUMER_ALLOCATOR, GstFdAllocator)

GstAllocator *gst_zcipc_consumer_allocator_new (void);

GstMemory *gst_zcipc_consumer_allocator_wrap_region (GstAllocator * allocator,
    gint fd, gconstpointer data, gsize size);

G_END_DECLS
#endif
