/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* zcipc_client_next(), the consumer's hot path, in two halves:
 *
 * - waiting: reading the producer's next message (from the shared channel
 *   once there is one, else from the socket) and, while there is none,
 *   the policy of how to wait for it: spin for a fast stream, else poll
 *   and sleep; interruption and the caller's timeout;
 * - dispatch: what each message means (a frame, an event, a region
 *   announced or removed, the channel, a grant, a REJECT).
 *
 * Runs on the one thread that calls next(). The waiting half keeps its
 * state in next()'s-thread-only fields and takes the client's lock only to
 * read the socket and flush what is due before sleeping; dispatch runs
 * with the lock held. Nothing here allocates or adds a system call per
 * frame. */

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "client-private.h"
#include "zcipc/clock.h"
#include "zcipc/fds.h"
#include "zcipc/result.h"
#include "zcipc/socket.h"

/* ---- Waiting ---------------------------------------------------------- */

/* Waits for `fd` to become readable, or the interrupt. */
int
client_wait_readable (struct zcipc_client *c, int fd, int timeout_ms)
{
  struct pollfd pfds[2] = { {c->interrupt_fd, POLLIN, 0}, {fd, POLLIN, 0} };
  int n = fd >= 0 ? 2 : 1, res;

  do {
    res = poll (pfds, (nfds_t) n, timeout_ms < 0 ? -1 : timeout_ms);
  } while (res < 0 && errno == EINTR);
  if (res < 0)
    return zcipc_neg_errno ();
  if (pfds[0].revents)
    return -ECANCELED;
  if (res == 0)
    return -EAGAIN;
  return 0;
}

/* Milliseconds to `deadline`, 0 once passed; -1 (forever) without a
 * timeout. */
int
client_remaining (int64_t deadline, int timeout_ms)
{
  int64_t left;
  if (timeout_ms < 0)
    return -1;
  left = deadline - zcipc_now_ms ();
  return left < 0 ? 0 : (int) left;
}

/* Reads one datagram; closes any fds a caller did not expect. */
int
client_receive (struct zcipc_client *c, int fd, size_t *len, int *fds,
    unsigned int *n_fds)
{
  int res = zcipc_socket_recv (fd, c->buffer, RECV_BUFFER_SIZE, len, fds,
      ZCIPC_SOCKET_MAX_FDS, n_fds, 1);
  /* A producer that closes with our last message unread (a RELEASE, or a
   * HELLO it refuses) makes the kernel report ECONNRESET once, ahead of
   * what it sent before closing (an EOS, a REJECT): read on to get that,
   * then the hang-up. */
  if (res == -ECONNRESET)
    res = zcipc_socket_recv (fd, c->buffer, RECV_BUFFER_SIZE, len, fds,
        ZCIPC_SOCKET_MAX_FDS, n_fds, 1);
  if (res == 0 && *len == 0)
    return -EPIPE;
  return res;
}

/* Reads the producer's next message into c->buffer without waiting: from
 * the channel once there is one (where a marker sends us to the socket),
 * else from the socket. -EAGAIN: nothing there; -EBADMSG: the producer
 * wrote an impossible record into the channel. */
int
client_read_message (struct zcipc_client *c, int fd, size_t *len, int *fds,
    unsigned int *n_fds)
{
  *n_fds = 0;
  for (;;) {
    enum zcipc_channel_record kind;
    int res;

    if (!zcipc_channel_is_open (&c->channel) || c->socket_due > 0) {
      res = client_receive (c, fd, len, fds, n_fds);
      if (res != -EAGAIN && c->socket_due > 0)
        c->socket_due--;
      return res;
    }
    res = zcipc_channel_pop (&c->channel, c->buffer, RECV_BUFFER_SIZE, len,
        &kind);
    if (res == -EPROTO)
      return -EBADMSG;
    if (res < 0 || kind == ZCIPC_CHANNEL_RECORD_MESSAGE)
      return res;
    if (c->socket_ahead > 0)
      c->socket_ahead--;        /* its message was read already */
    else
      c->socket_due++;
  }
}

/* Sleeps until client_read_message() may find something. 0, -EAGAIN at
 * the deadline, -ECANCELED when interrupted. */
