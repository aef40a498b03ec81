/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "zcipc/client-testing.h"
#include "zcipc/stats.h"

/* A producer (zcipc_server, with its own thread) and its consumers in one
 * process: clients call zcipc_client_next() on the test thread. Hostile
 * consumers are raw sockets speaking hand-built datagrams; hostile
 * producers are a listening socket the test answers itself. */

#define REGION_SIZE (64 * 1024)

static struct zt_producer prod;

/* Checks a frame's one mem: inside its region's mapping, with the bytes the
 * producer wrote there. */
static void
check_frame_data (const struct zcipc_client_event *ev)
{
  for (uint32_t i = 0; i < ev->frame.n_mems; i++) {
    const struct zcipc_client_mem *m = &ev->frame.mems[i];

    ck_assert_ptr_nonnull (m->region_data);
    ck_assert_ptr_eq (m->data, m->region_data + m->offset);
    ck_assert (m->data >= m->region_data);
    ck_assert (m->data + m->size <= m->region_data + m->region_size);
    for (uint64_t o = 0; o < m->size; o++)
      ck_assert_uint_eq (m->data[o], zt_pattern (m->region_id, m->offset + o));
  }
}

/* Releases and waits until the producer has seen it. */
static void
release_and_settle (struct zcipc_client *c, uint64_t seq)
{
  uint32_t id = zcipc_client_consumer_id (c);
  uint32_t held = zt_producer_consumer_stats (&prod, id).held;

  ck_assert_uint_gt (held, 0);
  ck_assert_int_eq (zcipc_client_release (c, seq), 0);
  ZT_ASSERT_EVENTUALLY (zt_producer_consumer_stats (&prod, id).held ==
      held - 1, 5000);
}

/* Sends a frame and has `c` receive, check and release it. */
static void
exchange_frame (struct zcipc_client *c, uint64_t pts)
{
  struct zcipc_client_event ev;
  unsigned int n_sent = 0;

  zt_producer_send (&prod, 1, 4096, 512, pts, &n_sent);
  ck_assert_uint_ge (n_sent, 1);
  do {
    zt_client_next_frame (c, &ev, 5000);
    check_frame_data (&ev);
    ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  } while (ev.frame.info.pts != pts);
}

/* --- handshake ----------------------------------------------------------- */

START_TEST (test_quota_request_grows_the_quota_within_the_producer_cap)
{
  struct zcipc_client_event ev[6];
  struct zcipc_client *c;
  uint32_t id;
  unsigned int n_sent;

  zt_producer_start (&prod, 5, 8);
  zt_producer_add_region (&prod, 1, 64 * 4096);
  c = zt_client_connect (prod.path, 2);
  id = zcipc_client_consumer_id (c);
  ck_assert_uint_eq (zcipc_client_quota (c), 2);

  /* More, within the cap: granted in stream order, before the next frame. */
  ck_assert_int_eq (zcipc_client_request_quota (c, 4), 0);
  ZT_ASSERT_EVENTUALLY (zt_producer_consumer_stats (&prod, id).info.quota ==
      4, 5000);
  for (unsigned int i = 0; i < 4; i++) {
    zt_producer_send (&prod, 1, i * 4096, 512, 1000 + i, &n_sent);
    ck_assert_uint_eq (n_sent, 1);
    zt_client_next_frame (c, &ev[i], 5000);
  }
  ck_assert_uint_eq (zcipc_client_quota (c), 4);
  ck_assert_uint_eq (zcipc_client_held (c), 4);
  zt_producer_send (&prod, 1, 4 * 4096, 512, 1004, &n_sent);
  ck_assert_uint_eq (n_sent, 0);        /* at its new quota */

  /* Beyond the cap: the cap. Less than granted: nothing changes. */
  ck_assert_int_eq (zcipc_client_request_quota (c, 9), 0);
  ZT_ASSERT_EVENTUALLY (zt_producer_consumer_stats (&prod, id).info.quota ==
      5, 5000);
  ck_assert_int_eq (zcipc_client_request_quota (c, 3), 0);
  ck_assert_int_eq (zcipc_client_request_quota (c, 0), -EINVAL);
  ck_assert_int_eq (zcipc_client_request_quota (c, ZCIPC_WIRE_MAX_QUOTA + 1),
      -EINVAL);
  zt_producer_send (&prod, 1, 5 * 4096, 512, 1005, &n_sent);
  ck_assert_uint_eq (n_sent, 1);
  zt_client_next_frame (c, &ev[4], 5000);
  ck_assert_uint_eq (ev[4].frame.info.pts, 1005);
  ck_assert_uint_eq (zcipc_client_quota (c), 5);
  ck_assert_uint_eq (zcipc_client_held (c), 5);
  ck_assert_uint_eq (zt_producer_consumer_stats (&prod, id).info.quota, 5);

  for (unsigned int i = 0; i < 5; i++)
    release_and_settle (c, ev[i].frame.info.seq);
  ck_assert_uint_eq (zcipc_client_held (c), 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_quota_asked_before_connecting_goes_in_the_hello)
{
  struct zcipc_client *c;

  zt_producer_start (&prod, 8, 8);
  ck_assert_int_eq (zcipc_client_new (prod.path, 2, &c), 0);
  ck_assert_int_eq (zcipc_client_request_quota (c, 6), 0);
  ck_assert_int_eq (zcipc_client_connect (c, 5000), 0);
  ck_assert_uint_eq (zcipc_client_quota (c), 6);
  ck_assert_uint_eq (zt_producer_consumer_stats (&prod,
          zcipc_client_consumer_id (c)).info.quota, 6);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_handshake_grants_the_smaller_of_max_held_and_quota)
{
  struct zcipc_consumer_stats cs;
  struct zcipc_client *a, *b, *c;

  zt_producer_start (&prod, 4, 8);
  a = zt_client_connect (prod.path, 2);
  b = zt_client_connect (prod.path, 8);
  c = zt_client_connect (prod.path, 4);
  ck_assert_uint_eq (zcipc_client_quota (a), 2);
  ck_assert_uint_eq (zcipc_client_quota (b), 4);
  ck_assert_uint_eq (zcipc_client_quota (c), 4);
  ck_assert_uint_ne (zcipc_client_consumer_id (a), 0);
  ck_assert_uint_ne (zcipc_client_consumer_id (a),
      zcipc_client_consumer_id (b));
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 3);
  cs = zt_producer_consumer_stats (&prod, zcipc_client_consumer_id (a));
  ck_assert_uint_eq (cs.info.quota, 2);
  ck_assert_int_eq (cs.info.pid, getpid ());
  ck_assert_int_eq (cs.info.uid, getuid ());
  cs = zt_producer_consumer_stats (&prod, zcipc_client_consumer_id (b));
  ck_assert_uint_eq (cs.info.quota, 4);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.joined) == 3, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_joined, 3);

  zcipc_client_unref (a);
  zcipc_client_unref (b);
  zcipc_client_unref (c);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.left) == 3, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_handshake_caps_the_quota_at_the_protocol_maximum)
{
  struct zcipc_client *c;

  zt_producer_start (&prod, 1000, 8);
  c = zt_client_connect (prod.path, ZCIPC_WIRE_MAX_QUOTA);
  ck_assert_uint_eq (zcipc_client_quota (c), ZCIPC_WIRE_MAX_QUOTA);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_client_refuses_bad_arguments)
{
  struct zcipc_client *c = NULL;

  ck_assert_int_eq (zcipc_client_new ("/tmp/x", 0, &c), -EINVAL);
  ck_assert_int_eq (zcipc_client_new ("/tmp/x", ZCIPC_WIRE_MAX_QUOTA + 1, &c),
      -EINVAL);
  ck_assert_int_eq (zcipc_client_new ("", 1, &c), -EINVAL);
  ck_assert_ptr_null (c);
}

END_TEST;

START_TEST (test_connect_times_out_when_nobody_listens)
{
  struct zt_tmpdir dir;
  struct zcipc_client *c;
  char path[128];
  int64_t t0;

  zt_tmpdir_make (&dir);
  zt_tmpdir_file (&dir, "nobody.sock", path, sizeof path);
  ck_assert_int_eq (zcipc_client_new (path, 2, &c), 0);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_client_connect (c, 60), -ETIMEDOUT);
  ck_assert_int_ge (zt_now_ms () - t0, 55);
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (c), path));
  /* Interrupted, it gives up at once. */
  zcipc_client_set_interrupted (c, true);
  ck_assert_int_eq (zcipc_client_connect (c, -1), -ECANCELED);
  zcipc_client_set_interrupted (c, false);
  ck_assert_int_eq (zcipc_client_next (c, NULL, 0), -ENOTCONN);
  zcipc_client_unref (c);
  zt_tmpdir_remove (&dir);
}

END_TEST;

/* Where no producer can ever appear, waiting cannot help: connect fails
 * at once, with a reason that says what is in the way. */
static void
expect_connect_fails_at_once (const char *path, int error, const char *text)
{
  struct zcipc_client *c;
  int64_t t0;

  ck_assert_int_eq (zcipc_client_new (path, 2, &c), 0);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_client_connect (c, 5000), error);
  ck_assert_int_lt (zt_now_ms () - t0, 1000);
  ck_assert_msg (strstr (zcipc_client_reason (c), text), "reason '%s' lacks "
      "'%s'", zcipc_client_reason (c), text);
  zcipc_client_unref (c);
}

START_TEST (test_connect_fails_at_once_where_no_producer_can_appear)
{
  struct zt_tmpdir dir;
  char file[128], sub[128], missing[128];
  int fd;

  zt_tmpdir_make (&dir);
  zt_tmpdir_file (&dir, "file", file, sizeof file);
  fd = open (file, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
  ck_assert_int_ge (fd, 0);
  close (fd);
  expect_connect_fails_at_once (file, -ENOTSOCK, "is a file, not a socket");
  zt_tmpdir_file (&dir, "dir", sub, sizeof sub);
  ck_assert_int_eq (mkdir (sub, 0755), 0);
  expect_connect_fails_at_once (sub, -EISDIR, "is a directory");
  snprintf (missing, sizeof missing, "%s/nope/s", dir.path);
  expect_connect_fails_at_once (missing, -ENOTDIR, "does not exist");
  rmdir (sub);
  zt_tmpdir_remove (&dir);
}

END_TEST;

START_TEST (test_peer_not_on_the_allow_list_is_rejected)
{
  uid_t other_uid = getuid () + 1;
  gid_t own_gid = getgid ();
  struct zcipc_server_config config = {
    .quota = 4,
    .max_consumers = 8,
    .allowed_uids = &other_uid,
    .n_allowed_uids = 1,
  };
  struct zcipc_client *c;

  zt_producer_start_full (&prod, &config);
  ck_assert_int_eq (zcipc_client_new (prod.path, 2, &c), 0);
  ck_assert_int_eq (zcipc_client_connect (c, 5000), -EACCES);
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (c), "not allowed"));
  {
    /* It names whom it refused, so the fix (whom to allow) is plain. */
    char who[64];
    snprintf (who, sizeof who, "uid %u gid %u not allowed",
        (unsigned) geteuid (), (unsigned) getegid ());
    ck_assert_msg (strstr (zcipc_client_reason (c), who), "reason '%s'",
        zcipc_client_reason (c));
  }
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);

  /* Allowed by its group. */
  config.allowed_gids = &own_gid;
  config.n_allowed_gids = 1;
  zt_producer_start_full (&prod, &config);
  c = zt_client_connect (prod.path, 2);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_one_consumer_too_many_is_rejected)
{
  struct zcipc_client *a, *b;

  zt_producer_start (&prod, 4, 1);
  a = zt_client_connect (prod.path, 2);
  ck_assert_int_eq (zcipc_client_new (prod.path, 2, &b), 0);
  ck_assert_int_eq (zcipc_client_connect (b, 5000), -EUSERS);
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (b), "too many"));
  zcipc_client_unref (a);
  /* Room again once the first has gone. */
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 0, 5000);
  ZT_ASSERT_EVENTUALLY (zcipc_client_connect (b, 5000) == 0, 5000);
  zcipc_client_unref (b);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_version_mismatch_gets_a_reject_naming_both_versions)
{
  struct zcipc_wire_hello hello;
  static union zt_msg_buf buf;
  struct zcipc_message msg;
  size_t n;
  int fd;

  zt_producer_start (&prod, 4, 8);
  ck_assert_int_eq (zcipc_socket_connect (prod.path, &fd), 0);
  n = zcipc_wire_init_hello (&hello, 2);
  hello.version = 99;
  ck_assert_int_eq (zt_send_raw (fd, &hello, n, NULL, 0), 0);
  ck_assert_int_eq (zt_recv_type (fd, ZCIPC_WIRE_REJECT, 5000, &buf, &msg), 0);
  ck_assert_int_eq (msg.reject.error, -EPROTONOSUPPORT);
  ck_assert_uint_eq (msg.reject.version, ZCIPC_PROTOCOL_VERSION);
  ck_assert_msg (strstr (msg.reject.reason, "version 99") &&
      strstr (msg.reject.reason, "version 1"), "reason: %s", msg.reject.reason);
  ck_assert (zt_wait_hang_up (fd, 5000));
  close (fd);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_joined, 0);
  zt_producer_stop (&prod);
}

END_TEST;

/* --- regions, events, frames --------------------------------------------- */

START_TEST (test_regions_announced_before_and_after_connect_both_arrive)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c, *late;
  unsigned int n_sent;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 50), -EAGAIN);
  ck_assert_uint_eq (zcipc_client_n_regions (c), 1);
  zt_producer_add_region (&prod, 2, 2 * REGION_SIZE);

  zt_producer_send (&prod, 2, 8192, 1000, 1, &n_sent);
  ck_assert_uint_eq (n_sent, 1);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_uint_eq (zcipc_client_n_regions (c), 2);
  ck_assert_uint_eq (ev.frame.mems[0].region_id, 2);
  ck_assert_uint_eq (ev.frame.mems[0].region_size, 2 * REGION_SIZE);
  ck_assert_uint_eq (ev.frame.mems[0].region_flags, ZCIPC_REGION_FLAG_MEMFD);
  check_frame_data (&ev);
  release_and_settle (c, ev.frame.info.seq);

  zt_producer_send (&prod, 1, 0, REGION_SIZE, 2, &n_sent);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_uint_eq (ev.frame.mems[0].region_id, 1);
  check_frame_data (&ev);
  release_and_settle (c, ev.frame.info.seq);

  /* A late joiner gets both as sticky state. */
  late = zt_client_connect (prod.path, 4);
  zt_producer_send (&prod, 2, 0, 64, 3, &n_sent);
  ck_assert_uint_eq (n_sent, 2);
  zt_client_next_frame (late, &ev, 5000);
  ck_assert_uint_eq (zcipc_client_n_regions (late), 2);
  check_frame_data (&ev);
  release_and_settle (late, ev.frame.info.seq);
  zt_client_next_frame (c, &ev, 5000);
  release_and_settle (c, ev.frame.info.seq);
  ck_assert_int_eq (atomic_load (&prod.holds), atomic_load (&prod.releases));

  zcipc_client_unref (c);
  zcipc_client_unref (late);
  zt_producer_stop (&prod);
}

END_TEST;

static void
expect_event (struct zcipc_client *c, uint32_t kind, const char *payload)
{
  struct zcipc_client_event ev;
  int res = zcipc_client_next (c, &ev, 5000);

  ck_assert_msg (res == 0, "next: %s", zt_strerror (res));
  ck_assert_int_eq (ev.type, ZCIPC_CLIENT_EVENT);
  ck_assert_uint_eq (ev.event.kind, kind);
  ck_assert_uint_eq (ev.event.size, strlen (payload));
  ck_assert_mem_eq (ev.event.payload, payload, strlen (payload));
}

static void
send_event (uint32_t kind, const char *payload, bool sticky)
{
  ck_assert_int_eq (zcipc_server_send_event (prod.server, kind, payload,
          (uint32_t) strlen (payload), sticky), 0);
}

