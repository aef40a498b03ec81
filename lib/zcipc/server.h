/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_SERVER_H
#define ZCIPC_SERVER_H

/* The producer's side: a listening socket, the consumers connected to it, and
 * the record of which consumer holds which frame.
 *
 * The producer keeps "sticky" state (regions and events marked sticky) that
 * every consumer receives right after its handshake, so a late joiner starts
 * with the current format, then gets the next frame.
 *
 * Threads: one internal thread accepts, shakes hands and reads releases. All
 * other calls may come from any thread. Callbacks run on the internal thread,
 * except `hold`, which runs inside zcipc_server_send_frame(), and `release`,
 * which with lazy releases also runs inside zcipc_server_send_frame(),
 * zcipc_server_collect_releases() and zcipc_server_wait_room(). */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "zcipc/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

struct zcipc_server;

enum zcipc_log_level
{
  ZCIPC_LOG_ERROR,
  ZCIPC_LOG_WARNING,
  ZCIPC_LOG_INFO,
  ZCIPC_LOG_DEBUG,
};

struct zcipc_consumer_info
{
  uint32_t id;
  pid_t pid;
  uid_t uid;
  gid_t gid;
  uint32_t quota;               /* frames it may hold at once, as granted */
};

struct zcipc_consumer_stats
{
  struct zcipc_consumer_info info;
  uint64_t frames_sent;
  uint64_t frames_missed;       /* skipped: at its quota, or socket full */
  uint32_t held;                /* frames it holds right now */
};

struct zcipc_server_stats
{
  uint32_t consumers;           /* past the handshake */
  uint64_t frames_sent;         /* frames that reached at least one consumer */
  uint64_t frames_unsent;       /* frames that no consumer took */
  uint64_t frames_missed;       /* sum over consumers, gone ones included */
  uint64_t consumers_joined;
  uint64_t consumers_dropped;   /* cut off: a protocol violation, the wait
                                 * timeout, too slow to take an event */
  uint32_t held;                /* holds across all consumers now */
  uint64_t wakeups;             /* frames sent to a consumer that may have
                                 * slept: every socket send, and the futex
                                 * wake-ups of channel consumers */
  uint64_t frames_retired;      /* frames a departed consumer pinned past
                                 * the pin bounds, given up by the producer
                                 * (callbacks->retire) */
};

struct zcipc_server_callbacks
{
  /* A consumer now holds `frame`: take a reference. Called with the server
   * lock held: must not call into the server. */
  void (*hold) (void *data, void *frame);
  /* A consumer let go of `frame` (released it, or went away). */
  void (*release) (void *data, void *frame);
  void (*consumer_joined) (void *data, const struct zcipc_consumer_info *info);
  void (*consumer_left) (void *data, const struct zcipc_consumer_info *info,
      const char *reason);
  void (*log) (void *data, enum zcipc_log_level level, const char *message);
  /* Optional. A consumer that left or was cut off still pins `frame` past
   * the pin bounds (zcipc_server_config.pin_*): return true once the
   * frame's memory will never be written or handed out again (its pool
   * drops it when the frame comes back); callbacks->release(frame) follows,
   * and the pinner keeps reading it through its own mapping. Return false
   * when it cannot be retired (memory someone else recycles): the frame
   * stays pinned. Called with the server lock held: must not call into
   * the server. Without it frames stay pinned until the pinner lets go. */
  bool (*retire) (void *data, void *frame);
};

struct zcipc_server_config
{
  const char *path;             /* '@name' for the abstract namespace */
  uint32_t socket_mode;         /* file mode of the socket, e.g. 0660 */
  uint32_t quota;               /* most frames one consumer may hold */
  uint32_t max_consumers;
  const uid_t *allowed_uids;    /* NULL/0: any uid (subject to socket mode) */
  unsigned int n_allowed_uids;
  const gid_t *allowed_gids;
  unsigned int n_allowed_gids;
  /* Bounds on frames pinned by consumers that left or were cut off (with
   * callbacks->retire): after pin_timeout_ns (0: the default
   * ZCIPC_SERVER_PIN_TIMEOUT_NS, negative: no time bound), or once they
   * pin more than pin_max_bytes in all (0: ZCIPC_SERVER_PIN_MAX_BYTES),
   * the producer gives them up. */
  int64_t pin_timeout_ns;
  uint64_t pin_max_bytes;
};

/* A connection must say HELLO (or STATS_REQUEST) this soon after it is
 * accepted, or it is closed; until then it is not a consumer. */
#define ZCIPC_SERVER_HANDSHAKE_TIMEOUT_NS (2000 * 1000000LL)
/* Connections in their handshake at once; a new one closes the oldest. */
#define ZCIPC_SERVER_MAX_HANDSHAKES 32u
/* After accept() fails (out of fds, say), the listening socket is not
 * polled for this long; the failures are logged at most once a period. */
#define ZCIPC_SERVER_ACCEPT_BACKOFF_NS (100 * 1000000LL)
#define ZCIPC_SERVER_ACCEPT_LOG_PERIOD_NS (10 * 1000000000LL)
/* Default pin bounds: see zcipc_server_config. */
#define ZCIPC_SERVER_PIN_TIMEOUT_NS (5 * 1000000000LL)
#define ZCIPC_SERVER_PIN_MAX_BYTES (256ull << 20)
/* A consumer that joins within this long after a consumer of its uid was cut
 * off for the wait timeout is not waited for (zcipc_server_wait_room()
 * treats it as slow-consumer=skip: it misses the frames it has no room
 * for) until that time has passed since the cut-off. */
#define ZCIPC_SERVER_REJOIN_SKIP_NS (30 * 1000000000LL)

/* Binds the socket and starts the server thread. Errors are those of
 * zcipc_socket_listen(). */