static int
sleep_for_message (struct zcipc_client *c, int fd, int64_t deadline,
    int timeout_ms)
{
  if (!zcipc_channel_is_open (&c->channel) || c->socket_due > 0)
    return client_wait_readable (c, fd, client_remaining (deadline,
            timeout_ms));
  for (;;) {
    int left = client_remaining (deadline, timeout_ms), res;

    zcipc_channel_wait (&c->channel, left < 0 || left > CHANNEL_CHECK_MS ?
        CHANNEL_CHECK_MS : left, &c->interrupted);
    if (atomic_load (&c->interrupted))
      return -ECANCELED;
    if (zcipc_channel_pending (&c->channel))
      return 0;
    /* Woken with nothing to read, or a while went by: the socket tells
     * whether the producer hung up (it cannot wake us if it crashed). */
    res = client_wait_readable (c, fd, 0);
    if (res == 0) {
      if (zcipc_channel_pending (&c->channel))
        return 0;
      /* The ring is empty, so what is on the socket is next in order: a
       * hang-up, or a message whose marker is not published yet. */
      c->socket_due++;
      c->socket_ahead++;
      return 0;
    }
    if (res != -EAGAIN)
      return res;
    if (timeout_ms >= 0 && client_remaining (deadline, timeout_ms) == 0)
      return -EAGAIN;
  }
}

