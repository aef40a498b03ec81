/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* Who becomes what: the allow-list, the bound on handshakes in progress,
 * HELLO (the shares of the consumer places, the welcome and the sticky
 * state, the rejoin probation after a cut-off) and STATS_REQUEST (the
 * bound on monitors and the STATS_REPLY they get). These make the
 * HANDSHAKE -> STREAMING and HANDSHAKE -> MONITOR transitions of
 * server-private.h.
 *
 * Locking: every *_locked function runs with the server lock held;
 * peer_allowed() reads only what zcipc_server_new() set. */

#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server-private.h"
#include "zcipc/clock.h"

bool
peer_allowed (struct zcipc_server *s, const struct zcipc_peer_cred *cred)
{
  unsigned int i;

  if (s->n_allowed_uids == 0 && s->n_allowed_gids == 0)
    return true;
  for (i = 0; i < s->n_allowed_uids; i++)
    if (s->allowed_uids[i] == cred->uid)
      return true;
  for (i = 0; i < s->n_allowed_gids; i++)
    if (s->allowed_gids[i] == cred->gid)
      return true;
  return false;
}

/* Lock held. Makes room for one more handshake: the oldest in progress is
 * closed when ZCIPC_SERVER_MAX_HANDSHAKES are. An honest peer says HELLO
 * right after connecting, so the oldest is nearly always one that never
 * will. */
void
make_room_for_handshake_locked (struct zcipc_server *s)
{
  struct consumer *oldest = NULL;
  unsigned int n = 0;

  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (!consumer_in_handshake (c))
      continue;
    n++;
    if (!oldest || c->accepted_ns < oldest->accepted_ns)
      oldest = c;
  }
  if (n >= ZCIPC_SERVER_MAX_HANDSHAKES && oldest)
    drop_consumer_locked (s, oldest, DROP_GONE, "closed before its HELLO to "
        "make room for a newer connection");
}

/* Lock held. Until when consumers of `uid` are not waited for (0: they
 * are): see ZCIPC_SERVER_REJOIN_SKIP_NS. */
static int64_t
cut_off_until_locked (struct zcipc_server *s, uid_t uid)
{
  int64_t now = zcipc_now_ns ();

  for (unsigned int i = 0; i < MAX_CUT_OFF_UIDS; i++)
    if (s->cut_off_uids[i].uid == uid && s->cut_off_uids[i].until_ns > now)
      return s->cut_off_uids[i].until_ns;
  return 0;
}

/* Lock held. Remembers that a consumer of `uid` was cut off for the wait
 * timeout. */
void
remember_cut_off_locked (struct zcipc_server *s, uid_t uid)
{
  struct cut_off_uid *slot = &s->cut_off_uids[0];

  for (unsigned int i = 0; i < MAX_CUT_OFF_UIDS; i++) {
    struct cut_off_uid *e = &s->cut_off_uids[i];
    if (e->uid == uid || e->until_ns == 0) {
      slot = e;
      break;
    }
    if (e->until_ns < slot->until_ns)
      slot = e;
  }
  slot->uid = uid;
  slot->until_ns = zcipc_now_ns () + ZCIPC_SERVER_REJOIN_SKIP_NS;
}

/* Lock held. Creates a consumer's shared channel and sends it. Without
 * one the consumer still works, by socket: only a failed send fails. */
static int
send_channel_locked (struct zcipc_server *s, struct consumer *c)
{
  struct zcipc_channel ch;
  struct zcipc_wire_channel cm;
  size_t n;
  int res;

  res = zcipc_channel_create (&ch, s->channel_releases_by_socket);
  if (res < 0) {
    server_log (s, ZCIPC_LOG_WARNING, "consumer %u: no shared channel (%s), "
        "using the socket", c->info.id, strerror (-res));
    return 0;
  }
  n = zcipc_wire_init_channel (&cm, ch.size);
  if ((res = send_plain (c->fd, &cm, n, &ch.fd, 1)) < 0) {
    zcipc_channel_clear (&ch);
    return res;
  }
  c->channel = ch;
  return 0;
}

/* Lock held. The regions and sticky events a late joiner starts with. */
static int
send_sticky_state_locked (struct zcipc_server *s, struct consumer *c)
{
  unsigned int i;
  int res;

  for (i = 0; i < s->n_regions; i++)
    if ((res = send_region_add (c, &s->regions[i])) < 0)
      return res;
  for (i = 0; i < s->n_events; i++)
    if ((res = send_event (c, s->events[i].kind, s->events[i].payload,
                s->events[i].size)) < 0)
      return res;
  return 0;
}

/* Lock held. A consumer of a uid cut off lately is not waited for, for a
 * while. */