int zcipc_server_new (const struct zcipc_server_config *config,
    const struct zcipc_server_callbacks *callbacks, void *data,
    struct zcipc_server **out);

/* Stops the thread, hangs up on every consumer (releasing what they held),
 * removes the socket file and frees the server. */
void zcipc_server_free (struct zcipc_server *server);

/* Announces a region to every consumer now and to every later one.
 * `fd` stays the caller's: the server keeps its own duplicate. */
int zcipc_server_add_region (struct zcipc_server *server, uint32_t region_id,
    int fd, uint64_t size, uint32_t flags);
int zcipc_server_remove_region (struct zcipc_server *server,
    uint32_t region_id);

/* Sends an event to every consumer. A sticky event replaces the stored one
 * of the same kind (keeping its place, so first-sent order is kept) and is
 * replayed to later consumers; `unstick_kind`, if not 0, forgets the stored
 * event of that kind (a flush forgets EOS, say). */
int zcipc_server_send_event (struct zcipc_server *server, uint32_t kind,
    const void *payload, uint32_t payload_size, bool sticky);
void zcipc_server_forget_event (struct zcipc_server *server, uint32_t kind);

/* Sends a frame to every consumer below its quota. `info`'s timestamps,
 * flags and frame_flags are the caller's; the server sets the header, seq
 * and send time. `n_mems` may be 0 (a buffer without memory); with
 * ZCIPC_FRAME_FLAG_METAS_IN_REGION the last of `mems` is the metas' and
 * `meta_size` is 0. For each consumer reached, callbacks->hold(frame) is
 * called, and later one callbacks->release(frame) (at once, for a consumer
 * that finds nothing to keep in it). *n_sent (may be NULL) says how many. */
int zcipc_server_send_frame (struct zcipc_server *server,
    const struct zcipc_wire_frame *info, const struct zcipc_wire_mem *mems,
    uint32_t n_mems, const void *meta, uint32_t meta_size, void *frame,
    unsigned int *n_sent);

/* When no consumer is connected, counts one frame as unsent (as
 * zcipc_server_send_frame() would) and returns true: the caller need not
 * prepare it (copy it into shared memory, announce regions). Otherwise
 * returns false and counts nothing. */
bool zcipc_server_skip_unwatched_frame (struct zcipc_server *server);

/* Lazy releases (off by default): consumers' releases are read by
 * zcipc_server_send_frame(), after it sends, instead of waking the server
 * thread for each one; the thread wakes for them again only when no frame
 * was sent for `window_ns`, or when zcipc_server_collect_releases() or
 * zcipc_server_wait_room() need them. One wake-up less per frame and
 * consumer. `window_ns` 0 turns it off. A producer whose buffers come from
 * a pool it cannot watch (someone else's) should leave it off: that pool
 * could run dry waiting for the next frame. */
void zcipc_server_set_lazy_releases (struct zcipc_server *server,
    int64_t window_ns);

/* Longer than the frame interval of any stream that keeps up (a 30 fps
 * stream never wakes the thread), short enough that the releases of a
 * stream that stopped are read soon. */
#define ZCIPC_SERVER_LAZY_WINDOW_NS (100 * 1000000LL)

/* Reads every release waiting now, in the calling thread (callbacks->release
 * runs here), and lets the thread wake for releases until the next frame.
 * For a producer about to wait for a free buffer. Returns how many frames
 * were released. */
unsigned int zcipc_server_collect_releases (struct zcipc_server *server);

/* Blocks until `n` consumers are connected. Returns 0, -ETIMEDOUT after
 * `timeout_ns` (negative: forever), or -ECANCELED while flushing. */
int zcipc_server_wait_consumers (struct zcipc_server *server, unsigned int n,
    int64_t timeout_ns);

/* Lossless mode: blocks until every consumer is below its quota. A consumer
 * that still sits at its quota after `timeout_ns` is cut off (and logged) so
 * the stream goes on: it gets no more frames, but the frames it holds are
 * released only by it or by its hang-up, never reused under it. Returns 0
 * or -ECANCELED while flushing. */
int zcipc_server_wait_room (struct zcipc_server *server, int64_t timeout_ns);

/* While flushing, the waits above return -ECANCELED at once. */
void zcipc_server_set_flushing (struct zcipc_server *server, bool flushing);

/* Whether the last zcipc_server_send_frame() (of any thread: call it from
 * the one thread that sends frames) woke a consumer (see
 * zcipc_server_stats.wakeups): a producer may then yield its CPU to it. */
bool zcipc_server_last_frame_woke (struct zcipc_server *server);

/* Fills `stats`, and up to `max` per-consumer entries; returns how many. */
unsigned int zcipc_server_get_stats (struct zcipc_server *server,
    struct zcipc_server_stats *stats, struct zcipc_consumer_stats *consumers,
    unsigned int max);

/* Monitors (peers that sent STATS_REQUEST instead of HELLO: zcipc-top, the
 * device provider) connected at once, beside max_consumers consumers; the
 * next one is refused with a REJECT. They pass the same allow-list as
 * consumers and never count as consumers. */
#define ZCIPC_SERVER_MAX_MONITORS 8u

/* The stream's caps as text (gst_caps_to_string's), which STATS_REPLY
 * carries; NULL or "" before caps. Longer than ZCIPC_WIRE_STATS_CAPS_MAX
 * bytes, it is cut after the last whole structure that fits (else the
 * last whole field) and replies carry ZCIPC_STATS_FLAG_CAPS_TRUNCATED.
 * Any thread. 0 or -ENOMEM. */
int zcipc_server_set_caps_string (struct zcipc_server *server,
    const char *caps);

#ifdef __cplusplus
}
#endif
#endif
