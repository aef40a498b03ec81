/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* GstZcipcConsumerPool: the consumer's side, where a frame received from
 * the producer (a zcipc_client frame event) becomes a GstBuffer, for frames
 * in memfd regions and in DMABuf regions alike.
 *
 * Owns: one parent memory per region of the current connection (an fd
 * memory of GstZcipcConsumerAllocator over a memfd region, a
 * GstDmaBufMemory over a duplicate of a DMABuf region's fd), the buffers
 * kept per slot for reuse, and the held frames: each buffer's memories hold
 * their frame, given back to the producer (zcipc_client_release) when the
 * buffer comes back to the pool intact, or else with the last memory of it
 * (shares of shares included).
 *
 * Locking: the kept buffers and the generation under the pool's own mutex
 * (buffers come back on any thread); the region table is the streaming
 * thread's (wrap, forget_region, flush, made while it is stopped); counters
 * are atomic.
 *
 * Lifetime: made by zcipcsrc at init, freed at finalize; buffers and
 * memories still out keep what they need (the pool, their region's parent
 * memory, their frame and with it the client and its mapping). */
#ifndef __GST_ZCIPC_CONSUMER_POOL_H__
#define __GST_ZCIPC_CONSUMER_POOL_H__

#include <gst/gst.h>

#include <zcipc/client.h>

G_BEGIN_DECLS

#define GST_TYPE_ZCIPC_CONSUMER_POOL (gst_zcipc_consumer_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcConsumerPool, gst_zcipc_consumer_pool, GST,
    ZCIPC_CONSUMER_POOL, GstBufferPool)

/**
 * GstZcipcConsumerPoolAcquireParams:
 * @parent: the generic parameters
 * @client: the connection the frame came from
 * @event: a frame event of @client, whose memories all lie in memfd
 *   regions
 *
 * What gst_buffer_pool_acquire_buffer() on a #GstZcipcConsumerPool needs:
 * the frame to wrap. The buffer it gives holds the frame.
 */
typedef struct
{
  GstBufferPoolAcquireParams parent;
  struct zcipc_client *client;
  const struct zcipc_client_event *event;
} GstZcipcConsumerPoolAcquireParams;

GstZcipcConsumerPool *gst_zcipc_consumer_pool_new (void);

GstBuffer *gst_zcipc_consumer_pool_wrap (GstZcipcConsumerPool * pool,
    struct zcipc_client *client, const struct zcipc_client_event *ev,
    gboolean * metas_ready);

void gst_zcipc_consumer_pool_keep_metas (GstZcipcConsumerPool * pool,
    GstBuffer * buffer, const guint8 * blob, guint32 size);

void gst_zcipc_consumer_pool_forget_region (GstZcipcConsumerPool * pool,
    guint32 region_id);

void gst_zcipc_consumer_pool_flush (GstZcipcConsumerPool * pool);

guint64 gst_zcipc_consumer_pool_reused (GstZcipcConsumerPool * pool);

guint gst_zcipc_consumer_pool_n_dmabuf_regions (GstZcipcConsumerPool * pool);

G_END_DECLS
#endif
