/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* GstZcipcQuota: how many frames zcipcsrc asks its producer to lend it, and
 * how much of the producer's memory it lets itself map.
 *
 * Owns what the quota is made of: max-held (the property), what downstream
 * says it keeps (its pools' minimums, its latency in frames), how long a
 * frame lasts, and the quota asked so far, which only grows.
 *
 * Locking: its own mutex; any thread (properties, the LATENCY event, the
 * streaming thread). Lifetime: a member of GstZcipcSrc; reset by start()
 * but for max-held, cleared at finalize. */
#ifndef __GST_ZCIPC_QUOTA_H__
#define __GST_ZCIPC_QUOTA_H__

#include <gst/gst.h>

#include <zcipc/client.h>

G_BEGIN_DECLS

typedef struct
{
  GMutex lock;
  guint max_held;               /* the property */
  guint downstream_min_buffers; /* the ALLOCATION query's pool minimums */
  GstClockTime downstream_latency;      /* the last LATENCY event */
  GstClockTime frame_duration;  /* from the caps' framerate, or buffers */
  guint asked;
} GstZcipcQuota;

void gst_zcipc_quota_init (GstZcipcQuota * quota, guint max_held);
void gst_zcipc_quota_clear (GstZcipcQuota * quota);
void gst_zcipc_quota_reset (GstZcipcQuota * quota);

void gst_zcipc_quota_set_max_held (GstZcipcQuota * quota, guint max_held);
guint gst_zcipc_quota_get_max_held (GstZcipcQuota * quota);
guint gst_zcipc_quota_get_asked (GstZcipcQuota * quota);

guint gst_zcipc_quota_for_connect (GstZcipcQuota * quota);
guint gst_zcipc_quota_grow (GstZcipcQuota * quota);

void gst_zcipc_quota_learn_caps (GstZcipcQuota * quota, GstPad * srcpad,
    GstCaps * caps);
gboolean gst_zcipc_quota_learn_frame_duration (GstZcipcQuota * quota,
    GstClockTime duration);
void gst_zcipc_quota_learn_latency (GstZcipcQuota * quota,
    GstClockTime latency);

void gst_zcipc_quota_limit_mappings (GstZcipcQuota * quota,
    GstElement * element, struct zcipc_client *client, GstCaps * caps);

G_END_DECLS
#endif
