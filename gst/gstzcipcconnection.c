/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* zcipcsrc's connection to its producer (see gstzcipcconnection.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <string.h>

#include "gstzcipcaddress.h"
#include "gstzcipcconnection.h"

GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_src_debug);
#define GST_CAT_DEFAULT gst_zcipc_src_debug

/* Reconnecting after a lost connection waits this long first, doubling
 * per connection that ends sooner than RECONNECT_BACKOFF_MAX_MS, up to it:
 * a producer that accepts and cuts us off at once sees us once per 2 s. */
#define RECONNECT_BACKOFF_FIRST_MS 20
#define RECONNECT_BACKOFF_MAX_MS 2000

void
gst_zcipc_connection_init (GstZcipcConnection * conn)
{
  g_mutex_init (&conn->lock);
  conn->backoff_ms = RECONNECT_BACKOFF_FIRST_MS;
}

void
gst_zcipc_connection_clear (GstZcipcConnection * conn)
{
  gst_zcipc_connection_close (conn);
  g_mutex_clear (&conn->lock);
}

/* start(): the next connection is the first. */
void
gst_zcipc_connection_reset (GstZcipcConnection * conn)
{
  conn->connected = FALSE;
  conn->ever_connected = FALSE;
}

/* Waiting is told at INFO level: soon after the first miss, then every
 * few seconds (not per retry). */
#define WAIT_FIRST_REPORT_MS 1000
#define WAIT_REPORT_MS 5000

/* Connects, waiting for a producer up to `timeout_ms` (0: forever) in
 * slices, so that a long wait is reported while it lasts. */
static int
wait_for_producer (GstElement * element, struct zcipc_client *client,
    const gchar * path, guint timeout_ms)
{
  gint64 start = g_get_monotonic_time ();
  guint slice_ms = WAIT_FIRST_REPORT_MS;
  int res;

  for (;;) {
    guint64 waited_ms = (g_get_monotonic_time () - start) / 1000;
    guint this_ms = slice_ms;

    if (timeout_ms > 0) {
      if (waited_ms >= timeout_ms)
        return -ETIMEDOUT;
      this_ms = MIN (this_ms, timeout_ms - waited_ms);
    }
    res = zcipc_client_connect (client, (int) MIN (this_ms, (guint) G_MAXINT));
    if (res != -ETIMEDOUT)
      return res;
    waited_ms = (g_get_monotonic_time () - start) / 1000;
    if (timeout_ms > 0 && waited_ms >= timeout_ms)
      return res;
    GST_INFO_OBJECT (element, "still waiting for a producer on '%s' (%"
        G_GUINT64_FORMAT " s so far%s): %s%s", path, (waited_ms + 500) / 1000,
        timeout_ms ? ", timeout set" : "", zcipc_client_reason (client),
        path[0] == '@' ? " (abstract sockets are per network namespace)" : "");
    slice_ms = WAIT_REPORT_MS;
  }
}

/* A client for `target`, set up as zcipcsrc uses it; NULL (the error
 * posted) when it cannot be made. */
static struct zcipc_client *
new_client (GstZcipcConnection * conn, GstElement * element,
    const GstZcipcConnectTarget * target, gboolean after_loss)
{
  struct zcipc_client *client;
  int res = zcipc_client_new (target->path, target->max_held, &client);

  if (res < 0) {
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ,
        ("Could not set up a connection to '%s'", target->path),
        ("zcipc_client_new: %s", g_strerror (-res)));
    return NULL;
  }
  /* To drop our memory of a region when the producer removes it. */
  zcipc_client_report_region_removals (client, true);
  /* ZCIPC_CHANNEL=0 keeps this consumer on the socket path (no shared
   * channel): the benchmark's switch for comparing the two, which lib/
   * takes through its API rather than from the environment. */
  if (g_strcmp0 (g_getenv ("ZCIPC_CHANNEL"), "0") == 0)
    zcipc_client_set_channel (client, false);
  /* A producer that went away may take its directory with it (systemd's
   * RuntimeDirectory) and bring it back: reconnect waits for that too. At
   * start, a path no producer can use is a mistake to say at once, but a
   * stream directory not made yet is where the producer will be. */
  zcipc_client_set_wait_any_path (client, after_loss || target->dir_missing);
  if (after_loss) {
    zcipc_client_set_retry_delay (client, conn->backoff_ms);
    conn->backoff_ms = MIN (conn->backoff_ms * 2, RECONNECT_BACKOFF_MAX_MS);
  }
  return client;
}

