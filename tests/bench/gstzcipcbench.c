/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/**
 * SECTION:plugin-zcipcbench
 * @title: zcipcbench
 *
 * Two measuring elements for the benchmark in tests/bench/, never installed.
 *
 * `zcipcstamp` sits just before the sink of the producing pipeline (zcipcsink,
 * shmsink, or the fakesinks of the in-process baseline). For every frame it
 * writes, in place, the frame's index (a native-endian guint64 at byte 8) and
 * then the CLOCK_MONOTONIC time in nanoseconds (a guint64 at byte 0), as late
 * as it can: the next thing that happens to the frame is the sink's render().
 * The buffer is writable because the source allocated it from the sink's pool
 * and nobody else holds it yet, so stamping copies nothing.
 *
 * `zcipclatency` sits right after the source of a consuming pipeline (or
 * after a tee in the in-process baseline). It is a read-only pass-through:
 * for every frame it reads the stamp and records now - stamp, and it counts
 * gaps in the frame index as lost frames.
 *
 * Both measure the process they run in over a steady-state window: at the
 * frame number #warmup they take CLOCK_MONOTONIC and getrusage(RUSAGE_SELF)
 * (all threads of the process: CPU time with microsecond resolution, minor
 * and major page faults, context switches), and again at the end of the
 * stream. The end is EOS, or for zcipclatency the frame whose index reaches
 * #last-index (then it returns GST_FLOW_EOS for that frame, which ends the
 * stream, for transports such as shmsrc that do not carry EOS). The result goes as one JSON object to the
 * file named by #location.
 *
 * zcipclatency's report also carries the stats of the nearest element
 * upstream that has a "stats" structure (zcipcsrc's frames-copied, quota...),
 * as "source_stats": the consumers run in gst-launch-1.0, which reports none.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 videotestsrc is-live=true pattern=black num-buffers=300 ! video/x-raw,format=RGBA,width=1920,height=1080,framerate=30/1 ! zcipcstamp warmup=30 ! zcipcsink socket-path=/tmp/b min-consumers=1
 * gst-launch-1.0 zcipcsrc socket-path=/tmp/b ! zcipclatency warmup=30 location=lat.json ! fakesink
 * ]|
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <gst/gst.h>
#include <gst/base/gstbasetransform.h>
#include <gst/base/gstpushsrc.h>
#include <gst/video/video.h>

#include "zcipc/clock.h"

#define PACKAGE "zcipc"

GST_DEBUG_CATEGORY_STATIC (zcipc_bench_debug);
#define GST_CAT_DEFAULT zcipc_bench_debug

/* Bytes the stamp occupies at the start of each frame. */
#define STAMP_SIZE 16

#define DEFAULT_WARMUP 0
#define DEFAULT_LOCATION NULL
#define DEFAULT_LAST_INDEX G_MAXUINT64

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);

/* ------------------------------------------------- shared: measurements */

typedef struct
{
  guint64 ns;
  struct rusage ru;
} BenchSample;

static void
bench_sample_take (BenchSample * s)
{
  getrusage (RUSAGE_SELF, &s->ru);
  s->ns = (guint64) zcipc_now_ns ();
}

static gint64
timeval_us (const struct timeval *tv)
{
  return (gint64) tv->tv_sec * 1000000 + tv->tv_usec;
}

/* Appends the "window" member: what the process spent between two samples,
 * over @frames frames. */
static void
append_window (GString * out, const BenchSample * a, const BenchSample * b,
    guint64 frames)
{
  g_string_append_printf (out, "\"window\": {\"frames\": %" G_GUINT64_FORMAT
      ", \"ns\": %" G_GUINT64_FORMAT ", \"utime_us\": %" G_GINT64_FORMAT
      ", \"stime_us\": %" G_GINT64_FORMAT ", \"minflt\": %ld, \"majflt\": %ld"
      ", \"nvcsw\": %ld, \"nivcsw\": %ld}", frames, b->ns - a->ns,
      timeval_us (&b->ru.ru_utime) - timeval_us (&a->ru.ru_utime),
      timeval_us (&b->ru.ru_stime) - timeval_us (&a->ru.ru_stime),
      b->ru.ru_minflt - a->ru.ru_minflt, b->ru.ru_majflt - a->ru.ru_majflt,
      b->ru.ru_nvcsw - a->ru.ru_nvcsw, b->ru.ru_nivcsw - a->ru.ru_nivcsw);
}

/* Appends the "source_stats" member: the stats of the nearest element
 * upstream of @element that has a "stats" structure (zcipcsrc in a consuming
 * pipeline), its integer fields as JSON numbers, or null when there is none.
 * The consumers run in gst-launch-1.0, which reports no stats: this is how
 * the benchmark sees a consumer's copies. */
