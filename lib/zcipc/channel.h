/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_CHANNEL_H
#define ZCIPC_CHANNEL_H

/* A channel is the shared-memory path between a producer and one consumer,
 * beside their socket: a ring of wire messages (producer -> consumer) and a
 * ring of released frame numbers (consumer -> producer), in one sealed memfd
 * that both map read-write. A frame then costs no system call while the
 * consumer is busy, and one futex wake-up (not a socket message) when it
 * sleeps; releases cost none.
 *
 * The socket stays: it carries fds (a message that has some is sent there
 * and the ring gets a marker in its place, which keeps the order), the
 * handshake, and a consumer's hang-up.
 *
 * Each side keeps its own indices privately and only publishes them: what it
 * reads from the other side is checked before use (a bad index or record is
 * -EPROTO), and records are copied out before they are parsed, so a peer
 * that scribbles on the channel can break its own stream, never ours. */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZCIPC_CHANNEL_RING_SIZE (64u * 1024u)     /* bytes, a power of two */
#define ZCIPC_CHANNEL_MAX_RECORD (16u * 1024u)    /* larger: by socket */
#define ZCIPC_CHANNEL_RELEASES 128u               /* a power of two */

/* What a record in the message ring is. */
enum zcipc_channel_record
{
  ZCIPC_CHANNEL_RECORD_MESSAGE = 1,     /* a wire message, inline */
  ZCIPC_CHANNEL_RECORD_SOCKET = 2,      /* the next message is on the socket */
  ZCIPC_CHANNEL_RECORD_PAD = 3,         /* skip to the ring's start */
};

struct zcipc_channel_shared;

struct zcipc_channel
{
  struct zcipc_channel_shared *shared;  /* NULL: no channel */
  size_t size;
  int fd;
  /* This side's own indices: never read back from the shared pages. */
  uint64_t ring_pos;            /* producer: written; consumer: read */
  uint64_t release_pos;         /* producer: read; consumer: written */
  uint64_t wakeups;             /* producer: futex wake-ups issued */
};

/* Producer: creates the channel (a sealed memfd mapped read-write).
 * `releases_by_socket` is the initial zcipc_channel_set_releases_by_socket().
 * The fd goes to the consumer in a CHANNEL message. */
int zcipc_channel_create (struct zcipc_channel *ch, bool releases_by_socket);

/* Consumer: maps a producer's channel `fd` after checking its size, seals
 * and header (-EBADFD if any is wrong). Owns `fd` on success only. */
int zcipc_channel_import (struct zcipc_channel *ch, int fd);

/* Unmaps and closes; safe on a zeroed or cleared channel. */
void zcipc_channel_clear (struct zcipc_channel *ch);

static inline bool
zcipc_channel_is_open (const struct zcipc_channel *ch)
{
  return ch->shared != NULL;
}

/* Producer. Whether a record of `size` bytes fits now (-EAGAIN if not);
 * -EPROTO if the consumer's read index is impossible. */
int zcipc_channel_check_room (struct zcipc_channel *ch, size_t size);

/* Producer. Appends one record made of `iov` (`kind` MESSAGE; SOCKET takes
 * no iov) and wakes the consumer if it sleeps. -EAGAIN if the ring is full,
 * -EMSGSIZE above ZCIPC_CHANNEL_MAX_RECORD, -EPROTO as check_room. */
int zcipc_channel_push (struct zcipc_channel *ch,
    enum zcipc_channel_record kind, const struct iovec *iov,
    unsigned int n_iov);

/* Producer. Wakes the consumer if it sleeps, without a record (it will look
 * at its socket: a hang-up follows). */
void zcipc_channel_wake (struct zcipc_channel *ch);

/* Producer. Reads up to `max` released frame numbers. -EPROTO if the
 * consumer's index is impossible. */
int zcipc_channel_pop_releases (struct zcipc_channel *ch, uint64_t *seqs,
    unsigned int max, unsigned int *n);

/* Producer. Asks the consumer to send its releases on the socket (true: the
 * producer sleeps in poll() and needs a wake-up for them) or to put them in
 * the ring (false: the producer reads them with its next frame). After
 * setting true, read the ring once more: releases put there before the
 * consumer saw the change are only there. */
void zcipc_channel_set_releases_by_socket (struct zcipc_channel *ch,
    bool by_socket);

/* Consumer. Copies the next record's payload into `buf` (`cap` bytes) and
 * consumes it. -EAGAIN if the ring is empty, -EPROTO if the producer wrote
 * an impossible index or record. */
int zcipc_channel_pop (struct zcipc_channel *ch, void *buf, size_t cap,
    size_t *len, enum zcipc_channel_record *kind);

/* Consumer. Whether a record is waiting. */
bool zcipc_channel_pending (struct zcipc_channel *ch);

/* Consumer. Sleeps until the producer publishes a record or wakes us, up to
 * `timeout_ms` (-1: forever), or returns at once if a record is there or
 * `*interrupted` is set. 0, or -ETIMEDOUT. */
int zcipc_channel_wait (struct zcipc_channel *ch, int timeout_ms,
    const atomic_bool *interrupted);

/* Consumer. Ends a zcipc_channel_wait() of another thread (after the caller
 * set its `interrupted`). */
void zcipc_channel_interrupt (struct zcipc_channel *ch);

/* Consumer. Whether the producer wants releases on the socket now. */
bool zcipc_channel_releases_by_socket (struct zcipc_channel *ch);

/* Consumer. Puts a released frame number in the ring: -EAGAIN if it is full.
 * Returns 1 if the producer switched to socket releases meanwhile: then send
 * it a WAKE so that it reads the ring. */
int zcipc_channel_push_release (struct zcipc_channel *ch, uint64_t seq);

#ifdef __cplusplus
}
#endif
#endif
