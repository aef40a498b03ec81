/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/**
 * SECTION:element-zcipcsrc
 * @title: zcipcsrc
 * @see_also: zcipcsink, shmsrc
 *
 * Receives a stream published by zcipcsink in another process, without
 * copying frames.
 *
 * zcipcsrc connects to the sink's socket, receives the caps, sticky events
 * and the shared memory regions (each mapped once, read-only), and pushes
 * one buffer per frame whose memory points straight into that mapping. When
 * the last reference to such a buffer goes, the frame is given back to the
 * producer. A consumer may hold at most #GstZcipcSrc:max-held frames at once
 * (as granted by the producer); holding more makes it miss frames.
 *
 * A region the producer passed as a DMABuf (a camera's or a decoder's
 * buffer) stays DMABuf: frames in it are #GstDmaBufMemory (shares of one
 * read-only memory per region over the received fd, kept mapped once
 * mapped), so downstream that imports DMABuf (GL, VA, an encoder) still
 * can, and `memory:DMABuf` caps keep their meaning.
 *
 * It is a live source. Caps come from the producer (no capsfilter needed)
 * and PTS differences are kept exactly. Whatever clock either pipeline runs
 * on (the system monotonic or realtime clock, an audio sink's, a network
 * clock), a `sync=true` sink renders in step with the producer: the producer
 * says when it renders running time 0 of its segment, in CLOCK_MONOTONIC
 * (which both processes share), and says it again when its clock drifted by
 * a millisecond; zcipcsrc maps that time onto its own clock the same way
 * and shifts the producer's segment so that running time + its base time is
 * the clock time the producer renders at. It shifts again when its base
 * time changes (paused and resumed) or its own clock drifted by a
 * millisecond. Both on the monotonic system clock, the mapping is exact.
 * #GstZcipcSrc:retimestamp stamps frames on arrival instead.
 *
 * If the producer goes away, zcipcsrc waits for it to come back
 * (#GstZcipcSrc:reconnect) and continues with the new caps.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 zcipcsrc socket-path=/tmp/cam0 ! videoconvert ! autovideosink
 * ]| shows the stream of `zcipcsink socket-path=/tmp/cam0`.
 * |[
 * gst-launch-1.0 zcipcsrc socket-path=/tmp/cam0 timeout=0 ! fakesink
 * ]| waits as long as it takes for the producer to appear.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* F_DUPFD_CLOEXEC under -std=c11 */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <gst/allocators/allocators.h>

#include "gstzcipcsrc.h"
#include "gstzcipcframepool.h"
#include "gstzcipcserial.h"
#include "zcipc/client.h"
#include "zcipc/socket.h"

GST_DEBUG_CATEGORY_STATIC (gst_zcipc_src_debug);
#define GST_CAT_DEFAULT gst_zcipc_src_debug

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

#define DEFAULT_SOCKET_PATH NULL
#define DEFAULT_TIMEOUT 10000
#define DEFAULT_MAX_HELD 2
#define DEFAULT_RECONNECT TRUE
#define DEFAULT_RETIMESTAMP FALSE
#define DEFAULT_SPIN_TIME 0

enum
{
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_TIMEOUT,
  PROP_MAX_HELD,
  PROP_RECONNECT,
  PROP_RETIMESTAMP,
  PROP_SPIN_TIME,
  PROP_STATS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

struct _GstZcipcSrc
{
  GstPushSrc parent;

  /* OBJECT LOCK: properties */
  gchar *socket_path;
  guint timeout;
  guint max_held;
  gboolean reconnect;
  gboolean retimestamp;
  guint spin_time;

  /* Streaming thread: retimestamp as of start() */
  gboolean retimestamp_active;

  /* OBJECT LOCK: swapped by the streaming thread, interrupted by unlock() */
  struct zcipc_client *client;
  guint64 sleeps_before;        /* sleeps of earlier connections' clients */
  gboolean flushing;
  GstCaps *caps;                /* the producer's current caps */

  /* Streaming thread only */
  gboolean connected;
  gboolean ever_connected;
  guint64 last_seq;
  GstZcipcTiming timing;
  gboolean have_timing;
  GstSegment producer_segment;
  gboolean have_segment;
  GstClockTime segment_base_time;       /* our base time the segment used */
  gboolean segment_translated;  /* mapped through CLOCK_MONOTONIC, with: */
  gint64 segment_clock_offset;  /* our clock minus CLOCK_MONOTONIC then */
  gboolean segment_pending;     /* new segment not yet pushed */
  GstSegment out_segment;

  /* Streaming thread (and stop()): region id -> GstMemory*, the read-only
   * GstDmaBufMemory over a DMABuf region of this connection; frames are
   * shares of it. Dropped when the producer removes the region. */
  GHashTable *dmabufs;
  GstAllocator *dmabuf_allocator;

  /* The buffers of frames in plain mappings, reused per slot; flushed when
   * the connection goes. */
  GstZcipcFramePool *frame_pool;