static void
append_source_stats (GString * out, GstElement * element)
{
  GstElement *el = gst_object_ref (element);
  GstStructure *stats = NULL;
  gchar *factory = NULL;

  /* A few hops at most: zcipcsrc is right upstream, shmsrc behind a
   * capsfilter. */
  for (guint hops = 0; hops < 8 && el && !stats; hops++) {
    GstPad *sinkpad = NULL, *peer = NULL;
    GstElement *up = NULL;

    GST_OBJECT_LOCK (el);
    if (el->sinkpads)
      sinkpad = gst_object_ref (el->sinkpads->data);
    GST_OBJECT_UNLOCK (el);
    if (sinkpad)
      peer = gst_pad_get_peer (sinkpad);
    if (peer)
      up = gst_pad_get_parent_element (peer);
    gst_clear_object (&peer);
    gst_clear_object (&sinkpad);
    gst_object_unref (el);
    el = up;
    if (el) {
      GParamSpec *pspec =
          g_object_class_find_property (G_OBJECT_GET_CLASS (el), "stats");
      if (pspec && pspec->value_type == GST_TYPE_STRUCTURE) {
        GstElementFactory *f = gst_element_get_factory (el);

        g_object_get (el, "stats", &stats, NULL);
        factory = g_strdup (f ? GST_OBJECT_NAME (f) : "");
      }
    }
  }
  gst_clear_object (&el);

  if (!stats) {
    g_string_append (out, "\"source_stats\": null");
    g_free (factory);
    return;
  }
  g_string_append_printf (out, "\"source_stats\": {\"factory\": \"%s\"",
      factory);
  for (gint i = 0; i < gst_structure_n_fields (stats); i++) {
    const gchar *name = gst_structure_nth_field_name (stats, i);
    const GValue *v = gst_structure_get_value (stats, name);

    if (G_VALUE_HOLDS_UINT64 (v))
      g_string_append_printf (out, ", \"%s\": %" G_GUINT64_FORMAT, name,
          g_value_get_uint64 (v));
    else if (G_VALUE_HOLDS_INT64 (v))
      g_string_append_printf (out, ", \"%s\": %" G_GINT64_FORMAT, name,
          g_value_get_int64 (v));
    else if (G_VALUE_HOLDS_UINT (v))
      g_string_append_printf (out, ", \"%s\": %u", name, g_value_get_uint (v));
    else if (G_VALUE_HOLDS_INT (v))
      g_string_append_printf (out, ", \"%s\": %d", name, g_value_get_int (v));
  }
  g_string_append (out, "}");
  gst_structure_free (stats);
  g_free (factory);
}

/* Writes @text to @location (replacing it); logs why when it cannot. */
static void
write_report (GstElement * element, const gchar * location,
    const GString * text)
{
  GError *err = NULL;

  if (!location)
    return;
  if (!g_file_set_contents (location, text->str, (gssize) text->len, &err)) {
    GST_ELEMENT_WARNING (element, RESOURCE, WRITE,
        ("Could not write the measurements to '%s'", location),
        ("g_file_set_contents: %s", err->message));
    g_clear_error (&err);
  }
}

/* =============================================================== stamp */

#define GST_TYPE_ZCIPC_STAMP (gst_zcipc_stamp_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcStamp, gst_zcipc_stamp, GST, ZCIPC_STAMP,
    GstBaseTransform);

enum
{
  STAMP_PROP_0,
  STAMP_PROP_WARMUP,
  STAMP_PROP_LOCATION,
  STAMP_N_PROPERTIES
};

static GParamSpec *stamp_properties[STAMP_N_PROPERTIES];

struct _GstZcipcStamp
{
  GstBaseTransform parent;

  /* OBJECT LOCK: properties */
  guint warmup;
  gchar *location;

  /* Streaming thread (and stop(), once streaming stopped) */
  guint64 index;
  BenchSample start;
  gboolean started;
  gboolean reported;
  gboolean warned_small;
};

