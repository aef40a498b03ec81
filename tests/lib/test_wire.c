/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

/* Every message is built with the zcipc_wire_init_* functions into an
 * 8-aligned buffer, then parsed back. Rejections tamper with one field of a
 * valid message, so each test fails for the reason it names. */

static union zt_msg_buf buf;
static union zt_msg_buf other;

static const int one_fd[1] = { 42 };
static const int two_fds[2] = { 42, 43 };

static size_t
build_hello (uint32_t max_held)
{
  struct zcipc_wire_hello m;
  size_t n = zcipc_wire_init_hello (&m, max_held);
  memcpy (buf.bytes, &m, n);
  return n;
}

static size_t
build_welcome (uint32_t quota, uint32_t id)
{
  struct zcipc_wire_welcome m;
  size_t n = zcipc_wire_init_welcome (&m, quota, id);
  memcpy (buf.bytes, &m, n);
  return n;
}

static size_t
build_reject (int error, const char *reason)
{
  struct zcipc_wire_reject m;
  size_t n = zcipc_wire_init_reject (&m, error, reason);
  memcpy (buf.bytes, &m, n);
  return n;
}

static size_t
build_region_add (uint32_t id, uint32_t flags, uint64_t size)
{
  struct zcipc_wire_region_add m;
  size_t n = zcipc_wire_init_region_add (&m, id, flags, size);
  memcpy (buf.bytes, &m, n);
  return n;
}

static size_t
build_region_remove (uint32_t id)
{
  struct zcipc_wire_region_remove m;
  size_t n = zcipc_wire_init_region_remove (&m, id);
  memcpy (buf.bytes, &m, n);
  return n;
}

static size_t
build_event (uint32_t kind, const void *payload, uint32_t size)
{
  struct zcipc_wire_event m;
  size_t n = zcipc_wire_init_event (&m, kind, size);
  memcpy (buf.bytes, &m, n);
  if (size)
    memcpy (buf.bytes + n, payload, size);
  return n + size;
}

static size_t
build_leave (void)
{
  struct zcipc_wire_leave m;
  size_t n = zcipc_wire_init_leave (&m);
  memcpy (buf.bytes, &m, n);
  return n;
}

/* A frame of `n_mems` mems (region i + 1, offset 4096 * i, size 100 + i)
 * followed by `meta_size` bytes of 0x5a. */
static size_t
build_frame (uint32_t n_mems, uint32_t meta_size)
{
  struct zcipc_wire_frame f;
  size_t n = zcipc_wire_init_frame (&f, n_mems, meta_size);
  uint32_t i;

  f.seq = 77;
  f.pts = 1000000001;
  f.dts = 1000000000;
  f.duration = 33333333;
  f.offset = 5;
  f.offset_end = 6;
  f.send_time = 123456789;
  f.flags = 0x4001;
  memcpy (buf.bytes, &f, n);
  for (i = 0; i < n_mems; i++) {
    struct zcipc_wire_mem mem = { i + 1, 0, 4096u * i, 100u + i };
    memcpy (buf.bytes + n + i * sizeof mem, &mem, sizeof mem);
  }
  memset (buf.bytes + n + n_mems * sizeof (struct zcipc_wire_mem), 0x5a,
      meta_size);
  return n + n_mems * sizeof (struct zcipc_wire_mem) + meta_size;
}

static size_t
build_release (uint32_t count)
{
  uint64_t seqs[ZCIPC_WIRE_MAX_RELEASES + 1];

  for (uint32_t i = 0; i < count; i++)
    seqs[i] = 1000 + i;
  return zt_build_release (&buf, seqs, count);
}

/* Overwrites the header's size field. */
static void
set_header_size (uint32_t size)
{
  memcpy (buf.bytes + offsetof (struct zcipc_wire_header, size), &size,
      sizeof size);
}

static void
set_u32 (size_t offset, uint32_t value)
{
  memcpy (buf.bytes + offset, &value, sizeof value);
}

static int
parse (size_t len, const int *fds, unsigned int n_fds,
    struct zcipc_message *msg)
{
  return zcipc_wire_parse (buf.bytes, len, fds, n_fds, msg);
}

static int
parse_len (size_t len, unsigned int n_fds)
{
  struct zcipc_message msg;
  int fds[4] = { 42, 43, 44, 45 };
  return parse (len, fds, n_fds, &msg);
}

/* --- round trips --------------------------------------------------------- */

START_TEST (test_hello_round_trips)
{
  struct zcipc_message msg;
  size_t n = build_hello (5);

  ck_assert_uint_eq (n, sizeof (struct zcipc_wire_hello));
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_HELLO);
  ck_assert_uint_eq (msg.hello.header.size, n);
  ck_assert_uint_eq (msg.hello.magic, ZCIPC_WIRE_MAGIC);
  ck_assert_uint_eq (msg.hello.version, ZCIPC_PROTOCOL_VERSION);
  ck_assert_uint_eq (msg.hello.max_held, 5);
  ck_assert_uint_eq (msg.hello.flags, 0);
}

END_TEST;

START_TEST (test_welcome_round_trips)
{
  struct zcipc_message msg;
  size_t n = build_welcome (ZCIPC_WIRE_MAX_QUOTA, 0xdeadbeef);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_WELCOME);
  ck_assert_uint_eq (msg.welcome.magic, ZCIPC_WIRE_MAGIC);
  ck_assert_uint_eq (msg.welcome.version, ZCIPC_PROTOCOL_VERSION);
  ck_assert_uint_eq (msg.welcome.quota, ZCIPC_WIRE_MAX_QUOTA);
  ck_assert_uint_eq (msg.welcome.consumer_id, 0xdeadbeef);
}

END_TEST;

START_TEST (test_reject_round_trips)
{
  struct zcipc_message msg;
  size_t n = build_reject (-EACCES, "uid not allowed");

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_REJECT);
  ck_assert_uint_eq (msg.reject.version, ZCIPC_PROTOCOL_VERSION);
  ck_assert_int_eq (msg.reject.error, -EACCES);
  ck_assert_str_eq (msg.reject.reason, "uid not allowed");
}

