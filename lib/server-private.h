/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_SERVER_PRIVATE_H
#define ZCIPC_SERVER_PRIVATE_H

/* What the parts of the producer's side share; not installed, not API.
 *
 *   server.c            the server object, its thread (poll, accept,
 *                       deadlines, pins past their bounds)
 *   server-consumer.c   one connection: sending to it, reading what it
 *                       sends, dropping, reaping and freeing it
 *   server-handshake.c  HELLO and STATS_REQUEST: who may connect, the
 *                       welcome, monitors' stats replies
 *   server-stream.c     what goes to every consumer: regions, events,
 *                       frames, lazy releases, and the producer's waits
 *
 * Locking: one lock, zcipc_server.lock, guards every field below it and
 * every struct consumer; functions named *_locked expect it held. Only
 * the server thread frees a consumer (reap_dropped()), so the thread may
 * use a consumer it polled without the lock held across the poll.
 * Callbacks run without the lock, except hold and retire (see
 * zcipc/server.h).
 *
 * Every kind of connection is bounded on its own, so that a connect storm
 * cannot exhaust fds or memory and no kind crowds out another:
 * - handshakes in progress (no HELLO or STATS_REQUEST yet): at most
 *   ZCIPC_SERVER_MAX_HANDSHAKES, the oldest closed to make room for a new
 *   one, each closed after ZCIPC_SERVER_HANDSHAKE_TIMEOUT_NS;
 * - consumers (past HELLO, cut-off and leaving ones that still hold frames
 *   included): max_consumers, with a share per process and per foreign uid
 *   (see consumer_share_refusal_locked());
 * - monitors (STATS_REQUEST): ZCIPC_SERVER_MAX_MONITORS. */

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "zcipc/channel.h"
#include "zcipc/server.h"
#include "zcipc/socket.h"

struct hold
{
  uint64_t seq;
  uint64_t bytes;               /* of shared memory the frame pins */
  void *frame;
};

/* A connection's life. Every transition is made with the server lock held;
 * the thread makes those on what a peer sends, any thread that sends to
 * consumers may cut one off or find it gone.
 *
 *   accept
 *     |
 *     v       STATS_REQUEST
 *   HANDSHAKE ------------> MONITOR
 *     |   HELLO, welcomed      |
 *     v                        |
 *   STREAMING ----------------------------+
 *     |   |  LEAVE, holding frames        |  hang-up, protocol violation,
 *     |   +----------------> LEAVING -----+  handshake deadline, LEAVE
 *     |  cut off (wait          |         |  holding nothing, last release
 *     |  timeout, too slow),    | hang-up,|  of a leaving one, frames
 *     v  holding frames         | retire  |  retired
 *   CUT_OFF ----------------------------> CLOSED
 *          hang-up, protocol violation,
 *          frames retired
 *
 * Frames go to STREAMING consumers only. LEAVING and CUT_OFF ones keep
 * the frames they hold (their slots are not reused under them) and are
 * still read for their releases; a CUT_OFF one was told why (a REJECT) and
 * reads its releases by socket. The thread reaps CUT_OFF and CLOSED
 * connections (reap_dropped()): it reports them gone at once, and frees
 * them, taking back what they hold, once they are CLOSED or hold
 * nothing. */
enum consumer_state
{
  CONSUMER_HANDSHAKE,           /* accepted, said nothing yet */
  CONSUMER_MONITOR,             /* asks for stats, never gets frames */
  CONSUMER_STREAMING,           /* past HELLO: gets frames and events */
  CONSUMER_LEAVING,             /* said LEAVE: no more frames, holds kept */
  CONSUMER_CUT_OFF,             /* dropped by our policy: holds kept */
  CONSUMER_CLOSED,              /* dropped: the thread frees it */
};

