/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_ALLOCATOR_H__
#define __GST_ZCIPC_ALLOCATOR_H__

#include <gst/gst.h>

#include "zcipc/region.h"

G_BEGIN_DECLS

#define GST_ZCIPC_MEMORY_TYPE "ZcipcMemory"

/* One sealed memfd mapped once in the producer, shared by reference count
 * between the memories carved out of it, the pool that carves them, and the
 * sink that announced it to consumers. */
typedef struct _GstZcipcRegion
{
  gint refcount;                /* atomic */
  guint32 id;                   /* unique in this process, names it on the wire */
  struct zcipc_region region;
  /* Slots carved by a pool: which are alive (atomic bit per slot). */
  guint n_slots;
  gsize slot_stride;
  guint64 slots_used;
  /* Atomic: a departed consumer may still read it, so nothing is written
   * to or handed out of it again; it goes with its last memory. */
  gint retired;
} GstZcipcRegion;

GstZcipcRegion *gst_zcipc_region_new (gsize size, guint n_slots,
    gsize slot_stride, GError ** error);
GstZcipcRegion *gst_zcipc_region_ref (GstZcipcRegion * region);
void gst_zcipc_region_unref (GstZcipcRegion * region);
void gst_zcipc_region_retire (GstZcipcRegion * region);
gboolean gst_zcipc_region_is_retired (GstZcipcRegion * region);
gboolean gst_zcipc_region_is_held_only_by_caller (GstZcipcRegion * region);

#define GST_TYPE_ZCIPC_ALLOCATOR (gst_zcipc_allocator_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcAllocator, gst_zcipc_allocator, GST,
    ZCIPC_ALLOCATOR, GstAllocator)

/* Each sink has its own allocator (and so its own cache of regions). */
GstAllocator *gst_zcipc_allocator_new (void);

/* A memory over slot `slot` of `region` (taking a region reference). The
 * slot is marked used until the memory is freed. */
GstMemory *gst_zcipc_allocator_alloc_slot (GstZcipcAllocator * allocator,
    GstZcipcRegion * region, guint slot, gsize size);

gboolean gst_is_zcipc_memory (GstMemory * mem);

/* The region `mem` lives in, and where its bytes start inside it. */
GstZcipcRegion *gst_zcipc_memory_get_region (GstMemory * mem,
    gsize * region_offset);

G_END_DECLS
#endif
