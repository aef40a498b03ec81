/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "helpers.h"

/* ---------------------------------------------------------- resources */

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(const gchar * const *) a, *(const gchar * const *) b);
}

static void
describe_fd (int fd, const char *target, void *data)
{
  g_ptr_array_add (data, g_strdup_printf ("%d -> %s", fd, target));
}

/* "fd -> target" of every open fd, sorted. */
static gchar *
describe_fds (void)
{
  GPtrArray *lines = g_ptr_array_new_with_free_func (g_free);
  gchar *ret;

  zt_for_each_fd (describe_fd, lines);
  g_ptr_array_sort (lines, compare_strings);
  g_ptr_array_add (lines, NULL);
  ret = g_strjoinv ("; ", (gchar **) lines->pdata);
  g_ptr_array_unref (lines);
  return ret;
}

typedef struct
{
  const gchar *perms;
  gint n;
} CountData;

static bool
count_region_map (const struct zt_mapping *m, void *data)
{
  CountData *d = data;

  if (strstr (m->name, ZG_REGION_MAP_NAME) &&
      (!d->perms || strcmp (m->perms, d->perms) == 0))
    d->n++;
  return false;
}

gint
zg_count_region_maps (const gchar * perms)
{
  CountData d = { perms, 0 };

  zt_for_each_mapping (count_region_map, &d);
  return d.n;
}

typedef struct
{
  guintptr start;
  guintptr end;
} OverlapData;

static bool
overlaps_region_map (const struct zt_mapping *m, void *data)
{
  OverlapData *d = data;

  return strstr (m->name, ZG_REGION_MAP_NAME) && d->start < m->end &&
      m->start < d->end;
}

gboolean
zg_overlaps_region_map (gconstpointer addr, gsize size)
{
  OverlapData d = { (guintptr) addr, (guintptr) addr + MAX (size, 1) };

  return zt_for_each_mapping (overlaps_region_map, &d);
}

guintptr
zg_assert_in_region_map (gconstpointer addr, gsize size, const gchar * perms)
{
  struct zt_mapping m;

  fail_unless (zt_find_mapping (addr, size, &m),
      "[%p, +%" G_GSIZE_FORMAT ") is not inside one mapping", addr, size);
  fail_unless (strstr (m.name, ZG_REGION_MAP_NAME) != NULL,
      "%p lies in '%s', not in a zcipc region", addr, m.name);
  fail_unless_equals_string (m.perms, perms);
  return m.start;
}

void
zg_resources_snapshot (ZgResources * r)
{
  r->fds = zt_count_fds ();
  r->region_maps = zg_count_region_maps (NULL);
  g_free (r->fd_list);
  r->fd_list = describe_fds ();
}

void
zg_assert_resources_back (const ZgResources * before)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  ZgResources now = { 0, };

  for (;;) {
    zg_resources_snapshot (&now);
    if ((now.fds == before->fds && now.region_maps == before->region_maps)
        || g_get_monotonic_time () > deadline)
      break;
    g_usleep (10 * 1000);
  }
  fail_unless (now.fds == before->fds, "%d fds open, %d before. "
      "Before: %s. Now: %s.", now.fds, before->fds, before->fd_list,
      now.fd_list);
  fail_unless_equals_int (now.region_maps, before->region_maps);
  g_free (now.fd_list);
}

void
zg_warm_up (void)
{
  gint fds = zt_count_fds ();
  gint64 deadline;
  GstElement *pipeline = gst_parse_launch ("videotestsrc num-buffers=2 ! "
      "video/x-raw,format=I420,width=64,height=48 ! fakesink", NULL);
  GstBus *bus;
  GstMessage *msg;

  fail_unless (pipeline != NULL);
  bus = gst_element_get_bus (pipeline);
  fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_PLAYING),
      GST_STATE_CHANGE_ASYNC);
  msg = gst_bus_timed_pop_filtered (bus, 10 * GST_SECOND,
      GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  /* Queued messages hold the elements, which hold the bus. */
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
  gst_object_unref (pipeline);

  /* The pipeline's bus (its GstPoll's socket pair) can outlive the last
   * unref for a moment, while a streaming thread lets go of its refs. */
  deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  while (zt_count_fds () > fds && g_get_monotonic_time () < deadline)
    g_usleep (1000);
}

