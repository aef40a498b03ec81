/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* One connection, as the producer sees it: sending it messages (by its
 * channel or its socket), reading and acting on what it sends (releases,
 * quota, reports, LEAVE; the handshake's messages go to
 * server-handshake.c), dropping it, and reaping and freeing it once it is
 * gone. Its lifecycle is struct consumer's state (server-private.h).
 *
 * Locking: the server lock is held by every *_locked function, and by the
 * callers of consumer_send() and the send_* helpers. reap_dropped() takes
 * it itself, to run callbacks without it. Only the server thread frees a
 * consumer. */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server-private.h"
#include "zcipc/clock.h"
#include "zcipc/fds.h"
#include "zcipc/result.h"

/* Lock held. Sends one message to a consumer: through its channel if it
 * has one, where a message with fds (or too big for the ring) goes by
 * socket with a marker in the ring at its place. -EAGAIN: no room now. */
int
consumer_send (struct consumer *c, const struct iovec *iov,
    unsigned int n_iov, const int *fds, unsigned int n_fds)
{
  size_t size = 0;
  int res;

  if (!zcipc_channel_is_open (&c->channel))
    return zcipc_socket_send (c->fd, iov, n_iov, fds, n_fds, 1);
  for (unsigned int i = 0; i < n_iov; i++)
    size += iov[i].iov_len;
  if (n_fds == 0 && size <= ZCIPC_CHANNEL_MAX_RECORD)
    return zcipc_channel_push (&c->channel, ZCIPC_CHANNEL_RECORD_MESSAGE, iov,
        n_iov);
  /* Room for the marker first: a message on the socket without its marker
   * would be read out of order. */
  if ((res = zcipc_channel_check_room (&c->channel, 0)) < 0)
    return res;
  if ((res = zcipc_socket_send (c->fd, iov, n_iov, fds, n_fds, 1)) < 0)
    return res;
  return zcipc_channel_push (&c->channel, ZCIPC_CHANNEL_RECORD_SOCKET, NULL, 0);
}

/* Sends one message by socket, never blocking; `fds` stay the caller's. */
int
send_plain (int fd, const void *msg, size_t size, const int *fds,
    unsigned int n_fds)
{
  struct iovec iov = { (void *) msg, size };

  return zcipc_socket_send (fd, &iov, 1, fds, n_fds, 1);
}

int
send_region_add (struct consumer *c, const struct stored_region *r)
{
  struct zcipc_wire_region_add m;
  struct iovec iov = { &m, zcipc_wire_init_region_add (&m, r->id, r->flags,
        r->size)
  };
  return consumer_send (c, &iov, 1, &r->fd, 1);
}

int
send_event (struct consumer *c, uint32_t kind, const void *payload,
    uint32_t size)
{
  struct zcipc_wire_event m;
  struct iovec iov[2] = { {&m, zcipc_wire_init_event (&m, kind, size)},
  {(void *) payload, size}
  };
  return consumer_send (c, iov, size ? 2 : 1, NULL, 0);
}

/* Tells a peer why it is refused or dropped; one that already hung up just
 * misses it. */
void
reject (int fd, int error, const char *reason)
{
  struct zcipc_wire_reject m;
  size_t n = zcipc_wire_init_reject (&m, error, reason);
  send_plain (fd, &m, n, NULL, 0);
}

/* Lock held. CUT_OFF (or CLOSED) -> CLOSED: it hung up, misbehaved or had
 * its frames retired, so it gives back what it holds. */
static void
close_dropped_locked (struct consumer *c)
{
  c->state = CONSUMER_CLOSED;
  shutdown (c->fd, SHUT_RDWR);
}

/* Lock held. STREAMING -> CUT_OFF: it reads what is queued, then the end
 * of the stream; we read its releases, from now on by socket. The thread
 * takes what is in its ring already. */
static void
cut_off_locked (struct zcipc_server *s, struct consumer *c)
{
  c->state = CONSUMER_CUT_OFF;
  if (!c->departed_ns)
    c->departed_ns = zcipc_now_ns ();
  shutdown (c->fd, SHUT_WR);
  if (zcipc_channel_is_open (&c->channel))
    zcipc_channel_set_releases_by_socket (&c->channel, true);
  wake_thread (s);
}