START_TEST (test_late_joiner_gets_sticky_state_in_first_sent_order)
{
  struct zcipc_client_event ev;
  struct zcipc_client *early, *late, *later;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  early = zt_client_connect (prod.path, 4);
  send_event (10, "caps-a", true);
  send_event (20, "segment", true);
  send_event (30, "tags", true);
  send_event (99, "not sticky", false);
  send_event (10, "caps-b", true);      /* replaces caps-a in its place */
  send_event (40, "forgotten", true);
  zcipc_server_forget_event (prod.server, 40);

  /* Who was there saw everything, in send order. */
  expect_event (early, 10, "caps-a");
  expect_event (early, 20, "segment");
  expect_event (early, 30, "tags");
  expect_event (early, 99, "not sticky");
  expect_event (early, 10, "caps-b");
  expect_event (early, 40, "forgotten");

  late = zt_client_connect (prod.path, 4);
  expect_event (late, 10, "caps-b");
  expect_event (late, 20, "segment");
  expect_event (late, 30, "tags");
  /* Then the next frame, not the non-sticky or forgotten events. */
  zt_producer_send (&prod, 1, 0, 16, 5, NULL);
  zt_client_next_frame (late, &ev, 5000);
  ck_assert_uint_eq (ev.frame.info.pts, 5);
  ck_assert_int_eq (zcipc_client_release (late, ev.frame.info.seq), 0);
  zt_client_next_frame (early, &ev, 5000);
  ck_assert_int_eq (zcipc_client_release (early, ev.frame.info.seq), 0);

  zcipc_server_forget_event (prod.server, 10);
  zcipc_server_forget_event (prod.server, 20);
  zcipc_server_forget_event (prod.server, 30);
  later = zt_client_connect (prod.path, 4);
  zt_producer_send (&prod, 1, 0, 16, 6, NULL);
  zt_client_next_frame (later, &ev, 5000);
  ck_assert_uint_eq (ev.frame.info.pts, 6);
  ck_assert_int_eq (zcipc_client_release (later, ev.frame.info.seq), 0);

  zcipc_client_unref (early);
  zcipc_client_unref (late);
  zcipc_client_unref (later);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_frames_arrive_inside_the_region_with_exact_timestamps)
{
  static const char meta[] = "video-meta: stride=2560";
  struct zcipc_wire_mem mems[2] = {
    {1, 0, 0, 100},
    {1, 0, 8192, 5000},
  };
  struct zcipc_wire_frame info = { 0 };
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  struct zcipc_region *region;
  struct zt_frame frame = { 0 };
  unsigned int n_sent = 0;
  int64_t t0, t1;
  uint64_t seq;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, 4 * REGION_SIZE);
  region = zt_producer_region (&prod, 1);
  c = zt_client_connect (prod.path, 4);

  info.pts = 1000000000000ull;
  info.dts = 999999999999ull;
  info.duration = 33333333;
  info.offset = 42;
  info.offset_end = 43;
  info.flags = 0x2040;
  info.seq = 12345;             /* the server picks seqs */
  info.send_time = 1;           /* and the send time */
  t0 = zcipc_now_ns ();
  ck_assert_int_eq (zcipc_server_send_frame (prod.server, &info, mems, 2, meta,
          sizeof meta, &frame, &n_sent), 0);
  t1 = zcipc_now_ns ();
  ck_assert_uint_eq (n_sent, 1);
  ck_assert_int_eq (atomic_load (&frame.refs), 1);

  zt_client_next_frame (c, &ev, 5000);
  ck_assert_uint_eq (ev.frame.info.pts, info.pts);
  ck_assert_uint_eq (ev.frame.info.dts, info.dts);
  ck_assert_uint_eq (ev.frame.info.duration, info.duration);
  ck_assert_uint_eq (ev.frame.info.offset, info.offset);
  ck_assert_uint_eq (ev.frame.info.offset_end, info.offset_end);
  ck_assert_uint_eq (ev.frame.info.flags, info.flags);
  ck_assert_uint_ne (ev.frame.info.seq, 0);
  ck_assert_uint_ne (ev.frame.info.seq, 12345);
  ck_assert_uint_ge (ev.frame.info.send_time, (uint64_t) t0);
  ck_assert_uint_le (ev.frame.info.send_time, (uint64_t) t1);
  ck_assert_uint_eq (ev.frame.n_mems, 2);
  for (int i = 0; i < 2; i++) {
    const struct zcipc_client_mem *m = &ev.frame.mems[i];
    ck_assert_uint_eq (m->offset, mems[i].offset);
    ck_assert_uint_eq (m->size, mems[i].size);
    ck_assert_uint_eq (m->region_id, 1);
    ck_assert_uint_eq (m->region_size, region->size);
    ck_assert_int_ge (m->region_fd, 0);
    /* The consumer's own mapping, not a copy and not the producer's. */
    ck_assert (zt_is_mapped (m->data));
    ck_assert_ptr_ne (m->region_data, region->data);
  }
  ck_assert_ptr_eq (ev.frame.mems[0].region_data, ev.frame.mems[1].region_data);
  check_frame_data (&ev);
  /* Written by the producer now, seen in place by the consumer. */
  ((uint8_t *) region->data)[8192] ^= 0xff;
  ck_assert_uint_eq (ev.frame.mems[1].data[0],
      ((uint8_t *) region->data)[8192]);
  ((uint8_t *) region->data)[8192] ^= 0xff;
  ck_assert_uint_eq (ev.frame.meta_size, sizeof meta);
  ck_assert_mem_eq (ev.frame.meta, meta, sizeof meta);
  seq = ev.frame.info.seq;

  /* PTS differences survive exactly. */
  info.pts += 16666667;
  ck_assert_int_eq (zcipc_server_send_frame (prod.server, &info, mems, 1, NULL,
          0, &frame, NULL), 0);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_uint_eq (ev.frame.info.seq, seq + 1);
  ck_assert_uint_eq (ev.frame.info.pts - 1000000000000ull, 16666667);
  ck_assert_uint_eq (ev.frame.meta_size, 0);
  ck_assert_int_eq (atomic_load (&frame.refs), 2);

  release_and_settle (c, seq);
  release_and_settle (c, seq + 1);
  ck_assert_int_eq (atomic_load (&frame.refs), 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_frame_without_memory_crosses_and_holds_no_slot)
{
  static const char meta[] = "gap-meta";
  struct zcipc_wire_frame info = { 0 };
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  struct zt_frame frame = { 0 };
  unsigned int n_sent = 0;

  zt_producer_start (&prod, 1, 8);
  c = zt_client_connect (prod.path, 1);
  info.pts = 5000;
  info.duration = 40;
  info.offset = 7;
  info.flags = 0x0100;          /* GST_BUFFER_FLAG_GAP */
  /* More frames than the quota of 1: none of them keeps a slot. */
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq (zcipc_server_send_frame (prod.server, &info, NULL, 0,
            meta, sizeof meta, &frame, &n_sent), 0);
    ck_assert_uint_eq (n_sent, 1);
    zt_client_next_frame (c, &ev, 5000);
    ck_assert_uint_eq (ev.frame.n_mems, 0);
    ck_assert_uint_eq (ev.frame.info.pts, 5000);
    ck_assert_uint_eq (ev.frame.info.duration, 40);
    ck_assert_uint_eq (ev.frame.info.offset, 7);
    ck_assert_uint_eq (ev.frame.info.flags, 0x0100);
    ck_assert_uint_eq (ev.frame.meta_size, sizeof meta);
    ck_assert_mem_eq (ev.frame.meta, meta, sizeof meta);
    /* Given back already. */
    ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), -ENOENT);
    ZT_ASSERT_EVENTUALLY (atomic_load (&frame.refs) == 0, 5000);
  }
  ck_assert_uint_eq (zt_producer_stats (&prod).frames_missed, 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_metas_in_a_region_are_copied_out_and_held_with_the_frame)
{
  struct zcipc_wire_mem mems[2] = {
    {1, 0, 0, 4096},
    {2, 0, 4096, 3 * REGION_SIZE},      /* the metas */
  };
  struct zcipc_wire_frame info = { 0 };
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  struct zcipc_region *metas;
  struct zt_frame frame = { 0 };
  unsigned int n_sent = 0;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  zt_producer_add_region (&prod, 2, 4 * REGION_SIZE);
  metas = zt_producer_region (&prod, 2);
  c = zt_client_connect (prod.path, 4);

  info.frame_flags = ZCIPC_FRAME_FLAG_METAS_IN_REGION;
  ck_assert_int_eq (zcipc_server_send_frame (prod.server, &info, mems, 2, NULL,
          0, &frame, &n_sent), 0);
  ck_assert_uint_eq (n_sent, 1);
  zt_client_next_frame (c, &ev, 5000);
  /* The frame's one memory; the metas are not a memory of it. */
  ck_assert_uint_eq (ev.frame.n_mems, 1);
  check_frame_data (&ev);
  ck_assert_uint_eq (ev.frame.meta_size, 3 * REGION_SIZE);
  /* A private copy: what the producer writes there later is not seen. */
  ck_assert_mem_eq (ev.frame.meta, (uint8_t *) metas->data + 4096,
      3 * REGION_SIZE);
  ck_assert (ev.frame.meta < (const uint8_t *) ev.frame.mems[0].region_data ||
      ev.frame.meta >= (const uint8_t *) ev.frame.mems[0].region_data +
      REGION_SIZE);
  ((uint8_t *) metas->data)[4096] ^= 0xff;
  ck_assert_uint_ne (ev.frame.meta[0], ((uint8_t *) metas->data)[4096]);
  ((uint8_t *) metas->data)[4096] ^= 0xff;
  /* Held as one frame until released. */
  ck_assert_int_eq (atomic_load (&frame.refs), 1);
  release_and_settle (c, ev.frame.info.seq);
  ck_assert_int_eq (atomic_load (&frame.refs), 0);

  /* Metas outside their region: a protocol error. */
  mems[1].offset = 2 * REGION_SIZE;
  ck_assert_int_eq (zcipc_server_send_frame (prod.server, &info, mems, 2, NULL,
          0, &frame, &n_sent), 0);
  {
    struct zcipc_client_event bad;
    ck_assert_int_eq (zcipc_client_next (c, &bad, 5000), -EPROTO);
    ck_assert_ptr_nonnull (strstr (zcipc_client_reason (c), "outside"));
  }
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_send_frame_refuses_bad_arguments)
{
  struct zcipc_wire_mem mems[ZCIPC_WIRE_MAX_MEMS + 1] = { {0} };
  struct zcipc_wire_frame info = { 0 };
  static uint8_t meta[ZCIPC_WIRE_MAX_MESSAGE_SIZE];
  struct zt_frame frame = { 0 };

  zt_producer_start (&prod, 4, 8);
  ck_assert_int_eq (zcipc_server_send_frame (prod.server, &info, mems,
          ZCIPC_WIRE_MAX_MEMS + 1, NULL, 0, &frame, NULL), -EINVAL);
  /* Metas in a region need their mem, and no inline metas. */
  info.frame_flags = ZCIPC_FRAME_FLAG_METAS_IN_REGION;
  ck_assert_int_eq (zcipc_server_send_frame (prod.server, &info, mems, 0, NULL,
          0, &frame, NULL), -EINVAL);
  ck_assert_int_eq (zcipc_server_send_frame (prod.server, &info, mems, 1, meta,
          8, &frame, NULL), -EINVAL);
  info.frame_flags = 1u << 9;
  ck_assert_int_eq (zcipc_server_send_frame (prod.server, &info, mems, 1, NULL,
          0, &frame, NULL), -EINVAL);
  info.frame_flags = 0;
  ck_assert_int_eq (zcipc_server_send_frame (prod.server, &info, mems, 1, meta,
          sizeof meta, &frame, NULL), -EMSGSIZE);
  ck_assert_int_eq (zcipc_server_send_event (prod.server, 1, meta,
          sizeof meta, false), -EMSGSIZE);
  ck_assert_int_eq (zcipc_server_remove_region (prod.server, 5), -ENOENT);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_frame_nobody_takes_counts_as_unsent)
{
  unsigned int n_sent = 99;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  zt_producer_send (&prod, 1, 0, 10, 1, &n_sent);
  ck_assert_uint_eq (n_sent, 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).frames_unsent, 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).frames_sent, 0);
  ck_assert_int_eq (atomic_load (&prod.holds), 0);
  zt_producer_stop (&prod);
}

END_TEST;

/* --- holds and releases -------------------------------------------------- */

START_TEST (test_holds_and_releases_balance_after_release_and_disconnect)
{
  struct zcipc_client_event ev;
  struct zt_frame *frames[3];
  struct zcipc_client *c;
  uint64_t seqs[3];

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  for (int i = 0; i < 3; i++)
    frames[i] = zt_producer_send (&prod, 1, 0, 100, (uint64_t) i, NULL);
  ck_assert_int_eq (atomic_load (&prod.holds), 3);
  for (int i = 0; i < 3; i++) {
    zt_client_next_frame (c, &ev, 5000);
    seqs[i] = ev.frame.info.seq;
  }
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 3);

  ck_assert_int_eq (zcipc_client_release (c, seqs[0]), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);
  ck_assert_int_eq (atomic_load (&frames[0]->refs), 0);
  ck_assert_int_eq (atomic_load (&frames[1]->refs), 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 2);
  ck_assert_int_eq (zcipc_client_release (c, seqs[0]), -ENOENT);

  /* Leaving with frames held stops the stream but keeps their slots
   * untouched (LEAVE), until they are released... */
  zcipc_client_disconnect (c);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 0, 5000);
  zt_sleep_ms (20);
  ck_assert_int_eq (atomic_load (&prod.releases), 1);
  ck_assert_int_eq (atomic_load (&frames[1]->refs), 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 2);
  /* ...which gives them back and then closes the connection. */
  ck_assert_int_eq (zcipc_client_release (c, seqs[1]), 0);
  ck_assert_int_eq (zcipc_client_release (c, seqs[2]), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 3, 5000);
  ck_assert_int_eq (atomic_load (&frames[1]->refs), 0);
  ck_assert_int_eq (atomic_load (&frames[2]->refs), 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);
  zt_sleep_ms (20);
  ck_assert_int_eq (atomic_load (&prod.releases), 3);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_leaving_gives_back_unread_frames_and_keeps_the_held_one)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  for (int i = 0; i < 3; i++)
    zt_producer_send (&prod, 1, 0, 100, (uint64_t) i, NULL);
  zt_client_next_frame (c, &ev, 5000);  /* read one, two stay unread */
  zt_sleep_ms (20);
  zcipc_client_disconnect (c);
  /* The two never read come back at once; the one we hold stays. */
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 2, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 1);
  check_frame_data (&ev);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 3, 5000);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* Forks a consumer (before any thread exists) that connects to `name`
 * once we listen, takes `n_frames` frames, writes a byte to `*ready_fd`
 * and keeps them until SIGKILL. */
static pid_t
fork_holding_consumer (const char *name, uint32_t max_held, int n_frames,
    int *ready_fd)
{
  int ready[2];
  pid_t child;

  ck_assert_int_eq (pipe2 (ready, O_CLOEXEC), 0);
  child = fork ();
  ck_assert_int_ge (child, 0);
  if (child == 0) {
    struct zcipc_client_event ev;
    struct zcipc_client *c;

    if (zcipc_client_new (name, max_held, &c) < 0 ||
        zcipc_client_connect (c, 5000) < 0)
      _exit (1);
    for (int i = 0; i < n_frames; i++)
      if (zcipc_client_next (c, &ev, 5000) < 0 || ev.type != ZCIPC_CLIENT_FRAME)
        _exit (2);
    if (write (ready[1], "r", 1) != 1)
      _exit (3);
    pause ();
    _exit (4);
  }
  close (ready[1]);
  *ready_fd = ready[0];
  return child;
}

/* Starts `prod` (quota 4) with a consumer in another process, asking for
 * `max_held`, that holds the two frames sent to it until SIGKILL. Returns
 * its pid; `*fds_connected`: our fd count with it connected. */