GST_ELEMENT_REGISTER_DECLARE (zcipcstamp);
G_DEFINE_TYPE (GstZcipcStamp, gst_zcipc_stamp, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (zcipcstamp, "zcipcstamp", GST_RANK_NONE,
    GST_TYPE_ZCIPC_STAMP);

static void
gst_zcipc_stamp_report (GstZcipcStamp * self, gboolean complete)
{
  GString *out;
  BenchSample end;
  gchar *location;

  if (self->reported)
    return;
  self->reported = TRUE;
  bench_sample_take (&end);

  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  GST_OBJECT_UNLOCK (self);

  out = g_string_new (NULL);
  g_string_append_printf (out, "{\"element\": \"zcipcstamp\", \"complete\": "
      "%s, \"frames\": %" G_GUINT64_FORMAT ", ", complete ? "true" : "false",
      self->index);
  if (self->started)
    append_window (out, &self->start, &end, self->index - self->warmup);
  else
    g_string_append (out, "\"window\": null");
  g_string_append (out, "}\n");
  write_report (GST_ELEMENT_CAST (self), location, out);
  g_string_free (out, TRUE);
  g_free (location);
}

static gboolean
gst_zcipc_stamp_start (GstBaseTransform * trans)
{
  GstZcipcStamp *self = GST_ZCIPC_STAMP (trans);

  self->index = 0;
  self->started = FALSE;
  self->reported = FALSE;
  self->warned_small = FALSE;
  return TRUE;
}

static gboolean
gst_zcipc_stamp_stop (GstBaseTransform * trans)
{
  /* Interrupted before EOS: still say what we saw. */
  gst_zcipc_stamp_report (GST_ZCIPC_STAMP (trans), FALSE);
  return TRUE;
}

static gboolean
gst_zcipc_stamp_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  GstZcipcStamp *self = GST_ZCIPC_STAMP (trans);

  /* Every frame was rendered (a sink's render() returns before the next
   * buffer or event reaches it), so the window ends here. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    gst_zcipc_stamp_report (self, TRUE);
  return GST_BASE_TRANSFORM_CLASS (gst_zcipc_stamp_parent_class)->sink_event
      (trans, event);
}

static GstFlowReturn
gst_zcipc_stamp_transform_ip (GstBaseTransform * trans, GstBuffer * buffer)
{
  GstZcipcStamp *self = GST_ZCIPC_STAMP (trans);
  GstMapInfo map;
  guint64 now;

  if (self->index == self->warmup && !self->started) {
    bench_sample_take (&self->start);
    self->started = TRUE;
  }

  if (!gst_buffer_map (buffer, &map, GST_MAP_WRITE)) {
    GST_ELEMENT_ERROR (self, RESOURCE, WRITE,
        ("Could not map a frame writable to stamp it"),
        ("gst_buffer_map (WRITE) failed on %" GST_PTR_FORMAT, buffer));
    return GST_FLOW_ERROR;
  }
  if (map.size >= STAMP_SIZE) {
    memcpy (map.data + 8, &self->index, 8);
    now = (guint64) zcipc_now_ns ();
    memcpy (map.data, &now, 8);
  } else if (!self->warned_small) {
    GST_WARNING_OBJECT (self, "frame of %" G_GSIZE_FORMAT " bytes is too "
        "small for a %d-byte stamp; not stamping", map.size, STAMP_SIZE);
    self->warned_small = TRUE;
  }
  gst_buffer_unmap (buffer, &map);
  self->index++;
  return GST_FLOW_OK;
}

static void
gst_zcipc_stamp_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstZcipcStamp *self = GST_ZCIPC_STAMP (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case STAMP_PROP_WARMUP:
      self->warmup = g_value_get_uint (value);
      break;
    case STAMP_PROP_LOCATION:
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zcipc_stamp_get_property (GObject * object, guint prop_id, GValue * value,
    GParamSpec * pspec)
{
  GstZcipcStamp *self = GST_ZCIPC_STAMP (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case STAMP_PROP_WARMUP:
      g_value_set_uint (value, self->warmup);
      break;
    case STAMP_PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zcipc_stamp_finalize (GObject * object)
{
  g_free (GST_ZCIPC_STAMP (object)->location);
  G_OBJECT_CLASS (gst_zcipc_stamp_parent_class)->finalize (object);
}

static void
gst_zcipc_stamp_class_init (GstZcipcStampClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_zcipc_stamp_set_property;
  gobject_class->get_property = gst_zcipc_stamp_get_property;
  gobject_class->finalize = gst_zcipc_stamp_finalize;

  /**
   * GstZcipcStamp:warmup:
   *
   * Frames to let pass before the measuring window opens.
   */
  stamp_properties[STAMP_PROP_WARMUP] = g_param_spec_uint ("warmup",
      "Warm-up frames", "Frames before the measuring window opens", 0,
      G_MAXUINT, DEFAULT_WARMUP,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcStamp:location:
   *
   * File the process's measurements go to (JSON) at EOS, or when the element
   * stops. NULL: none.
   */
  stamp_properties[STAMP_PROP_LOCATION] = g_param_spec_string ("location",
      "Location", "File the measurements are written to (JSON)",
      DEFAULT_LOCATION,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  g_object_class_install_properties (gobject_class, STAMP_N_PROPERTIES,
      stamp_properties);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "zcipc benchmark stamp", "Filter/Debug",
      "Writes a frame index and the CLOCK_MONOTONIC time into each frame",
      "The zcipc authors");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_zcipc_stamp_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_zcipc_stamp_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_zcipc_stamp_sink_event);
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_zcipc_stamp_transform_ip);
  /* In place and never passthrough: basetransform then hands the ALLOCATION
   * query to the sink, so the source allocates from the sink's pool. */
  trans_class->passthrough_on_same_caps = FALSE;
}

static void
gst_zcipc_stamp_init (GstZcipcStamp * self)
{
  self->warmup = DEFAULT_WARMUP;
  self->location = g_strdup (DEFAULT_LOCATION);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), FALSE);
}