static inline void
spin_pause (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

/* What zcipc_client_next() decided about waiting for one event, and what
 * it did. */
struct next_wait
{
  int64_t deadline;             /* CLOCK_MONOTONIC ms, with a timeout */
  int timeout_ms;               /* negative: forever */
  unsigned int spin_us;         /* 0: sleep at once */
  bool try_first;               /* read before sleeping */
  bool slept;                   /* slept for this event */
};

/* One message read into c->buffer, and the fds that came with it (the
 * caller's to own). */
struct received
{
  size_t len;
  int fds[ZCIPC_SOCKET_MAX_FDS];
  unsigned int n_fds;
};

static void
start_wait (struct zcipc_client *c, struct next_wait *w, int timeout_ms)
{
  unsigned int spin_us = atomic_load (&c->spin_us);

  w->deadline = zcipc_now_ms () + (timeout_ms < 0 ? 0 : timeout_ms);
  w->timeout_ms = timeout_ms;
  /* Spin only for a stream whose frames come within the spin time: for a
   * slower one it would only burn the CPU before sleeping anyway. */
  if (spin_us > 0 && (c->frame_gap_ns == 0 ||
          c->frame_gap_ns > (int64_t) spin_us * 1000))
    spin_us = 0;
  w->spin_us = spin_us;
  /* Paced streams find the socket empty after every frame: then sleep at
   * once instead of first trying a read that fails (a system call saved
   * per frame). */
  w->try_first = spin_us > 0 || !c->waited_last;
  w->slept = false;
}

/* Tries to read until `spin_us` passed (or the deadline, or an
 * interrupt): a frame that comes meanwhile costs no sleep and no wake-up. */
static int
spin_read (struct zcipc_client *c, int fd, const struct next_wait *w,
    struct received *m)
{
  int64_t end = zcipc_now_ns () + (int64_t) w->spin_us * 1000;

  if (w->timeout_ms >= 0 && end > w->deadline * 1000000)
    end = w->deadline * 1000000;
  do {
    int res;
    if (atomic_load_explicit (&c->interrupted, memory_order_relaxed))
      return -EAGAIN;           /* sleep_for_message() reports it */
    res = client_read_message (c, fd, &m->len, m->fds, &m->n_fds);
    if (res != -EAGAIN)
      return res;
    /* On the channel this is a loop over one load: tell the CPU (and a
     * hyper-thread sibling) that we are spinning. */
    if (zcipc_channel_is_open (&c->channel))
      spin_pause ();
  } while (zcipc_now_ns () < end);
  return -EAGAIN;
}

/* Reads without sleeping: once (unless the policy skips it), then, with
 * nothing there, sends what the producer is owed before we wait (releases
 * batched meanwhile, a QUOTA due) and spins where the policy says so. */
static int
try_read (struct zcipc_client *c, int fd, struct next_wait *w,
    struct received *m)
{
  int res = w->try_first ?
      client_read_message (c, fd, &m->len, m->fds, &m->n_fds) : -EAGAIN;

  w->try_first = true;
  if (res != -EAGAIN)
    return res;
  pthread_mutex_lock (&c->lock);
  client_flush_releases_locked (c);
  client_send_quota_locked (c);
  pthread_mutex_unlock (&c->lock);
  if (w->spin_us > 0)
    res = spin_read (c, fd, w, m);
  return res;
}

/* What a failed read means for the caller, with its reason. */
static int
read_failed (struct zcipc_client *c, int res)
{
  if (res == -EBADMSG) {
    client_set_reason (c, "the producer wrote an impossible record into the "
        "shared channel");
    return -EPROTO;
  }
  if (res == -EPIPE || res == -ECONNRESET) {
    client_set_reason (c, "the producer went away");
    return -EPIPE;
  }
  if (res == -EMFILE || res == -ENFILE) {
    client_set_reason (c, "this process ran out of file descriptors (%s) "
        "receiving a region from the producer: raise its limit "
        "(ulimit -n) or have it hold fewer", strerror (-res));
    return res;
  }
  client_set_reason (c, "the producer sent a malformed message: %s",
      strerror (-res));
  return -EPROTO;
}

/* The waiting half: returns 0 with the producer's next message in `m`,
 * sleeping for it as the policy in `w` says; or the error next() returns. */
static int
wait_for_message (struct zcipc_client *c, struct next_wait *w,
    struct received *m)
{
  for (;;) {
    int fd, res;

    pthread_mutex_lock (&c->lock);
    fd = c->fd;
    pthread_mutex_unlock (&c->lock);
    if (fd < 0) {
      client_set_reason (c, "not connected");
      return -ENOTCONN;
    }
    m->n_fds = 0;
    m->len = 0;
    res = try_read (c, fd, w, m);
    if (res == 0)
      return 0;
    if (res != -EAGAIN)
      return read_failed (c, res);
    w->slept = true;
    atomic_fetch_add_explicit (&c->sleeps, 1, memory_order_relaxed);
    if ((res = sleep_for_message (c, fd, w->deadline, w->timeout_ms)) < 0)
      return res;
  }
}

/* Keeps a running average of the time between frames. */
static void
note_frame_arrival (struct zcipc_client *c)
{
  int64_t now = zcipc_now_ns ();

  if (c->last_frame_ns) {
    int64_t gap = now - c->last_frame_ns;
    c->frame_gap_ns = c->frame_gap_ns ? c->frame_gap_ns +
        (gap - c->frame_gap_ns) / 4 : gap;
  }
  c->last_frame_ns = now;
}

/* What the next wait learns from this one: whether frames find the socket
 * empty, and how far apart they come. */
static void
note_delivery (struct zcipc_client *c, const struct next_wait *w,
    const struct zcipc_client_event *ev)
{
  if (ev->type != ZCIPC_CLIENT_FRAME)
    return;
  c->waited_last = w->slept;
  note_frame_arrival (c);
}

/* ---- Dispatch --------------------------------------------------------- */

/* A message handled inside next() (0), or one that becomes an event for
 * next()'s caller. */
#define DELIVERED 1

static int
on_region_add_locked (struct zcipc_client *c, const struct zcipc_message *msg)
{
  int res = client_add_region_locked (c, msg);
  if (res < 0)
    close (msg->region_add.fd);
  return res;
}

static int
on_region_remove_locked (struct zcipc_client *c,
    const struct zcipc_message *msg, struct zcipc_client_event *ev)
{
  uint32_t flags = 0;
  int res = client_remove_region_locked (c, msg->region_remove.region_id,
      &flags);
  if (res < 0 || !c->report_removals)
    return res;
  ev->type = ZCIPC_CLIENT_REGION_REMOVED;
  ev->region.id = msg->region_remove.region_id;
  ev->region.flags = flags;
  return DELIVERED;
}

static int
on_channel_locked (struct zcipc_client *c, const struct zcipc_message *msg)
{
  int res = 0;

  if (zcipc_channel_is_open (&c->channel) || !c->use_channel) {
    client_set_reason (c, "the producer sent a shared channel this consumer "
        "did not ask for");
    res = -EPROTO;
  } else if (zcipc_channel_import (&c->channel, msg->channel.fd) < 0) {
    client_set_reason (c, "the producer offered a shared channel that is "
        "too small, unsealed or not a zcipc channel; refusing to map it");
    res = -EPROTO;
  }
  if (res < 0)
    close (msg->channel.fd);
  return res;
}

static int
on_event (const struct zcipc_message *msg, struct zcipc_client_event *ev)
{
  ev->type = ZCIPC_CLIENT_EVENT;
  ev->event.kind = msg->event.info.kind;
  ev->event.payload = msg->event.payload;
  ev->event.size = msg->event.info.payload_size;
  return DELIVERED;
}

static int
on_grant_locked (struct zcipc_client *c, const struct zcipc_message *msg)
{
  /* Quotas only grow, up to what we asked for. */
  if (msg->grant.quota > c->max_held || msg->grant.quota < c->quota) {
    client_set_reason (c, "the producer granted %u held frames (it had "
        "granted %u, and %u were asked for)", msg->grant.quota, c->quota,
        c->max_held);
    return -EPROTO;
  }
  c->quota = msg->grant.quota;
  return 0;
}

static int
on_reject_locked (struct zcipc_client *c, struct zcipc_message *msg)
{
  /* The producer cut us off (wait timeout, or it judged us broken).
   * Whatever error it names, that is -ECONNABORTED here. */
  client_sanitize_reason (msg->reject.reason);
  client_set_reason (c, "the producer disconnected this consumer: %s",
      msg->reject.reason);
  return -ECONNABORTED;
}

static int
dispatch_locked (struct zcipc_client *c, struct zcipc_message *msg,
    struct zcipc_client_event *ev)
{
  switch (msg->type) {
    case ZCIPC_WIRE_FRAME:{
      int res = client_take_frame_locked (c, msg, ev);
      return res < 0 ? res : DELIVERED;
    }
    case ZCIPC_WIRE_EVENT:
      return on_event (msg, ev);
    case ZCIPC_WIRE_REGION_ADD:
      return on_region_add_locked (c, msg);
    case ZCIPC_WIRE_REGION_REMOVE:
      return on_region_remove_locked (c, msg, ev);
    case ZCIPC_WIRE_CHANNEL:
      return on_channel_locked (c, msg);
    case ZCIPC_WIRE_GRANT:
      return on_grant_locked (c, msg);
    case ZCIPC_WIRE_REJECT:
      return on_reject_locked (c, msg);
    default:
      client_set_reason (c, "the producer sent %s, which producers may not "
          "send", zcipc_wire_type_name (msg->type));
      return -EPROTO;
  }
}

/* The dispatch half: parses the message in `m` (its fds go with it) and
 * acts on it. DELIVERED with an event in `ev`, 0 when handled inside (or
 * skipped: a newer producer's message), or the error next() returns. */
static int
dispatch (struct zcipc_client *c, struct received *m,
    struct zcipc_client_event *ev)
{
  struct zcipc_message msg;
  int res = zcipc_wire_parse (c->buffer, m->len, m->fds, m->n_fds, &msg);

  if (res == -ENOMSG)
    return 0;                   /* a newer producer's message: skip */
  if (res < 0 || (msg.type != ZCIPC_WIRE_REGION_ADD &&
          msg.type != ZCIPC_WIRE_CHANNEL && m->n_fds)) {
    zcipc_close_fds (m->fds, m->n_fds);
    client_set_reason (c, "the producer sent a malformed %s message",
        zcipc_wire_type_name (msg.type));
    return -EPROTO;
  }
  pthread_mutex_lock (&c->lock);
  res = dispatch_locked (c, &msg, ev);
  pthread_mutex_unlock (&c->lock);
  return res;
}

int
zcipc_client_next (struct zcipc_client *c, struct zcipc_client_event *ev,
    int timeout_ms)
{
  struct next_wait w;
  struct received m;
  int res;

  start_wait (c, &w, timeout_ms);
  for (;;) {
    if ((res = wait_for_message (c, &w, &m)) < 0)
      return res;
    if ((res = dispatch (c, &m, ev)) < 0)
      return res;
    if (res == DELIVERED) {
      note_delivery (c, &w, ev);
      return 0;
    }
  }
}
