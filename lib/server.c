/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zcipc/clock.h"
#include "zcipc/channel.h"
#include "zcipc/server.h"
#include "zcipc/socket.h"
#include "zcipc/result.h"

/* Every kind of connection is bounded on its own, so that a connect storm
 * cannot exhaust fds or memory and no kind crowds out another:
 * - handshakes in progress (no HELLO or STATS_REQUEST yet): at most
 *   ZCIPC_SERVER_MAX_HANDSHAKES, the oldest closed to make room for a new
 *   one, each closed after ZCIPC_SERVER_HANDSHAKE_TIMEOUT_NS;
 * - consumers (past HELLO, cut-off and leaving ones that still hold frames
 *   included): max_consumers, with a share per process and per foreign uid
 *   (see consumer_share_refusal_locked());
 * - monitors (STATS_REQUEST): ZCIPC_SERVER_MAX_MONITORS. */

struct hold
{
  uint64_t seq;
  uint64_t bytes;               /* of shared memory the frame pins */
  void *frame;
};

struct consumer
{
  int fd;
  bool ready;                   /* past the handshake */
  bool dropping;                /* no more frames; the thread will free it */
  /* Dropped by our policy (wait timeout, too slow) while alive and holding
   * frames: the frames it holds stay its own, so their slots are not
   * reused under it, until it releases them or hangs up. */
  bool cut_off;
  bool notified;                /* consumer_left was called */
  bool leaving;                 /* said LEAVE: no more frames, holds kept */
  int64_t accepted_ns;          /* for the handshake deadline */
  /* Since when it pins frames that it will never be sent more after (it
   * left, or was cut off): the pin bound counts from here. 0: it does not. */
  int64_t departed_ns;
  /* Joined soon after its uid was cut off for the wait timeout: the
   * producer does not wait for it (as slow-consumer=skip) until then. */
  int64_t skip_until_ns;
  bool monitor;                 /* asks for stats, never gets frames */
  bool reported;                /* sent a REPORT: the two below are its */
  uint64_t frames_copied;
  int64_t lag_ns;
  struct zcipc_consumer_info info;
  struct zcipc_channel channel; /* open if the consumer asked for one */
  struct hold *holds;           /* ZCIPC_WIRE_MAX_QUOTA entries, the first
                                 * info.quota in use; frame NULL = free */
  uint32_t n_held;
  /* Since when it holds its whole quota (0: it has room): how long the
   * producer could not send it a frame, which the wait timeout bounds. */
  int64_t full_since_ns;
  uint64_t frames_sent;
  uint64_t frames_missed;
  char drop_reason[160];
};

struct stored_region
{
  uint32_t id;
  uint32_t flags;
  uint64_t size;
  int fd;
};

struct stored_event
{
  uint32_t kind;
  uint32_t size;
  uint8_t *payload;
};

#define MAX_STICKY_EVENTS 32

/* Uids recently cut off for the wait timeout (see
 * ZCIPC_SERVER_REJOIN_SKIP_NS): the oldest entry makes room. */
#define MAX_CUT_OFF_UIDS 16

struct cut_off_uid
{
  uid_t uid;
  int64_t until_ns;
};

struct zcipc_server
{
  char *path;
  int listen_fd;
  struct zcipc_socket_owner socket_owner;       /* to remove only our own file */
  int wake_fd;                  /* eventfd: stop the thread */
  pthread_t thread;
  bool thread_started;

  struct zcipc_server_callbacks callbacks;
  void *data;
  uint32_t quota;
  uint32_t max_consumers;
  uid_t *allowed_uids;
  unsigned int n_allowed_uids;
  gid_t *allowed_gids;
  unsigned int n_allowed_gids;

  pthread_mutex_t lock;         /* protects everything below */
  pthread_cond_t cond;          /* a consumer joined, left or released */
  bool stopping;
  bool flushing;
  /* Lazy releases: see zcipc_server_set_lazy_releases(). While `lazy` and
   * now < lazy_until, the thread does not wake for releases. */
  bool lazy;
  int64_t lazy_window;
  int64_t lazy_until;
  /* What channel consumers are told: releases by socket (the thread reads
   * them) or in the ring (the next frame reads them). */
  bool channel_releases_by_socket;
  struct consumer **consumers;
  unsigned int n_consumers;
  uint32_t next_consumer_id;
  uint64_t next_seq;
  struct stored_region *regions;
  unsigned int n_regions;
  struct stored_event events[MAX_STICKY_EVENTS];
  unsigned int n_events;
  struct zcipc_server_stats stats;
  bool last_frame_woke;
  char *caps;                   /* for STATS_REPLY; NULL before caps */
  int64_t last_frame_ns;        /* when the last frame was sent or skipped */
  bool caps_truncated;
  int64_t pin_timeout_ns;       /* < 0: frames are pinned for good */
  uint64_t pin_max_bytes;
  struct cut_off_uid cut_off_uids[MAX_CUT_OFF_UIDS];
  /* Only the thread: accept failed (out of fds, say), so the listening
   * socket is not polled until then; failures not logged yet. */
  int64_t accept_paused_until;
  int64_t accept_next_log;
  unsigned int accept_failures;
};

static void
server_log (struct zcipc_server *s, enum zcipc_log_level level,
    const char *format, ...) __attribute__((format (printf, 3, 4)));

static void
server_log (struct zcipc_server *s, enum zcipc_log_level level,
    const char *format, ...)
{
  char message[256];
  va_list args;

  if (!s->callbacks.log)
    return;
  va_start (args, format);
  vsnprintf (message, sizeof message, format, args);
  va_end (args);
  s->callbacks.log (s->data, level, message);
}

/* Lock held. Sends one message to a consumer: through its channel if it
 * has one, where a message with fds (or too big for the ring) goes by
 * socket with a marker in the ring at its place. -EAGAIN: no room now. */
static int
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

/* Why a consumer is dropped, which decides what becomes of its holds. */
enum drop_kind
{
  DROP_GONE,                    /* it hung up or left: not counted */
  DROP_BROKEN,                  /* it broke the protocol: holds taken back */
  DROP_CUT_OFF,                 /* our policy: it keeps what it holds */
};

static void wake_thread (struct zcipc_server *s);

/* Lock held. Stops the stream to a consumer; the thread frees it (and
 * takes back its holds) once it hangs up or, cut off, has released them. */
static void
drop_consumer_locked (struct zcipc_server *s, struct consumer *c,
    enum drop_kind kind, const char *reason)
{
  if (c->dropping) {
    /* A cut-off consumer that hangs up or misbehaves gives its holds back:
     * the first reason stands. */
    if (c->cut_off && kind != DROP_CUT_OFF) {
      c->cut_off = false;
      shutdown (c->fd, SHUT_RDWR);
    }
    return;
  }
  c->dropping = true;
  if (kind != DROP_GONE && !c->monitor)
    s->stats.consumers_dropped++;
  snprintf (c->drop_reason, sizeof c->drop_reason, "%s", reason);
  /* Tell it why (a consumer dropped for the wait timeout should not think
   * the producer died); a peer that already hung up just misses it. */
  if (c->ready) {
    struct zcipc_wire_reject m;
    struct iovec iov = { &m, zcipc_wire_init_reject (&m, -ECONNABORTED,
          reason)
    };
    consumer_send (c, &iov, 1, NULL, 0);
  }
  c->cut_off = kind == DROP_CUT_OFF && c->n_held > 0;
  if (c->cut_off && !c->departed_ns)
    c->departed_ns = zcipc_now_ns ();
  if (c->cut_off) {
    /* It reads what is queued, then the end of the stream; we read its
     * releases, from now on by socket. The thread takes what is in its
     * ring already. */
    shutdown (c->fd, SHUT_WR);
    if (zcipc_channel_is_open (&c->channel))
      zcipc_channel_set_releases_by_socket (&c->channel, true);
    wake_thread (s);
  } else {
    shutdown (c->fd, SHUT_RDWR);
  }
  /* A consumer asleep on its channel would see the hang-up only when its
   * sleep times out. */
  if (zcipc_channel_is_open (&c->channel))
    zcipc_channel_wake (&c->channel);
}

