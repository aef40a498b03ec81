/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The frames a consumer holds: taken from a FRAME message (checked against
 * the quota and the regions it points into), released from any thread,
 * and what goes back to the producer for them: releases (through the
 * channel, else by socket, queued while the socket is full), QUOTA and
 * REPORT. The client's lock protects all of it; *_locked functions expect
 * it held, the public ones take it. */

#define _GNU_SOURCE
#include <errno.h>
#include <sys/uio.h>

#include "client-private.h"
#include "zcipc/fds.h"
#include "zcipc/socket.h"

/* Puts a release in the channel while the producer reads them there;
 * false: it goes by socket. */
static bool
channel_release_locked (struct zcipc_client *c, uint64_t seq)
{
  struct zcipc_wire_wake m;
  struct iovec iov = { &m, zcipc_wire_init_wake (&m) };
  int res;

  if (!zcipc_channel_is_open (&c->channel) ||
      zcipc_channel_releases_by_socket (&c->channel))
    return false;
  res = zcipc_channel_push_release (&c->channel, seq);
  if (res < 0)
    return false;
  /* The producer switched to socket releases meanwhile and may sleep in
   * poll(): have it read the ring. A full socket does as well: it reads
   * the ring with whatever it reads from us. */
  if (res == 1)
    zcipc_socket_send (c->fd, &iov, 1, NULL, 0, 1);
  return true;
}

/* Sends the queued releases as one message. A full socket (the producer
 * is busy) keeps them queued for the next try; a closed one drops them: the
 * producer gets every hold back when a connection goes. */
void
client_flush_releases_locked (struct zcipc_client *c)
{
  struct zcipc_wire_release m;
  struct iovec iov[2];
  int res;

  if (c->n_pending == 0)
    return;
  if (c->fd < 0) {
    c->n_pending = 0;
    return;
  }
  iov[0] = (struct iovec) { &m, zcipc_wire_init_release (&m, c->n_pending) };
  iov[1] = (struct iovec) { c->pending, c->n_pending * sizeof (uint64_t) };
  res = zcipc_socket_send (c->fd, iov, 2, NULL, 0, 1);
  if (res != -EAGAIN)
    c->n_pending = 0;
}

/* Sends a QUOTA that is due; a full socket keeps it due. */
void
client_send_quota_locked (struct zcipc_client *c)
{
  struct zcipc_wire_quota m;
  struct iovec iov = { &m, zcipc_wire_init_quota (&m, c->max_held) };

  if (!c->quota_unsent || c->fd < 0 || c->leaving)
    return;
  if (zcipc_socket_send (c->fd, &iov, 1, NULL, 0, 1) != -EAGAIN)
    c->quota_unsent = false;
}

unsigned int
client_held_now_locked (struct zcipc_client *c)
{
  unsigned int n = 0;
  for (uint32_t i = 0; i < ZCIPC_WIRE_MAX_QUOTA; i++)
    if (c->held[i].seq && c->held[i].connection == c->connection)
      n++;
  return n;
}

/* Finds a free entry for frame `info`, which must be within the quota and
 * not held already. */
static int
find_free_slot_locked (struct zcipc_client *c,
    const struct zcipc_wire_frame *info, struct held_frame **out)
{
  struct held_frame *slot = NULL;
  uint32_t held = 0;

  /* Frames still held from an earlier connection are not this producer
   * connection's business: it gave them back when that one closed. */
  for (uint32_t i = 0; i < ZCIPC_WIRE_MAX_QUOTA; i++) {
    if (c->held[i].seq && c->held[i].connection == c->connection) {
      held++;
      if (c->held[i].seq == info->seq) {
        client_set_reason (c, "the producer sent frame %llu twice",
            (unsigned long long) info->seq);
        return -EPROTO;
      }
    } else if (!c->held[i].seq && !slot) {
      slot = &c->held[i];
    }
  }
  if (held >= c->quota || !slot || info->seq == 0) {
    client_set_reason (c, "the producer sent more frames than the %u "
        "granted", c->quota);
    return -EPROTO;
  }
  *out = slot;
  return 0;
}

/* Points the event at the frame's metas: in the message, or copied out of
 * the region that the frame's last memory names (then not a memory of the
 * frame: *n_mems counts it no more). */