  /* Atomic counters */
  guint dmabuf_regions;
  guint64 frames_received;
  guint64 frames_dropped;
  guint64 metas_unknown;
  guint64 reconnects;
};

#define gst_zcipc_src_parent_class parent_class
G_DEFINE_TYPE (GstZcipcSrc, gst_zcipc_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (zcipcsrc, "zcipcsrc", GST_RANK_NONE,
    GST_TYPE_ZCIPC_SRC);

static void gst_zcipc_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_zcipc_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static void gst_zcipc_src_finalize (GObject * object);
static gboolean gst_zcipc_src_start (GstBaseSrc * bsrc);
static gboolean gst_zcipc_src_stop (GstBaseSrc * bsrc);
static gboolean gst_zcipc_src_unlock (GstBaseSrc * bsrc);
static gboolean gst_zcipc_src_unlock_stop (GstBaseSrc * bsrc);
static GstCaps *gst_zcipc_src_get_caps (GstBaseSrc * bsrc, GstCaps * filter);
static gboolean gst_zcipc_src_negotiate (GstBaseSrc * bsrc);
static gboolean gst_zcipc_src_query (GstBaseSrc * bsrc, GstQuery * query);
static GstFlowReturn gst_zcipc_src_create (GstPushSrc * psrc,
    GstBuffer ** buffer);

static void
gst_zcipc_src_class_init (GstZcipcSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_zcipc_src_set_property;
  gobject_class->get_property = gst_zcipc_src_get_property;
  gobject_class->finalize = gst_zcipc_src_finalize;

  /**
   * GstZcipcSrc:socket-path:
   *
   * The socket of the zcipcsink to receive from ("@name" for an abstract
   * socket).
   */
  properties[PROP_SOCKET_PATH] = g_param_spec_string ("socket-path",
      "Socket path", "Socket of the zcipcsink to receive from ('@name': "
      "abstract namespace)", DEFAULT_SOCKET_PATH,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSrc:timeout:
   *
   * Milliseconds to wait for the producer to appear when starting; past
   * that, an error. 0 waits forever. (After a producer that was there goes
   * away, reconnect waits without limit.)
   */
  properties[PROP_TIMEOUT] = g_param_spec_uint ("timeout", "Timeout",
      "ms to wait for the producer at start (0 = forever)", 0, G_MAXUINT,
      DEFAULT_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSrc:max-held:
   *
   * Frames this consumer asks to hold at once (the producer grants at most
   * its consumer-quota). Downstream holding more than that (a queue, a
   * Python list) makes this consumer miss frames, never stalls the producer.
   */
  properties[PROP_MAX_HELD] = g_param_spec_uint ("max-held", "Max held",
      "Frames this consumer may hold at once", 1, ZCIPC_WIRE_MAX_QUOTA,
      DEFAULT_MAX_HELD,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSrc:reconnect:
   *
   * When the producer goes away (crash, restart): wait for it to come back
   * and continue with its new caps (TRUE), or post an error (FALSE). An EOS
   * from the producer is EOS either way.
   */
  properties[PROP_RECONNECT] = g_param_spec_boolean ("reconnect",
      "Reconnect", "Wait for a producer that went away to come back",
      DEFAULT_RECONNECT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstZcipcSrc:retimestamp:
   *
   * Stamp each buffer with this pipeline's running time at arrival (like
   * do-timestamp on a capture source) instead of the producer's PTS/DTS,
   * in a plain segment starting at 0. The producer's PTS stays available
   * as a #GstReferenceTimestampMeta with caps "timestamp/x-zcipc-pts".
   */
  properties[PROP_RETIMESTAMP] = g_param_spec_boolean ("retimestamp",
      "Re-timestamp", "Timestamp buffers with the running time at arrival "
      "(producer PTS kept in a reference timestamp meta)", DEFAULT_RETIMESTAMP,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSrc:spin-time:
   *
   * Microseconds to keep polling for the next frame before sleeping, for
   * streams whose frames come less than this apart (on average; slower
   * streams sleep at once). Each frame then costs no sleep and wake-up,
   * which on a virtualised or busy machine is most of the transport's
   * cost, and the consumer keeps its own core instead of being woken next
   * to the producer; the price is a CPU kept busy between frames. 0 (the
   * default) never spins.
   */
  properties[PROP_SPIN_TIME] = g_param_spec_uint ("spin-time", "Spin time",
      "Microseconds to poll for the next frame before sleeping (0: sleep at "
      "once)", 0, G_USEC_PER_SEC, DEFAULT_SPIN_TIME,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstZcipcSrc:stats:
   *
   * frames-received (guint64), frames-dropped (guint64: frames the producer
   * skipped for this consumer, seen as gaps in its frame numbers),
   * reconnects (guint64), metas-unknown (guint64: metas this build cannot
   * decode), quota (guint: frames granted), consumer-id (guint), regions
   * (guint: shared regions mapped now), dmabuf-regions (guint: of those,
   * DMABuf regions whose frames are pushed as DMABuf memory), sleeps
   * (guint64: times it slept waiting for the producer, each a wake-up;
   * spin-time makes a fast stream need fewer), channel (gboolean: frames
   * come through the shared-memory channel, not one socket message each),
   * buffers-reused (guint64: frames pushed in the GstBuffer that carried an
   * earlier frame of the same slot, allocating nothing).
   */
  properties[PROP_STATS] = g_param_spec_boxed ("stats", "Statistics",
      "Consumer statistics", GST_TYPE_STRUCTURE,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "Zero-copy IPC source", "Source/Network",
      "Receives a stream from zcipcsink in another process through shared "
      "memory, without copying", "The zcipc authors");

  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_zcipc_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_zcipc_src_stop);
  basesrc_class->unlock = GST_DEBUG_FUNCPTR (gst_zcipc_src_unlock);
  basesrc_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_zcipc_src_unlock_stop);
  basesrc_class->get_caps = GST_DEBUG_FUNCPTR (gst_zcipc_src_get_caps);
  basesrc_class->negotiate = GST_DEBUG_FUNCPTR (gst_zcipc_src_negotiate);
  basesrc_class->query = GST_DEBUG_FUNCPTR (gst_zcipc_src_query);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_zcipc_src_create);

  GST_DEBUG_CATEGORY_INIT (gst_zcipc_src_debug, "zcipcsrc", 0,
      "zcipc zero-copy IPC source");
}

static void
gst_zcipc_src_init (GstZcipcSrc * self)
{
  self->socket_path = g_strdup (DEFAULT_SOCKET_PATH);
  self->timeout = DEFAULT_TIMEOUT;
  self->max_held = DEFAULT_MAX_HELD;
  self->reconnect = DEFAULT_RECONNECT;
  self->retimestamp = DEFAULT_RETIMESTAMP;
  self->spin_time = DEFAULT_SPIN_TIME;
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  self->dmabufs = g_hash_table_new_full (NULL, NULL, NULL,
      (GDestroyNotify) gst_memory_unref);
  self->dmabuf_allocator = gst_dmabuf_allocator_new ();
  self->frame_pool = gst_zcipc_frame_pool_new ();
}

static void
gst_zcipc_src_finalize (GObject * object)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (object);

  g_free (self->socket_path);
  gst_clear_caps (&self->caps);
  g_hash_table_unref (self->dmabufs);
  gst_object_unref (self->dmabuf_allocator);
  /* Buffers still out keep it until they come back. */
  gst_zcipc_frame_pool_flush (self->frame_pool);
  gst_object_unref (self->frame_pool);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static GstStructure *
gst_zcipc_src_create_stats (GstZcipcSrc * self)
{
  guint quota = 0, id = 0, regions = 0;
  gboolean channel = FALSE;
  guint64 sleeps;

  GST_OBJECT_LOCK (self);
  sleeps = self->sleeps_before;
  if (self->client) {
    sleeps += zcipc_client_sleeps (self->client);
    quota = zcipc_client_quota (self->client);
    id = zcipc_client_consumer_id (self->client);
    regions = zcipc_client_n_regions (self->client);
    channel = zcipc_client_has_channel (self->client);
  }
  GST_OBJECT_UNLOCK (self);

  return gst_structure_new ("application/x-zcipcsrc-stats",
      "frames-received", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->frames_received),
      "frames-dropped", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->frames_dropped),
      "reconnects", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->reconnects),
      "metas-unknown", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->metas_unknown),
      "quota", G_TYPE_UINT, quota,
      "consumer-id", G_TYPE_UINT, id, "regions", G_TYPE_UINT, regions,
      "dmabuf-regions", G_TYPE_UINT,
      (guint) g_atomic_int_get (&self->dmabuf_regions),
      "sleeps", G_TYPE_UINT64, sleeps, "channel", G_TYPE_BOOLEAN, channel,
      "buffers-reused", G_TYPE_UINT64,
      gst_zcipc_frame_pool_reused (self->frame_pool), NULL);
}

