/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_PRODUCER_POOL_H__
#define __GST_ZCIPC_PRODUCER_POOL_H__

#include <gst/gst.h>

#include "gstzcipcallocator.h"

G_BEGIN_DECLS

#define GST_TYPE_ZCIPC_PRODUCER_POOL (gst_zcipc_producer_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcProducerPool, gst_zcipc_producer_pool, GST,
    ZCIPC_PRODUCER_POOL, GstBufferPool)

GstBufferPool *gst_zcipc_producer_pool_new (GstAllocator * allocator);

/**
 * GstZcipcReclaimFunc:
 * @user_data: as given to gst_zcipc_producer_pool_set_reclaim_func()
 *
 * Called (in the acquiring thread) when every buffer of the pool is out,
 * before the pool grows or waits: the owner gives back buffers it can.
 */
typedef void (*GstZcipcReclaimFunc) (gpointer user_data);

void gst_zcipc_producer_pool_set_reclaim_func (GstZcipcProducerPool * pool,
    GstZcipcReclaimFunc func, gpointer user_data, GDestroyNotify notify);

GstBufferPool *gst_zcipc_producer_pool_new_configured (GstAllocator *
    allocator, GstCaps * caps, guint size, guint min, guint max,
    GstZcipcReclaimFunc reclaim, gpointer user_data, GDestroyNotify notify);
gboolean gst_zcipc_producer_pool_retire_buffer (GstBuffer * buffer);

G_END_DECLS
#endif