static int
take_metas_locked (struct zcipc_client *c, const struct zcipc_message *msg,
    struct zcipc_client_event *ev, uint32_t * n_mems)
{
  const struct zcipc_wire_frame *info = &msg->frame.info;
  int res;

  ev->frame.meta = msg->frame.meta;
  ev->frame.meta_size = info->meta_size;
  if (info->frame_flags & ZCIPC_FRAME_FLAG_METAS_IN_REGION) {
    (*n_mems)--;                /* the parser saw to it that there is one */
    res = client_copy_metas_locked (c, info->seq, &msg->frame.mems[*n_mems]);
    if (res < 0)
      return res;
    ev->frame.meta = c->metas;
    ev->frame.meta_size = (uint32_t) msg->frame.mems[*n_mems].size;
  }
  return 0;
}

/* Resolves each of the frame's `n_mems` memories in its region (mapping it
 * at the first frame into it) into the event, and notes the regions in
 * `slot`. */
static int
resolve_mems_locked (struct zcipc_client *c, const struct zcipc_message *msg,
    uint32_t n_mems, struct zcipc_client_event *ev, struct held_frame *slot)
{
  unsigned long long seq = (unsigned long long) msg->frame.info.seq;
  int res;

  if (n_mems > ZCIPC_WIRE_MAX_MEMS) {
    client_set_reason (c, "frame %llu has more than %u memories", seq,
        ZCIPC_WIRE_MAX_MEMS);
    return -EPROTO;
  }
  for (uint32_t i = 0; i < n_mems; i++) {
    const struct zcipc_wire_mem *m = &msg->frame.mems[i];
    struct client_region *r = client_find_region_locked (c, m->region_id);
    if (!r) {
      client_set_reason (c, "frame %llu points into unknown region %u", seq,
          m->region_id);
      return -EPROTO;
    }
    if (m->offset > r->size || m->size > r->size - m->offset) {
      client_set_reason (c, "frame %llu points outside region %u", seq,
          m->region_id);
      return -EPROTO;
    }
    if ((res = client_map_region_locked (c, r)) < 0)
      return res;
    ev->frame.mems[i] = (struct zcipc_client_mem) {
      .data = (const uint8_t *) r->region.data + m->offset,
      .size = m->size,
      .region_id = r->id,
      .region_flags = r->flags,
      .region_fd = r->region.fd,
      .offset = m->offset,
      .region_data = r->region.data,
      .region_size = r->region.size,
    };
    slot->regions[i] = r;
  }
  return 0;
}

/* Gives frame `seq` back: through the channel, else queued for the
 * socket (client_flush_releases_locked() sends the queue). false: the
 * queue is full, which only a producer sending more than it granted
 * brings about. */
static bool
queue_release_locked (struct zcipc_client *c, uint64_t seq)
{
  if (channel_release_locked (c, seq))
    return true;
  if (c->n_pending >= ZCIPC_WIRE_MAX_QUOTA)
    return false;
  c->pending[c->n_pending++] = seq;
  return true;
}

/* A frame with no memory: nothing of it stays in shared memory (its metas
 * were copied out), so it goes back at once and holds no slot here or at
 * the producer. */
static int
give_back_at_once_locked (struct zcipc_client *c, uint64_t seq)
{
  /* Releases the socket could not take yet stay queued: a producer that
   * keeps sending regardless would overflow the queue. */
  if (!queue_release_locked (c, seq)) {
    client_set_reason (c, "the producer sent more frames than the %u "
        "granted", c->quota);
    return -EPROTO;
  }
  client_flush_releases_locked (c);
  return 0;
}

/* Takes the frame FRAME `msg` sends into `ev` and holds it (and its
 * regions, and the client) until zcipc_client_release(). */