END_TEST;

START_TEST (test_reject_with_long_reason_is_truncated_and_terminated)
{
  struct zcipc_message msg;
  char reason[400];
  size_t n;

  memset (reason, 'r', sizeof reason - 1);
  reason[sizeof reason - 1] = '\0';
  n = build_reject (-EPROTONOSUPPORT, reason);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (strlen (msg.reject.reason), ZCIPC_WIRE_REASON_SIZE - 1);
}

END_TEST;

START_TEST (test_reject_turns_a_non_negative_error_into_eperm)
{
  struct zcipc_message msg;
  size_t n = build_reject (0, NULL);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_int_eq (msg.reject.error, -EPERM);
  ck_assert_str_eq (msg.reject.reason, "");
}

END_TEST;

START_TEST (test_region_add_round_trips_with_its_fd)
{
  struct zcipc_message msg;
  size_t n = build_region_add (9, ZCIPC_REGION_FLAG_MEMFD, 1ull << 33);

  ck_assert_int_eq (parse (n, one_fd, 1, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_REGION_ADD);
  ck_assert_uint_eq (msg.region_add.info.region_id, 9);
  ck_assert_uint_eq (msg.region_add.info.flags, ZCIPC_REGION_FLAG_MEMFD);
  ck_assert_uint_eq (msg.region_add.info.size, 1ull << 33);
  ck_assert_int_eq (msg.region_add.fd, 42);

  n = build_region_add (10, ZCIPC_REGION_FLAG_DMABUF, 1);
  ck_assert_int_eq (parse (n, one_fd, 1, &msg), 0);
  ck_assert_uint_eq (msg.region_add.info.flags, ZCIPC_REGION_FLAG_DMABUF);
}

END_TEST;

START_TEST (test_region_remove_round_trips)
{
  struct zcipc_message msg;
  size_t n = build_region_remove (0xfffffffe);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_REGION_REMOVE);
  ck_assert_uint_eq (msg.region_remove.region_id, 0xfffffffe);
}

END_TEST;

START_TEST (test_event_round_trips_with_its_payload)
{
  static const char payload[] = "video/x-raw, format=RGBA, width=640";
  struct zcipc_message msg;
  size_t n = build_event (3, payload, sizeof payload);

  ck_assert_uint_eq (n, sizeof (struct zcipc_wire_event) + sizeof payload);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_EVENT);
  ck_assert_uint_eq (msg.event.info.kind, 3);
  ck_assert_uint_eq (msg.event.info.payload_size, sizeof payload);
  /* The payload is not copied: it points into the datagram. */
  ck_assert_ptr_eq (msg.event.payload,
      buf.bytes + sizeof (struct zcipc_wire_event));
  ck_assert_mem_eq (msg.event.payload, payload, sizeof payload);
}

END_TEST;

START_TEST (test_event_without_payload_round_trips)
{
  struct zcipc_message msg;
  size_t n = build_event (8, NULL, 0);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.event.info.kind, 8);
  ck_assert_uint_eq (msg.event.info.payload_size, 0);
}

END_TEST;

START_TEST (test_event_of_the_largest_size_round_trips)
{
  struct zcipc_message msg;
  uint32_t size =
      ZCIPC_WIRE_MAX_MESSAGE_SIZE - sizeof (struct zcipc_wire_event);
  size_t n = build_event (1, NULL, 0);

  set_u32 (offsetof (struct zcipc_wire_event, payload_size), size);
  set_header_size (ZCIPC_WIRE_MAX_MESSAGE_SIZE);
  n += size;
  ck_assert_uint_eq (n, ZCIPC_WIRE_MAX_MESSAGE_SIZE);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.event.info.payload_size, size);
}

END_TEST;

START_TEST (test_frame_round_trips_with_mems_and_meta)
{
  struct zcipc_message msg;
  size_t n = build_frame (3, 40);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_FRAME);
  ck_assert_uint_eq (msg.frame.info.seq, 77);
  ck_assert_uint_eq (msg.frame.info.pts, 1000000001);
  ck_assert_uint_eq (msg.frame.info.dts, 1000000000);
  ck_assert_uint_eq (msg.frame.info.duration, 33333333);
  ck_assert_uint_eq (msg.frame.info.offset, 5);
  ck_assert_uint_eq (msg.frame.info.offset_end, 6);
  ck_assert_uint_eq (msg.frame.info.send_time, 123456789);
  ck_assert_uint_eq (msg.frame.info.flags, 0x4001);
  ck_assert_uint_eq (msg.frame.info.n_mems, 3);
  ck_assert_uint_eq (msg.frame.info.meta_size, 40);
  for (uint32_t i = 0; i < 3; i++) {
    ck_assert_uint_eq (msg.frame.mems[i].region_id, i + 1);
    ck_assert_uint_eq (msg.frame.mems[i].offset, 4096u * i);
    ck_assert_uint_eq (msg.frame.mems[i].size, 100u + i);
  }
  ck_assert_ptr_eq (msg.frame.meta, buf.bytes + n - 40);
  for (uint32_t i = 0; i < 40; i++)
    ck_assert_uint_eq (msg.frame.meta[i], 0x5a);
}

END_TEST;

START_TEST (test_frame_with_the_most_mems_round_trips)
{
  struct zcipc_message msg;
  size_t n = build_frame (ZCIPC_WIRE_MAX_MEMS, 0);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.frame.info.n_mems, ZCIPC_WIRE_MAX_MEMS);
  ck_assert_uint_eq (msg.frame.mems[ZCIPC_WIRE_MAX_MEMS - 1].region_id,
      ZCIPC_WIRE_MAX_MEMS);
  ck_assert_uint_eq (msg.frame.info.meta_size, 0);
}

END_TEST;

START_TEST (test_release_round_trips)
{
  struct zcipc_message msg;
  size_t n = build_release (1);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_RELEASE);
  ck_assert_uint_eq (msg.release.count, 1);
  ck_assert_uint_eq (msg.release.seqs[0], 1000);
}

END_TEST;

