/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* GstZcipcFrameCopier: zcipcsrc's way out when downstream keeps every frame
 * the producer lends: the frame is copied into private memory (so that its
 * slot can go back at once), counted, and each episode of copying is told
 * once, with what to raise.
 *
 * Owns the pool of copy buffers (of the last copied frame's size) and the
 * episode's state; counts frames and bytes copied.
 *
 * Locking: the streaming thread's, but for the counters, which are atomic
 * (stats are read on any thread). Lifetime: a member of GstZcipcSrc,
 * cleared at finalize; copy buffers still out keep their pool. */
#ifndef __GST_ZCIPC_FRAME_COPIER_H__
#define __GST_ZCIPC_FRAME_COPIER_H__

#include <gst/gst.h>

#include <zcipc/client.h>

G_BEGIN_DECLS

typedef struct
{
  gboolean copying;             /* in an episode (warned once) */
  gint64 last_copy_us;
  GstBufferPool *pool;          /* buffers of pool_size bytes */
  gsize pool_size;

  guint64 frames_copied;        /* atomic */
  guint64 bytes_copied;         /* atomic */
} GstZcipcFrameCopier;

/* Where a copy happened and what the consumer asked, for the warning. */
typedef struct
{
  const gchar *path;            /* the producer's socket */
  guint quota;                  /* frames granted */
  guint asked;                  /* frames asked for */
  guint max_held;               /* the property */
  guint held;                   /* frames held, this one included */
} GstZcipcCopyContext;

void gst_zcipc_frame_copier_clear (GstZcipcFrameCopier * copier);

GstBuffer *gst_zcipc_frame_copier_copy (GstZcipcFrameCopier * copier,
    const struct zcipc_client_event *ev, gsize * size);

void gst_zcipc_frame_copier_note (GstZcipcFrameCopier * copier,
    GstElement * element, const struct zcipc_client_event *ev, gsize size,
    const GstZcipcCopyContext * context);

gboolean gst_zcipc_frame_copier_episode_ended (GstZcipcFrameCopier * copier);

G_END_DECLS
#endif