int
client_take_frame_locked (struct zcipc_client *c,
    const struct zcipc_message *msg, struct zcipc_client_event *ev)
{
  const struct zcipc_wire_frame *info = &msg->frame.info;
  struct held_frame *slot;
  uint32_t n_mems = info->n_mems;
  int res;

  if ((res = find_free_slot_locked (c, info, &slot)) < 0 ||
      (res = take_metas_locked (c, msg, ev, &n_mems)) < 0 ||
      (res = resolve_mems_locked (c, msg, n_mems, ev, slot)) < 0)
    return res;
  ev->type = ZCIPC_CLIENT_FRAME;
  ev->frame.info = *info;
  ev->frame.n_mems = n_mems;
  if (n_mems == 0)
    return give_back_at_once_locked (c, info->seq);
  for (uint32_t i = 0; i < n_mems; i++)
    slot->regions[i]->refs++;
  slot->n_regions = n_mems;
  slot->seq = info->seq;
  slot->connection = c->connection;
  zcipc_client_ref (c);         /* dropped by zcipc_client_release */
  return 0;
}

int
zcipc_client_release (struct zcipc_client *c, uint64_t seq)
{
  uint32_t i;

  pthread_mutex_lock (&c->lock);
  for (i = 0; i < ZCIPC_WIRE_MAX_QUOTA && c->held[i].seq != seq; i++);
  if (seq == 0 || i == ZCIPC_WIRE_MAX_QUOTA) {
    pthread_mutex_unlock (&c->lock);
    return -ENOENT;
  }
  /* At most quota frames are held, so the queue cannot overflow. A frame
   * from an earlier connection goes back to nobody: that producer
   * connection released it when it closed, and this one never sent it. */
  if (c->fd >= 0 && c->held[i].connection == c->connection)
    queue_release_locked (c, seq);
  client_flush_releases_locked (c);
  for (uint32_t j = 0; j < c->held[i].n_regions; j++)
    client_region_unref_locked (c, c->held[i].regions[j]);
  c->held[i].seq = 0;
  c->held[i].n_regions = 0;
  if (c->leaving && client_held_now_locked (c) == 0) {
    c->leaving = false;
    client_close_socket_locked (c);
  }
  pthread_mutex_unlock (&c->lock);
  zcipc_client_unref (c);
  return 0;
}

/* Reads what is queued on the socket without blocking and releases every
 * frame in it (they were never handed out). */
void
client_release_unread_locked (struct zcipc_client *c)
{
  for (int budget = 4 * ZCIPC_WIRE_MAX_QUOTA; budget > 0; budget--) {
    struct zcipc_message msg;
    int fds[ZCIPC_SOCKET_MAX_FDS];
    unsigned int n_fds = 0;
    size_t len = 0;

    if (client_read_message (c, c->fd, &len, fds, &n_fds) < 0)
      break;
    if (zcipc_wire_parse (c->buffer, len, fds, n_fds, &msg) == 0 &&
        msg.type == ZCIPC_WIRE_FRAME && c->n_pending < ZCIPC_WIRE_MAX_QUOTA)
      c->pending[c->n_pending++] = msg.frame.info.seq;
    zcipc_close_fds (fds, n_fds);
  }
  client_flush_releases_locked (c);
}

int
zcipc_client_send_report (struct zcipc_client *c, uint64_t frames_copied,
    int64_t lag_ns)
{
  struct zcipc_wire_report m;
  struct iovec iov = { &m, zcipc_wire_init_report (&m, frames_copied,
        lag_ns < -1 ? -1 : lag_ns)
  };
  int res;

  pthread_mutex_lock (&c->lock);
  /* Best effort: a full socket skips this one, the next comes soon. */
  res = c->fd >= 0 && !c->leaving ?
      zcipc_socket_send (c->fd, &iov, 1, NULL, 0, 1) : -ENOTCONN;
  pthread_mutex_unlock (&c->lock);
  return res;
}

int
zcipc_client_request_quota (struct zcipc_client *c, uint32_t max_held)
{
  if (max_held == 0 || max_held > ZCIPC_WIRE_MAX_QUOTA)
    return -EINVAL;
  pthread_mutex_lock (&c->lock);
  if (max_held > c->max_held) {
    c->max_held = max_held;
    c->quota_unsent = true;
    client_send_quota_locked (c);
  }
  pthread_mutex_unlock (&c->lock);
  return 0;
}

unsigned int
zcipc_client_held (struct zcipc_client *c)
{
  unsigned int n;
  pthread_mutex_lock (&c->lock);
  n = client_held_now_locked (c);
  pthread_mutex_unlock (&c->lock);
  return n;
}
