/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_CLOCK_H__
#define __GST_ZCIPC_CLOCK_H__

/* How a GstClock relates to CLOCK_MONOTONIC, which producer and consumer
 * share: what lets running times map across processes. */

#include <gst/gst.h>

G_BEGIN_DECLS

/* Whether `clock` tells CLOCK_MONOTONIC itself (the system clock of that
 * type, uncalibrated): then times map across processes exactly. */
gboolean gst_zcipc_clock_is_monotonic (GstClock * clock);

/* `clock`'s time minus CLOCK_MONOTONIC now, in ns, sampled: both read
 * together, the closest of a few tries. (0 for a monotonic clock: callers
 * check gst_zcipc_clock_is_monotonic() first and need not sample.) */
gint64 gst_zcipc_clock_monotonic_offset (GstClock * clock);

G_END_DECLS
#endif
