/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_FRAME_POOL_H__
#define __GST_ZCIPC_FRAME_POOL_H__

#include <gst/gst.h>

#include <zcipc/client.h>

G_BEGIN_DECLS

#define GST_TYPE_ZCIPC_FRAME_POOL (gst_zcipc_frame_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcFramePool, gst_zcipc_frame_pool, GST,
    ZCIPC_FRAME_POOL, GstBufferPool)

GstZcipcFramePool *gst_zcipc_frame_pool_new (void);

GstBuffer *gst_zcipc_frame_pool_wrap (GstZcipcFramePool * pool,
    struct zcipc_client *client, const struct zcipc_client_event *ev,
    gboolean * metas_ready);

void gst_zcipc_frame_pool_keep_metas (GstZcipcFramePool * pool,
    GstBuffer * buffer, const guint8 * blob, guint32 size);

void gst_zcipc_frame_pool_flush (GstZcipcFramePool * pool);

guint64 gst_zcipc_frame_pool_reused (GstZcipcFramePool * pool);

G_END_DECLS
#endif