/* ----------------------------------------------- temporary directory */

/* Made before check forks (unchecked fixture), removed after the tcase:
 * a test that fails skips its checked teardown, and must not leave its
 * directory behind. */
static gchar *tmpdir_base;

static int
remove_entry (const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
  return remove (path);
}

void
zg_tmpdir_base_setup (void)
{
  tmpdir_base = g_strdup ("/tmp/zcipc-gst-XXXXXX");
  fail_unless (g_mkdtemp (tmpdir_base) != NULL, "mkdtemp: %s",
      g_strerror (errno));
}

void
zg_tmpdir_base_teardown (void)
{
  if (!tmpdir_base)
    return;
  nftw (tmpdir_base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
  g_clear_pointer (&tmpdir_base, g_free);
}

gchar *
zg_tmpdir_new (void)
{
  gchar *dir = g_strconcat (tmpdir_base ? tmpdir_base : "/tmp",
      tmpdir_base ? "/t-XXXXXX" : "/zcipc-gst-XXXXXX", NULL);

  fail_unless (g_mkdtemp (dir) != NULL, "mkdtemp: %s", g_strerror (errno));
  return dir;
}

gint
zg_tmpdir_n_entries (const gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  gint n = 0;

  fail_unless (d != NULL);
  while (g_dir_read_name (d))
    n++;
  g_dir_close (d);
  return n;
}

void
zg_tmpdir_remove (gchar * dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const gchar *name;

  fail_unless (d != NULL);
  while ((name = g_dir_read_name (d))) {
    gchar *path = g_build_filename (dir, name, NULL);
    g_unlink (path);
    g_free (path);
  }
  g_dir_close (d);
  fail_unless_equals_int (g_rmdir (dir), 0);
  g_free (dir);
}

gchar *
zg_tmp_socket_new (gchar ** tmpdir)
{
  *tmpdir = zg_tmpdir_new ();
  return g_build_filename (*tmpdir, "zcipc.sock", NULL);
}

void
zg_tmp_socket_remove (gchar ** socket_path, gchar ** tmpdir)
{
  g_clear_pointer (socket_path, g_free);
  zg_tmpdir_remove (*tmpdir);
  *tmpdir = NULL;
}

/* ---------------------------------------------------------------- bus */

GstMessage *
zg_bus_pop_error (GstBus * bus, GstClockTime timeout)
{
  return gst_bus_timed_pop_filtered (bus, timeout, GST_MESSAGE_ERROR);
}

void
zg_assert_error (GstMessage * msg, GstElement * src, GQuark domain, ...)
{
  GError *err = NULL;
  gchar *debug = NULL;
  const gchar *needle;
  va_list args;

  fail_unless (msg != NULL, "no error was posted");
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_ERROR);
  gst_message_parse_error (msg, &err, &debug);
  GST_INFO ("error from %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
      err->message, debug);
  fail_unless (GST_MESSAGE_SRC (msg) == GST_OBJECT_CAST (src),
      "error came from %s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
      err->message);
  fail_unless (err->domain == domain, "error domain is %s: %s",
      g_quark_to_string (err->domain), err->message);
  va_start (args, domain);
  for (;;) {
    needle = va_arg (args, const gchar *);
    if (!needle)
      break;
    fail_unless (strstr (err->message, needle) != NULL,
        "error message '%s' does not contain '%s'", err->message, needle);
  }
  va_end (args);
  g_clear_error (&err);
  g_free (debug);
}

void
zg_assert_bus_quiet (GstBus * bus)
{
  GstMessage *msg;

  while ((msg = gst_bus_pop_filtered (bus,
              GST_MESSAGE_ERROR | GST_MESSAGE_WARNING))) {
    GError *err = NULL;
    gchar *debug = NULL;

    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR)
      gst_message_parse_error (msg, &err, &debug);
    else
      gst_message_parse_warning (msg, &err, &debug);
    fail ("unexpected %s from %s: %s (%s)", GST_MESSAGE_TYPE_NAME (msg),
        GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message, debug);
  }
}

