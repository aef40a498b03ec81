/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_FUZZ_H
#define ZCIPC_FUZZ_H

/* What the libFuzzer targets share: how an invariant fails (abort, which
 * libFuzzer reports with the input), lib/channel.c's shared layout (which
 * it _Static_asserts) for the targets that scribble on it, and the two
 * ends of one channel. The fd and mapping counting and the fake
 * producer's connect are tests/common's. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "zcipc/channel.h"

#define CHECK(cond) \
  do { \
    if (!(cond)) { \
      fprintf (stderr, "invariant broken: %s (line %d)\n", #cond, \
          __LINE__); \
      abort (); \
    } \
  } while (0)

/* lib/channel.c's layout. */
#define HEADER_SIZE 256
#define RING_HEAD_OFFSET 64
#define RING_TAIL_OFFSET 128
#define RELEASE_HEAD_OFFSET 136
#define RELEASE_RING_OFFSET HEADER_SIZE
#define RING_OFFSET (HEADER_SIZE + ZCIPC_CHANNEL_RELEASES * 8)
#define LAYOUT_SIZE (RING_OFFSET + ZCIPC_CHANNEL_RING_SIZE)

/* A new channel (`producer`) and its import through a second fd
 * (`consumer`), as a client maps what its producer sent. */
static inline void
fuzz_channel_pair (struct zcipc_channel *producer,
    struct zcipc_channel *consumer, bool releases_by_socket)
{
  int fd;

  CHECK (zcipc_channel_create (producer, releases_by_socket) == 0);
  CHECK (producer->size >= LAYOUT_SIZE);
  fd = dup (producer->fd);
  CHECK (fd >= 0);
  CHECK (zcipc_channel_import (consumer, fd) == 0);
}

#endif