START_TEST (test_release_of_the_most_seqs_round_trips)
{
  struct zcipc_message msg;
  size_t n = build_release (ZCIPC_WIRE_MAX_RELEASES);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.release.count, ZCIPC_WIRE_MAX_RELEASES);
  for (uint32_t i = 0; i < ZCIPC_WIRE_MAX_RELEASES; i++)
    ck_assert_uint_eq (msg.release.seqs[i], 1000 + i);
}

END_TEST;

START_TEST (test_leave_round_trips)
{
  struct zcipc_message msg;
  size_t n = build_leave ();

  ck_assert_uint_eq (n, sizeof (struct zcipc_wire_leave));
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_LEAVE);
  ck_assert_str_eq (zcipc_wire_type_name (ZCIPC_WIRE_LEAVE), "LEAVE");
}

END_TEST;

/* --- rejections ---------------------------------------------------------- */

/* One valid message of each type; returns its length and fd count. */
static size_t
build_valid (int type, unsigned int *n_fds)
{
  *n_fds = 0;
  switch (type) {
    case ZCIPC_WIRE_HELLO:
      return build_hello (4);
    case ZCIPC_WIRE_WELCOME:
      return build_welcome (4, 1);
    case ZCIPC_WIRE_REJECT:
      return build_reject (-EACCES, "no");
    case ZCIPC_WIRE_REGION_ADD:
      *n_fds = 1;
      return build_region_add (1, ZCIPC_REGION_FLAG_MEMFD, 4096);
    case ZCIPC_WIRE_REGION_REMOVE:
      return build_region_remove (1);
    case ZCIPC_WIRE_EVENT:
      return build_event (1, "abc", 3);
    case ZCIPC_WIRE_FRAME:
      return build_frame (2, 8);
    case ZCIPC_WIRE_RELEASE:
      return build_release (3);
    case ZCIPC_WIRE_LEAVE:
      return build_leave ();
    default:
      ck_abort ();
      return 0;
  }
}

START_TEST (test_parse_rejects_size_mismatch_with_header)
{
  for (int type = ZCIPC_WIRE_HELLO; type <= ZCIPC_WIRE_LEAVE; type++) {
    unsigned int n_fds;
    size_t n = build_valid (type, &n_fds);

    ck_assert_msg (parse_len (n, n_fds) == 0, "valid %s refused",
        zcipc_wire_type_name (type));
    /* The header claims more than arrived, then less. */
    set_header_size ((uint32_t) n + 1);
    ck_assert_int_eq (parse_len (n, n_fds), -EPROTO);
    set_header_size ((uint32_t) n - 1);
    ck_assert_int_eq (parse_len (n, n_fds), -EPROTO);
    /* A datagram longer than its header says. */
    set_header_size ((uint32_t) n);
    ck_assert_int_eq (parse_len (n + 8, n_fds), -EPROTO);
  }
}

END_TEST;

START_TEST (test_parse_rejects_fixed_size_messages_of_the_wrong_length)
{
  /* Header and datagram agree, but the message is not its type's size. */
  static const int types[] = {
    ZCIPC_WIRE_HELLO, ZCIPC_WIRE_WELCOME, ZCIPC_WIRE_REJECT,
    ZCIPC_WIRE_REGION_ADD, ZCIPC_WIRE_REGION_REMOVE, ZCIPC_WIRE_LEAVE,
  };

  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    unsigned int n_fds;
    size_t n = build_valid (types[i], &n_fds);

    set_header_size ((uint32_t) n + 8);
    ck_assert_int_eq (parse_len (n + 8, n_fds), -EPROTO);
    set_header_size ((uint32_t) n - 4);
    ck_assert_int_eq (parse_len (n - 4, n_fds), -EPROTO);
  }
}

END_TEST;

START_TEST (test_parse_rejects_truncated_header)
{
  struct zcipc_message msg;
  size_t n = build_hello (1);

  ck_assert_uint_gt (n, sizeof (struct zcipc_wire_header));
  for (size_t len = 0; len < sizeof (struct zcipc_wire_header); len++) {
    set_header_size ((uint32_t) len);
    ck_assert_int_eq (parse (len, NULL, 0, &msg), -EPROTO);
    ck_assert_uint_eq (msg.type, 0);
  }
}

END_TEST;

START_TEST (test_parse_rejects_null_data)
{
  struct zcipc_message msg;

  ck_assert_int_eq (zcipc_wire_parse (NULL, 24, NULL, 0, &msg), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_too_large_message)
{
  static union zt_msg_buf big;
  struct zcipc_wire_event m;
  uint32_t payload = ZCIPC_WIRE_MAX_MESSAGE_SIZE + 8 -
      sizeof (struct zcipc_wire_event);
  struct zcipc_message msg;
  size_t n = zcipc_wire_init_event (&m, 1, payload);

  ck_assert_uint_eq (m.header.size, ZCIPC_WIRE_MAX_MESSAGE_SIZE + 8);
  memcpy (big.bytes, &m, n);
  ck_assert_int_eq (zcipc_wire_parse (big.bytes, n + payload, NULL, 0, &msg),
      -EPROTO);
  /* Also for a type this version does not know. */
  m.header.type = 99;
  memcpy (big.bytes, &m, n);
  ck_assert_int_eq (zcipc_wire_parse (big.bytes, n + payload, NULL, 0, &msg),
      -EPROTO);
}

END_TEST;

START_TEST (test_frame_without_mems_round_trips_with_its_metas)
{
  struct zcipc_message msg;
  size_t n = build_frame (0, 0);

  /* A buffer without memory: timestamps and flags only... */
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.frame.info.n_mems, 0);
  ck_assert_uint_eq (msg.frame.info.pts, 1000000001);
  ck_assert_uint_eq (msg.frame.info.flags, 0x4001);
  /* ... or with metas. */
  n = build_frame (0, 24);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.frame.info.meta_size, 24);
  ck_assert_ptr_eq (msg.frame.meta,
      buf.bytes + sizeof (struct zcipc_wire_frame));
  /* The length must still add up. */
  set_header_size ((uint32_t) (n + 8));
  ck_assert_int_eq (parse_len (n + 8, 0), -EPROTO);
}

