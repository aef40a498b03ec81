/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_CLIENT_PRIVATE_H
#define ZCIPC_CLIENT_PRIVATE_H

/* What the parts of the consumer's side share; not installed, not API.
 *
 *   client.c          the object: lifetime, settings, getters
 *   client-connect.c  the connection: connect, handshake, disconnect
 *   client-receive.c  zcipc_client_next(): waiting for the producer's next
 *                     message (spin or sleep) and dispatching it
 *   client-regions.c  the regions a producer announces: checked, mapped
 *                     within limits, dropped with their last reference
 *   client-frames.c   the frames a consumer holds: taken, released, and
 *                     what goes back to the producer (RELEASE, QUOTA)
 *
 * Locking: fields above `lock` in struct zcipc_client are set before
 * connect or belong to next()'s thread (or are atomics); `lock` protects
 * everything below it. Functions named *_locked expect it held. */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zcipc/channel.h"
#include "zcipc/client.h"
#include "zcipc/region.h"
#include "zcipc/wire.h"

struct client_region
{
  uint32_t id;
  uint32_t flags;
  int fd;                       /* owned until mapped, then region's */
  uint64_t size;                /* as announced (and checked) */
  bool populated;               /* counted in populated_bytes */
  struct zcipc_region region;   /* mapped at the first frame into it */
  unsigned int refs;            /* frames pointing into it, +1 while announced */
  bool announced;
};

struct held_frame
{
  uint64_t seq;                 /* 0: free entry */
  uint64_t connection;          /* zcipc_client.connection it came on */
  uint32_t n_regions;
  struct client_region *regions[ZCIPC_WIRE_MAX_MEMS];
};

/* The biggest datagram a producer may send. */
#define RECV_BUFFER_SIZE ZCIPC_WIRE_MAX_MESSAGE_SIZE

/* How long a consumer sleeps on its channel before it looks at the socket:
 * a producer that crashed cannot wake it, so this bounds how late its
 * hang-up is seen. An orderly one wakes it at once. */
#define CHANNEL_CHECK_MS 100

struct zcipc_client
{
  atomic_uint refcount;
  char *path;
  int interrupt_fd;             /* eventfd */
  atomic_bool interrupted;      /* the same, for spinning without a syscall */
  atomic_uint spin_us;          /* see zcipc_client_set_spin() */
  atomic_uint_least64_t sleeps; /* waits in next() for a message */
  uint8_t *buffer;              /* one received datagram, 8-aligned */
  /* next()'s thread only: the last frame's metas, when they came in a
   * region (copied out: the producer may write there while we parse). */
  uint8_t *metas;
  size_t metas_size;
  bool use_channel;             /* ask producers for a channel */
  bool wait_any_path;           /* see zcipc_client_set_wait_any_path() */
  /* next()'s thread only */
  unsigned int socket_due;      /* channel markers whose message is unread */
  unsigned int socket_ahead;    /* socket messages read before their marker */
  bool waited_last;             /* the last frame found the socket empty */
  int64_t last_frame_ns;        /* when the last frame arrived */
  int64_t frame_gap_ns;         /* average time between frames */

  pthread_mutex_t lock;         /* protects everything below */
  uint32_t max_held;            /* what we ask for: only ever grows */
  bool quota_unsent;            /* a QUOTA found the socket full */
  int fd;                       /* -1 when not connected */
  struct zcipc_channel channel; /* open once the producer sent CHANNEL */
  uint32_t quota;
  uint32_t consumer_id;
  uint64_t connection;          /* counts handshakes: seqs are per connection */
  bool leaving;                 /* disconnected with frames held: the socket
                                 * stays open until they are released */
  bool report_removals;
  struct client_region **regions;
  unsigned int n_regions;
  /* What a producer may make us map: see zcipc_client_set_map_limits() */
  uint64_t map_limit;
  uint64_t populate_limit;
  uint64_t mapped_bytes;        /* of the regions mapped now */
  uint64_t populated_bytes;     /* of those, populated when mapped */
  unsigned int retry_delay_ms;  /* before connect's first try */
  struct held_frame *held;      /* ZCIPC_WIRE_MAX_QUOTA entries */
  uint64_t pending[ZCIPC_WIRE_MAX_QUOTA];       /* releases not sent yet */
  uint32_t n_pending;
  char reason[512];
};

/* client.c */
void client_set_reason (struct zcipc_client *c, const char *format, ...)
    __attribute__((format (printf, 2, 3)));

/* client-connect.c */
void client_close_socket_locked (struct zcipc_client *c);
void client_sanitize_reason (char *reason);

/* client-receive.c: waiting, shared with connect */
int client_wait_readable (struct zcipc_client *c, int fd, int timeout_ms);
int client_remaining (int64_t deadline, int timeout_ms);
int client_receive (struct zcipc_client *c, int fd, size_t *len, int *fds,
    unsigned int *n_fds);
int client_read_message (struct zcipc_client *c, int fd, size_t *len,
    int *fds, unsigned int *n_fds);

/* client-regions.c */
int client_add_region_locked (struct zcipc_client *c,
    const struct zcipc_message *msg);
int client_map_new_region_locked (struct zcipc_client *c,
    struct client_region *r);
int client_remove_region_locked (struct zcipc_client *c, uint32_t id,
    uint32_t * flags);
void client_region_unref_locked (struct zcipc_client *c,
    struct client_region *r);
void client_forget_regions_locked (struct zcipc_client *c);
int client_copy_metas_locked (struct zcipc_client *c, uint64_t seq,
    const struct zcipc_wire_mem *m);

/* Looked up for every memory of every frame: inline, as it was before the
 * client was split into files. */
static inline struct client_region *
client_find_region_locked (struct zcipc_client *c, uint32_t id)
{
  for (unsigned int i = 0; i < c->n_regions; i++)
    if (c->regions[i]->announced && c->regions[i]->id == id)
      return c->regions[i];
  return NULL;
}

/* Maps `r` if it is not yet, within this client's limits. */
static inline int
client_map_region_locked (struct zcipc_client *c, struct client_region *r)
{
  return r->region.data ? 0 : client_map_new_region_locked (c, r);
}

/* client-frames.c */
int client_take_frame_locked (struct zcipc_client *c,
    const struct zcipc_message *msg, struct zcipc_client_event *ev);
void client_flush_releases_locked (struct zcipc_client *c);
void client_send_quota_locked (struct zcipc_client *c);
unsigned int client_held_now_locked (struct zcipc_client *c);
void client_release_unread_locked (struct zcipc_client *c);

#endif