/* Lock held. Whether we still read what a consumer sends: releases of a
 * cut-off one too. */
static bool
consumer_listened_to (const struct consumer *c)
{
  return !c->dropping || c->cut_off;
}

static int
send_plain (int fd, const void *msg, size_t size, const void *extra,
    size_t extra_size, const int *fds, unsigned int n_fds)
{
  struct iovec iov[2] = { {(void *) msg, size}, {(void *) extra, extra_size} };
  return zcipc_socket_send (fd, iov, extra_size ? 2 : 1, fds, n_fds, 1);
}

static int
send_region_add (struct consumer *c, const struct stored_region *r)
{
  struct zcipc_wire_region_add m;
  struct iovec iov = { &m, zcipc_wire_init_region_add (&m, r->id, r->flags,
        r->size)
  };
  return consumer_send (c, &iov, 1, &r->fd, 1);
}

static int
send_event (struct consumer *c, uint32_t kind, const void *payload,
    uint32_t size)
{
  struct zcipc_wire_event m;
  struct iovec iov[2] = { {&m, zcipc_wire_init_event (&m, kind, size)},
  {(void *) payload, size}
  };
  return consumer_send (c, iov, size ? 2 : 1, NULL, 0);
}

static bool
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

static void
reject (int fd, int error, const char *reason)
{
  struct zcipc_wire_reject m;
  size_t n = zcipc_wire_init_reject (&m, error, reason);
  send_plain (fd, &m, n, NULL, 0, NULL, 0);
}

/* Lock held. A connection that has not said what it is yet. */
static bool
in_handshake (const struct consumer *c)
{
  return !c->ready && !c->monitor && !c->dropping;
}

/* Lock held. Makes room for one more handshake: the oldest in progress is
 * closed when ZCIPC_SERVER_MAX_HANDSHAKES are. An honest peer says HELLO
 * right after connecting, so the oldest is nearly always one that never
 * will. */
static void
make_room_for_handshake_locked (struct zcipc_server *s)
{
  struct consumer *oldest = NULL;
  unsigned int n = 0;

  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (!in_handshake (c))
      continue;
    n++;
    if (!oldest || c->accepted_ns < oldest->accepted_ns)
      oldest = c;
  }
  if (n >= ZCIPC_SERVER_MAX_HANDSHAKES && oldest)
    drop_consumer_locked (s, oldest, DROP_GONE, "closed before its HELLO to "
        "make room for a newer connection");
}

/* accept() failed for want of fds or memory: the connection stays pending,
 * so the listening socket would read as ready at once, forever. Stop polling
 * it for a while, and log once per period with the count. */
static void
back_off_accept (struct zcipc_server *s, int error)
{
  int64_t now = zcipc_now_ns ();

  s->accept_paused_until = now + ZCIPC_SERVER_ACCEPT_BACKOFF_NS;
  s->accept_failures++;
  if (now >= s->accept_next_log) {
    server_log (s, ZCIPC_LOG_WARNING, "accept failed %u time(s): %s; not "
        "accepting for %lld ms at a time (logged at most every %lld s)",
        s->accept_failures, strerror (-error),
        (long long) (ZCIPC_SERVER_ACCEPT_BACKOFF_NS / 1000000),
        (long long) (ZCIPC_SERVER_ACCEPT_LOG_PERIOD_NS / 1000000000));
    s->accept_failures = 0;
    s->accept_next_log = now + ZCIPC_SERVER_ACCEPT_LOG_PERIOD_NS;
  }
}