END_TEST;

START_TEST (test_frame_with_metas_in_a_region_takes_one_more_mem)
{
  struct zcipc_message msg;
  size_t n = build_frame (ZCIPC_WIRE_MAX_MEMS + 1, 0);

  /* Seventeen mems: only with the last one for the metas. */
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  set_u32 (offsetof (struct zcipc_wire_frame, frame_flags),
      ZCIPC_FRAME_FLAG_METAS_IN_REGION);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.frame.info.n_mems, ZCIPC_WIRE_MAX_MEMS + 1);
  ck_assert_uint_eq (msg.frame.mems[ZCIPC_WIRE_MAX_MEMS].region_id,
      ZCIPC_WIRE_MAX_MEMS + 1);
  /* The metas' mem alone: a buffer without memory but with big metas. */
  n = build_frame (1, 0);
  set_u32 (offsetof (struct zcipc_wire_frame, frame_flags),
      ZCIPC_FRAME_FLAG_METAS_IN_REGION);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
}

END_TEST;

START_TEST (test_parse_rejects_frame_with_bad_metas_in_a_region)
{
  struct zcipc_message msg;
  struct zcipc_wire_mem huge = { 1, 0, 0, ZCIPC_WIRE_MAX_META_SIZE + 1ull };
  size_t n;

  /* No mem to hold them. */
  n = build_frame (0, 0);
  set_u32 (offsetof (struct zcipc_wire_frame, frame_flags),
      ZCIPC_FRAME_FLAG_METAS_IN_REGION);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  /* Inline metas as well. */
  n = build_frame (1, 16);
  set_u32 (offsetof (struct zcipc_wire_frame, frame_flags),
      ZCIPC_FRAME_FLAG_METAS_IN_REGION);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  /* More than a consumer copies. */
  n = build_frame (1, 0);
  memcpy (buf.bytes + sizeof (struct zcipc_wire_frame), &huge, sizeof huge);
  set_u32 (offsetof (struct zcipc_wire_frame, frame_flags),
      ZCIPC_FRAME_FLAG_METAS_IN_REGION);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  /* Frame flags this version does not know. */
  n = build_frame (1, 0);
  set_u32 (offsetof (struct zcipc_wire_frame, frame_flags), 1u << 7);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_frame_with_more_than_16_mems)
{
  static const uint32_t counts[] = { ZCIPC_WIRE_MAX_MEMS + 1, 1000,
    0x40000000u, 0xffffffffu
  };
  size_t n = build_frame (ZCIPC_WIRE_MAX_MEMS, 0);
  struct zcipc_wire_mem extra = { 1, 0, 0, 1 };

  /* 17 mems, every length consistent. */
  memcpy (buf.bytes + n, &extra, sizeof extra);
  set_u32 (offsetof (struct zcipc_wire_frame, n_mems), ZCIPC_WIRE_MAX_MEMS + 1);
  set_header_size ((uint32_t) (n + sizeof extra));
  ck_assert_int_eq (parse_len (n + sizeof extra, 0), -EPROTO);
  /* Counts that would overflow a careless size computation. */
  for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
    n = build_frame (1, 0);
    set_u32 (offsetof (struct zcipc_wire_frame, n_mems), counts[i]);
    ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  }
}

END_TEST;