/* --------------------------------------------------------- elements */

guint64
zg_stats_get (GstElement * element, const gchar * field)
{
  GstStructure *s = NULL;
  const GValue *v;
  guint64 ret;

  g_object_get (element, "stats", &s, NULL);
  fail_unless (s != NULL);
  v = gst_structure_get_value (s, field);
  fail_unless (v != NULL, "no field %s in %" GST_PTR_FORMAT, field, s);
  if (G_VALUE_HOLDS_UINT (v))
    ret = g_value_get_uint (v);
  else if (G_VALUE_HOLDS_UINT64 (v))
    ret = g_value_get_uint64 (v);
  else
    fail ("field %s has type %s", field, G_VALUE_TYPE_NAME (v));
  gst_structure_free (s);
  return ret;
}

gboolean
zg_wait_stats_ge (GstElement * element, const gchar * field, guint64 value)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (zg_stats_get (element, field) < value) {
    if (g_get_monotonic_time () > deadline)
      return FALSE;
    g_usleep (2 * 1000);
  }
  return TRUE;
}

gboolean
zg_wait_stats_eq (GstElement * element, const gchar * field, guint64 value)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  while (zg_stats_get (element, field) != value) {
    if (g_get_monotonic_time () > deadline)
      return FALSE;
    g_usleep (2 * 1000);
  }
  return TRUE;
}

void
zg_set_state_sync (GstElement * element, GstState state)
{
  GstStateChangeReturn ret = gst_element_set_state (element, state);

  fail_unless (ret != GST_STATE_CHANGE_FAILURE, "%s to %s failed",
      GST_OBJECT_NAME (element), gst_element_state_get_name (state));
  ret = gst_element_get_state (element, NULL, NULL, 10 * GST_SECOND);
  fail_unless (ret == GST_STATE_CHANGE_SUCCESS ||
      ret == GST_STATE_CHANGE_NO_PREROLL, "%s to %s: %s",
      GST_OBJECT_NAME (element), gst_element_state_get_name (state),
      gst_element_state_change_return_get_name (ret));
}

/* ---------------------------------------------------------- producer */

gchar *
zg_buffer_checksum (GstBuffer * buffer)
{
  GstMapInfo map;
  gchar *sum;

  fail_unless (gst_buffer_map (buffer, &map, GST_MAP_READ));
  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, map.data, map.size);
  gst_buffer_unmap (buffer, &map);
  return sum;
}

static GstPadProbeReturn
record_buffer (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  ZgProducer *p = user_data;
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstVideoMeta *meta = gst_buffer_get_video_meta (buffer);
  ZgFrame f = { 0, };

  f.pts = GST_BUFFER_PTS (buffer);
  f.duration = GST_BUFFER_DURATION (buffer);
  f.checksum = zg_buffer_checksum (buffer);
  f.zcipc_memory = gst_buffer_n_memory (buffer) > 0;
  for (guint i = 0; i < gst_buffer_n_memory (buffer); i++)
    if (!gst_memory_is_type (gst_buffer_peek_memory (buffer, i), "ZcipcMemory"))
      f.zcipc_memory = FALSE;
  if (meta) {
    f.has_video_meta = TRUE;
    f.n_planes = meta->n_planes;
    for (guint i = 0; i < meta->n_planes; i++) {
      f.offset[i] = meta->offset[i];
      f.stride[i] = meta->stride[i];
    }
  }
  g_mutex_lock (&p->lock);
  g_array_append_val (p->frames, f);
  g_mutex_unlock (&p->lock);
  return GST_PAD_PROBE_OK;
}