static void
accept_pending (struct zcipc_server *s)
{
  for (;;) {
    struct zcipc_peer_cred cred;
    struct consumer *c, **grown;
    int fd, res;

    res = zcipc_socket_accept (s->listen_fd, &fd, &cred);
    if (res == -EAGAIN)
      return;
    if (res < 0) {
      back_off_accept (s, res);
      return;
    }
    if (!peer_allowed (s, &cred)) {
      server_log (s, ZCIPC_LOG_WARNING,
          "refused consumer pid %d uid %u gid %u: not on the allow-list",
          (int) cred.pid, (unsigned) cred.uid, (unsigned) cred.gid);
      {
        /* Named, so the consumer's message says whom to add; only the
         * peer's effective gid is known (SO_PEERCRED), not its other
         * groups. */
        char why[ZCIPC_WIRE_REASON_SIZE];
        snprintf (why, sizeof why, "uid %u gid %u not allowed by this "
            "producer's allowed-uids/allowed-gids (only the primary gid "
            "counts)", (unsigned) cred.uid, (unsigned) cred.gid);
        reject (fd, -EACCES, why);
      }
      close (fd);
      continue;
    }
    pthread_mutex_lock (&s->lock);
    make_room_for_handshake_locked (s);
    c = calloc (1, sizeof *c);
    grown = realloc (s->consumers, (s->n_consumers + 1) * sizeof *grown);
    if (!c || !grown) {
      if (grown)
        s->consumers = grown;
      pthread_mutex_unlock (&s->lock);
      free (c);
      close (fd);
      continue;
    }
    s->consumers = grown;
    c->fd = fd;
    c->accepted_ns = zcipc_now_ns ();
    c->info.id = ++s->next_consumer_id;
    c->info.pid = cred.pid;
    c->info.uid = cred.uid;
    c->info.gid = cred.gid;
    s->consumers[s->n_consumers++] = c;
    pthread_mutex_unlock (&s->lock);
    server_log (s, ZCIPC_LOG_DEBUG, "connection from pid %d uid %u",
        (int) cred.pid, (unsigned) cred.uid);
  }
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
static void
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

/* Lock held. Sends WELCOME, the channel if asked for, and the sticky
 * state. */
static int
welcome_locked (struct zcipc_server *s, struct consumer *c, uint32_t max_held,
    uint32_t flags)
{
  struct zcipc_wire_welcome m;
  unsigned int i;
  size_t n;
  int res;

  c->info.quota = max_held < s->quota ? max_held : s->quota;
  /* Room for the largest quota a later QUOTA can be granted. */
  c->holds = calloc (ZCIPC_WIRE_MAX_QUOTA, sizeof *c->holds);
  if (!c->holds)
    return -ENOMEM;
  n = zcipc_wire_init_welcome (&m, c->info.quota, c->info.id);
  if ((res = send_plain (c->fd, &m, n, NULL, 0, NULL, 0)) < 0)
    return res;
  if (flags & ZCIPC_HELLO_FLAG_CHANNEL) {
    struct zcipc_channel ch;
    struct zcipc_wire_channel cm;

    /* Without a channel the consumer still works, by socket. */
    res = zcipc_channel_create (&ch, s->channel_releases_by_socket);
    if (res < 0) {
      server_log (s, ZCIPC_LOG_WARNING, "consumer %u: no shared channel (%s), "
          "using the socket", c->info.id, strerror (-res));
    } else {
      n = zcipc_wire_init_channel (&cm, ch.size);
      if ((res = send_plain (c->fd, &cm, n, NULL, 0, &ch.fd, 1)) < 0) {
        zcipc_channel_clear (&ch);
        return res;
      }
      c->channel = ch;
    }
  }
  for (i = 0; i < s->n_regions; i++)
    if ((res = send_region_add (c, &s->regions[i])) < 0)
      return res;
  for (i = 0; i < s->n_events; i++)
    if ((res = send_event (c, s->events[i].kind, s->events[i].payload,
                s->events[i].size)) < 0)
      return res;
  c->ready = true;
  c->skip_until_ns = cut_off_until_locked (s, c->info.uid);
  if (c->skip_until_ns)
    server_log (s, ZCIPC_LOG_INFO, "consumer %u (pid %d uid %u) joins within "
        "%lld s of a cut-off of its uid for the wait timeout: not waited "
        "for (as slow-consumer=skip) for %lld ms", c->info.id,
        (int) c->info.pid, (unsigned) c->info.uid,
        (long long) (ZCIPC_SERVER_REJOIN_SKIP_NS / 1000000000),
        (long long) ((c->skip_until_ns - zcipc_now_ns ()) / 1000000));
  s->stats.consumers_joined++;
  pthread_cond_broadcast (&s->cond);
  return 0;
}

/* Frames to hand back once the lock is dropped. Small lists live on the
 * stack: a frame's send must not allocate. */
#define RELEASE_LIST_FIXED 32

struct release_list
{
  void **frames;
  unsigned int n, cap;
  void *fixed[RELEASE_LIST_FIXED];
};

#define RELEASE_LIST_INIT(l) { (l).fixed, 0, RELEASE_LIST_FIXED, { 0 } }

static void
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

static void
release_list_clear (struct release_list *l)
{
  if (l->frames != l->fixed)
    free (l->frames);
  l->frames = l->fixed;
  l->cap = RELEASE_LIST_FIXED;
  l->n = 0;
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
  if (c->leaving && c->n_held == 0)
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

  if (c->dropping || c->leaving || quota <= c->info.quota) {
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

/* Lock held. A consumer's channel indices are its own to publish: one that
 * no ring could hold means it scribbled on the channel. */
static void
drop_corrupt_channel_locked (struct zcipc_server *s, struct consumer *c)
{
  drop_consumer_locked (s, c, DROP_BROKEN,
      "wrote an impossible index into its channel");
}

/* Lock held. Takes the releases a consumer put in its channel. */
static void
read_channel_locked (struct zcipc_server *s, struct consumer *c,
    struct release_list *released)
{
  uint64_t seqs[ZCIPC_WIRE_MAX_RELEASES];
  char why[160];

  while (zcipc_channel_is_open (&c->channel) && consumer_listened_to (c)) {
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
    if (!c->ready || (c->dropping && !c->cut_off))
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

static unsigned int
count_monitors_locked (struct zcipc_server *s)
{
  unsigned int n = 0;
  for (unsigned int i = 0; i < s->n_consumers; i++)
    if (s->consumers[i]->monitor && !s->consumers[i]->dropping)
      n++;
  return n;
}

/* Lock held. Answers a monitor's STATS_REQUEST with one STATS_REPLY: the
 * stream and every streaming consumer, as zcipc_server_get_stats() sees
 * them. */
static int
send_stats_reply_locked (struct zcipc_server *s, struct consumer *monitor)
{
  struct zcipc_wire_stats_consumer *records = NULL;
  struct zcipc_wire_stats_reply m;
  struct iovec iov[3];
  unsigned int n_iov = 0;
  uint32_t n = 0, caps_size = s->caps ? (uint32_t) strlen (s->caps) : 0;
  int res;

  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (c->ready && !c->dropping && !c->leaving)
      n++;
  }
  if (n > ZCIPC_WIRE_STATS_MAX_CONSUMERS)
    n = ZCIPC_WIRE_STATS_MAX_CONSUMERS;
  if (n && !(records = calloc (n, sizeof *records)))
    return -ENOMEM;
  n = 0;
  for (unsigned int i = 0; i < s->n_consumers &&
      n < ZCIPC_WIRE_STATS_MAX_CONSUMERS; i++) {
    struct consumer *c = s->consumers[i];
    struct zcipc_wire_stats_consumer *r = &records[n];

    if (!c->ready || c->dropping || c->leaving)
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
  iov[n_iov++] = (struct iovec) { &m, zcipc_wire_init_stats_reply (&m, n,
        caps_size)
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
 * (if there is room for one). Returns NULL, or why to drop it; *refused
 * when it was told why with a REJECT. */
static const char *
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
  if (!c->monitor) {
    if (count_monitors_locked (s) >= ZCIPC_SERVER_MAX_MONITORS) {
      snprintf (why, why_size, "too many monitors (at most %u at once)",
          ZCIPC_SERVER_MAX_MONITORS);
      reject (c->fd, -EUSERS, why);
      *refused = true;
      return why;
    }
    c->monitor = true;
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

/* Lock held. Reads everything pending on one consumer. */
static void
read_consumer_locked (struct zcipc_server *s, struct consumer *c,
    struct release_list *released, bool *joined)
{
  /* Consumers only ever send small messages; a larger datagram is
   * truncated and refused. */
  uint8_t buf[1024] __attribute__((aligned (8)));
  char why[160];

  read_channel_locked (s, c, released);
  for (int budget = 64; budget > 0 && consumer_listened_to (c); budget--) {
    struct zcipc_message msg;
    int fds[ZCIPC_SOCKET_MAX_FDS];
    unsigned int n_fds = 0;
    size_t len = 0;
    const char *reason = NULL;
    bool refused = false;
    int res;

    res = zcipc_socket_recv (c->fd, buf, sizeof buf, &len, fds,
        ZCIPC_SOCKET_MAX_FDS, &n_fds, 1);
    if (res == -EAGAIN)
      return;
    if (res < 0 || len == 0) {
      drop_consumer_locked (s, c, res == -EPROTO ? DROP_BROKEN : DROP_GONE,
          res == -EPROTO ?
          "sent a malformed message (truncated, or carrying fds)" : "hung up");
      return;
    }
    for (unsigned int i = 0; i < n_fds; i++)
      close (fds[i]);           /* consumers never send fds */
    res = zcipc_wire_parse (buf, len, fds, n_fds, &msg);
    if (res == -ENOMSG) {
      server_log (s, ZCIPC_LOG_DEBUG, "consumer %u: skipping unknown "
          "message type", c->info.id);
      continue;
    }
    if (res < 0) {
      snprintf (why, sizeof why, "sent a malformed %s message (%zu bytes)",
          zcipc_wire_type_name (msg.type), len);
      reason = why;
    } else if (c->monitor) {
      if (msg.type == ZCIPC_WIRE_STATS_REQUEST) {
        reason = handle_stats_request_locked (s, c, &msg.stats_request, why,
            sizeof why, &refused);
      } else {
        snprintf (why, sizeof why, "sent %s, which monitors may not send",
            zcipc_wire_type_name (msg.type));
        reason = why;
      }
    } else if (!c->ready) {
      if (msg.type == ZCIPC_WIRE_STATS_REQUEST) {
        reason = handle_stats_request_locked (s, c, &msg.stats_request, why,
            sizeof why, &refused);
      } else if (msg.type != ZCIPC_WIRE_HELLO) {
        snprintf (why, sizeof why, "sent %s before HELLO",
            zcipc_wire_type_name (msg.type));
        reason = why;
      } else if (msg.hello.version != ZCIPC_PROTOCOL_VERSION) {
        snprintf (why, sizeof why, "speaks protocol version %u, this "
            "producer speaks version %u", msg.hello.version,
            ZCIPC_PROTOCOL_VERSION);
        reject (c->fd, -EPROTONOSUPPORT, why);
        reason = why;
      } else if (consumer_share_refusal_locked (s, c->info.pid, c->info.uid,
              why, sizeof why)) {
        server_log (s, ZCIPC_LOG_WARNING, "refused consumer pid %d uid %u: "
            "%s", (int) c->info.pid, (unsigned) c->info.uid, why);
        reject (c->fd, -EUSERS, why);
        reason = why;
        refused = true;
      } else if ((res = welcome_locked (s, c, msg.hello.max_held,
                  msg.hello.flags)) < 0) {
        snprintf (why, sizeof why, "could not be sent the stream state: %s",
            strerror (-res));
        reason = why;
      } else {
        *joined = true;
      }
    } else if (msg.type == ZCIPC_WIRE_RELEASE) {
      reason = handle_release_locked (s, c, msg.release.seqs,
          msg.release.count, released, why, sizeof why);
    } else if (msg.type == ZCIPC_WIRE_WAKE) {
      /* It put releases in its channel after we asked for them by socket. */
      read_channel_locked (s, c, released);
    } else if (msg.type == ZCIPC_WIRE_QUOTA) {
      handle_quota_locked (s, c, msg.quota.max_held);
    } else if (msg.type == ZCIPC_WIRE_REPORT) {
      c->reported = true;
      c->frames_copied = msg.report.frames_copied;
      c->lag_ns = msg.report.lag_ns;
    } else if (msg.type == ZCIPC_WIRE_LEAVE) {
      /* Its pipeline stopped but buffers live on: keep their slots. */
      c->leaving = true;
      pthread_cond_broadcast (&s->cond);
      if (c->n_held == 0)
        drop_consumer_locked (s, c, DROP_GONE, "left");
      else
        c->departed_ns = zcipc_now_ns ();
    } else {
      snprintf (why, sizeof why, "sent %s, which consumers may not send",
          zcipc_wire_type_name (msg.type));
      reason = why;
    }
    if (reason)
      drop_consumer_locked (s, c, refused ? DROP_GONE : DROP_BROKEN, reason);
  }
}

/* Lock held. Unlinks consumer `index`, moving its holds to `released`. */
static struct consumer *
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

static void
free_consumer (struct consumer *c)
{
  free (c->holds);
  free (c);
}

static void
run_releases (struct zcipc_server *s, struct release_list *released)
{
  for (unsigned int i = 0; i < released->n; i++)
    s->callbacks.release (s->data, released->frames[i]);
  released->n = 0;
}

static void
notify_left (struct zcipc_server *s, struct consumer *c, const char *reason)
{
  if (c->ready && s->callbacks.consumer_left)
    s->callbacks.consumer_left (s->data, &c->info, reason);
  if (c->monitor)
    server_log (s, ZCIPC_LOG_DEBUG, "monitor (pid %d) left: %s",
        (int) c->info.pid, reason);
  else
    server_log (s, c->ready ? ZCIPC_LOG_INFO : ZCIPC_LOG_DEBUG,
        "consumer %u (pid %d) left: %s", c->info.id, (int) c->info.pid, reason);
}

static void set_channel_releases_locked (struct zcipc_server *s,
    bool by_socket, struct release_list *released);

/* Tells whoever listens that dropped consumers left, takes what a cut-off
 * one left in its ring, and frees those that are done: all but cut-off
 * ones that still hold frames. One at a time, so the callbacks run
 * unlocked. */
static void
reap_dropped (struct zcipc_server *s, struct release_list *released)
{
  for (;;) {
    struct consumer *c = NULL;
    bool notify = false, gone = false;

    pthread_mutex_lock (&s->lock);
    for (unsigned int k = 0; k < s->n_consumers && !c; k++) {
      struct consumer *d = s->consumers[k];

      if (!d->dropping)
        continue;
      if (!d->notified) {
        d->notified = notify = true;
        if (d->cut_off)
          read_channel_locked (s, d, released);
      }
      if (!d->cut_off || d->n_held == 0) {
        remove_consumer_locked (s, k, released);
        gone = true;
      }
      if (notify || gone)
        c = d;
    }
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

/* Lock held. Gives up the frames a departed consumer still pins: the
 * producer's references go (`released`), and callbacks->retire() has made
 * sure their memory is never written again, so the pinner keeps reading
 * what it holds from its own mapping. The consumer is closed. False when a
 * frame cannot be retired: then its frames stay pinned until it lets go,
 * and it is not tried again (what memory a frame is in does not change). */
static bool
retire_pinned_locked (struct zcipc_server *s, struct consumer *c,
    struct release_list *released, const char *why)
{
  for (uint32_t j = 0; j < c->info.quota; j++) {
    if (c->holds[j].frame && !s->callbacks.retire (s->data, c->holds[j].frame)) {
      server_log (s, ZCIPC_LOG_DEBUG, "consumer %u: a frame it pins %s "
          "cannot be retired: it stays pinned", c->info.id, why);
      c->departed_ns = 0;
      return false;
    }
  }
  for (uint32_t j = 0; j < c->info.quota; j++) {
    if (!c->holds[j].frame)
      continue;
    release_list_add (released, c->holds[j].frame);
    c->holds[j].frame = NULL;
    s->stats.held--;
    s->stats.frames_retired++;
  }
  server_log (s, ZCIPC_LOG_WARNING, "consumer %u (pid %d): %u frame(s) it "
      "still pins %s are given up; their memory is never reused",
      c->info.id, (int) c->info.pid, c->n_held, why);
  c->n_held = 0;
  c->departed_ns = 0;
  if (c->dropping) {
    c->cut_off = false;
    shutdown (c->fd, SHUT_RDWR);
  } else {
    drop_consumer_locked (s, c, DROP_GONE, "left; it pinned its frames past "
        "the producer's bound");
  }
  pthread_cond_broadcast (&s->cond);
  return true;
}

/* Lock held. Closes handshakes past their deadline and gives up frames
 * pinned past the bounds; returns when to look again (0: nothing due). */
static int64_t
expire_locked (struct zcipc_server *s, struct release_list *released)
{
  int64_t now = zcipc_now_ns (), next = 0;
  uint64_t pinned = 0;

  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    int64_t due = 0;

    if (in_handshake (c)) {
      due = c->accepted_ns + ZCIPC_SERVER_HANDSHAKE_TIMEOUT_NS;
      if (now >= due) {
        drop_consumer_locked (s, c, DROP_GONE, "did not say HELLO within "
            "the handshake deadline");
        continue;
      }
    } else if (c->departed_ns && c->n_held > 0 && s->callbacks.retire) {
      if (s->pin_timeout_ns >= 0) {
        due = c->departed_ns + s->pin_timeout_ns;
        if (now >= due) {
          retire_pinned_locked (s, c, released, "longer than the pin "
              "timeout after it left or was cut off");
          continue;
        }
      }
      for (uint32_t j = 0; j < c->info.quota; j++)
        if (c->holds[j].frame)
          pinned += c->holds[j].bytes;
    }
    if (due > now && (next == 0 || due < next))
      next = due;
  }
  /* Over the byte bound: the consumers that departed first give up theirs
   * first. */
  while (pinned > s->pin_max_bytes) {
    struct consumer *first = NULL;
    uint64_t bytes = 0;

    for (unsigned int i = 0; i < s->n_consumers; i++) {
      struct consumer *c = s->consumers[i];
      if (c->departed_ns && c->n_held > 0 &&
          (!first || c->departed_ns < first->departed_ns))
        first = c;
    }
    if (!first)
      break;
    for (uint32_t j = 0; j < first->info.quota; j++)
      if (first->holds[j].frame)
        bytes += first->holds[j].bytes;
    /* Retired or not, no longer counted (see retire_pinned_locked()). */
    retire_pinned_locked (s, first, released, "past the producer's bound on "
        "bytes pinned by departed consumers");
    pinned -= bytes < pinned ? bytes : pinned;
  }
  return next;
}

static void *
server_thread (void *user)
{
  struct zcipc_server *s = user;
  struct release_list released = RELEASE_LIST_INIT (released);
  unsigned int cap = 16;
  struct pollfd *pfds = calloc (cap, sizeof *pfds);
  struct consumer **polled = calloc (cap, sizeof *polled);

  if (!pfds || !polled)
    abort ();
  for (;;) {
    unsigned int n, i;
    int64_t next_due;
    int timeout_ms;
    bool lazy;

    pthread_mutex_lock (&s->lock);
    if (s->stopping) {
      pthread_mutex_unlock (&s->lock);
      break;
    }
    n = s->n_consumers;
    if (n + 2 > cap) {
      cap = n + 16;
      pfds = realloc (pfds, cap * sizeof *pfds);
      polled = realloc (polled, cap * sizeof *polled);
      if (!pfds || !polled)
        abort ();
    }
    next_due = expire_locked (s, &released);
    if (s->accept_paused_until && s->accept_paused_until <= zcipc_now_ns ())
      s->accept_paused_until = 0;
    if (s->accept_paused_until && (next_due == 0 ||
            s->accept_paused_until < next_due))
      next_due = s->accept_paused_until;
    pfds[0] = (struct pollfd) { s->wake_fd, POLLIN, 0 };
    pfds[1] = (struct pollfd) { s->listen_fd,
      s->accept_paused_until ? 0 : POLLIN, 0
    };
    timeout_ms = -1;
    lazy = s->lazy && s->lazy_until > zcipc_now_ns ();
    if (lazy)
      timeout_ms = (int) ((s->lazy_until - zcipc_now_ns ()) / 1000000 + 1);
    else if (!s->channel_releases_by_socket)
      /* The window ended (no frame for a while): we read releases now. */
      set_channel_releases_locked (s, true, &released);
    if (next_due) {
      int64_t ms = (next_due - zcipc_now_ns ()) / 1000000 + 1;
      if (ms < 1)
        ms = 1;
      if (timeout_ms < 0 || ms < timeout_ms)
        timeout_ms = (int) ms;
    }
    for (i = 0; i < n; i++) {
      struct consumer *c = s->consumers[i];
      /* Lazily, a streaming consumer's releases wait for the next frame;
       * poll still reports its hang-up (POLLHUP needs no request). One with
       * a channel sends by socket only what must not wait (LEAVE, WAKE). */
      short events = lazy && c->ready && !c->dropping &&
          !zcipc_channel_is_open (&c->channel) ? 0 : POLLIN;
      polled[i] = c;
      pfds[i + 2] = (struct pollfd) { c->fd, events, 0 };
    }
    pthread_mutex_unlock (&s->lock);
    run_releases (s, &released);

    if (poll (pfds, n + 2, timeout_ms) < 0) {
      if (errno == EINTR)
        continue;
      server_log (s, ZCIPC_LOG_ERROR, "poll failed: %s", strerror (errno));
      break;
    }
    if (pfds[0].revents) {
      uint64_t v;
      ssize_t r = read (s->wake_fd, &v, sizeof v);
      (void) r;
    }
    if (pfds[1].revents & POLLIN)
      accept_pending (s);

    for (i = 0; i < n; i++) {
      struct consumer *c = polled[i];   /* only this thread frees them */
      bool joined = false;

      if (!pfds[i + 2].revents)
        continue;
      pthread_mutex_lock (&s->lock);
      if (pfds[i + 2].revents & POLLIN)
        read_consumer_locked (s, c, &released, &joined);
      if (pfds[i + 2].revents & (POLLHUP | POLLERR | POLLNVAL))
        drop_consumer_locked (s, c, DROP_GONE, "hung up");
      pthread_mutex_unlock (&s->lock);

      if (joined) {
        server_log (s, ZCIPC_LOG_INFO, "consumer %u joined: pid %d uid %u, "
            "quota %u", c->info.id, (int) c->info.pid,
            (unsigned) c->info.uid, c->info.quota);
        if (s->callbacks.consumer_joined)
          s->callbacks.consumer_joined (s->data, &c->info);
      }
      run_releases (s, &released);
    }
    reap_dropped (s, &released);
  }
  free (pfds);
  free (polled);
  release_list_clear (&released);
  return NULL;
}

static void
wake_thread (struct zcipc_server *s)
{
  uint64_t one = 1;
  ssize_t r = write (s->wake_fd, &one, sizeof one);
  (void) r;
}

int
zcipc_server_new (const struct zcipc_server_config *config,
    const struct zcipc_server_callbacks *callbacks, void *data,
    struct zcipc_server **out)
{
  struct zcipc_server *s;
  int res;

  if (!config || !config->path || !callbacks || !callbacks->hold ||
      !callbacks->release || config->quota == 0 || config->max_consumers == 0)
    return -EINVAL;
  if ((s = calloc (1, sizeof *s)) == NULL)
    return -ENOMEM;
  s->listen_fd = -1;
  s->wake_fd = -1;
  s->socket_owner.dir_fd = -1;
  s->callbacks = *callbacks;
  s->data = data;
  s->quota = config->quota > ZCIPC_WIRE_MAX_QUOTA ?
      ZCIPC_WIRE_MAX_QUOTA : config->quota;
  s->channel_releases_by_socket = true;
  s->max_consumers = config->max_consumers;
  s->pin_timeout_ns = config->pin_timeout_ns ? config->pin_timeout_ns :
      ZCIPC_SERVER_PIN_TIMEOUT_NS;
  s->pin_max_bytes = config->pin_max_bytes ? config->pin_max_bytes :
      ZCIPC_SERVER_PIN_MAX_BYTES;
  pthread_mutex_init (&s->lock, NULL);
  {
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&s->cond, &attr);
    pthread_condattr_destroy (&attr);
  }
  if (!(s->path = strdup (config->path))) {
    res = -ENOMEM;
    goto fail;
  }
  if (config->n_allowed_uids) {
    s->allowed_uids = calloc (config->n_allowed_uids, sizeof (uid_t));
    if (!s->allowed_uids) {
      res = -ENOMEM;
      goto fail;
    }
    memcpy (s->allowed_uids, config->allowed_uids,
        config->n_allowed_uids * sizeof (uid_t));
    s->n_allowed_uids = config->n_allowed_uids;
  }
  if (config->n_allowed_gids) {
    s->allowed_gids = calloc (config->n_allowed_gids, sizeof (gid_t));
    if (!s->allowed_gids) {
      res = -ENOMEM;
      goto fail;
    }
    memcpy (s->allowed_gids, config->allowed_gids,
        config->n_allowed_gids * sizeof (gid_t));
    s->n_allowed_gids = config->n_allowed_gids;
  }
  if ((s->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
    res = zcipc_neg_errno ();
    goto fail;
  }
  if ((res = zcipc_socket_listen_owned (config->path, config->socket_mode,
              &s->listen_fd, &s->socket_owner)) < 0)
    goto fail;
  if ((res = -pthread_create (&s->thread, NULL, server_thread, s)) < 0)
    goto fail;
  s->thread_started = true;
  *out = s;
  return 0;

fail:
  s->stopping = true;
  zcipc_server_free (s);
  return res;
}

void
zcipc_server_free (struct zcipc_server *s)
{
  struct release_list released = RELEASE_LIST_INIT (released);
  unsigned int i;

  if (!s)
    return;
  pthread_mutex_lock (&s->lock);
  s->stopping = true;
  pthread_cond_broadcast (&s->cond);
  pthread_mutex_unlock (&s->lock);
  if (s->thread_started) {
    wake_thread (s);
    pthread_join (s->thread, NULL);
  }
  zcipc_socket_remove_owned (&s->socket_owner);
  while (s->n_consumers) {
    struct consumer *c = remove_consumer_locked (s, 0, &released);
    run_releases (s, &released);
    if (!c->notified)
      notify_left (s, c, c->dropping ? c->drop_reason : "producer stopped");
    free_consumer (c);
  }
  release_list_clear (&released);
  free (s->consumers);
  for (i = 0; i < s->n_regions; i++)
    close (s->regions[i].fd);
  free (s->regions);
  for (i = 0; i < s->n_events; i++)
    free (s->events[i].payload);
  if (s->listen_fd >= 0)
    close (s->listen_fd);
  if (s->wake_fd >= 0)
    close (s->wake_fd);
  pthread_cond_destroy (&s->cond);
  pthread_mutex_destroy (&s->lock);
  free (s->allowed_uids);
  free (s->allowed_gids);
  free (s->caps);
  free (s->path);
  free (s);
}

int
zcipc_server_add_region (struct zcipc_server *s, uint32_t region_id, int fd,
    uint64_t size, uint32_t flags)
{
  struct stored_region *grown, *r;
  int dup_fd;

  /* Consumers get a read-only open of a memfd, not a duplicate of our
   * read-write one: on kernels without F_SEAL_FUTURE_WRITE that still keeps
   * a writable mmap out of their reach through this fd. */
  dup_fd = -1;
  if (flags & ZCIPC_REGION_FLAG_MEMFD) {
    char proc_path[64];
    snprintf (proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
    dup_fd = open (proc_path, O_RDONLY | O_CLOEXEC);
  }
  if (dup_fd < 0 && (dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 3)) < 0)
    return zcipc_neg_errno ();
  pthread_mutex_lock (&s->lock);
  grown = realloc (s->regions, (s->n_regions + 1) * sizeof *grown);
  if (!grown) {
    pthread_mutex_unlock (&s->lock);
    close (dup_fd);
    return -ENOMEM;
  }
  s->regions = grown;
  r = &s->regions[s->n_regions++];
  *r = (struct stored_region) { region_id, flags, size, dup_fd };
  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (c->ready && !c->dropping && !c->leaving && send_region_add (c, r) < 0)
      drop_consumer_locked (s, c, DROP_CUT_OFF,
          "too slow to take a new region");
  }
  pthread_mutex_unlock (&s->lock);
  return 0;
}

int
zcipc_server_remove_region (struct zcipc_server *s, uint32_t region_id)
{
  struct zcipc_wire_region_remove m;
  struct iovec iov = { &m, zcipc_wire_init_region_remove (&m, region_id) };
  unsigned int i;

  pthread_mutex_lock (&s->lock);
  for (i = 0; i < s->n_regions && s->regions[i].id != region_id; i++);
  if (i == s->n_regions) {
    pthread_mutex_unlock (&s->lock);
    return -ENOENT;
  }
  close (s->regions[i].fd);
  s->regions[i] = s->regions[--s->n_regions];
  for (i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (c->ready && !c->dropping && !c->leaving &&
        consumer_send (c, &iov, 1, NULL, 0) < 0)
      drop_consumer_locked (s, c, DROP_CUT_OFF,
          "too slow to take a region removal");
  }
  pthread_mutex_unlock (&s->lock);
  return 0;
}

static void
forget_event_locked (struct zcipc_server *s, uint32_t kind)
{
  for (unsigned int i = 0; i < s->n_events; i++) {
    if (s->events[i].kind == kind) {
      free (s->events[i].payload);
      memmove (&s->events[i], &s->events[i + 1],
          (s->n_events - i - 1) * sizeof s->events[0]);
      s->n_events--;
      return;
    }
  }
}

int
zcipc_server_send_event (struct zcipc_server *s, uint32_t kind,
    const void *payload, uint32_t payload_size, bool sticky)
{
  unsigned int i;

  if (payload_size > ZCIPC_WIRE_MAX_MESSAGE_SIZE -
      sizeof (struct zcipc_wire_event))
    return -EMSGSIZE;
  pthread_mutex_lock (&s->lock);
  if (sticky) {
    uint8_t *copy = malloc (payload_size ? payload_size : 1);
    if (!copy) {
      pthread_mutex_unlock (&s->lock);
      return -ENOMEM;
    }
    memcpy (copy, payload, payload_size);
    for (i = 0; i < s->n_events && s->events[i].kind != kind; i++);
    if (i == s->n_events) {
      if (s->n_events == MAX_STICKY_EVENTS) {
        pthread_mutex_unlock (&s->lock);
        free (copy);
        return -ENOSPC;
      }
      s->n_events++;
    } else {
      free (s->events[i].payload);
    }
    s->events[i] = (struct stored_event) { kind, payload_size, copy };
  }
  for (i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (c->ready && !c->dropping && !c->leaving &&
        send_event (c, kind, payload, payload_size) < 0)
      drop_consumer_locked (s, c, DROP_CUT_OFF, "too slow to take an event");
  }
  pthread_mutex_unlock (&s->lock);
  return 0;
}

void
zcipc_server_forget_event (struct zcipc_server *s, uint32_t kind)
{
  pthread_mutex_lock (&s->lock);
  forget_event_locked (s, kind);
  pthread_mutex_unlock (&s->lock);
}

void
zcipc_server_forget_all_events (struct zcipc_server *s)
{
  pthread_mutex_lock (&s->lock);
  while (s->n_events)
    forget_event_locked (s, s->events[0].kind);
  pthread_mutex_unlock (&s->lock);
}

/* Lock held. Reads what streaming consumers (with `only_full`, those at
 * their quota) sent since the last call (releases, LEAVE), in the caller's
 * thread: without a wake-up. */
static void
drain_consumers_locked (struct zcipc_server *s, struct release_list *released,
    bool only_full)
{
  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    bool joined = false;

    if (!c->ready || c->dropping || (only_full && c->n_held < c->info.quota))
      continue;
    /* A channel's socket carries nothing that must be read per frame: the
     * thread reads it; its ring costs no system call. */
    if (zcipc_channel_is_open (&c->channel))
      read_channel_locked (s, c, released);
    else
      read_consumer_locked (s, c, released, &joined);
  }
}

/* Lock held. Tells every channel consumer where its releases go from now
 * on; when that is the socket, takes what is already in the rings. */
static void
set_channel_releases_locked (struct zcipc_server *s, bool by_socket,
    struct release_list *released)
{
  s->channel_releases_by_socket = by_socket;
  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];

    if (!zcipc_channel_is_open (&c->channel) || c->dropping)
      continue;
    zcipc_channel_set_releases_by_socket (&c->channel, by_socket);
    if (by_socket)
      read_channel_locked (s, c, released);
  }
}

/* Lock held. Ends the lazy window, so that the thread reads releases until
 * the next frame; TRUE if the thread sleeps without reading them and must be
 * woken (wake_thread() after unlocking). */
static bool
end_lazy_window_locked (struct zcipc_server *s, struct release_list *released)
{
  bool was_waiting = s->lazy && s->lazy_until > zcipc_now_ns ();

  s->lazy_until = 0;
  if (!s->channel_releases_by_socket)
    set_channel_releases_locked (s, true, released);
  return was_waiting;
}

void
zcipc_server_set_lazy_releases (struct zcipc_server *s, int64_t window_ns)
{
  struct release_list released = RELEASE_LIST_INIT (released);
  bool lazy = window_ns > 0, was_waiting;

  pthread_mutex_lock (&s->lock);
  if (s->lazy == lazy && s->lazy_window == window_ns) {
    pthread_mutex_unlock (&s->lock);
    return;
  }
  s->lazy_window = window_ns;
  was_waiting = end_lazy_window_locked (s, &released);
  s->lazy = lazy;
  pthread_mutex_unlock (&s->lock);
  if (was_waiting)
    wake_thread (s);            /* to poll for releases again */
  run_releases (s, &released);
  release_list_clear (&released);
}

unsigned int
zcipc_server_collect_releases (struct zcipc_server *s)
{
  struct release_list released = RELEASE_LIST_INIT (released);
  bool was_waiting;
  unsigned int n;

  pthread_mutex_lock (&s->lock);
  drain_consumers_locked (s, &released, false);
  /* Whoever needs releases should not wait for the next frame for more:
   * the thread reads them until then. */
  was_waiting = end_lazy_window_locked (s, &released);
  pthread_mutex_unlock (&s->lock);
  if (was_waiting)
    wake_thread (s);
  n = released.n;
  run_releases (s, &released);
  release_list_clear (&released);
  return n;
}

int
zcipc_server_send_frame (struct zcipc_server *s,
    const struct zcipc_wire_frame *info, const struct zcipc_wire_mem *mems,
    uint32_t n_mems, const void *meta, uint32_t meta_size, void *frame,
    unsigned int *n_sent)
{
  struct release_list released = RELEASE_LIST_INIT (released);
  struct zcipc_wire_frame m;
  struct iovec iov[3];
  unsigned int n_iov = 0;
  bool enter_window = false;
  unsigned int sent = 0, woke = 0;
  bool metas_in_region =
      (info->frame_flags & ZCIPC_FRAME_FLAG_METAS_IN_REGION) != 0;
  uint32_t max_mems = ZCIPC_WIRE_MAX_MEMS;
  uint64_t bytes = meta_size;
  size_t total;

  /* The metas' mem, when they are in a region, is the last of `mems`. */
  if (metas_in_region) {
    if (n_mems == 0 || meta_size != 0 ||
        mems[n_mems - 1].size > ZCIPC_WIRE_MAX_META_SIZE)
      return -EINVAL;
    max_mems++;
  }
  if ((info->frame_flags & ~ZCIPC_FRAME_FLAGS_KNOWN) || n_mems > max_mems ||
      (n_mems && mems == NULL) || frame == NULL)
    return -EINVAL;
  total = sizeof m + n_mems * sizeof *mems + meta_size;
  if (total > ZCIPC_WIRE_MAX_MESSAGE_SIZE)
    return -EMSGSIZE;

  m = *info;
  zcipc_wire_init_frame (&m, n_mems, meta_size);
  m.frame_flags = info->frame_flags;
  m.pts = info->pts;
  m.dts = info->dts;
  m.duration = info->duration;
  m.offset = info->offset;
  m.offset_end = info->offset_end;
  m.flags = info->flags;
  iov[n_iov++] = (struct iovec) { &m, sizeof m };
  if (n_mems)
    iov[n_iov++] = (struct iovec) { (void *) mems, n_mems * sizeof *mems };
  if (meta_size)
    iov[n_iov++] = (struct iovec) { (void *) meta, meta_size };

  for (uint32_t i = 0; i < n_mems; i++)
    bytes += mems[i].size;

  pthread_mutex_lock (&s->lock);
  /* Lazily, a consumer at its quota may have released frames we have not
   * read yet: read them before deciding it misses this frame. */
  if (s->lazy)
    drain_consumers_locked (s, &released, true);
  m.seq = ++s->next_seq;
  m.send_time = (uint64_t) zcipc_now_ns ();
  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    uint32_t j;
    int res;

    if (!c->ready || c->dropping || c->leaving)
      continue;
    if (c->n_held >= c->info.quota) {
      c->frames_missed++;
      s->stats.frames_missed++;
      continue;
    }
    uint64_t wakeups = c->channel.wakeups;
    res = consumer_send (c, iov, n_iov, NULL, 0);
    if (res == 0 && (!zcipc_channel_is_open (&c->channel) ||
            c->channel.wakeups != wakeups))
      woke++;
    if (res == -EAGAIN) {
      c->frames_missed++;
      s->stats.frames_missed++;
      continue;
    }
    if (res == -EPROTO) {
      drop_corrupt_channel_locked (s, c);
      continue;
    }
    if (res < 0) {
      drop_consumer_locked (s, c, DROP_GONE, "hung up");
      continue;
    }
    for (j = 0; c->holds[j].frame; j++);
    c->holds[j] = (struct hold) { m.seq, bytes, frame };
    c->n_held++;
    if (c->n_held >= c->info.quota)
      c->full_since_ns = (int64_t) m.send_time;
    c->frames_sent++;
    s->stats.held++;
    s->callbacks.hold (s->data, frame);
    sent++;
  }
  if (sent)
    s->stats.frames_sent++;
  else
    s->stats.frames_unsent++;
  s->last_frame_ns = (int64_t) m.send_time;
  s->stats.wakeups += woke;
  s->last_frame_woke = woke > 0;
  if (s->lazy) {
    /* After the send, so as not to delay it. Frames are what keep the
     * thread asleep: it wakes for releases only when none came for a while
     * (the stream paused or ended). */
    int64_t now = zcipc_now_ns ();
    drain_consumers_locked (s, &released, false);
    /* Entering the window: the thread still polls for releases; have it
     * stop (once, not per frame). */
    enter_window = s->lazy_until <= now;
    s->lazy_until = now + s->lazy_window;
    if (s->channel_releases_by_socket)
      set_channel_releases_locked (s, false, &released);
  }
  pthread_mutex_unlock (&s->lock);
  if (enter_window)
    wake_thread (s);
  /* Handed out after the send, so that freeing buffers cannot delay it. */
  run_releases (s, &released);
  release_list_clear (&released);
  if (n_sent)
    *n_sent = sent;
  return 0;
}

static unsigned int
count_ready_locked (struct zcipc_server *s)
{
  unsigned int n = 0;
  for (unsigned int i = 0; i < s->n_consumers; i++)
    if (s->consumers[i]->ready && !s->consumers[i]->dropping &&
        !s->consumers[i]->leaving)
      n++;
  return n;
}

static void
deadline_to_timespec (int64_t deadline_ns, struct timespec *ts)
{
  ts->tv_sec = deadline_ns / 1000000000;
  ts->tv_nsec = deadline_ns % 1000000000;
}

bool
zcipc_server_skip_unwatched_frame (struct zcipc_server *s)
{
  bool skip;

  pthread_mutex_lock (&s->lock);
  skip = count_ready_locked (s) == 0;
  if (skip) {
    /* The seq a frame would have taken, so that consumers count the frames
     * they did not see (a gap in seqs) as they would have been. */
    s->next_seq++;
    s->stats.frames_unsent++;
    s->last_frame_ns = zcipc_now_ns ();
  }
  pthread_mutex_unlock (&s->lock);
  return skip;
}

int
zcipc_server_wait_consumers (struct zcipc_server *s, unsigned int n,
    int64_t timeout_ns)
{
  int64_t deadline = timeout_ns >= 0 ? zcipc_now_ns () + timeout_ns : 0;
  int res = 0;

  pthread_mutex_lock (&s->lock);
  while (count_ready_locked (s) < n) {
    struct timespec ts;
    if (s->flushing || s->stopping) {
      res = -ECANCELED;
      break;
    }
    if (timeout_ns < 0) {
      pthread_cond_wait (&s->cond, &s->lock);
      continue;
    }
    deadline_to_timespec (deadline, &ts);
    if (pthread_cond_timedwait (&s->cond, &s->lock, &ts) == ETIMEDOUT &&
        count_ready_locked (s) < n) {
      res = -ETIMEDOUT;
      break;
    }
  }
  pthread_mutex_unlock (&s->lock);
  return res;
}

/* Lock held: since when the longest-full consumer is at its quota, or -1
 * if none is full. Not since when it holds its oldest frame: a consumer
 * whose downstream keeps a frame for long (a muxer waiting for its other
 * input) but takes the next ones is not stuck. */
static int64_t
oldest_full_hold_locked (struct zcipc_server *s)
{
  int64_t oldest = -1;
  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (!c->ready || c->dropping || c->leaving || c->n_held < c->info.quota)
      continue;
    if (c->skip_until_ns && c->skip_until_ns > zcipc_now_ns ())
      continue;                 /* on probation: not waited for */
    if (oldest < 0 || c->full_since_ns < oldest)
      oldest = c->full_since_ns;
  }
  return oldest;
}

int
zcipc_server_wait_room (struct zcipc_server *s, int64_t timeout_ns)
{
  struct release_list released = RELEASE_LIST_INIT (released);
  bool was_waiting = false;
  int res = 0;

  /* Lazily, releases waiting to be read may make room already; if not,
   * the thread must read them while we wait. */
  pthread_mutex_lock (&s->lock);
  if (s->lazy && oldest_full_hold_locked (s) >= 0) {
    drain_consumers_locked (s, &released, false);
    if (oldest_full_hold_locked (s) >= 0)
      was_waiting = end_lazy_window_locked (s, &released);
  }
  pthread_mutex_unlock (&s->lock);
  if (was_waiting)
    wake_thread (s);
  run_releases (s, &released);
  release_list_clear (&released);

  pthread_mutex_lock (&s->lock);
  for (;;) {
    int64_t oldest = oldest_full_hold_locked (s), now;
    struct timespec ts;

    if (oldest < 0)
      break;
    if (s->flushing || s->stopping) {
      res = -ECANCELED;
      break;
    }
    now = zcipc_now_ns ();
    if (timeout_ns >= 0 && now - oldest >= timeout_ns) {
      char why[160];
      /* Drop every consumer whose oldest hold is past the timeout. */
      for (unsigned int i = 0; i < s->n_consumers; i++) {
        struct consumer *c = s->consumers[i];
        if (!c->ready || c->dropping || c->leaving ||
            c->n_held < c->info.quota || now - c->full_since_ns < timeout_ns ||
            (c->skip_until_ns && c->skip_until_ns > now))
          continue;
        snprintf (why, sizeof why, "held %u frames, its whole quota, for "
            "longer than the wait timeout (%lld ms)", c->n_held,
            (long long) (timeout_ns / 1000000));
        drop_consumer_locked (s, c, DROP_CUT_OFF, why);
        remember_cut_off_locked (s, c->info.uid);
      }
      continue;
    }
    if (timeout_ns < 0) {
      pthread_cond_wait (&s->cond, &s->lock);
      continue;
    }
    deadline_to_timespec (oldest + timeout_ns, &ts);
    pthread_cond_timedwait (&s->cond, &s->lock, &ts);
  }
  pthread_mutex_unlock (&s->lock);
  return res;
}

void
zcipc_server_set_flushing (struct zcipc_server *s, bool flushing)
{
  pthread_mutex_lock (&s->lock);
  s->flushing = flushing;
  pthread_cond_broadcast (&s->cond);
  pthread_mutex_unlock (&s->lock);
}

unsigned int
zcipc_server_get_stats (struct zcipc_server *s,
    struct zcipc_server_stats *stats, struct zcipc_consumer_stats *consumers,
    unsigned int max)
{
  unsigned int n = 0;

  pthread_mutex_lock (&s->lock);
  *stats = s->stats;
  stats->consumers = count_ready_locked (s);
  for (unsigned int i = 0; i < s->n_consumers && n < max; i++) {
    struct consumer *c = s->consumers[i];
    if (!c->ready || c->dropping || c->leaving)
      continue;
    consumers[n].info = c->info;
    consumers[n].frames_sent = c->frames_sent;
    consumers[n].frames_missed = c->frames_missed;
    consumers[n].held = c->n_held;
    n++;
  }
  pthread_mutex_unlock (&s->lock);
  return n;
}

bool
zcipc_server_last_frame_woke (struct zcipc_server *s)
{
  bool woke;
  pthread_mutex_lock (&s->lock);
  woke = s->last_frame_woke;
  pthread_mutex_unlock (&s->lock);
  return woke;
}

int
zcipc_server_set_caps_string (struct zcipc_server *s, const char *caps)
{
  size_t len = caps ? strlen (caps) : 0;
  bool truncated = false;
  char *copy;

  if (len > ZCIPC_WIRE_STATS_CAPS_MAX) {
    /* Whole structures ("; " separates them in gst_caps_to_string's text),
     * else whole fields (", "), that fit. */
    static const char *const separators[] = { "; ", ", " };
    size_t cut = 0;

    for (unsigned int k = 0; k < 2 && cut == 0; k++)
      for (size_t i = 0; i + 2 <= ZCIPC_WIRE_STATS_CAPS_MAX; i++)
        if (memcmp (caps + i, separators[k], 2) == 0)
          cut = i;
    len = cut;
    truncated = true;
  }
  if (len == 0) {
    copy = NULL;
  } else if ((copy = malloc (len + 1)) == NULL) {
    return -ENOMEM;
  } else {
    memcpy (copy, caps, len);
    copy[len] = '\0';
  }
  pthread_mutex_lock (&s->lock);
  free (s->caps);
  s->caps = copy;
  s->caps_truncated = truncated;
  pthread_mutex_unlock (&s->lock);
  return 0;
}
