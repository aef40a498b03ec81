/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* libFuzzer target: a hostile peer scribbles on a shared channel WHILE the
 * honest side uses it, from another thread (issue 15).
 *
 * A channel is one memfd mapped twice here, as by two processes: the
 * producer's mapping and the consumer's. One thread is the honest side, the
 * other the peer, which follows the protocol in between (so that records
 * and releases flow) and writes fuzzer-chosen bytes at fuzzer-chosen
 * offsets of its own mapping: the header's indices, the release ring, the
 * message ring.
 *
 * Byte 0, bit 0 picks who is honest:
 *   0: the consumer (zcipc_channel_pop, _pending, _wait, _push_release)
 *      against a hostile producer;
 *   1: the producer (zcipc_channel_push, _check_room, _pop_releases)
 *      against a hostile consumer.
 * Byte 1 sizes the consumer's buffer. Then ops for the peer, each
 * [op][offset lo][offset hi][len][len bytes]: op % 4 < 2 is a protocol
 * step, else a scribble of the bytes at the offset (bits 2-3 pick the
 * header, the release ring or the message ring; bit 7 aims at the indices
 * the honest side reads; bit 6 yields after the op).
 *
 * The honest side must: never read or write outside its buffers or the
 * mapping (ASan for the buffers; the page tail past the layout must stay
 * untouched, and reads past the mapping fault), return only the documented
 * codes, stop at its first -EPROTO (as zcipc_client and lib/server.c do),
 * never hand out more than was published, and finish: once the peer
 * stops, within a bounded number of calls, and before a wall-clock
 * deadline per input. */

#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "zcipc/channel.h"
#include "zcipc/clock.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

/* Per input: the honest side must be done this long after it started. */
#define DEADLINE_NS (2 * 1000000000LL)

struct run
{
  struct zcipc_channel producer, consumer;
  const uint8_t *ops;
  size_t n_ops;
  bool producer_honest;
  atomic_bool peer_done;
  atomic_bool interrupted;
};

/* The peer's mapping: what it may scribble on. */
static uint8_t *
peer_mapping (struct run *run)
{
  return (uint8_t *) (run->producer_honest ? run->consumer.shared :
      run->producer.shared);
}

static void
scribble (struct run *run, uint8_t op, uint16_t offset, const uint8_t * bytes,
    size_t len)
{
  static const size_t base[3] = { 0, RELEASE_RING_OFFSET, RING_OFFSET };
  static const size_t span[3] = { HEADER_SIZE, ZCIPC_CHANNEL_RELEASES * 8,
    ZCIPC_CHANNEL_RING_SIZE
  };
  unsigned int area = ((op >> 2) & 3) % 3;
  size_t at = base[area] + offset % span[area];

  if (op & 0x80) {
    area = 0;
    /* Aim at the indices the honest side reads: the producer's ring_head
     * or the consumer's ring_tail / release_head. */
    at = run->producer_honest ? RING_TAIL_OFFSET + (offset % 2) * 8 :
        RING_HEAD_OFFSET + (offset % 2) * 8;
  }
  if (at + len > base[area] + span[area])
    len = base[area] + span[area] - at;
  /* Byte by byte, volatile: a peer's stores land while we read. */
  for (size_t i = 0; i < len; i++)
    ((volatile uint8_t *) peer_mapping (run))[at + i] = bytes[i];
}

/* The peer's protocol steps, so that there is something to break. */
static void
peer_step (struct run *run, uint16_t arg, const uint8_t * bytes, size_t len)
{
  if (!run->producer_honest) {
    struct iovec iov = { (void *) bytes, len };
    if (arg & 1)
      zcipc_channel_push (&run->producer, ZCIPC_CHANNEL_RECORD_SOCKET, NULL, 0);
    else
      zcipc_channel_push (&run->producer, ZCIPC_CHANNEL_RECORD_MESSAGE, &iov,
          1);
  } else {
    static uint8_t sink[ZCIPC_CHANNEL_MAX_RECORD];
    enum zcipc_channel_record kind;
    size_t got;
    /* Drains the ring (so the producer can go on) and releases. */
    for (unsigned int i = 0; i < (arg & 7u); i++)
      if (zcipc_channel_pop (&run->consumer, sink, sizeof sink, &got,
              &kind) < 0)
        break;
    zcipc_channel_push_release (&run->consumer, arg);
  }
}

static void *
peer_thread (void *user)
{
  struct run *run = user;
  const uint8_t *p = run->ops, *end = run->ops + run->n_ops;

  while (end - p >= 4) {
    uint8_t op = p[0];
    uint16_t offset = (uint16_t) (p[1] | p[2] << 8);
    size_t len = p[3] % 33;
    p += 4;
    if ((size_t) (end - p) < len)
      len = (size_t) (end - p);
    if (op % 4 < 2)
      peer_step (run, offset, p, len);
    else
      scribble (run, op, offset, p, len);
    p += len;
    if (op & 0x40)
      sched_yield ();           /* lets the honest side run in between */
  }
  atomic_store (&run->peer_done, true);
  return NULL;
}