static pid_t
start_with_a_holding_consumer (const char *tag, uint32_t max_held,
    int *fds_connected)
{
  struct zcipc_server_config config = {
    .quota = 4,
    .max_consumers = 8,
  };
  char name[64], byte;
  int ready;
  pid_t child;

  snprintf (name, sizeof name, "@zt-%s-%d", tag, (int) getpid ());
  child = fork_holding_consumer (name, max_held, 2, &ready);
  config.path = name;
  zt_producer_start_full (&prod, &config);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  ck_assert_int_eq (zcipc_server_wait_consumers (prod.server, 1,
          5000000000ll), 0);
  zt_producer_send (&prod, 1, 0, 10, 1, NULL);
  zt_producer_send (&prod, 1, 0, 10, 2, NULL);
  ck_assert_int_eq (read (ready, &byte, 1), 1);
  close (ready);
  *fds_connected = zt_count_fds ();
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 2);
  return child;
}

static void
kill_and_reap (pid_t child)
{
  int status;

  kill (child, SIGKILL);
  ck_assert_int_eq (waitpid (child, &status, 0), child);
  ck_assert (WIFSIGNALED (status));
}

/* Its socket and its channel. */
static int
fds_per_consumer (void)
{
  return 2;
}

START_TEST (test_consumer_that_dies_returns_its_holds)
{
  int fds_connected;
  pid_t child = start_with_a_holding_consumer ("dies", 4, &fds_connected);

  kill_and_reap (child);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 2, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  ck_assert (zt_wait_fd_count (fds_connected - fds_per_consumer (), 5000));
  zt_producer_stop (&prod);
}

END_TEST;

/* A consumer cut off for the wait timeout keeps the frames it holds: the
 * producer must not hand their slots out again while it may read them. It
 * gets them back when that consumer dies, with its fds. */
START_TEST (test_consumer_cut_off_keeps_its_frames_until_it_dies)
{
  int fds_connected;
  pid_t child = start_with_a_holding_consumer ("cut", 2, &fds_connected);

  ck_assert_int_eq (zcipc_server_wait_room (prod.server, 100 * 1000000ll), 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 1);
  ZT_ASSERT_EVENTUALLY (zt_producer_left_with (&prod, "wait timeout"), 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 0);
  zt_sleep_ms (200);
  ck_assert_int_eq (atomic_load (&prod.releases), 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 2);

  kill_and_reap (child);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 2, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);
  ck_assert (zt_wait_fd_count (fds_connected - fds_per_consumer (), 5000));
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_skip_policy_slow_client_misses_frames_while_another_gets_all)
{
  struct zcipc_consumer_stats slow_stats, fast_stats;
  struct zcipc_server_stats stats;
  struct zcipc_client_event ev;
  struct zcipc_client *slow, *fast;

  zt_producer_start (&prod, 8, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  slow = zt_client_connect (prod.path, 2);
  fast = zt_client_connect (prod.path, 4);
  for (uint64_t i = 0; i < 10; i++) {
    unsigned int n_sent = 0;

    zt_producer_send (&prod, 1, 64 * i, 64, i, &n_sent);
    ck_assert_uint_eq (n_sent, i < 2 ? 2 : 1);
    zt_client_next_frame (fast, &ev, 5000);
    ck_assert_uint_eq (ev.frame.info.pts, i);
    check_frame_data (&ev);
    ck_assert_int_eq (zcipc_client_release (fast, ev.frame.info.seq), 0);
    ZT_ASSERT_EVENTUALLY (zt_producer_consumer_stats (&prod,
            zcipc_client_consumer_id (fast)).held == 0, 5000);
  }
  slow_stats = zt_producer_consumer_stats (&prod,
      zcipc_client_consumer_id (slow));
  fast_stats = zt_producer_consumer_stats (&prod,
      zcipc_client_consumer_id (fast));
  ck_assert_uint_eq (slow_stats.frames_sent, 2);
  ck_assert_uint_eq (slow_stats.frames_missed, 8);
  ck_assert_uint_eq (slow_stats.held, 2);
  ck_assert_uint_eq (fast_stats.frames_sent, 10);
  ck_assert_uint_eq (fast_stats.frames_missed, 0);
  stats = zt_producer_stats (&prod);
  ck_assert_uint_eq (stats.frames_sent, 10);
  ck_assert_uint_eq (stats.frames_unsent, 0);
  ck_assert_uint_eq (stats.frames_missed, 8);
  ck_assert_uint_eq (stats.held, 2);

  /* The slow one still has the first two, then catches up. */
  zt_client_next_frame (slow, &ev, 5000);
  ck_assert_uint_eq (ev.frame.info.pts, 0);
  check_frame_data (&ev);
  release_and_settle (slow, ev.frame.info.seq);
  zt_client_next_frame (slow, &ev, 5000);
  ck_assert_uint_eq (ev.frame.info.pts, 1);
  release_and_settle (slow, ev.frame.info.seq);
  ck_assert_int_eq (zcipc_client_next (slow, &ev, 20), -EAGAIN);
  exchange_frame (slow, 100);
  zt_client_next_frame (fast, &ev, 5000);
  release_and_settle (fast, ev.frame.info.seq);

  zcipc_client_unref (slow);
  zcipc_client_unref (fast);
  zt_producer_stop (&prod);
}

END_TEST;

/* The wait timeout bounds how long a consumer sits at its quota, not how
 * long it keeps a frame: one that keeps its first frame for longer (a muxer
 * waiting for its other input) while it takes and gives back the others is
 * not cut off. */
START_TEST (test_wait_room_keeps_a_client_that_holds_one_frame_long)
{
  struct zcipc_client_event first, ev;
  struct zcipc_client *c;
  unsigned int n_sent = 0;
  int64_t t0;

  zt_producer_start (&prod, 8, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 2);
  zt_producer_send (&prod, 1, 0, 64, 0, NULL);
  zt_client_next_frame (c, &first, 5000);       /* kept throughout */
  t0 = zt_now_ms ();
  for (uint64_t i = 1; zt_now_ms () - t0 < 400; i++) {
    ck_assert_int_eq (zcipc_server_wait_room (prod.server, 100 * 1000000ll), 0);
    zt_producer_send (&prod, 1, 4096, 64, i, NULL);
    zt_client_next_frame (c, &ev, 5000);
    zt_sleep_ms (20);           /* full for a while, under the timeout */
    ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  }
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 1);

  /* Full and taking nothing for the timeout: cut off. */
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).held == 1, 5000);
  zt_producer_send (&prod, 1, 4096, 64, 99, &n_sent);
  ck_assert_uint_eq (n_sent, 1);
  ck_assert_int_eq (zcipc_server_wait_room (prod.server, 100 * 1000000ll), 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 1);

  ck_assert_int_eq (zcipc_client_release (c, first.frame.info.seq), 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_wait_room_drops_a_stuck_client_after_its_timeout)
{
  struct zcipc_client_event ev;
  struct zcipc_client *stuck, *ok;
  int64_t t0, elapsed;
  int res;

  zt_producer_start (&prod, 8, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  stuck = zt_client_connect (prod.path, 2);
  ok = zt_client_connect (prod.path, 4);
  for (uint64_t i = 0; i < 2; i++) {
    zt_producer_send (&prod, 1, 0, 64, i, NULL);
    zt_client_next_frame (ok, &ev, 5000);
    ck_assert_int_eq (zcipc_client_release (ok, ev.frame.info.seq), 0);
  }
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).held == 2, 5000);

  t0 = zt_now_ms ();
  res = zcipc_server_wait_room (prod.server, 100 * 1000000ll);
  elapsed = zt_now_ms () - t0;
  ck_assert_int_eq (res, 0);
  ck_assert_int_lt (elapsed, 3000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 1);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 1, 5000);
  ZT_ASSERT_EVENTUALLY (zt_producer_left_with (&prod, "wait timeout"), 5000);
  ck_assert (zt_producer_logged (&prod, "wait timeout"));
  /* Cut off, not gone: the frames it holds stay its own (their slots are
   * not handed out again under it) until it gives them back. */
  zt_sleep_ms (200);
  ck_assert_int_eq (atomic_load (&prod.holds) - atomic_load (&prod.releases),
      2);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 2);

  /* The stuck one reads what it had, then learns it was cut off, and why
   * (not "the producer went away": it is still there). */
  zt_client_next_frame (stuck, &ev, 5000);
  check_frame_data (&ev);
  ck_assert_int_eq (zcipc_client_release (stuck, ev.frame.info.seq), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.holds) -
      atomic_load (&prod.releases) == 1, 5000);
  zt_client_next_frame (stuck, &ev, 5000);
  check_frame_data (&ev);
  ck_assert_int_eq (zcipc_client_release (stuck, ev.frame.info.seq), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.holds) ==
      atomic_load (&prod.releases), 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);
  ck_assert_int_eq (zcipc_client_next (stuck, &ev, 5000), -ECONNABORTED);
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (stuck), "wait timeout"));
  ck_assert_int_eq (zcipc_client_next (stuck, &ev, 5000), -EPIPE);

  /* The other goes on; with nobody full, the wait returns at once. */
  exchange_frame (ok, 7);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_server_wait_room (prod.server, 5000 * 1000000ll), 0);
  ck_assert_int_lt (zt_now_ms () - t0, 1000);

  zcipc_client_unref (stuck);
  zcipc_client_unref (ok);
  zt_producer_stop (&prod);
}

END_TEST;

/* What zcipcsrc does when cut off while its frames are downstream: it
 * disconnects and lets go of the client, the frames live on. The producer
 * keeps their slots until each is released, then closes the connection. */
START_TEST
    (test_cut_off_client_that_disconnects_keeps_its_frames_until_released) {
  struct zcipc_client_event ev[2];
  struct zcipc_client *stuck;
  int fds;

  zt_producer_start (&prod, 8, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  fds = zt_count_fds ();
  stuck = zt_client_connect (prod.path, 2);
  for (uint64_t i = 0; i < 2; i++) {
    zt_producer_send (&prod, 1, 0, 64, i, NULL);
    zt_client_next_frame (stuck, &ev[i], 5000);
  }
  ck_assert_int_eq (zcipc_server_wait_room (prod.server, 100 * 1000000ll), 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 1);
  ck_assert_int_eq (zcipc_client_next (stuck, &ev[0], 5000), -ECONNABORTED);
  zcipc_client_disconnect (stuck);
  zcipc_client_unref (stuck);   /* the frames keep it */

  zt_sleep_ms (200);
  ck_assert_int_eq (atomic_load (&prod.releases), 0);
  check_frame_data (&ev[0]);
  check_frame_data (&ev[1]);
  ck_assert_int_eq (zcipc_client_release (stuck, ev[0].frame.info.seq), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 1);
  ck_assert_int_eq (zcipc_client_release (stuck, ev[1].frame.info.seq), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 2, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);
  ck_assert (zt_wait_fd_count (fds, 5000));
  zt_producer_stop (&prod);
}

END_TEST;

struct wait_job
{
  int (*wait) (struct wait_job * job);
  int64_t timeout_ns;
  int res;
};

static int
wait_consumers_1 (struct wait_job *job)
{
  return zcipc_server_wait_consumers (prod.server, 1, job->timeout_ns);
}

static int
wait_room (struct wait_job *job)
{
  return zcipc_server_wait_room (prod.server, job->timeout_ns);
}

static void *
wait_thread (void *data)
{
  struct wait_job *job = data;
  job->res = job->wait (job);
  return NULL;
}

START_TEST (test_wait_consumers_times_out_and_is_cancelled_by_flushing)
{
  struct wait_job job = { wait_consumers_1, -1, 1 };
  struct zcipc_client *c;
  pthread_t thread;
  int64_t t0;

  zt_producer_start (&prod, 4, 8);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_server_wait_consumers (prod.server, 1,
          50 * 1000000ll), -ETIMEDOUT);
  ck_assert_int_ge (zt_now_ms () - t0, 49);
  ck_assert_int_eq (zcipc_server_wait_consumers (prod.server, 0, 0), 0);

  /* Blocked forever, then flushing. */
  ck_assert_int_eq (pthread_create (&thread, NULL, wait_thread, &job), 0);
  zt_sleep_ms (50);
  ck_assert_int_eq (job.res, 1);
  t0 = zt_now_ms ();
  zcipc_server_set_flushing (prod.server, true);
  pthread_join (thread, NULL);
  ck_assert_int_eq (job.res, -ECANCELED);
  ck_assert_int_lt (zt_now_ms () - t0, 1000);
  /* While flushing, at once. */
  ck_assert_int_eq (zcipc_server_wait_consumers (prod.server, 1,
          5000 * 1000000ll), -ECANCELED);

  /* Not flushing: a consumer that comes ends the wait. */
  zcipc_server_set_flushing (prod.server, false);
  job = (struct wait_job) { wait_consumers_1, 5000 * 1000000ll, 1 };
  ck_assert_int_eq (pthread_create (&thread, NULL, wait_thread, &job), 0);
  zt_sleep_ms (20);
  c = zt_client_connect (prod.path, 2);
  pthread_join (thread, NULL);
  ck_assert_int_eq (job.res, 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_wait_room_is_cancelled_by_flushing)
{
  struct wait_job job = { wait_room, -1, 1 };
  struct zcipc_client *c;
  pthread_t thread;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 1);
  zt_producer_send (&prod, 1, 0, 10, 1, NULL);
  ck_assert_int_eq (pthread_create (&thread, NULL, wait_thread, &job), 0);
  zt_sleep_ms (50);
  ck_assert_int_eq (job.res, 1);
  zcipc_server_set_flushing (prod.server, true);
  pthread_join (thread, NULL);
  ck_assert_int_eq (job.res, -ECANCELED);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  zcipc_server_set_flushing (prod.server, false);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* --- lazy releases --------------------------------------------------------- */

/* Long, so that a loaded machine cannot end the window within a test. */
#define TEST_LAZY_WINDOW_NS (1000 * 1000000LL)

/* Sets lazy releases and opens the window with a frame that `c` receives
 * and releases: the thread must leave that release alone. */
static void
start_lazy (struct zcipc_client *c)
{
  struct zcipc_client_event ev;

  zcipc_server_set_lazy_releases (prod.server, TEST_LAZY_WINDOW_NS);
  zt_producer_send (&prod, 1, 0, 64, 100, NULL);
  zt_sleep_ms (50);             /* the thread takes the window in */
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  zt_sleep_ms (30);
  ck_assert_int_eq (atomic_load (&prod.releases), 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 1);
}

/* Lazily, a release is read with the next frame, not by the server thread
 * (whose wake-up per frame is what lazy releases save); once frames stop,
 * the thread reads the rest after its window. */
START_TEST (test_lazy_releases_are_read_with_the_next_frame)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  struct zt_frame *second;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  start_lazy (c);

  /* The next frame reads it, in the sending thread. */
  second = zt_producer_send (&prod, 1, 64, 64, 1, NULL);
  ck_assert_int_eq (atomic_load (&prod.releases), 1);
  ck_assert_int_eq (atomic_load (&second->refs), 1);

  /* No more frames: the thread reads the last release after the window. */
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  zt_sleep_ms (30);
  ck_assert_int_eq (atomic_load (&prod.releases), 1);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 2, 5000);
  ck_assert_int_eq (atomic_load (&second->refs), 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);

  /* Off again: the thread reads releases as they come. */
  zcipc_server_set_lazy_releases (prod.server, 0);
  exchange_frame (c, 3);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 3, 5000);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* A pool that runs dry collects the releases waiting now; from then on the
 * thread reads them as they come, until the next frame. */
START_TEST (test_collect_releases_reads_waiting_releases_and_wakes_the_thread)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  start_lazy (c);
  ck_assert_uint_eq (zcipc_server_collect_releases (prod.server), 1);
  ck_assert_int_eq (atomic_load (&prod.releases), 1);
  ck_assert_uint_eq (zcipc_server_collect_releases (prod.server), 0);

  /* Well within the window: the thread reads this one itself. */
  zt_producer_send (&prod, 1, 0, 64, 1, NULL);
  zcipc_server_collect_releases (prod.server);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 2, 500);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* wait_room with a consumer at its quota whose release was not read yet
 * returns at once; with one still at its quota it wakes for the release,
 * long before the window ends. */