static void
start_rejoin_probation_locked (struct zcipc_server *s, struct consumer *c)
{
  c->skip_until_ns = cut_off_until_locked (s, c->info.uid);
  if (c->skip_until_ns)
    server_log (s, ZCIPC_LOG_INFO, "consumer %u (pid %d uid %u) joins within "
        "%lld s of a cut-off of its uid for the wait timeout: not waited "
        "for (as slow-consumer=skip) for %lld ms", c->info.id,
        (int) c->info.pid, (unsigned) c->info.uid,
        (long long) (ZCIPC_SERVER_REJOIN_SKIP_NS / 1000000000),
        (long long) ((c->skip_until_ns - zcipc_now_ns ()) / 1000000));
}

/* Lock held. Sends WELCOME, the channel if asked for, and the sticky
 * state: HANDSHAKE -> STREAMING. */
static int
welcome_locked (struct zcipc_server *s, struct consumer *c, uint32_t max_held,
    uint32_t flags)
{
  struct zcipc_wire_welcome m;
  size_t n;
  int res;

  c->info.quota = max_held < s->quota ? max_held : s->quota;
  /* Room for the largest quota a later QUOTA can be granted. */
  c->holds = calloc (ZCIPC_WIRE_MAX_QUOTA, sizeof *c->holds);
  if (!c->holds)
    return -ENOMEM;
  n = zcipc_wire_init_welcome (&m, c->info.quota, c->info.id);
  if ((res = send_plain (c->fd, &m, n, NULL, 0)) < 0)
    return res;
  if ((flags & ZCIPC_HELLO_FLAG_CHANNEL) &&
      (res = send_channel_locked (s, c)) < 0)
    return res;
  if ((res = send_sticky_state_locked (s, c)) < 0)
    return res;
  c->state = CONSUMER_STREAMING;
  start_rejoin_probation_locked (s, c);
  s->stats.consumers_joined++;
  pthread_cond_broadcast (&s->cond);
  return 0;
}

/* Lock held. Whether a consumer of `uid` and `pid` may take a place: NULL,
 * or why not (written to `why`). The rule, so that no one peer can take
 * every place and lock the others out:
 * - max_consumers places in all;
 * - one process may hold at most max(1, max_consumers - 1) of them;
 * - so may one uid other than the producer's own (a peer of our own uid
 *   can stop or trace the producer anyway: no boundary to defend there,
 *   and the usual case of one user's many consumers keeps every place). */
static const char *
consumer_share_refusal_locked (struct zcipc_server *s, pid_t pid, uid_t uid,
    char *why, size_t why_size)
{
  unsigned int share = s->max_consumers > 1 ? s->max_consumers - 1 : 1;
  unsigned int n = 0, of_pid = 0, of_uid = 0;

  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (!consumer_takes_place (c))
      continue;
    n++;
    of_pid += c->info.pid == pid;
    of_uid += c->info.uid == uid;
  }
  if (n >= s->max_consumers)
    snprintf (why, why_size, "too many consumers (max-consumers %u)",
        s->max_consumers);
  else if (of_pid >= share)
    snprintf (why, why_size, "too many consumers from process %d (%u of "
        "max-consumers %u; one place stays for others)", (int) pid, of_pid,
        s->max_consumers);
  else if (uid != geteuid () && of_uid >= share)
    snprintf (why, why_size, "too many consumers from uid %u (%u of "
        "max-consumers %u; one place stays for others)", (unsigned) uid,
        of_uid, s->max_consumers);
  else
    return NULL;
  return why;
}

/* Lock held. HELLO: a consumer joins if it speaks our version and there is
 * a place for it. NULL (*joined), or why to drop it; *refused when it was
 * told why with a REJECT of a refusal. */
const char *
handle_hello_locked (struct zcipc_server *s, struct consumer *c,
    const struct zcipc_wire_hello *hello, char *why, size_t why_size,
    bool *refused, bool *joined)
{
  int res;

  if (hello->version != ZCIPC_PROTOCOL_VERSION) {
    snprintf (why, why_size, "speaks protocol version %u, this producer "
        "speaks version %u", hello->version, ZCIPC_PROTOCOL_VERSION);
    reject (c->fd, -EPROTONOSUPPORT, why);
    return why;
  }
  if (consumer_share_refusal_locked (s, c->info.pid, c->info.uid, why,
          why_size)) {
    server_log (s, ZCIPC_LOG_WARNING, "refused consumer pid %d uid %u: %s",
        (int) c->info.pid, (unsigned) c->info.uid, why);
    reject (c->fd, -EUSERS, why);
    *refused = true;
    return why;
  }
  if ((res = welcome_locked (s, c, hello->max_held, hello->flags)) < 0) {
    snprintf (why, why_size, "could not be sent the stream state: %s",
        strerror (-res));
    return why;
  }
  *joined = true;
  return NULL;
}

static unsigned int
count_monitors_locked (struct zcipc_server *s)
{
  unsigned int n = 0;
  for (unsigned int i = 0; i < s->n_consumers; i++)
    if (consumer_is_monitor (s->consumers[i]))
      n++;
  return n;
}