/* Lock held. Stops the stream to a consumer; the thread frees it (and
 * takes back its holds) once it hangs up or, cut off, has released them. */
void
drop_consumer_locked (struct zcipc_server *s, struct consumer *c,
    enum drop_kind kind, const char *reason)
{
  if (consumer_is_dropped (c)) {
    /* A cut-off consumer that hangs up or misbehaves gives its holds back:
     * the first reason stands. */
    if (consumer_is_cut_off (c) && kind != DROP_CUT_OFF)
      close_dropped_locked (c);
    return;
  }
  if (kind != DROP_GONE && !consumer_is_monitor (c))
    s->stats.consumers_dropped++;
  snprintf (c->drop_reason, sizeof c->drop_reason, "%s", reason);
  /* Tell it why (a consumer dropped for the wait timeout should not think
   * the producer died). */
  if (consumer_is_active (c)) {
    struct zcipc_wire_reject m;
    struct iovec iov = { &m, zcipc_wire_init_reject (&m, -ECONNABORTED,
          reason)
    };
    consumer_send (c, &iov, 1, NULL, 0);
  }
  c->dropped_from = c->state;
  if (kind == DROP_CUT_OFF && c->n_held > 0)
    cut_off_locked (s, c);
  else
    close_dropped_locked (c);
  /* A consumer asleep on its channel would see the hang-up only when its
   * sleep times out. */
  if (zcipc_channel_is_open (&c->channel))
    zcipc_channel_wake (&c->channel);
}

/* Lock held. A consumer's channel indices are its own to publish: one that
 * no ring could hold means it scribbled on the channel. */
void
drop_corrupt_channel_locked (struct zcipc_server *s, struct consumer *c)
{
  drop_consumer_locked (s, c, DROP_BROKEN,
      "wrote an impossible index into its channel");
}

void
release_list_add (struct release_list *l, void *frame)
{
  if (l->n == l->cap) {
    unsigned int cap = l->cap * 2;
    void **grown = malloc (cap * sizeof *grown);
    if (!grown)
      abort ();                 /* cannot lose a release: it would leak a slot */
    memcpy (grown, l->frames, l->n * sizeof *grown);
    if (l->frames != l->fixed)
      free (l->frames);
    l->frames = grown;
    l->cap = cap;
  }
  l->frames[l->n++] = frame;
}

void
release_list_clear (struct release_list *l)
{
  if (l->frames != l->fixed)
    free (l->frames);
  l->frames = l->fixed;
  l->cap = RELEASE_LIST_FIXED;
  l->n = 0;
}

/* Lock not held: hands the frames back (callbacks->release). */
void
run_releases (struct zcipc_server *s, struct release_list *released)
{
  for (unsigned int i = 0; i < released->n; i++)
    s->callbacks.release (s->data, released->frames[i]);
  released->n = 0;
}

/* Lock held. Returns NULL or the reason to drop the consumer. A consumer
 * that said LEAVE goes with its last release. */
static const char *
handle_release_locked (struct zcipc_server *s, struct consumer *c,
    const uint64_t * seqs, uint32_t count, struct release_list *released,
    char *why, size_t why_size)
{
  for (uint32_t i = 0; i < count; i++) {
    uint64_t seq = seqs[i];
    uint32_t j;

    for (j = 0; j < c->info.quota; j++)
      if (c->holds[j].frame && c->holds[j].seq == seq)
        break;
    if (j == c->info.quota) {
      snprintf (why, why_size, "released frame %llu, which it does not hold",
          (unsigned long long) seq);
      return why;
    }
    release_list_add (released, c->holds[j].frame);
    c->holds[j].frame = NULL;
    c->n_held--;
    c->full_since_ns = 0;
    s->stats.held--;
  }
  pthread_cond_broadcast (&s->cond);
  if (consumer_is_leaving (c) && c->n_held == 0)
    drop_consumer_locked (s, c, DROP_GONE, "left (released its last frame)");
  return NULL;
}

