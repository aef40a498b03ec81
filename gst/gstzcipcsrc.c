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
 * producer. Each memory of such a buffer is fd memory (gst_is_fd_memory()):
 * the region's fd (gst_fd_memory_get_fd()), with the frame at the memory's
 * offset in it, so an element that imports fd memory can use it
 * (docs/elements.md, "Memory zcipcsrc pushes").
 *
 * The producer lends each consumer a bounded number of frames (its quota).
 * zcipcsrc asks for #GstZcipcSrc:max-held plus what downstream says it
 * keeps (the pool minimums of its ALLOCATION query, its LATENCY in frames)
 * plus one for the frame in flight, and asks again when that changes; the
 * producer grants it within its consumer-quota. Downstream that keeps
 * more than that (a queue with thresholds, filesink's buffering, an
 * encoder's lookahead beyond the grant) never stalls the stream: the frame
 * that would take the last granted slot is copied into private memory and
 * its slot given back at once, as v4l2src copies when its pool runs low.
 * Copies are counted in #GstZcipcSrc:stats (frames-copied, bytes-copied),
 * logged to GST_PERFORMANCE, and each episode of copying posts one element
 * warning naming what to raise. While downstream keeps no more than it was
 * granted, nothing is copied.
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
 * A consumer started before its producer waits for it (#GstZcipcSrc:timeout),
 * and if the producer goes away, zcipcsrc waits for it to come back
 * (#GstZcipcSrc:reconnect) and continues with the new caps; either wait is
 * logged at INFO level every few seconds.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 zcipcsrc stream-name=cam0 ! videoconvert ! autovideosink
 * ]| shows the stream of `zcipcsink stream-name=cam0`.
 * |[
 * gst-play-1.0 zcipc://cam0
 * ]| plays it by URI (zcipc:///path/to/socket for a socket-path).
 * |[
 * gst-launch-1.0 zcipcsrc stream-name=cam0 timeout=5000 ! fakesink
 * ]| gives up with an error if no producer appears within 5 s (by default
 * it waits as long as it takes).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzcipcsrc.h"
#include "gstzcipcaddress.h"
#include "gstzcipcsrcprivate.h"
#include "gstzcipcsrcreceive.h"
#include "zcipc/client.h"

GST_DEBUG_CATEGORY (gst_zcipc_src_debug);
#define GST_CAT_DEFAULT gst_zcipc_src_debug

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

#define DEFAULT_SOCKET_PATH NULL
#define DEFAULT_STREAM_NAME NULL
#define DEFAULT_TIMEOUT 0
#define DEFAULT_MAX_HELD 4
#define DEFAULT_RECONNECT TRUE
#define DEFAULT_RETIMESTAMP FALSE
#define DEFAULT_SPIN_TIME 0

enum
{
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_STREAM_NAME,
  PROP_TIMEOUT,
  PROP_MAX_HELD,
  PROP_RECONNECT,
  PROP_RETIMESTAMP,
  PROP_SPIN_TIME,
  PROP_STATS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];


#define gst_zcipc_src_parent_class parent_class
static void gst_zcipc_src_uri_handler_init (gpointer g_iface,
    gpointer iface_data);

G_DEFINE_TYPE_WITH_CODE (GstZcipcSrc, gst_zcipc_src, GST_TYPE_PUSH_SRC,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_zcipc_src_uri_handler_init));
/* MARGINAL: a URI source that playbin may pick. gst_element_make_from_uri
 * only orders the handlers of a protocol by rank (rank NONE works too on
 * 1.22); MARGINAL says that this is the one to use for zcipc://. Its class
 * (Source/Network) keeps it out of autovideosrc, which takes Video only. */
GST_ELEMENT_REGISTER_DEFINE (zcipcsrc, "zcipcsrc", GST_RANK_MARGINAL,
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
static gboolean gst_zcipc_src_event (GstBaseSrc * bsrc, GstEvent * event);
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
   * socket). Set either this or #GstZcipcSrc:stream-name, not both.
   */
  properties[PROP_SOCKET_PATH] = g_param_spec_string ("socket-path",
      "Socket path", "Socket of the zcipcsink to receive from ('@name': "
      "abstract namespace)", DEFAULT_SOCKET_PATH,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSrc:stream-name:
   *
   * Receives the stream that a zcipcsink of the same user publishes under
   * this name (its #GstZcipcSink:stream-name): the socket NAME in the
   * user's stream directory, `$XDG_RUNTIME_DIR/zcipc/` where that variable
   * is set, else `/run/zcipc/` for root and `/tmp/zcipc-UID/` for others.
   * A directory that belongs to another user, can be written by others, or
   * is a symbolic link is refused; a missing one is waited for like a
   * missing socket (see #GstZcipcSrc:timeout), since the producer makes
   * it. Set either this or #GstZcipcSrc:socket-path, not both; NULL: none.
   */
  properties[PROP_STREAM_NAME] = g_param_spec_string ("stream-name",
      "Stream name", "Name of the stream to receive, in the user's stream "
      "directory (instead of socket-path)", DEFAULT_STREAM_NAME,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSrc:timeout:
   *
   * Milliseconds to wait for the producer to appear when starting; past
   * that, an error. 0 (the default) waits forever, as patient as
   * #GstZcipcSrc:reconnect is with a producer that went away, so that a
   * consumer may start before its producer. While it waits it says so at
   * INFO level every few seconds. A path where no producer can ever
   * appear (a regular file or a directory in the way, a missing directory,
   * no permission) fails at once, whatever the timeout.
   */
  properties[PROP_TIMEOUT] = g_param_spec_uint ("timeout", "Timeout",
      "ms to wait for the producer to appear at start (0 = forever)", 0,
      G_MAXUINT,
      DEFAULT_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSrc:max-held:
   *
   * Frames downstream may keep at once without a copy, at the least. The
   * default, 4, covers an appsink that queues one frame and the frame being
   * pushed while the application holds two (a loop still holds the last
   * frame while it pulls the next), or a sink that keeps its last sample.
   * zcipcsrc adds what downstream says it keeps (ALLOCATION query pool
   * minimums, LATENCY in frames) and asks the producer for that plus one,
   * for the frame in flight; the producer grants at most its
   * consumer-quota. Frames beyond the grant are copied (counted in
   * #GstZcipcSrc:stats), never stall the stream.
   */
  properties[PROP_MAX_HELD] = g_param_spec_uint ("max-held", "Max held",
      "Frames downstream may keep without a copy, at least (more when "
      "downstream's allocation query or latency says it keeps more)", 1,
      ZCIPC_WIRE_MAX_QUOTA,
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
   * (guint: shared regions known now: announced, each mapped from its
   * first frame on, or still held by a frame), dmabuf-regions (guint: of those,
   * DMABuf regions whose frames are pushed as DMABuf memory), sleeps
   * (guint64: times it slept waiting for the producer, each a wake-up;
   * spin-time makes a fast stream need fewer), channel (gboolean: frames
   * come through the shared-memory channel, not one socket message each),
   * buffers-reused (guint64: frames pushed in the GstBuffer that carried an
   * earlier frame of the same slot, allocating nothing), quota-asked
   * (guint: frames asked for: max-held, plus what downstream keeps, plus
   * one), frames-copied and bytes-copied (guint64: frames copied into
   * private memory because downstream kept every granted frame),
   * metas-skipped (guint64: custom metas dropped because the producer used
   * more than 32 names on this connection, or this process registered 256
   * names for producers already).
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
  basesrc_class->event = GST_DEBUG_FUNCPTR (gst_zcipc_src_event);
  pushsrc_class->create = GST_DEBUG_FUNCPTR (gst_zcipc_src_create);

  GST_DEBUG_CATEGORY_INIT (gst_zcipc_src_debug, "zcipcsrc", 0,
      "zcipc zero-copy IPC source");
}

static void
gst_zcipc_src_init (GstZcipcSrc * self)
{
  self->socket_path = g_strdup (DEFAULT_SOCKET_PATH);
  self->stream_name = g_strdup (DEFAULT_STREAM_NAME);
  self->timeout = DEFAULT_TIMEOUT;
  gst_zcipc_quota_init (&self->quota, DEFAULT_MAX_HELD);
  self->reconnect = DEFAULT_RECONNECT;
  self->retimestamp = DEFAULT_RETIMESTAMP;
  self->spin_time = DEFAULT_SPIN_TIME;
  gst_base_src_set_live (GST_BASE_SRC (self), TRUE);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  self->consumer_pool = gst_zcipc_consumer_pool_new ();
  self->meta_ctx = gst_zcipc_meta_context_new ();
  gst_zcipc_connection_init (&self->conn);
}

static void
gst_zcipc_src_finalize (GObject * object)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (object);

  g_free (self->socket_path);
  g_free (self->stream_name);
  g_free (self->path);
  g_free (self->path_stream_name);
  gst_clear_caps (&self->caps);
  /* Buffers still out keep it until they come back. */
  gst_zcipc_consumer_pool_flush (self->consumer_pool);
  gst_object_unref (self->consumer_pool);
  gst_zcipc_meta_context_free (self->meta_ctx);
  gst_zcipc_frame_copier_clear (&self->copier);
  gst_zcipc_connection_clear (&self->conn);
  gst_zcipc_quota_clear (&self->quota);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static GstStructure *
gst_zcipc_src_create_stats (GstZcipcSrc * self)
{
  GstZcipcConnectionStats now;
  guint asked = gst_zcipc_quota_get_asked (&self->quota);

  gst_zcipc_connection_get_stats (&self->conn, &now);

  return gst_structure_new ("application/x-zcipcsrc-stats",
      "frames-received", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->frames_received),
      "frames-dropped", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->frames_dropped),
      "reconnects", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->reconnects),
      "metas-unknown", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->metas_unknown),
      "quota", G_TYPE_UINT, now.quota,
      "consumer-id", G_TYPE_UINT, now.consumer_id,
      "regions", G_TYPE_UINT, now.regions,
      "dmabuf-regions", G_TYPE_UINT,
      gst_zcipc_consumer_pool_n_dmabuf_regions (self->consumer_pool),
      "sleeps", G_TYPE_UINT64, now.sleeps,
      "channel", G_TYPE_BOOLEAN, now.channel,
      "buffers-reused", G_TYPE_UINT64,
      gst_zcipc_consumer_pool_reused (self->consumer_pool),
      "quota-asked", G_TYPE_UINT, asked,
      "frames-copied", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->copier.frames_copied),
      "bytes-copied", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->copier.bytes_copied),
      "metas-skipped", G_TYPE_UINT64,
      (guint64) g_atomic_pointer_get (&self->metas_skipped), NULL);
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
    case PROP_STREAM_NAME:
      g_free (self->stream_name);
      self->stream_name = g_value_dup_string (value);
      break;
    case PROP_TIMEOUT:
      self->timeout = g_value_get_uint (value);
      break;
    case PROP_MAX_HELD:
      gst_zcipc_quota_set_max_held (&self->quota, g_value_get_uint (value));
      break;
    case PROP_RECONNECT:
      self->reconnect = g_value_get_boolean (value);
      break;
    case PROP_RETIMESTAMP:
      self->retimestamp = g_value_get_boolean (value);
      break;
    case PROP_SPIN_TIME:
      self->spin_time = g_value_get_uint (value);
      gst_zcipc_connection_set_spin (&self->conn, self->spin_time);
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
    case PROP_STREAM_NAME:
      g_value_set_string (value, self->stream_name);
      break;
    case PROP_TIMEOUT:
      g_value_set_uint (value, self->timeout);
      break;
    case PROP_MAX_HELD:
      g_value_set_uint (value, gst_zcipc_quota_get_max_held (&self->quota));
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

/* ----------------------------------------------------------- URI handler */

static GstURIType
gst_zcipc_src_uri_get_type (GType type)
{
  return GST_URI_SRC;
}

static const gchar *const *
gst_zcipc_src_uri_get_protocols (GType type)
{
  static const gchar *const protocols[] = { GST_ZCIPC_URI_PROTOCOL, NULL };

  return protocols;
}

static gchar *
gst_zcipc_src_uri_get_uri (GstURIHandler * handler)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (handler);

  return gst_zcipc_uri_get (GST_ELEMENT (self), &self->stream_name,
      &self->socket_path);
}

/* zcipc://NAME sets stream-name, zcipc:///path socket-path; the other is
 * cleared, so the URI alone says which stream to receive. */
static gboolean
gst_zcipc_src_uri_set_uri (GstURIHandler * handler, const gchar * uri,
    GError ** error)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (handler);

  return gst_zcipc_uri_set (GST_ELEMENT (self), uri, &self->stream_name,
      &self->socket_path, properties[PROP_STREAM_NAME],
      properties[PROP_SOCKET_PATH], "receives", error);
}

static void
gst_zcipc_src_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = (GstURIHandlerInterface *) g_iface;

  iface->get_type = gst_zcipc_src_uri_get_type;
  iface->get_protocols = gst_zcipc_src_uri_get_protocols;
  iface->get_uri = gst_zcipc_src_uri_get_uri;
  iface->set_uri = gst_zcipc_src_uri_set_uri;
}