START_TEST (test_lazy_wait_room_reads_releases_and_wakes_for_them)
{
  struct wait_job job = { wait_room, 5000 * 1000000ll, 1 };
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  uint64_t held;
  pthread_t thread;
  int64_t t0;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 2);
  start_lazy (c);
  zt_producer_send (&prod, 1, 64, 64, 1, NULL); /* reads the release */
  zt_client_next_frame (c, &ev, 5000);
  held = ev.frame.info.seq;
  zt_producer_send (&prod, 1, 128, 64, 2, NULL);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 2);        /* full */
  ck_assert_int_eq (zcipc_client_release (c, held), 0);
  zt_sleep_ms (30);
  ck_assert_int_eq (atomic_load (&prod.releases), 1);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_server_wait_room (prod.server, 5000 * 1000000ll), 0);
  ck_assert_int_lt (zt_now_ms () - t0, 500);
  ck_assert_int_eq (atomic_load (&prod.releases), 2);

  /* At its quota again; the wait ends with the release. */
  held = ev.frame.info.seq;
  zt_producer_send (&prod, 1, 0, 64, 3, NULL);
  ck_assert_int_eq (pthread_create (&thread, NULL, wait_thread, &job), 0);
  zt_sleep_ms (30);
  ck_assert_int_eq (job.res, 1);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_client_release (c, held), 0);
  pthread_join (thread, NULL);
  ck_assert_int_eq (job.res, 0);
  ck_assert_int_lt (zt_now_ms () - t0, 500);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* --- spinning ---------------------------------------------------------------- */

struct fast_stream
{
  unsigned int n;
  int64_t gap_ns;
  uint64_t first_pts;
};

static void *
send_fast_stream (void *data)
{
  struct fast_stream *fs = data;

  for (unsigned int i = 0; i < fs->n; i++) {
    struct timespec gap = { 0, fs->gap_ns };
    /* Lossless: a consumer that a loaded machine (a sanitizer, other
     * tests) kept from running for a while still gets every frame, so the
     * sleeps are counted over the whole stream (a skipped frame cut one
     * run under ASan to 37), and it never waits in vain for the last. A
     * consumer that lags has frames waiting: no sleep is added. */
    ck_assert_int_eq (zcipc_server_wait_room (prod.server,
            10000 * 1000000ll), 0);
    zt_producer_send (&prod, 1, 0, 64, fs->first_pts + i, NULL);
    /* Sleeping, not spinning: two cores are enough for the test. */
    if (fs->gap_ns)
      nanosleep (&gap, NULL);
  }
  return NULL;
}

/* Receives a stream of frames about 0.2 ms apart (more, where timers are
 * coarse); returns how often the client slept for a frame, per 100 frames
 * received after the first 10. Every frame arrives, in order. */
static long
receive_fast_stream (struct zcipc_client *c, uint64_t first_pts)
{
  struct fast_stream fs = { 100, 200 * 1000, first_pts };
  struct zcipc_client_event ev;
  uint64_t before = 0, last = 0;
  unsigned int received = 0;
  pthread_t thread;

  ck_assert_int_eq (pthread_create (&thread, NULL, send_fast_stream, &fs), 0);
  do {
    zt_client_next_frame (c, &ev, 5000);
    ck_assert (received == 0 || ev.frame.info.pts > last);
    last = ev.frame.info.pts;
    check_frame_data (&ev);
    ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
    if (++received == 10)
      before = zcipc_client_sleeps (c);
  } while (last != first_pts + fs.n - 1);
  pthread_join (thread, NULL);
  ck_assert_uint_eq (received, fs.n);
  return (long) ((zcipc_client_sleeps (c) - before) * 100 / (received - 10));
}

/* With a spin time above the frame interval the consumer takes a fast
 * stream without sleeping between frames; without, it sleeps for each. */
START_TEST (test_spinning_client_takes_a_fast_stream_without_sleeping)
{
  struct zcipc_client *c;
  long sleeps_spinning, sleeps_not;

  zt_producer_start (&prod, 8, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 8);
  /* As the sink does: releases are read by the sender, so that no third
   * thread needs a core. */
  zcipc_server_set_lazy_releases (prod.server, TEST_LAZY_WINDOW_NS);

  zcipc_client_set_spin (c, 20000);
  sleeps_spinning = receive_fast_stream (c, 0);
  zcipc_client_set_spin (c, 0);
  sleeps_not = receive_fast_stream (c, 1000);
  ck_assert_msg (sleeps_spinning < 15, "slept for %ld %% of the frames while "
      "spinning", sleeps_spinning);
  ck_assert_msg (sleeps_not > 50, "slept for only %ld %% of the frames "
      "without spinning", sleeps_not);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* A spin is bounded: with no frame coming, next() still times out on time
 * and an interrupt still ends it; a stream slower than the spin time does
 * not spin at all. */
START_TEST
    (test_spin_is_bounded_by_timeout_and_interrupt_and_skips_slow_streams) {
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  struct rusage before, after;
  int64_t t0, cpu_us;

  zt_producer_start (&prod, 8, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 8);
  zcipc_client_set_spin (c, 1000000);

  /* A fast pair of frames makes it spin next time. */
  for (int i = 0; i < 3; i++)
    zt_producer_send (&prod, 1, 0, 64, (uint64_t) i, NULL);
  for (int i = 0; i < 3; i++) {
    zt_client_next_frame (c, &ev, 5000);
    ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  }
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_client_next (c, &ev, 100), -EAGAIN);
  ck_assert_int_ge (zt_now_ms () - t0, 90);
  ck_assert_int_lt (zt_now_ms () - t0, 900);
  zcipc_client_set_interrupted (c, true);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_client_next (c, &ev, 5000), -ECANCELED);
  ck_assert_int_lt (zt_now_ms () - t0, 500);
  zcipc_client_set_interrupted (c, false);

  /* 20 ms apart, above a 5 ms spin time: it sleeps at once. */
  zcipc_client_set_spin (c, 5000);
  getrusage (RUSAGE_THREAD, &before);
  for (int i = 0; i < 8; i++) {
    struct fast_stream fs = { 1, 0, 100 + (uint64_t) i };
    zt_sleep_ms (20);
    send_fast_stream (&fs);
    zt_client_next_frame (c, &ev, 5000);
    ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  }
  getrusage (RUSAGE_THREAD, &after);
  cpu_us = (after.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1000000 +
      (after.ru_utime.tv_usec - before.ru_utime.tv_usec) +
      (after.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1000000 +
      (after.ru_stime.tv_usec - before.ru_stime.tv_usec);
  /* Spinning 5 ms after each of 8 frames would be 40 ms of CPU. */
  ck_assert_int_lt (cpu_us, 20000);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* --- hostile consumers ---------------------------------------------------- */

typedef void (*attack_func) (int fd);

/* A legitimate client keeps receiving while a raw one attacks; the raw one
 * is disconnected, counted as dropped, and every fd it cost comes back. */
static void
run_hostile_consumer (attack_func attack, bool handshake, const char *reason)
{
  struct zcipc_client *legit;
  int baseline, fd;

  zt_producer_start (&prod, 4, 16);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  legit = zt_client_connect (prod.path, 4);
  exchange_frame (legit, 1);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);
  baseline = zt_count_fds ();

  ck_assert_int_eq (zcipc_socket_connect (prod.path, &fd), 0);
  if (handshake)
    ck_assert_int_eq (zt_raw_handshake (fd, 4), 4);
  attack (fd);
  ck_assert_msg (zt_wait_hang_up (fd, 5000), "hostile consumer still "
      "connected");

  for (uint64_t pts = 10; pts < 13; pts++)
    exchange_frame (legit, pts);
  close (fd);
  ck_assert_msg (zt_wait_fd_count (baseline, 5000), "fds: %d, were %d",
      zt_count_fds (), baseline);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.holds) ==
      atomic_load (&prod.releases), 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 1);
  if (reason)
    ck_assert_msg (ZT_WAIT_UNTIL (zt_producer_logged (&prod, reason), 5000),
        "no '%s' in the log:\n%s", reason, prod.log);
  zcipc_client_unref (legit);
  zt_producer_stop (&prod);
}

static void
attack_garbage (int fd)
{
  uint8_t garbage[64];
  uint32_t x = 0x12345678;

  for (size_t i = 0; i < sizeof garbage; i++) {
    x = x * 1103515245u + 12345u;
    garbage[i] = (uint8_t) (x >> 16);
  }
  ck_assert_int_eq (zt_send_raw (fd, garbage, sizeof garbage, NULL, 0), 0);
}

static void
attack_truncated_header (int fd)
{
  static const uint8_t half[5] = { ZCIPC_WIRE_RELEASE, 0, 0, 0, 16 };
  ck_assert_int_eq (zt_send_raw (fd, half, sizeof half, NULL, 0), 0);
}

static void
attack_release_unheld (int fd)
{
  static union zt_msg_buf buf;
  uint64_t seq = 12345;
  size_t n = zt_build_release (&buf, &seq, 1);
  ck_assert_int_eq (zt_send_raw (fd, buf.bytes, n, NULL, 0), 0);
}

static void
attack_release_twice (int fd)
{
  static union zt_msg_buf buf;
  struct zcipc_message msg;
  uint64_t seq;
  size_t n;

  zt_producer_send (&prod, 1, 0, 64, 2, NULL);
  ck_assert_int_eq (zt_recv_type (fd, ZCIPC_WIRE_FRAME, 5000, &buf, &msg), 0);
  seq = msg.frame.info.seq;
  n = zt_build_release (&buf, &seq, 1);
  ck_assert_int_eq (zt_send_raw (fd, buf.bytes, n, NULL, 0), 0);
  /* The first is honoured... */
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).held == 1, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  /* ...the second is a lie. */
  ck_assert_int_eq (zt_send_raw (fd, buf.bytes, n, NULL, 0), 0);
}

static void
attack_250_fds (int fd)
{
  static union zt_msg_buf buf;
  int memfd = zt_memfd (4096, 0), fds[250];
  uint64_t seq = 1;
  size_t n = zt_build_release (&buf, &seq, 1);

  for (int i = 0; i < 250; i++)
    fds[i] = memfd;
  ck_assert_int_eq (zt_send_raw (fd, buf.bytes, n, fds, 250), 0);
  close (memfd);
}

static void
attack_frame_from_consumer (int fd)
{
  static union zt_msg_buf buf;
  size_t n = zt_build_frame (&buf, 1, 1, 0, 64);
  ck_assert_int_eq (zt_send_raw (fd, buf.bytes, n, NULL, 0), 0);
}

static void
attack_second_hello (int fd)
{
  struct zcipc_wire_hello hello;
  size_t n = zcipc_wire_init_hello (&hello, 4);
  ck_assert_int_eq (zt_send_raw (fd, &hello, n, NULL, 0), 0);
}

static void
attack_oversized (int fd)
{
  static union zt_msg_buf buf;
  uint64_t seqs[ZCIPC_WIRE_MAX_RELEASES];
  size_t n;

  /* A RELEASE padded far beyond any message a consumer sends: the server
   * reads it truncated. */
  for (uint32_t i = 0; i < ZCIPC_WIRE_MAX_RELEASES; i++)
    seqs[i] = 1000 + i;
  n = zt_build_release (&buf, seqs, ZCIPC_WIRE_MAX_RELEASES);
  memset (buf.bytes + n, 0, 4096);
  ck_assert_int_eq (zt_send_raw (fd, buf.bytes, n + 4096, NULL, 0), 0);
}

static void
attack_region_with_fd (int fd)
{
  struct zcipc_wire_region_add m;
  int memfd = zt_memfd (4096, ZCIPC_REGION_REQUIRED_SEALS);
  size_t n = zcipc_wire_init_region_add (&m, 1, ZCIPC_REGION_FLAG_MEMFD, 4096);

  ck_assert_int_eq (zt_send_raw (fd, &m, n, &memfd, 1), 0);
  close (memfd);
}

static void
attack_empty_datagram_with_fd (int fd)
{
  int memfd = zt_memfd (4096, 0);

  ck_assert_int_eq (zt_send_raw (fd, "", 0, &memfd, 1), 0);
  close (memfd);
}

START_TEST (test_hostile_consumer_sending_garbage_is_disconnected)
{
  run_hostile_consumer (attack_garbage, false, "malformed");
}

END_TEST;

START_TEST (test_hostile_consumer_sending_garbage_after_hello_is_disconnected)
{
  run_hostile_consumer (attack_garbage, true, "malformed");
}

END_TEST;

START_TEST (test_hostile_consumer_sending_a_truncated_header_is_disconnected)
{
  run_hostile_consumer (attack_truncated_header, true, "malformed");
}

END_TEST;

START_TEST (test_hostile_consumer_releasing_an_unheld_seq_is_disconnected)
{
  run_hostile_consumer (attack_release_unheld, true, "does not hold");
}

END_TEST;

START_TEST (test_hostile_consumer_releasing_twice_is_disconnected)
{
  run_hostile_consumer (attack_release_twice, true, "does not hold");
}

END_TEST;

START_TEST (test_hostile_consumer_sending_250_fds_is_disconnected)
{
  run_hostile_consumer (attack_250_fds, true, "malformed");
}

END_TEST;

START_TEST (test_consumer_sending_an_empty_datagram_with_an_fd_is_disconnected)
{
  run_hostile_consumer (attack_empty_datagram_with_fd, true, "malformed");
}

END_TEST;

START_TEST (test_hostile_consumer_sending_a_frame_is_disconnected)
{
  run_hostile_consumer (attack_frame_from_consumer, true, "sent FRAME");
}

END_TEST;

START_TEST (test_hostile_consumer_saying_hello_twice_is_disconnected)
{
  run_hostile_consumer (attack_second_hello, true, "sent HELLO");
}

END_TEST;

START_TEST (test_hostile_consumer_releasing_before_hello_is_disconnected)
{
  run_hostile_consumer (attack_release_unheld, false, "before HELLO");
}

END_TEST;

START_TEST (test_hostile_consumer_sending_an_oversized_datagram_is_disconnected)
{
  run_hostile_consumer (attack_oversized, true, "malformed");
}

END_TEST;

START_TEST (test_hostile_consumer_sending_a_region_with_an_fd_is_disconnected)
{
  run_hostile_consumer (attack_region_with_fd, true, "REGION_ADD");
}

END_TEST;

START_TEST (test_unknown_message_from_a_consumer_is_skipped)
{
  static union zt_msg_buf buf;
  struct zcipc_wire_header future = { 99, sizeof future };
  struct zcipc_message msg;
  struct zcipc_client *legit;
  int fd;

  zt_producer_start (&prod, 4, 16);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  legit = zt_client_connect (prod.path, 4);
  ck_assert_int_eq (zcipc_socket_connect (prod.path, &fd), 0);
  /* Before and after the handshake: a newer consumer's message. */
  ck_assert_int_eq (zt_send_raw (fd, &future, sizeof future, NULL, 0), 0);
  ck_assert_int_eq (zt_raw_handshake (fd, 4), 4);
  ck_assert_int_eq (zt_send_raw (fd, &future, sizeof future, NULL, 0), 0);
  exchange_frame (legit, 1);
  ck_assert_int_eq (zt_recv_type (fd, ZCIPC_WIRE_FRAME, 5000, &buf, &msg), 0);
  ck_assert_uint_eq (msg.frame.info.pts, 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 2);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  close (fd);
  zcipc_client_unref (legit);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_rapid_connect_disconnect_cycles_leave_nothing_behind)
{
  struct zcipc_wire_hello hello;
  struct zcipc_client *legit;
  size_t n = zcipc_wire_init_hello (&hello, 2);
  int baseline;

  zt_producer_start (&prod, 4, 16);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  baseline = zt_count_fds ();
  for (int i = 0; i < 1000; i++) {
    int fd;

    ck_assert_int_eq (zcipc_socket_connect (prod.path, &fd), 0);
    if (i % 3 == 1)
      zt_send_raw (fd, &hello, n, NULL, 0);
    else if (i % 3 == 2)
      zt_send_raw (fd, "junk", 4, NULL, 0);
    close (fd);
  }
  ck_assert_msg (zt_wait_fd_count (baseline, 10000), "fds: %d, were %d",
      zt_count_fds (), baseline);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 0, 5000);

  /* The storm's last connections may still wait in the listen backlog
   * (no fd of ours yet) and take consumer slots for a moment when
   * accepted: like any consumer, retry while refused. */
  ck_assert_int_eq (zcipc_client_new (prod.path, 4, &legit), 0);
  ZT_ASSERT_EVENTUALLY (zcipc_client_connect (legit, 5000) == 0, 5000);
  exchange_frame (legit, 1);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);
  zcipc_client_unref (legit);
  ck_assert_msg (zt_wait_fd_count (baseline, 5000), "fds: %d, were %d",
      zt_count_fds (), baseline);
  zt_producer_stop (&prod);
}