/* Lock held. A consumer asks to hold `max_held` frames: grant what our cap
 * allows, if that is more than it has. Quotas only grow during a
 * connection, so a frame in flight never exceeds the consumer's count. */
static void
handle_quota_locked (struct zcipc_server *s, struct consumer *c,
    uint32_t max_held)
{
  uint32_t quota = max_held < s->quota ? max_held : s->quota;
  struct zcipc_wire_grant m;
  struct iovec iov = { &m, zcipc_wire_init_grant (&m, quota) };
  int res;

  if (!consumer_is_streaming (c) || quota <= c->info.quota) {
    server_log (s, ZCIPC_LOG_DEBUG, "consumer %u asked to hold %u frames; "
        "its quota stays %u (cap %u)", c->info.id, max_held, c->info.quota,
        s->quota);
    return;
  }
  /* In stream order: the consumer counts the new quota from the frames
   * after it. A ring with no room for it leaves the quota as it was: the
   * consumer copies what it cannot hold instead. */
  if ((res = consumer_send (c, &iov, 1, NULL, 0)) < 0) {
    server_log (s, ZCIPC_LOG_WARNING, "consumer %u: could not grant it %u "
        "frames: %s", c->info.id, quota, strerror (-res));
    return;
  }
  server_log (s, ZCIPC_LOG_INFO, "consumer %u asked to hold %u frames: "
      "granted %u (was %u, cap %u)", c->info.id, max_held, quota,
      c->info.quota, s->quota);
  c->info.quota = quota;
  c->full_since_ns = 0;
  pthread_cond_broadcast (&s->cond);
}

/* Lock held. LEAVE: its pipeline stopped but buffers live on, so their
 * slots are kept until it releases them. STREAMING -> LEAVING, or CLOSED
 * when it holds nothing. Said again, or by a cut-off consumer, it changes
 * nothing: the pin bound counts from when it departed first, or a
 * consumer could pin its frames for good by repeating it. */
static void
handle_leave_locked (struct zcipc_server *s, struct consumer *c)
{
  if (!consumer_is_streaming (c))
    return;
  pthread_cond_broadcast (&s->cond);
  if (c->n_held == 0) {
    drop_consumer_locked (s, c, DROP_GONE, "left");
    return;
  }
  c->state = CONSUMER_LEAVING;
  c->departed_ns = zcipc_now_ns ();
}

/* Lock held. Takes the releases a consumer put in its channel. */
void
read_channel_locked (struct zcipc_server *s, struct consumer *c,
    struct release_list *released)
{
  uint64_t seqs[ZCIPC_WIRE_MAX_RELEASES];
  char why[160];

  while (zcipc_channel_is_open (&c->channel) && consumer_is_listened_to (c)) {
    const char *reason;
    unsigned int n;

    if (zcipc_channel_pop_releases (&c->channel, seqs,
            ZCIPC_WIRE_MAX_RELEASES, &n) < 0) {
      drop_corrupt_channel_locked (s, c);
      return;
    }
    if (n == 0)
      return;
    reason = handle_release_locked (s, c, seqs, n, released, why, sizeof why);
    if (reason)
      drop_consumer_locked (s, c, DROP_BROKEN, reason);
  }
}

/* Lock held. A message from a joined consumer (streaming, leaving or cut
 * off): NULL, or why to drop it. */
static const char *
handle_consumer_message_locked (struct zcipc_server *s, struct consumer *c,
    const struct zcipc_message *msg, struct release_list *released,
    char *why, size_t why_size)
{
  switch (msg->type) {
    case ZCIPC_WIRE_RELEASE:
      return handle_release_locked (s, c, msg->release.seqs,
          msg->release.count, released, why, why_size);
    case ZCIPC_WIRE_WAKE:
      /* It put releases in its channel after we asked for them by socket. */
      read_channel_locked (s, c, released);
      return NULL;
    case ZCIPC_WIRE_QUOTA:
      handle_quota_locked (s, c, msg->quota.max_held);
      return NULL;
    case ZCIPC_WIRE_REPORT:
      c->reported = true;
      c->frames_copied = msg->report.frames_copied;
      c->lag_ns = msg->report.lag_ns;
      return NULL;
    case ZCIPC_WIRE_LEAVE:
      handle_leave_locked (s, c);
      return NULL;
    default:
      snprintf (why, why_size, "sent %s, which consumers may not send",
          zcipc_wire_type_name (msg->type));
      return why;
  }
}

