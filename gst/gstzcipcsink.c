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

#include <string.h>
#include <sched.h>

#include <gst/video/video.h>

#include "gstzcipcsink.h"
#include "gstzcipcaddress.h"
#include "gstzcipcallocator.h"
#include "gstzcipcfdcache.h"
#include "gstzcipcproducerpool.h"
#include "gstzcipcregiontable.h"
#include "gstzcipcserial.h"
#include "gstzcipcsinkconfig.h"
#include "gstzcipcsinkevents.h"
#include "gstzcipcsinkstats.h"
#include "zcipc/server.h"

/* Not static: the sink's parts (fd cache, region table, config, events)
 * log in it too. Hidden like every symbol of the plugin. */
GST_DEBUG_CATEGORY (gst_zcipc_sink_debug);
#define GST_CAT_DEFAULT gst_zcipc_sink_debug
GST_DEBUG_CATEGORY_EXTERN (GST_CAT_PERFORMANCE);

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

#define DEFAULT_SOCKET_PATH NULL
#define DEFAULT_STREAM_NAME NULL
#define DEFAULT_SOCKET_MODE 0660
#define DEFAULT_CONSUMER_QUOTA 8
#define DEFAULT_MAX_CONSUMERS 32
#define DEFAULT_SLOW_CONSUMER GST_ZCIPC_SLOW_CONSUMER_SKIP
#define DEFAULT_WAIT_TIMEOUT 2000
#define DEFAULT_MIN_CONSUMERS 0
#define DEFAULT_POOL_SIZE 8
#define DEFAULT_COPY_MODE GST_ZCIPC_COPY_MODE_ALLOW
#define DEFAULT_YIELD_AFTER_SEND TRUE
#define DEFAULT_ALLOWED_UIDS NULL
#define DEFAULT_ALLOWED_GIDS NULL

enum
{
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_STREAM_NAME,
  PROP_SOCKET_MODE,
  PROP_CONSUMER_QUOTA,
  PROP_MAX_CONSUMERS,
  PROP_SLOW_CONSUMER,
  PROP_WAIT_TIMEOUT,
  PROP_MIN_CONSUMERS,
  PROP_POOL_SIZE,
  PROP_COPY_MODE,
  PROP_YIELD_AFTER_SEND,
  PROP_ALLOWED_UIDS,
  PROP_ALLOWED_GIDS,
  PROP_STATS,
  N_PROPERTIES
};

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

  /* OBJECT LOCK: properties */
  gchar *socket_path;
  gchar *stream_name;
  guint socket_mode;
  guint consumer_quota;
  guint max_consumers;
  GstZcipcSlowConsumer slow_consumer;
  guint wait_timeout;
  guint min_consumers;
  guint pool_size;
  GstZcipcCopyMode copy_mode;
  gboolean yield_after_send;
  gchar *allowed_uids;
  gchar *allowed_gids;

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
  GByteArray *meta_scratch;
  GstZcipcTiming timing_sent;   /* render_offset NONE: none sent */
  gboolean copy_logged;         /* first copy of the stream said at INFO */
  gboolean meta_refusal_said;   /* first meta too big, posted as WARNING */

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