/* Lock held. One STATS_REPLY record per streaming consumer (at most
 * ZCIPC_WIRE_STATS_MAX_CONSUMERS), in *records (the caller frees it);
 * returns how many, or -ENOMEM. */
static int
fill_stats_records_locked (struct zcipc_server *s,
    struct zcipc_wire_stats_consumer **records)
{
  uint32_t cap = count_streaming_locked (s), n = 0;

  if (cap > ZCIPC_WIRE_STATS_MAX_CONSUMERS)
    cap = ZCIPC_WIRE_STATS_MAX_CONSUMERS;
  *records = NULL;
  if (cap && !(*records = calloc (cap, sizeof **records)))
    return -ENOMEM;
  for (unsigned int i = 0; i < s->n_consumers && n < cap; i++) {
    struct consumer *c = s->consumers[i];
    struct zcipc_wire_stats_consumer *r = &(*records)[n];

    if (!consumer_is_streaming (c))
      continue;
    r->consumer_id = c->info.id;
    r->pid = (int32_t) c->info.pid;
    r->uid = (uint32_t) c->info.uid;
    r->quota = c->info.quota;
    r->held = c->n_held;
    r->flags = (c->reported ? ZCIPC_STATS_CONSUMER_REPORTED : 0) |
        (zcipc_channel_is_open (&c->channel) ? ZCIPC_STATS_CONSUMER_CHANNEL :
        0);
    r->frames_sent = c->frames_sent;
    r->frames_dropped = c->frames_missed;
    r->frames_copied = c->reported ? c->frames_copied : 0;
    r->lag_ns = c->reported ? c->lag_ns : -1;
    n++;
  }
  return (int) n;
}

/* Lock held. Answers a monitor's STATS_REQUEST with one STATS_REPLY: the
 * stream and every streaming consumer, as zcipc_server_get_stats() sees
 * them. */
static int
send_stats_reply_locked (struct zcipc_server *s, struct consumer *monitor)
{
  struct zcipc_wire_stats_consumer *records;
  struct zcipc_wire_stats_reply m;
  struct iovec iov[3];
  unsigned int n_iov = 0;
  uint32_t caps_size = s->caps ? (uint32_t) strlen (s->caps) : 0;
  int n, res;

  if ((n = fill_stats_records_locked (s, &records)) < 0)
    return n;
  iov[n_iov++] = (struct iovec) { &m, zcipc_wire_init_stats_reply (&m,
        (uint32_t) n, caps_size)
  };
  m.pid = (int32_t) getpid ();
  m.uid = (uint32_t) geteuid ();
  m.monotonic_ns = zcipc_now_ns ();
  m.frames_sent = s->stats.frames_sent;
  m.frames_unsent = s->stats.frames_unsent;
  m.flags = s->caps_truncated ? ZCIPC_STATS_FLAG_CAPS_TRUNCATED : 0;
  m.max_consumers = s->max_consumers;
  m.quota = s->quota;
  m.n_monitors = count_monitors_locked (s);
  m.last_frame_ns = s->last_frame_ns;
  if (n)
    iov[n_iov++] = (struct iovec) { records, n * sizeof *records };
  if (caps_size)
    iov[n_iov++] = (struct iovec) { s->caps, caps_size };
  /* Never blocks: a monitor that does not read its replies is dropped. */
  res = zcipc_socket_send (monitor->fd, iov, (int) n_iov, NULL, 0, 1);
  free (records);
  return res;
}

/* Lock held. A STATS_REQUEST: the first one makes the connection a monitor
 * (if there is room for one): HANDSHAKE -> MONITOR. Returns NULL, or why to
 * drop it; *refused when it was told why with a REJECT. */
const char *
handle_stats_request_locked (struct zcipc_server *s, struct consumer *c,
    const struct zcipc_wire_stats_request *req, char *why, size_t why_size,
    bool *refused)
{
  int res;

  if (req->version != ZCIPC_STATS_VERSION) {
    snprintf (why, why_size, "asked for stats version %u, this producer "
        "speaks stats version %u", req->version, ZCIPC_STATS_VERSION);
    reject (c->fd, -EPROTONOSUPPORT, why);
    *refused = true;
    return why;
  }
  if (!consumer_is_monitor (c)) {
    if (count_monitors_locked (s) >= ZCIPC_SERVER_MAX_MONITORS) {
      snprintf (why, why_size, "too many monitors (at most %u at once)",
          ZCIPC_SERVER_MAX_MONITORS);
      reject (c->fd, -EUSERS, why);
      *refused = true;
      return why;
    }
    c->state = CONSUMER_MONITOR;
    server_log (s, ZCIPC_LOG_DEBUG, "monitor connected: pid %d uid %u",
        (int) c->info.pid, (unsigned) c->info.uid);
  }
  if ((res = send_stats_reply_locked (s, c)) < 0) {
    snprintf (why, why_size, "could not be sent its stats: %s",
        strerror (-res));
    return why;
  }
  return NULL;
}
