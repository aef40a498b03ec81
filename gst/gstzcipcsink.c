/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/**
 * SECTION:element-zcipcsink
 * @title: zcipcsink
 * @see_also: zcipcsrc, shmsink
 *
 * Publishes a stream on a Unix socket for any number of zcipcsrc elements in
 * other processes, without copying frames.
 *
 * zcipcsink answers upstream's ALLOCATION query with a buffer pool whose
 * buffers live in sealed memfd regions (and offers its allocator as an
 * allocation parameter too), so upstream writes each frame once, straight
 * into shared memory. For each frame the sink sends every consumer a small
 * descriptor (region, offset, size, timestamps, flags, metas) and keeps the
 * buffer until every consumer released it. Caps, segments, tags, stream-start,
 * custom serialized events and EOS cross in stream order; a consumer that
 * joins late gets the current caps and sticky events, then the next frame.
 *
 * Memory that is already fd-backed but not ours (DMABuf from a camera or a
 * hardware decoder, a memfd from another allocator) is passed by its fd:
 * the fd of each underlying object is sent once, the first time a memory
 * over it is rendered (a memfd is sealed against shrinking and growing
 * first), and is forgotten when the last such memory is freed; frames then
 * carry only offsets into it. Consumers import a DMABuf as DMABuf memory.
 *
 * A copy happens only for a buffer with memory that has no fd and is not
 * zcipc memory (upstream ignored the pool and the allocator, e.g. behind a
 * tee, which never forwards them), or an fd that cannot be shared safely (a
 * memfd that cannot be sealed, a plain file): one copy per frame, logged to
 * GST_PERFORMANCE and counted in #GstZcipcSink:stats, or refused with
 * #GstZcipcSink:copy-mode=forbid. While no consumer is connected nothing is
 * copied (nor announced): the frame is counted in frames-unsent.
 *
 * Buffers without memory (or of zero size) cross too, as their timestamps,
 * flags and metas. Metas of up to 192 KiB travel in the frame's message,
 * larger ones in shared memory of their own; a meta that would take a
 * frame's metas past 64 MiB is left out, counted in metas-skipped, and the
 * first of a stream posted as an element warning.
 *
 * The sink takes any caps. To an upstream free to choose, it offers the raw
 * video formats consumers commonly expect first (RGBA, RGB, BGRx, I420,
 * NV12, GRAY8, in that order, in system memory), then everything upstream
 * offered: `videotestsrc ! zcipcsink` publishes RGBA, and caps upstream
 * insists on (a capsfilter, audio, JPEG, DMABuf) cross as they are.
 *
 * Going to PAUSED while the sink waits for consumers (min-consumers,
 * slow-consumer=wait) completes, and the stream goes on in PLAYING.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,format=RGBA,width=1280,height=720 ! zcipcsink stream-name=cam0
 * ]| publishes a live test stream named cam0;
 * |[
 * gst-launch-1.0 zcipcsrc stream-name=cam0 ! videoconvert ! autovideosink
 * ]| shows it in another process of the same user (so does
 * `gst-play-1.0 zcipc://cam0`).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/video/video.h>

#include "gstzcipcsink.h"
#include "gstzcipcaddress.h"
#include "gstzcipcallocator.h"
#include "gstzcipcfdcache.h"
#include "gstzcipcframesender.h"
#include "gstzcipcproducerpool.h"
#include "gstzcipcregiontable.h"
#include "gstzcipcserial.h"
#include "gstzcipcsinkcaps.h"
#include "gstzcipcsinkevents.h"
#include "gstzcipcsinkserver.h"
#include "gstzcipcsinksettings.h"
#include "gstzcipcsinkstats.h"
#include "zcipc/server.h"

/* Not static: the sink's parts (fd cache, region table, frame sender,
 * server glue, config, events) log in it too. Hidden like every symbol of
 * the plugin. */
GST_DEBUG_CATEGORY (gst_zcipc_sink_debug);
#define GST_CAT_DEFAULT gst_zcipc_sink_debug

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

static GParamSpec *properties[N_PROPERTIES];

enum
{
  SIGNAL_CONSUMER_JOINED,
  SIGNAL_CONSUMER_LEFT,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

struct _GstZcipcSink
{
  GstBaseSink parent;

  GstZcipcSinkSettings settings;        /* OBJECT LOCK */