GType
gst_zcipc_slow_consumer_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ZCIPC_SLOW_CONSUMER_SKIP,
        "A consumer at its quota misses frames; nobody waits for it", "skip"},
    {GST_ZCIPC_SLOW_CONSUMER_WAIT,
          "Lossless: wait for the slowest consumer, drop it after wait-timeout",
        "wait"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZcipcSlowConsumer", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_zcipc_copy_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ZCIPC_COPY_MODE_ALLOW,
        "Copy buffers that are not in shared memory (counted)", "allow"},
    {GST_ZCIPC_COPY_MODE_FORBID,
        "Fail on a buffer that is not in shared memory", "forbid"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZcipcCopyMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

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
  self->socket_path = g_strdup (DEFAULT_SOCKET_PATH);
  self->stream_name = g_strdup (DEFAULT_STREAM_NAME);
  self->socket_mode = DEFAULT_SOCKET_MODE;
  self->consumer_quota = DEFAULT_CONSUMER_QUOTA;
  self->max_consumers = DEFAULT_MAX_CONSUMERS;
  self->slow_consumer = DEFAULT_SLOW_CONSUMER;
  self->wait_timeout = DEFAULT_WAIT_TIMEOUT;
  self->min_consumers = DEFAULT_MIN_CONSUMERS;
  self->pool_size = DEFAULT_POOL_SIZE;
  self->copy_mode = DEFAULT_COPY_MODE;
  self->yield_after_send = DEFAULT_YIELD_AFTER_SEND;
  self->allocator = gst_zcipc_allocator_new ();
  g_mutex_init (&self->server_lock);
  self->fd_cache = gst_zcipc_fd_cache_new ();
  self->regions = gst_zcipc_region_table_new (GST_ELEMENT_CAST (self),
      self->fd_cache, &self->counters);
  self->meta_scratch = g_byte_array_new ();
  self->timing_sent.render_offset = GST_CLOCK_TIME_NONE;
}

static void
gst_zcipc_sink_finalize (GObject * object)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (object);

  g_free (self->socket_path);
  g_free (self->stream_name);
  g_free (self->allowed_uids);
  g_free (self->allowed_gids);
  gst_zcipc_region_table_free (self->regions);
  g_byte_array_unref (self->meta_scratch);
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
    case PROP_SOCKET_MODE:
      self->socket_mode = g_value_get_uint (value);
      break;
    case PROP_CONSUMER_QUOTA:
      self->consumer_quota = g_value_get_uint (value);
      break;
    case PROP_MAX_CONSUMERS:
      self->max_consumers = g_value_get_uint (value);
      break;
    case PROP_SLOW_CONSUMER:
      self->slow_consumer = g_value_get_enum (value);
      break;
    case PROP_WAIT_TIMEOUT:
      self->wait_timeout = g_value_get_uint (value);
      break;
    case PROP_MIN_CONSUMERS:
      self->min_consumers = g_value_get_uint (value);
      break;
    case PROP_POOL_SIZE:
      self->pool_size = g_value_get_uint (value);
      break;
    case PROP_COPY_MODE:
      self->copy_mode = g_value_get_enum (value);
      break;
    case PROP_YIELD_AFTER_SEND:
      self->yield_after_send = g_value_get_boolean (value);
      break;
    case PROP_ALLOWED_UIDS:
      g_free (self->allowed_uids);
      self->allowed_uids = g_value_dup_string (value);
      break;
    case PROP_ALLOWED_GIDS:
      g_free (self->allowed_gids);
      self->allowed_gids = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zcipc_sink_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (object);

  if (prop_id == PROP_STATS) {
    g_value_take_boxed (value, gst_zcipc_sink_create_stats (self));
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
    case PROP_SOCKET_MODE:
      g_value_set_uint (value, self->socket_mode);
      break;
    case PROP_CONSUMER_QUOTA:
      g_value_set_uint (value, self->consumer_quota);
      break;
    case PROP_MAX_CONSUMERS:
      g_value_set_uint (value, self->max_consumers);
      break;
    case PROP_SLOW_CONSUMER:
      g_value_set_enum (value, self->slow_consumer);
      break;
    case PROP_WAIT_TIMEOUT:
      g_value_set_uint (value, self->wait_timeout);
      break;
    case PROP_MIN_CONSUMERS:
      g_value_set_uint (value, self->min_consumers);
      break;
    case PROP_POOL_SIZE:
      g_value_set_uint (value, self->pool_size);
      break;
    case PROP_COPY_MODE:
      g_value_set_enum (value, self->copy_mode);
      break;
    case PROP_YIELD_AFTER_SEND:
      g_value_set_boolean (value, self->yield_after_send);
      break;
    case PROP_ALLOWED_UIDS:
      g_value_set_string (value, self->allowed_uids);
      break;
    case PROP_ALLOWED_GIDS:
      g_value_set_string (value, self->allowed_gids);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
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

  return gst_zcipc_uri_get (GST_ELEMENT (self), &self->stream_name,
      &self->socket_path);
}

