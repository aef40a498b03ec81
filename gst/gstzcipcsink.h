/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_SINK_H__
#define __GST_ZCIPC_SINK_H__

#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

/**
 * GstZcipcSlowConsumer:
 * @GST_ZCIPC_SLOW_CONSUMER_SKIP: a consumer at its quota misses frames; nobody waits for it
 * @GST_ZCIPC_SLOW_CONSUMER_WAIT: lossless: the producer waits for the slowest consumer,
 *   and drops one that holds frames longer than #GstZcipcSink:wait-timeout
 */
typedef enum
{
  GST_ZCIPC_SLOW_CONSUMER_SKIP,
  GST_ZCIPC_SLOW_CONSUMER_WAIT,
} GstZcipcSlowConsumer;

/**
 * GstZcipcCopyMode:
 * @GST_ZCIPC_COPY_MODE_ALLOW: memory that is not shareable is copied into shared memory (counted)
 * @GST_ZCIPC_COPY_MODE_FORBID: such a buffer is an error
 */
typedef enum
{
  GST_ZCIPC_COPY_MODE_ALLOW,
  GST_ZCIPC_COPY_MODE_FORBID,
} GstZcipcCopyMode;

#define GST_TYPE_ZCIPC_SLOW_CONSUMER (gst_zcipc_slow_consumer_get_type ())
GType gst_zcipc_slow_consumer_get_type (void);
#define GST_TYPE_ZCIPC_COPY_MODE (gst_zcipc_copy_mode_get_type ())
GType gst_zcipc_copy_mode_get_type (void);

#define GST_TYPE_ZCIPC_SINK (gst_zcipc_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcSink, gst_zcipc_sink, GST, ZCIPC_SINK,
    GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (zcipcsink);

G_END_DECLS
#endif