static void
gst_zcipc_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_free (self->socket_path);
      self->socket_path = g_value_dup_string (value);
      break;
    case PROP_TIMEOUT:
      self->timeout = g_value_get_uint (value);
      break;
    case PROP_MAX_HELD:
      self->max_held = g_value_get_uint (value);
      break;
    case PROP_RECONNECT:
      self->reconnect = g_value_get_boolean (value);
      break;
    case PROP_RETIMESTAMP:
      self->retimestamp = g_value_get_boolean (value);
      break;
    case PROP_SPIN_TIME:
      self->spin_time = g_value_get_uint (value);
      if (self->client)
        zcipc_client_set_spin (self->client, self->spin_time);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zcipc_src_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, gst_zcipc_src_create_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_value_set_string (value, self->socket_path);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout);
      break;
    case PROP_MAX_HELD:
      g_value_set_uint (value, self->max_held);
      break;
    case PROP_RECONNECT:
      g_value_set_boolean (value, self->reconnect);
      break;
    case PROP_RETIMESTAMP:
      g_value_set_boolean (value, self->retimestamp);
      break;
    case PROP_SPIN_TIME:
      g_value_set_uint (value, self->spin_time);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

/* ------------------------------------------------------------ lifecycle */

static gboolean
gst_zcipc_src_start (GstBaseSrc * bsrc)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);
  gchar *path;
  int res;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->socket_path);
  GST_OBJECT_UNLOCK (self);

  res = zcipc_socket_check_path (path);
  if (res == -ENAMETOOLONG) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Socket path '%s' is too long: a Unix socket path holds at most "
            "107 bytes", path), ("zcipc_socket_check_path: %s",
            g_strerror (-res)));
  } else if (res < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND,
        ("No socket path set: set zcipcsrc's socket-path property to the "
            "zcipcsink's"), ("socket-path is empty"));
  }
  g_free (path);
  if (res < 0)
    return FALSE;

  GST_OBJECT_LOCK (self);
  self->retimestamp_active = self->retimestamp;
  GST_OBJECT_UNLOCK (self);
  self->connected = FALSE;
  self->ever_connected = FALSE;
  self->have_timing = FALSE;
  self->have_segment = FALSE;
  self->segment_pending = FALSE;
  return TRUE;
}