/* zcipc://NAME sets stream-name, zcipc:///path socket-path; the other is
 * cleared, so the URI alone says where the stream goes. */
static gboolean
gst_zcipc_sink_uri_set_uri (GstURIHandler * handler, const gchar * uri,
    GError ** error)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (handler);

  return gst_zcipc_uri_set (GST_ELEMENT (self), uri, &self->stream_name,
      &self->socket_path, properties[PROP_STREAM_NAME],
      properties[PROP_SOCKET_PATH], "publishes", error);
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

/* ---------------------------------------------------- server callbacks */

static void
on_hold (void *data, void *frame)
{
  gst_buffer_ref (GST_BUFFER_CAST (frame));
}

static void
on_release (void *data, void *frame)
{
  gst_buffer_unref (GST_BUFFER_CAST (frame));
}

/* A consumer that left or was cut off pinned `frame` past the server's
 * bounds: once its regions are never written or handed out again, the
 * server may drop our reference while the pinner still reads them. */
static bool
on_retire (void *data, void *frame)
{
  GstBuffer *buffer = GST_BUFFER_CAST (frame);

  if (!gst_zcipc_producer_pool_retire_buffer (buffer)) {
    GST_DEBUG_OBJECT (data, "frame %p is not all in our own memory: it "
        "stays pinned", buffer);
    return false;
  }
  return true;
}

static void
post_consumer_message (GstZcipcSink * self, const gchar * name,
    const struct zcipc_consumer_info *info, const gchar * reason)
{
  GstStructure *s = gst_structure_new (name,
      "id", G_TYPE_UINT, info->id,
      "pid", G_TYPE_INT, (gint) info->pid,
      "uid", G_TYPE_UINT, (guint) info->uid,
      "gid", G_TYPE_UINT, (guint) info->gid,
      "quota", G_TYPE_UINT, info->quota, NULL);
  if (reason)
    gst_structure_set (s, "reason", G_TYPE_STRING, reason, NULL);
  gst_element_post_message (GST_ELEMENT_CAST (self),
      gst_message_new_element (GST_OBJECT_CAST (self), s));
}

static void
on_consumer_joined (void *data, const struct zcipc_consumer_info *info)
{
  GstZcipcSink *self = data;

  post_consumer_message (self, "zcipc-consumer-joined", info, NULL);
  g_signal_emit (self, signals[SIGNAL_CONSUMER_JOINED], 0, info->id,
      (gint) info->pid, (guint) info->uid);
}

static void
on_consumer_left (void *data, const struct zcipc_consumer_info *info,
    const char *reason)
{
  GstZcipcSink *self = data;

  post_consumer_message (self, "zcipc-consumer-left", info, reason);
  g_signal_emit (self, signals[SIGNAL_CONSUMER_LEFT], 0, info->id,
      (gint) info->pid, (guint) info->uid, reason);
}

static void
on_log (void *data, enum zcipc_log_level level, const char *message)
{
  static const GstDebugLevel levels[] = {
    [ZCIPC_LOG_ERROR] = GST_LEVEL_ERROR,
    [ZCIPC_LOG_WARNING] = GST_LEVEL_WARNING,
    [ZCIPC_LOG_INFO] = GST_LEVEL_INFO,
    [ZCIPC_LOG_DEBUG] = GST_LEVEL_DEBUG,
  };
  GST_CAT_LEVEL_LOG (GST_CAT_DEFAULT, levels[level], data, "%s", message);
}

static const struct zcipc_server_callbacks server_callbacks = {
  .hold = on_hold,
  .release = on_release,
  .retire = on_retire,
  .consumer_joined = on_consumer_joined,
  .consumer_left = on_consumer_left,
  .log = on_log,
};

