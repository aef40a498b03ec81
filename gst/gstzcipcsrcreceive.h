/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* zcipcsrc's streaming thread: what create() does. Reads the connection
 * (connecting, and reconnecting after a loss), turns the producer's events
 * into GStreamer events, caps and segments, and its frames into buffers
 * (wrapped in place by the consumer pool, or copied when downstream keeps
 * every frame lent).
 *
 * Owns nothing: it works on the element's state (gstzcipcsrcprivate.h).
 * Locking: the streaming thread's; takes the OBJECT LOCK for properties
 * and caps as that header says. Lifetime: the element's. */
#ifndef __GST_ZCIPC_SRC_RECEIVE_H__
#define __GST_ZCIPC_SRC_RECEIVE_H__

#include "gstzcipcsrcprivate.h"

G_BEGIN_DECLS

GstFlowReturn gst_zcipc_src_receive (GstZcipcSrc * self, GstBuffer ** buffer);

G_END_DECLS
#endif
