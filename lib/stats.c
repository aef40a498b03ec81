/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zcipc/clock.h"
#include "zcipc/fds.h"
#include "zcipc/socket.h"
#include "zcipc/stats.h"
#include "zcipc/result.h"

/* The largest STATS_REPLY a producer may send. */
#define MAX_REPLY_SIZE (sizeof (struct zcipc_wire_stats_reply) + \
    ZCIPC_WIRE_STATS_MAX_CONSUMERS * sizeof (struct zcipc_wire_stats_consumer) + \
    ZCIPC_WIRE_STATS_CAPS_MAX)

int
zcipc_stats_open (const char *path, int timeout_ms, int *fd_out)
{
  *fd_out = -1;
  return zcipc_socket_connect_timeout (path, timeout_ms, fd_out);
}

static void
copy_reply (const struct zcipc_message *msg, struct zcipc_stats_stream *out)
{
  const struct zcipc_wire_stats_reply *r = &msg->stats_reply.info;

  out->version = r->version;
  out->pid = r->pid;
  out->uid = r->uid;
  out->flags = r->flags;
  memcpy (out->caps, msg->stats_reply.caps, r->caps_size);
  out->caps[r->caps_size] = '\0';
  out->frames_sent = r->frames_sent;
  out->frames_unsent = r->frames_unsent;
  out->monotonic_ns = r->monotonic_ns;
  out->last_frame_ns = r->last_frame_ns;
  out->max_consumers = r->max_consumers;
  out->quota = r->quota;
  out->n_monitors = r->n_monitors;
  out->n_consumers = r->n_consumers;
  for (uint32_t i = 0; i < r->n_consumers; i++) {
    struct zcipc_wire_stats_consumer c;
    struct zcipc_stats_consumer *o = &out->consumers[i];

    memcpy (&c, msg->stats_reply.consumers + i * sizeof c, sizeof c);
    *o = (struct zcipc_stats_consumer) {
      .consumer_id = c.consumer_id,
      .pid = c.pid,
      .uid = c.uid,
      .quota = c.quota,
      .held = c.held,
      .flags = c.flags,
      .frames_sent = c.frames_sent,
      .frames_dropped = c.frames_dropped,
      .frames_copied = c.frames_copied,
      .lag_ns = c.lag_ns,
    };
  }
}

int
zcipc_stats_request (int fd, int timeout_ms, struct zcipc_stats_stream *out)
{
  struct zcipc_wire_stats_request req;
  struct iovec iov = { &req, zcipc_wire_init_stats_request (&req) };
  int64_t deadline = timeout_ms >= 0 ? zcipc_now_ms () + timeout_ms : 0;
  uint8_t *buf;
  int res;

  if ((res = zcipc_socket_send (fd, &iov, 1, NULL, 0, 0)) < 0)
    return res == -ECONNRESET ? -EPIPE : res;
  if (!(buf = malloc (MAX_REPLY_SIZE)))
    return -ENOMEM;
  for (;;) {
    struct pollfd pfd = { fd, POLLIN, 0 };
    struct zcipc_message msg;
    int fds[ZCIPC_SOCKET_MAX_FDS];
    unsigned int n_fds = 0;
    size_t len = 0;
    int wait = -1;

    if (timeout_ms >= 0) {
      int64_t left = deadline - zcipc_now_ms ();
      wait = left > 0 ? (int) left : 0;
    }
    res = poll (&pfd, 1, wait);
    if (res < 0 && errno == EINTR)
      continue;
    if (res < 0) {
      res = zcipc_neg_errno ();
      break;
    }
    if (res == 0) {
      res = -ETIMEDOUT;
      break;
    }
    res = zcipc_socket_recv (fd, buf, MAX_REPLY_SIZE, &len, fds,
        ZCIPC_SOCKET_MAX_FDS, &n_fds, 1);
    if (res == -EAGAIN)
      continue;
    if (res == -ECONNRESET || (res == 0 && len == 0)) {
      res = -EPIPE;
      break;
    }
    if (res < 0)
      break;
    /* A monitor is sent no fds. */
    zcipc_close_fds (fds, n_fds);
    res = zcipc_wire_parse (buf, len, fds, n_fds, &msg);
    if (res == -ENOMSG)
      continue;                 /* a newer producer's: skippable */
    if (res < 0)
      break;
    if (msg.type == ZCIPC_WIRE_REJECT) {
      res = msg.reject.error;
      break;
    }
    if (msg.type != ZCIPC_WIRE_STATS_REPLY) {
      res = -EPROTO;
      break;
    }
    copy_reply (&msg, out);
    res = 0;
    break;
  }
  free (buf);
  return res;
}

int
zcipc_stats_query (const char *path, int timeout_ms,
    struct zcipc_stats_stream *out)
{
  int fd, res;

  if ((res = zcipc_stats_open (path, timeout_ms, &fd)) < 0)
    return res;
  res = zcipc_stats_request (fd, timeout_ms, out);
  close (fd);
  return res;
}