/* ============================================================= latency */

#define GST_TYPE_ZCIPC_LATENCY (gst_zcipc_latency_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcLatency, gst_zcipc_latency, GST, ZCIPC_LATENCY,
    GstBaseTransform);

enum
{
  LATENCY_PROP_0,
  LATENCY_PROP_WARMUP,
  LATENCY_PROP_LOCATION,
  LATENCY_PROP_LAST_INDEX,
  LATENCY_PROP_TOUCH,
  LATENCY_N_PROPERTIES
};

static GParamSpec *latency_properties[LATENCY_N_PROPERTIES];

struct _GstZcipcLatency
{
  GstBaseTransform parent;

  /* OBJECT LOCK: properties */
  guint warmup;
  gchar *location;
  guint64 last_index;
  gboolean touch;

  /* Streaming thread (and stop(), once streaming stopped) */
  guint64 touched_sum;
  guint64 received;
  guint64 lost;
  guint64 first_index;
  guint64 prev_index;
  guint64 reordered;
  GArray *latencies;            /* gint64 ns, frames after the warm-up */
  BenchSample start;
  gboolean started;
  gboolean reported;
};

GST_ELEMENT_REGISTER_DECLARE (zcipclatency);
G_DEFINE_TYPE (GstZcipcLatency, gst_zcipc_latency, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (zcipclatency, "zcipclatency", GST_RANK_NONE,
    GST_TYPE_ZCIPC_LATENCY);

static void
gst_zcipc_latency_report (GstZcipcLatency * self, gboolean complete)
{
  GString *out;
  BenchSample end;
  gchar *location;
  guint warmup;

  if (self->reported)
    return;
  self->reported = TRUE;
  bench_sample_take (&end);

  GST_OBJECT_LOCK (self);
  location = g_strdup (self->location);
  warmup = self->warmup;
  GST_OBJECT_UNLOCK (self);

  out = g_string_new (NULL);
  g_string_append_printf (out, "{\"element\": \"zcipclatency\", \"complete\": "
      "%s, \"received\": %" G_GUINT64_FORMAT ", \"lost\": %" G_GUINT64_FORMAT
      ", \"reordered\": %" G_GUINT64_FORMAT ", \"first_index\": %"
      G_GINT64_FORMAT ", \"last_index\": %" G_GINT64_FORMAT ", ",
      complete ? "true" : "false", self->received, self->lost,
      self->reordered, self->received ? (gint64) self->first_index : -1,
      self->received ? (gint64) self->prev_index : -1);
  if (self->started)
    append_window (out, &self->start, &end, self->received - warmup);
  else
    g_string_append (out, "\"window\": null");
  g_string_append (out, ", ");
  append_source_stats (out, GST_ELEMENT_CAST (self));
  g_string_append (out, ", \"latency_ns\": [");
  for (guint i = 0; i < self->latencies->len; i++)
    g_string_append_printf (out, "%s%" G_GINT64_FORMAT, i ? ", " : "",
        g_array_index (self->latencies, gint64, i));
  g_string_append (out, "]}\n");
  write_report (GST_ELEMENT_CAST (self), location, out);
  g_string_free (out, TRUE);
  g_free (location);
}

static gboolean
gst_zcipc_latency_start (GstBaseTransform * trans)
{
  GstZcipcLatency *self = GST_ZCIPC_LATENCY (trans);

  self->received = 0;
  self->lost = 0;
  self->reordered = 0;
  self->first_index = 0;
  self->prev_index = 0;
  self->started = FALSE;
  self->reported = FALSE;
  g_array_set_size (self->latencies, 0);
  return TRUE;
}

static gboolean
gst_zcipc_latency_stop (GstBaseTransform * trans)
{
  gst_zcipc_latency_report (GST_ZCIPC_LATENCY (trans), FALSE);
  return TRUE;
}

static gboolean
gst_zcipc_latency_sink_event (GstBaseTransform * trans, GstEvent * event)
{
  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS)
    gst_zcipc_latency_report (GST_ZCIPC_LATENCY (trans), TRUE);
  return GST_BASE_TRANSFORM_CLASS (gst_zcipc_latency_parent_class)->sink_event
      (trans, event);
}