static void
drop_connection (GstZcipcSrc * self)
{
  struct zcipc_client *client;

  GST_OBJECT_LOCK (self);
  client = self->client;
  self->client = NULL;
  if (client)
    self->sleeps_before += zcipc_client_sleeps (client);
  GST_OBJECT_UNLOCK (self);
  if (client) {
    /* Frames still held downstream keep the client (and their regions)
     * alive; the socket closes now. */
    zcipc_client_disconnect (client);
    zcipc_client_unref (client);
  }
  /* DMABuf frames still held keep their region's memory (a share holds
   * its parent): it is unmapped and closed with the last of them. */
  g_hash_table_remove_all (self->dmabufs);
  g_atomic_int_set (&self->dmabuf_regions, 0);
  gst_zcipc_frame_pool_flush (self->frame_pool);
  self->connected = FALSE;
}

static gboolean
gst_zcipc_src_stop (GstBaseSrc * bsrc)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);

  drop_connection (self);
  GST_OBJECT_LOCK (self);
  gst_clear_caps (&self->caps);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_zcipc_src_unlock (GstBaseSrc * bsrc)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);

  GST_OBJECT_LOCK (self);
  self->flushing = TRUE;
  if (self->client)
    zcipc_client_set_interrupted (self->client, TRUE);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
gst_zcipc_src_unlock_stop (GstBaseSrc * bsrc)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);

  GST_OBJECT_LOCK (self);
  self->flushing = FALSE;
  if (self->client)
    zcipc_client_set_interrupted (self->client, FALSE);
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static GstCaps *
gst_zcipc_src_get_caps (GstBaseSrc * bsrc, GstCaps * filter)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);
  GstCaps *caps;

  GST_OBJECT_LOCK (self);
  caps = self->caps ? gst_caps_ref (self->caps) : gst_caps_new_any ();
  GST_OBJECT_UNLOCK (self);
  if (filter) {
    GstCaps *tmp = gst_caps_intersect_full (filter, caps,
        GST_CAPS_INTERSECT_FIRST);
    gst_caps_unref (caps);
    caps = tmp;
  }
  return caps;
}

static gboolean
gst_zcipc_src_negotiate (GstBaseSrc * bsrc)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);
  GstCaps *caps;
  gboolean ret = TRUE;

  /* The producer decides the caps; until it said, there is nothing to do. */
  GST_OBJECT_LOCK (self);
  caps = self->caps ? gst_caps_ref (self->caps) : NULL;
  GST_OBJECT_UNLOCK (self);
  if (caps) {
    ret = gst_base_src_set_caps (bsrc, caps);
    gst_caps_unref (caps);
  }
  return ret;
}

static gboolean
gst_zcipc_src_query (GstBaseSrc * bsrc, GstQuery * query)
{
  if (GST_QUERY_TYPE (query) == GST_QUERY_LATENCY) {
    /* Frames are pushed as they arrive and carry the producer's render
     * schedule in their running time: no latency of our own. */
    gst_query_set_latency (query, TRUE, 0, GST_CLOCK_TIME_NONE);
    return TRUE;
  }
  return GST_BASE_SRC_CLASS (parent_class)->query (bsrc, query);
}

/* ------------------------------------------------------------- streaming */