  /* Created in start(), freed in stop(); used from the streaming thread and,
   * for stats, the application thread (lib's own lock guards it). */
  struct zcipc_server *server;
  /* Guards `server` for pools reclaiming buffers from upstream's threads,
   * which may still run while the sink stops. */
  GMutex server_lock;
  GstAllocator *allocator;

  /* OBJECT LOCK: the pool proposed last, and its caps */
  GstBufferPool *pool;
  GstCaps *pool_caps;

  /* Streaming thread only (and start/stop) */
  GstZcipcRegionTable *regions;
  GstZcipcFrameSender *sender;
  GstZcipcTiming timing_sent;   /* render_offset NONE: none sent */

  /* Foreign fd memory; the cache has its own lock and outlives the sink on
   * memory that still carries its qdata. */
  GstZcipcFdCache *fd_cache;

  GstZcipcSinkCounters counters;        /* atomic */
};

static void gst_zcipc_sink_uri_handler_init (gpointer g_iface,
    gpointer iface_data);

#define gst_zcipc_sink_parent_class parent_class
G_DEFINE_TYPE_WITH_CODE (GstZcipcSink, gst_zcipc_sink, GST_TYPE_BASE_SINK,
    G_IMPLEMENT_INTERFACE (GST_TYPE_URI_HANDLER,
        gst_zcipc_sink_uri_handler_init));
GST_ELEMENT_REGISTER_DEFINE (zcipcsink, "zcipcsink", GST_RANK_NONE,
    GST_TYPE_ZCIPC_SINK);

static void gst_zcipc_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_zcipc_sink_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static void gst_zcipc_sink_finalize (GObject * object);
static gboolean gst_zcipc_sink_start (GstBaseSink * bsink);
static gboolean gst_zcipc_sink_stop (GstBaseSink * bsink);
static gboolean gst_zcipc_sink_unlock (GstBaseSink * bsink);
static gboolean gst_zcipc_sink_unlock_stop (GstBaseSink * bsink);
static gboolean gst_zcipc_sink_event (GstBaseSink * bsink, GstEvent * event);
static GstCaps *gst_zcipc_sink_get_caps (GstBaseSink * bsink, GstCaps * filter);
static gboolean gst_zcipc_sink_propose_allocation (GstBaseSink * bsink,
    GstQuery * query);
static GstFlowReturn gst_zcipc_sink_render (GstBaseSink * bsink,
    GstBuffer * buffer);

static void
gst_zcipc_sink_class_init (GstZcipcSinkClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *basesink_class = GST_BASE_SINK_CLASS (klass);

  gobject_class->set_property = gst_zcipc_sink_set_property;
  gobject_class->get_property = gst_zcipc_sink_get_property;
  gobject_class->finalize = gst_zcipc_sink_finalize;

  /**
   * GstZcipcSink:socket-path:
   *
   * Where consumers connect: a file system path for a Unix socket (at most
   * 107 bytes; the directory must exist), or "@name" for a Linux
   * abstract-namespace socket. A stale socket file left by a dead producer
   * is replaced; one a live producer still serves is an error. Set either
   * this or #GstZcipcSink:stream-name, not both.
   */
  properties[PROP_SOCKET_PATH] = g_param_spec_string ("socket-path",
      "Socket path", "Unix socket consumers connect to ('@name': abstract "
      "namespace)", DEFAULT_SOCKET_PATH,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSink:stream-name:
   *
   * Publishes the stream under this name, for `zcipcsrc stream-name=NAME`
   * or `zcipc://NAME` of the same user to find: its socket is NAME in the
   * user's stream directory, `$XDG_RUNTIME_DIR/zcipc/` where that variable
   * is set, else `/run/zcipc/` for root and `/tmp/zcipc-UID/` for others.
   * The sink makes that directory (mode 0700) when missing, and refuses
   * one that belongs to another user, can be written by others, or is a
   * symbolic link. A name is 1 to 64 letters, digits, '.', '_' or '-', and
   * does not start with '.'. The directory keeps other users out whatever
   * #GstZcipcSink:socket-mode says: to share a stream with them, use
   * #GstZcipcSink:socket-path in a directory of a shared group. Set either
   * this or #GstZcipcSink:socket-path, not both; NULL: none.
   */
  properties[PROP_STREAM_NAME] = g_param_spec_string ("stream-name",
      "Stream name", "Name to publish the stream under, in the user's "
      "stream directory (instead of socket-path)", DEFAULT_STREAM_NAME,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSink:socket-mode:
   *
   * File mode of the socket: who may connect (write permission is needed).
   * Ignored for abstract sockets. Write it in octal with its leading 0
   * (`socket-mode=0666`); a value above 0777 whose digits are all octal
   * digits, as gst-launch-1.0 reads `socket-mode=666` (decimal 666), is
   * taken as the octal mode it spells (0666). Any other value above 0777
   * fails the start with an error.
   */
  properties[PROP_SOCKET_MODE] = g_param_spec_uint ("socket-mode",
      "Socket mode", "File mode of the socket (who may connect), in octal: "
      "0660; 660 means 0660 too", 0, G_MAXUINT, DEFAULT_SOCKET_MODE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSink:consumer-quota:
   *
   * The most frames one consumer may hold at once. Each consumer asks for a
   * number (zcipcsrc's max-held) and is granted at most this.
   */
  properties[PROP_CONSUMER_QUOTA] = g_param_spec_uint ("consumer-quota",
      "Consumer quota", "Most frames one consumer may hold at once", 1,
      ZCIPC_WIRE_MAX_QUOTA, DEFAULT_CONSUMER_QUOTA,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSink:max-consumers:
   *
   * Consumers connected at once; more are refused with a logged reason.
   * So that no one peer takes every place, one process, and one uid other
   * than the producer's, may hold at most max(1, max-consumers - 1).
   * Handshakes in progress do not count: they have their own bound (32 at
   * once, 2 s each), as do monitors (zcipc-top, the device provider: up
   * to 8). See docs/security.md.
   */
  properties[PROP_MAX_CONSUMERS] = g_param_spec_uint ("max-consumers",
      "Max consumers", "Most consumers connected at once", 1, 1024,
      DEFAULT_MAX_CONSUMERS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSink:slow-consumer:
   *
   * What happens when a consumer sits at its quota: skip (it misses frames,
   * counted) or wait (lossless; see wait-timeout).
   */
  properties[PROP_SLOW_CONSUMER] = g_param_spec_enum ("slow-consumer",
      "Slow consumer policy", "What happens when a consumer is at its quota",
      GST_TYPE_ZCIPC_SLOW_CONSUMER, DEFAULT_SLOW_CONSUMER,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstZcipcSink:wait-timeout:
   *
   * With slow-consumer=wait: milliseconds a consumer may hold its quota
   * before it is disconnected so the stream goes on. 0 waits forever.
   *
   * So that a consumer cannot stall the stream again and again by coming
   * straight back: one that joins within 30 s after a consumer of its uid
   * was dropped for this timeout is not waited for (it is served as with
   * slow-consumer=skip) until those 30 s have passed. See docs/security.md.
   */
  properties[PROP_WAIT_TIMEOUT] = g_param_spec_uint ("wait-timeout",
      "Wait timeout", "With slow-consumer=wait, ms before a stuck consumer "
      "is dropped (0 = never); one of the same uid joining within 30 s after "
      "is served as with skip until then", 0, G_MAXUINT,
      DEFAULT_WAIT_TIMEOUT,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstZcipcSink:min-consumers:
   *
   * The sink holds its first frame (and any later one) until this many
   * consumers are connected. With slow-consumer=wait this gives a lossless
   * start.
   */
  properties[PROP_MIN_CONSUMERS] = g_param_spec_uint ("min-consumers",
      "Min consumers", "Wait for this many consumers before rendering", 0,
      1024, DEFAULT_MIN_CONSUMERS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstZcipcSink:pool-size:
   *
   * Frames the proposed pool preallocates in one shared region. The pool
   * grows (by further regions) only while consumers hold frames. The
   * default, 8, holds what one zcipcsrc with default properties may hold
   * (its max-held 4 and the frame on its way), the frame upstream fills,
   * the sink's last sample and one spare, so such a consumer never makes
   * the pool grow mid-stream (about as much memory as shmsink's default
   * 64 MiB at 1080p RGBA).
   */
  properties[PROP_POOL_SIZE] = g_param_spec_uint ("pool-size", "Pool size",
      "Buffers the proposed pool preallocates", 1, 64, DEFAULT_POOL_SIZE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSink:yield-after-send:
   *
   * After sending a frame that woke a consumer, yield the CPU
   * (sched_yield) so that the consumer runs at once: the scheduler often
   * queues a woken consumer on this CPU behind the rest of the streaming
   * thread's iteration. Measured 10-20 µs less latency at 30 fps (p50) on a
   * 2-CPU machine; one system call per frame that woke somebody, which
   * returns at once when nothing waits for this CPU. Frames taken by busy
   * consumers (without sleeping, through their channel) never yield.
   */
  properties[PROP_YIELD_AFTER_SEND] = g_param_spec_boolean
      ("yield-after-send", "Yield after send",
      "Let the consumers a frame woke run before this thread goes on",
      DEFAULT_YIELD_AFTER_SEND,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstZcipcSink:copy-mode:
   *
   * What to do with a buffer whose memory consumers cannot map (neither from
   * zcipcsink's pool or allocator nor shareable fd-backed memory): copy it
   * into shared memory, once per frame (counted in stats frames-copied and
   * bytes-copied, logged to GST_PERFORMANCE), or fail with an error that
   * says so.
   */
  properties[PROP_COPY_MODE] = g_param_spec_enum ("copy-mode", "Copy mode",
      "Copy buffers that are not in shared memory, or fail",
      GST_TYPE_ZCIPC_COPY_MODE, DEFAULT_COPY_MODE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstZcipcSink:allowed-uids:
   *
   * Comma-separated user ids or names allowed to connect, checked with
   * SO_PEERCRED before anything is sent (a refused peer gets a REJECT and
   * is logged). With allowed-gids, a peer matching either list is allowed.
   * NULL (both): anybody the socket's file mode lets in.
   */
  properties[PROP_ALLOWED_UIDS] = g_param_spec_string ("allowed-uids",
      "Allowed uids", "Comma-separated user ids or names allowed to connect "
      "(NULL: any)", DEFAULT_ALLOWED_UIDS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSink:allowed-gids:
   *
   * Comma-separated group ids or names allowed to connect (the peer's
   * primary group), see allowed-uids.
   */
  properties[PROP_ALLOWED_GIDS] = g_param_spec_string ("allowed-gids",
      "Allowed gids", "Comma-separated group ids or names allowed to connect "
      "(NULL: any)", DEFAULT_ALLOWED_GIDS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcSink:stats:
   *
   * #GstBaseSink's statistics (average-rate, dropped, rendered) plus:
   * consumers (guint, connected now), frames-sent (guint64, frames that
   * reached at least one consumer), frames-unsent (guint64, frames rendered
   * while no consumer could take them; with none connected such a frame is
   * not copied), frames-dropped (guint64, frames
   * consumers missed, summed over consumers), frames-copied and bytes-copied
   * (guint64, copies into shared memory), frames-held (guint, holds across
   * consumers now), consumers-joined, consumers-dropped (guint64, cut off for
   * a protocol violation, the wait timeout, or too slow to take an event),
   * metas-skipped (guint64, metas with no serializer, or that would take a
   * frame's metas past 64 MiB), regions-announced
   * (guint64, REGION_ADDs: shared regions announced to consumers so far, ours
   * and upstream's fds),
   * fd-regions-announced (guint64, of those, upstream's fd-backed objects
   * (DMABuf, memfd) passed by fd: one per underlying object while memory
   * over it lives), frames-by-fd (guint64, frames with at least one memory
   * passed by its fd), fd-regions (guint, upstream's fd-backed objects known
   * now), and consumer-stats (a #GstValueArray with one structure per
   * consumer: id, pid, uid, quota, frames-sent, frames-missed, frames-held).
   */
  properties[PROP_STATS] = g_param_spec_boxed ("stats", "Statistics",
      "Sink and per-consumer statistics", GST_TYPE_STRUCTURE,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  /**
   * GstZcipcSink::consumer-joined:
   * @sink: the sink
   * @id: the consumer's id
   * @pid: its process id
   * @uid: its user id
   *
   * A consumer finished its handshake. Emitted from the sink's socket
   * thread; an element message "zcipc-consumer-joined" is posted too.
   */
  signals[SIGNAL_CONSUMER_JOINED] = g_signal_new ("consumer-joined",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_INT, G_TYPE_UINT);

  /**
   * GstZcipcSink::consumer-left:
   * @sink: the sink
   * @id: the consumer's id
   * @pid: its process id
   * @uid: its user id
   * @reason: why it left
   *
   * A consumer hung up or was disconnected; its frames are back. Emitted from
   * the sink's socket thread; an element message "zcipc-consumer-left" is
   * posted too.
   */
  signals[SIGNAL_CONSUMER_LEFT] = g_signal_new ("consumer-left",
      G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 4, G_TYPE_UINT, G_TYPE_INT, G_TYPE_UINT, G_TYPE_STRING);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_set_static_metadata (element_class,
      "Zero-copy IPC sink", "Sink/Network",
      "Publishes a stream to other processes through shared memory, "
      "without copying", "The zcipc authors");

  basesink_class->start = GST_DEBUG_FUNCPTR (gst_zcipc_sink_start);
  basesink_class->stop = GST_DEBUG_FUNCPTR (gst_zcipc_sink_stop);
  basesink_class->unlock = GST_DEBUG_FUNCPTR (gst_zcipc_sink_unlock);
  basesink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_zcipc_sink_unlock_stop);
  basesink_class->event = GST_DEBUG_FUNCPTR (gst_zcipc_sink_event);
  basesink_class->get_caps = GST_DEBUG_FUNCPTR (gst_zcipc_sink_get_caps);
  basesink_class->propose_allocation =
      GST_DEBUG_FUNCPTR (gst_zcipc_sink_propose_allocation);
  basesink_class->render = GST_DEBUG_FUNCPTR (gst_zcipc_sink_render);

  gst_type_mark_as_plugin_api (GST_TYPE_ZCIPC_SLOW_CONSUMER, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_ZCIPC_COPY_MODE, 0);
  GST_DEBUG_CATEGORY_INIT (gst_zcipc_sink_debug, "zcipcsink", 0,
      "zcipc zero-copy IPC sink");
}

static void
gst_zcipc_sink_init (GstZcipcSink * self)
{
  gst_zcipc_sink_settings_init (&self->settings);
  self->allocator = gst_zcipc_allocator_new ();
  g_mutex_init (&self->server_lock);
  self->fd_cache = gst_zcipc_fd_cache_new ();
  self->regions = gst_zcipc_region_table_new (GST_ELEMENT_CAST (self),
      self->fd_cache, &self->counters);
  self->sender = gst_zcipc_frame_sender_new (GST_ELEMENT_CAST (self),
      self->allocator, self->regions, &self->counters);
  self->timing_sent.render_offset = GST_CLOCK_TIME_NONE;
}

static void
gst_zcipc_sink_finalize (GObject * object)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (object);

  gst_zcipc_sink_settings_clear (&self->settings);
  gst_zcipc_frame_sender_free (self->sender);
  gst_zcipc_region_table_free (self->regions);
  gst_zcipc_fd_cache_unref (self->fd_cache);
  gst_clear_object (&self->pool);
  gst_clear_caps (&self->pool_caps);
  gst_object_unref (self->allocator);
  g_mutex_clear (&self->server_lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static GstStructure *
gst_zcipc_sink_create_stats (GstZcipcSink * self)
{
  GstStructure *s = gst_base_sink_get_stats (GST_BASE_SINK (self));
  struct zcipc_server_stats st = { 0 };
  struct zcipc_consumer_stats per[GST_ZCIPC_SINK_STATS_MAX_CONSUMERS];
  guint n = 0, fd_regions = gst_zcipc_fd_cache_n_regions (self->fd_cache);

  GST_OBJECT_LOCK (self);
  if (self->server)
    n = zcipc_server_get_stats (self->server, &st, per, G_N_ELEMENTS (per));
  GST_OBJECT_UNLOCK (self);
  gst_zcipc_sink_stats_fill (s, &st, per, n, &self->counters, fd_regions);
  return s;
}

static void
gst_zcipc_sink_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (object);
  gboolean known;

  GST_OBJECT_LOCK (self);
  known = gst_zcipc_sink_settings_set (&self->settings, prop_id, value);
  GST_OBJECT_UNLOCK (self);
  if (!known)
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
gst_zcipc_sink_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (object);
  gboolean known;

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, gst_zcipc_sink_create_stats (self));
    return;
  }
  GST_OBJECT_LOCK (self);
  known = gst_zcipc_sink_settings_get (&self->settings, prop_id, value);
  GST_OBJECT_UNLOCK (self);
  if (!known)
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

/* ----------------------------------------------------------- URI handler */

static GstURIType
gst_zcipc_sink_uri_get_type (GType type)
{
  return GST_URI_SINK;
}

static const gchar *const *
gst_zcipc_sink_uri_get_protocols (GType type)
{
  static const gchar *const protocols[] = { GST_ZCIPC_URI_PROTOCOL, NULL };

  return protocols;
}

static gchar *
gst_zcipc_sink_uri_get_uri (GstURIHandler * handler)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (handler);

  return gst_zcipc_uri_get (GST_ELEMENT (self), &self->settings.stream_name,
      &self->settings.socket_path);
}

/* zcipc://NAME sets stream-name, zcipc:///path socket-path; the other is
 * cleared, so the URI alone says where the stream goes. */
static gboolean
gst_zcipc_sink_uri_set_uri (GstURIHandler * handler, const gchar * uri,
    GError ** error)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (handler);

  return gst_zcipc_uri_set (GST_ELEMENT (self), uri,
      &self->settings.stream_name, &self->settings.socket_path,
      properties[PROP_STREAM_NAME], properties[PROP_SOCKET_PATH], "publishes",
      error);
}

static void
gst_zcipc_sink_uri_handler_init (gpointer g_iface, gpointer iface_data)
{
  GstURIHandlerInterface *iface = (GstURIHandlerInterface *) g_iface;

  iface->get_type = gst_zcipc_sink_uri_get_type;
  iface->get_protocols = gst_zcipc_sink_uri_get_protocols;
  iface->get_uri = gst_zcipc_sink_uri_get_uri;
  iface->set_uri = gst_zcipc_sink_uri_set_uri;
}

/* ------------------------------------------------------------ lifecycle */

/* The socket path the properties name; NULL after posting an error. The
 * producer makes the stream directory of a name. */
static gchar *
resolve_socket_path (GstZcipcSink * self)
{
  g_autofree gchar *socket_path = NULL;
  g_autofree gchar *stream_name = NULL;

  GST_OBJECT_LOCK (self);
  socket_path = g_strdup (self->settings.socket_path);
  stream_name = g_strdup (self->settings.stream_name);
  GST_OBJECT_UNLOCK (self);
  return gst_zcipc_address_resolve (GST_ELEMENT_CAST (self), stream_name,
      socket_path, TRUE, NULL);
}

static gboolean
gst_zcipc_sink_start (GstBaseSink * bsink)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (bsink);
  GstZcipcSinkServerSettings settings;
  g_autofree gchar *path = NULL;
  g_autofree gchar *uid_list = NULL;
  g_autofree gchar *gid_list = NULL;
  struct zcipc_server *server;

  if (!(path = resolve_socket_path (self)))
    return FALSE;
  GST_OBJECT_LOCK (self);
  settings.socket_mode = self->settings.socket_mode;
  settings.quota = self->settings.consumer_quota;
  settings.max_consumers = self->settings.max_consumers;
  uid_list = g_strdup (self->settings.allowed_uids);
  gid_list = g_strdup (self->settings.allowed_gids);
  GST_OBJECT_UNLOCK (self);
  settings.allowed_uids = uid_list;
  settings.allowed_gids = gid_list;
  server = gst_zcipc_sink_server_new (GST_ELEMENT_CAST (self), path, &settings);
  if (!server)
    return FALSE;
  GST_INFO_OBJECT (self, "publishing on '%s'", path);

  g_mutex_lock (&self->server_lock);
  GST_OBJECT_LOCK (self);
  self->server = server;
  GST_OBJECT_UNLOCK (self);
  g_mutex_unlock (&self->server_lock);
  gst_zcipc_region_table_attach (self->regions, server);
  gst_zcipc_frame_sender_attach (self->sender, server);
  self->timing_sent.render_offset = GST_CLOCK_TIME_NONE;
  return TRUE;
}

static gboolean
gst_zcipc_sink_stop (GstBaseSink * bsink)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (bsink);
  struct zcipc_server *server;

  g_mutex_lock (&self->server_lock);
  GST_OBJECT_LOCK (self);
  server = self->server;
  self->server = NULL;
  GST_OBJECT_UNLOCK (self);
  g_mutex_unlock (&self->server_lock);

  /* Hangs up on every consumer, which gives their buffers back. */
  zcipc_server_free (server);
  gst_zcipc_region_table_detach (self->regions);
  gst_zcipc_frame_sender_detach (self->sender);

  GST_OBJECT_LOCK (self);
  gst_clear_object (&self->pool);
  gst_clear_caps (&self->pool_caps);
  GST_OBJECT_UNLOCK (self);
  GST_INFO_OBJECT (self, "stopped");
  return TRUE;
}

static gboolean
gst_zcipc_sink_unlock (GstBaseSink * bsink)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (bsink);

  if (self->server)
    zcipc_server_set_flushing (self->server, TRUE);
  return TRUE;
}

static gboolean
gst_zcipc_sink_unlock_stop (GstBaseSink * bsink)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (bsink);

  if (self->server)
    zcipc_server_set_flushing (self->server, FALSE);
  return TRUE;
}

/* ---------------------------------------------------------------- events */

static gboolean
gst_zcipc_sink_event (GstBaseSink * bsink, GstEvent * event)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (bsink);

  if (self->server)
    gst_zcipc_sink_events_forward (GST_OBJECT_CAST (self), self->server, event);
  return GST_BASE_SINK_CLASS (parent_class)->event (bsink, event);
}

/* ------------------------------------------------------------------ caps */

static GstCaps *
gst_zcipc_sink_get_caps (GstBaseSink * bsink, GstCaps * filter)
{
  GstCaps *caps = gst_zcipc_sink_caps_for_filter (filter);

  if (filter)
    GST_LOG_OBJECT (bsink, "caps for filter %" GST_PTR_FORMAT ": %"
        GST_PTR_FORMAT, filter, caps);
  return caps;
}

/* ------------------------------------------------------------- allocation */

/* The pool ran dry: buffers whose consumers are done with them may wait
 * for the next frame to be given back (lazy releases). Upstream waits for
 * a buffer before it can make that frame, so take them back now. */
static void
reclaim_released_buffers (gpointer data)
{
  GstZcipcSink *self = g_weak_ref_get (data);

  if (!self)
    return;
  g_mutex_lock (&self->server_lock);
  if (self->server)
    zcipc_server_collect_releases (self->server);
  g_mutex_unlock (&self->server_lock);
  gst_object_unref (self);
}

static void
free_weak_ref (gpointer data)
{
  g_weak_ref_clear (data);
  g_free (data);
}

static gboolean
gst_zcipc_sink_propose_allocation (GstBaseSink * bsink, GstQuery * query)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (bsink);
  GstAllocationParams params;
  GstBufferPool *pool = NULL;
  GstVideoInfo info;
  GstCaps *caps;
  gboolean need_pool;
  guint min, max;

  gst_query_parse_allocation (query, &caps, &need_pool);
  if (!caps) {
    GST_DEBUG_OBJECT (self, "allocation query without caps");
    return FALSE;
  }

  gst_allocation_params_init (&params);
  /* Upstream that builds its own pool still allocates shared memory. */
  gst_query_add_allocation_param (query, self->allocator, &params);
  gst_query_add_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL);
  gst_query_add_allocation_meta (query, GST_VIDEO_CROP_META_API_TYPE, NULL);

  if (!gst_video_info_from_caps (&info, caps))
    return TRUE;                /* no frame size to build a pool for */

  GST_OBJECT_LOCK (self);
  min = self->settings.pool_size;
  /* Enough that consumers holding their quota never starve upstream in
   * the default skip mode; slots beyond min are created only when needed. */
  max = min + self->settings.consumer_quota * self->settings.max_consumers;
  if (self->pool && self->pool_caps && gst_caps_is_equal (caps,
          self->pool_caps))
    pool = gst_object_ref (self->pool);
  GST_OBJECT_UNLOCK (self);

  if (!pool) {
    GWeakRef *weak = g_new0 (GWeakRef, 1);

    g_weak_ref_init (weak, self);
    pool = gst_zcipc_producer_pool_new_configured (self->allocator, caps,
        (guint) info.size, min, max, reclaim_released_buffers, weak,
        free_weak_ref);
    if (!pool) {
      GST_WARNING_OBJECT (self, "could not configure a pool for %"
          GST_PTR_FORMAT, caps);
      return TRUE;
    }
    GST_OBJECT_LOCK (self);
    gst_object_replace ((GstObject **) & self->pool, GST_OBJECT_CAST (pool));
    gst_caps_replace (&self->pool_caps, caps);
    GST_OBJECT_UNLOCK (self);
    GST_DEBUG_OBJECT (self, "proposing new pool %" GST_PTR_FORMAT " for %"
        GST_PTR_FORMAT, pool, caps);
  }
  gst_query_add_allocation_pool (query, pool, (guint) info.size, min, max);
  gst_object_unref (pool);
  return TRUE;
}

/* ---------------------------------------------------------------- render */

/* The properties one render() follows, read once per frame. */
typedef struct
{
  GstZcipcSlowConsumer policy;
  guint min_consumers;
  guint wait_timeout;
  GstZcipcCopyMode copy_mode;
  gboolean yield_after_send;
  gboolean from_our_pool;       /* the buffer comes from the pool proposed */
} RenderSettings;

static void
snapshot_render_settings (GstZcipcSink * self, GstBuffer * buffer,
    RenderSettings * settings)
{
  GST_OBJECT_LOCK (self);
  settings->policy = self->settings.slow_consumer;
  settings->min_consumers = self->settings.min_consumers;
  settings->wait_timeout = self->settings.wait_timeout;
  settings->copy_mode = self->settings.copy_mode;
  settings->yield_after_send = self->settings.yield_after_send;
  settings->from_our_pool = self->pool && buffer->pool == self->pool;
  GST_OBJECT_UNLOCK (self);
}

/* Where `buffer`'s memories lie in regions consumers can map; FALSE, with
 * the reason, when it must be copied. A buffer without memory, or only
 * empty ones, crosses as a frame with no memory: its timestamps, flags
 * and metas. */
static gboolean
describe_buffer (GstZcipcSink * self, GstBuffer * buffer,
    GstZcipcFrameMems * mems, const gchar ** reason)
{
  if (gst_buffer_get_size (buffer) == 0) {
    mems->n_mems = 0;
    return TRUE;
  }
  return gst_zcipc_region_table_describe (self->regions, buffer, mems, reason);
}

/* copy-mode=forbid and `buffer` would have to be copied. */
static GstFlowReturn
refuse_copy (GstZcipcSink * self, GstBuffer * buffer, const gchar * reason)
{
  GstMemory *mem = gst_buffer_peek_memory (buffer, 0);

  GST_ELEMENT_ERROR (self, STREAM, FAILED,
      ("A frame would have to be copied into shared memory, and "
          "copy-mode=forbid. Let upstream allocate from zcipcsink's pool "
          "or allocator (a tee in front of zcipcsink hides them), give "
          "zcipcsink fd-backed memory (DMABuf, a sealable memfd), or set "
          "copy-mode=allow to copy (counted in stats)"),
      ("buffer %" GST_PTR_FORMAT " (%u memories, the first from %s): %s",
          buffer, gst_buffer_n_memory (buffer), mem && mem->allocator ?
          mem->allocator->mem_type : "no allocator", reason));
  return GST_FLOW_ERROR;
}

/* Nobody to see the frame: no copy, no region to announce (counted
 * unsent). */
static gboolean
skip_unwatched_frame (GstZcipcSink * self, GstBuffer * buffer)
{
  if (!zcipc_server_skip_unwatched_frame (self->server))
    return FALSE;
  GST_LOG_OBJECT (self, "no consumer: frame %" GST_TIME_FORMAT " unsent",
      GST_TIME_ARGS (GST_BUFFER_PTS (buffer)));
  return TRUE;
}

static GstFlowReturn
gst_zcipc_sink_render (GstBaseSink * bsink, GstBuffer * buffer)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (bsink);
  GstZcipcFrameMems mems;
  RenderSettings settings;
  const gchar *reason = NULL;
  gboolean described;
  GstBuffer *shared;
  GstFlowReturn ret;
  gboolean lazy;

  snapshot_render_settings (self, buffer, &settings);
  ret = gst_zcipc_sink_server_wait (bsink, self->server,
      settings.min_consumers, settings.policy, settings.wait_timeout);
  if (ret != GST_FLOW_OK)
    return ret;
  gst_zcipc_sink_events_update_timing (bsink, self->server, &self->timing_sent);
  gst_zcipc_region_table_remove_freed_fd_regions (self->regions);

  described = describe_buffer (self, buffer, &mems, &reason);
  if (!described && settings.copy_mode == GST_ZCIPC_COPY_MODE_FORBID)
    return refuse_copy (self, buffer, reason);
  if (skip_unwatched_frame (self, buffer)) {
    gst_zcipc_region_table_sweep (self->regions);
    return GST_FLOW_OK;
  }
  shared = described ? gst_buffer_ref (buffer) :
      gst_zcipc_frame_sender_copy (self->sender, buffer, &mems, reason);
  if (!shared)
    return GST_FLOW_ERROR;
  if (!gst_zcipc_region_table_announce_frame (self->regions, shared, &mems)) {
    gst_buffer_unref (shared);
    return GST_FLOW_ERROR;
  }
  /* Releases may wait for the next frame when our pool reclaims them when
   * it runs dry, or the buffer is our copy. */
  lazy = settings.from_our_pool || shared != buffer;
  ret = gst_zcipc_frame_sender_send (self->sender, shared, &mems, lazy,
      settings.yield_after_send);
  gst_buffer_unref (shared);
  if (ret != GST_FLOW_OK)
    return ret;
  gst_zcipc_region_table_sweep (self->regions);
  return GST_FLOW_OK;
}
