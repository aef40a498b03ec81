/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* What zcipcsink counts on top of lib's server statistics, and the
 * #GstZcipcSink:stats structure made of both.
 *
 * Owns: nothing; GstZcipcSinkCounters is a plain struct inside the sink,
 * living as long as the sink (never reset at stop: the counts are the
 * element's lifetime totals).
 *
 * Locking: every counter is atomic (added to from the streaming thread,
 * read from the application's).
 */
#ifndef __GST_ZCIPC_SINK_STATS_H__
#define __GST_ZCIPC_SINK_STATS_H__

#include <gst/gst.h>

#include "zcipc/server.h"

G_BEGIN_DECLS

typedef struct
{
  guint64 frames_copied;
  guint64 bytes_copied;
  guint64 metas_skipped;
  guint64 regions_announced;
  guint64 fd_regions_announced;
  guint64 frames_by_fd;
} GstZcipcSinkCounters;

/* Adds `n` to counter `field` of `counters` (atomically). */
#define GST_ZCIPC_SINK_COUNT(counters, field, n) \
  g_atomic_pointer_add (&(counters)->field, (n))

/* Most consumers listed in consumer-stats. */
#define GST_ZCIPC_SINK_STATS_MAX_CONSUMERS 64

void gst_zcipc_sink_stats_fill (GstStructure * stats,
    const struct zcipc_server_stats *server,
    const struct zcipc_consumer_stats *consumers, guint n_consumers,
    GstZcipcSinkCounters * counters, guint fd_regions);

G_END_DECLS
#endif
