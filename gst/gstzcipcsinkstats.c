/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* The fields of #GstZcipcSink:stats (documented with the property). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzcipcsinkstats.h"

static guint64
counter_get (guint64 * counter)
{
  return (guint64) g_atomic_pointer_get (counter);
}

/* consumer-stats: one structure per consumer. */
static void
take_consumer_stats (GstStructure * stats,
    const struct zcipc_consumer_stats *per, guint n)
{
  GValue array = G_VALUE_INIT;

  g_value_init (&array, GST_TYPE_ARRAY);
  for (guint i = 0; i < n; i++) {
    GValue v = G_VALUE_INIT;
    g_value_init (&v, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&v, gst_structure_new ("consumer",
            "id", G_TYPE_UINT, per[i].info.id,
            "pid", G_TYPE_INT, (gint) per[i].info.pid,
            "uid", G_TYPE_UINT, (guint) per[i].info.uid,
            "quota", G_TYPE_UINT, per[i].info.quota,
            "frames-sent", G_TYPE_UINT64, per[i].frames_sent,
            "frames-missed", G_TYPE_UINT64, per[i].frames_missed,
            "frames-held", G_TYPE_UINT, per[i].held, NULL));
    gst_value_array_append_and_take_value (&array, &v);
  }
  gst_structure_take_value (stats, "consumer-stats", &array);
}

/* Adds the sink's fields to `stats` (GstBaseSink's own): the server's
 * totals `st`, the `n` consumers of `per`, the sink's `counters` and the
 * number of upstream fd-backed objects known. */
void
gst_zcipc_sink_stats_fill (GstStructure * stats,
    const struct zcipc_server_stats *st,
    const struct zcipc_consumer_stats *per, guint n,
    GstZcipcSinkCounters * counters, guint fd_regions)
{
  gst_structure_set (stats,
      "consumers", G_TYPE_UINT, st->consumers,
      "frames-sent", G_TYPE_UINT64, st->frames_sent,
      "frames-unsent", G_TYPE_UINT64, st->frames_unsent,
      "frames-dropped", G_TYPE_UINT64, st->frames_missed,
      "frames-copied", G_TYPE_UINT64, counter_get (&counters->frames_copied),
      "bytes-copied", G_TYPE_UINT64, counter_get (&counters->bytes_copied),
      "frames-held", G_TYPE_UINT, st->held,
      "consumers-joined", G_TYPE_UINT64, st->consumers_joined,
      "consumers-dropped", G_TYPE_UINT64, st->consumers_dropped,
      "metas-skipped", G_TYPE_UINT64, counter_get (&counters->metas_skipped),
      "regions-announced", G_TYPE_UINT64,
      counter_get (&counters->regions_announced),
      "fd-regions-announced", G_TYPE_UINT64,
      counter_get (&counters->fd_regions_announced),
      "frames-by-fd", G_TYPE_UINT64, counter_get (&counters->frames_by_fd),
      "fd-regions", G_TYPE_UINT, fd_regions, NULL);
  take_consumer_stats (stats, per, n);
}
