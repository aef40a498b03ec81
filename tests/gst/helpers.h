/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __ZCIPC_GST_TEST_HELPERS_H__
#define __ZCIPC_GST_TEST_HELPERS_H__

/* Shared setup for the GstCheck suites of the zcipc plugin: resource probes
 * (open fds, shared-memory mappings and their permissions, from /proc/self),
 * a temporary socket directory per test, bus helpers that find the element
 * error a state change posted, a producer pipeline that records what its
 * zcipcsink receives, and a zcipcsrc consumer in a GstHarness. */

#include <gst/gst.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#include "proc.h"

G_BEGIN_DECLS
/* Name every zcipc region carries in /proc/self/maps ("memfd:zcipc-…"). */
#define ZG_REGION_MAP_NAME "memfd:zcipc"
/* ---------------------------------------------------------- resources */
/* Counting fds (zt_count_fds) and finding mappings (zt_find_mapping) is
 * tests/common's proc.h, which lib tests share. */

/* Mappings of zcipc regions; `perms` ("rw-s", "r--s") selects one kind,
 * NULL counts all. */
gint zg_count_region_maps (const gchar * perms);

/* Whether any byte of [addr, addr + size) lies in a zcipc region mapping. */
gboolean zg_overlaps_region_map (gconstpointer addr, gsize size);

/* Asserts that [addr, addr + size) lies inside one zcipc region mapping
 * with permissions `perms`, and returns that mapping's start. */
guintptr zg_assert_in_region_map (gconstpointer addr, gsize size,
    const gchar * perms);

typedef struct
{
  gint fds;
  gint region_maps;
  gchar *fd_list;               /* for failure messages */
} ZgResources;

/* Fills `r` (which must be zeroed or filled before). */
void zg_resources_snapshot (ZgResources * r);
/* Waits (up to 5 s: peers hang up on their own threads) until fds and
 * region mappings are back to `before`, then asserts they are. */
void zg_assert_resources_back (const ZgResources * before);

/* Runs a tiny videotestsrc pipeline once, so that what GStreamer creates
 * lazily on first use is not counted as a leak of the code under test. */
void zg_warm_up (void);

/* ----------------------------------------------- temporary directory */

/* An unchecked fixture (tcase_add_unchecked_fixture): a directory under
 * /tmp for the tcase's test directories, removed with all it holds once
 * the tcase ran, even after tests that failed half-way. */
void zg_tmpdir_base_setup (void);
void zg_tmpdir_base_teardown (void);

/* A fresh directory (in the tcase's one, if set up, else in /tmp); free it
 * with zg_tmpdir_remove(). */
gchar *zg_tmpdir_new (void);
/* Number of entries in `dir` (besides . and ..). */
gint zg_tmpdir_n_entries (const gchar * dir);
/* Removes every entry, then the directory, and frees `dir`. */
void zg_tmpdir_remove (gchar * dir);

/* A new temporary directory (into *tmpdir) and the path "zcipc.sock" in
 * it, for a test's producer: the setup of every element suite. */
gchar *zg_tmp_socket_new (gchar ** tmpdir);
/* Frees *socket_path and removes *tmpdir; both NULL afterwards. */
void zg_tmp_socket_remove (gchar ** socket_path, gchar ** tmpdir);

/* ---------------------------------------------------------------- bus */

/* The first ERROR on `bus` within `timeout`, or NULL. Other messages are
 * dropped. */
GstMessage *zg_bus_pop_error (GstBus * bus, GstClockTime timeout);

/* Asserts `msg` is an error from `src` in `domain` whose message contains
 * each of the NULL-terminated strings (case-sensitive). */
void
zg_assert_error (GstMessage * msg, GstElement * src, GQuark domain, ...)
    G_GNUC_NULL_TERMINATED;

/* Asserts no ERROR or WARNING is queued on `bus` (drains it). */
     void zg_assert_bus_quiet (GstBus * bus);

/* --------------------------------------------------------- elements */

/* A uint / uint64 field of an element's "stats". */
     guint64 zg_stats_get (GstElement * element, const gchar * field);
/* Polls `field` of the stats until it is >= `value`; FALSE after 5 s. */
     gboolean zg_wait_stats_ge (GstElement * element, const gchar * field,
    guint64 value);
/* Polls `field` of the stats until it is == `value`; FALSE after 5 s. */
     gboolean zg_wait_stats_eq (GstElement * element, const gchar * field,
    guint64 value);

/* Sets `element`'s state and waits up to 10 s for it; asserts success
 * (SUCCESS or NO_PREROLL). */
     void zg_set_state_sync (GstElement * element, GstState state);

/* ---------------------------------------------------------- producer */

/* What zcipcsink's sink pad saw for one buffer. */
     typedef struct
     {
       GstClockTime pts;
       GstClockTime duration;
       gchar *checksum;         /* SHA-256 of the bytes */
       gboolean zcipc_memory;   /* every memory was zcipc memory */
       gboolean has_video_meta;
       guint n_planes;
       gsize offset[GST_VIDEO_MAX_PLANES];
       gint stride[GST_VIDEO_MAX_PLANES];
     } ZgFrame;

     typedef struct
     {
       GstElement *pipeline;
       GstElement *sink;        /* the zcipcsink, named "sink" */
       GstBus *bus;
       gchar *socket_path;

       GMutex lock;
       GArray *frames;          /* ZgFrame, in arrival order; lock */
     } ZgProducer;

/* "videotestsrc <src_props> ! <caps> ! zcipcsink socket-path=<path>
 * <sink_props>", in NULL. */
     ZgProducer *zg_producer_new (const gchar * socket_path,
    const gchar * src_props, const gchar * caps, const gchar * sink_props);
/* The same, set to PLAYING (asserts it started). */
     ZgProducer *zg_producer_start (const gchar * socket_path,
    const gchar * src_props, const gchar * caps, const gchar * sink_props);
/* A copy of frame `i` once it arrived (waits up to 5 s; asserts). */
     ZgFrame zg_producer_get_frame (ZgProducer * p, guint i);
     void zg_frame_clear (ZgFrame * f);
/* Sets NULL, asserts the bus saw no error, frees. */
     void zg_producer_free (ZgProducer * p);

/* The lossless producer of the zcipcsrc suite: waits for one consumer and
 * for room, never drops a frame. */
#define ZG_LOSSLESS_SINK_PROPS \
  "min-consumers=1 slow-consumer=wait sync=false"

/* ---------------------------------------------------------- consumer */

/* A zcipcsrc (with `props`, e.g. "max-held=4") on `socket_path` in a
 * harness, with its own bus (*bus, may be NULL), playing. */
     GstHarness *zg_consumer_new (const gchar * socket_path,
    const gchar * props, GstBus ** bus);

/* The same; `bounded`: the harness lets the pushing thread go on only
 * when the test pulls (a real downstream's backpressure), for tests that
 * pull slower than the producer sends and want every frame zero-copy. */
     GstHarness *zg_consumer_new_bounded (const gchar * socket_path,
    const gchar * props, GstBus ** bus, gboolean bounded);

/* SHA-256 of a buffer's bytes. */
     gchar *zg_buffer_checksum (GstBuffer * buffer);

G_END_DECLS
#endif