static GstFlowReturn
connect_to_producer (GstZcipcSrc * self, gboolean after_loss)
{
  struct zcipc_client *client;
  gchar *path, *reason;
  guint max_held, timeout;
  int res;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->socket_path);
  max_held = self->max_held;
  timeout = self->timeout;
  GST_OBJECT_UNLOCK (self);

  res = zcipc_client_new (path, max_held, &client);
  if (res < 0) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not set up a connection to '%s'", path),
        ("zcipc_client_new: %s", g_strerror (-res)));
    g_free (path);
    return GST_FLOW_ERROR;
  }
  /* To drop our DMABuf memory of a region when the producer removes it. */
  zcipc_client_report_region_removals (client, true);
  GST_OBJECT_LOCK (self);
  zcipc_client_set_spin (client, self->spin_time);
  self->client = client;
  if (self->flushing)
    zcipc_client_set_interrupted (client, TRUE);
  GST_OBJECT_UNLOCK (self);

  GST_INFO_OBJECT (self, "connecting to '%s'", path);
  res = zcipc_client_connect (client, (after_loss || timeout == 0) ? -1 :
      (int) MIN (timeout, (guint) G_MAXINT));
  if (res == 0) {
    GST_INFO_OBJECT (self, "connected to '%s' as consumer %u, quota %u",
        path, zcipc_client_consumer_id (client), zcipc_client_quota (client));
    self->connected = TRUE;
    self->ever_connected = TRUE;
    self->last_seq = 0;
    g_free (path);
    gst_element_post_message (GST_ELEMENT_CAST (self),
        gst_message_new_element (GST_OBJECT_CAST (self),
            gst_structure_new ("zcipc-connected", "socket-path",
                G_TYPE_STRING, self->socket_path, "consumer-id", G_TYPE_UINT,
                zcipc_client_consumer_id (client), "quota", G_TYPE_UINT,
                zcipc_client_quota (client), NULL)));
    return GST_FLOW_OK;
  }

  reason = g_strdup (zcipc_client_reason (client));
  drop_connection (self);       /* frees the client */
  if (res == -ECANCELED) {
    g_free (reason);
    g_free (path);
    return GST_FLOW_FLUSHING;
  }
  if (res == -ETIMEDOUT && !after_loss) {
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("No zcipcsink is publishing on '%s' (waited %u ms). Start the "
            "producer, check the path, or set timeout=0 to wait forever",
            path, timeout), ("zcipc_client_connect: %s: %s", g_strerror (-res),
            reason));
  } else {
    /* Refused (allow-list, too many consumers, protocol version) or a
     * producer that broke the handshake: the reason says which. */
    GST_ELEMENT_ERROR (self, RESOURCE, OPEN_READ,
        ("Could not receive from '%s': %s", path, reason),
        ("zcipc_client_connect: %s", g_strerror (-res)));
  }
  g_free (reason);
  g_free (path);
  return GST_FLOW_ERROR;
}

/* When our clock reaches the time the producer renders running time 0 of
 * its segment at: the CLOCK_MONOTONIC time it said, on our clock. FALSE when
 * that is unknown: no clock, or a producer too old to say it in
 * CLOCK_MONOTONIC on another clock than ours. */
static gboolean
producer_render_time (GstZcipcSrc * self, GstClock * clock,
    gint64 * render_time)
{
  gboolean ours_monotonic = gst_zcipc_clock_is_monotonic (clock);

  self->segment_translated = FALSE;
  self->segment_clock_offset = 0;
  if (self->timing.have_render_monotonic) {
    /* Exact when both are on CLOCK_MONOTONIC: the offset is 0. */
    self->segment_clock_offset = ours_monotonic ? 0 :
        gst_zcipc_clock_monotonic_offset (clock);
    self->segment_translated = !ours_monotonic;
    *render_time = self->timing.render_monotonic + self->segment_clock_offset;
    return TRUE;
  }
  if (self->timing.monotonic && ours_monotonic) {
    *render_time = (gint64) self->timing.render_offset;
    return TRUE;
  }
  return FALSE;
}

/* Recomputes the segment we push: the producer's, shifted so that running
 * time + our base time is the clock time the producer renders at. */
static void
update_segment (GstZcipcSrc * self)
{
  GstSegment seg;
  GstClock *clock;
  GstClockTime base_time;
  gint64 render_time;

  if (!self->have_segment || self->retimestamp_active)
    return;                     /* retimestamp: basesrc's own 0-based segment */
  seg = self->producer_segment;
  base_time = gst_element_get_base_time (GST_ELEMENT_CAST (self));
  clock = gst_element_get_clock (GST_ELEMENT_CAST (self));
  self->segment_translated = FALSE;

  if (seg.format == GST_FORMAT_TIME && self->have_timing && clock &&
      GST_CLOCK_TIME_IS_VALID (base_time) &&
      producer_render_time (self, clock, &render_time)) {
    gint64 shift = render_time - (gint64) base_time;
    if (!gst_segment_offset_running_time (&seg, GST_FORMAT_TIME, shift))
      GST_WARNING_OBJECT (self, "could not shift the segment by %"
          GST_STIME_FORMAT, GST_STIME_ARGS (shift));
    GST_DEBUG_OBJECT (self, "segment shifted by %" GST_STIME_FORMAT
        " (our clock is CLOCK_MONOTONIC %+" G_GINT64_FORMAT " ns)",
        GST_STIME_ARGS (shift), self->segment_clock_offset);
  } else if (seg.format == GST_FORMAT_TIME) {
    GST_DEBUG_OBJECT (self, "the producer's running times pass unchanged: "
        "no clock, or no mapping from the producer");
  }
  gst_clear_object (&clock);
  self->segment_base_time = base_time;
  self->out_segment = seg;
  self->segment_pending = TRUE;
  gst_base_src_new_segment (GST_BASE_SRC (self), &seg);
}

