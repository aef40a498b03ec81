/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_BUFFER_POOL_H__
#define __GST_ZCIPC_BUFFER_POOL_H__

#include <gst/gst.h>

#include "gstzcipcallocator.h"

G_BEGIN_DECLS

#define GST_TYPE_ZCIPC_BUFFER_POOL (gst_zcipc_buffer_pool_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcBufferPool, gst_zcipc_buffer_pool, GST,
    ZCIPC_BUFFER_POOL, GstBufferPool)

GstBufferPool *gst_zcipc_buffer_pool_new (GstAllocator * allocator);

G_END_DECLS
#endif