/* ------------------------------------------------------------ lifecycle */

/* Fills `config` (and the id arrays it points into) from the properties;
 * FALSE after posting an error. */
static gboolean
configure_server (GstZcipcSink * self, struct zcipc_server_config *config,
    GArray * uids, GArray * gids)
{
  g_autofree gchar *uid_list = NULL;
  g_autofree gchar *gid_list = NULL;
  guint socket_mode;

  GST_OBJECT_LOCK (self);
  uid_list = g_strdup (self->allowed_uids);
  gid_list = g_strdup (self->allowed_gids);
  socket_mode = self->socket_mode;
  config->quota = self->consumer_quota;
  config->max_consumers = self->max_consumers;
  GST_OBJECT_UNLOCK (self);

  if (!gst_zcipc_sink_config_socket_mode (GST_ELEMENT_CAST (self),
          socket_mode, &config->socket_mode))
    return FALSE;
  GST_DEBUG_OBJECT (self, "socket mode %04o", config->socket_mode);
  if (!gst_zcipc_sink_config_allowed_ids (GST_ELEMENT_CAST (self), uid_list,
          gid_list, uids, gids))
    return FALSE;
  G_STATIC_ASSERT (sizeof (uid_t) == sizeof (guint32));
  G_STATIC_ASSERT (sizeof (gid_t) == sizeof (guint32));
  config->allowed_uids = (const uid_t *) uids->data;
  config->n_allowed_uids = uids->len;
  config->allowed_gids = (const gid_t *) gids->data;
  config->n_allowed_gids = gids->len;
  return TRUE;
}

/* The socket path the properties name; NULL after posting an error. The
 * producer makes the stream directory of a name. */
static gchar *
resolve_socket_path (GstZcipcSink * self)
{
  g_autofree gchar *socket_path = NULL;
  g_autofree gchar *stream_name = NULL;

  GST_OBJECT_LOCK (self);
  socket_path = g_strdup (self->socket_path);
  stream_name = g_strdup (self->stream_name);
  GST_OBJECT_UNLOCK (self);
  return gst_zcipc_address_resolve (GST_ELEMENT_CAST (self), stream_name,
      socket_path, TRUE, NULL);
}