/* ---------------------------------------------------------------- quota */

/* Asks the producer for more when downstream turns out to keep more. Any
 * thread. */
void
gst_zcipc_src_update_quota_request (GstZcipcSrc * self)
{
  struct zcipc_client *client;
  guint wanted = gst_zcipc_quota_grow (&self->quota);

  if (!wanted || !(client = gst_zcipc_connection_ref_client (&self->conn)))
    return;
  GST_INFO_OBJECT (self, "downstream keeps more: asking the producer for "
      "%u frames", wanted);
  zcipc_client_request_quota (client, wanted);
  zcipc_client_unref (client);
}

static gboolean
gst_zcipc_src_event (GstBaseSrc * bsrc, GstEvent * event)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);

  if (GST_EVENT_TYPE (event) == GST_EVENT_LATENCY) {
    GstClockTime latency;

    gst_event_parse_latency (event, &latency);
    GST_DEBUG_OBJECT (self, "downstream latency %" GST_TIME_FORMAT,
        GST_TIME_ARGS (latency));
    gst_zcipc_quota_learn_latency (&self->quota, latency);
    gst_zcipc_src_update_quota_request (self);
  }
  return GST_BASE_SRC_CLASS (parent_class)->event (bsrc, event);
}

/* ------------------------------------------------------------ lifecycle */