START_TEST (test_parse_rejects_release_count_zero)
{
  size_t n = build_release (1);

  set_u32 (offsetof (struct zcipc_wire_release, count), 0);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  set_header_size (sizeof (struct zcipc_wire_release));
  ck_assert_int_eq (parse_len (sizeof (struct zcipc_wire_release), 0), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_release_count_above_64)
{
  size_t n = build_release (ZCIPC_WIRE_MAX_RELEASES + 1);

  ck_assert_uint_eq (n, sizeof (struct zcipc_wire_release) +
      (ZCIPC_WIRE_MAX_RELEASES + 1) * sizeof (uint64_t));
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  n = build_release (1);
  set_u32 (offsetof (struct zcipc_wire_release, count), 0xffffffffu);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_length_not_matching_counts)
{
  size_t n;

  /* Frame: two mems announced, one present. */
  n = build_frame (1, 0);
  set_u32 (offsetof (struct zcipc_wire_frame, n_mems), 2);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  /* Frame: meta_size one more and one less than present. */
  n = build_frame (2, 16);
  set_u32 (offsetof (struct zcipc_wire_frame, meta_size), 17);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  set_u32 (offsetof (struct zcipc_wire_frame, meta_size), 15);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  /* Frame: a meta size that would wrap a 32-bit sum. */
  set_u32 (offsetof (struct zcipc_wire_frame, meta_size), 0xfffffff0u);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  /* Release: three seqs announced, two present. */
  n = build_release (2);
  set_u32 (offsetof (struct zcipc_wire_release, count), 3);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  set_u32 (offsetof (struct zcipc_wire_release, count), 1);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  /* Event: payload size off by one either way. */
  n = build_event (1, "abcd", 4);
  set_u32 (offsetof (struct zcipc_wire_event, payload_size), 5);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  set_u32 (offsetof (struct zcipc_wire_event, payload_size), 3);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  /* Variable messages shorter than their fixed part. */
  n = build_frame (1, 0);
  set_header_size (sizeof (struct zcipc_wire_frame) - 8);
  ck_assert_int_eq (parse_len (sizeof (struct zcipc_wire_frame) - 8, 0),
      -EPROTO);
  n = build_event (1, NULL, 0);
  set_header_size (12);
  ck_assert_int_eq (parse_len (12, 0), -EPROTO);
  n = build_release (1);
  set_header_size (12);
  ck_assert_int_eq (parse_len (12, 0), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_wrong_magic)
{
  size_t n = build_hello (1);

  set_u32 (offsetof (struct zcipc_wire_hello, magic), ZCIPC_WIRE_MAGIC + 1);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  n = build_welcome (1, 1);
  set_u32 (offsetof (struct zcipc_wire_welcome, magic), 0);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_hello_with_max_held_zero)
{
  size_t n = build_hello (0);

  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_hello_with_reserved_flags)
{
  size_t n = build_hello (1);

  /* Bit 0 asks for a channel; every other bit is still reserved. */
  set_u32 (offsetof (struct zcipc_wire_hello, flags), 1u << 1);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  set_u32 (offsetof (struct zcipc_wire_hello, flags),
      ZCIPC_HELLO_FLAG_CHANNEL | (1u << 31));
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  set_u32 (offsetof (struct zcipc_wire_hello, flags), ZCIPC_HELLO_FLAG_CHANNEL);
  ck_assert_int_eq (parse_len (n, 0), 0);
}

END_TEST;

START_TEST (test_parse_leaves_the_hello_version_to_the_receiver)
{
  struct zcipc_message msg;
  size_t n = build_hello (1);

  /* A version mismatch must be answered with a REJECT, so parse lets it
   * through. */
  set_u32 (offsetof (struct zcipc_wire_hello, version), 99);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.hello.version, 99);
}

END_TEST;

START_TEST (test_parse_rejects_welcome_quota_out_of_range)
{
  size_t n = build_welcome (0, 1);

  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  n = build_welcome (ZCIPC_WIRE_MAX_QUOTA + 1, 1);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_reject_without_terminator)
{
  size_t n = build_reject (-EACCES, "x");

  memset (buf.bytes + offsetof (struct zcipc_wire_reject, reason), 'x',
      ZCIPC_WIRE_REASON_SIZE);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_reject_with_non_negative_error)
{
  size_t n = build_reject (-EACCES, "x");

  set_u32 (offsetof (struct zcipc_wire_reject, error), 0);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  set_u32 (offsetof (struct zcipc_wire_reject, error), EACCES);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_region_add_with_size_zero_or_unknown_flags)
{
  size_t n = build_region_add (1, ZCIPC_REGION_FLAG_MEMFD, 0);

  ck_assert_int_eq (parse_len (n, 1), -EPROTO);
  n = build_region_add (1, 1u << 7, 4096);
  ck_assert_int_eq (parse_len (n, 1), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_region_add_with_0_or_2_fds)
{
  struct zcipc_message msg;
  size_t n = build_region_add (1, ZCIPC_REGION_FLAG_MEMFD, 4096);

  ck_assert_int_eq (parse (n, one_fd, 1, &msg), 0);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  ck_assert_int_eq (parse (n, two_fds, 2, &msg), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_region_add_with_a_negative_fd)
{
  static const int bad_fd[1] = { -1 };
  struct zcipc_message msg;
  size_t n = build_region_add (1, ZCIPC_REGION_FLAG_MEMFD, 4096);

  ck_assert_int_eq (parse (n, bad_fd, 1, &msg), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_frame_with_1_fd)
{
  struct zcipc_message msg;
  size_t n = build_frame (1, 0);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_int_eq (parse (n, one_fd, 1, &msg), -EPROTO);
}

END_TEST;

START_TEST (test_parse_rejects_fds_on_every_message_without_fds)
{
  for (int type = ZCIPC_WIRE_HELLO; type <= ZCIPC_WIRE_LEAVE; type++) {
    unsigned int n_fds;
    size_t n = build_valid (type, &n_fds);

    if (type == ZCIPC_WIRE_REGION_ADD)
      continue;
    ck_assert_msg (parse_len (n, 1) == -EPROTO, "%s with an fd accepted",
        zcipc_wire_type_name (type));
  }
}

END_TEST;

START_TEST (test_parse_rejects_frame_mem_of_size_zero_or_wrapping)
{
  struct zcipc_wire_mem mem;
  size_t n = build_frame (2, 0);
  size_t at = sizeof (struct zcipc_wire_frame) + sizeof mem;

  memcpy (&mem, buf.bytes + at, sizeof mem);
  mem.size = 0;
  memcpy (buf.bytes + at, &mem, sizeof mem);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);

  mem.offset = UINT64_MAX - 10;
  mem.size = 11;
  memcpy (buf.bytes + at, &mem, sizeof mem);
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  /* Reaching the very last byte does not wrap. */
  mem.size = 10;
  memcpy (buf.bytes + at, &mem, sizeof mem);
  ck_assert_int_eq (parse_len (n, 0), 0);
}

END_TEST;

START_TEST (test_parse_skips_unknown_type_without_fds)
{
  static const uint32_t types[] = { 0, ZCIPC_WIRE_STATS_REPLY + 1, 99,
    0xffffffffu
  };
  struct zcipc_message msg;

  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
    size_t n = build_event (1, "future", 6);

    set_u32 (0, types[i]);
    msg.type = 12345;
    ck_assert_int_eq (parse (n, NULL, 0, &msg), -ENOMSG);
    ck_assert_uint_eq (msg.type, 0);
    /* Only the header is needed for an unknown message. */
    set_header_size (sizeof (struct zcipc_wire_header));
    ck_assert_int_eq (parse (sizeof (struct zcipc_wire_header), NULL, 0, &msg),
        -ENOMSG);
  }
}

END_TEST;

START_TEST (test_parse_rejects_unknown_type_with_an_fd)
{
  struct zcipc_message msg;
  size_t n = build_event (1, "future", 6);

  set_u32 (0, 99);
  ck_assert_int_eq (parse (n, one_fd, 1, &msg), -EPROTO);
  ck_assert_int_eq (parse (n, two_fds, 2, &msg), -EPROTO);
}

END_TEST;

START_TEST (test_parse_accepts_unaligned_buffers)
{
  for (int type = ZCIPC_WIRE_HELLO; type <= ZCIPC_WIRE_LEAVE; type++) {
    struct zcipc_message aligned, unaligned;
    unsigned int n_fds;
    size_t n = build_valid (type, &n_fds);

    ck_assert_int_eq (parse (n, one_fd, n_fds, &aligned), 0);
    for (size_t shift = 1; shift < 8; shift++) {
      memcpy (other.bytes + shift, buf.bytes, n);
      memset (&unaligned, 0, sizeof unaligned);
      ck_assert_msg (zcipc_wire_parse (other.bytes + shift, n, one_fd, n_fds,
              &unaligned) == 0, "%s at +%zu refused",
          zcipc_wire_type_name (type), shift);
      ck_assert_uint_eq (unaligned.type, aligned.type);
    }
  }
}

END_TEST;

START_TEST (test_parse_of_unaligned_frame_keeps_every_field)
{
  struct zcipc_message msg;
  size_t n = build_frame (ZCIPC_WIRE_MAX_MEMS, 24);

  memcpy (other.bytes + 3, buf.bytes, n);
  ck_assert_int_eq (zcipc_wire_parse (other.bytes + 3, n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.frame.info.seq, 77);
  ck_assert_uint_eq (msg.frame.info.pts, 1000000001);
  ck_assert_uint_eq (msg.frame.mems[5].offset, 4096u * 5);
  ck_assert_uint_eq (msg.frame.mems[15].size, 115);
  ck_assert_ptr_eq (msg.frame.meta, other.bytes + 3 + n - 24);

  n = build_release (5);
  memcpy (other.bytes + 5, buf.bytes, n);
  ck_assert_int_eq (zcipc_wire_parse (other.bytes + 5, n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.release.seqs[4], 1004);
}

END_TEST;

START_TEST (test_type_names_are_readable)
{
  ck_assert_str_eq (zcipc_wire_type_name (ZCIPC_WIRE_HELLO), "HELLO");
  ck_assert_str_eq (zcipc_wire_type_name (ZCIPC_WIRE_FRAME), "FRAME");
  ck_assert_str_eq (zcipc_wire_type_name (ZCIPC_WIRE_RELEASE), "RELEASE");
  ck_assert_str_eq (zcipc_wire_type_name (0), "UNKNOWN");
  ck_assert_str_eq (zcipc_wire_type_name (1000), "UNKNOWN");
}

END_TEST;

START_TEST (test_quota_and_grant_round_trip)
{
  struct zcipc_message msg;
  struct zcipc_wire_quota *q = (struct zcipc_wire_quota *) buf.bytes;
  struct zcipc_wire_grant *g = (struct zcipc_wire_grant *) buf.bytes;
  size_t n = zcipc_wire_init_quota (q, ZCIPC_WIRE_MAX_QUOTA);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_QUOTA);
  ck_assert_uint_eq (msg.quota.max_held, ZCIPC_WIRE_MAX_QUOTA);
  ck_assert_str_eq (zcipc_wire_type_name (ZCIPC_WIRE_QUOTA), "QUOTA");

  n = zcipc_wire_init_grant (g, 7);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_GRANT);
  ck_assert_uint_eq (msg.grant.quota, 7);
  ck_assert_str_eq (zcipc_wire_type_name (ZCIPC_WIRE_GRANT), "GRANT");
}

END_TEST;

START_TEST (test_parse_rejects_quota_and_grant_out_of_range_or_with_fds)
{
  struct zcipc_message msg;
  struct zcipc_wire_quota *q = (struct zcipc_wire_quota *) buf.bytes;
  struct zcipc_wire_grant *g = (struct zcipc_wire_grant *) buf.bytes;
  int fd = 0;
  size_t n;

  n = zcipc_wire_init_quota (q, 0);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  n = zcipc_wire_init_quota (q, ZCIPC_WIRE_MAX_QUOTA + 1);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  n = zcipc_wire_init_quota (q, 3);
  ck_assert_int_eq (parse (n, &fd, 1, &msg), -EPROTO);
  ck_assert_int_eq (parse (n - 4, NULL, 0, &msg), -EPROTO);

  n = zcipc_wire_init_grant (g, 0);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  n = zcipc_wire_init_grant (g, ZCIPC_WIRE_MAX_QUOTA + 1);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  n = zcipc_wire_init_grant (g, 3);
  ck_assert_int_eq (parse (n, &fd, 1, &msg), -EPROTO);
}

END_TEST;

START_TEST (test_report_round_trips_and_is_parsed_strictly)
{
  struct zcipc_message msg;
  struct zcipc_wire_report m;
  size_t n = zcipc_wire_init_report (&m, 12345, 2500000);

  memcpy (buf.bytes, &m, n);
  ck_assert_uint_eq (n, 32);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_REPORT);
  ck_assert_uint_eq (msg.report.frames_copied, 12345);
  ck_assert_int_eq (msg.report.lag_ns, 2500000);
  ck_assert_str_eq (zcipc_wire_type_name (ZCIPC_WIRE_REPORT), "REPORT");
  /* -1: no frame pushed yet. */
  m.lag_ns = -1;
  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);

  m.lag_ns = -2;
  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  m.lag_ns = 0;
  m.flags = 1;
  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  m.flags = 0;
  m.reserved = 1;
  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  m.reserved = 0;
  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, one_fd, 1, &msg), -EPROTO);
  set_header_size ((uint32_t) n + 8);
  ck_assert_int_eq (parse (n + 8, NULL, 0, &msg), -EPROTO);
}