static gboolean
gst_zcipc_sink_start (GstBaseSink * bsink)
{
  GstZcipcSink *self = GST_ZCIPC_SINK (bsink);
  struct zcipc_server_config config = { 0 };
  struct zcipc_server *server = NULL;
  /* Freed on every return: the checks below just return. */
  g_autoptr (GArray) uids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autoptr (GArray) gids = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_autofree gchar *path = NULL;
  int res;

  if (!(path = resolve_socket_path (self)))
    return FALSE;
  if (!configure_server (self, &config, uids, gids))
    return FALSE;
  config.path = path;
  res = zcipc_server_new (&config, &server_callbacks, self, &server);
  if (res < 0) {
    gst_zcipc_sink_config_post_server_error (GST_ELEMENT_CAST (self), path,
        res);
    return FALSE;
  }
  GST_INFO_OBJECT (self, "publishing on '%s'", path);

  g_mutex_lock (&self->server_lock);
  GST_OBJECT_LOCK (self);
  self->server = server;
  GST_OBJECT_UNLOCK (self);
  g_mutex_unlock (&self->server_lock);
  gst_zcipc_region_table_attach (self->regions, server);
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
  self->copy_logged = FALSE;
  self->meta_refusal_said = FALSE;

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

/* ------------------------------------------------------------------ caps */

/* The sink takes any caps, but an upstream free to choose (videotestsrc
 * with no capsfilter picks the first format it is offered) should publish
 * a format consumers commonly expect, not the first of GStreamer's list
 * (ABGR64_LE, 8 bytes a pixel). One structure per format keeps the order
 * through intersections. */
#define PREFERRED_CAPS \
  "video/x-raw, format=RGBA; " \
  "video/x-raw, format=RGB; " \
  "video/x-raw, format=BGRx; " \
  "video/x-raw, format=I420; " \
  "video/x-raw, format=NV12; " \
  "video/x-raw, format=GRAY8"

static GstStaticCaps preferred_caps = GST_STATIC_CAPS (PREFERRED_CAPS);

/* The preferred formats upstream can produce first, then everything else
 * upstream offers. Without a filter the answer stays ANY: nothing can be
 * put before ANY, and negotiating peers (basesrc, basetransform, capsfilter)
 * query with their own caps as the filter. */
static GstCaps *
gst_zcipc_sink_get_caps (GstBaseSink * bsink, GstCaps * filter)
{
  GstCaps *preferred, *caps;

  if (!filter)
    return gst_caps_new_any ();

  preferred = gst_static_caps_get (&preferred_caps);
  caps = gst_caps_intersect_full (preferred, filter, GST_CAPS_INTERSECT_FIRST);
  gst_caps_unref (preferred);
  caps = gst_caps_merge (caps, gst_caps_ref (filter));
  GST_LOG_OBJECT (bsink, "caps for filter %" GST_PTR_FORMAT ": %"
      GST_PTR_FORMAT, filter, caps);
  return caps;
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
  min = self->pool_size;
  /* Enough that consumers holding their quota never starve upstream in
   * the default skip mode; slots beyond min are created only when needed. */
  max = min + self->consumer_quota * self->max_consumers;
  if (self->pool && self->pool_caps && gst_caps_is_equal (caps,
          self->pool_caps))
    pool = gst_object_ref (self->pool);
  GST_OBJECT_UNLOCK (self);

  if (!pool) {
    GstStructure *config;
    GWeakRef *weak = g_new0 (GWeakRef, 1);

    pool = gst_zcipc_producer_pool_new (self->allocator);
    g_weak_ref_init (weak, self);
    gst_zcipc_producer_pool_set_reclaim_func (GST_ZCIPC_PRODUCER_POOL (pool),
        reclaim_released_buffers, weak, free_weak_ref);
    config = gst_buffer_pool_get_config (pool);
    gst_buffer_pool_config_set_params (config, caps, (guint) info.size, min,
        max);
    gst_buffer_pool_config_set_allocator (config, self->allocator, &params);
    gst_buffer_pool_config_add_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_META);
    if (!gst_buffer_pool_set_config (pool, config)) {
      GST_WARNING_OBJECT (self, "could not configure a pool for %"
          GST_PTR_FORMAT, caps);
      gst_object_unref (pool);
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

/* gst_buffer_copy_into() leaves out metas tagged "memory" (GstVideoMeta
 * among them) when memories are not copied along. Our copy keeps the byte
 * layout exactly (planes at the same offsets), so they stay true: copy
 * them through their own transform. */
static void
copy_memory_metas (GstBuffer * dest, GstBuffer * src)
{
  gpointer state = NULL;
  GstMeta *meta;

  while ((meta = gst_buffer_iterate_meta (src, &state))) {
    GstMetaTransformCopy copy_data = { FALSE, 0, (gsize) - 1 };

    if (!gst_meta_api_type_has_tag (meta->info->api,
            g_quark_from_static_string (GST_META_TAG_MEMORY_STR)) ||
        !meta->info->transform_func)
      continue;
    meta->info->transform_func (dest, meta, src, _gst_meta_transform_copy,
        &copy_data);
  }
}

static GstBuffer *
copy_into_shared (GstZcipcSink * self, GstBuffer * buffer, const gchar * reason)
{
  gsize size = gst_buffer_get_size (buffer);
  GstBuffer *copy;
  GstMemory *mem;
  GstMapInfo map;

  mem = gst_allocator_alloc (self->allocator, size, NULL);
  if (!mem)
    return NULL;
  if (!gst_memory_map (mem, &map, GST_MAP_WRITE)) {
    gst_memory_unref (mem);
    return NULL;
  }
  gst_buffer_extract (buffer, 0, map.data, size);
  gst_memory_unmap (mem, &map);
  copy = gst_buffer_new ();
  gst_buffer_append_memory (copy, mem);
  gst_buffer_copy_into (copy, buffer, GST_BUFFER_COPY_METADATA, 0, -1);
  copy_memory_metas (copy, buffer);

  GST_ZCIPC_SINK_COUNT (&self->counters, frames_copied, 1);
  GST_ZCIPC_SINK_COUNT (&self->counters, bytes_copied, size);
  if (!self->copy_logged) {
    /* Once per stream where it can be seen without LOG level. */
    GST_CAT_INFO_OBJECT (GST_CAT_PERFORMANCE, self, "copying frames into "
        "shared memory (%s): upstream did not allocate from zcipcsink's "
        "pool or allocator (behind a tee, say); frames-copied counts them",
        reason);
    self->copy_logged = TRUE;
  }
  GST_CAT_LOG_OBJECT (GST_CAT_PERFORMANCE, self, "copied %" G_GSIZE_FORMAT
      " bytes into shared memory: %s", size, reason);
  return copy;
}

/* Waits as min-consumers and slow-consumer=wait ask. unlock() cancels the
 * waits for a flush, a stop and for PLAYING -> PAUSED alike; the last is no
 * reason to drop the frame: as a prerolled sink we then wait in
 * gst_base_sink_wait_preroll(), which says FLUSHING for the first two and
 * OK once the pipeline plays again, and wait once more. */
static GstFlowReturn
wait_to_send (GstZcipcSink * self, guint min_consumers,
    GstZcipcSlowConsumer policy, guint wait_timeout)
{
  for (;;) {
    GstFlowReturn ret;
    int res = 0;

    if (min_consumers > 0)
      res = zcipc_server_wait_consumers (self->server, min_consumers, -1);
    if (res == 0 && policy == GST_ZCIPC_SLOW_CONSUMER_WAIT)
      res = zcipc_server_wait_room (self->server, wait_timeout ?
          (gint64) wait_timeout * GST_MSECOND : -1);
    if (res != -ECANCELED)
      return GST_FLOW_OK;
    GST_DEBUG_OBJECT (self, "wait for consumers interrupted; waiting for "
        "PLAYING or a flush");
    ret = gst_base_sink_wait_preroll (GST_BASE_SINK (self));
    if (ret != GST_FLOW_OK) {
      GST_DEBUG_OBJECT (self, "not waiting any more: %s",
          gst_flow_get_name (ret));
      return ret;
    }
  }
}

/* The serializer's limits fit the wire's: what it lets through inline fits
 * a frame's message, and the rest a metas' region. */
G_STATIC_ASSERT (GST_ZCIPC_MAX_META_SIZE <= ZCIPC_WIRE_MAX_META_SIZE);
G_STATIC_ASSERT (GST_ZCIPC_MAX_INLINE_META_SIZE + sizeof (struct
        zcipc_wire_frame) + (ZCIPC_WIRE_MAX_MEMS + 1) *
    sizeof (struct zcipc_wire_mem) <= ZCIPC_WIRE_MAX_MESSAGE_SIZE);

/* Metas too big for the frame's message go in shared memory of their own,
 * named by one more mem at the end of `mems`. The frame handed to the
 * server is then a buffer that holds that memory and (as its parent) the
 * frame's buffer, so that both live until every consumer released it.
 * Returns that buffer (a new reference), or NULL after an error. */
static GstBuffer *
put_metas_in_region (GstZcipcSink * self, GstBuffer * shared,
    struct zcipc_wire_mem *meta_mem)
{
  gsize size = self->meta_scratch->len, offset;
  GstZcipcRegion *region;
  GstBuffer *carrier;
  GstMemory *mem;
  GstMapInfo map;

  mem = gst_allocator_alloc (self->allocator, size, NULL);
  if (mem && gst_memory_map (mem, &map, GST_MAP_WRITE)) {
    memcpy (map.data, self->meta_scratch->data, size);
    gst_memory_unmap (mem, &map);
  } else {
    if (mem)
      gst_memory_unref (mem);
    mem = NULL;
  }
  if (!mem) {
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Could not allocate %" G_GSIZE_FORMAT " bytes of shared memory for "
            "a frame's metas", size), (NULL));
    return NULL;
  }
  region = gst_zcipc_memory_get_region (mem, &offset);
  if (!gst_zcipc_region_table_announce (self->regions, region)) {
    gst_memory_unref (mem);
    return NULL;
  }
  *meta_mem = (struct zcipc_wire_mem) {
    .region_id = region->id,.offset = offset,.size = size
  };
  carrier = gst_buffer_new ();
  gst_buffer_append_memory (carrier, mem);
  gst_buffer_add_parent_buffer_meta (carrier, shared);
  GST_LOG_OBJECT (self, "%" G_GSIZE_FORMAT " bytes of metas in region %u",
      size, region->id);
  return carrier;
}

/* Serializes the metas of `shared` into self->meta_scratch. A meta that
 * cannot cross for its size is said once per stream, as a WARNING. */
static void
serialize_metas (GstZcipcSink * self, GstBuffer * shared)
{
  const gchar *too_big = NULL;
  gsize too_big_size = 0;
  guint n_skipped = 0;

  g_byte_array_set_size (self->meta_scratch, 0);
  gst_zcipc_metas_serialize (shared, self->meta_scratch, &n_skipped,
      &too_big, &too_big_size);
  if (n_skipped)
    GST_ZCIPC_SINK_COUNT (&self->counters, metas_skipped, n_skipped);
  if (too_big && !self->meta_refusal_said) {
    GST_ELEMENT_WARNING (self, STREAM, FAILED,
        ("A %s of %" G_GSIZE_FORMAT " bytes was left out of a frame: a "
            "frame's metas cross up to %u bytes in all", too_big,
            too_big_size, GST_ZCIPC_MAX_META_SIZE),
        ("counted in metas-skipped; said once per stream"));
    self->meta_refusal_said = TRUE;
  }
}


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
  settings->policy = self->slow_consumer;
  settings->min_consumers = self->min_consumers;
  settings->wait_timeout = self->wait_timeout;
  settings->copy_mode = self->copy_mode;
  settings->yield_after_send = self->yield_after_send;
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

/* A copy of `buffer` in our shared memory, described in `mems`; NULL after
 * posting an error. */
static GstBuffer *
copy_frame (GstZcipcSink * self, GstBuffer * buffer, GstZcipcFrameMems * mems,
    const gchar * reason)
{
  GstBuffer *copy = copy_into_shared (self, buffer, reason);

  if (!copy || !gst_zcipc_region_table_describe (self->regions, copy, mems,
          &reason)) {
    gst_clear_buffer (&copy);
    GST_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT,
        ("Could not allocate shared memory for a frame of %" G_GSIZE_FORMAT
            " bytes", gst_buffer_get_size (buffer)), (NULL));
  }
  return copy;
}

