/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* The state of a zcipcsrc, shared by the files that make the element:
 * gstzcipcsrc.c (the GObject, its properties and GstBaseSrc vfuncs) and
 * gstzcipcsrcreceive.c (the streaming thread's work). Nothing outside them
 * includes it.
 *
 * Owns each part of the element's state; the parts with a job of their own
 * are objects of their own (connection, quota, schedule, copier, consumer
 * pool). Locking: said per field below. Lifetime: the element's. */
#ifndef __GST_ZCIPC_SRC_PRIVATE_H__
#define __GST_ZCIPC_SRC_PRIVATE_H__

#include <gst/gst.h>
#include <gst/base/gstpushsrc.h>

#include "gstzcipcsrc.h"
#include "gstzcipcconnection.h"
#include "gstzcipcconsumerpool.h"
#include "gstzcipcframecopier.h"
#include "gstzcipcquota.h"
#include "gstzcipcschedule.h"
#include "gstzcipcserial.h"

G_BEGIN_DECLS

struct _GstZcipcSrc
{
  GstPushSrc parent;

  /* OBJECT LOCK: properties */
  gchar *socket_path;
  gchar *stream_name;
  guint timeout;
  gboolean reconnect;
  gboolean retimestamp;
  guint spin_time;

  /* Streaming thread: retimestamp as of start() */
  gboolean retimestamp_active;
  /* Set by start(), freed by stop(); read by the streaming thread: the
   * socket to connect to, and the stream-name it came from (NULL for a
   * socket-path), whose directory is checked after each connect. */
  gchar *path;
  gchar *path_stream_name;
  /* The stream directory did not exist at start(): wait for the producer
   * to make it, as for a socket not there yet. */
  gboolean path_dir_missing;

  /* The quota we ask, max-held included (its own lock) */
  GstZcipcQuota quota;

  /* Frames copied because downstream kept all granted */
  GstZcipcFrameCopier copier;

  /* OBJECT LOCK: the producer's current caps */
  GstCaps *caps;

  /* The connection to the producer (its own lock) */
  GstZcipcConnection conn;

  /* Streaming thread only */
  GstZcipcMetaContext *meta_ctx;        /* this connection's metas */
  guint64 last_seq;
  GstZcipcSchedule schedule;    /* where the producer's frames play */
  gboolean segment_pending;     /* new segment not yet pushed */
  GstSegment out_segment;

  /* Makes the buffers of frames in shared memory (reused per slot), and
   * keeps the memory of each region of this connection; flushed when the
   * connection goes. */
  GstZcipcConsumerPool *consumer_pool;

  /* Atomic counters */
  guint64 frames_received;
  guint64 frames_dropped;
  guint64 metas_unknown;
  guint64 metas_skipped;
  guint64 reconnects;

  /* Streaming thread: when we last sent the producer our REPORT. */
  gint64 last_report_us;
};

void gst_zcipc_src_drop_connection (GstZcipcSrc * self);
void gst_zcipc_src_update_quota_request (GstZcipcSrc * self);

G_END_DECLS
#endif