static GstFlowReturn
gst_zcipc_latency_transform_ip (GstBaseTransform * trans, GstBuffer * buffer)
{
  GstZcipcLatency *self = GST_ZCIPC_LATENCY (trans);
  guint64 now = (guint64) zcipc_now_ns ();
  guint64 stamp, index, last_index;
  GstMapInfo map;
  gboolean touch;
  guint warmup;

  if (self->reported)
    return GST_FLOW_EOS;

  GST_OBJECT_LOCK (self);
  warmup = self->warmup;
  last_index = self->last_index;
  touch = self->touch;
  GST_OBJECT_UNLOCK (self);

  if (!gst_buffer_map (buffer, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ,
        ("Could not map a frame to read its stamp"),
        ("gst_buffer_map (READ) failed on %" GST_PTR_FORMAT, buffer));
    return GST_FLOW_ERROR;
  }
  if (map.size < STAMP_SIZE) {
    gst_buffer_unmap (buffer, &map);
    GST_ELEMENT_ERROR (self, STREAM, FORMAT,
        ("A frame of %" G_GSIZE_FORMAT " bytes cannot carry a stamp",
            map.size), ("zcipcstamp needs %d bytes", STAMP_SIZE));
    return GST_FLOW_ERROR;
  }
  memcpy (&stamp, map.data, 8);
  memcpy (&index, map.data + 8, 8);
  if (touch) {
    /* Read a byte of every page, as a consumer reading the frame would: a
     * page that is not mapped yet faults here. */
    const volatile guint8 *p = map.data;
    for (gsize off = 0; off < map.size; off += 4096)
      self->touched_sum += p[off];
  }
  gst_buffer_unmap (buffer, &map);

  if (self->received == 0) {
    self->first_index = index;
  } else if (index > self->prev_index) {
    self->lost += index - self->prev_index - 1;
  } else {
    self->reordered++;
  }
  if (self->received == 0 || index > self->prev_index)
    self->prev_index = index;

  if (self->received == warmup) {
    bench_sample_take (&self->start);
    self->started = TRUE;
  }
  if (self->received >= warmup) {
    gint64 latency = (gint64) (now - stamp);
    g_array_append_val (self->latencies, latency);
  }
  self->received++;

  if (index >= last_index) {
    /* The producer's last frame: transports like shmsrc carry no EOS, so
     * end the stream here. The frame is not pushed on: a sink keeping it as
     * its last sample would hold the producer's memory (shmsink waits for
     * that at EOS) while nothing ends our pipeline. */
    gst_zcipc_latency_report (self, TRUE);
    return GST_FLOW_EOS;
  }
  return GST_FLOW_OK;
}

static void
gst_zcipc_latency_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstZcipcLatency *self = GST_ZCIPC_LATENCY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case LATENCY_PROP_WARMUP:
      self->warmup = g_value_get_uint (value);
      break;
    case LATENCY_PROP_LOCATION:
      g_free (self->location);
      self->location = g_value_dup_string (value);
      break;
    case LATENCY_PROP_LAST_INDEX:
      self->last_index = g_value_get_uint64 (value);
      break;
    case LATENCY_PROP_TOUCH:
      self->touch = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zcipc_latency_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstZcipcLatency *self = GST_ZCIPC_LATENCY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case LATENCY_PROP_WARMUP:
      g_value_set_uint (value, self->warmup);
      break;
    case LATENCY_PROP_LOCATION:
      g_value_set_string (value, self->location);
      break;
    case LATENCY_PROP_LAST_INDEX:
      g_value_set_uint64 (value, self->last_index);
      break;
    case LATENCY_PROP_TOUCH:
      g_value_set_boolean (value, self->touch);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_zcipc_latency_finalize (GObject * object)
{
  GstZcipcLatency *self = GST_ZCIPC_LATENCY (object);

  g_free (self->location);
  g_array_unref (self->latencies);
  G_OBJECT_CLASS (gst_zcipc_latency_parent_class)->finalize (object);
}