END_TEST;

/* --- client region references -------------------------------------------- */

START_TEST (test_removed_region_stays_mapped_while_a_held_frame_points_into_it)
{
  struct zcipc_client_event ev, held;
  struct zcipc_client *c, *late;
  const uint8_t *region_data;
  int maps;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  zt_producer_send (&prod, 1, 100, 1000, 1, NULL);
  zt_client_next_frame (c, &held, 5000);
  region_data = held.frame.mems[0].region_data;
  ck_assert_uint_eq (zcipc_client_n_regions (c), 1);

  ck_assert_int_eq (zcipc_server_remove_region (prod.server, 1), 0);
  ck_assert_int_eq (zcipc_server_remove_region (prod.server, 1), -ENOENT);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 100), -EAGAIN);
  ck_assert_uint_eq (zcipc_client_n_regions (c), 1);
  ck_assert (zt_is_mapped (region_data));
  check_frame_data (&held);

  maps = zt_count_maps ();
  ck_assert_int_eq (zcipc_client_release (c, held.frame.info.seq), 0);
  ck_assert_uint_eq (zcipc_client_n_regions (c), 0);
  ck_assert (!zt_is_mapped (region_data));
  ck_assert_int_eq (zt_count_maps (), maps - 1);

  /* Without a held frame, a removal unmaps at once. */
  zt_producer_add_region (&prod, 2, REGION_SIZE);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 100), -EAGAIN);
  ck_assert_uint_eq (zcipc_client_n_regions (c), 1);
  ck_assert_int_eq (zcipc_server_remove_region (prod.server, 2), 0);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 100), -EAGAIN);
  ck_assert_uint_eq (zcipc_client_n_regions (c), 0);

  /* A removed region is no sticky state any more. */
  late = zt_client_connect (prod.path, 4);
  ck_assert_int_eq (zcipc_client_next (late, &ev, 50), -EAGAIN);
  ck_assert_uint_eq (zcipc_client_n_regions (late), 0);

  zcipc_client_unref (late);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_held_frame_outlives_disconnect_and_unref)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  int fds, maps;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  /* A first round lets malloc settle its arenas and thresholds, which show
   * in /proc/self/maps too. */
  c = zt_client_connect (prod.path, 4);
  exchange_frame (c, 0);
  zcipc_client_unref (c);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 0, 5000);
  fds = zt_count_fds ();
  maps = zt_count_maps ();

  c = zt_client_connect (prod.path, 4);
  zt_producer_send (&prod, 1, 0, REGION_SIZE, 1, NULL);
  zt_client_next_frame (c, &ev, 5000);
  zcipc_client_disconnect (c);
  zcipc_client_unref (c);       /* the frame keeps it */
  /* The producer keeps the slot for us: nothing released yet. */
  zt_sleep_ms (50);
  ck_assert_int_eq (atomic_load (&prod.releases), 1);
  check_frame_data (&ev);
  ck_assert_uint_eq (zcipc_client_n_regions (c), 1);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 2, 5000);
  ck_assert (zt_wait_fd_count (fds, 5000));
  ck_assert_int_eq (zt_count_maps (), maps);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_client_sees_the_producer_go_away_and_keeps_its_frame)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  zt_producer_send (&prod, 1, 0, 4096, 1, NULL);
  zt_client_next_frame (c, &ev, 5000);
  zt_producer_stop (&prod);     /* releases the hold, unmaps its side */
  ck_assert_int_eq (zcipc_client_next (c, &ev, 5000), -EPIPE);
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (c), "went away"));
  check_frame_data (&ev);
  /* Its regions stay until it disconnects (or reconnects). */
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  ck_assert_uint_eq (zcipc_client_n_regions (c), 1);
  zcipc_client_disconnect (c);
  ck_assert_uint_eq (zcipc_client_n_regions (c), 0);
  zcipc_client_unref (c);
}

END_TEST;

START_TEST (test_release_after_reconnect_does_not_disturb_the_new_connection)
{
  struct zcipc_client_event old, ev;
  struct zcipc_client *c;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  zt_producer_send (&prod, 1, 0, 64, 1, NULL);
  zt_client_next_frame (c, &old, 5000);
  zcipc_client_disconnect (c);
  /* Reconnecting closes the old connection, which gives its frame back. */
  ck_assert_int_eq (zcipc_client_connect (c, 5000), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);

  /* The old connection's frame goes back to nobody: the producer returned
   * it when that connection closed. */
  ck_assert_int_eq (zcipc_client_release (c, old.frame.info.seq), 0);
  exchange_frame (c, 2);
  exchange_frame (c, 3);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.holds) ==
      atomic_load (&prod.releases), 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 20), -EAGAIN);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_frame_held_across_reconnect_is_outside_the_new_quota)
{
  struct zcipc_client_event old, ev;
  struct zcipc_client *c;

  zt_producer_start (&prod, 1, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 1);
  zt_producer_send (&prod, 1, 0, 64, 1, NULL);
  zt_client_next_frame (c, &old, 5000);
  zcipc_client_disconnect (c);
  /* Reconnecting closes the old connection, which gives its frame back. */
  ck_assert_int_eq (zcipc_client_connect (c, 5000), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);
  ck_assert_uint_eq (zcipc_client_quota (c), 1);

  /* The new producer connection may send one frame: we hold none of its. */
  zt_producer_send (&prod, 1, 128, 64, 2, NULL);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_uint_eq (ev.frame.info.pts, 2);
  check_frame_data (&ev);
  check_frame_data (&old);
  ck_assert_int_eq (zcipc_client_release (c, old.frame.info.seq), 0);
  release_and_settle (c, ev.frame.info.seq);
  exchange_frame (c, 3);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* --- hostile producers ---------------------------------------------------- */

static struct zt_fake_producer fake = {.listen_fd = -1 };

static void
fake_setup (void)
{
  zt_fake_producer_listen (&fake);
}

static void
fake_teardown (void)
{
  zt_fake_producer_close (&fake);
}

/* A client connected to the fake producer; *pfd is the producer's end. */
static struct zcipc_client *
fake_connect (uint32_t max_held, uint32_t quota, int *pfd)
{
  struct zcipc_client *c;
  int res;

  ck_assert_int_eq (zcipc_client_new (fake.path, max_held, &c), 0);
  res = zt_fake_producer_connect (fake.listen_fd, c, quota, pfd);
  ck_assert_msg (res == 0, "connect: %s (%s)", zt_strerror (res),
      zcipc_client_reason (c));
  return c;
}

static void
fake_send_region (int pfd, uint32_t id, uint32_t flags, uint64_t size, int fd)
{
  struct zcipc_wire_region_add m;
  size_t n = zcipc_wire_init_region_add (&m, id, flags, size);
  ck_assert_int_eq (zt_send_raw (pfd, &m, n, &fd, 1), 0);
}

static void
fake_send_frame (int pfd, uint64_t seq, uint32_t region_id, uint64_t offset,
    uint64_t size)
{
  static union zt_msg_buf buf;
  size_t n = zt_build_frame (&buf, seq, region_id, offset, size);
  ck_assert_int_eq (zt_send_raw (pfd, buf.bytes, n, NULL, 0), 0);
}

/* A good region: a sealed memfd of `size` bytes. */
static void
fake_send_good_region (int pfd, uint32_t id, size_t size)
{
  int fd = zt_memfd (size, ZT_SEAL_SHRINK | ZT_SEAL_GROW | ZT_SEAL_SEAL);
  fake_send_region (pfd, id, ZCIPC_REGION_FLAG_MEMFD, size, fd);
  close (fd);
}

static void
expect_refusal (struct zcipc_client *c, const char *reason)
{
  struct zcipc_client_event ev;
  int res = zcipc_client_next (c, &ev, 5000);

  ck_assert_msg (res == -EPROTO, "next: %s, reason: %s", zt_strerror (res),
      zcipc_client_reason (c));
  ck_assert_msg (strstr (zcipc_client_reason (c), reason),
      "reason '%s' lacks '%s'", zcipc_client_reason (c), reason);
}

static void
fake_finish (struct zcipc_client *c, int pfd)
{
  zcipc_client_unref (c);
  close (pfd);
  ck_assert_msg (zt_wait_fd_count (fake.baseline_fds, 5000), "fds: %d, were %d",
      zt_count_fds (), fake.baseline_fds);
}

START_TEST (test_client_refuses_a_region_smaller_than_it_claims)
{
  int memfd = zt_memfd (4096, ZT_SEAL_SHRINK | ZT_SEAL_GROW | ZT_SEAL_SEAL);
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);
  int maps = zt_count_maps ();

  fake_send_region (pfd, 1, ZCIPC_REGION_FLAG_MEMFD, 1024 * 1024, memfd);
  close (memfd);
  expect_refusal (c, "region 1");
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (c), "smaller"));
  ck_assert_uint_eq (zcipc_client_n_regions (c), 0);
  ck_assert_int_eq (zt_count_maps (), maps);
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_refuses_an_unsealed_region)
{
  int memfd = zt_memfd (4 * 4096, 0);
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);

  fake_send_region (pfd, 1, ZCIPC_REGION_FLAG_MEMFD, 4 * 4096, memfd);
  fake_send_frame (pfd, 1, 1, 2 * 4096, 4096);
  /* What a hostile producer would do next: shrink it under the reader. */
  ck_assert_int_eq (ftruncate (memfd, 0), 0);
  expect_refusal (c, "region 1");
  ck_assert_uint_eq (zcipc_client_n_regions (c), 0);
  close (memfd);
  fake_finish (c, pfd);
}

END_TEST;

static void
check_memfd_lying_about_its_kind (uint32_t flags)
{
  int memfd = zt_memfd (4096, 0);
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);
  struct zcipc_client_event ev;
  int res;

  /* Called a DMABuf (or nothing), so no seal check is asked for, and
   * announced bigger than it is. */
  fake_send_region (pfd, 1, flags, 16 * 4096, memfd);
  fake_send_frame (pfd, 1, 1, 8 * 4096, 100);
  close (memfd);
  res = zcipc_client_next (c, &ev, 5000);
  if (res == 0 && ev.type == ZCIPC_CLIENT_FRAME) {
    /* Past the end of the memfd: this read raises SIGBUS. */
    volatile uint8_t byte = ev.frame.mems[0].data[0];
    (void) byte;
  }
  ck_assert_msg (res == -EPROTO, "next: %s", zt_strerror (res));
  ck_assert_uint_eq (zcipc_client_n_regions (c), 0);
  fake_finish (c, pfd);
}

START_TEST (test_client_refuses_an_unsealed_memfd_announced_as_a_dmabuf)
{
  check_memfd_lying_about_its_kind (ZCIPC_REGION_FLAG_DMABUF);
}

END_TEST;

START_TEST (test_client_refuses_an_unsealed_memfd_announced_without_flags)
{
  check_memfd_lying_about_its_kind (0);
}

END_TEST;

/* A plain file: neither sealed nor a DMABuf, whatever it is called. */
static void
check_regular_file_region (uint32_t flags)
{
  char path[256];
  struct zt_tmpdir dir;
  int file, pfd;
  struct zcipc_client *c;

  zt_tmpdir_make (&dir);
  zt_tmpdir_file (&dir, "region", path, sizeof path);
  file = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ck_assert_int_ge (file, 0);
  ck_assert_int_eq (ftruncate (file, 16 * 4096), 0);
  c = fake_connect (4, 4, &pfd);
  fake_send_region (pfd, 1, flags, 16 * 4096, file);
  fake_send_frame (pfd, 1, 1, 8 * 4096, 100);
  /* Shrunk under a mapping, a read of the frame would raise SIGBUS. */
  ck_assert_int_eq (ftruncate (file, 0), 0);
  expect_refusal (c, "a file that can shrink");
  ck_assert_uint_eq (zcipc_client_n_regions (c), 0);
  close (file);
  unlink (path);
  zt_tmpdir_remove (&dir);
  fake_finish (c, pfd);
}

START_TEST (test_client_refuses_a_regular_file_region_whatever_its_flags)
{
  check_regular_file_region (0);
  check_regular_file_region (ZCIPC_REGION_FLAG_DMABUF);
  check_regular_file_region (ZCIPC_REGION_FLAG_MEMFD);
}

END_TEST;

START_TEST (test_client_maps_a_region_at_its_first_frame_within_its_limit)
{
  struct zcipc_client_event ev;
  int pfd, maps;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);

  zcipc_client_set_map_limits (c, 8 * 4096, 4096);
  maps = zt_count_maps ();
  fake_send_good_region (pfd, 1, 4 * 4096);
  fake_send_good_region (pfd, 2, 4 * 4096);
  fake_send_good_region (pfd, 3, 4096);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 100), -EAGAIN);
  /* Announced, checked, not mapped. */
  ck_assert_uint_eq (zcipc_client_n_regions (c), 3);
  ck_assert_int_eq (zt_count_maps (), maps);
  ck_assert_uint_eq (zcipc_client_mapped_bytes (c), 0);
  fake_send_frame (pfd, 1, 1, 0, 16);
  fake_send_frame (pfd, 2, 2, 0, 16);
  zt_client_next_frame (c, &ev, 5000);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_uint_eq (zcipc_client_mapped_bytes (c), 8 * 4096);
  /* 4 KiB more would pass the limit. */
  fake_send_frame (pfd, 3, 3, 0, 16);
  expect_refusal (c, "more than the 32768 bytes its stream can need");
  ck_assert_int_eq (zcipc_client_release (c, 1), 0);
  ck_assert_int_eq (zcipc_client_release (c, 2), 0);
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_refuses_more_than_256_regions)
{
  int memfd = zt_memfd (4096, ZT_SEAL_SHRINK | ZT_SEAL_GROW | ZT_SEAL_SEAL);
  struct zcipc_client_event ev;
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);

  /* In batches the socket buffer takes, each read before the next. */
  for (uint32_t id = 1; id <= ZCIPC_CLIENT_MAX_REGIONS; id++) {
    fake_send_region (pfd, id, ZCIPC_REGION_FLAG_MEMFD, 4096, memfd);
    if (id % 32 == 0)
      ck_assert_int_eq (zcipc_client_next (c, &ev, 50), -EAGAIN);
  }
  ck_assert_uint_eq (zcipc_client_n_regions (c), ZCIPC_CLIENT_MAX_REGIONS);
  fake_send_region (pfd, ZCIPC_CLIENT_MAX_REGIONS + 1, ZCIPC_REGION_FLAG_MEMFD,
      4096, memfd);
  close (memfd);
  expect_refusal (c, "more than 256 regions");
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_keeps_only_producer_refusals_of_a_reject)
{
  static const int kept[] = { -EACCES, -EUSERS, -EPROTONOSUPPORT };
  static const int mapped[] = { -ECANCELED, -ECONNRESET, -ETIMEDOUT, -ENOENT,
    -12345
  };

  for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
    struct zcipc_client *c;

    ck_assert_int_eq (zcipc_client_new (fake.path, 2, &c), 0);
    ck_assert_int_eq (zt_fake_producer_refuse (fake.listen_fd, c, kept[i],
            "no"), kept[i]);
    zcipc_client_unref (c);
  }
  for (size_t i = 0; i < sizeof mapped / sizeof mapped[0]; i++) {
    struct zcipc_client *c;

    ck_assert_int_eq (zcipc_client_new (fake.path, 2, &c), 0);
    ck_assert_int_eq (zt_fake_producer_refuse (fake.listen_fd, c, mapped[i],
            "chosen\x1b[31m"), -EPROTO);
    ck_assert_ptr_nonnull (strstr (zcipc_client_reason (c), "chosen?[31m"));
    zcipc_client_unref (c);
  }
  ck_assert (zt_wait_fd_count (fake.baseline_fds, 5000));
}