/* The frame handed to the server for `shared`, its metas serialized in
 * self->meta_scratch: `shared` itself when they fit the frame's message
 * (`meta_size` of them go inline), else a buffer carrying them in a region
 * of their own, named by one more mem in `mems`. NULL after an error. */
static GstBuffer *
attach_metas (GstZcipcSink * self, GstBuffer * shared,
    GstZcipcFrameMems * mems, struct zcipc_wire_frame *info, guint * meta_size)
{
  GstBuffer *frame;

  serialize_metas (self, shared);
  *meta_size = self->meta_scratch->len;
  if (*meta_size <= GST_ZCIPC_MAX_INLINE_META_SIZE)
    return gst_buffer_ref (shared);
  frame = put_metas_in_region (self, shared, &mems->mems[mems->n_mems]);
  if (!frame)
    return NULL;
  mems->n_mems++;
  *meta_size = 0;
  info->frame_flags = ZCIPC_FRAME_FLAG_METAS_IN_REGION;
  return frame;
}

static void
fill_frame_info (struct zcipc_wire_frame *info, GstBuffer * shared)
{
  info->pts = GST_BUFFER_PTS (shared);
  info->dts = GST_BUFFER_DTS (shared);
  info->duration = GST_BUFFER_DURATION (shared);
  info->offset = GST_BUFFER_OFFSET (shared);
  info->offset_end = GST_BUFFER_OFFSET_END (shared);
  info->flags = GST_BUFFER_FLAGS (shared) & ~GST_BUFFER_FLAG_TAG_MEMORY;
}