/* The honest consumer, as zcipc_client reads its channel. */
static void
honest_consumer (struct run *run, size_t cap, int64_t deadline)
{
  uint8_t *buf = malloc (cap);  /* exactly cap: ASan sees an overflow */
  unsigned int after_peer = 0;
  uint64_t seq = 0;

  CHECK (buf != NULL);
  for (;;) {
    bool peer_done = atomic_load (&run->peer_done);
    uint64_t before = run->consumer.ring_pos;
    enum zcipc_channel_record kind;
    size_t len = (size_t) -1;
    int res;

    CHECK (zcipc_now_ns () < deadline);
    if (peer_done)
      CHECK (++after_peer <= ZCIPC_CHANNEL_RING_SIZE / 8 + 2);
    (void) zcipc_channel_pending (&run->consumer);
    res = zcipc_channel_pop (&run->consumer, buf, cap, &len, &kind);
    if (res == -EPROTO)
      break;                    /* the client drops the connection */
    if (res == -EAGAIN) {
      CHECK (run->consumer.ring_pos == before);
      if (peer_done)
        break;
      res = zcipc_channel_wait (&run->consumer, 0, &run->interrupted);
      CHECK (res == 0 || res == -ETIMEDOUT);
      continue;
    }
    CHECK (res == 0);
    CHECK (len <= cap && len <= ZCIPC_CHANNEL_MAX_RECORD);
    CHECK (kind == ZCIPC_CHANNEL_RECORD_MESSAGE ||
        kind == ZCIPC_CHANNEL_RECORD_SOCKET);
    CHECK (run->consumer.ring_pos > before);
    CHECK (run->consumer.ring_pos - before <=
        ZCIPC_CHANNEL_RING_SIZE + 8 + ZCIPC_CHANNEL_MAX_RECORD);
    res = zcipc_channel_push_release (&run->consumer, seq++);
    CHECK (res == 0 || res == 1 || res == -EAGAIN);
  }
  free (buf);
}

/* The honest producer, as lib/server.c uses its channels. */
static void
honest_producer (struct run *run, const uint8_t * payload, size_t payload_size,
    int64_t deadline)
{
  uint64_t seqs[ZCIPC_CHANNEL_RELEASES];
  unsigned int after_peer = 0, turn = 0;

  for (;;) {
    bool peer_done = atomic_load (&run->peer_done);
    struct iovec iov = { (void *) payload, payload_size > 0 ?
          (turn * 37) % (payload_size + 1) : 0
    };
    uint64_t before = run->producer.release_pos;
    unsigned int n = 1234;
    int res;

    CHECK (zcipc_now_ns () < deadline);
    if (peer_done && ++after_peer > 64)
      break;
    turn++;
    res = zcipc_channel_check_room (&run->producer, iov.iov_len);
    CHECK (res == 0 || res == -EAGAIN || res == -EPROTO);
    if (res == -EPROTO)
      break;                    /* drop_corrupt_channel_locked() */
    res = zcipc_channel_push (&run->producer, ZCIPC_CHANNEL_RECORD_MESSAGE,
        &iov, 1);
    CHECK (res == 0 || res == -EAGAIN || res == -EPROTO);
    if (res == -EPROTO)
      break;
    res = zcipc_channel_pop_releases (&run->producer, seqs,
        ZCIPC_CHANNEL_RELEASES, &n);
    CHECK (res == 0 || res == -EPROTO);
    CHECK (n <= ZCIPC_CHANNEL_RELEASES);
    CHECK (run->producer.release_pos - before == n);
    if (res == -EPROTO) {
      CHECK (n == 0);
      break;
    }
    if (!peer_done && (turn & 3) == 0)
      sched_yield ();
  }
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  static const size_t caps[4] = { ZCIPC_CHANNEL_MAX_RECORD, 64, 8, 1024 };
  struct run *run;
  pthread_t peer;
  int64_t deadline;
  size_t cap;

  if (size < 2)
    return 0;
  run = calloc (1, sizeof *run);
  CHECK (run != NULL);
  run->producer_honest = data[0] & 1;
  cap = caps[data[1] % 4];
  run->ops = data + 2;
  run->n_ops = size - 2;

  fuzz_channel_pair (&run->producer, &run->consumer, data[0] & 2);

  deadline = zcipc_now_ns () + DEADLINE_NS;
  CHECK (pthread_create (&peer, NULL, peer_thread, run) == 0);
  if (run->producer_honest)
    honest_producer (run, run->ops, run->n_ops < ZCIPC_CHANNEL_MAX_RECORD ?
        run->n_ops : ZCIPC_CHANNEL_MAX_RECORD, deadline);
  else
    honest_consumer (run, cap, deadline);
  CHECK (pthread_join (peer, NULL) == 0);

  /* Nobody wrote past the layout: the page's tail is as mmap made it. */
  for (size_t i = LAYOUT_SIZE; i < run->producer.size; i++)
    CHECK (((uint8_t *) run->producer.shared)[i] == 0);

  zcipc_channel_clear (&run->consumer);
  zcipc_channel_clear (&run->producer);
  free (run);
  return 0;
}
