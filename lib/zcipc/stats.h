/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_STATS_H
#define ZCIPC_STATS_H

/* A monitor's side of the stats protocol (zcipc/wire.h): connect to a
 * producer's socket, send STATS_REQUEST instead of HELLO, read one
 * STATS_REPLY per request. A monitor never becomes a consumer, so it takes
 * no consumer's place; a producer allows ZCIPC_SERVER_MAX_MONITORS at once
 * and the same peers it allows as consumers. A producer that predates the
 * stats protocol skips the request: zcipc_stats_request() times out.
 *
 * The connection stays open between requests; the producer's exit (SIGKILL
 * included) shows as a hang-up (POLLHUP) on the fd, so a watcher needs no
 * polling loop. */

#include <stdint.h>
#include <sys/types.h>

#include "zcipc/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ZCIPC_STATS_MAX_CONSUMERS ZCIPC_WIRE_STATS_MAX_CONSUMERS
#define ZCIPC_STATS_CAPS_MAX ZCIPC_WIRE_STATS_CAPS_MAX

struct zcipc_stats_consumer
{
  uint32_t consumer_id;
  int32_t pid;                  /* the consumer's process (SO_PEERCRED) */
  uint32_t uid;
  uint32_t quota;               /* frames it may hold at once, as granted */
  uint32_t held;                /* frames it holds now */
  uint32_t flags;               /* ZCIPC_STATS_CONSUMER_REPORTED, _CHANNEL */
  uint64_t frames_sent;         /* frames the producer sent it */
  uint64_t frames_dropped;      /* frames it missed (at its quota, or its
                                 * socket full) */
  /* Known only from the consumer's own REPORT (flag REPORTED); else 0 and
   * -1. */
  uint64_t frames_copied;       /* copied out of shared memory because its
                                 * downstream kept its whole quota */
  int64_t lag_ns;               /* for the last frame it pushed downstream:
                                 * how long after the producer sent it */
};

struct zcipc_stats_stream
{
  uint32_t version;             /* ZCIPC_STATS_VERSION */
  int32_t pid;                  /* the producer's process */
  uint32_t uid;
  uint32_t flags;               /* ZCIPC_STATS_FLAG_CAPS_TRUNCATED */
  /* The stream's caps as gst_caps_to_string gives them, "" before caps. */
  char caps[ZCIPC_STATS_CAPS_MAX + 1];
  uint64_t frames_sent;         /* frames that reached a consumer */
  uint64_t frames_unsent;       /* frames no consumer took */
  /* The producer's CLOCK_MONOTONIC when it answered: fps between two
   * replies is d(frames_sent + frames_unsent) / d(monotonic_ns). */
  int64_t monotonic_ns;
  /* The producer's CLOCK_MONOTONIC at its last frame (0 before the first):
   * d(frames) / d(last_frame_ns) is the frame rate without the jitter of
   * when the replies were made. */
  int64_t last_frame_ns;
  uint32_t max_consumers;
  uint32_t quota;               /* the producer's cap per consumer */
  uint32_t n_monitors;          /* monitors connected, this one included */
  uint32_t n_consumers;
  struct zcipc_stats_consumer consumers[ZCIPC_STATS_MAX_CONSUMERS];
};

/* Connects to the producer socket PATH as a monitor (no HELLO is sent);
 * the fd is returned in *fd_out (close() it when done). Does not wait for
 * a producer to appear: -ENOENT or -ECONNREFUSED when nobody listens.
 * `timeout_ms` bounds the connect (a producer whose backlog is full). */
int zcipc_stats_open (const char *path, int timeout_ms, int *fd_out);

/* One request and its reply on an open monitor fd. 0; -ETIMEDOUT when no
 * reply came within `timeout_ms` (negative: forever); -EPIPE when the
 * producer hung up; the REJECT's error when the producer refused us
 * (-EACCES: not on its allow-list; -EUSERS: too many monitors;
 * -EPROTONOSUPPORT: another stats version); -EPROTO for a malformed
 * reply. After an error other than -ETIMEDOUT the fd is of no more use. */
int zcipc_stats_request (int fd, int timeout_ms,
    struct zcipc_stats_stream *out);

/* open + one request + close. */
int zcipc_stats_query (const char *path, int timeout_ms,
    struct zcipc_stats_stream *out);

#ifdef __cplusplus
}
#endif
#endif