/* Whether the segment we push no longer maps the producer's render times
 * onto our clock: our base time changed (paused and resumed), or our clock
 * drifted against CLOCK_MONOTONIC (an audio or network clock) past the
 * tolerance. */
static gboolean
segment_out_of_date (GstZcipcSrc * self)
{
  GstClock *clock;
  gint64 drift;

  if (!self->have_segment)
    return FALSE;
  if (self->segment_base_time !=
      gst_element_get_base_time (GST_ELEMENT_CAST (self)))
    return TRUE;
  if (!self->segment_translated ||
      !(clock = gst_element_get_clock (GST_ELEMENT_CAST (self))))
    return FALSE;
  drift = gst_zcipc_clock_monotonic_offset (clock) -
      self->segment_clock_offset;
  gst_object_unref (clock);
  return ABS (drift) >= GST_ZCIPC_TIMING_TOLERANCE;
}

/* Serialized events after the segment must not overtake it. */
static void
push_serialized_event (GstZcipcSrc * self, GstEvent * event)
{
  GstPad *pad = GST_BASE_SRC_PAD (self);

  if (self->segment_pending && GST_EVENT_TYPE (event) != GST_EVENT_STREAM_START) {
    gst_pad_push_event (pad, gst_event_new_segment (&self->out_segment));
    self->segment_pending = FALSE;
  }
  gst_pad_push_event (pad, event);
}

static GstFlowReturn
handle_event (GstZcipcSrc * self, const struct zcipc_client_event *ev)
{
  GstEvent *event;

  if (ev->event.kind == GST_ZCIPC_EVENT_TIMING) {
    if (!gst_zcipc_timing_deserialize (ev->event.payload, ev->event.size,
            &self->timing)) {
      GST_WARNING_OBJECT (self, "malformed timing from the producer");
      return GST_FLOW_OK;
    }
    self->have_timing = TRUE;
    update_segment (self);
    return GST_FLOW_OK;
  }

  event = gst_zcipc_event_deserialize (ev->event.kind, ev->event.payload,
      ev->event.size);
  if (!event) {
    GST_WARNING_OBJECT (self, "skipping malformed or unknown event kind %u "
        "from the producer", ev->event.kind);
    return GST_FLOW_OK;
  }
  GST_DEBUG_OBJECT (self, "producer event %" GST_PTR_FORMAT, event);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS:{
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      GST_OBJECT_LOCK (self);
      gst_caps_replace (&self->caps, caps);
      GST_OBJECT_UNLOCK (self);
      /* Pushing a sticky caps event succeeds whatever downstream thinks of
       * it: ask first, so a refusal names both caps. */
      if (!gst_pad_peer_query_accept_caps (GST_BASE_SRC_PAD (self), caps) ||
          !gst_base_src_set_caps (GST_BASE_SRC (self), caps)) {
        GstCaps *peer = gst_pad_peer_query_caps (GST_BASE_SRC_PAD (self),
            NULL);
        gchar *ours = gst_caps_to_string (caps);
        gchar *theirs = gst_caps_to_string (peer);
        GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
            ("Downstream does not accept the producer's caps %s (it accepts "
                "%s)", ours, theirs), ("gst_base_src_set_caps failed"));
        g_free (ours);
        g_free (theirs);
        gst_caps_unref (peer);
        gst_event_unref (event);
        return GST_FLOW_NOT_NEGOTIATED;
      }
      gst_event_unref (event);
      return GST_FLOW_OK;
    }
    case GST_EVENT_SEGMENT:{
      const GstSegment *seg;

      gst_event_parse_segment (event, &seg);
      self->producer_segment = *seg;
      self->have_segment = TRUE;
      gst_event_unref (event);
      update_segment (self);
      return GST_FLOW_OK;
    }
    case GST_EVENT_EOS:
      gst_event_unref (event);
      GST_INFO_OBJECT (self, "end of stream from the producer");
      return GST_FLOW_EOS;
    default:
      push_serialized_event (self, event);
      return GST_FLOW_OK;
  }
}

typedef struct
{
  struct zcipc_client *client;
  guint64 seq;
  gint refs;
} HeldFrame;

static void
held_frame_unref (gpointer data)
{
  HeldFrame *frame = data;

  if (!g_atomic_int_dec_and_test (&frame->refs))
    return;
  /* Gives the frame back, and drops the client reference the frame held:
   * the last frame of a closed connection frees its mappings here. */
  zcipc_client_release (frame->client, frame->seq);
  g_free (frame);
}

static GQuark
held_frame_quark (void)
{
  static GQuark quark = 0;

  if (!quark)
    quark = g_quark_from_static_string ("GstZcipcSrcHeldFrame");
  return quark;
}