END_TEST;

START_TEST (test_client_reports_running_out_of_fds_as_its_own)
{
  int memfd = zt_memfd (4096, ZT_SEAL_SHRINK | ZT_SEAL_GROW | ZT_SEAL_SEAL);
  struct zcipc_client_event ev;
  struct rlimit old, low;
  int pfd, res;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);

  int highest = 0;

  ck_assert_int_eq (getrlimit (RLIMIT_NOFILE, &old), 0);
  for (int fd = 0; fd < 4096; fd++)
    if (fcntl (fd, F_GETFD) >= 0)
      highest = fd;
  /* Room for a few fds, which the filler below takes: none is left for
   * the region's. */
  low = old;
  low.rlim_cur = (rlim_t) highest + 8;
  fake_send_region (pfd, 1, ZCIPC_REGION_FLAG_MEMFD, 4096, memfd);
  close (memfd);
  {
    int fill[1024], n = 0, fd;

    ck_assert_int_eq (setrlimit (RLIMIT_NOFILE, &low), 0);
    while (n < 1024 && (fd = open ("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
      fill[n++] = fd;
    res = zcipc_client_next (c, &ev, 5000);
    while (n > 0)
      close (fill[--n]);
    ck_assert_int_eq (setrlimit (RLIMIT_NOFILE, &old), 0);
  }
  ck_assert_msg (res == -EMFILE, "next: %s (%s)", zt_strerror (res),
      zcipc_client_reason (c));
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (c),
          "this process ran out of file descriptors"));
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_refuses_a_frame_outside_its_region)
{
  static const uint64_t cases[][2] = {
    {3 * 4096, 2 * 4096},       /* runs past the end */
    {4 * 4096, 1},              /* starts at the end */
    {0, 4 * 4096 + 1},          /* one byte too long */
    {1ull << 63, 4096},         /* far away */
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int pfd;
    struct zcipc_client *c = fake_connect (4, 4, &pfd);

    fake_send_good_region (pfd, 1, 4 * 4096);
    fake_send_frame (pfd, 1, 1, cases[i][0], cases[i][1]);
    expect_refusal (c, "outside region 1");
    fake_finish (c, pfd);
  }
}

END_TEST;

START_TEST (test_client_accepts_a_frame_covering_its_whole_region)
{
  struct zcipc_client_event ev;
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);

  fake_send_good_region (pfd, 1, 4 * 4096);
  fake_send_frame (pfd, 1, 1, 0, 4 * 4096);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_uint_eq (ev.frame.mems[0].size, 4 * 4096);
  ck_assert_uint_eq (ev.frame.mems[0].data[4 * 4096 - 1], 0);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_refuses_a_frame_in_an_unknown_region)
{
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);

  fake_send_good_region (pfd, 1, 4096);
  fake_send_frame (pfd, 1, 2, 0, 16);
  expect_refusal (c, "unknown region 2");
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_refuses_frames_beyond_its_quota)
{
  struct zcipc_client_event ev[2];
  int pfd;
  struct zcipc_client *c = fake_connect (4, 2, &pfd);

  ck_assert_uint_eq (zcipc_client_quota (c), 2);
  fake_send_good_region (pfd, 1, 4096);
  fake_send_frame (pfd, 1, 1, 0, 16);
  fake_send_frame (pfd, 2, 1, 16, 16);
  fake_send_frame (pfd, 3, 1, 32, 16);
  zt_client_next_frame (c, &ev[0], 5000);
  zt_client_next_frame (c, &ev[1], 5000);
  expect_refusal (c, "more frames than the 2 granted");
  ck_assert_int_eq (zcipc_client_release (c, 1), 0);
  ck_assert_int_eq (zcipc_client_release (c, 2), 0);
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_refuses_a_grant_it_did_not_ask_for)
{
  static union zt_msg_buf buf;
  int pfd;
  struct zcipc_client *c = fake_connect (4, 2, &pfd);
  size_t n = zcipc_wire_init_grant ((struct zcipc_wire_grant *) buf.bytes, 5);

  ck_assert_int_eq (zt_send_raw (pfd, buf.bytes, n, NULL, 0), 0);
  expect_refusal (c, "granted 5 held frames");
  fake_finish (c, pfd);

  /* Nor one that shrinks what it granted. */
  c = fake_connect (4, 3, &pfd);
  n = zcipc_wire_init_grant ((struct zcipc_wire_grant *) buf.bytes, 2);
  ck_assert_int_eq (zt_send_raw (pfd, buf.bytes, n, NULL, 0), 0);
  expect_refusal (c, "granted 2 held frames");
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_refuses_the_same_frame_twice)
{
  struct zcipc_client_event ev;
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);

  fake_send_good_region (pfd, 1, 4096);
  fake_send_frame (pfd, 5, 1, 0, 16);
  fake_send_frame (pfd, 5, 1, 0, 16);
  zt_client_next_frame (c, &ev, 5000);
  expect_refusal (c, "twice");
  ck_assert_int_eq (zcipc_client_release (c, 5), 0);
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_refuses_a_quota_above_what_it_asked)
{
  struct zcipc_client *c;
  int pfd;

  ck_assert_int_eq (zcipc_client_new (fake.path, 2, &c), 0);
  ck_assert_int_eq (zt_fake_producer_connect (fake.listen_fd, c, 3, &pfd),
      -EPROTO);
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (c), "2 asked"));
  ck_assert_int_eq (pfd, -1);
  zcipc_client_unref (c);
  ck_assert (zt_wait_fd_count (fake.baseline_fds, 5000));
}

END_TEST;

START_TEST (test_client_refuses_an_fd_on_a_message_without_fds)
{
  struct zcipc_wire_event m;
  int memfd = zt_memfd (4096, 0);
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);
  size_t n = zcipc_wire_init_event (&m, 1, 0);

  ck_assert_int_eq (zt_send_raw (pfd, &m, n, &memfd, 1), 0);
  close (memfd);
  expect_refusal (c, "malformed EVENT");
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_refuses_messages_only_consumers_send)
{
  static union zt_msg_buf buf;
  uint64_t seq = 1;
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);
  size_t n = zt_build_release (&buf, &seq, 1);

  ck_assert_int_eq (zt_send_raw (pfd, buf.bytes, n, NULL, 0), 0);
  expect_refusal (c, "RELEASE");
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_refuses_an_empty_datagram_with_an_fd)
{
  int memfd = zt_memfd (4096, 0);
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);

  ck_assert_int_eq (zt_send_raw (pfd, "", 0, &memfd, 1), 0);
  close (memfd);
  expect_refusal (c, "malformed");
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_skips_unknown_message_types)
{
  struct zcipc_wire_header future = { 99, sizeof future };
  struct zcipc_wire_event m;
  struct zcipc_client_event ev;
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);
  size_t n = zcipc_wire_init_event (&m, 77, 0);

  ck_assert_int_eq (zt_send_raw (pfd, &future, sizeof future, NULL, 0), 0);
  ck_assert_int_eq (zt_send_raw (pfd, &m, n, NULL, 0), 0);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 5000), 0);
  ck_assert_int_eq (ev.type, ZCIPC_CLIENT_EVENT);
  ck_assert_uint_eq (ev.event.kind, 77);
  fake_finish (c, pfd);
}

END_TEST;

START_TEST (test_client_sees_a_hang_up_as_epipe)
{
  struct zcipc_client_event ev;
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);

  close (pfd);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 5000), -EPIPE);
  zcipc_client_unref (c);
  ck_assert (zt_wait_fd_count (fake.baseline_fds, 5000));
}

END_TEST;

START_TEST (test_client_reads_what_was_queued_before_the_producer_hung_up)
{
  static union zt_msg_buf buf;
  struct zcipc_wire_event m;
  struct zcipc_client_event ev;
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);
  size_t n = zcipc_wire_init_event (&m, 5, 3);

  fake_send_good_region (pfd, 1, 4096);
  fake_send_frame (pfd, 1, 1, 0, 16);
  zt_client_next_frame (c, &ev, 5000);
  /* Our RELEASE stays unread when the producer closes, which makes the
   * kernel report a reset ahead of the EOS still queued for us. */
  ck_assert_int_eq (zcipc_client_release (c, 1), 0);
  memcpy (buf.bytes, &m, n);
  memcpy (buf.bytes + n, "eos", 3);
  ck_assert_int_eq (zt_send_raw (pfd, buf.bytes, n + 3, NULL, 0), 0);
  close (pfd);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 5000), 0);
  ck_assert_int_eq (ev.type, ZCIPC_CLIENT_EVENT);
  ck_assert_uint_eq (ev.event.kind, 5);
  ck_assert_mem_eq (ev.event.payload, "eos", 3);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 5000), -EPIPE);
  zcipc_client_unref (c);
  ck_assert (zt_wait_fd_count (fake.baseline_fds, 5000));
}

END_TEST;

START_TEST (test_client_gets_the_reason_of_a_producer_that_refuses_it_unread)
{
  struct zcipc_client *c;

  /* The producer answers with a REJECT and closes with our HELLO unread. */
  ck_assert_int_eq (zcipc_client_new (fake.path, 2, &c), 0);
  ck_assert_int_eq (zt_fake_producer_refuse (fake.listen_fd, c, -EACCES,
          "go away"), -EACCES);
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (c), "go away"));
  zcipc_client_unref (c);
  ck_assert (zt_wait_fd_count (fake.baseline_fds, 5000));
}

END_TEST;

START_TEST (test_client_next_can_be_interrupted)
{
  struct zcipc_client_event ev;
  int pfd;
  struct zcipc_client *c = fake_connect (4, 4, &pfd);

  ck_assert_int_eq (zcipc_client_next (c, &ev, 10), -EAGAIN);
  zcipc_client_set_interrupted (c, true);
  ck_assert_int_eq (zcipc_client_next (c, &ev, -1), -ECANCELED);
  zcipc_client_set_interrupted (c, false);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 10), -EAGAIN);
  fake_finish (c, pfd);
}

END_TEST;

/* --- monitors (the stats protocol) --------------------------------------- */

static struct zcipc_stats_stream *
stats_new (void)
{
  struct zcipc_stats_stream *st = calloc (1, sizeof *st);
  ck_assert_ptr_nonnull (st);
  return st;
}

static int
open_monitor (void)
{
  int fd = -1;
  ck_assert_int_eq (zcipc_stats_open (prod.path, 5000, &fd), 0);
  return fd;
}

START_TEST (test_monitor_does_not_count_against_max_consumers)
{
  struct zcipc_stats_stream *st = stats_new ();
  struct zcipc_client *a, *b;
  int mon;

  zt_producer_start (&prod, 4, 1);
  mon = open_monitor ();
  ck_assert_int_eq (zcipc_stats_request (mon, 5000, st), 0);
  ck_assert_uint_eq (st->n_consumers, 0);
  ck_assert_uint_eq (st->n_monitors, 1);
  ck_assert_uint_eq (st->max_consumers, 1);
  /* The one consumer place is still free, and then taken. */
  a = zt_client_connect (prod.path, 2);
  ck_assert_int_eq (zcipc_client_new (prod.path, 2, &b), 0);
  ck_assert_int_eq (zcipc_client_connect (b, 5000), -EUSERS);
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (b), "too many"));
  /* The monitor goes on, on the same connection, and sees it. */
  ck_assert_int_eq (zcipc_stats_request (mon, 5000, st), 0);
  ck_assert_uint_eq (st->n_consumers, 1);
  ck_assert_uint_eq (st->consumers[0].consumer_id,
      zcipc_client_consumer_id (a));
  /* And a monitor still joins with the consumer place taken. */
  ck_assert_int_eq (zcipc_stats_query (prod.path, 5000, st), 0);
  ck_assert_uint_eq (st->n_monitors, 2);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_joined, 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  close (mon);
  zcipc_client_unref (b);
  zcipc_client_unref (a);
  zt_producer_stop (&prod);
  free (st);
}

END_TEST;

START_TEST (test_ninth_monitor_is_refused_and_the_eight_go_on)
{
  struct zcipc_stats_stream *st = stats_new ();
  int mons[ZCIPC_SERVER_MAX_MONITORS], extra;
  struct zcipc_client *c;

  zt_producer_start (&prod, 4, 2);
  for (unsigned int i = 0; i < ZCIPC_SERVER_MAX_MONITORS; i++) {
    mons[i] = open_monitor ();
    ck_assert_int_eq (zcipc_stats_request (mons[i], 5000, st), 0);
    ck_assert_uint_eq (st->n_monitors, i + 1);
  }
  extra = open_monitor ();
  ck_assert_int_eq (zcipc_stats_request (extra, 5000, st), -EUSERS);
  ck_assert (zt_wait_hang_up (extra, 5000));
  close (extra);
  ZT_ASSERT_EVENTUALLY (zt_producer_logged (&prod, "too many monitors"), 5000);
  /* Consumers are not crowded out by monitors. */
  c = zt_client_connect (prod.path, 2);
  for (unsigned int i = 0; i < ZCIPC_SERVER_MAX_MONITORS; i++) {
    ck_assert_int_eq (zcipc_stats_request (mons[i], 5000, st), 0);
    ck_assert_uint_eq (st->n_consumers, 1);
  }
  /* One gone makes room for another. */
  close (mons[0]);
  ZT_ASSERT_EVENTUALLY (zcipc_stats_request (mons[1], 5000, st) == 0 &&
      st->n_monitors == ZCIPC_SERVER_MAX_MONITORS - 1, 5000);
  mons[0] = open_monitor ();
  ck_assert_int_eq (zcipc_stats_request (mons[0], 5000, st), 0);
  for (unsigned int i = 0; i < ZCIPC_SERVER_MAX_MONITORS; i++)
    close (mons[i]);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
  free (st);
}

END_TEST;

START_TEST (test_stats_reply_lists_two_consumers_with_their_counters)
{
  struct zcipc_stats_stream *st = stats_new ();
  struct zcipc_client *a, *b;
  struct zcipc_client_event ev;
  const struct zcipc_stats_consumer *ca = NULL, *cb = NULL;
  uint64_t held_seq, b_seq;
  int64_t before;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  ck_assert_int_eq (zcipc_stats_query (prod.path, 5000, st), 0);
  ck_assert_str_eq (st->caps, "");
  ck_assert_int_eq (zcipc_server_set_caps_string (prod.server,
          "video/x-raw, format=(string)RGBA, width=(int)64"), 0);
  a = zt_client_connect (prod.path, 2);
  b = zt_client_connect (prod.path, 1);
  /* a keeps one frame and lets one go; b misses the second (its quota
   * is 1 and it holds the first). */
  zt_producer_send (&prod, 1, 0, 512, 1000, NULL);
  zt_client_next_frame (a, &ev, 5000);
  held_seq = ev.frame.info.seq;
  zt_client_next_frame (b, &ev, 5000);
  b_seq = ev.frame.info.seq;
  zt_producer_send (&prod, 1, 4096, 512, 2000, NULL);
  zt_client_next_frame (a, &ev, 5000);
  release_and_settle (a, ev.frame.info.seq);
  /* What only a knows. */
  ck_assert_int_eq (zcipc_client_send_report (a, 7, 1500000), 0);
  ZT_ASSERT_EVENTUALLY (zcipc_stats_query (prod.path, 5000, st) == 0 &&
      st->n_consumers == 2 && (st->consumers[0].flags |
          st->consumers[1].flags) & ZCIPC_STATS_CONSUMER_REPORTED, 5000);

  before = zcipc_now_ns ();
  ck_assert_int_eq (zcipc_stats_query (prod.path, 5000, st), 0);
  ck_assert_uint_eq (st->version, ZCIPC_STATS_VERSION);
  ck_assert_int_eq (st->pid, getpid ());
  ck_assert_uint_eq (st->uid, geteuid ());
  ck_assert_str_eq (st->caps,
      "video/x-raw, format=(string)RGBA, width=(int)64");
  ck_assert_uint_eq (st->flags, 0);
  ck_assert_uint_eq (st->frames_sent, 2);
  ck_assert_uint_eq (st->quota, 4);
  ck_assert_uint_eq (st->max_consumers, 8);
  ck_assert_int_ge (st->monotonic_ns, before);
  ck_assert_int_gt (st->last_frame_ns, 0);
  ck_assert_int_le (st->last_frame_ns, st->monotonic_ns);
  ck_assert_int_le (st->monotonic_ns, zcipc_now_ns ());
  for (unsigned int i = 0; i < st->n_consumers; i++) {
    if (st->consumers[i].consumer_id == zcipc_client_consumer_id (a))
      ca = &st->consumers[i];
    if (st->consumers[i].consumer_id == zcipc_client_consumer_id (b))
      cb = &st->consumers[i];
  }
  ck_assert_ptr_nonnull (ca);
  ck_assert_ptr_nonnull (cb);
  ck_assert_int_eq (ca->pid, getpid ());
  ck_assert_uint_eq (ca->uid, geteuid ());
  ck_assert_uint_eq (ca->quota, 2);
  ck_assert_uint_eq (ca->held, 1);
  ck_assert_uint_eq (ca->frames_sent, 2);
  ck_assert_uint_eq (ca->frames_dropped, 0);
  ck_assert (ca->flags & ZCIPC_STATS_CONSUMER_REPORTED);
  ck_assert_uint_eq (ca->frames_copied, 7);
  ck_assert_int_eq (ca->lag_ns, 1500000);
  ck_assert_uint_eq (cb->quota, 1);
  ck_assert_uint_eq (cb->held, 1);
  ck_assert_uint_eq (cb->frames_sent, 1);
  ck_assert_uint_eq (cb->frames_dropped, 1);
  /* b never reported: unknown, not zero. */
  ck_assert (!(cb->flags & ZCIPC_STATS_CONSUMER_REPORTED));
  ck_assert_int_eq (cb->lag_ns, -1);
  ck_assert_int_eq (zcipc_client_release (a, held_seq), 0);
  ck_assert_int_eq (zcipc_client_release (b, b_seq), 0);
  zcipc_client_unref (a);
  zcipc_client_unref (b);
  zt_producer_stop (&prod);
  free (st);
}