/* Releases are read with the next frame instead of waking a thread for
 * each (half the wake-ups per frame), when the buffers come from our pool
 * (it reclaims them when it runs dry) or are our copies. Someone else's
 * pool could run dry waiting for a frame that needs its buffers. */
static void
choose_release_reading (GstZcipcSink * self, gboolean ours)
{
  zcipc_server_set_lazy_releases (self->server, ours ?
      ZCIPC_SERVER_LAZY_WINDOW_NS : 0);
}

/* Waking a consumer queues it, often on our CPU, behind the rest of this
 * streaming thread's iteration: let it run first. A consumer still busy
 * with an earlier frame (it takes this one from its channel without
 * sleeping) was not woken: no yield, no system call. */
static void
yield_to_woken_consumers (GstZcipcSink * self, guint n_sent,
    gboolean yield_after_send)
{
  if (n_sent && yield_after_send && zcipc_server_last_frame_woke (self->server))
    sched_yield ();
}

/* Sends `shared` (described by `mems`, its regions announced) to every
 * consumer that can take it. */
static GstFlowReturn
send_frame (GstZcipcSink * self, GstBuffer * shared, GstZcipcFrameMems * mems,
    gboolean ours, gboolean yield_after_send)
{
  struct zcipc_wire_frame info = { {0} };
  unsigned int n_sent = 0;
  GstBuffer *frame;
  guint meta_size;
  int res;

  if (!(frame = attach_metas (self, shared, mems, &info, &meta_size)))
    return GST_FLOW_ERROR;
  fill_frame_info (&info, shared);
  choose_release_reading (self, ours);
  res = zcipc_server_send_frame (self->server, &info, mems->mems,
      mems->n_mems, self->meta_scratch->data, meta_size, frame, &n_sent);
  yield_to_woken_consumers (self, n_sent, yield_after_send);
  gst_buffer_unref (frame);
  if (res < 0) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED,
        ("Could not describe a frame to consumers"),
        ("zcipc_server_send_frame: %s (%u metas bytes)", g_strerror (-res),
            self->meta_scratch->len));
    return GST_FLOW_ERROR;
  }
  GST_LOG_OBJECT (self, "frame %" GST_TIME_FORMAT " (%u memories, %u bytes "
      "of metas) sent to %u consumers", GST_TIME_ARGS (info.pts),
      mems->n_mems, self->meta_scratch->len, n_sent);
  return GST_FLOW_OK;
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

  snapshot_render_settings (self, buffer, &settings);
  ret = wait_to_send (self, settings.min_consumers, settings.policy,
      settings.wait_timeout);
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
      copy_frame (self, buffer, &mems, reason);
  if (!shared)
    return GST_FLOW_ERROR;
  if (!gst_zcipc_region_table_announce_frame (self->regions, shared, &mems)) {
    gst_buffer_unref (shared);
    return GST_FLOW_ERROR;
  }
  ret = send_frame (self, shared, &mems, settings.from_our_pool ||
      shared != buffer, settings.yield_after_send);
  gst_buffer_unref (shared);
  if (ret != GST_FLOW_OK)
    return ret;
  gst_zcipc_region_table_sweep (self->regions);
  return GST_FLOW_OK;
}