/* Makes `client` the connection's, interruptible by unlock() from now. */
static void
install_client (GstZcipcConnection * conn, struct zcipc_client *client)
{
  g_mutex_lock (&conn->lock);
  zcipc_client_set_spin (client, conn->spin_time);
  conn->client = client;
  if (conn->flushing)
    zcipc_client_set_interrupted (client, TRUE);
  g_mutex_unlock (&conn->lock);
}

static void
post_connected (GstZcipcConnection * conn, GstElement * element,
    const GstZcipcConnectTarget * target)
{
  struct zcipc_client *client = conn->client;

  GST_INFO_OBJECT (element, "connected to '%s' as consumer %u, quota %u",
      target->path, zcipc_client_consumer_id (client),
      zcipc_client_quota (client));
  conn->connected = TRUE;
  conn->ever_connected = TRUE;
  conn->connected_at_us = g_get_monotonic_time ();
  gst_element_post_message (element,
      gst_message_new_element (GST_OBJECT_CAST (element),
          gst_structure_new ("zcipc-connected", "socket-path",
              G_TYPE_STRING, target->path, "stream-name", G_TYPE_STRING,
              target->stream_name, "consumer-id", G_TYPE_UINT,
              zcipc_client_consumer_id (client), "quota", G_TYPE_UINT,
              zcipc_client_quota (client), NULL)));
}

/* Why no connection came up, as the user should read it. */
static void
post_connect_error (GstElement * element, const GstZcipcConnectTarget * t,
    int res, const gchar * reason, gboolean after_loss)
{
  const gchar *path = t->path;

  if (res == -ETIMEDOUT && !after_loss) {
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ,
        ("No zcipcsink is publishing on '%s' (waited %u ms). Start the "
            "producer, check the path, or set timeout=0 to wait forever%s",
            path, t->timeout_ms, path[0] == '@' ? ". Abstract sockets "
            "(@name) are per network namespace: a producer in another "
            "container or `ip netns` is not visible here" : ""),
        ("zcipc_client_connect: %s: %s", g_strerror (-res), reason));
  } else if (res == -ENOTDIR && !after_loss) {
    /* Nothing can appear there, but it is still "no producer on that
     * path", the mistake of a wrong path. */
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ,
        ("No zcipcsink is publishing on '%s': %s", path, reason),
        ("zcipc_client_connect: %s", g_strerror (-res)));
  } else {
    /* Something else is in the way, no permission, refused (allow-list,
     * too many consumers, protocol version), or a producer that broke the
     * handshake: the reason says which. */
    GST_ELEMENT_ERROR (element, RESOURCE, OPEN_READ,
        ("Could not receive from '%s': %s", path, reason),
        ("zcipc_client_connect: %s", g_strerror (-res)));
  }
}

/**
 * gst_zcipc_connection_connect:
 * @conn: the connection, not connected
 * @element: the zcipcsrc, for its messages
 * @target: where and how
 *
 * Connects, waiting for the producer (for ever after a lost connection, up
 * to the timeout at first). Posts "zcipc-connected" when it is, the error
 * when it cannot be.
 *
 * Returns: GST_FLOW_OK connected, GST_FLOW_FLUSHING interrupted, or
 * GST_FLOW_ERROR (posted).
 */
GstFlowReturn
gst_zcipc_connection_connect (GstZcipcConnection * conn, GstElement * element,
    const GstZcipcConnectTarget * target)
{
  gboolean after_loss = conn->ever_connected;
  struct zcipc_client *client;
  gchar *reason;
  int res;

  if (!(client = new_client (conn, element, target, after_loss)))
    return GST_FLOW_ERROR;
  install_client (conn, client);
  GST_INFO_OBJECT (element, "connecting to '%s'", target->path);
  res = wait_for_producer (element, client, target->path,
      after_loss ? 0 : target->timeout_ms);
  /* The directory may have been made after start() checked it (or while
   * the producer was away): by someone else, it may hold their socket. */
  if (res == 0 && target->stream_name &&
      !gst_zcipc_address_check_dir (element, target->stream_name)) {
    gst_zcipc_connection_close (conn);
    return GST_FLOW_ERROR;
  }
  if (res == 0) {
    post_connected (conn, element, target);
    return GST_FLOW_OK;
  }
  reason = g_strdup (zcipc_client_reason (client));
  gst_zcipc_connection_close (conn);    /* frees the client */
  if (res != -ECANCELED)
    post_connect_error (element, target, res, reason, after_loss);
  g_free (reason);
  return res == -ECANCELED ? GST_FLOW_FLUSHING : GST_FLOW_ERROR;
}

/* Closes the connection's socket now; frames still held downstream keep
 * the client (and their regions) alive. */