static gboolean
gst_zcipc_src_start (GstBaseSrc * bsrc)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);
  g_autofree gchar *socket_path = NULL;
  g_autofree gchar *stream_name = NULL;
  gboolean dir_missing;
  gchar *path;

  GST_OBJECT_LOCK (self);
  socket_path = g_strdup (self->socket_path);
  stream_name = g_strdup (self->stream_name);
  GST_OBJECT_UNLOCK (self);

  /* The consumer never makes the stream directory: the producer does. */
  path = gst_zcipc_address_resolve (GST_ELEMENT_CAST (self), stream_name,
      socket_path, FALSE, &dir_missing);
  if (!path)
    return FALSE;
  g_free (self->path);
  self->path = path;
  g_free (self->path_stream_name);
  self->path_stream_name = stream_name && *stream_name ?
      g_steal_pointer (&stream_name) : NULL;
  self->path_dir_missing = dir_missing;

  GST_OBJECT_LOCK (self);
  self->retimestamp_active = self->retimestamp;
  GST_OBJECT_UNLOCK (self);
  gst_zcipc_quota_reset (&self->quota);
  self->copier.copying = FALSE;
  gst_zcipc_connection_reset (&self->conn);
  gst_zcipc_schedule_reset (&self->schedule);
  self->segment_pending = FALSE;
  return TRUE;
}