static void
gst_zcipc_latency_class_init (GstZcipcLatencyClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_zcipc_latency_set_property;
  gobject_class->get_property = gst_zcipc_latency_get_property;
  gobject_class->finalize = gst_zcipc_latency_finalize;

  /**
   * GstZcipcLatency:warmup:
   *
   * Frames received before the measuring window opens and latencies are
   * recorded.
   */
  latency_properties[LATENCY_PROP_WARMUP] = g_param_spec_uint ("warmup",
      "Warm-up frames", "Frames received before recording starts", 0,
      G_MAXUINT, DEFAULT_WARMUP,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcLatency:location:
   *
   * File the measurements and the list of latencies go to (JSON) at the end
   * of the stream. NULL: none.
   */
  latency_properties[LATENCY_PROP_LOCATION] = g_param_spec_string
      ("location", "Location", "File the measurements are written to (JSON)",
      DEFAULT_LOCATION,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcLatency:last-index:
   *
   * The producer's last frame index: the frame that carries it ends the
   * measurement, and the stream (GST_FLOW_EOS for that frame). The
   * default, G_MAXUINT64, waits for EOS.
   */
  latency_properties[LATENCY_PROP_LAST_INDEX] = g_param_spec_uint64
      ("last-index", "Last index", "Frame index that ends the measurement",
      0, G_MAXUINT64, DEFAULT_LAST_INDEX,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  /**
   * GstZcipcLatency:touch:
   *
   * Also read one byte of every 4096 of each frame, so that pages a
   * consumer cannot read without a fault show up as page faults.
   */
  latency_properties[LATENCY_PROP_TOUCH] = g_param_spec_boolean ("touch",
      "Touch", "Read a byte of every page of each frame", FALSE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);

  g_object_class_install_properties (gobject_class, LATENCY_N_PROPERTIES,
      latency_properties);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "zcipc benchmark latency probe", "Filter/Debug",
      "Reads zcipcstamp's stamp and records latencies and lost frames",
      "The zcipc authors");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_zcipc_latency_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_zcipc_latency_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_zcipc_latency_sink_event);
  trans_class->transform_ip =
      GST_DEBUG_FUNCPTR (gst_zcipc_latency_transform_ip);
}

static void
gst_zcipc_latency_init (GstZcipcLatency * self)
{
  self->warmup = DEFAULT_WARMUP;
  self->location = g_strdup (DEFAULT_LOCATION);
  self->last_index = DEFAULT_LAST_INDEX;
  self->latencies = g_array_new (FALSE, FALSE, sizeof (gint64));
  /* Reads only: never asks for a writable buffer, so it never copies. */
  gst_base_transform_set_passthrough (GST_BASE_TRANSFORM (self), TRUE);
}

/* ============================================================ framesrc */

#define GST_TYPE_ZCIPC_FRAME_SRC (gst_zcipc_frame_src_get_type ())
G_DECLARE_FINAL_TYPE (GstZcipcFrameSrc, gst_zcipc_frame_src, GST,
    ZCIPC_FRAME_SRC, GstPushSrc);

#define DEFAULT_IS_LIVE FALSE
#define DEFAULT_MAX_BUFFERS 8

enum
{
  FRAME_SRC_PROP_0,
  FRAME_SRC_PROP_IS_LIVE,
  FRAME_SRC_PROP_MAX_BUFFERS,
  FRAME_SRC_N_PROPERTIES
};

static GParamSpec *frame_src_properties[FRAME_SRC_N_PROPERTIES];

static GstStaticPadTemplate frame_src_template =
GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-raw"));

struct _GstZcipcFrameSrc
{
  GstPushSrc parent;

  /* OBJECT LOCK */
  guint max_buffers;

  /* Streaming thread (set_caps, decide_allocation and fill) */
  GstVideoInfo info;
  guint64 n_frames;
  GHashTable *filled;           /* GstBuffer* already painted once */
};

GST_ELEMENT_REGISTER_DECLARE (zcipcframesrc);
G_DEFINE_TYPE (GstZcipcFrameSrc, gst_zcipc_frame_src, GST_TYPE_PUSH_SRC);
GST_ELEMENT_REGISTER_DEFINE (zcipcframesrc, "zcipcframesrc", GST_RANK_NONE,
    GST_TYPE_ZCIPC_FRAME_SRC);

static gboolean
gst_zcipc_frame_src_set_caps (GstBaseSrc * bsrc, GstCaps * caps)
{
  GstZcipcFrameSrc *self = GST_ZCIPC_FRAME_SRC (bsrc);

  if (!gst_video_info_from_caps (&self->info, caps)) {
    GST_ERROR_OBJECT (self, "not raw video with a fixed size: %" GST_PTR_FORMAT,
        caps);
    return FALSE;
  }
  gst_base_src_set_blocksize (bsrc, (guint) self->info.size);
  return TRUE;
}

static GstCaps *
gst_zcipc_frame_src_fixate (GstBaseSrc * bsrc, GstCaps * caps)
{
  GstStructure *s;

  caps = gst_caps_make_writable (caps);
  s = gst_caps_get_structure (caps, 0);
  /* What is missing gets videotestsrc's defaults (but RGBA). */
  if (gst_structure_has_field (s, "width"))
    gst_structure_fixate_field_nearest_int (s, "width", 640);
  else
    gst_structure_set (s, "width", G_TYPE_INT, 640, NULL);
  if (gst_structure_has_field (s, "height"))
    gst_structure_fixate_field_nearest_int (s, "height", 480);
  else
    gst_structure_set (s, "height", G_TYPE_INT, 480, NULL);
  if (gst_structure_has_field (s, "framerate"))
    gst_structure_fixate_field_nearest_fraction (s, "framerate", 30, 1);
  else
    gst_structure_set (s, "framerate", GST_TYPE_FRACTION, 30, 1, NULL);
  if (gst_structure_has_field (s, "format"))
    gst_structure_fixate_field_string (s, "format", "RGBA");
  else
    gst_structure_set (s, "format", G_TYPE_STRING, "RGBA", NULL);
  return GST_BASE_SRC_CLASS (gst_zcipc_frame_src_parent_class)->fixate (bsrc,
      caps);
}

/* Takes downstream's pool (zcipcsink's, shmsink's allocator) like
 * videotestsrc does, so frames are written where the sink wants them. */
static gboolean
gst_zcipc_frame_src_decide_allocation (GstBaseSrc * bsrc, GstQuery * query)
{
  GstZcipcFrameSrc *self = GST_ZCIPC_FRAME_SRC (bsrc);
  GstBufferPool *pool = NULL;
  GstStructure *config;
  GstCaps *caps;
  guint size, min, max;
  gboolean update;

  gst_query_parse_allocation (query, &caps, NULL);
  if ((update = gst_query_get_n_allocation_pools (query) > 0)) {
    gst_query_parse_nth_allocation_pool (query, 0, &pool, &size, &min, &max);
    size = MAX (size, (guint) self->info.size);
  } else {
    /* Our own pool, bounded like a camera's: an unbounded one would, with
     * shmsink, fill its area with idle buffers and then wait for room for
     * good. */
    size = (guint) self->info.size;
    min = 0;
    GST_OBJECT_LOCK (self);
    max = self->max_buffers;
    GST_OBJECT_UNLOCK (self);
  }
  if (!pool)
    pool = gst_video_buffer_pool_new ();

  config = gst_buffer_pool_get_config (pool);
  gst_buffer_pool_config_set_params (config, caps, size, min, max);
  if (gst_query_find_allocation_meta (query, GST_VIDEO_META_API_TYPE, NULL))
    gst_buffer_pool_config_add_option (config,
        GST_BUFFER_POOL_OPTION_VIDEO_META);
  if (!gst_buffer_pool_set_config (pool, config)) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Could not configure the buffer pool"),
        ("gst_buffer_pool_set_config failed on %" GST_PTR_FORMAT, pool));
    gst_object_unref (pool);
    return FALSE;
  }
  if (update)
    gst_query_set_nth_allocation_pool (query, 0, pool, size, min, max);
  else
    gst_query_add_allocation_pool (query, pool, size, min, max);
  gst_object_unref (pool);

  return
      GST_BASE_SRC_CLASS (gst_zcipc_frame_src_parent_class)->decide_allocation
      (bsrc, query);
}