ZgProducer *
zg_producer_new (const gchar * socket_path, const gchar * src_props,
    const gchar * caps, const gchar * sink_props)
{
  ZgProducer *p = g_new0 (ZgProducer, 1);
  GError *error = NULL;
  gchar *desc;
  GstPad *pad;

  desc = g_strdup_printf ("videotestsrc %s ! %s ! zcipcsink name=sink "
      "socket-path=\"%s\" %s", src_props ? src_props : "", caps, socket_path,
      sink_props ? sink_props : "");
  p->pipeline = gst_parse_launch (desc, &error);
  fail_unless (p->pipeline != NULL && error == NULL, "%s: %s", desc,
      error ? error->message : "?");
  g_free (desc);
  p->sink = gst_bin_get_by_name (GST_BIN (p->pipeline), "sink");
  p->bus = gst_element_get_bus (p->pipeline);
  p->socket_path = g_strdup (socket_path);
  g_mutex_init (&p->lock);
  p->frames = g_array_new (FALSE, TRUE, sizeof (ZgFrame));

  pad = gst_element_get_static_pad (p->sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, record_buffer, p, NULL);
  gst_object_unref (pad);
  return p;
}

ZgProducer *
zg_producer_start (const gchar * socket_path, const gchar * src_props,
    const gchar * caps, const gchar * sink_props)
{
  ZgProducer *p = zg_producer_new (socket_path, src_props, caps, sink_props);

  fail_unless (gst_element_set_state (p->pipeline, GST_STATE_PLAYING) !=
      GST_STATE_CHANGE_FAILURE);
  return p;
}

ZgFrame
zg_producer_get_frame (ZgProducer * p, guint i)
{
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;
  ZgFrame f;

  for (;;) {
    g_mutex_lock (&p->lock);
    if (i < p->frames->len) {
      f = g_array_index (p->frames, ZgFrame, i);
      f.checksum = g_strdup (f.checksum);
      g_mutex_unlock (&p->lock);
      return f;
    }
    g_mutex_unlock (&p->lock);
    fail_unless (g_get_monotonic_time () < deadline,
        "the producer never rendered frame %u", i);
    g_usleep (1000);
  }
}

void
zg_frame_clear (ZgFrame * f)
{
  g_clear_pointer (&f->checksum, g_free);
}

void
zg_producer_free (ZgProducer * p)
{
  fail_unless_equals_int (gst_element_set_state (p->pipeline,
          GST_STATE_NULL), GST_STATE_CHANGE_SUCCESS);
  zg_assert_bus_quiet (p->bus);
  gst_bus_set_flushing (p->bus, TRUE);
  for (guint i = 0; i < p->frames->len; i++)
    zg_frame_clear (&g_array_index (p->frames, ZgFrame, i));
  g_array_unref (p->frames);
  g_mutex_clear (&p->lock);
  gst_object_unref (p->bus);
  gst_object_unref (p->sink);
  gst_object_unref (p->pipeline);
  g_free (p->socket_path);
  g_free (p);
}

/* ---------------------------------------------------------- consumer */

GstHarness *
zg_consumer_new (const gchar * socket_path, const gchar * props, GstBus ** bus)
{
  return zg_consumer_new_bounded (socket_path, props, bus, FALSE);
}

GstHarness *
zg_consumer_new_bounded (const gchar * socket_path, const gchar * props,
    GstBus ** bus, gboolean bounded)
{
  GError *error = NULL;
  GstElement *src;
  GstHarness *h;
  gchar *desc;

  desc = g_strdup_printf ("zcipcsrc socket-path=\"%s\" %s", socket_path,
      props ? props : "");
  src = gst_parse_launch (desc, &error);
  fail_unless (src != NULL && error == NULL, "%s: %s", desc,
      error ? error->message : "?");
  g_free (desc);
  if (bus) {
    *bus = gst_bus_new ();
    gst_element_set_bus (src, *bus);
  }
  h = gst_harness_new_with_element (src, NULL, "src");
  gst_object_unref (src);
  /* The harness queues whatever is pushed, without bound; a real sink (or
   * a queue) makes the pushing thread wait instead. Without that, a test
   * that pulls slower than a lossless producer sends has its harness keep
   * ever more frames, which zcipcsrc rightly copies once they are all its
   * quota. */
  if (bounded)
    gst_harness_set_blocking_push_mode (h);
  gst_harness_play (h);
  return h;
}