void
gst_zcipc_src_drop_connection (GstZcipcSrc * self)
{
  gst_zcipc_connection_close (&self->conn);
  /* Frames still held keep their region's memory (a share holds its
   * parent): a DMABuf one is unmapped and closed with the last of them. */
  gst_zcipc_consumer_pool_flush (self->consumer_pool);
  /* Custom meta names count per connection. */
  gst_zcipc_meta_context_free (self->meta_ctx);
  self->meta_ctx = gst_zcipc_meta_context_new ();
  gst_zcipc_schedule_new_connection (&self->schedule);
}

static gboolean
gst_zcipc_src_stop (GstBaseSrc * bsrc)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);

  gst_zcipc_src_drop_connection (self);
  GST_OBJECT_LOCK (self);
  gst_clear_caps (&self->caps);
  GST_OBJECT_UNLOCK (self);
  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->path_stream_name, g_free);
  return TRUE;
}

static gboolean
gst_zcipc_src_unlock (GstBaseSrc * bsrc)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);

  gst_zcipc_connection_set_flushing (&self->conn, TRUE);
  return TRUE;
}

static gboolean
gst_zcipc_src_unlock_stop (GstBaseSrc * bsrc)
{
  GstZcipcSrc *self = GST_ZCIPC_SRC (bsrc);

  gst_zcipc_connection_set_flushing (&self->conn, FALSE);
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

static GstFlowReturn
gst_zcipc_src_create (GstPushSrc * psrc, GstBuffer ** buffer)
{
  return gst_zcipc_src_receive (GST_ZCIPC_SRC (psrc), buffer);
}