END_TEST;

START_TEST (test_stats_request_round_trips_and_leaves_its_version)
{
  struct zcipc_message msg;
  struct zcipc_wire_stats_request m;
  size_t n = zcipc_wire_init_stats_request (&m);

  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_STATS_REQUEST);
  ck_assert_uint_eq (msg.stats_request.version, ZCIPC_STATS_VERSION);
  ck_assert_str_eq (zcipc_wire_type_name (ZCIPC_WIRE_STATS_REQUEST),
      "STATS_REQUEST");
  /* Another version is the producer's to refuse, with a REJECT. */
  m.version = 7;
  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.stats_request.version, 7);

  m.version = ZCIPC_STATS_VERSION;
  m.magic ^= 1;
  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  m.magic ^= 1;
  m.flags = 1;
  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  m.flags = 0;
  m.reserved = 5;
  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, NULL, 0, &msg), -EPROTO);
  m.reserved = 0;
  memcpy (buf.bytes, &m, n);
  ck_assert_int_eq (parse (n, one_fd, 1, &msg), -EPROTO);
  set_header_size ((uint32_t) n - 4);
  ck_assert_int_eq (parse (n - 4, NULL, 0, &msg), -EPROTO);
}

END_TEST;

static const char stats_caps[] = "video/x-raw, format=(string)RGBA";