/* The one read-only DMABuf memory over a DMABuf region, made at its first
 * frame with a duplicate of the region's fd. KEEP_MAPPED: the first CPU map
 * downstream mmaps it, and it stays mapped until the memory goes (the
 * region removed or the connection gone, and its last frame released), so
 * there is no per-frame mmap. NULL when the fd cannot be wrapped. */
static GstMemory *
dmabuf_parent (GstZcipcSrc * self, const struct zcipc_client_mem *m)
{
  GstMemory *parent = g_hash_table_lookup (self->dmabufs,
      GUINT_TO_POINTER (m->region_id));
  int fd;

  if (parent)
    return parent;
  if ((fd = fcntl (m->region_fd, F_DUPFD_CLOEXEC, 3)) < 0) {
    GST_WARNING_OBJECT (self, "could not duplicate the fd of DMABuf region "
        "%u: %s; its frames are pushed as plain memory", m->region_id,
        g_strerror (errno));
    return NULL;
  }
  /* Owns fd from here on (closed when the memory is freed). */
  parent = gst_dmabuf_allocator_alloc_with_flags (self->dmabuf_allocator, fd,
      (gsize) m->region_size, GST_FD_MEMORY_FLAG_KEEP_MAPPED);
  if (!parent) {
    close (fd);
    return NULL;
  }
  /* Shares inherit it: a writer downstream copies, never maps writable. */
  GST_MINI_OBJECT_FLAG_SET (parent, GST_MEMORY_FLAG_READONLY);
  g_hash_table_insert (self->dmabufs, GUINT_TO_POINTER (m->region_id),
      parent);
  g_atomic_int_inc (&self->dmabuf_regions);
  GST_DEBUG_OBJECT (self, "DMABuf region %u: %" G_GUINT64_FORMAT " bytes, "
      "fd %d", m->region_id, m->region_size, fd);
  return parent;
}

/* A frame with memory in a DMABuf region: a new buffer holding it, with a
 * share of the region's DMABuf memory (or plain wrapped memory where the
 * fd could not be wrapped) per memory. */
static GstBuffer *
wrap_dmabuf_frame (GstZcipcSrc * self, struct zcipc_client *client,
    const struct zcipc_client_event *ev)
{
  HeldFrame *frame = g_new (HeldFrame, 1);
  GstBuffer *buffer = gst_buffer_new ();

  frame->client = client;
  frame->seq = ev->frame.info.seq;
  frame->refs = (gint) ev->frame.n_mems;
  for (guint i = 0; i < ev->frame.n_mems; i++) {
    const struct zcipc_client_mem *m = &ev->frame.mems[i];
    GstMemory *parent = NULL, *mem;

    if (m->region_flags & ZCIPC_REGION_FLAG_DMABUF)
      parent = dmabuf_parent (self, m);
    /* DMABuf stays DMABuf: a share of the region's memory at the frame's
     * offset; freeing it gives the frame back. */
    if (parent && (mem = gst_memory_share (parent, (gssize) m->offset,
                (gssize) m->size))) {
      gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (mem),
          held_frame_quark (), frame, held_frame_unref);
    } else {
      /* Read-only: the mapping is PROT_READ, and a writer downstream must
       * copy (gst_buffer_make_writable) rather than crash. */
      mem = gst_memory_new_wrapped (GST_MEMORY_FLAG_READONLY,
          (gpointer) m->data, m->size, 0, m->size, frame, held_frame_unref);
    }
    gst_buffer_append_memory (buffer, mem);
  }
  return buffer;
}

static GstBuffer *
wrap_frame (GstZcipcSrc * self, struct zcipc_client *client,
    const struct zcipc_client_event *ev)
{
  const struct zcipc_wire_frame *info = &ev->frame.info;
  GstBuffer *buffer;
  gboolean dmabuf = FALSE, metas_ready = FALSE;
  guint n_unknown = 0;

  for (guint i = 0; i < ev->frame.n_mems; i++)
    dmabuf |= (ev->frame.mems[i].region_flags & ZCIPC_REGION_FLAG_DMABUF) != 0;
  if (dmabuf)
    buffer = wrap_dmabuf_frame (self, client, ev);
  else
    buffer = gst_zcipc_frame_pool_wrap (self->frame_pool, client, ev,
        &metas_ready);

  GST_BUFFER_PTS (buffer) = info->pts;
  GST_BUFFER_DTS (buffer) = info->dts;
  GST_BUFFER_DURATION (buffer) = info->duration;
  GST_BUFFER_OFFSET (buffer) = info->offset;
  GST_BUFFER_OFFSET_END (buffer) = info->offset_end;
  /* Also clears TAG_MEMORY, which adding memories to a buffer set. */
  GST_MINI_OBJECT_FLAGS (buffer) = info->flags & ~GST_BUFFER_FLAG_TAG_MEMORY;
  if (metas_ready || !ev->frame.meta_size) {
    /* nothing to add */
  } else if (!gst_zcipc_metas_deserialize (buffer, ev->frame.meta,
          ev->frame.meta_size, &n_unknown)) {
    GST_WARNING_OBJECT (self, "frame %" G_GUINT64_FORMAT " carried malformed "
        "metas; kept the ones before", info->seq);
  } else if (!dmabuf && !n_unknown) {
    /* Not with unknown metas: kept, they would no longer be counted. */
    gst_zcipc_frame_pool_keep_metas (self->frame_pool, buffer,
        ev->frame.meta, ev->frame.meta_size);
  }
  if (n_unknown)
    g_atomic_pointer_add (&self->metas_unknown, n_unknown);
  return buffer;
}

