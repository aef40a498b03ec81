/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* GstZcipcFrameSender: how zcipcsink puts one rendered buffer on the wire.
 * It copies a buffer consumers cannot map into shared memory (counted in
 * frames-copied, said once per stream to GST_PERFORMANCE), serializes the
 * metas (in the frame's message, or in a region of their own when too big
 * for it), and sends the frame with the release policy and the yield the
 * sink asks for.
 *
 * Owns: the metas scratch buffer, the once-per-stream notes (first copy,
 * first meta too big), a reference on the sink's allocator. Borrows the
 * sink's region table and counters (they live as long as the sink), and
 * the server between attach() and detach().
 *
 * Locking: none; streaming thread only (and start()/stop(), which
 * GstBaseSink never runs at the same time as render()).
 *
 * Lifetime: as long as the sink; detach() at stop() also starts a new
 * stream's once-per-stream notes.
 */
#ifndef __GST_ZCIPC_FRAME_SENDER_H__
#define __GST_ZCIPC_FRAME_SENDER_H__

#include <gst/gst.h>

#include "gstzcipcregiontable.h"
#include "gstzcipcsinkstats.h"
#include "zcipc/server.h"

G_BEGIN_DECLS

typedef struct _GstZcipcFrameSender GstZcipcFrameSender;

GstZcipcFrameSender *gst_zcipc_frame_sender_new (GstElement * sink,
    GstAllocator * allocator, GstZcipcRegionTable * regions,
    GstZcipcSinkCounters * counters);
void gst_zcipc_frame_sender_free (GstZcipcFrameSender * sender);

void gst_zcipc_frame_sender_attach (GstZcipcFrameSender * sender,
    struct zcipc_server *server);
void gst_zcipc_frame_sender_detach (GstZcipcFrameSender * sender);

GstBuffer *gst_zcipc_frame_sender_copy (GstZcipcFrameSender * sender,
    GstBuffer * buffer, GstZcipcFrameMems * mems, const gchar * reason);
GstFlowReturn gst_zcipc_frame_sender_send (GstZcipcFrameSender * sender,
    GstBuffer * shared, GstZcipcFrameMems * mems, gboolean lazy_releases,
    gboolean yield_after_send);

G_END_DECLS
#endif