END_TEST;

START_TEST (test_long_caps_are_cut_at_a_structure_and_flagged)
{
  struct zcipc_stats_stream *st = stats_new ();
  static char caps[3 * ZCIPC_WIRE_STATS_CAPS_MAX];
  size_t len = 0;
  unsigned int n = 0;

  zt_producer_start (&prod, 4, 8);
  while (len < sizeof caps - 64) {
    len += (size_t) snprintf (caps + len, sizeof caps - len,
        "%svideo/x-raw, width=(int)%u", n ? "; " : "", n);
    n++;
  }
  ck_assert_int_eq (zcipc_server_set_caps_string (prod.server, caps), 0);
  ck_assert_int_eq (zcipc_stats_query (prod.path, 5000, st), 0);
  ck_assert_uint_eq (st->flags, ZCIPC_STATS_FLAG_CAPS_TRUNCATED);
  len = strlen (st->caps);
  ck_assert_uint_le (len, ZCIPC_WIRE_STATS_CAPS_MAX);
  ck_assert_uint_gt (len, ZCIPC_WIRE_STATS_CAPS_MAX - 64);
  /* A prefix of whole structures: what follows it in the original is the
   * separator. */
  ck_assert (memcmp (st->caps, caps, len) == 0);
  ck_assert (memcmp (caps + len, "; ", 2) == 0);
  /* Short caps again: not flagged. */
  ck_assert_int_eq (zcipc_server_set_caps_string (prod.server, "audio/x-raw"),
      0);
  ck_assert_int_eq (zcipc_stats_query (prod.path, 5000, st), 0);
  ck_assert_uint_eq (st->flags, 0);
  ck_assert_str_eq (st->caps, "audio/x-raw");
  zt_producer_stop (&prod);
  free (st);
}

END_TEST;

START_TEST (test_malformed_stats_request_closes_only_that_connection)
{
  struct zcipc_stats_stream *st = stats_new ();
  struct zcipc_wire_stats_request req;
  struct zcipc_client *c;
  size_t n;
  int good, bad;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 2);
  good = open_monitor ();
  ck_assert_int_eq (zcipc_stats_request (good, 5000, st), 0);
  /* A monitor whose second request is cut short. */
  bad = open_monitor ();
  ck_assert_int_eq (zcipc_stats_request (bad, 5000, st), 0);
  n = zcipc_wire_init_stats_request (&req);
  req.header.size = (uint32_t) n - 4;
  ck_assert_int_eq (zt_send_raw (bad, &req, n - 4, NULL, 0), 0);
  ck_assert (zt_wait_hang_up (bad, 5000));
  close (bad);
  ZT_ASSERT_EVENTUALLY (zt_producer_logged (&prod, "malformed STATS_REQUEST"),
      5000);
  /* A monitor may not send what consumers send. */
  bad = open_monitor ();
  ck_assert_int_eq (zcipc_stats_request (bad, 5000, st), 0);
  {
    struct zcipc_wire_leave leave;
    ck_assert_int_eq (zt_send_raw (bad, &leave,
            zcipc_wire_init_leave (&leave), NULL, 0), 0);
  }
  ck_assert (zt_wait_hang_up (bad, 5000));
  close (bad);
  ZT_ASSERT_EVENTUALLY (zt_producer_logged (&prod,
          "which monitors may not send"), 5000);
  /* Monitors are not consumers: neither counts as a dropped one. */
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  /* And a connection whose first message is a garbled STATS_REQUEST. */
  ck_assert_int_eq (zcipc_socket_connect (prod.path, &bad), 0);
  ck_assert_int_eq (zt_send_raw (bad, "\x0f\0\0\0\x0c\0\0\0garb", 12, NULL,
          0), 0);
  ck_assert (zt_wait_hang_up (bad, 5000));
  close (bad);
  /* The others go on. */
  exchange_frame (c, 1000);
  ck_assert_int_eq (zcipc_stats_request (good, 5000, st), 0);
  ck_assert_uint_eq (st->n_consumers, 1);
  ck_assert_uint_eq (st->n_monitors, 1);
  close (good);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
  free (st);
}

END_TEST;

START_TEST (test_unknown_stats_version_gets_a_reject_naming_both)
{
  struct zcipc_wire_stats_request req;
  static union zt_msg_buf buf;
  struct zcipc_message msg;
  struct zcipc_client *c;
  size_t n;
  int fd;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 2);
  ck_assert_int_eq (zcipc_socket_connect (prod.path, &fd), 0);
  n = zcipc_wire_init_stats_request (&req);
  req.version = 99;
  ck_assert_int_eq (zt_send_raw (fd, &req, n, NULL, 0), 0);
  ck_assert_int_eq (zt_recv_type (fd, ZCIPC_WIRE_REJECT, 5000, &buf, &msg), 0);
  ck_assert_int_eq (msg.reject.error, -EPROTONOSUPPORT);
  ck_assert_msg (strstr (msg.reject.reason, "version 99") &&
      strstr (msg.reject.reason, "version 1"), "reason: %s", msg.reject.reason);
  ck_assert (zt_wait_hang_up (fd, 5000));
  close (fd);
  exchange_frame (c, 1000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 1);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_consumer_report_before_hello_or_malformed_is_refused)
{
  struct zcipc_wire_report rep;
  struct zcipc_client *c;
  size_t n = zcipc_wire_init_report (&rep, 1, 1);
  int fd;

  zt_producer_start (&prod, 4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 2);
  ck_assert_int_eq (zcipc_socket_connect (prod.path, &fd), 0);
  ck_assert_int_eq (zt_send_raw (fd, &rep, n, NULL, 0), 0);
  ck_assert (zt_wait_hang_up (fd, 5000));
  close (fd);
  ZT_ASSERT_EVENTUALLY (zt_producer_logged (&prod, "sent REPORT before HELLO"),
      5000);
  ck_assert_int_eq (zcipc_socket_connect (prod.path, &fd), 0);
  ck_assert_int_eq (zt_raw_handshake (fd, 2), 2);
  rep.lag_ns = -7;
  ck_assert_int_eq (zt_send_raw (fd, &rep, n, NULL, 0), 0);
  ck_assert (zt_wait_hang_up (fd, 5000));
  close (fd);
  ZT_ASSERT_EVENTUALLY (zt_producer_logged (&prod, "malformed REPORT"), 5000);
  exchange_frame (c, 1000);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;


/* --- issue 15, classes 8-11: hostile consumers ---------------------------- */

static int
raw_connect (void)
{
  int fd = -1;
  ck_assert_int_eq (zcipc_socket_connect (prod.path, &fd), 0);
  return fd;
}

START_TEST (test_a_connection_without_hello_is_closed_at_the_handshake_deadline)
{
  int64_t t0;
  int fd;

  zt_producer_start (&prod, 4, 8);
  t0 = zt_now_ms ();
  fd = raw_connect ();
  ck_assert (zt_wait_hang_up (fd, ZCIPC_SERVER_HANDSHAKE_TIMEOUT_NS /
          1000000 + 3000));
  ck_assert_int_ge (zt_now_ms () - t0,
      ZCIPC_SERVER_HANDSHAKE_TIMEOUT_NS / 1000000 - 100);
  ZT_ASSERT_EVENTUALLY (zt_producer_logged (&prod, "did not say HELLO"), 2000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  close (fd);
  zt_producer_stop (&prod);
}

END_TEST;

/* Handshakes in progress are bounded on their own and a new connection
 * closes the oldest: silent connections neither pile up nor keep out a
 * consumer that says HELLO. */
START_TEST
    (test_the_oldest_handshake_makes_room_and_silent_ones_lock_no_one_out) {
  int fds[ZCIPC_SERVER_MAX_HANDSHAKES + 8];
  struct zcipc_client *c;
  unsigned int n = ZCIPC_SERVER_MAX_HANDSHAKES + 8;

  zt_producer_start (&prod, 4, 1);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  for (unsigned int i = 0; i < n; i++) {
    fds[i] = raw_connect ();
    zt_sleep_ms (2);            /* in order of age */
  }
  /* The 8 oldest made room, long before the deadline. */
  for (unsigned int i = 0; i < 8; i++)
    ck_assert (zt_wait_hang_up (fds[i], 1000));
  ck_assert_int_eq (zt_poll_in (fds[n - 1], 0), 0);
  c = zt_client_connect (prod.path, 2);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 1);
  exchange_frame (c, 1);
  for (unsigned int i = 0; i < n; i++)
    close (fds[i]);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_one_process_holds_all_consumer_places_but_one)
{
  struct zcipc_client *a, *b, *third;

  zt_producer_start (&prod, 4, 3);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  a = zt_client_connect (prod.path, 2);
  b = zt_client_connect (prod.path, 2);
  ck_assert_int_eq (zcipc_client_new (prod.path, 2, &third), 0);
  ck_assert_int_eq (zcipc_client_connect (third, 5000), -EUSERS);
  ck_assert_ptr_nonnull (strstr (zcipc_client_reason (third),
          "too many consumers from process"));
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 2);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  zcipc_client_unref (third);
  zcipc_client_unref (b);
  zcipc_client_unref (a);
  zt_producer_stop (&prod);
}

END_TEST;

/* With one place, its one consumer still gets it. */
START_TEST (test_a_single_consumer_place_is_anyones)
{
  struct zcipc_client *a;

  zt_producer_start (&prod, 4, 1);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  a = zt_client_connect (prod.path, 2);
  exchange_frame (a, 1);
  zcipc_client_unref (a);
  zt_producer_stop (&prod);
}

END_TEST;


/* A child that becomes uid/gid 65534, waits for a byte on `go`, connects to
 * `name` and writes back 'o' (admitted), 'u' (refused for its uid's share)
 * or 'x' (anything else); then holds on until SIGKILL. Forked before any
 * thread exists. */
static pid_t
fork_foreign_consumer (const char *name, int *go_fd, int *result_fd)
{
  int go[2], result[2];
  pid_t child;

  ck_assert_int_eq (pipe2 (go, O_CLOEXEC), 0);
  ck_assert_int_eq (pipe2 (result, O_CLOEXEC), 0);
  child = fork ();
  ck_assert_int_ge (child, 0);
  if (child == 0) {
    struct zcipc_client *c;
    char byte, answer = 'x';
    int res;

    if (setresgid (65534, 65534, 65534) < 0 ||
        setresuid (65534, 65534, 65534) < 0 || read (go[0], &byte, 1) != 1)
      _exit (1);
    if (zcipc_client_new (name, 2, &c) == 0) {
      res = zcipc_client_connect (c, 5000);
      if (res == 0)
        answer = 'o';
      else if (res == -EUSERS && strstr (zcipc_client_reason (c),
              "too many consumers from uid 65534"))
        answer = 'u';
    }
    if (write (result[1], &answer, 1) != 1)
      _exit (2);
    pause ();
    _exit (3);
  }
  close (go[0]);
  close (result[1]);
  *go_fd = go[1];
  *result_fd = result[0];
  return child;
}

/* One uid other than the producer's cannot take every place, whatever its
 * number of processes; the producer's own uid still gets the last one. */
START_TEST (test_a_foreign_uid_holds_all_consumer_places_but_one)
{
  struct zcipc_server_config config = {.quota = 4,.max_consumers = 3 };
  int go[3], result[3];
  pid_t children[3];
  char name[64], answers[4] = { 0 };
  struct zcipc_client *mine;

  if (geteuid () != 0)
    return;                     /* needs to become another uid */
  snprintf (name, sizeof name, "@zt-uid-share-%d", (int) getpid ());
  for (int i = 0; i < 3; i++)
    children[i] = fork_foreign_consumer (name, &go[i], &result[i]);
  config.path = name;
  zt_producer_start_full (&prod, &config);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  for (int i = 0; i < 3; i++) {
    ck_assert_int_eq (write (go[i], "g", 1), 1);
    ck_assert_int_eq (read (result[i], &answers[i], 1), 1);
  }
  ck_assert_str_eq (answers, "oou");
  mine = zt_client_connect (name, 2);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 3);
  for (int i = 0; i < 3; i++) {
    kill_and_reap (children[i]);
    close (go[i]);
    close (result[i]);
  }
  zcipc_client_unref (mine);
  zt_producer_stop (&prod);
}

END_TEST;

static double
cpu_seconds (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
      (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int
count_log_lines (const char *text)
{
  int n = 0;
  pthread_mutex_lock (&prod.log_lock);
  for (const char *p = prod.log; (p = strstr (p, text)); p++)
    n++;
  pthread_mutex_unlock (&prod.log_lock);
  return n;
}

/* Out of fds, accept() fails and leaves the connection pending: the server
 * must neither spin on the readable listening socket nor log each try. */
START_TEST (test_accept_failures_back_off_and_are_logged_once)
{
  struct rlimit old, low;
  int pending = -1, spare[64], n_spare = 0, highest = 0;
  double cpu;

  zt_producer_start (&prod, 4, 8);
  ck_assert_int_eq (getrlimit (RLIMIT_NOFILE, &old), 0);
  /* Every fd number up to the limit taken, so accept() has none left; our
   * connect's socket takes the one we close. (No zt_count_fds() below: it
   * needs an fd too.) */
  while (n_spare < 64 && (spare[n_spare] = dup (0)) >= 0) {
    if (spare[n_spare] > highest)
      highest = spare[n_spare];
    n_spare++;
  }
  low = old;
  low.rlim_cur = (rlim_t) highest + 1;
  ck_assert_int_eq (setrlimit (RLIMIT_NOFILE, &low), 0);
  close (spare[--n_spare]);
  pending = raw_connect ();
  ZT_ASSERT_EVENTUALLY (count_log_lines ("accept failed") == 1, 2000);
  cpu = cpu_seconds ();
  zt_sleep_ms (1000);
  cpu = cpu_seconds () - cpu;
  ck_assert_msg (cpu < 0.3, "%.2f s of CPU in 1 s while out of fds", cpu);
  ck_assert_int_eq (count_log_lines ("accept failed"), 1);
  /* Fds back: the pending connection is taken within the back-off. */
  while (n_spare)
    close (spare[--n_spare]);
  ck_assert_int_eq (setrlimit (RLIMIT_NOFILE, &old), 0);
  ck_assert_int_eq (zt_raw_handshake (pending, 2), 2);
  close (pending);
  zt_producer_stop (&prod);
}

END_TEST;

/* Cut off for the wait timeout, a consumer that comes straight back is
 * not waited for: wait_room() returns though it sits at its quota. */
START_TEST (test_a_consumer_rejoining_after_a_cut_off_is_not_waited_for)
{
  struct zcipc_client *stuck, *again;
  int64_t t0;

  zt_producer_start (&prod, 8, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  stuck = zt_client_connect (prod.path, 2);
  zt_producer_send (&prod, 1, 0, 64, 1, NULL);
  zt_producer_send (&prod, 1, 0, 64, 2, NULL);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).held == 2, 5000);
  ck_assert_int_eq (zcipc_server_wait_room (prod.server, 100 * 1000000ll), 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 1);
  zcipc_client_unref (stuck);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).held == 0, 5000);

  again = zt_client_connect (prod.path, 2);
  zt_producer_send (&prod, 1, 0, 64, 3, NULL);
  zt_producer_send (&prod, 1, 0, 64, 4, NULL);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).held == 2, 5000);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_server_wait_room (prod.server, 1000 * 1000000ll), 0);
  ck_assert_int_lt (zt_now_ms () - t0, 500);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 1);
  ck_assert (zt_producer_logged (&prod, "not waited for"));
  /* It still gets the frames it has room for. */
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 1);
  zcipc_client_unref (again);
  zt_producer_stop (&prod);
}