/* Lock held. A message from a connection in its handshake: HELLO makes it
 * a consumer, STATS_REQUEST a monitor. NULL, or why to drop it. */
static const char *
handle_handshake_message_locked (struct zcipc_server *s, struct consumer *c,
    const struct zcipc_message *msg, char *why, size_t why_size,
    bool *refused, bool *joined)
{
  if (msg->type == ZCIPC_WIRE_STATS_REQUEST)
    return handle_stats_request_locked (s, c, &msg->stats_request, why,
        why_size, refused);
  if (msg->type == ZCIPC_WIRE_HELLO)
    return handle_hello_locked (s, c, &msg->hello, why, why_size, refused,
        joined);
  snprintf (why, why_size, "sent %s before HELLO",
      zcipc_wire_type_name (msg->type));
  return why;
}

/* Lock held. A monitor may only ask for stats. */
static const char *
handle_monitor_message_locked (struct zcipc_server *s, struct consumer *c,
    const struct zcipc_message *msg, char *why, size_t why_size, bool *refused)
{
  if (msg->type == ZCIPC_WIRE_STATS_REQUEST)
    return handle_stats_request_locked (s, c, &msg->stats_request, why,
        why_size, refused);
  snprintf (why, why_size, "sent %s, which monitors may not send",
      zcipc_wire_type_name (msg->type));
  return why;
}

/* Lock held. Reads the next message on a consumer's socket into `msg`.
 * 0: read; -EAGAIN: nothing more to read (none waiting, or the consumer
 * hung up or sent what cannot be read: then it is dropped); -ENOMSG: a
 * type we do not know, to skip; -EBADMSG: malformed, `why` says how. */
static int
receive_message_locked (struct zcipc_server *s, struct consumer *c,
    void *buf, size_t cap, struct zcipc_message *msg, char *why,
    size_t why_size)
{
  int fds[ZCIPC_SOCKET_MAX_FDS];
  unsigned int n_fds = 0;
  size_t len = 0;
  int res;

  res = zcipc_socket_recv (c->fd, buf, cap, &len, fds,
      ZCIPC_SOCKET_MAX_FDS, &n_fds, 1);
  if (res == -EAGAIN)
    return -EAGAIN;
  if (res < 0 || len == 0) {
    drop_consumer_locked (s, c, res == -EPROTO ? DROP_BROKEN : DROP_GONE,
        res == -EPROTO ?
        "sent a malformed message (truncated, or carrying fds)" : "hung up");
    return -EAGAIN;
  }
  zcipc_close_fds (fds, n_fds); /* consumers never send fds */
  res = zcipc_wire_parse (buf, len, fds, n_fds, msg);
  if (res == -ENOMSG) {
    server_log (s, ZCIPC_LOG_DEBUG, "consumer %u: skipping unknown "
        "message type", c->info.id);
    return -ENOMSG;
  }
  if (res < 0) {
    snprintf (why, why_size, "sent a malformed %s message (%zu bytes)",
        zcipc_wire_type_name (msg->type), len);
    return -EBADMSG;
  }
  return 0;
}

/* Lock held. Reads everything pending on one consumer: its channel's
 * releases, then up to 64 messages on its socket, each handled as its
 * state allows. *joined: it was welcomed (the caller calls
 * consumer_joined, unlocked). */
void
read_consumer_locked (struct zcipc_server *s, struct consumer *c,
    struct release_list *released, bool *joined)
{
  /* Consumers only ever send small messages; a larger datagram is
   * truncated and refused. */
  uint8_t buf[1024] __attribute__((aligned (8)));
  char why[160];