void
gst_zcipc_connection_close (GstZcipcConnection * conn)
{
  struct zcipc_client *client;

  g_mutex_lock (&conn->lock);
  client = conn->client;
  conn->client = NULL;
  if (client)
    conn->sleeps_before += zcipc_client_sleeps (client);
  g_mutex_unlock (&conn->lock);
  if (client) {
    zcipc_client_disconnect (client);
    zcipc_client_unref (client);
  }
  conn->connected = FALSE;
}

/**
 * gst_zcipc_connection_read_failed:
 * @conn: the connection
 * @element: the zcipcsrc, for its messages
 * @path: the producer's socket
 * @res: what zcipc_client_next() returned, negative, not -ECANCELED
 * @reconnect: the reconnect property
 *
 * Closes the connection and says why: a warning when the producer went
 * away or cut us off and we wait for it again, else an error.
 *
 * Returns: TRUE when the connection is to be made again.
 */
gboolean
gst_zcipc_connection_read_failed (GstZcipcConnection * conn,
    GstElement * element, const gchar * path, int res, gboolean reconnect)
{
  gboolean lost = res == -EPIPE || res == -ECONNABORTED;
  /* Gone, or cut off by the producer (which says why). */
  gchar *what = g_strdup (res == -EPIPE ? "went away" :
      zcipc_client_reason (conn->client));

  /* A connection that lasted starts the backoff afresh; each one cut short
   * waits twice as long as the last (new_client). */
  if (lost && g_get_monotonic_time () - conn->connected_at_us >
      RECONNECT_BACKOFF_MAX_MS * 1000)
    conn->backoff_ms = RECONNECT_BACKOFF_FIRST_MS;
  gst_zcipc_connection_close (conn);
  if (lost && reconnect) {
    GST_ELEMENT_WARNING (element, RESOURCE, READ,
        ("The producer on '%s': %s; waiting to connect again", path, what),
        ("zcipc_client_next: %s", g_strerror (-res)));
  } else if (lost) {
    GST_ELEMENT_ERROR (element, RESOURCE, READ,
        ("The producer on '%s': %s", path, what),
        ("zcipc_client_next: %s; reconnect=false", g_strerror (-res)));
  } else if (res == -EMFILE || res == -ENFILE) {
    GST_ELEMENT_ERROR (element, RESOURCE, NO_SPACE_LEFT,
        ("Receiving from '%s': %s", path, what),
        ("zcipc_client_next: %s", g_strerror (-res)));
  } else {
    GST_ELEMENT_ERROR (element, STREAM, DECODE,
        ("The producer on '%s' broke the protocol: %s", path, what),
        ("zcipc_client_next: %s", g_strerror (-res)));
  }
  g_free (what);
  return lost && reconnect;
}

/* unlock() / unlock_stop(): interrupts the wait for the producer or the
 * next frame, now and for a client installed later. */
void
gst_zcipc_connection_set_flushing (GstZcipcConnection * conn, gboolean flushing)
{
  g_mutex_lock (&conn->lock);
  conn->flushing = flushing;
  if (conn->client)
    zcipc_client_set_interrupted (conn->client, flushing);
  g_mutex_unlock (&conn->lock);
}

void
gst_zcipc_connection_set_spin (GstZcipcConnection * conn, guint spin)
{
  g_mutex_lock (&conn->lock);
  conn->spin_time = spin;
  if (conn->client)
    zcipc_client_set_spin (conn->client, spin);
  g_mutex_unlock (&conn->lock);
}

/* Any thread: the current client, or NULL. */
struct zcipc_client *
gst_zcipc_connection_ref_client (GstZcipcConnection * conn)
{
  struct zcipc_client *client;

  g_mutex_lock (&conn->lock);
  client = conn->client ? zcipc_client_ref (conn->client) : NULL;
  g_mutex_unlock (&conn->lock);
  return client;
}

void
gst_zcipc_connection_get_stats (GstZcipcConnection * conn,
    GstZcipcConnectionStats * stats)
{
  memset (stats, 0, sizeof *stats);
  g_mutex_lock (&conn->lock);
  stats->sleeps = conn->sleeps_before;
  if (conn->client) {
    stats->sleeps += zcipc_client_sleeps (conn->client);
    stats->quota = zcipc_client_quota (conn->client);
    stats->consumer_id = zcipc_client_consumer_id (conn->client);
    stats->regions = zcipc_client_n_regions (conn->client);
    stats->channel = zcipc_client_has_channel (conn->client);
  }
  g_mutex_unlock (&conn->lock);
}
