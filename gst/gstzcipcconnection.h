/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* GstZcipcConnection: zcipcsrc's connection to its producer: connecting
 * (waiting for a producer that is not there yet), losing it, and coming
 * back with a backoff; the errors a user sees when it cannot.
 *
 * Owns the zcipc_client of the current connection (frames still held
 * downstream keep a closed one alive), the sleeps of earlier ones, and the
 * reconnect backoff.
 *
 * Locking: `lock` protects client (swapped by the streaming thread, read
 * by any), flushing and spin_time (set by unlock() and properties) and
 * sleeps_before; the streaming thread reads client without it. The rest is
 * the streaming thread's. Lifetime: a member of GstZcipcSrc; closed by
 * stop(), cleared at finalize. */
#ifndef __GST_ZCIPC_CONNECTION_H__
#define __GST_ZCIPC_CONNECTION_H__

#include <gst/gst.h>

#include <zcipc/client.h>

G_BEGIN_DECLS

typedef struct
{
  GMutex lock;
  struct zcipc_client *client;
  gboolean flushing;
  guint spin_time;
  guint64 sleeps_before;        /* sleeps of earlier connections' clients */

  /* Streaming thread */
  guint backoff_ms;             /* before the next reconnect's first try */
  gint64 connected_at_us;       /* when this connection came up */
  gboolean connected;
  gboolean ever_connected;
} GstZcipcConnection;

/* What connecting needs to know. */
typedef struct
{
  const gchar *path;            /* the socket */
  const gchar *stream_name;     /* its stream-name, NULL for a socket-path */
  gboolean dir_missing;         /* the stream directory was not there */
  guint max_held;               /* the quota to ask for */
  guint timeout_ms;             /* the timeout property (0: forever) */
} GstZcipcConnectTarget;

/* What a client says of itself, for the stats. */
typedef struct
{
  guint64 sleeps;               /* all connections' */
  guint quota;
  guint consumer_id;
  guint regions;
  gboolean channel;
} GstZcipcConnectionStats;

void gst_zcipc_connection_init (GstZcipcConnection * conn);
void gst_zcipc_connection_clear (GstZcipcConnection * conn);
void gst_zcipc_connection_reset (GstZcipcConnection * conn);

GstFlowReturn gst_zcipc_connection_connect (GstZcipcConnection * conn,
    GstElement * element, const GstZcipcConnectTarget * target);

void gst_zcipc_connection_close (GstZcipcConnection * conn);

gboolean gst_zcipc_connection_read_failed (GstZcipcConnection * conn,
    GstElement * element, const gchar * path, int res, gboolean reconnect);

void gst_zcipc_connection_set_flushing (GstZcipcConnection * conn,
    gboolean flushing);
void gst_zcipc_connection_set_spin (GstZcipcConnection * conn, guint spin);

struct zcipc_client *gst_zcipc_connection_ref_client (GstZcipcConnection *
    conn);

void gst_zcipc_connection_get_stats (GstZcipcConnection * conn,
    GstZcipcConnectionStats * stats);

G_END_DECLS
#endif
