/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_CLIENT_H
#define ZCIPC_CLIENT_H

/* The consumer's side: one connection to a producer, its regions mapped
 * once each (read-only), and the frames this consumer holds.
 *
 * A client is reference counted: every frame handed out by
 * zcipc_client_next() keeps it (and the regions the frame points into)
 * alive until zcipc_client_release(), so a frame may outlive the connection
 * and the element that made it. zcipc_client_next() is for one thread;
 * zcipc_client_release() may be called from any thread. */

#include <stdbool.h>
#include <stdint.h>

#include "zcipc/wire.h"

#ifdef __cplusplus
extern "C" {
#endif

struct zcipc_client;

enum zcipc_client_event_type
{
  ZCIPC_CLIENT_FRAME = 1,
  ZCIPC_CLIENT_EVENT = 2,
  /* Only after zcipc_client_report_region_removals (client, true). */
  ZCIPC_CLIENT_REGION_REMOVED = 3,
};

struct zcipc_client_mem
{
  const uint8_t *data;          /* inside the region's read-only mapping */
  uint64_t size;
  uint32_t region_id;
  uint32_t region_flags;        /* ZCIPC_REGION_FLAG_* */
  int region_fd;                /* owned by the client */
  uint64_t offset;              /* within the region */
  const uint8_t *region_data;   /* start of the region's mapping */
  uint64_t region_size;
};

/* Valid until the next zcipc_client_next() call, except the mems' memory,
 * which stays valid until zcipc_client_release (seq). A frame with no mems
 * (a buffer without memory: timestamps, flags and metas only) was given
 * back already: never release it. `meta` is private memory (metas that came
 * in a region are copied out, at most ZCIPC_WIRE_MAX_META_SIZE bytes). */
struct zcipc_client_event
{
  enum zcipc_client_event_type type;
  struct
  {
    struct zcipc_wire_frame info;
    uint32_t n_mems;
    struct zcipc_client_mem mems[ZCIPC_WIRE_MAX_MEMS];
    const uint8_t *meta;
    uint32_t meta_size;
  } frame;
  struct
  {
    uint32_t kind;
    const uint8_t *payload;
    uint32_t size;
  } event;
  struct
  {
    uint32_t id;                /* no longer announced; frames held still
                                 * keep it mapped */
    uint32_t flags;
  } region;
};

/* Creates an unconnected client that will ask to hold `max_held` frames. */
int zcipc_client_new (const char *path, uint32_t max_held,
    struct zcipc_client **out);

struct zcipc_client *zcipc_client_ref (struct zcipc_client *client);
void zcipc_client_unref (struct zcipc_client *client);

/* Connects and shakes hands, retrying while nobody listens until
 * `timeout_ms` (negative: forever), every 10 ms at first, then every 100 ms.
 * Returns 0; -ETIMEDOUT when nobody came; -ECANCELED when interrupted.
 * Fails at once, with its reason in zcipc_client_reason(), where waiting
 * cannot help: -EISDIR, -ENOTSOCK or -ENOTDIR (see
 * zcipc_socket_check_waitable()), -EACCES when the socket's mode shuts us
 * out (the reason names the mode, owner, group and our ids), or when the
 * producer refused us; -EPROTONOSUPPORT (and others) when the producer
 * refused us or broke the handshake (-EPROTO when it did not answer). A
 * REJECT's error is kept only when it is one a producer refuses with
 * (-EACCES, -EPERM, -EUSERS, -EBUSY, -EPROTONOSUPPORT, -ECONNABORTED);
 * any other is -EPROTO. */
int zcipc_client_connect (struct zcipc_client *client, int timeout_ms);

/* With `wait`, zcipc_client_connect() waits also where no producer can
 * appear now (a missing directory, a file in the way): for coming back to a
 * producer whose directory went with it (a systemd RuntimeDirectory). The
 * reason still says what is wrong. Off by default. Before connect only. */
void zcipc_client_set_wait_any_path (struct zcipc_client *client, bool wait);

/* Waits for the next frame or event. Region messages are handled inside.
 * Returns 0; -EAGAIN after `timeout_ms` (negative: forever); -ECANCELED when
 * interrupted; -EPIPE when the producer went away; -ECONNABORTED when the
 * producer disconnected this consumer (its reason in zcipc_client_reason());
 * -EPROTO when the producer broke the protocol (reason there too);
 * -EMFILE or -ENFILE when this process ran out of file descriptors
 * receiving one (not the producer's fault). */
int zcipc_client_next (struct zcipc_client *client,
    struct zcipc_client_event *event, int timeout_ms);

/* With `report`, zcipc_client_next() also returns ZCIPC_CLIENT_REGION_REMOVED
 * when the producer removes a region, for callers that keep something per
 * region (off by default). Regions forgotten because the connection closed
 * are not reported. */
void zcipc_client_report_region_removals (struct zcipc_client *client,
    bool report);

/* For a stream whose frames come less than `spin_us` microseconds apart
 * (on average), zcipc_client_next() keeps trying to read for up to that
 * long before it sleeps, so that each frame costs no sleep and wake-up, at
 * the price of a CPU busy while it waits. Slower streams sleep at once, as
 * with 0 (the default: never spin). Any thread. */
void zcipc_client_set_spin (struct zcipc_client *client,
    unsigned int spin_us);

/* Gives frame `seq` back to the producer. Safe from any thread, also after
 * the connection closed. */
int zcipc_client_release (struct zcipc_client *client, uint64_t seq);

/* Makes a blocked (and every later) connect/next return -ECANCELED, until
 * zcipc_client_set_interrupted (client, false). */
void zcipc_client_set_interrupted (struct zcipc_client *client,
    bool interrupted);

/* Closes the socket; frames still held keep their regions mapped. */
void zcipc_client_disconnect (struct zcipc_client *client);

/* Asks to hold up to `max_held` frames at once (1 .. ZCIPC_WIRE_MAX_QUOTA),
 * when that is more than asked so far: at once if connected (the producer
 * answers within its cap; zcipc_client_quota() shows the grant once
 * zcipc_client_next() read it), else in the next handshake. Any thread.
 * 0, or -EINVAL. */
int zcipc_client_request_quota (struct zcipc_client *client,
    uint32_t max_held);

/* Tells the producer what only this side knows, for its stats (zcipc-top):
 * frames copied out of shared memory, and the lag of the last frame pushed
 * downstream (CLOCK_MONOTONIC at the push minus the frame's send_time; -1
 * before the first). Meant for about once a second. Any thread. 0,
 * -ENOTCONN, or a send error (-EAGAIN: socket full, skipped). */
int zcipc_client_send_report (struct zcipc_client *client,
    uint64_t frames_copied, int64_t lag_ns);

/* Frames of this connection handed out by zcipc_client_next() and not
 * released yet (the one just returned included). Any thread. */
unsigned int zcipc_client_held (struct zcipc_client *client);

/* Frames granted: this connection's producer sends no more while this many
 * are held. Any thread. */
uint32_t zcipc_client_quota (struct zcipc_client *client);
uint32_t zcipc_client_consumer_id (struct zcipc_client *client);
/* The last error's explanation, for messages; never NULL. */
const char *zcipc_client_reason (struct zcipc_client *client);
/* Times zcipc_client_next() found no message and slept for one (each a
 * wake-up: what spinning saves). */
uint64_t zcipc_client_sleeps (struct zcipc_client *client);

/* Whether to ask producers for a shared-memory channel (zcipc/channel.h) on
 * the next connect: frames then come without a socket message each, and
 * releases go back without one. On by default; off, or with a producer that
 * does not offer one, everything goes by socket. */
void zcipc_client_set_channel (struct zcipc_client *client, bool use_channel);
/* Whether this connection got a channel: known once zcipc_client_next()
 * read past the handshake (the channel follows WELCOME). */
bool zcipc_client_has_channel (struct zcipc_client *client);
/* Regions known now: announced, or still held by a frame (for leak
 * checks). */
unsigned int zcipc_client_n_regions (struct zcipc_client *client);

/* Most regions a producer may announce on one connection; more is a
 * protocol error. A zcipcsink with default settings announces at most 65
 * pool regions (its first, then one per 4 frames it grows by, up to 8 + 8
 * frames x 32 consumers), plus one per upstream buffer memory that crosses
 * by fd (a camera's 4-32) and a few for metas: 256 leaves room for larger
 * pools and still bounds what one connection can cost (fds, mappings). */
#define ZCIPC_CLIENT_MAX_REGIONS 256u

/* Regions are checked when announced (zcipc_region_check(): sealed memfds
 * and DMABufs only) and mapped at the first frame into them. A region that
 * would take the bytes mapped (of all regions mapped now) past
 * `map_bytes` is a protocol error; a region is populated up front only
 * while the bytes populated stay within `populate_bytes` (others fault in
 * as read). 0 for either: the default. Before or between next() calls. */
#define ZCIPC_CLIENT_DEFAULT_MAP_LIMIT (256ull << 20)
#define ZCIPC_CLIENT_DEFAULT_POPULATE_LIMIT (64ull << 20)
void zcipc_client_set_map_limits (struct zcipc_client *client,
    uint64_t map_bytes, uint64_t populate_bytes);

/* The next zcipc_client_connect() first waits `delay_ms` (interruptibly),
 * once: for backing off between connections. 0 (the default): none. */
void zcipc_client_set_retry_delay (struct zcipc_client *client,
    unsigned int delay_ms);

#ifdef __cplusplus
}
#endif
#endif