END_TEST;

/* A consumer that said LEAVE keeps what it holds only so long: then the
 * producer retires the frames (the callback promised never to reuse their
 * memory), releases them and closes the connection; the pinner still
 * reads them through its mapping. */
START_TEST (test_frames_pinned_after_leave_are_retired_after_the_pin_timeout)
{
  struct zcipc_server_config config = {
    .quota = 4,.max_consumers = 8,.pin_timeout_ns = 300 * 1000000ll,
  };
  struct zcipc_client_event ev[2];
  struct zcipc_client *c;
  int64_t t0;

  zt_producer_start_full (&prod, &config);
  atomic_store (&prod.retire_ok, true);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  for (int i = 0; i < 2; i++) {
    zt_producer_send (&prod, 1, 0, 100, (uint64_t) i, NULL);
    zt_client_next_frame (c, &ev[i], 5000);
  }
  t0 = zt_now_ms ();
  zcipc_client_disconnect (c);  /* LEAVE, holding both */
  zt_sleep_ms (100);
  ck_assert_int_eq (atomic_load (&prod.releases), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 2, 5000);
  ck_assert_int_ge (zt_now_ms () - t0, 250);
  ck_assert_int_eq (atomic_load (&prod.retired), 2);
  ck_assert_uint_eq (zt_producer_stats (&prod).frames_retired, 2);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);
  ck_assert (zt_producer_logged (&prod, "never reused"));
  check_frame_data (&ev[0]);
  check_frame_data (&ev[1]);
  /* The pinner lets go at last: its mapping goes with the frames. */
  for (int i = 0; i < 2; i++)
    ck_assert_int_eq (zcipc_client_release (c, ev[i].frame.info.seq), 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* The same for a consumer cut off for the wait timeout, and past the byte
 * bound at once: no need to wait for the time bound. */
START_TEST
    (test_frames_pinned_by_a_cut_off_consumer_are_retired_past_the_byte_bound) {
  struct zcipc_server_config config = {
    .quota = 4,.max_consumers = 8,.pin_timeout_ns = -1,.pin_max_bytes = 150,
  };
  struct zcipc_client *stuck;

  zt_producer_start_full (&prod, &config);
  atomic_store (&prod.retire_ok, true);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  stuck = zt_client_connect (prod.path, 2);
  zt_producer_send (&prod, 1, 0, 100, 1, NULL);
  zt_producer_send (&prod, 1, 0, 100, 2, NULL);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).held == 2, 5000);
  ck_assert_int_eq (zcipc_server_wait_room (prod.server, 100 * 1000000ll), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 2, 5000);
  ck_assert_int_eq (atomic_load (&prod.retired), 2);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 0, 5000);
  zcipc_client_unref (stuck);
  zt_producer_stop (&prod);
}

END_TEST;

/* Memory the producer cannot retire stays pinned, as before. */
START_TEST (test_frames_that_cannot_be_retired_stay_pinned)
{
  struct zcipc_server_config config = {
    .quota = 4,.max_consumers = 8,.pin_timeout_ns = 100 * 1000000ll,
  };
  struct zcipc_client_event ev;
  struct zcipc_client *c;

  zt_producer_start_full (&prod, &config);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  zt_producer_send (&prod, 1, 0, 100, 1, NULL);
  zt_client_next_frame (c, &ev, 5000);
  zcipc_client_disconnect (c);
  zt_sleep_ms (500);
  ck_assert_int_eq (atomic_load (&prod.releases), 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 1);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* LEAVE said again does not restart the pin timeout: a consumer that keeps
 * saying it while it holds its frames still has them retired once the
 * timeout after its first LEAVE has passed. */
START_TEST (test_repeating_leave_does_not_restart_the_pin_timeout)
{
  struct zcipc_server_config config = {
    .quota = 4,.max_consumers = 8,.pin_timeout_ns = 300 * 1000000ll,
  };
  struct zcipc_wire_leave leave;
  size_t n = zcipc_wire_init_leave (&leave);
  int64_t t0;
  int fd;

  zt_producer_start_full (&prod, &config);
  atomic_store (&prod.retire_ok, true);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  ck_assert_int_eq (zcipc_socket_connect (prod.path, &fd), 0);
  ck_assert_int_eq (zt_raw_handshake (fd, 4), 4);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 1, 5000);
  zt_producer_send (&prod, 1, 0, 100, 1, NULL);
  zt_producer_send (&prod, 1, 0, 100, 2, NULL);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 2);
  /* LEAVE every 50 ms, for three pin timeouts or until it is retired. */
  t0 = zt_now_ms ();
  while (zt_now_ms () - t0 < 900 && atomic_load (&prod.retired) < 2) {
    (void) zt_send_raw (fd, &leave, n, NULL, 0);
    zt_sleep_ms (50);
  }
  ck_assert_int_eq (atomic_load (&prod.retired), 2);
  ck_assert_int_ge (zt_now_ms () - t0, 250);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);
  close (fd);
  zt_producer_stop (&prod);
}

END_TEST;

static Suite *
server_client_suite (void)
{
  Suite *s = suite_create ("server_client");
  TCase *tc = tcase_create ("handshake");

  tcase_add_test (tc, test_handshake_grants_the_smaller_of_max_held_and_quota);
  tcase_add_test (tc, test_handshake_caps_the_quota_at_the_protocol_maximum);
  tcase_add_test (tc,
      test_quota_request_grows_the_quota_within_the_producer_cap);
  tcase_add_test (tc, test_quota_asked_before_connecting_goes_in_the_hello);
  tcase_add_test (tc, test_client_refuses_bad_arguments);
  tcase_add_test (tc, test_connect_times_out_when_nobody_listens);
  tcase_add_test (tc, test_connect_fails_at_once_where_no_producer_can_appear);
  tcase_add_test (tc, test_peer_not_on_the_allow_list_is_rejected);
  tcase_add_test (tc, test_one_consumer_too_many_is_rejected);
  tcase_add_test (tc, test_version_mismatch_gets_a_reject_naming_both_versions);
  suite_add_tcase (s, tc);

  tc = tcase_create ("stream");
  tcase_add_test (tc,
      test_regions_announced_before_and_after_connect_both_arrive);
  tcase_add_test (tc, test_late_joiner_gets_sticky_state_in_first_sent_order);
  tcase_add_test (tc,
      test_frames_arrive_inside_the_region_with_exact_timestamps);
  tcase_add_test (tc, test_send_frame_refuses_bad_arguments);
  tcase_add_test (tc, test_frame_without_memory_crosses_and_holds_no_slot);
  tcase_add_test (tc,
      test_metas_in_a_region_are_copied_out_and_held_with_the_frame);
  tcase_add_test (tc, test_frame_nobody_takes_counts_as_unsent);
  suite_add_tcase (s, tc);

  tc = tcase_create ("holds");
  tcase_add_test (tc,
      test_holds_and_releases_balance_after_release_and_disconnect);
  tcase_add_test (tc,
      test_leaving_gives_back_unread_frames_and_keeps_the_held_one);
  tcase_add_test (tc, test_consumer_that_dies_returns_its_holds);
  tcase_add_test (tc, test_consumer_cut_off_keeps_its_frames_until_it_dies);
  tcase_add_test (tc,
      test_skip_policy_slow_client_misses_frames_while_another_gets_all);
  tcase_add_test (tc, test_wait_room_drops_a_stuck_client_after_its_timeout);
  tcase_add_test (tc, test_wait_room_keeps_a_client_that_holds_one_frame_long);
  tcase_add_test (tc,
      test_cut_off_client_that_disconnects_keeps_its_frames_until_released);
  tcase_add_test (tc,
      test_wait_consumers_times_out_and_is_cancelled_by_flushing);
  tcase_add_test (tc, test_wait_room_is_cancelled_by_flushing);
  tcase_add_test (tc, test_lazy_releases_are_read_with_the_next_frame);
  tcase_add_test (tc,
      test_collect_releases_reads_waiting_releases_and_wakes_the_thread);
  tcase_add_test (tc, test_lazy_wait_room_reads_releases_and_wakes_for_them);
  tcase_add_test (tc,
      test_spinning_client_takes_a_fast_stream_without_sleeping);
  tcase_add_test (tc,
      test_spin_is_bounded_by_timeout_and_interrupt_and_skips_slow_streams);
  suite_add_tcase (s, tc);

  tc = tcase_create ("hostile consumers");
  tcase_add_test (tc, test_hostile_consumer_sending_garbage_is_disconnected);
  tcase_add_test (tc,
      test_hostile_consumer_sending_garbage_after_hello_is_disconnected);
  tcase_add_test (tc,
      test_hostile_consumer_sending_a_truncated_header_is_disconnected);
  tcase_add_test (tc,
      test_hostile_consumer_releasing_an_unheld_seq_is_disconnected);
  tcase_add_test (tc, test_hostile_consumer_releasing_twice_is_disconnected);
  tcase_add_test (tc, test_hostile_consumer_sending_250_fds_is_disconnected);
  tcase_add_test (tc,
      test_consumer_sending_an_empty_datagram_with_an_fd_is_disconnected);
  tcase_add_test (tc, test_hostile_consumer_sending_a_frame_is_disconnected);
  tcase_add_test (tc, test_hostile_consumer_saying_hello_twice_is_disconnected);
  tcase_add_test (tc,
      test_hostile_consumer_releasing_before_hello_is_disconnected);
  tcase_add_test (tc,
      test_hostile_consumer_sending_an_oversized_datagram_is_disconnected);
  tcase_add_test (tc,
      test_hostile_consumer_sending_a_region_with_an_fd_is_disconnected);
  tcase_add_test (tc, test_unknown_message_from_a_consumer_is_skipped);
  tcase_add_test (tc,
      test_rapid_connect_disconnect_cycles_leave_nothing_behind);
  suite_add_tcase (s, tc);

  tc = tcase_create ("hostile consumers, issue 15");
  tcase_add_test (tc,
      test_a_connection_without_hello_is_closed_at_the_handshake_deadline);
  tcase_add_test (tc,
      test_the_oldest_handshake_makes_room_and_silent_ones_lock_no_one_out);
  tcase_add_test (tc, test_one_process_holds_all_consumer_places_but_one);
  tcase_add_test (tc, test_a_single_consumer_place_is_anyones);
  tcase_add_test (tc, test_a_foreign_uid_holds_all_consumer_places_but_one);
  tcase_add_test (tc, test_accept_failures_back_off_and_are_logged_once);
  tcase_add_test (tc,
      test_a_consumer_rejoining_after_a_cut_off_is_not_waited_for);
  tcase_add_test (tc,
      test_frames_pinned_after_leave_are_retired_after_the_pin_timeout);
  tcase_add_test (tc,
      test_frames_pinned_by_a_cut_off_consumer_are_retired_past_the_byte_bound);
  tcase_add_test (tc, test_frames_that_cannot_be_retired_stay_pinned);
  tcase_add_test (tc, test_repeating_leave_does_not_restart_the_pin_timeout);
  suite_add_tcase (s, tc);

  tc = tcase_create ("monitors");
  tcase_add_test (tc, test_monitor_does_not_count_against_max_consumers);
  tcase_add_test (tc, test_ninth_monitor_is_refused_and_the_eight_go_on);
  tcase_add_test (tc, test_stats_reply_lists_two_consumers_with_their_counters);
  tcase_add_test (tc, test_long_caps_are_cut_at_a_structure_and_flagged);
  tcase_add_test (tc, test_malformed_stats_request_closes_only_that_connection);
  tcase_add_test (tc, test_unknown_stats_version_gets_a_reject_naming_both);
  tcase_add_test (tc,
      test_consumer_report_before_hello_or_malformed_is_refused);
  suite_add_tcase (s, tc);

  tc = tcase_create ("client regions");
  tcase_add_test (tc,
      test_removed_region_stays_mapped_while_a_held_frame_points_into_it);
  tcase_add_test (tc, test_held_frame_outlives_disconnect_and_unref);
  tcase_add_test (tc,
      test_client_sees_the_producer_go_away_and_keeps_its_frame);
  tcase_add_test (tc,
      test_release_after_reconnect_does_not_disturb_the_new_connection);
  tcase_add_test (tc,
      test_frame_held_across_reconnect_is_outside_the_new_quota);
  suite_add_tcase (s, tc);

  tc = tcase_create ("hostile producers");
  tcase_add_checked_fixture (tc, fake_setup, fake_teardown);
  tcase_add_test (tc, test_client_refuses_a_region_smaller_than_it_claims);
  tcase_add_test (tc, test_client_refuses_an_unsealed_region);
  tcase_add_test (tc,
      test_client_refuses_an_unsealed_memfd_announced_as_a_dmabuf);
  tcase_add_test (tc,
      test_client_refuses_an_unsealed_memfd_announced_without_flags);
  tcase_add_test (tc,
      test_client_refuses_a_regular_file_region_whatever_its_flags);
  tcase_add_test (tc,
      test_client_maps_a_region_at_its_first_frame_within_its_limit);
  tcase_add_test (tc, test_client_refuses_more_than_256_regions);
  tcase_add_test (tc, test_client_keeps_only_producer_refusals_of_a_reject);
  tcase_add_test (tc, test_client_reports_running_out_of_fds_as_its_own);
  tcase_add_test (tc, test_client_refuses_a_frame_outside_its_region);
  tcase_add_test (tc, test_client_accepts_a_frame_covering_its_whole_region);
  tcase_add_test (tc, test_client_refuses_a_frame_in_an_unknown_region);
  tcase_add_test (tc, test_client_refuses_frames_beyond_its_quota);
  tcase_add_test (tc, test_client_refuses_the_same_frame_twice);
  tcase_add_test (tc, test_client_refuses_a_grant_it_did_not_ask_for);
  tcase_add_test (tc, test_client_refuses_a_quota_above_what_it_asked);
  tcase_add_test (tc, test_client_refuses_an_fd_on_a_message_without_fds);
  tcase_add_test (tc, test_client_refuses_messages_only_consumers_send);
  tcase_add_test (tc, test_client_refuses_an_empty_datagram_with_an_fd);
  tcase_add_test (tc, test_client_skips_unknown_message_types);
  tcase_add_test (tc, test_client_sees_a_hang_up_as_epipe);
  tcase_add_test (tc,
      test_client_reads_what_was_queued_before_the_producer_hung_up);
  tcase_add_test (tc,
      test_client_gets_the_reason_of_a_producer_that_refuses_it_unread);
  tcase_add_test (tc, test_client_next_can_be_interrupted);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return zt_run_suite (server_client_suite ());
}