/* The running time now becomes the PTS; the producer's PTS is kept. */
static void
retimestamp (GstZcipcSrc * self, GstBuffer * buffer)
{
  static GstCaps *reference = NULL;
  GstClock *clock = gst_element_get_clock (GST_ELEMENT_CAST (self));
  GstClockTime now = GST_CLOCK_TIME_NONE;

  if (g_once_init_enter (&reference)) {
    GstCaps *caps = gst_caps_new_empty_simple ("timestamp/x-zcipc-pts");
    GST_MINI_OBJECT_FLAG_SET (caps, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
    g_once_init_leave (&reference, caps);
  }
  if (GST_BUFFER_PTS_IS_VALID (buffer))
    gst_buffer_add_reference_timestamp_meta (buffer, reference,
        GST_BUFFER_PTS (buffer), GST_BUFFER_DURATION (buffer));
  if (clock) {
    GstClockTime base = gst_element_get_base_time (GST_ELEMENT_CAST (self));
    now = gst_clock_get_time (clock);
    now = now > base ? now - base : 0;
    gst_object_unref (clock);
  }
  GST_BUFFER_PTS (buffer) = now;
  GST_BUFFER_DTS (buffer) = GST_CLOCK_TIME_NONE;
}

static GstFlowReturn
gst_zcipc_src_create (GstPushSrc * psrc, GstBuffer ** buffer)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (psrc);

  for (;;) {
    struct zcipc_client_event ev;
    struct zcipc_client *client;
    GstFlowReturn ret;
    gboolean reconnect;
    int res;

    if (!self->connected) {
      ret = connect_to_producer (self, self->ever_connected);
      if (ret != GST_FLOW_OK)
        return ret;
    }
    client = self->client;
    res = zcipc_client_next (client, &ev, -1);
    if (res == -ECANCELED)
      return GST_FLOW_FLUSHING;
    if (res == -EPIPE || res == -ECONNABORTED) {
      /* Gone, or cut off by the producer (which says why). */
      gchar *what = res == -EPIPE ? g_strdup ("went away") :
          g_strdup (zcipc_client_reason (client));
      GST_OBJECT_LOCK (self);
      reconnect = self->reconnect;
      GST_OBJECT_UNLOCK (self);
      drop_connection (self);
      if (!reconnect) {
        GST_ELEMENT_ERROR (self, RESOURCE, READ,
            ("The producer on '%s': %s", self->socket_path, what),
            ("zcipc_client_next: %s; reconnect=false", g_strerror (-res)));
        g_free (what);
        return GST_FLOW_ERROR;
      }
      GST_ELEMENT_WARNING (self, RESOURCE, READ,
          ("The producer on '%s': %s; waiting to connect again",
              self->socket_path, what), ("zcipc_client_next: %s",
              g_strerror (-res)));
      g_free (what);
      g_atomic_pointer_add (&self->reconnects, 1);
      continue;
    }
    if (res < 0) {
      GST_ELEMENT_ERROR (self, STREAM, DECODE,
          ("The producer on '%s' broke the protocol: %s", self->socket_path,
              zcipc_client_reason (client)),
          ("zcipc_client_next: %s", g_strerror (-res)));
      drop_connection (self);
      return GST_FLOW_ERROR;
    }

    if (ev.type == ZCIPC_CLIENT_REGION_REMOVED) {
      if (g_hash_table_remove (self->dmabufs, GUINT_TO_POINTER (ev.region.id)))
        g_atomic_int_add (&self->dmabuf_regions, -1);
      continue;
    }
    if (ev.type == ZCIPC_CLIENT_EVENT) {
      ret = handle_event (self, &ev);
      if (ret != GST_FLOW_OK)
        return ret;
      continue;
    }

    /* A frame. Keep the segment in step with our base time, which changes
     * when our pipeline is paused and resumed, and with our clock. */
    if (segment_out_of_date (self))
      update_segment (self);
    self->segment_pending = FALSE;      /* basesrc pushes it before this buffer */

    if (self->last_seq && ev.frame.info.seq > self->last_seq + 1)
      g_atomic_pointer_add (&self->frames_dropped,
          ev.frame.info.seq - self->last_seq - 1);
    self->last_seq = ev.frame.info.seq;
    g_atomic_pointer_add (&self->frames_received, 1);

    *buffer = wrap_frame (self, client, &ev);
    if (self->retimestamp_active)
      retimestamp (self, *buffer);
    GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " %" GST_PTR_FORMAT,
        ev.frame.info.seq, *buffer);
    return GST_FLOW_OK;
  }
}