static gboolean
gst_zcipc_frame_src_start (GstBaseSrc * bsrc)
{
  GstZcipcFrameSrc *self = GST_ZCIPC_FRAME_SRC (bsrc);

  self->n_frames = 0;
  g_hash_table_remove_all (self->filled);
  return TRUE;
}

static gboolean
gst_zcipc_frame_src_stop (GstBaseSrc * bsrc)
{
  g_hash_table_remove_all (GST_ZCIPC_FRAME_SRC (bsrc)->filled);
  return TRUE;
}

static void
gst_zcipc_frame_src_get_times (GstBaseSrc * bsrc, GstBuffer * buffer,
    GstClockTime * start, GstClockTime * end)
{
  /* Live: basesrc waits for each frame's time on the clock. */
  if (gst_base_src_is_live (bsrc) && GST_BUFFER_PTS_IS_VALID (buffer)) {
    *start = GST_BUFFER_PTS (buffer);
    if (GST_BUFFER_DURATION_IS_VALID (buffer))
      *end = *start + GST_BUFFER_DURATION (buffer);
  } else {
    *start = *end = GST_CLOCK_TIME_NONE;
  }
}

static GstFlowReturn
gst_zcipc_frame_src_fill (GstPushSrc * psrc, GstBuffer * buffer)
{
  GstZcipcFrameSrc *self = GST_ZCIPC_FRAME_SRC (psrc);
  gint fps_n = GST_VIDEO_INFO_FPS_N (&self->info);
  gint fps_d = GST_VIDEO_INFO_FPS_D (&self->info);

  /* Each pool buffer is painted (mid grey) the first time it comes by:
   * its pages are then as touched as a real producer's, and later frames
   * cost nothing to "generate", like frames a camera writes by DMA. */
  if (!g_hash_table_contains (self->filled, buffer)) {
    gst_buffer_memset (buffer, 0, 0x80, gst_buffer_get_size (buffer));
    g_hash_table_add (self->filled, buffer);
  }

  if (fps_n > 0 && fps_d > 0) {
    GstClockTime next = gst_util_uint64_scale (self->n_frames + 1,
        (guint64) fps_d * GST_SECOND, (guint64) fps_n);
    GST_BUFFER_PTS (buffer) = gst_util_uint64_scale (self->n_frames,
        (guint64) fps_d * GST_SECOND, (guint64) fps_n);
    GST_BUFFER_DURATION (buffer) = next - GST_BUFFER_PTS (buffer);
  }
  GST_BUFFER_OFFSET (buffer) = self->n_frames;
  GST_BUFFER_OFFSET_END (buffer) = self->n_frames + 1;
  self->n_frames++;
  return GST_FLOW_OK;
}