/* A STATS_REPLY with two consumers (the second has not reported) and
 * stats_caps, built at `shift` bytes into buf. */
static size_t
build_stats_reply (size_t shift)
{
  struct zcipc_wire_stats_reply m;
  struct zcipc_wire_stats_consumer c[2] = {
    {.consumer_id = 1,.pid = 100,.uid = 1000,.quota = 4,.held = 2,
          .flags = ZCIPC_STATS_CONSUMER_REPORTED | ZCIPC_STATS_CONSUMER_CHANNEL,
          .frames_sent = 50,.frames_dropped = 3,.frames_copied = 7,
        .lag_ns = 1500000},
    {.consumer_id = 2,.pid = 200,.uid = 1001,.quota = 1,.held = 1,
          .frames_sent = 40,.frames_dropped = 0,.frames_copied = 0,
        .lag_ns = -1},
  };
  size_t n = zcipc_wire_init_stats_reply (&m, 2, sizeof stats_caps - 1);

  m.pid = 42;
  m.uid = 1000;
  m.monotonic_ns = 987654321;
  m.frames_sent = 60;
  m.frames_unsent = 5;
  m.max_consumers = 8;
  m.quota = 4;
  m.n_monitors = 1;
  m.last_frame_ns = 987000000;
  memcpy (buf.bytes + shift, &m, n);
  memcpy (buf.bytes + shift + n, c, sizeof c);
  memcpy (buf.bytes + shift + n + sizeof c, stats_caps, sizeof stats_caps - 1);
  return n + sizeof c + sizeof stats_caps - 1;
}

START_TEST (test_stats_reply_round_trips_with_consumers_and_caps)
{
  struct zcipc_message msg;
  struct zcipc_wire_stats_consumer c;
  size_t n = build_stats_reply (0);

  ck_assert_int_eq (parse (n, NULL, 0, &msg), 0);
  ck_assert_uint_eq (msg.type, ZCIPC_WIRE_STATS_REPLY);
  ck_assert_int_eq (msg.stats_reply.info.pid, 42);
  ck_assert_uint_eq (msg.stats_reply.info.n_consumers, 2);
  ck_assert_uint_eq (msg.stats_reply.info.frames_sent, 60);
  ck_assert_int_eq (msg.stats_reply.info.monotonic_ns, 987654321);
  ck_assert_uint_eq (msg.stats_reply.info.caps_size, sizeof stats_caps - 1);
  ck_assert (memcmp (msg.stats_reply.caps, stats_caps,
          sizeof stats_caps - 1) == 0);
  memcpy (&c, msg.stats_reply.consumers + sizeof c, sizeof c);
  ck_assert_int_eq (c.pid, 200);
  ck_assert_int_eq (c.lag_ns, -1);
  ck_assert_str_eq (zcipc_wire_type_name (ZCIPC_WIRE_STATS_REPLY),
      "STATS_REPLY");

  /* Unaligned, as a fuzzer's datagram may be. */
  n = build_stats_reply (3);
  ck_assert_int_eq (zcipc_wire_parse (buf.bytes + 3, n, NULL, 0, &msg), 0);
  memcpy (&c, msg.stats_reply.consumers, sizeof c);
  ck_assert_uint_eq (c.frames_copied, 7);
  ck_assert_int_eq (c.lag_ns, 1500000);
}

END_TEST;

/* Overwrites the u32 at `offset` of the reply's fixed part, or of consumer
 * `index`'s record (index >= 0), and parses. */
static int
parse_tampered_reply (int index, size_t offset, const void *value, size_t size)
{
  size_t n = build_stats_reply (0);
  size_t at = offset;

  if (index >= 0)
    at += sizeof (struct zcipc_wire_stats_reply) +
        index * sizeof (struct zcipc_wire_stats_consumer);
  memcpy (buf.bytes + at, value, size);
  return parse_len (n, 0);
}

START_TEST (test_parse_rejects_bad_stats_replies)
{
  const uint32_t u32_values[] = { ZCIPC_STATS_VERSION + 1 };
  uint32_t v;
  int64_t lag;
  size_t n;

  ck_assert_int_eq (parse_len (build_stats_reply (0), 0), 0);
  /* Another version than the one asked for, unknown flags. */
  ck_assert_int_eq (parse_tampered_reply (-1,
          offsetof (struct zcipc_wire_stats_reply, version), &u32_values[0],
          4), -EPROTO);
  v = 1u << 5;
  ck_assert_int_eq (parse_tampered_reply (-1,
          offsetof (struct zcipc_wire_stats_reply, flags), &v, 4), -EPROTO);
  v = 0;
  ck_assert_int_eq (parse_tampered_reply (-1,
          offsetof (struct zcipc_wire_stats_reply, n_monitors), &v, 4),
      -EPROTO);
  lag = -1;
  ck_assert_int_eq (parse_tampered_reply (-1,
          offsetof (struct zcipc_wire_stats_reply, last_frame_ns), &lag, 8),
      -EPROTO);
  /* Counts that do not match the length, or exceed the bounds. */
  v = 3;
  ck_assert_int_eq (parse_tampered_reply (-1,
          offsetof (struct zcipc_wire_stats_reply, n_consumers), &v, 4),
      -EPROTO);
  v = ZCIPC_WIRE_STATS_MAX_CONSUMERS + 1;
  ck_assert_int_eq (parse_tampered_reply (-1,
          offsetof (struct zcipc_wire_stats_reply, n_consumers), &v, 4),
      -EPROTO);
  v = ZCIPC_WIRE_STATS_CAPS_MAX + 1;
  ck_assert_int_eq (parse_tampered_reply (-1,
          offsetof (struct zcipc_wire_stats_reply, caps_size), &v, 4), -EPROTO);
  v = sizeof stats_caps;
  ck_assert_int_eq (parse_tampered_reply (-1,
          offsetof (struct zcipc_wire_stats_reply, caps_size), &v, 4), -EPROTO);
  /* A consumer holding more than its quota, unknown consumer flags, an
   * impossible lag, copies from a consumer that never reported. */
  v = 5;
  ck_assert_int_eq (parse_tampered_reply (0,
          offsetof (struct zcipc_wire_stats_consumer, held), &v, 4), -EPROTO);
  v = ZCIPC_WIRE_MAX_QUOTA + 1;
  ck_assert_int_eq (parse_tampered_reply (0,
          offsetof (struct zcipc_wire_stats_consumer, quota), &v, 4), -EPROTO);
  v = 1u << 7;
  ck_assert_int_eq (parse_tampered_reply (1,
          offsetof (struct zcipc_wire_stats_consumer, flags), &v, 4), -EPROTO);
  lag = -5;
  ck_assert_int_eq (parse_tampered_reply (0,
          offsetof (struct zcipc_wire_stats_consumer, lag_ns), &lag, 8),
      -EPROTO);
  v = 1;
  ck_assert_int_eq (parse_tampered_reply (1,
          offsetof (struct zcipc_wire_stats_consumer, frames_copied), &v, 4),
      -EPROTO);
  /* A NUL inside the caps. */
  n = build_stats_reply (0);
  buf.bytes[n - 3] = '\0';
  ck_assert_int_eq (parse_len (n, 0), -EPROTO);
  /* A datagram longer than its counts, or with an fd. */
  n = build_stats_reply (0);
  set_header_size ((uint32_t) n + 8);
  ck_assert_int_eq (parse_len (n + 8, 0), -EPROTO);
  set_header_size ((uint32_t) n);
  ck_assert_int_eq (parse_len (n, 1), -EPROTO);
}

