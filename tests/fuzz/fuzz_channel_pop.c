/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* libFuzzer target for the consumer's side of a shared channel written by a
 * hostile producer: the input becomes the producer's published ring index
 * and the ring's bytes, and the consumer pops every record it accepts and
 * parses it as the client does. Then the same for the producer's side of
 * the release ring written by a hostile consumer.
 *
 * Input: [8 bytes ring_head, little endian][8 bytes release_head][ring
 * bytes...]. Beyond crashes (a read outside the mapping), it aborts when a
 * popped record is longer than the buffer given, when pop reports more
 * bytes consumed than were published, or when pop_releases hands out more
 * than the ring holds. */

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zcipc/channel.h"
#include "zcipc/wire.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  static uint8_t buf[ZCIPC_WIRE_MAX_MESSAGE_SIZE] __attribute__((aligned (8)));
  struct zcipc_channel producer, consumer;
  uint64_t ring_head, release_head;
  uint64_t seqs[ZCIPC_WIRE_MAX_RELEASES];
  unsigned int n = 0;
  size_t ring_bytes;
  int res;

  if (size < 16)
    return 0;
  memcpy (&ring_head, data, 8);
  memcpy (&release_head, data + 8, 8);
  data += 16;
  size -= 16;

  fuzz_channel_pair (&producer, &consumer, false);

  /* The hostile producer's writes. */
  ring_bytes = size < ZCIPC_CHANNEL_RING_SIZE ? size : ZCIPC_CHANNEL_RING_SIZE;
  memcpy ((uint8_t *) producer.shared + RING_OFFSET, data, ring_bytes);
  memcpy ((uint8_t *) producer.shared + RING_HEAD_OFFSET, &ring_head, 8);

  for (int budget = 0; budget < 4096; budget++) {
    enum zcipc_channel_record kind;
    struct zcipc_message msg;
    uint64_t before = consumer.ring_pos;
    size_t len = 0;

    res = zcipc_channel_pop (&consumer, buf, sizeof buf, &len, &kind);
    if (res < 0) {
      CHECK (res == -EAGAIN || res == -EPROTO);
      break;
    }
    CHECK (len <= ZCIPC_CHANNEL_MAX_RECORD);
    CHECK (consumer.ring_pos - before <= ZCIPC_CHANNEL_RING_SIZE);
    CHECK (consumer.ring_pos <= ring_head);
    if (kind == ZCIPC_CHANNEL_RECORD_MESSAGE)
      (void) zcipc_wire_parse (buf, len, NULL, 0, &msg);
    else
      CHECK (kind == ZCIPC_CHANNEL_RECORD_SOCKET);
  }

  /* The hostile consumer's writes. */
  memcpy ((uint8_t *) consumer.shared + RELEASE_HEAD_OFFSET, &release_head, 8);
  res = zcipc_channel_pop_releases (&producer, seqs, ZCIPC_WIRE_MAX_RELEASES,
      &n);
  CHECK (res == 0 || res == -EPROTO);
  CHECK (n <= ZCIPC_WIRE_MAX_RELEASES && n <= ZCIPC_CHANNEL_RELEASES);
  res = zcipc_channel_check_room (&producer, 64);
  CHECK (res == 0 || res == -EAGAIN || res == -EPROTO);

  zcipc_channel_clear (&consumer);
  zcipc_channel_clear (&producer);
  return 0;
}