static void
gst_zcipc_frame_src_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  switch (prop_id) {
    case FRAME_SRC_PROP_IS_LIVE:
      gst_base_src_set_live (GST_BASE_SRC (object),
          g_value_get_boolean (value));
      break;
    case FRAME_SRC_PROP_MAX_BUFFERS:
      GST_OBJECT_LOCK (object);
      GST_ZCIPC_FRAME_SRC (object)->max_buffers = g_value_get_uint (value);
      GST_OBJECT_UNLOCK (object);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_zcipc_frame_src_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  switch (prop_id) {
    case FRAME_SRC_PROP_IS_LIVE:
      g_value_set_boolean (value, gst_base_src_is_live (GST_BASE_SRC (object)));
      break;
    case FRAME_SRC_PROP_MAX_BUFFERS:
      GST_OBJECT_LOCK (object);
      g_value_set_uint (value, GST_ZCIPC_FRAME_SRC (object)->max_buffers);
      GST_OBJECT_UNLOCK (object);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_zcipc_frame_src_finalize (GObject * object)
{
  g_hash_table_unref (GST_ZCIPC_FRAME_SRC (object)->filled);
  G_OBJECT_CLASS (gst_zcipc_frame_src_parent_class)->finalize (object);
}

static void
gst_zcipc_frame_src_class_init (GstZcipcFrameSrcClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSrcClass *basesrc_class = GST_BASE_SRC_CLASS (klass);
  GstPushSrcClass *pushsrc_class = GST_PUSH_SRC_CLASS (klass);

  gobject_class->set_property = gst_zcipc_frame_src_set_property;
  gobject_class->get_property = gst_zcipc_frame_src_get_property;
  gobject_class->finalize = gst_zcipc_frame_src_finalize;

  /**
   * GstZcipcFrameSrc:is-live:
   *
   * Push each frame at its time on the clock (the caps' framerate), like a
   * camera; otherwise as fast as downstream takes them.
   */
  frame_src_properties[FRAME_SRC_PROP_IS_LIVE] = g_param_spec_boolean
      ("is-live", "Is live", "Push frames at the caps' framerate on the clock",
      DEFAULT_IS_LIVE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  /**
   * GstZcipcFrameSrc:max-buffers:
   *
   * Most buffers of the pool this element makes when downstream offers none
   * (in-process fakesink, shmsink); 0: no limit. A pool downstream offers
   * (zcipcsink's) keeps its own limits.
   */
  frame_src_properties[FRAME_SRC_PROP_MAX_BUFFERS] = g_param_spec_uint
      ("max-buffers", "Max buffers", "Most buffers of our own pool (0: no "
      "limit)", 0, G_MAXUINT, DEFAULT_MAX_BUFFERS,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY);
  g_object_class_install_properties (gobject_class, FRAME_SRC_N_PROPERTIES,
      frame_src_properties);

  gst_element_class_add_static_pad_template (element_class,
      &frame_src_template);
  gst_element_class_set_static_metadata (element_class,
      "zcipc benchmark frame source", "Source/Video",
      "Pushes raw video frames from downstream's pool, painted once per "
      "buffer: producing a frame costs (almost) no CPU", "The zcipc authors");

  basesrc_class->set_caps = GST_DEBUG_FUNCPTR (gst_zcipc_frame_src_set_caps);
  basesrc_class->fixate = GST_DEBUG_FUNCPTR (gst_zcipc_frame_src_fixate);
  basesrc_class->decide_allocation =
      GST_DEBUG_FUNCPTR (gst_zcipc_frame_src_decide_allocation);
  basesrc_class->start = GST_DEBUG_FUNCPTR (gst_zcipc_frame_src_start);
  basesrc_class->stop = GST_DEBUG_FUNCPTR (gst_zcipc_frame_src_stop);
  basesrc_class->get_times = GST_DEBUG_FUNCPTR (gst_zcipc_frame_src_get_times);
  pushsrc_class->fill = GST_DEBUG_FUNCPTR (gst_zcipc_frame_src_fill);
}

static void
gst_zcipc_frame_src_init (GstZcipcFrameSrc * self)
{
  gst_video_info_init (&self->info);
  self->max_buffers = DEFAULT_MAX_BUFFERS;
  self->filled = g_hash_table_new (NULL, NULL);
  gst_base_src_set_format (GST_BASE_SRC (self), GST_FORMAT_TIME);
  gst_base_src_set_live (GST_BASE_SRC (self), DEFAULT_IS_LIVE);
}

/* ============================================================== plugin */

static gboolean
plugin_init (GstPlugin * plugin)
{
  gboolean ret = FALSE;

  GST_DEBUG_CATEGORY_INIT (zcipc_bench_debug, "zcipcbench", 0,
      "zcipc benchmark elements");
  ret |= GST_ELEMENT_REGISTER (zcipcstamp, plugin);
  ret |= GST_ELEMENT_REGISTER (zcipclatency, plugin);
  ret |= GST_ELEMENT_REGISTER (zcipcframesrc, plugin);
  return ret;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, zcipcbench,
    "zcipc benchmark helpers (not installed)", plugin_init, "0.1.0", "LGPL",
    "zcipc", "https://github.com/zcipc/zcipc")