END_TEST;

static Suite *
wire_suite (void)
{
  Suite *s = suite_create ("wire");
  TCase *tc = tcase_create ("round trips");

  tcase_add_test (tc, test_hello_round_trips);
  tcase_add_test (tc, test_report_round_trips_and_is_parsed_strictly);
  tcase_add_test (tc, test_stats_request_round_trips_and_leaves_its_version);
  tcase_add_test (tc, test_stats_reply_round_trips_with_consumers_and_caps);
  tcase_add_test (tc, test_parse_rejects_bad_stats_replies);
  tcase_add_test (tc, test_welcome_round_trips);
  tcase_add_test (tc, test_reject_round_trips);
  tcase_add_test (tc, test_reject_with_long_reason_is_truncated_and_terminated);
  tcase_add_test (tc, test_reject_turns_a_non_negative_error_into_eperm);
  tcase_add_test (tc, test_region_add_round_trips_with_its_fd);
  tcase_add_test (tc, test_region_remove_round_trips);
  tcase_add_test (tc, test_event_round_trips_with_its_payload);
  tcase_add_test (tc, test_event_without_payload_round_trips);
  tcase_add_test (tc, test_event_of_the_largest_size_round_trips);
  tcase_add_test (tc, test_frame_round_trips_with_mems_and_meta);
  tcase_add_test (tc, test_frame_with_the_most_mems_round_trips);
  tcase_add_test (tc, test_release_round_trips);
  tcase_add_test (tc, test_release_of_the_most_seqs_round_trips);
  tcase_add_test (tc, test_leave_round_trips);
  tcase_add_test (tc, test_quota_and_grant_round_trip);
  tcase_add_test (tc, test_type_names_are_readable);
  suite_add_tcase (s, tc);

  tc = tcase_create ("rejections");
  tcase_add_test (tc, test_parse_rejects_size_mismatch_with_header);
  tcase_add_test (tc,
      test_parse_rejects_fixed_size_messages_of_the_wrong_length);
  tcase_add_test (tc, test_parse_rejects_truncated_header);
  tcase_add_test (tc, test_parse_rejects_null_data);
  tcase_add_test (tc, test_parse_rejects_too_large_message);
  tcase_add_test (tc, test_frame_without_mems_round_trips_with_its_metas);
  tcase_add_test (tc, test_frame_with_metas_in_a_region_takes_one_more_mem);
  tcase_add_test (tc, test_parse_rejects_frame_with_bad_metas_in_a_region);
  tcase_add_test (tc, test_parse_rejects_frame_with_more_than_16_mems);
  tcase_add_test (tc, test_parse_rejects_release_count_zero);
  tcase_add_test (tc, test_parse_rejects_release_count_above_64);
  tcase_add_test (tc, test_parse_rejects_length_not_matching_counts);
  tcase_add_test (tc, test_parse_rejects_wrong_magic);
  tcase_add_test (tc, test_parse_rejects_hello_with_max_held_zero);
  tcase_add_test (tc, test_parse_rejects_hello_with_reserved_flags);
  tcase_add_test (tc, test_parse_leaves_the_hello_version_to_the_receiver);
  tcase_add_test (tc, test_parse_rejects_welcome_quota_out_of_range);
  tcase_add_test (tc,
      test_parse_rejects_quota_and_grant_out_of_range_or_with_fds);
  tcase_add_test (tc, test_parse_rejects_reject_without_terminator);
  tcase_add_test (tc, test_parse_rejects_reject_with_non_negative_error);
  tcase_add_test (tc,
      test_parse_rejects_region_add_with_size_zero_or_unknown_flags);
  tcase_add_test (tc, test_parse_rejects_region_add_with_0_or_2_fds);
  tcase_add_test (tc, test_parse_rejects_region_add_with_a_negative_fd);
  tcase_add_test (tc, test_parse_rejects_frame_with_1_fd);
  tcase_add_test (tc, test_parse_rejects_fds_on_every_message_without_fds);
  tcase_add_test (tc, test_parse_rejects_frame_mem_of_size_zero_or_wrapping);
  tcase_add_test (tc, test_parse_skips_unknown_type_without_fds);
  tcase_add_test (tc, test_parse_rejects_unknown_type_with_an_fd);
  tcase_add_test (tc, test_parse_accepts_unaligned_buffers);
  tcase_add_test (tc, test_parse_of_unaligned_frame_keeps_every_field);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return zt_run_suite (wire_suite ());
}
