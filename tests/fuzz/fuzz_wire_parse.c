/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* libFuzzer target for zcipc_wire_parse().
 *
 * Input: one byte whose value modulo 8 is the number of fds the datagram
 * "arrived" with (0 to 7: none, the one REGION_ADD needs, and more than any
 * message carries), then the datagram. The datagram starts one byte into
 * the input, so it is never 8-aligned: parse must not dereference it as a
 * struct (UBSan's alignment check would trip).
 *
 * Beyond not crashing, every accepted message must satisfy what callers
 * rely on; a violation aborts with a message. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zcipc/wire.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

/* Reads every byte of [p, p + n) so that ASan sees an out-of-bounds
 * pointer the parser handed out. */
static uint8_t
touch (const uint8_t * p, size_t n)
{
  uint8_t x = 0;
  for (size_t i = 0; i < n; i++)
    x ^= p[i];
  return x;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  static const int fds[8] = { 100, 101, 102, 103, 104, 105, 106, 107 };
  volatile uint8_t sink = 0;
  struct zcipc_message msg;
  const uint8_t *dgram, *end;
  unsigned int n_fds;
  size_t len;
  int res;

  if (size < 1)
    return 0;
  n_fds = data[0] % 8u;
  dgram = data + 1;
  len = size - 1;
  end = dgram + len;

  memset (&msg, 0xa5, sizeof msg);
  res = zcipc_wire_parse (dgram, len, fds, n_fds, &msg);
  CHECK (res == 0 || res == -EPROTO || res == -ENOMSG);
  if (res == -ENOMSG) {
    CHECK (n_fds == 0);
    CHECK (msg.type == 0);
    CHECK (len >= sizeof (struct zcipc_wire_header));
    return 0;
  }
  if (res < 0)
    return 0;

  CHECK (len >= sizeof (struct zcipc_wire_header));
  CHECK (len <= ZCIPC_WIRE_MAX_MESSAGE_SIZE);
  CHECK (n_fds == (msg.type == ZCIPC_WIRE_REGION_ADD ||
          msg.type == ZCIPC_WIRE_CHANNEL ? 1u : 0u));
  switch (msg.type) {
    case ZCIPC_WIRE_HELLO:
      CHECK (len == sizeof msg.hello);
      CHECK (msg.hello.magic == ZCIPC_WIRE_MAGIC);
      CHECK (msg.hello.max_held != 0);
      CHECK ((msg.hello.flags & ~ZCIPC_HELLO_FLAGS_KNOWN) == 0);
      break;
    case ZCIPC_WIRE_WELCOME:
      CHECK (len == sizeof msg.welcome);
      CHECK (msg.welcome.quota >= 1);
      CHECK (msg.welcome.quota <= ZCIPC_WIRE_MAX_QUOTA);
      break;
    case ZCIPC_WIRE_REJECT:
      CHECK (len == sizeof msg.reject);
      CHECK (msg.reject.error < 0);
      CHECK (strlen (msg.reject.reason) < ZCIPC_WIRE_REASON_SIZE);
      break;
    case ZCIPC_WIRE_REGION_ADD:
      CHECK (len == sizeof msg.region_add.info);
      CHECK (msg.region_add.fd == fds[0]);
      CHECK (msg.region_add.info.size != 0);
      break;
    case ZCIPC_WIRE_REGION_REMOVE:
      CHECK (len == sizeof msg.region_remove);
      break;
    case ZCIPC_WIRE_EVENT:
      CHECK (msg.event.payload >= dgram);
      CHECK (msg.event.payload + msg.event.info.payload_size == end);
      sink ^= touch (msg.event.payload, msg.event.info.payload_size);
      break;
    case ZCIPC_WIRE_FRAME:
      CHECK ((msg.frame.info.frame_flags & ~ZCIPC_FRAME_FLAGS_KNOWN) == 0);
      if (msg.frame.info.frame_flags & ZCIPC_FRAME_FLAG_METAS_IN_REGION) {
        /* One more mem, the metas', and no inline metas. */
        CHECK (msg.frame.info.n_mems >= 1);
        CHECK (msg.frame.info.n_mems <= ZCIPC_WIRE_MAX_MEMS + 1);
        CHECK (msg.frame.info.meta_size == 0);
        CHECK (msg.frame.mems[msg.frame.info.n_mems - 1].size <=
            ZCIPC_WIRE_MAX_META_SIZE);
      } else {
        /* 0: a buffer without memory. */
        CHECK (msg.frame.info.n_mems <= ZCIPC_WIRE_MAX_MEMS);
      }
      for (uint32_t i = 0; i < msg.frame.info.n_mems; i++) {
        CHECK (msg.frame.mems[i].size != 0);
        CHECK (msg.frame.mems[i].offset + msg.frame.mems[i].size >
            msg.frame.mems[i].offset);
      }
      CHECK (msg.frame.meta >= dgram);
      CHECK (msg.frame.meta + msg.frame.info.meta_size == end);
      sink ^= touch (msg.frame.meta, msg.frame.info.meta_size);
      break;
    case ZCIPC_WIRE_RELEASE:
      CHECK (msg.release.count >= 1);
      CHECK (msg.release.count <= ZCIPC_WIRE_MAX_RELEASES);
      CHECK (len == sizeof (struct zcipc_wire_release) +
          msg.release.count * sizeof (uint64_t));
      break;
    case ZCIPC_WIRE_LEAVE:
      CHECK (len == sizeof (struct zcipc_wire_leave));
      break;
    case ZCIPC_WIRE_CHANNEL:
      CHECK (len == sizeof msg.channel.info);
      CHECK (msg.channel.fd == fds[0]);
      CHECK (msg.channel.info.size != 0);
      break;
    case ZCIPC_WIRE_WAKE:
      CHECK (len == sizeof (struct zcipc_wire_wake));
      break;
    case ZCIPC_WIRE_QUOTA:
      CHECK (len == sizeof msg.quota && n_fds == 0);
      CHECK (msg.quota.max_held >= 1);
      CHECK (msg.quota.max_held <= ZCIPC_WIRE_MAX_QUOTA);
      break;
    case ZCIPC_WIRE_GRANT:
      CHECK (len == sizeof msg.grant && n_fds == 0);
      CHECK (msg.grant.quota >= 1);
      CHECK (msg.grant.quota <= ZCIPC_WIRE_MAX_QUOTA);
      break;
    case ZCIPC_WIRE_REPORT:
      CHECK (len == sizeof msg.report && n_fds == 0);
      CHECK (msg.report.flags == 0 && msg.report.lag_ns >= -1);
      break;
    case ZCIPC_WIRE_STATS_REQUEST:
      CHECK (len == sizeof msg.stats_request && n_fds == 0);
      CHECK (msg.stats_request.magic == ZCIPC_WIRE_MAGIC);
      break;
    case ZCIPC_WIRE_STATS_REPLY:
      CHECK (n_fds == 0);
      CHECK (msg.stats_reply.info.version == ZCIPC_STATS_VERSION);
      CHECK (msg.stats_reply.info.n_consumers <=
          ZCIPC_WIRE_STATS_MAX_CONSUMERS);
      CHECK (msg.stats_reply.info.caps_size <= ZCIPC_WIRE_STATS_CAPS_MAX);
      CHECK ((const uint8_t *) msg.stats_reply.caps +
          msg.stats_reply.info.caps_size == end);
      sink ^= touch ((const uint8_t *) msg.stats_reply.caps,
          msg.stats_reply.info.caps_size);
      break;
    default:
      CHECK (!"accepted a message of an unknown type");
  }
  CHECK (strcmp (zcipc_wire_type_name (msg.type), "UNKNOWN") != 0);
  (void) sink;
  return 0;
}