struct consumer
{
  int fd;
  enum consumer_state state;
  /* The state it was in when it was cut off or closed: what
   * notify_left() reports it as. */
  enum consumer_state dropped_from;
  /* consumer_left was called (or, for one that never joined, its leaving
   * logged): the reaper's record of what it did, not a state of the
   * connection, which may go on (CUT_OFF) after it. */
  bool notified;
  int64_t accepted_ns;          /* for the handshake deadline */
  /* Since when it pins frames that it will never be sent more after (it
   * left, or was cut off): the pin bound counts from here. 0: it does not. */
  int64_t departed_ns;
  /* Joined soon after its uid was cut off for the wait timeout: the
   * producer does not wait for it (as slow-consumer=skip) until then. */
  int64_t skip_until_ns;
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

/* Gets frames, events and regions: the consumers zcipc_server_get_stats()
 * and STATS_REPLY count. */
static inline bool
consumer_is_streaming (const struct consumer *c)
{
  return c->state == CONSUMER_STREAMING;
}

static inline bool
consumer_in_handshake (const struct consumer *c)
{
  return c->state == CONSUMER_HANDSHAKE;
}

static inline bool
consumer_is_monitor (const struct consumer *c)
{
  return c->state == CONSUMER_MONITOR;
}

static inline bool
consumer_is_leaving (const struct consumer *c)
{
  return c->state == CONSUMER_LEAVING;
}

static inline bool
consumer_is_cut_off (const struct consumer *c)
{
  return c->state == CONSUMER_CUT_OFF;
}

/* Joined and not dropped (streaming or leaving): its releases are read
 * along with the frames, lazily. */
static inline bool
consumer_is_active (const struct consumer *c)
{
  return c->state == CONSUMER_STREAMING || c->state == CONSUMER_LEAVING;
}

/* Takes one of the max_consumers places: joined, and not yet closed. */
static inline bool
consumer_takes_place (const struct consumer *c)
{
  return consumer_is_active (c) || c->state == CONSUMER_CUT_OFF;
}

/* Cut off or closed: the reaper's business. */
static inline bool
consumer_is_dropped (const struct consumer *c)
{
  return c->state == CONSUMER_CUT_OFF || c->state == CONSUMER_CLOSED;
}

/* Whether we still read what it sends: releases of a cut-off one too. */
static inline bool
consumer_is_listened_to (const struct consumer *c)
{
  return c->state != CONSUMER_CLOSED;
}

/* What it is or, once dropped, what it was. */
static inline enum consumer_state
consumer_role (const struct consumer *c)
{
  return consumer_is_dropped (c) ? c->dropped_from : c->state;
}

/* Passed its HELLO, whatever became of it since: consumer_joined was
 * called for it, consumer_left is owed. */
static inline bool
consumer_has_joined (const struct consumer *c)
{
  enum consumer_state role = consumer_role (c);

  return role == CONSUMER_STREAMING || role == CONSUMER_LEAVING;
}

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

/* Why a consumer is dropped, which decides what becomes of its holds. */
enum drop_kind
{
  DROP_GONE,                    /* it hung up or left: not counted */
  DROP_BROKEN,                  /* it broke the protocol: holds taken back */
  DROP_CUT_OFF,                 /* our policy: it keeps what it holds */
};

/* server.c */
void server_log (struct zcipc_server *s, enum zcipc_log_level level,
    const char *format, ...) __attribute__((format (printf, 3, 4)));
void wake_thread (struct zcipc_server *s);

/* server-consumer.c */
int consumer_send (struct consumer *c, const struct iovec *iov,
    unsigned int n_iov, const int *fds, unsigned int n_fds);
int send_plain (int fd, const void *msg, size_t size, const int *fds,
    unsigned int n_fds);
int send_region_add (struct consumer *c, const struct stored_region *r);
int send_event (struct consumer *c, uint32_t kind, const void *payload,
    uint32_t size);
void reject (int fd, int error, const char *reason);
void drop_consumer_locked (struct zcipc_server *s, struct consumer *c,
    enum drop_kind kind, const char *reason);
void drop_corrupt_channel_locked (struct zcipc_server *s, struct consumer *c);
void read_channel_locked (struct zcipc_server *s, struct consumer *c,
    struct release_list *released);
void read_consumer_locked (struct zcipc_server *s, struct consumer *c,
    struct release_list *released, bool *joined);
struct consumer *remove_consumer_locked (struct zcipc_server *s,
    unsigned int index, struct release_list *released);
void free_consumer (struct consumer *c);
void notify_left (struct zcipc_server *s, struct consumer *c,
    const char *reason);
void reap_dropped (struct zcipc_server *s, struct release_list *released);
void release_list_add (struct release_list *l, void *frame);
void release_list_clear (struct release_list *l);
void run_releases (struct zcipc_server *s, struct release_list *released);

/* server-handshake.c */
bool peer_allowed (struct zcipc_server *s, const struct zcipc_peer_cred *cred);
void make_room_for_handshake_locked (struct zcipc_server *s);
const char *handle_hello_locked (struct zcipc_server *s, struct consumer *c,
    const struct zcipc_wire_hello *hello, char *why, size_t why_size,
    bool *refused, bool *joined);
const char *handle_stats_request_locked (struct zcipc_server *s,
    struct consumer *c, const struct zcipc_wire_stats_request *req,
    char *why, size_t why_size, bool *refused);
void remember_cut_off_locked (struct zcipc_server *s, uid_t uid);

/* server-stream.c */
void set_channel_releases_locked (struct zcipc_server *s, bool by_socket,
    struct release_list *released);
unsigned int count_streaming_locked (struct zcipc_server *s);

#endif