  read_channel_locked (s, c, released);
  for (int budget = 64; budget > 0 && consumer_is_listened_to (c); budget--) {
    struct zcipc_message msg;
    const char *reason;
    bool refused = false;
    int res;

    res = receive_message_locked (s, c, buf, sizeof buf, &msg, why, sizeof why);
    if (res == -EAGAIN)
      return;
    if (res == -ENOMSG)
      continue;
    if (res < 0)
      reason = why;
    else if (consumer_is_monitor (c))
      reason = handle_monitor_message_locked (s, c, &msg, why, sizeof why,
          &refused);
    else if (consumer_in_handshake (c))
      reason = handle_handshake_message_locked (s, c, &msg, why, sizeof why,
          &refused, joined);
    else
      reason = handle_consumer_message_locked (s, c, &msg, released, why,
          sizeof why);
    if (reason)
      drop_consumer_locked (s, c, refused ? DROP_GONE : DROP_BROKEN, reason);
  }
}

/* Lock held. Unlinks consumer `index`, moving its holds to `released`. */
struct consumer *
remove_consumer_locked (struct zcipc_server *s, unsigned int index,
    struct release_list *released)
{
  struct consumer *c = s->consumers[index];

  for (uint32_t j = 0; j < c->info.quota; j++) {
    if (c->holds[j].frame) {
      release_list_add (released, c->holds[j].frame);
      s->stats.held--;
    }
  }
  s->consumers[index] = s->consumers[--s->n_consumers];
  /* Closed here, under the lock, so that a consumer gone from the stats
   * holds no fd or mapping of ours any more. A marker with nothing behind
   * it on the socket first: a consumer asleep on its channel looks at the
   * socket and finds the hang-up at once. */
  if (zcipc_channel_is_open (&c->channel))
    zcipc_channel_push (&c->channel, ZCIPC_CHANNEL_RECORD_SOCKET, NULL, 0);
  zcipc_channel_clear (&c->channel);
  close (c->fd);
  c->fd = -1;
  pthread_cond_broadcast (&s->cond);
  return c;
}

void
free_consumer (struct consumer *c)
{
  free (c->holds);
  free (c);
}

/* Lock not held. Tells whoever listens that a connection is gone. */
void
notify_left (struct zcipc_server *s, struct consumer *c, const char *reason)
{
  bool joined = consumer_has_joined (c);

  if (joined && s->callbacks.consumer_left)
    s->callbacks.consumer_left (s->data, &c->info, reason);
  if (consumer_role (c) == CONSUMER_MONITOR)
    server_log (s, ZCIPC_LOG_DEBUG, "monitor (pid %d) left: %s",
        (int) c->info.pid, reason);
  else
    server_log (s, joined ? ZCIPC_LOG_INFO : ZCIPC_LOG_DEBUG,
        "consumer %u (pid %d) left: %s", c->info.id, (int) c->info.pid, reason);
}

/* Lock held. The next dropped consumer with something for the reaper to
 * do, unlinked when it is done: *notify, it is to be reported gone (what
 * a cut-off one left in its ring is taken now); *gone, it is to be freed.
 * NULL when there is none. */
static struct consumer *
next_to_reap_locked (struct zcipc_server *s, struct release_list *released,
    bool *notify, bool *gone)
{
  for (unsigned int k = 0; k < s->n_consumers; k++) {
    struct consumer *d = s->consumers[k];

    if (!consumer_is_dropped (d))
      continue;
    if (!d->notified) {
      d->notified = *notify = true;
      if (consumer_is_cut_off (d))
        read_channel_locked (s, d, released);
    }
    if (!consumer_is_cut_off (d) || d->n_held == 0) {
      remove_consumer_locked (s, k, released);
      *gone = true;
    }
    if (*notify || *gone)
      return d;
  }
  return NULL;
}

/* Tells whoever listens that dropped consumers left, takes what a cut-off
 * one left in its ring, and frees those that are done: all but cut-off
 * ones that still hold frames. One at a time, so the callbacks run
 * unlocked. */
void
reap_dropped (struct zcipc_server *s, struct release_list *released)
{
  for (;;) {
    struct consumer *c;
    bool notify = false, gone = false;

    pthread_mutex_lock (&s->lock);
    c = next_to_reap_locked (s, released, &notify, &gone);
    pthread_mutex_unlock (&s->lock);
    run_releases (s, released);
    if (!c)
      return;
    if (notify)
      notify_left (s, c, c->drop_reason);
    if (gone)
      free_consumer (c);
  }
}
