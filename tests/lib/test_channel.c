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
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "zcipc/channel.h"

/* The shared-memory channel: first its two ends (zcipc_channel_*) in one
 * process, each mapping the same memfd, the consumer's through a dup'ed fd
 * as if it had come by SCM_RIGHTS; then a producer (zcipc_server) and its
 * consumers (zcipc_client) using it, with other threads, forked processes,
 * and raw sockets playing hostile peers that scribble on the channel. */

/* The shared layout (lib/channel.c), for the tests that play a peer who
 * writes what it should not. */
#define SH_MAGIC 0
#define SH_VERSION 4
#define SH_RING_SIZE 8
#define SH_RELEASES 12
#define SH_RING_HEAD 64
#define SH_RELEASE_TAIL 72
#define SH_RING_TAIL 128
#define SH_RELEASE_HEAD 136
#define SH_SLEEPING 144
#define SH_RELEASE_RING 256
#define SH_RING (SH_RELEASE_RING + ZCIPC_CHANNEL_RELEASES * 8)
#define CHANNEL_MAGIC 0x4843435au
#define CHANNEL_VERSION 1u

#define RING_MASK ((uint64_t) ZCIPC_CHANNEL_RING_SIZE - 1)
#define MAX_RECORD ZCIPC_CHANNEL_MAX_RECORD
#define RECORD_HEADER 8u

#define REGION_SIZE (64 * 1024)
#define N_ELEMENTS(a) (sizeof (a) / sizeof (a)[0])

static size_t
align8 (size_t n)
{
  return (n + 7) & ~(size_t) 7;
}

static _Atomic uint64_t *
sh_u64 (const struct zcipc_channel *ch, size_t offset)
{
  return (_Atomic uint64_t *) ((uint8_t *) ch->shared + offset);
}

static _Atomic uint32_t *
sh_u32 (const struct zcipc_channel *ch, size_t offset)
{
  return (_Atomic uint32_t *) ((uint8_t *) ch->shared + offset);
}

/* Where ring position `pos` lies in the mapping. */
static uint8_t *
sh_ring (const struct zcipc_channel *ch, uint64_t pos)
{
  return (uint8_t *) ch->shared + SH_RING + (pos & RING_MASK);
}

static bool
consumer_sleeps (const struct zcipc_channel *ch)
{
  return atomic_load (sh_u32 (ch, SH_SLEEPING)) != 0;
}

/* Mappings of a channel (server's and client's). */
static int
count_channel_maps (void)
{
  return zt_count_maps_named ("zcipc-channel");
}

/* --- two ends of one channel --------------------------------------------- */

struct pair
{
  struct zcipc_channel prod;
  struct zcipc_channel cons;
  int fds;                      /* before the channel */
  int maps;
};

static void
pair_open (struct pair *p, bool releases_by_socket)
{
  int fd, res;

  p->fds = zt_count_fds ();
  p->maps = zt_count_maps ();
  res = zcipc_channel_create (&p->prod, releases_by_socket);
  ck_assert_msg (res == 0, "create: %s", strerror (-res));
  fd = fcntl (p->prod.fd, F_DUPFD_CLOEXEC, 0);
  ck_assert_int_ge (fd, 0);
  res = zcipc_channel_import (&p->cons, fd);
  ck_assert_msg (res == 0, "import: %s", strerror (-res));
  ck_assert_int_eq (p->cons.fd, fd);
  ck_assert (zcipc_channel_is_open (&p->prod));
  ck_assert (zcipc_channel_is_open (&p->cons));
  ck_assert_ptr_ne (p->prod.shared, p->cons.shared);
}

static void
pair_close (struct pair *p)
{
  zcipc_channel_clear (&p->prod);
  zcipc_channel_clear (&p->cons);
  ck_assert (!zcipc_channel_is_open (&p->prod));
  ck_assert_int_eq (p->prod.fd, -1);
  ck_assert_int_eq (zt_count_fds (), p->fds);
  ck_assert_int_eq (zt_count_maps (), p->maps);
}

/* The producer's side takes exactly `expected` from the release ring, in
 * that order. */
static void
expect_releases (struct zcipc_channel *prod, unsigned int n_expected,
    const uint64_t * expected)
{
  uint64_t seqs[ZCIPC_WIRE_MAX_RELEASES];
  unsigned int n;

  ck_assert_int_eq (zcipc_channel_pop_releases (prod, seqs,
          ZCIPC_WIRE_MAX_RELEASES, &n), 0);
  ck_assert_uint_eq (n, n_expected);
  for (unsigned int i = 0; i < n; i++)
    ck_assert_uint_eq (seqs[i], expected[i]);
}

/* Byte `i` of record `n`. */
static uint8_t
rec_byte (uint32_t n, size_t i)
{
  return (uint8_t) (n * 131u + i * 7u + (i >> 8) + 1);
}

/* Pushes record `n` of `size` bytes, as two iovecs. */
static int
push_record (struct zcipc_channel *ch, uint32_t n, size_t size)
{
  static uint8_t buf[MAX_RECORD + 64];
  struct iovec iov[2];
  size_t cut = size / 3;

  ck_assert_uint_le (size, sizeof buf);
  for (size_t i = 0; i < size; i++)
    buf[i] = rec_byte (n, i);
  iov[0] = (struct iovec) { buf, cut };
  iov[1] = (struct iovec) { buf + cut, size - cut };
  return zcipc_channel_push (ch, ZCIPC_CHANNEL_RECORD_MESSAGE, iov, 2);
}

/* Pops what must be record `n` of `size` bytes. */
static void
pop_record (struct zcipc_channel *ch, uint32_t n, size_t size)
{
  static uint8_t buf[MAX_RECORD];
  enum zcipc_channel_record kind = 0;
  size_t len = (size_t) -1;
  int res = zcipc_channel_pop (ch, buf, sizeof buf, &len, &kind);

  ck_assert_msg (res == 0, "pop of record %u: %s", n, strerror (-res));
  ck_assert_int_eq (kind, ZCIPC_CHANNEL_RECORD_MESSAGE);
  ck_assert_uint_eq (len, size);
  for (size_t i = 0; i < size; i++)
    if (buf[i] != rec_byte (n, i))
      ck_abort_msg ("record %u, byte %zu: %u, not %u", n, i, buf[i],
          rec_byte (n, i));
}

static int
pop_any (struct zcipc_channel *ch, size_t *len, enum zcipc_channel_record *kind)
{
  static uint8_t buf[MAX_RECORD];
  return zcipc_channel_pop (ch, buf, sizeof buf, len, kind);
}

/* --- unit: records ------------------------------------------------------- */

START_TEST (test_create_and_import_share_one_sealed_memfd)
{
  struct zcipc_channel zeroed = { 0 };
  struct pair p;
  int seals;

  /* Clearing a channel that was never opened is harmless. */
  zeroed.fd = -1;
  zcipc_channel_clear (&zeroed);
  ck_assert (!zcipc_channel_is_open (&zeroed));

  pair_open (&p, true);
  ck_assert_uint_ge (p.prod.size, (size_t) SH_RING + ZCIPC_CHANNEL_RING_SIZE);
  ck_assert_uint_eq (p.cons.size, p.prod.size);
  ck_assert (zt_same_file (p.prod.fd, p.cons.fd));
  /* Neither side can resize it, and nobody can take the seals off; the
   * consumer writes its indices, so no write seal. */
  seals = fcntl (p.prod.fd, F_GET_SEALS);
  ck_assert_int_eq (seals, ZT_SEAL_SHRINK | ZT_SEAL_GROW | ZT_SEAL_SEAL);
  ck_assert_uint_eq (*sh_u32 (&p.cons, SH_MAGIC), CHANNEL_MAGIC);
  ck_assert_uint_eq (*sh_u32 (&p.cons, SH_VERSION), CHANNEL_VERSION);
  ck_assert_uint_eq (*sh_u32 (&p.cons, SH_RING_SIZE), ZCIPC_CHANNEL_RING_SIZE);
  ck_assert_uint_eq (*sh_u32 (&p.cons, SH_RELEASES), ZCIPC_CHANNEL_RELEASES);
  ck_assert (zcipc_channel_releases_by_socket (&p.cons));
  ck_assert (!zcipc_channel_pending (&p.cons));
  pair_close (&p);
  /* Twice is harmless too. */
  zcipc_channel_clear (&p.prod);

  pair_open (&p, false);
  ck_assert (!zcipc_channel_releases_by_socket (&p.cons));
  pair_close (&p);
}

END_TEST;

START_TEST (test_messages_round_trip_in_order)
{
  static const char hello[] = "a frame's header", more[] = ", and its mems";
  struct iovec iov[2] = {
    {(void *) hello, sizeof hello - 1},
    {(void *) more, sizeof more},
  };
  uint8_t buf[64];
  enum zcipc_channel_record kind;
  struct pair p;
  size_t len;

  pair_open (&p, true);
  ck_assert_int_eq (pop_any (&p.cons, &len, &kind), -EAGAIN);

  ck_assert_int_eq (zcipc_channel_push (&p.prod, ZCIPC_CHANNEL_RECORD_MESSAGE,
          iov, 2), 0);
  ck_assert (zcipc_channel_pending (&p.cons));
  ck_assert_int_eq (zcipc_channel_push (&p.prod, ZCIPC_CHANNEL_RECORD_SOCKET,
          NULL, 0), 0);
  ck_assert_int_eq (zcipc_channel_push (&p.prod, ZCIPC_CHANNEL_RECORD_MESSAGE,
          NULL, 0), 0);
  ck_assert_int_eq (push_record (&p.prod, 4, 1), 0);
  ck_assert_int_eq (push_record (&p.prod, 5, 13), 0);
  ck_assert_int_eq (push_record (&p.prod, 6, MAX_RECORD), 0);
  /* Each record takes its header and its payload rounded up to 8 bytes. */
  ck_assert_uint_eq (p.prod.ring_pos, 6 * RECORD_HEADER + align8 (sizeof
          hello - 1 + sizeof more) + 8 + 16 + MAX_RECORD);
  /* Published as a whole. */
  ck_assert_uint_eq (atomic_load (sh_u64 (&p.cons, SH_RING_HEAD)),
      p.prod.ring_pos);

  memset (buf, 0, sizeof buf);
  ck_assert_int_eq (zcipc_channel_pop (&p.cons, buf, sizeof buf, &len, &kind),
      0);
  ck_assert_int_eq (kind, ZCIPC_CHANNEL_RECORD_MESSAGE);
  ck_assert_uint_eq (len, sizeof hello - 1 + sizeof more);
  ck_assert_str_eq ((char *) buf, "a frame's header, and its mems");
  ck_assert_int_eq (pop_any (&p.cons, &len, &kind), 0);
  ck_assert_int_eq (kind, ZCIPC_CHANNEL_RECORD_SOCKET);
  ck_assert_uint_eq (len, 0);
  ck_assert_int_eq (pop_any (&p.cons, &len, &kind), 0);
  ck_assert_int_eq (kind, ZCIPC_CHANNEL_RECORD_MESSAGE);
  ck_assert_uint_eq (len, 0);
  pop_record (&p.cons, 4, 1);
  pop_record (&p.cons, 5, 13);
  pop_record (&p.cons, 6, MAX_RECORD);
  ck_assert (!zcipc_channel_pending (&p.cons));
  ck_assert_int_eq (pop_any (&p.cons, &len, &kind), -EAGAIN);
  /* The consumer published how far it read. */
  ck_assert_uint_eq (p.cons.ring_pos, p.prod.ring_pos);
  ck_assert_uint_eq (atomic_load (sh_u64 (&p.prod, SH_RING_TAIL)),
      p.prod.ring_pos);
  pair_close (&p);
}

END_TEST;

/* Thousands of records of every size, up to the maximum, through a ring
 * they wrap many times: a record that does not fit before the ring's end
 * goes to its start behind a PAD, which the consumer never sees. */
START_TEST (test_records_wrap_the_ring_in_order)
{
  enum
  { N = 3000 };
  static uint32_t sizes[N];
  uint32_t pushed = 0, popped = 0, pads = 0, x = 12345;
  struct pair p;

  for (uint32_t n = 0; n < N; n++) {
    x = x * 1103515245u + 12345u;
    switch ((x >> 16) % 8) {
      case 0:
        sizes[n] = MAX_RECORD;
        break;
      case 1:
        sizes[n] = 0;
        break;
      case 2:
        sizes[n] = (x >> 8) % 64;
        break;
      case 3:
        sizes[n] = MAX_RECORD - (x >> 8) % 16;
        break;
      default:
        sizes[n] = (x >> 4) % 5000;
        break;
    }
  }

  pair_open (&p, true);
  while (popped < N) {
    unsigned int burst, drain;

    x = x * 1103515245u + 12345u;
    burst = 1 + (x >> 16) % 12;
    for (; burst > 0 && pushed < N; burst--) {
      uint64_t before = p.prod.ring_pos;
      size_t space = RECORD_HEADER + align8 (sizes[pushed]);
      size_t to_end = ZCIPC_CHANNEL_RING_SIZE - (before & RING_MASK);
      int res = push_record (&p.prod, pushed, sizes[pushed]);

      if (res == -EAGAIN) {
        ck_assert_uint_eq (p.prod.ring_pos, before);
        break;
      }
      ck_assert_msg (res == 0, "push of record %u: %s", pushed,
          strerror (-res));
      if (space <= to_end) {
        ck_assert_uint_eq (p.prod.ring_pos - before, space);
      } else {
        /* Padded to the start: never split. */
        ck_assert_uint_eq (p.prod.ring_pos - before, to_end + space);
        pads++;
      }
      pushed++;
    }
    x = x * 1103515245u + 12345u;
    drain = 1 + (x >> 16) % 12;
    for (; drain > 0 && popped < pushed; drain--, popped++)
      pop_record (&p.cons, popped, sizes[popped]);
  }
  ck_assert_uint_eq (p.cons.ring_pos, p.prod.ring_pos);
  ck_assert_uint_gt (p.prod.ring_pos, 20 * (uint64_t) ZCIPC_CHANNEL_RING_SIZE);
  ck_assert_uint_gt (pads, 10);
  ck_assert (!zcipc_channel_pending (&p.cons));
  pair_close (&p);
}

END_TEST;

START_TEST (test_push_says_eagain_when_full_and_succeeds_after_pops)
{
  enum zcipc_channel_record kind;
  uint64_t pos;
  struct pair p;
  size_t len;
  uint32_t n;

  /* Three records of the maximum size fill the ring but for 16360 bytes. */
  pair_open (&p, true);
  for (n = 0; n < 3; n++)
    ck_assert_int_eq (push_record (&p.prod, n, MAX_RECORD), 0);
  pos = p.prod.ring_pos;
  ck_assert_int_eq (push_record (&p.prod, 3, MAX_RECORD), -EAGAIN);
  ck_assert_int_eq (zcipc_channel_check_room (&p.prod, MAX_RECORD), -EAGAIN);
  ck_assert_uint_eq (p.prod.ring_pos, pos);
  ck_assert_uint_eq (atomic_load (sh_u64 (&p.cons, SH_RING_HEAD)), pos);
  /* What is left still takes a smaller record, and not a byte more. */
  ck_assert_int_eq (zcipc_channel_check_room (&p.prod,
          ZCIPC_CHANNEL_RING_SIZE - pos - RECORD_HEADER), 0);
  ck_assert_int_eq (zcipc_channel_check_room (&p.prod,
          ZCIPC_CHANNEL_RING_SIZE - pos - RECORD_HEADER + 1), -EAGAIN);

  /* One pop makes room for exactly one more (after a pad to the start),
   * which fills the ring to its last byte. */
  pop_record (&p.cons, 0, MAX_RECORD);
  ck_assert_int_eq (zcipc_channel_check_room (&p.prod, MAX_RECORD), 0);
  ck_assert_int_eq (push_record (&p.prod, 3, MAX_RECORD), 0);
  ck_assert_uint_eq (p.prod.ring_pos - atomic_load (sh_u64 (&p.cons,
              SH_RING_TAIL)), ZCIPC_CHANNEL_RING_SIZE);
  ck_assert_int_eq (zcipc_channel_push (&p.prod, ZCIPC_CHANNEL_RECORD_SOCKET,
          NULL, 0), -EAGAIN);
  for (n = 1; n < 4; n++)
    pop_record (&p.cons, n, MAX_RECORD);
  ck_assert_int_eq (pop_any (&p.cons, &len, &kind), -EAGAIN);
  pair_close (&p);

  /* The smallest records: 8 bytes each, 8192 of them. */
  pair_open (&p, true);
  for (n = 0; n < ZCIPC_CHANNEL_RING_SIZE / RECORD_HEADER; n++)
    ck_assert_int_eq (push_record (&p.prod, n, 0), 0);
  ck_assert_int_eq (push_record (&p.prod, n, 0), -EAGAIN);
  ck_assert_int_eq (push_record (&p.prod, n, 1), -EAGAIN);
  pop_record (&p.cons, 0, 0);
  ck_assert_int_eq (push_record (&p.prod, n, 1), -EAGAIN);
  ck_assert_int_eq (push_record (&p.prod, n, 0), 0);
  for (n = 1; n <= ZCIPC_CHANNEL_RING_SIZE / RECORD_HEADER; n++)
    pop_record (&p.cons, n, 0);
  ck_assert_int_eq (pop_any (&p.cons, &len, &kind), -EAGAIN);
  pair_close (&p);
}

END_TEST;

START_TEST (test_records_above_the_maximum_are_refused)
{
  static uint8_t big[MAX_RECORD];
  struct iovec iov[2] = { {big, MAX_RECORD / 2 + 1}, {big, MAX_RECORD / 2} };
  struct pair p;

  pair_open (&p, true);
  ck_assert_int_eq (zcipc_channel_check_room (&p.prod, MAX_RECORD + 1),
      -EMSGSIZE);
  ck_assert_int_eq (zcipc_channel_check_room (&p.prod, (size_t) -1), -EMSGSIZE);
  ck_assert_int_eq (push_record (&p.prod, 1, MAX_RECORD + 1), -EMSGSIZE);
  ck_assert_int_eq (zcipc_channel_push (&p.prod, ZCIPC_CHANNEL_RECORD_MESSAGE,
          iov, 2), -EMSGSIZE);
  ck_assert_uint_eq (p.prod.ring_pos, 0);
  ck_assert (!zcipc_channel_pending (&p.cons));
  /* The maximum itself fits. */
  ck_assert_int_eq (zcipc_channel_check_room (&p.prod, MAX_RECORD), 0);
  iov[0].iov_len = MAX_RECORD / 2;
  ck_assert_int_eq (zcipc_channel_push (&p.prod, ZCIPC_CHANNEL_RECORD_MESSAGE,
          iov, 2), 0);
  ck_assert (zcipc_channel_pending (&p.cons));
  pair_close (&p);
}

END_TEST;

/* In a child: pushes iovecs whose lengths add up to more than 4 GiB, but
 * to a few bytes modulo 2^32. Exits 0 if refused with -EMSGSIZE. */
static int
push_wrapping_size (void)
{
  static uint8_t small[16];
  struct zcipc_channel ch;
  struct iovec iov[2] = {
    {small, sizeof small},
    {small, (size_t) UINT32_MAX - 7},
  };
  int res;

  if (zcipc_channel_create (&ch, true) < 0)
    return 2;
  res = zcipc_channel_push (&ch, ZCIPC_CHANNEL_RECORD_MESSAGE, iov, 2);
  if (res == -EMSGSIZE)
    return 0;
  return 3;
}

/* The sizes of a record's iovecs must not be added up in 32 bits: a sum
 * that wraps to a few bytes would pass the size check and be copied in
 * whole. In a child process, so that the overflow, if any, kills only it. */
START_TEST (test_a_record_size_that_wraps_32_bits_is_refused)
{
  pid_t child;
  int status;

  child = fork ();
  ck_assert_int_ge (child, 0);
  if (child == 0) {
    alarm (20);
    _exit (push_wrapping_size ());
  }
  ck_assert_int_eq (waitpid (child, &status, 0), child);
  ck_assert_msg (!WIFSIGNALED (status), "zcipc_channel_push copied a record "
      "whose iovecs add up to 4 GiB + 8 bytes (their sum wrapped to 8 in "
      "32 bits): killed by signal %d", WTERMSIG (status));
  ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "zcipc_channel_push did not refuse a record of 4 GiB + 8 bytes with "
      "-EMSGSIZE (child exit %d)", WEXITSTATUS (status));
}

END_TEST;

/* --- unit: releases ------------------------------------------------------ */

START_TEST (test_releases_round_trip_and_fill_up)
{
  uint64_t seqs[2 * ZCIPC_CHANNEL_RELEASES];
  unsigned int n, i;
  uint64_t next_in = 1, next_out = 1;
  struct pair p;

  pair_open (&p, false);
  ck_assert_int_eq (zcipc_channel_pop_releases (&p.prod, seqs, 64, &n), 0);
  ck_assert_uint_eq (n, 0);

  /* Full at ZCIPC_CHANNEL_RELEASES. */
  for (i = 0; i < ZCIPC_CHANNEL_RELEASES; i++)
    ck_assert_int_eq (zcipc_channel_push_release (&p.cons, next_in++), 0);
  ck_assert_int_eq (zcipc_channel_push_release (&p.cons, next_in), -EAGAIN);
  ck_assert_uint_eq (atomic_load (sh_u64 (&p.prod, SH_RELEASE_HEAD)),
      ZCIPC_CHANNEL_RELEASES);

  /* Read in parts, in order; what was read makes room. */
  ck_assert_int_eq (zcipc_channel_pop_releases (&p.prod, seqs, 50, &n), 0);
  ck_assert_uint_eq (n, 50);
  for (i = 0; i < n; i++)
    ck_assert_uint_eq (seqs[i], next_out++);
  ck_assert_uint_eq (atomic_load (sh_u64 (&p.cons, SH_RELEASE_TAIL)), 50);
  for (i = 0; i < 50; i++)
    ck_assert_int_eq (zcipc_channel_push_release (&p.cons, next_in++), 0);
  ck_assert_int_eq (zcipc_channel_push_release (&p.cons, next_in), -EAGAIN);
  ck_assert_int_eq (zcipc_channel_pop_releases (&p.prod, seqs,
          2 * ZCIPC_CHANNEL_RELEASES, &n), 0);
  ck_assert_uint_eq (n, ZCIPC_CHANNEL_RELEASES);
  for (i = 0; i < n; i++)
    ck_assert_uint_eq (seqs[i], next_out++);

  /* Round and round. */
  for (unsigned int round = 0; round < 1000; round++) {
    unsigned int k = 1 + round % 7;
    for (i = 0; i < k; i++)
      ck_assert_int_eq (zcipc_channel_push_release (&p.cons,
              next_in++ * 1000003u), 0);
    ck_assert_int_eq (zcipc_channel_pop_releases (&p.prod, seqs, 64, &n), 0);
    ck_assert_uint_eq (n, k);
    for (i = 0; i < n; i++)
      ck_assert_uint_eq (seqs[i], next_out++ * 1000003u);
  }
  ck_assert_int_eq (zcipc_channel_pop_releases (&p.prod, seqs, 64, &n), 0);
  ck_assert_uint_eq (n, 0);
  pair_close (&p);
}

END_TEST;

START_TEST (test_push_release_asks_for_a_wake_after_the_switch_to_socket)
{
  struct pair p;

  pair_open (&p, false);
  ck_assert (!zcipc_channel_releases_by_socket (&p.cons));
  ck_assert_int_eq (zcipc_channel_push_release (&p.cons, 11), 0);

  zcipc_channel_set_releases_by_socket (&p.prod, true);
  ck_assert (zcipc_channel_releases_by_socket (&p.cons));
  /* Still put in the ring, but the producer must be told to read it. */
  ck_assert_int_eq (zcipc_channel_push_release (&p.cons, 12), 1);
  expect_releases (&p.prod, 2, (const uint64_t[]) { 11, 12 });

  zcipc_channel_set_releases_by_socket (&p.prod, false);
  ck_assert (!zcipc_channel_releases_by_socket (&p.cons));
  ck_assert_int_eq (zcipc_channel_push_release (&p.cons, 13), 0);
  expect_releases (&p.prod, 1, (const uint64_t[]) { 13 });
  pair_close (&p);
}

END_TEST;

/* --- unit: import checks ------------------------------------------------- */

/* A memfd of `size` bytes laid out like a channel header, with `seals`. */
static int
forge_channel (size_t size, unsigned int seals, uint32_t magic,
    uint32_t version, uint32_t ring_size, uint32_t releases)
{
  uint32_t header[4] = { magic, version, ring_size, releases };
  int fd = zt_memfd (size, 0);

  ck_assert_int_eq (pwrite (fd, header, sizeof header, 0),
      (ssize_t) sizeof header);
  if (seals)
    ck_assert_int_eq (fcntl (fd, F_ADD_SEALS, (int) seals), 0);
  return fd;
}

/* Import refuses `fd` with -EBADFD, maps nothing and leaves it open. */
static void
expect_import_refused (int fd, const char *what)
{
  struct zcipc_channel ch;
  int maps = zt_count_maps (), res;

  res = zcipc_channel_import (&ch, fd);
  ck_assert_msg (res == -EBADFD, "import of %s: %d (%s), not -EBADFD", what,
      res, strerror (-res));
  ck_assert (!zcipc_channel_is_open (&ch));
  ck_assert_int_eq (zt_count_maps (), maps);
  ck_assert_msg (fcntl (fd, F_GETFD) >= 0, "import closed the fd of %s", what);
  close (fd);
}

START_TEST (test_import_refuses_unsealed_small_or_foreign_memfds)
{
  const unsigned int sealed = ZT_SEAL_SHRINK | ZT_SEAL_GROW;
  const uint32_t ring = ZCIPC_CHANNEL_RING_SIZE, rel = ZCIPC_CHANNEL_RELEASES;
  size_t page = (size_t) sysconf (_SC_PAGESIZE), size;
  struct zcipc_channel ch;
  int fds = zt_count_fds (), fd, pipes[2];

  ck_assert_int_eq (zcipc_channel_create (&ch, true), 0);
  size = ch.size;
  zcipc_channel_clear (&ch);

  /* The forgery is good enough when everything is right: the refusals
   * below are for what is wrong in each. */
  fd = forge_channel (size, sealed, CHANNEL_MAGIC, CHANNEL_VERSION, ring, rel);
  ck_assert_int_eq (zcipc_channel_import (&ch, fd), 0);
  ck_assert_uint_eq (ch.size, size);
  zcipc_channel_clear (&ch);
  fd = forge_channel (size, sealed | ZT_SEAL_SEAL, CHANNEL_MAGIC,
      CHANNEL_VERSION, ring, rel);
  ck_assert_int_eq (zcipc_channel_import (&ch, fd), 0);
  zcipc_channel_clear (&ch);

  expect_import_refused (forge_channel (size, 0, CHANNEL_MAGIC,
          CHANNEL_VERSION, ring, rel), "an unsealed memfd");
  expect_import_refused (forge_channel (size, ZT_SEAL_SHRINK, CHANNEL_MAGIC,
          CHANNEL_VERSION, ring, rel), "a memfd that may grow");
  expect_import_refused (forge_channel (size, ZT_SEAL_GROW, CHANNEL_MAGIC,
          CHANNEL_VERSION, ring, rel), "a memfd that may shrink");
  expect_import_refused (forge_channel (size - page, sealed, CHANNEL_MAGIC,
          CHANNEL_VERSION, ring, rel), "a memfd a page too small");
  expect_import_refused (forge_channel (page, sealed, CHANNEL_MAGIC,
          CHANNEL_VERSION, ring, rel), "a one-page memfd");
  expect_import_refused (forge_channel (size, sealed, 0, 0, 0, 0),
      "a zeroed memfd");
  expect_import_refused (forge_channel (size, sealed, CHANNEL_MAGIC ^ 1,
          CHANNEL_VERSION, ring, rel), "a wrong magic");
  expect_import_refused (forge_channel (size, sealed, CHANNEL_MAGIC,
          CHANNEL_VERSION + 1, ring, rel), "a newer version");
  expect_import_refused (forge_channel (size, sealed, CHANNEL_MAGIC,
          CHANNEL_VERSION, ring * 2, rel), "a larger ring");
  expect_import_refused (forge_channel (size, sealed, CHANNEL_MAGIC,
          CHANNEL_VERSION, ring, rel / 2), "a smaller release ring");
  ck_assert_int_eq (pipe2 (pipes, O_CLOEXEC), 0);
  expect_import_refused (pipes[0], "a pipe");
  close (pipes[1]);
  ck_assert_int_eq (zt_count_fds (), fds);
}

END_TEST;

/* --- unit: a peer that scribbles ----------------------------------------- */

START_TEST (test_producer_refuses_an_impossible_ring_tail)
{
  _Atomic uint64_t *tail;
  uint64_t good, head;
  struct pair p;

  pair_open (&p, true);
  tail = sh_u64 (&p.cons, SH_RING_TAIL);
  ck_assert_int_eq (push_record (&p.prod, 0, 100), 0);
  ck_assert_int_eq (push_record (&p.prod, 1, 200), 0);
  pop_record (&p.cons, 0, 100);
  good = atomic_load (tail);
  head = atomic_load (sh_u64 (&p.cons, SH_RING_HEAD));
  ck_assert_uint_eq (good, RECORD_HEADER + 104);

  /* Read beyond what was written. */
  atomic_store (tail, p.prod.ring_pos + 8);
  ck_assert_int_eq (zcipc_channel_check_room (&p.prod, 0), -EPROTO);
  ck_assert_int_eq (push_record (&p.prod, 2, 16), -EPROTO);
  /* Further behind than the ring holds. */
  atomic_store (tail, p.prod.ring_pos - ZCIPC_CHANNEL_RING_SIZE - 8);
  ck_assert_int_eq (zcipc_channel_check_room (&p.prod, 0), -EPROTO);
  ck_assert_int_eq (push_record (&p.prod, 2, 16), -EPROTO);
  /* Not on a record boundary. */
  atomic_store (tail, good + 4);
  ck_assert_int_eq (zcipc_channel_check_room (&p.prod, 0), -EPROTO);
  ck_assert_int_eq (push_record (&p.prod, 2, 16), -EPROTO);
  atomic_store (tail, UINT64_MAX);
  ck_assert_int_eq (push_record (&p.prod, 2, 16), -EPROTO);
  /* Nothing was published meanwhile. */
  ck_assert_uint_eq (atomic_load (sh_u64 (&p.cons, SH_RING_HEAD)), head);

  /* Put right, the stream goes on. */
  atomic_store (tail, good);
  ck_assert_int_eq (push_record (&p.prod, 2, 16), 0);
  pop_record (&p.cons, 1, 200);
  pop_record (&p.cons, 2, 16);
  pair_close (&p);
}

END_TEST;

START_TEST (test_producer_refuses_an_impossible_release_head)
{
  _Atomic uint64_t *head;
  uint64_t seqs[ZCIPC_WIRE_MAX_RELEASES];
  unsigned int n;
  struct pair p;

  pair_open (&p, false);
  head = sh_u64 (&p.cons, SH_RELEASE_HEAD);
  ck_assert_int_eq (zcipc_channel_push_release (&p.cons, 1), 0);
  ck_assert_int_eq (zcipc_channel_push_release (&p.cons, 2), 0);
  expect_releases (&p.prod, 2, (const uint64_t[]) { 1, 2 });

  /* More than the ring holds. */
  atomic_store (head, 2 + ZCIPC_CHANNEL_RELEASES + 1);
  n = 99;
  ck_assert_int_eq (zcipc_channel_pop_releases (&p.prod, seqs, 64, &n),
      -EPROTO);
  ck_assert_uint_eq (n, 0);
  /* Behind what was read already. */
  atomic_store (head, 1);
  ck_assert_int_eq (zcipc_channel_pop_releases (&p.prod, seqs, 64, &n),
      -EPROTO);
  ck_assert_uint_eq (n, 0);
  atomic_store (head, UINT64_MAX);
  ck_assert_int_eq (zcipc_channel_pop_releases (&p.prod, seqs, 64, &n),
      -EPROTO);
  /* Nothing was taken meanwhile. */
  ck_assert_uint_eq (atomic_load (sh_u64 (&p.cons, SH_RELEASE_TAIL)), 2);

  /* Put right, releases go on. */
  atomic_store (head, 2);
  ck_assert_int_eq (zcipc_channel_push_release (&p.cons, 77), 0);
  expect_releases (&p.prod, 1, (const uint64_t[]) { 77 });
  pair_close (&p);
}

END_TEST;

/* Writes a record header at ring position `pos` and publishes `head`, as
 * a producer would (or a hostile one). */
static void
forge_record (struct pair *p, uint64_t pos, uint32_t size, uint32_t kind,
    uint64_t head)
{
  uint32_t header[2] = { size, kind };

  memcpy (sh_ring (&p->prod, pos), header, sizeof header);
  atomic_store (sh_u64 (&p->prod, SH_RING_HEAD), head);
}

/* The consumer refuses what it finds, and neither moves nor publishes. */
static void
expect_pop_refused (struct pair *p, const char *what)
{
  uint64_t pos = p->cons.ring_pos;
  enum zcipc_channel_record kind;
  size_t len;
  int res = pop_any (&p->cons, &len, &kind);

  ck_assert_msg (res == -EPROTO, "pop of %s: %d (%s), not -EPROTO", what,
      res, strerror (-res));
  ck_assert_uint_eq (p->cons.ring_pos, pos);
  ck_assert_uint_eq (atomic_load (sh_u64 (&p->cons, SH_RING_TAIL)), pos);
}

START_TEST (test_consumer_refuses_an_impossible_ring_head_or_record)
{
  _Atomic uint64_t *head;
  enum zcipc_channel_record kind;
  uint64_t base, left;
  struct pair p;
  char buf[64];
  size_t len;
  uint32_t n = 1;

  pair_open (&p, true);
  head = sh_u64 (&p.prod, SH_RING_HEAD);
  ck_assert_int_eq (push_record (&p.prod, 0, 20), 0);
  pop_record (&p.cons, 0, 20);
  base = p.cons.ring_pos;
  ck_assert_uint_eq (base, 32);

  /* A record written by hand is read: the layout is the one we forge. */
  memcpy (sh_ring (&p.prod, base + RECORD_HEADER), "hello", 5);
  forge_record (&p, base, 5, ZCIPC_CHANNEL_RECORD_MESSAGE, base + 16);
  ck_assert_int_eq (zcipc_channel_pop (&p.cons, buf, sizeof buf, &len, &kind),
      0);
  ck_assert_int_eq (kind, ZCIPC_CHANNEL_RECORD_MESSAGE);
  ck_assert_uint_eq (len, 5);
  ck_assert_mem_eq (buf, "hello", 5);
  base += 16;
  ck_assert_uint_eq (p.cons.ring_pos, base);

  /* Impossible heads. */
  atomic_store (head, base + ZCIPC_CHANNEL_RING_SIZE + 8);
  expect_pop_refused (&p, "a head beyond a full ring");
  atomic_store (head, base + 12);
  expect_pop_refused (&p, "a head off a record boundary");
  atomic_store (head, base + 4);
  expect_pop_refused (&p, "a head inside a record header");
  atomic_store (head, base - 8);
  expect_pop_refused (&p, "a head behind the consumer");

  /* Impossible records behind a possible head. */
  forge_record (&p, base, 8, 99, base + 16);
  expect_pop_refused (&p, "an unknown record kind");
  forge_record (&p, base, 8, 0, base + 16);
  expect_pop_refused (&p, "record kind 0");
  forge_record (&p, base, MAX_RECORD + 8, ZCIPC_CHANNEL_RECORD_MESSAGE,
      base + RECORD_HEADER + MAX_RECORD + 8);
  expect_pop_refused (&p, "a record above the maximum");
  forge_record (&p, base, UINT32_MAX, ZCIPC_CHANNEL_RECORD_MESSAGE, base + 16);
  expect_pop_refused (&p, "a record of 4 GiB");
  forge_record (&p, base, 64, ZCIPC_CHANNEL_RECORD_MESSAGE, base + 16);
  expect_pop_refused (&p, "a record longer than what was published");
  forge_record (&p, base, 16, ZCIPC_CHANNEL_RECORD_PAD, base + 24);
  expect_pop_refused (&p, "a pad that does not reach the ring's end");
  /* A record larger than the reader's buffer is not copied. */
  forge_record (&p, base, 8, ZCIPC_CHANNEL_RECORD_MESSAGE, base + 16);
  ck_assert_int_eq (zcipc_channel_pop (&p.cons, buf, 4, &len, &kind), -EPROTO);
  ck_assert_uint_eq (p.cons.ring_pos, base);

  /* Near the ring's end: the producer takes over again from where the
   * consumer is, and both walk there. */
  atomic_store (head, base);
  p.prod.ring_pos = base;
  left = ZCIPC_CHANNEL_RING_SIZE - 16 - base;
  for (; left > RECORD_HEADER + MAX_RECORD; left -= RECORD_HEADER + MAX_RECORD,
      n++) {
    ck_assert_int_eq (push_record (&p.prod, n, MAX_RECORD), 0);
    pop_record (&p.cons, n, MAX_RECORD);
  }
  ck_assert_int_eq (push_record (&p.prod, n, left - RECORD_HEADER), 0);
  pop_record (&p.cons, n, left - RECORD_HEADER);
  base = p.cons.ring_pos;
  ck_assert_uint_eq (base & RING_MASK, ZCIPC_CHANNEL_RING_SIZE - 16);

  forge_record (&p, base, 64, ZCIPC_CHANNEL_RECORD_MESSAGE, base + 72);
  expect_pop_refused (&p, "a record that runs past the ring's end");
  forge_record (&p, base, 0, ZCIPC_CHANNEL_RECORD_PAD, base + 16);
  expect_pop_refused (&p, "a pad shorter than the rest of the ring");
  forge_record (&p, base, 8, ZCIPC_CHANNEL_RECORD_PAD, base + 8);
  expect_pop_refused (&p, "a pad beyond what was published");

  /* A right pad, then a record at the ring's start. */
  memcpy (sh_ring (&p.prod, base + 16 + RECORD_HEADER), "world", 5);
  forge_record (&p, base + 16, 5, ZCIPC_CHANNEL_RECORD_MESSAGE, base + 16);
  forge_record (&p, base, 8, ZCIPC_CHANNEL_RECORD_PAD, base + 32);
  ck_assert_int_eq (zcipc_channel_pop (&p.cons, buf, sizeof buf, &len, &kind),
      0);
  ck_assert_uint_eq (len, 5);
  ck_assert_mem_eq (buf, "world", 5);
  ck_assert_uint_eq (p.cons.ring_pos, base + 32);
  pair_close (&p);
}

END_TEST;

/* --- unit: sleeping and waking ------------------------------------------- */

/* Another thread (or process) that waits until the consumer sleeps, then
 * pushes a record, or interrupts it. */
struct poke
{
  struct zcipc_channel *ch;     /* the producer's end, or the consumer's */
  const struct zcipc_channel *watch;    /* the consumer's end */
  atomic_bool *interrupted;     /* NULL: push record 42 */
  bool saw_sleeping;
  int res;
};

static void
poke (struct poke *k)
{
  k->saw_sleeping = ZT_WAIT_UNTIL (consumer_sleeps (k->watch), 5000);
  zt_sleep_ms (20);             /* well into the futex, most likely */
  if (k->interrupted) {
    atomic_store (k->interrupted, true);
    zcipc_channel_interrupt (k->ch);
    k->res = 0;
  } else {
    k->res = push_record (k->ch, 42, 100);
  }
}

static void *
poke_thread (void *data)
{
  poke (data);
  return NULL;
}

START_TEST (test_wait_times_out_with_nothing_pushed)
{
  atomic_bool interrupted = false;
  int64_t t0, dt;
  struct pair p;

  pair_open (&p, true);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_channel_wait (&p.cons, 60, &interrupted), -ETIMEDOUT);
  dt = zt_now_ms () - t0;
  ck_assert_msg (dt >= 55, "timed out after %lld ms", (long long) dt);
  ck_assert (!consumer_sleeps (&p.cons));
  ck_assert_int_eq (zcipc_channel_wait (&p.cons, 0, &interrupted), -ETIMEDOUT);

  /* A record pushed while it is awake costs no wake-up; a wait then
   * returns at once. */
  ck_assert_int_eq (push_record (&p.prod, 1, 10), 0);
  ck_assert_uint_eq (p.prod.wakeups, 0);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_channel_wait (&p.cons, 5000, &interrupted), 0);
  ck_assert_int_lt (zt_now_ms () - t0, 4000);
  pop_record (&p.cons, 1, 10);

  /* So does a wait of an interrupted consumer. */
  atomic_store (&interrupted, true);
  t0 = zt_now_ms ();
  ck_assert_int_eq (zcipc_channel_wait (&p.cons, 5000, &interrupted), 0);
  ck_assert_int_lt (zt_now_ms () - t0, 4000);
  ck_assert (!zcipc_channel_pending (&p.cons));
  ck_assert (!consumer_sleeps (&p.cons));
  pair_close (&p);
}

END_TEST;

START_TEST (test_wait_returns_when_another_thread_pushes)
{
  atomic_bool interrupted = false;
  struct pair p;
  struct poke k;
  pthread_t thread;
  int64_t t0, dt;
  int res;

  pair_open (&p, true);
  k = (struct poke) { &p.prod, &p.cons, NULL, false, -1 };
  ck_assert_int_eq (pthread_create (&thread, NULL, poke_thread, &k), 0);
  t0 = zt_now_ms ();
  res = zcipc_channel_wait (&p.cons, 5000, &interrupted);
  dt = zt_now_ms () - t0;
  pthread_join (thread, NULL);
  ck_assert (k.saw_sleeping);
  ck_assert_int_eq (k.res, 0);
  ck_assert_msg (res == 0, "wait: %s after %lld ms", strerror (-res),
      (long long) dt);
  ck_assert_int_lt (dt, 4000);
  ck_assert (!consumer_sleeps (&p.cons));
  /* The producer saw it asleep, and woke it. */
  ck_assert_uint_eq (p.prod.wakeups, 1);
  ck_assert (zcipc_channel_pending (&p.cons));
  pop_record (&p.cons, 42, 100);
  pair_close (&p);
}

END_TEST;

START_TEST (test_wait_returns_when_a_forked_process_pushes)
{
  atomic_bool interrupted = false;
  int64_t t0, dt;
  struct pair p;
  pid_t child;
  int res, status;

  pair_open (&p, true);
  child = fork ();
  ck_assert_int_ge (child, 0);
  if (child == 0) {
    /* The channel is not inherited (MADV_DONTFORK): map it anew, as the
     * producer process would. */
    struct zcipc_channel view = p.prod;
    struct poke k;

    alarm (20);
    view.shared = mmap (NULL, view.size, PROT_READ | PROT_WRITE, MAP_SHARED,
        view.fd, 0);
    if (view.shared == MAP_FAILED)
      _exit (2);
    k = (struct poke) { &view, &view, NULL, false, -1 };
    poke (&k);
    if (!k.saw_sleeping)
      _exit (3);
    if (k.res != 0)
      _exit (4);
    _exit (view.wakeups == 1 ? 0 : 5);
  }
  t0 = zt_now_ms ();
  res = zcipc_channel_wait (&p.cons, 5000, &interrupted);
  dt = zt_now_ms () - t0;
  ck_assert_int_eq (waitpid (child, &status, 0), child);
  ck_assert_msg (WIFEXITED (status) && WEXITSTATUS (status) == 0,
      "child status 0x%x", status);
  ck_assert_msg (res == 0, "wait: %s after %lld ms", strerror (-res),
      (long long) dt);
  ck_assert_int_lt (dt, 4000);
  pop_record (&p.cons, 42, 100);
  pair_close (&p);
}

END_TEST;

START_TEST (test_interrupt_from_another_thread_ends_a_wait)
{
  atomic_bool interrupted = false, other = false;
  struct pair p;
  struct poke k;
  pthread_t thread;
  int64_t t0, dt;
  int res;

  pair_open (&p, true);
  k = (struct poke) { &p.cons, &p.cons, &interrupted, false, -1 };
  ck_assert_int_eq (pthread_create (&thread, NULL, poke_thread, &k), 0);
  t0 = zt_now_ms ();
  res = zcipc_channel_wait (&p.cons, 5000, &interrupted);
  dt = zt_now_ms () - t0;
  pthread_join (thread, NULL);
  ck_assert (k.saw_sleeping);
  ck_assert_msg (res == 0, "wait: %s after %lld ms", strerror (-res),
      (long long) dt);
  ck_assert_int_lt (dt, 4000);
  ck_assert (atomic_load (&interrupted));
  ck_assert (!zcipc_channel_pending (&p.cons));

  /* The wake-up alone ends it too (the flag it checks is not set). */
  atomic_store (&interrupted, false);
  k = (struct poke) { &p.cons, &p.cons, &other, false, -1 };
  ck_assert_int_eq (pthread_create (&thread, NULL, poke_thread, &k), 0);
  t0 = zt_now_ms ();
  res = zcipc_channel_wait (&p.cons, 5000, &interrupted);
  dt = zt_now_ms () - t0;
  pthread_join (thread, NULL);
  ck_assert (k.saw_sleeping);
  ck_assert_msg (res == 0, "wait: %s after %lld ms", strerror (-res),
      (long long) dt);
  ck_assert_int_lt (dt, 4000);
  ck_assert_uint_eq (p.prod.wakeups, 0);
  pair_close (&p);
}

END_TEST;

/* --- end to end: a producer and its consumers ---------------------------- */

/* Longer than any stall of a loaded machine within one test. */
#define LAZY_WINDOW_NS (5000 * 1000000LL)

static struct zt_producer prod;

static void
start_producer (uint32_t quota, uint32_t max_consumers)
{
  zt_producer_start (&prod, quota, max_consumers);
}

/* Whether a frame's mems lie inside their regions' mappings and carry the
 * bytes the producer wrote there. */
static bool
frame_data_ok (const struct zcipc_client_event *ev)
{
  for (uint32_t i = 0; i < ev->frame.n_mems; i++) {
    const struct zcipc_client_mem *m = &ev->frame.mems[i];

    if (!m->region_data || m->data != m->region_data + m->offset ||
        m->offset + m->size > m->region_size)
      return false;
    for (uint64_t o = 0; o < m->size; o++)
      if (m->data[o] != zt_pattern (m->region_id, m->offset + o))
        return false;
  }
  return true;
}

/* `ev` is the frame zt_producer_send() made for `pts`, with one mem. */
static void
check_frame (const struct zcipc_client_event *ev, uint64_t pts,
    uint32_t region_id, uint64_t offset, uint64_t size)
{
  ck_assert_int_eq (ev->type, ZCIPC_CLIENT_FRAME);
  ck_assert_uint_eq (ev->frame.info.pts, pts);
  ck_assert_uint_eq (ev->frame.info.dts, pts + 1);
  ck_assert_uint_eq (ev->frame.info.duration, 1000);
  ck_assert_uint_eq (ev->frame.info.offset, pts * 2);
  ck_assert_uint_eq (ev->frame.info.offset_end, pts * 2 + 1);
  ck_assert_uint_eq (ev->frame.info.flags, (uint32_t) pts ^ 0xa5a5u);
  ck_assert_uint_eq (ev->frame.n_mems, 1);
  ck_assert_uint_eq (ev->frame.mems[0].region_id, region_id);
  ck_assert_uint_eq (ev->frame.mems[0].offset, offset);
  ck_assert_uint_eq (ev->frame.mems[0].size, size);
  ck_assert_msg (frame_data_ok (ev), "frame %llu: wrong bytes",
      (unsigned long long) pts);
}

/* Waits until the producer read every release (the server thread reads
 * those sent by socket when it gets to it): a consumer then has its whole
 * quota for the next frames. */
static void
settle_releases (void)
{
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).held == 0, 5000);
}

/* Sends a frame that `c` receives, checks and releases. Not lazily: it
 * waits for the releases before. */
static void
exchange_frame (struct zcipc_client *c, uint64_t pts)
{
  struct zcipc_client_event ev;
  unsigned int n_sent = 0;

  settle_releases ();
  zt_producer_send (&prod, 1, 64 * (pts % 64), 64, pts, &n_sent);
  ck_assert_uint_ge (n_sent, 1);
  zt_client_next_frame (c, &ev, 5000);
  check_frame (&ev, pts, 1, 64 * (pts % 64), 64);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
}

/* zcipc_client_next() in another thread. */
struct next_job
{
  struct zcipc_client *client;
  int timeout_ms;
  int res;
  int64_t done_ms;
  struct zcipc_client_event ev;
};

static void *
next_thread (void *data)
{
  struct next_job *job = data;

  job->res = zcipc_client_next (job->client, &job->ev, job->timeout_ms);
  job->done_ms = zt_now_ms ();
  return NULL;
}

/* Starts next_thread() and returns once it sleeps for a message. */
static void
start_sleeping_next (struct next_job *job, pthread_t * thread,
    struct zcipc_client *c, int timeout_ms)
{
  uint64_t sleeps = zcipc_client_sleeps (c);

  *job = (struct next_job) {.client = c,.timeout_ms = timeout_ms,.res = 1 };
  ck_assert_int_eq (pthread_create (thread, NULL, next_thread, job), 0);
  ZT_ASSERT_EVENTUALLY (zcipc_client_sleeps (c) > sleeps, 5000);
  zt_sleep_ms (20);             /* into its wait, most likely */
}

/* A consumer thread that takes `n` frames of pts first_pts, first_pts + 1
 * ..., checking their bytes (and, if `first_region`, that frame i is in
 * region first_region + i), and releases each at once. */
struct consumer_job
{
  struct zcipc_client *client;
  unsigned int n;
  uint64_t first_pts;
  uint32_t first_region;
  atomic_uint received;
  int res;
  char why[256];
};

static void *
consume_thread (void *data)
{
  struct consumer_job *job = data;

  for (unsigned int i = 0; i < job->n; i++) {
    struct zcipc_client_event ev;
    int res = zcipc_client_next (job->client, &ev, 5000);
    bool ok;

    if (res < 0) {
      job->res = res;
      snprintf (job->why, sizeof job->why, "frame %u: %s (%s)", i,
          zt_strerror (res), zcipc_client_reason (job->client));
      return NULL;
    }
    if (ev.type != ZCIPC_CLIENT_FRAME) {
      job->res = -EBADMSG;
      snprintf (job->why, sizeof job->why, "frame %u: event %d instead", i,
          (int) ev.type);
      return NULL;
    }
    ok = ev.frame.info.pts == job->first_pts + i && frame_data_ok (&ev) &&
        (!job->first_region ||
        ev.frame.mems[0].region_id == job->first_region + i);
    zcipc_client_release (job->client, ev.frame.info.seq);
    if (!ok) {
      job->res = -EBADMSG;
      snprintf (job->why, sizeof job->why, "frame %u: pts %llu, region %u, "
          "or its bytes are wrong", i,
          (unsigned long long) ev.frame.info.pts, ev.frame.mems[0].region_id);
      return NULL;
    }
    atomic_fetch_add (&job->received, 1);
  }
  return NULL;
}

START_TEST (test_default_client_gets_a_channel_and_frames_in_order)
{
  struct zcipc_server_stats stats;
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  unsigned int n_sent;
  uint64_t seq = 0;

  start_producer (8, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 8);
  for (uint64_t round = 0; round < 6; round++) {
    settle_releases ();
    for (uint64_t i = 1; i <= 5; i++) {
      uint64_t pts = round * 5 + i;
      zt_producer_send (&prod, 1, pts * 1000, 100 + pts * 37, pts, &n_sent);
      ck_assert_uint_eq (n_sent, 1);
    }
    for (uint64_t i = 1; i <= 5; i++) {
      uint64_t pts = round * 5 + i;
      zt_client_next_frame (c, &ev, 5000);
      if (seq)
        ck_assert_uint_eq (ev.frame.info.seq, ++seq);
      else
        seq = ev.frame.info.seq;
      check_frame (&ev, pts, 1, pts * 1000, 100 + pts * 37);
      ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
    }
  }
  ck_assert (zcipc_client_has_channel (c));
  /* The producer's mapping and ours. */
  ck_assert_int_eq (count_channel_maps (), 2);
  stats = zt_producer_stats (&prod);
  ck_assert_uint_eq (stats.frames_sent, 30);
  ck_assert_uint_eq (stats.frames_missed, 0);
  /* It never slept while a frame came: not one wake-up, where a socket
   * costs one per frame. */
  ck_assert_uint_eq (stats.wakeups, 0);
  ck_assert (!zcipc_server_last_frame_woke (prod.server));
  ck_assert_uint_eq (zcipc_client_sleeps (c), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 30, 5000);

  zcipc_client_unref (c);
  /* Both ends unmap it once the connection is gone. */
  ZT_ASSERT_EVENTUALLY (count_channel_maps () == 0, 5000);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_client_without_a_channel_still_works_beside_one_with)
{
  struct zcipc_server_stats stats;
  struct zcipc_client_event ev;
  struct zcipc_client *plain, *chan;
  unsigned int n_sent;
  int res;

  start_producer (4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  ck_assert_int_eq (zcipc_client_new (prod.path, 4, &plain), 0);
  zcipc_client_set_channel (plain, false);
  res = zcipc_client_connect (plain, 5000);
  ck_assert_msg (res == 0, "connect: %s", zt_strerror (res));
  chan = zt_client_connect (prod.path, 4);

  for (uint64_t pts = 1; pts <= 10; pts++) {
    settle_releases ();
    zt_producer_send (&prod, 1, pts * 128, 99, pts, &n_sent);
    ck_assert_uint_eq (n_sent, 2);
    zt_client_next_frame (plain, &ev, 5000);
    check_frame (&ev, pts, 1, pts * 128, 99);
    ck_assert_int_eq (zcipc_client_release (plain, ev.frame.info.seq), 0);
    zt_client_next_frame (chan, &ev, 5000);
    check_frame (&ev, pts, 1, pts * 128, 99);
    ck_assert_int_eq (zcipc_client_release (chan, ev.frame.info.seq), 0);
  }
  ck_assert (!zcipc_client_has_channel (plain));
  ck_assert (zcipc_client_has_channel (chan));
  ck_assert_int_eq (count_channel_maps (), 2);
  /* Every socket send counts as a wake-up; the channel's none. */
  stats = zt_producer_stats (&prod);
  ck_assert_uint_eq (stats.wakeups, 10);
  ck_assert (zcipc_server_last_frame_woke (prod.server));
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 20, 5000);

  zcipc_client_unref (chan);
  ZT_ASSERT_EVENTUALLY (count_channel_maps () == 0, 5000);
  exchange_frame (plain, 11);
  ck_assert (!zcipc_client_has_channel (plain));
  zcipc_client_unref (plain);
  zt_producer_stop (&prod);
}

END_TEST;

/* Lazily, a consumer that keeps up puts each release in its ring, where
 * the next frame reads it in the sending thread: no socket message, no
 * wake-up of the server thread, and none of the consumer. */
START_TEST (test_lazy_releases_of_a_busy_consumer_go_through_the_ring)
{
  enum
  { N = 200 };
  struct zcipc_server_stats stats;
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  unsigned int n_sent;

  start_producer (4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  zcipc_server_set_lazy_releases (prod.server, LAZY_WINDOW_NS);
  for (uint64_t pts = 1; pts <= N; pts++) {
    zt_producer_send (&prod, 1, 64 * (pts % 50), 64, pts, &n_sent);
    ck_assert_uint_eq (n_sent, 1);
    /* This frame read every release before it, in this thread. */
    ck_assert_int_eq (atomic_load (&prod.releases), (int) pts - 1);
    zt_client_next_frame (c, &ev, 5000);
    check_frame (&ev, pts, 1, 64 * (pts % 50), 64);
    ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
    if (pts <= 3 || pts % 50 == 0) {
      /* Not sent by socket: the server thread, which reads the socket,
       * does not see it. */
      zt_sleep_ms (30);
      ck_assert_int_eq (atomic_load (&prod.releases), (int) pts - 1);
    }
  }
  stats = zt_producer_stats (&prod);
  ck_assert_uint_eq (stats.frames_sent, N);
  ck_assert_uint_eq (stats.frames_missed, 0);
  ck_assert_uint_eq (stats.wakeups, 0);
  ck_assert (!zcipc_server_last_frame_woke (prod.server));
  ck_assert_uint_eq (zcipc_client_sleeps (c), 0);
  /* The last one is in the ring too. */
  ck_assert_uint_eq (zcipc_server_collect_releases (prod.server), 1);
  ck_assert_int_eq (atomic_load (&prod.releases), N);
  ck_assert_int_eq (atomic_load (&prod.holds), N);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* A consumer that sleeps between paced frames costs one futex wake-up a
 * frame (a socket would cost one too); its releases still come back. */
START_TEST (test_lazy_releases_of_a_sleeping_consumer_cost_one_wakeup_a_frame)
{
  enum
  { N = 40 };
  struct consumer_job job = { 0 };
  struct zcipc_server_stats stats;
  struct zcipc_client *c;
  unsigned int n_sent, woke = 0;
  pthread_t thread;
  uint64_t sleeps, wakeups;

  start_producer (4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  exchange_frame (c, 1);
  ck_assert (zcipc_client_has_channel (c));
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);
  zcipc_server_set_lazy_releases (prod.server, LAZY_WINDOW_NS);

  sleeps = zcipc_client_sleeps (c);
  wakeups = zt_producer_stats (&prod).wakeups;
  job.client = c;
  job.n = N;
  job.first_pts = 100;
  ck_assert_int_eq (pthread_create (&thread, NULL, consume_thread, &job), 0);
  for (unsigned int i = 0; i < N; i++) {
    /* It took the frame before and went to sleep for this one. */
    ck_assert_msg (ZT_WAIT_UNTIL (atomic_load (&job.received) == i &&
            zcipc_client_sleeps (c) > sleeps + i, 5000),
        "the consumer is stuck before frame %u: %s", i, job.why);
    zt_sleep_ms (3);
    zt_producer_send (&prod, 1, 64 * i, 64, 100 + i, &n_sent);
    ck_assert_uint_eq (n_sent, 1);
    if (zcipc_server_last_frame_woke (prod.server))
      woke++;
  }
  pthread_join (thread, NULL);
  ck_assert_msg (job.res == 0, "consumer: %s", job.why);
  ck_assert_uint_eq (atomic_load (&job.received), N);
  stats = zt_producer_stats (&prod);
  wakeups = stats.wakeups - wakeups;
  ck_assert_msg (wakeups >= N / 2 && wakeups <= N,
      "%llu wake-ups for %d frames to a sleeping consumer",
      (unsigned long long) wakeups, N);
  ck_assert_msg (woke >= N / 2, "%u of %d frames woke it", woke, N);
  ck_assert_uint_eq (stats.frames_missed, 0);

  zcipc_server_collect_releases (prod.server);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == N + 1, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* --- end to end: hang-ups and interrupts --------------------------------- */

START_TEST (test_orderly_free_wakes_a_consumer_sleeping_on_its_channel)
{
  struct zcipc_client *c;
  struct next_job job;
  pthread_t thread;
  int64_t t0;

  start_producer (4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  exchange_frame (c, 1);
  ck_assert (zcipc_client_has_channel (c));
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);

  start_sleeping_next (&job, &thread, c, 5000);
  t0 = zt_now_ms ();
  zt_producer_stop (&prod);
  pthread_join (thread, NULL);
  ck_assert_msg (job.res == -EPIPE, "next: %s (%s)", zt_strerror (job.res),
      zcipc_client_reason (c));
  ck_assert_msg (job.done_ms - t0 < 1000, "the hang-up took %lld ms",
      (long long) (job.done_ms - t0));
  zcipc_client_unref (c);
}

END_TEST;

static void
ignore_frame (void *data, void *frame)
{
}

/* A producer process: one region, one frame to the first consumer, then
 * nothing until it is killed. Returns an exit code if something failed. */
static int
run_child_producer (const char *path, int ready_fd)
{
  static const struct zcipc_server_callbacks callbacks = {
    .hold = ignore_frame,
    .release = ignore_frame,
  };
  struct zcipc_server_config config = {
    .path = path,
    .socket_mode = 0600,
    .quota = 4,
    .max_consumers = 4,
  };
  struct zcipc_wire_frame info = { 0 };
  struct zcipc_wire_mem mem = { 1, 0, 128, 256 };
  struct zcipc_server *server;
  struct zcipc_region region;
  static int frame;

  if (zcipc_region_create (&region, "zt-child", REGION_SIZE, 0) < 0)
    return 2;
  for (size_t o = 0; o < region.size; o++)
    ((uint8_t *) region.data)[o] = zt_pattern (1, o);
  if (zcipc_server_new (&config, &callbacks, NULL, &server) < 0)
    return 3;
  if (zcipc_server_add_region (server, 1, region.fd, region.size,
          ZCIPC_REGION_FLAG_MEMFD) < 0)
    return 4;
  if (zcipc_server_wait_consumers (server, 1, 5000 * 1000000ll) < 0)
    return 5;
  info.pts = 7;
  if (zcipc_server_send_frame (server, &info, &mem, 1, NULL, 0, &frame,
          NULL) < 0)
    return 6;
  if (write (ready_fd, "r", 1) != 1)
    return 7;
  for (;;)
    pause ();
}

struct killer
{
  struct zcipc_client *client;
  uint64_t sleeps;
  pid_t pid;
  int64_t at_ms;
};

static void *
killer_thread (void *data)
{
  struct killer *k = data;

  ZT_WAIT_UNTIL (zcipc_client_sleeps (k->client) > k->sleeps, 5000);
  zt_sleep_ms (50);
  k->at_ms = zt_now_ms ();
  kill (k->pid, SIGKILL);
  return NULL;
}

/* A producer that crashes cannot wake its consumer: the consumer finds
 * the hang-up on its socket, which it looks at every 100 ms. */
START_TEST (test_killed_producer_process_is_seen_by_a_sleeping_consumer)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  struct zt_tmpdir dir;
  struct killer k;
  pthread_t thread;
  char path[128], byte;
  int ready[2], status, res;
  int64_t done;
  pid_t child;

  zt_tmpdir_make (&dir);
  zt_tmpdir_file (&dir, "zcipc.sock", path, sizeof path);
  ck_assert_int_eq (pipe2 (ready, O_CLOEXEC), 0);
  /* Fork before this process has threads. */
  child = fork ();
  ck_assert_int_ge (child, 0);
  if (child == 0) {
    alarm (30);
    close (ready[0]);
    _exit (run_child_producer (path, ready[1]));
  }
  close (ready[1]);
  c = zt_client_connect (path, 4);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_uint_eq (ev.frame.info.pts, 7);
  ck_assert_uint_eq (ev.frame.mems[0].offset, 128);
  ck_assert (frame_data_ok (&ev));
  ck_assert (zcipc_client_has_channel (c));
  ck_assert_int_eq (read (ready[0], &byte, 1), 1);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);

  k = (struct killer) { c, zcipc_client_sleeps (c), child, 0 };
  ck_assert_int_eq (pthread_create (&thread, NULL, killer_thread, &k), 0);
  res = zcipc_client_next (c, &ev, 10000);
  done = zt_now_ms ();
  pthread_join (thread, NULL);
  ck_assert_int_eq (waitpid (child, &status, 0), child);
  ck_assert_msg (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL,
      "producer status 0x%x", status);
  ck_assert_msg (res == -EPIPE, "next: %s (%s)", zt_strerror (res),
      zcipc_client_reason (c));
  ck_assert_msg (done - k.at_ms < 3000, "the crash was seen after %lld ms",
      (long long) (done - k.at_ms));
  zcipc_client_unref (c);
  close (ready[0]);
  zt_tmpdir_remove (&dir);
}

END_TEST;

START_TEST (test_interrupt_ends_a_next_sleeping_on_the_channel)
{
  struct zcipc_client *c;
  struct next_job job;
  pthread_t thread;
  int64_t t0;

  start_producer (4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  exchange_frame (c, 1);
  ck_assert (zcipc_client_has_channel (c));

  start_sleeping_next (&job, &thread, c, 10000);
  t0 = zt_now_ms ();
  zcipc_client_set_interrupted (c, true);
  pthread_join (thread, NULL);
  ck_assert_msg (job.res == -ECANCELED, "next: %s (%s)",
      zt_strerror (job.res), zcipc_client_reason (c));
  ck_assert_msg (job.done_ms - t0 < 2000, "the interrupt took %lld ms",
      (long long) (job.done_ms - t0));

  /* The connection is intact. */
  zcipc_client_set_interrupted (c, false);
  exchange_frame (c, 2);
  ck_assert (zcipc_client_has_channel (c));
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* --- end to end: messages with fds --------------------------------------- */

/* A REGION_ADD carries an fd, so it goes by socket with a marker in the
 * ring at its place: it is read before the frames sent after it, and after
 * those sent before. */
START_TEST (test_region_added_between_frames_arrives_in_order)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  uint64_t seqs[4];

  start_producer (8, 8);
  zt_producer_add_region (&prod, 1, 4096);
  c = zt_client_connect (prod.path, 8);
  exchange_frame (c, 1);
  ck_assert (zcipc_client_has_channel (c));

  zt_producer_send (&prod, 1, 0, 100, 2, NULL);
  zt_producer_add_region (&prod, 2, 8192);
  zt_producer_send (&prod, 2, 4096, 200, 3, NULL);
  ck_assert_int_eq (zcipc_server_send_event (prod.server, 5, "between", 7,
          false), 0);
  zt_producer_add_region (&prod, 3, 4096);
  ck_assert_int_eq (zcipc_server_remove_region (prod.server, 1), 0);
  zt_producer_send (&prod, 3, 0, 4096, 4, NULL);
  zt_producer_send (&prod, 2, 0, 64, 5, NULL);

  zt_client_next_frame (c, &ev, 5000);
  check_frame (&ev, 2, 1, 0, 100);
  seqs[0] = ev.frame.info.seq;
  zt_client_next_frame (c, &ev, 5000);
  check_frame (&ev, 3, 2, 4096, 200);
  seqs[1] = ev.frame.info.seq;
  ck_assert_int_eq (zcipc_client_next (c, &ev, 5000), 0);
  ck_assert_int_eq (ev.type, ZCIPC_CLIENT_EVENT);
  ck_assert_uint_eq (ev.event.kind, 5);
  ck_assert_uint_eq (ev.event.size, 7);
  ck_assert_mem_eq (ev.event.payload, "between", 7);
  zt_client_next_frame (c, &ev, 5000);
  check_frame (&ev, 4, 3, 0, 4096);
  seqs[2] = ev.frame.info.seq;
  zt_client_next_frame (c, &ev, 5000);
  check_frame (&ev, 5, 2, 0, 64);
  seqs[3] = ev.frame.info.seq;
  /* Region 1 stays mapped while frame 2 is held. */
  ck_assert_uint_eq (zcipc_client_n_regions (c), 3);
  for (int i = 0; i < 4; i++)
    ck_assert_int_eq (zcipc_client_release (c, seqs[i]), 0);
  ck_assert_uint_eq (zcipc_client_n_regions (c), 2);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 5, 5000);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

START_TEST (test_regions_added_while_the_consumer_sleeps_arrive_in_order)
{
  enum
  { N = 6 };
  struct consumer_job job = { 0 };
  struct zcipc_client *c;
  pthread_t thread;
  uint64_t sleeps;

  start_producer (4, 8);
  zt_producer_add_region (&prod, 1, 4096);
  c = zt_client_connect (prod.path, 4);
  exchange_frame (c, 1);
  ck_assert (zcipc_client_has_channel (c));

  sleeps = zcipc_client_sleeps (c);
  job.client = c;
  job.n = N;
  job.first_pts = 10;
  job.first_region = 2;
  ck_assert_int_eq (pthread_create (&thread, NULL, consume_thread, &job), 0);
  for (unsigned int i = 0; i < N; i++) {
    ck_assert_msg (ZT_WAIT_UNTIL (atomic_load (&job.received) == i &&
            zcipc_client_sleeps (c) > sleeps + i, 5000),
        "the consumer is stuck before frame %u: %s", i, job.why);
    /* Sometimes past its look at the socket (every 100 ms). */
    settle_releases ();
    zt_sleep_ms (i % 2 ? 110 : 2);
    zt_producer_add_region (&prod, 2 + i, 4096);
    zt_producer_send (&prod, 2 + i, 512, 1024, 10 + i, NULL);
  }
  pthread_join (thread, NULL);
  ck_assert_msg (job.res == 0, "consumer: %s", job.why);
  ck_assert_uint_eq (atomic_load (&job.received), N);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == N + 1, 5000);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* Events too large for the ring go by socket, behind a marker: in order
 * with those that fit and with frames. */
START_TEST (test_events_too_large_for_the_ring_arrive_in_order)
{
  static uint8_t payload[100 * 1024];
  const uint32_t sizes[] = { 0, MAX_RECORD - 16, MAX_RECORD - 15,
    sizeof payload, 5
  };
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  uint64_t pts = 2;

  for (size_t i = 0; i < sizeof payload; i++)
    payload[i] = (uint8_t) (i * 13 + (i >> 10));
  start_producer (8, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 8);
  exchange_frame (c, 1);
  ck_assert (zcipc_client_has_channel (c));

  for (uint32_t i = 0; i < N_ELEMENTS (sizes); i++) {
    ck_assert_int_eq (zcipc_server_send_event (prod.server, 100 + i, payload,
            sizes[i], false), 0);
    zt_producer_send (&prod, 1, 64 * i, 64, pts + i, NULL);
  }
  for (uint32_t i = 0; i < N_ELEMENTS (sizes); i++) {
    ck_assert_int_eq (zcipc_client_next (c, &ev, 5000), 0);
    ck_assert_int_eq (ev.type, ZCIPC_CLIENT_EVENT);
    ck_assert_uint_eq (ev.event.kind, 100 + i);
    ck_assert_uint_eq (ev.event.size, sizes[i]);
    if (sizes[i])
      ck_assert_mem_eq (ev.event.payload, payload, sizes[i]);
    zt_client_next_frame (c, &ev, 5000);
    check_frame (&ev, pts + i, 1, 64 * i, 64);
    ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  }
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* A consumer the producer drops (here for the wait timeout) while it
 * sleeps on its channel hears why, not just a hang-up. */
START_TEST (test_consumer_dropped_while_sleeping_hears_why)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  struct next_job job;
  pthread_t thread;

  start_producer (1, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 1);
  zt_producer_send (&prod, 1, 0, 64, 1, NULL);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert (zcipc_client_has_channel (c));

  start_sleeping_next (&job, &thread, c, 5000);
  ck_assert_int_eq (zcipc_server_wait_room (prod.server, 100 * 1000000ll), 0);
  pthread_join (thread, NULL);
  ck_assert_msg (job.res == -ECONNABORTED, "next: %s (%s)",
      zt_strerror (job.res), zcipc_client_reason (c));
  ck_assert_msg (strstr (zcipc_client_reason (c), "wait timeout"),
      "reason: %s", zcipc_client_reason (c));
  ck_assert_msg (ZT_WAIT_UNTIL (zt_producer_left_with (&prod,
              "wait timeout"), 5000), "reasons: %s", prod.left_reasons);
  ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  zcipc_client_unref (c);
  zt_producer_stop (&prod);
}

END_TEST;

/* A new connection gets a new channel, the old one is unmapped, and a
 * frame of the old connection released afterwards goes to nobody: not
 * into the new channel, where the producer would take it for a lie. */
START_TEST (test_reconnect_gets_a_fresh_channel)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  uint64_t old_seq;
  int res;

  start_producer (4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  exchange_frame (c, 1);
  zcipc_server_set_lazy_releases (prod.server, LAZY_WINDOW_NS);
  zt_producer_send (&prod, 1, 0, 64, 2, NULL);
  zt_client_next_frame (c, &ev, 5000);
  old_seq = ev.frame.info.seq;
  ck_assert_int_eq (count_channel_maps (), 2);

  res = zcipc_client_connect (c, 5000);
  ck_assert_msg (res == 0, "reconnect: %s", zt_strerror (res));
  /* The producer took the old connection's hold back. */
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 2, 5000);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 1, 5000);
  for (uint64_t pts = 3; pts < 6; pts++) {
    zt_producer_send (&prod, 1, 64 * pts, 64, pts, NULL);
    zt_client_next_frame (c, &ev, 5000);
    check_frame (&ev, pts, 1, 64 * pts, 64);
    if (pts == 3)
      ck_assert_int_eq (zcipc_client_release (c, old_seq), 0);
    ck_assert_int_eq (zcipc_client_release (c, ev.frame.info.seq), 0);
  }
  ck_assert (zcipc_client_has_channel (c));
  /* The old channel is unmapped on both sides. */
  ZT_ASSERT_EVENTUALLY (count_channel_maps () == 2, 5000);
  zcipc_server_collect_releases (prod.server);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 5, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 0);
  zcipc_client_unref (c);
  ZT_ASSERT_EVENTUALLY (count_channel_maps () == 0, 5000);
  zt_producer_stop (&prod);
}

END_TEST;

/* A consumer that stops while holding frames says LEAVE: its holds stay
 * until it releases them, lazily through its ring. */
START_TEST (test_leaving_consumer_releases_its_last_frames_through_the_ring)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c, *other;
  uint64_t seqs[2];

  start_producer (4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  c = zt_client_connect (prod.path, 4);
  other = zt_client_connect (prod.path, 4);
  exchange_frame (c, 1);
  zt_client_next_frame (other, &ev, 5000);
  ck_assert_int_eq (zcipc_client_release (other, ev.frame.info.seq), 0);
  settle_releases ();
  zcipc_server_set_lazy_releases (prod.server, LAZY_WINDOW_NS);
  for (int i = 0; i < 2; i++) {
    zt_producer_send (&prod, 1, 64 * i, 64, 2 + i, NULL);
    zt_client_next_frame (c, &ev, 5000);
    seqs[i] = ev.frame.info.seq;
    zt_client_next_frame (other, &ev, 5000);
    ck_assert_int_eq (zcipc_client_release (other, ev.frame.info.seq), 0);
  }

  zcipc_client_disconnect (c);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 1, 5000);
  /* Gone from the stream, its holds kept (the other one's release is read
   * here). */
  zcipc_server_collect_releases (prod.server);
  zt_sleep_ms (30);
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 2);
  ck_assert_int_eq (atomic_load (&prod.left), 0);

  /* Frames go on for the other one, and each reads both rings. */
  zt_producer_send (&prod, 1, 256, 64, 4, NULL);
  zt_client_next_frame (other, &ev, 5000);
  ck_assert_int_eq (zcipc_client_release (other, ev.frame.info.seq), 0);
  ck_assert_int_eq (zcipc_client_release (c, seqs[0]), 0);
  zt_producer_send (&prod, 1, 320, 64, 5, NULL);
  /* One of the leaving one's, frame 5 of the other's. */
  ck_assert_uint_eq (zt_producer_stats (&prod).held, 2);
  zt_client_next_frame (other, &ev, 5000);
  ck_assert_int_eq (zcipc_client_release (other, ev.frame.info.seq), 0);
  ck_assert_int_eq (zcipc_client_release (c, seqs[1]), 0);
  zcipc_server_collect_releases (prod.server);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.left) == 1, 5000);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) ==
      atomic_load (&prod.holds), 5000);
  ck_assert_int_eq (atomic_load (&prod.holds), 1 + 1 + 2 + 2 + 1 + 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);
  zcipc_client_unref (c);
  zcipc_client_unref (other);
  zt_producer_stop (&prod);
}

END_TEST;

/* --- hostile consumers --------------------------------------------------- */

/* A raw consumer that asks for a channel and maps it read-write as any
 * consumer does, into `ch` (its indices start where the producer's are).
 * Returns its socket. */
static int
hostile_connect (struct zcipc_channel *ch)
{
  static union zt_msg_buf buf;
  struct zcipc_wire_hello hello;
  size_t n = zcipc_wire_init_hello (&hello, 4);
  bool welcomed = false;
  int fd;

  memset (ch, 0, sizeof *ch);
  ch->fd = -1;
  ck_assert_int_eq (zcipc_socket_connect (prod.path, &fd), 0);
  hello.flags = ZCIPC_HELLO_FLAG_CHANNEL;
  ck_assert_int_eq (zt_send_raw (fd, &hello, n, NULL, 0), 0);
  while (ch->fd < 0) {
    int fds[ZCIPC_SOCKET_MAX_FDS];
    struct zcipc_message msg;
    unsigned int n_fds = 0;
    size_t len = 0;
    int res = zt_recv (fd, 5000, buf.bytes, sizeof buf.bytes, &len, fds,
        ZCIPC_SOCKET_MAX_FDS, &n_fds);

    ck_assert_msg (res == 0 && len > 0, "no CHANNEL came: %d", res);
    ck_assert_int_eq (zcipc_wire_parse (buf.bytes, len, fds, n_fds, &msg), 0);
    if (msg.type == ZCIPC_WIRE_WELCOME) {
      welcomed = true;
    } else {
      /* Right after WELCOME. */
      ck_assert (welcomed);
      ck_assert_int_eq (msg.type, ZCIPC_WIRE_CHANNEL);
      ck_assert_uint_eq (n_fds, 1);
      ch->fd = msg.channel.fd;
      ch->size = msg.channel.info.size;
    }
  }
  ch->shared = mmap (NULL, ch->size, PROT_READ | PROT_WRITE, MAP_SHARED,
      ch->fd, 0);
  ck_assert_ptr_ne (ch->shared, MAP_FAILED);
  ch->ring_pos = atomic_load (sh_u64 (ch, SH_RING_TAIL));
  ch->release_pos = atomic_load (sh_u64 (ch, SH_RELEASE_HEAD));
  return fd;
}

/* Takes the next frame from a raw consumer's channel (and the socket
 * messages its markers point to); returns its seq. */
static uint64_t
hostile_take_frame (int fd, struct zcipc_channel *ch)
{
  static union zt_msg_buf buf;
  int64_t deadline = zt_now_ms () + 5000;

  for (;;) {
    enum zcipc_channel_record kind;
    struct zcipc_message msg;
    size_t len = 0;
    int res = zcipc_channel_pop (ch, buf.bytes, sizeof buf.bytes, &len,
        &kind);

    if (res == -EAGAIN) {
      ck_assert_msg (zt_now_ms () < deadline, "no frame in the channel");
      zt_sleep_ms (1);
      continue;
    }
    ck_assert_int_eq (res, 0);
    if (kind == ZCIPC_CHANNEL_RECORD_SOCKET) {
      int fds[ZCIPC_SOCKET_MAX_FDS];
      unsigned int n_fds = 0;

      ck_assert_int_eq (zt_recv (fd, 5000, buf.bytes, sizeof buf.bytes, &len,
              fds, ZCIPC_SOCKET_MAX_FDS, &n_fds), 0);
      for (unsigned int i = 0; i < n_fds; i++)
        close (fds[i]);
      continue;
    }
    ck_assert_int_eq (zcipc_wire_parse (buf.bytes, len, NULL, 0, &msg), 0);
    if (msg.type == ZCIPC_WIRE_FRAME)
      return msg.frame.info.seq;
  }
}

static void
send_wake (int fd)
{
  struct zcipc_wire_wake m;
  size_t n = zcipc_wire_init_wake (&m);
  ck_assert_int_eq (zt_send_raw (fd, &m, n, NULL, 0), 0);
}

/* The hostile consumer is gone, and only it: `legit` keeps receiving. */
static void
expect_dropped_alone (int fd, struct zcipc_channel *hostile,
    struct zcipc_client *legit, const char *reason, uint64_t first_pts,
    int baseline)
{
  ck_assert_msg (zt_wait_hang_up (fd, 5000), "the hostile consumer is still "
      "connected");
  ck_assert_msg (ZT_WAIT_UNTIL (zt_producer_left_with (&prod, reason), 5000),
      "no '%s' among the reasons consumers left for:\n%s", reason,
      prod.left_reasons);
  ck_assert_int_eq (atomic_load (&prod.left), 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 1);
  for (uint64_t pts = first_pts; pts < first_pts + 3; pts++)
    exchange_frame (legit, pts);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers, 1);
  zcipc_channel_clear (hostile);
  close (fd);
  ck_assert_msg (zt_wait_fd_count (baseline, 5000), "fds: %d, were %d",
      zt_count_fds (), baseline);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.holds) ==
      atomic_load (&prod.releases), 5000);
}

/* One that claims to have read what was never written is dropped by the
 * next frame's send, which goes on to the others. */
START_TEST (test_consumer_scribbling_its_ring_tail_is_dropped_at_the_next_frame)
{
  struct zcipc_channel hostile;
  struct zcipc_client_event ev;
  struct zcipc_client *legit;
  unsigned int n_sent = 0;
  int baseline, fd;

  start_producer (4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  legit = zt_client_connect (prod.path, 4);
  exchange_frame (legit, 1);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);
  baseline = zt_count_fds ();

  fd = hostile_connect (&hostile);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 2, 5000);
  /* A frame it reads and gives back properly: that is not held against
   * it. */
  zt_producer_send (&prod, 1, 0, 64, 2, &n_sent);
  ck_assert_uint_eq (n_sent, 2);
  ck_assert_int_eq (zcipc_channel_push_release (&hostile,
          hostile_take_frame (fd, &hostile)), 1);
  send_wake (fd);
  zt_client_next_frame (legit, &ev, 5000);
  check_frame (&ev, 2, 1, 0, 64);
  ck_assert_int_eq (zcipc_client_release (legit, ev.frame.info.seq), 0);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 3, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);

  atomic_store (sh_u64 (&hostile, SH_RING_TAIL),
      atomic_load (sh_u64 (&hostile, SH_RING_HEAD)) + 4096 + 3);
  zt_producer_send (&prod, 1, 0, 64, 3, &n_sent);
  /* Dropped by that very send, which only the other one got. */
  ck_assert_uint_eq (n_sent, 1);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 1);
  zt_client_next_frame (legit, &ev, 5000);
  check_frame (&ev, 3, 1, 0, 64);
  ck_assert_int_eq (zcipc_client_release (legit, ev.frame.info.seq), 0);
  expect_dropped_alone (fd, &hostile, legit, "channel", 4, baseline);
  zcipc_client_unref (legit);
  zt_producer_stop (&prod);
}

END_TEST;

/* One whose release ring says what cannot be is dropped when the producer
 * reads it (here, on its WAKE). */
static void
run_release_ring_attack (uint64_t head, uint64_t seq, const char *reason)
{
  struct zcipc_channel hostile;
  struct zcipc_client *legit;
  int baseline, fd;

  start_producer (4, 8);
  zt_producer_add_region (&prod, 1, REGION_SIZE);
  legit = zt_client_connect (prod.path, 4);
  exchange_frame (legit, 1);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 1, 5000);
  baseline = zt_count_fds ();

  fd = hostile_connect (&hostile);
  ZT_ASSERT_EVENTUALLY (zt_producer_stats (&prod).consumers == 2, 5000);
  /* A WAKE with nothing wrong in the ring is harmless. */
  send_wake (fd);
  exchange_frame (legit, 2);
  ck_assert_int_eq (zcipc_channel_push_release (&hostile,
          hostile_take_frame (fd, &hostile)), 1);
  send_wake (fd);
  ZT_ASSERT_EVENTUALLY (atomic_load (&prod.releases) == 3, 5000);
  ck_assert_uint_eq (zt_producer_stats (&prod).consumers_dropped, 0);

  ((uint64_t *) ((uint8_t *) hostile.shared +
          SH_RELEASE_RING))[hostile.release_pos % ZCIPC_CHANNEL_RELEASES] = seq;
  atomic_store (sh_u64 (&hostile, SH_RELEASE_HEAD), head ? head :
      hostile.release_pos + 1);
  send_wake (fd);
  expect_dropped_alone (fd, &hostile, legit, reason, 3, baseline);
  zcipc_client_unref (legit);
  zt_producer_stop (&prod);
}

START_TEST (test_consumer_scribbling_its_release_head_is_dropped)
{
  run_release_ring_attack (1000, 0, "channel");
}

END_TEST;

START_TEST (test_consumer_releasing_an_unheld_frame_by_its_ring_is_dropped)
{
  run_release_ring_attack (0, 12345, "released frame 12345, which it does "
      "not hold");
}

END_TEST;

/* --- hostile producers --------------------------------------------------- */

static struct zt_fake_producer fake = {.listen_fd = -1 };

static void
fake_setup (void)
{
  zt_ensure_stdin ();
  zt_fake_producer_listen (&fake);
}

static void
fake_teardown (void)
{
  zt_fake_producer_close (&fake);
}

/* A client (asking for a channel unless `use_channel` is false) connected
 * to the test playing its producer; *pfd is the producer's end, *flags its
 * HELLO's. */
static struct zcipc_client *
fake_connect (bool use_channel, int *pfd, uint32_t * flags)
{
  struct zcipc_client *c;
  int res;

  ck_assert_int_eq (zcipc_client_new (fake.path, 4, &c), 0);
  if (!use_channel)
    zcipc_client_set_channel (c, false);
  res = zt_fake_producer_connect_full (fake.listen_fd, c, 4, pfd, flags);
  ck_assert_msg (res == 0, "connect: %s (%s)", zt_strerror (res),
      zcipc_client_reason (c));
  return c;
}

/* Sends CHANNEL with `fd` (of `size` bytes). */
static void
fake_send_channel (int pfd, int fd, uint64_t size)
{
  struct zcipc_wire_channel m;
  size_t n = zcipc_wire_init_channel (&m, size);
  ck_assert_int_eq (zt_send_raw (pfd, &m, n, &fd, 1), 0);
}

/* A region whose bytes are zt_pattern (id, offset), by socket. */
static void
fake_send_region (int pfd, uint32_t id, size_t size)
{
  struct zcipc_wire_region_add m;
  struct zcipc_region r;
  size_t n;

  ck_assert_int_eq (zcipc_region_create (&r, "zt-fake", size, 0), 0);
  for (size_t o = 0; o < r.size; o++)
    ((uint8_t *) r.data)[o] = zt_pattern (id, o);
  n = zcipc_wire_init_region_add (&m, id, ZCIPC_REGION_FLAG_MEMFD, r.size);
  ck_assert_int_eq (zt_send_raw (pfd, &m, n, &r.fd, 1), 0);
  zcipc_region_clear (&r);
}

static void
fake_push_marker (struct zcipc_channel *ch)
{
  ck_assert_int_eq (zcipc_channel_push (ch, ZCIPC_CHANNEL_RECORD_SOCKET, NULL,
          0), 0);
}

static void
fake_push_frame (struct zcipc_channel *ch, uint64_t seq, uint32_t region_id,
    uint64_t offset, uint64_t size)
{
  static union zt_msg_buf buf;
  struct iovec iov = { buf.bytes, 0 };

  iov.iov_len = zt_build_frame (&buf, seq, region_id, offset, size);
  ck_assert_int_eq (zcipc_channel_push (ch, ZCIPC_CHANNEL_RECORD_MESSAGE,
          &iov, 1), 0);
}

static void
expect_channel_frame (struct zcipc_client_event *ev, uint64_t seq,
    uint32_t region_id, uint64_t offset, uint64_t size)
{
  ck_assert_int_eq (ev->type, ZCIPC_CLIENT_FRAME);
  ck_assert_uint_eq (ev->frame.info.seq, seq);
  ck_assert_uint_eq (ev->frame.mems[0].region_id, region_id);
  ck_assert_uint_eq (ev->frame.mems[0].offset, offset);
  ck_assert_uint_eq (ev->frame.mems[0].size, size);
  ck_assert (frame_data_ok (ev));
}

START_TEST (test_client_asks_for_a_channel_unless_told_not_to)
{
  struct zcipc_client_event ev;
  struct zcipc_client *c;
  uint32_t flags;
  int pfd;

  c = fake_connect (true, &pfd, &flags);
  ck_assert_uint_eq (flags, ZCIPC_HELLO_FLAG_CHANNEL);
  /* A producer that offers none: the socket it is. */
  ck_assert_int_eq (zcipc_client_next (c, &ev, 10), -EAGAIN);
  ck_assert (!zcipc_client_has_channel (c));
  zcipc_client_unref (c);
  close (pfd);

  c = fake_connect (false, &pfd, &flags);
  ck_assert_uint_eq (flags, 0);
  zcipc_client_unref (c);
  close (pfd);
  ck_assert (zt_wait_fd_count (fake.baseline_fds, 5000));
}

END_TEST;

/* The client reads the ring in order, going to its socket where a marker
 * says so; a socket message it read before its marker (it looks at the
 * socket while the ring is empty) is not read twice. */
START_TEST (test_client_follows_socket_markers_in_its_channel)
{
  static union zt_msg_buf buf;
  struct zcipc_client_event ev;
  struct zcipc_wire_event em;
  struct zcipc_channel ch;
  struct zcipc_message msg;
  struct zcipc_client *c;
  struct next_job job;
  pthread_t thread;
  struct iovec iov[2] = { {&em, 0}, {(void *) "inline", 6} };
  uint32_t flags;
  int pfd;

  c = fake_connect (true, &pfd, &flags);
  ck_assert_int_eq (zcipc_channel_create (&ch, false), 0);
  fake_send_channel (pfd, ch.fd, ch.size);
  fake_send_region (pfd, 1, 4096);
  fake_push_marker (&ch);
  fake_push_frame (&ch, 1, 1, 0, 64);
  zt_client_next_frame (c, &ev, 5000);
  expect_channel_frame (&ev, 1, 1, 0, 64);
  ck_assert (zcipc_client_has_channel (c));

  iov[0].iov_len = zcipc_wire_init_event (&em, 9, 6);
  ck_assert_int_eq (zcipc_channel_push (&ch, ZCIPC_CHANNEL_RECORD_MESSAGE,
          iov, 2), 0);
  ck_assert_int_eq (zcipc_client_next (c, &ev, 5000), 0);
  ck_assert_int_eq (ev.type, ZCIPC_CLIENT_EVENT);
  ck_assert_uint_eq (ev.event.kind, 9);
  ck_assert_mem_eq (ev.event.payload, "inline", 6);

  /* A region on the socket whose marker is late. */
  start_sleeping_next (&job, &thread, c, 5000);
  fake_send_region (pfd, 2, 4096);
  ck_assert_msg (ZT_WAIT_UNTIL (zcipc_client_n_regions (c) == 2, 5000),
      "the client did not read the region before its marker");
  fake_push_marker (&ch);
  fake_push_frame (&ch, 2, 2, 128, 256);
  pthread_join (thread, NULL);
  ck_assert_msg (job.res == 0, "next: %s (%s)", zt_strerror (job.res),
      zcipc_client_reason (c));
  expect_channel_frame (&job.ev, 2, 2, 128, 256);

  /* Releases go in the ring while the producer reads them there... */
  ck_assert_int_eq (zcipc_client_release (c, 1), 0);
  ck_assert_int_eq (zcipc_client_release (c, 2), 0);
  expect_releases (&ch, 2, (const uint64_t[]) { 1, 2 });
  /* ...and by socket once it wants them there. */
  fake_push_frame (&ch, 3, 1, 0, 16);
  zt_client_next_frame (c, &ev, 5000);
  expect_channel_frame (&ev, 3, 1, 0, 16);
  zcipc_channel_set_releases_by_socket (&ch, true);
  ck_assert_int_eq (zcipc_client_release (c, 3), 0);
  ck_assert_int_eq (zt_recv_type (pfd, ZCIPC_WIRE_RELEASE, 5000, &buf, &msg),
      0);
  ck_assert_uint_eq (msg.release.count, 1);
  ck_assert_uint_eq (msg.release.seqs[0], 3);
  expect_releases (&ch, 0, NULL);

  /* A hang-up without a marker is found on the socket. */
  start_sleeping_next (&job, &thread, c, 5000);
  close (pfd);
  pthread_join (thread, NULL);
  ck_assert_msg (job.res == -EPIPE, "next: %s (%s)", zt_strerror (job.res),
      zcipc_client_reason (c));
  zcipc_client_unref (c);
  zcipc_channel_clear (&ch);
  ck_assert (zt_wait_fd_count (fake.baseline_fds, 5000));
}

END_TEST;

START_TEST (test_client_refuses_an_impossible_record_in_its_channel)
{
  struct zcipc_client_event ev;
  struct zcipc_channel ch;
  struct zcipc_client *c;
  uint32_t flags;
  int pfd, res;

  c = fake_connect (true, &pfd, &flags);
  ck_assert_int_eq (zcipc_channel_create (&ch, false), 0);
  fake_send_channel (pfd, ch.fd, ch.size);
  fake_send_region (pfd, 1, 4096);
  fake_push_marker (&ch);
  fake_push_frame (&ch, 1, 1, 0, 64);
  zt_client_next_frame (c, &ev, 5000);
  ck_assert_int_eq (zcipc_client_release (c, 1), 0);

  atomic_store (sh_u64 (&ch, SH_RING_HEAD), ch.ring_pos + 12);
  res = zcipc_client_next (c, &ev, 5000);
  ck_assert_msg (res == -EPROTO, "next: %s", zt_strerror (res));
  ck_assert_msg (strstr (zcipc_client_reason (c), "channel"),
      "reason: %s", zcipc_client_reason (c));
  zcipc_client_unref (c);
  close (pfd);
  zcipc_channel_clear (&ch);
  ck_assert (zt_wait_fd_count (fake.baseline_fds, 5000));
}

END_TEST;

START_TEST (test_client_refuses_an_unsealed_or_unasked_for_channel)
{
  struct zcipc_client_event ev;
  struct zcipc_channel ch;
  struct zcipc_client *c;
  uint32_t flags;
  int pfd, res, fd, maps;

  ck_assert_int_eq (zcipc_channel_create (&ch, true), 0);
  maps = zt_count_maps ();

  /* Laid out right, but the producer could shrink it under us. */
  c = fake_connect (true, &pfd, &flags);
  fd = forge_channel (ch.size, 0, CHANNEL_MAGIC, CHANNEL_VERSION,
      ZCIPC_CHANNEL_RING_SIZE, ZCIPC_CHANNEL_RELEASES);
  fake_send_channel (pfd, fd, ch.size);
  close (fd);
  res = zcipc_client_next (c, &ev, 5000);
  ck_assert_msg (res == -EPROTO, "next: %s", zt_strerror (res));
  ck_assert_msg (strstr (zcipc_client_reason (c), "unsealed"),
      "reason: %s", zcipc_client_reason (c));
  ck_assert (!zcipc_client_has_channel (c));
  ck_assert_int_eq (zt_count_maps (), maps);
  zcipc_client_unref (c);
  close (pfd);

  /* A good one, to a client that did not ask. */
  c = fake_connect (false, &pfd, &flags);
  fake_send_channel (pfd, ch.fd, ch.size);
  res = zcipc_client_next (c, &ev, 5000);
  ck_assert_msg (res == -EPROTO, "next: %s", zt_strerror (res));
  ck_assert_msg (strstr (zcipc_client_reason (c), "did not ask"),
      "reason: %s", zcipc_client_reason (c));
  ck_assert (!zcipc_client_has_channel (c));
  ck_assert_int_eq (zt_count_maps (), maps);
  zcipc_client_unref (c);
  close (pfd);
  zcipc_channel_clear (&ch);
  ck_assert (zt_wait_fd_count (fake.baseline_fds, 5000));
}

END_TEST;

static Suite *
channel_suite (void)
{
  Suite *s = suite_create ("channel");
  TCase *tc = tcase_create ("records");

  tcase_add_test (tc, test_create_and_import_share_one_sealed_memfd);
  tcase_add_test (tc, test_messages_round_trip_in_order);
  tcase_add_test (tc, test_records_wrap_the_ring_in_order);
  tcase_add_test (tc, test_push_says_eagain_when_full_and_succeeds_after_pops);
  tcase_add_test (tc, test_records_above_the_maximum_are_refused);
  tcase_add_test (tc, test_a_record_size_that_wraps_32_bits_is_refused);
  suite_add_tcase (s, tc);

  tc = tcase_create ("releases");
  tcase_add_test (tc, test_releases_round_trip_and_fill_up);
  tcase_add_test (tc,
      test_push_release_asks_for_a_wake_after_the_switch_to_socket);
  suite_add_tcase (s, tc);

  tc = tcase_create ("checks");
  tcase_add_test (tc, test_import_refuses_unsealed_small_or_foreign_memfds);
  tcase_add_test (tc, test_producer_refuses_an_impossible_ring_tail);
  tcase_add_test (tc, test_producer_refuses_an_impossible_release_head);
  tcase_add_test (tc, test_consumer_refuses_an_impossible_ring_head_or_record);
  suite_add_tcase (s, tc);

  tc = tcase_create ("wait");
  tcase_add_test (tc, test_wait_times_out_with_nothing_pushed);
  tcase_add_test (tc, test_wait_returns_when_another_thread_pushes);
  tcase_add_test (tc, test_wait_returns_when_a_forked_process_pushes);
  tcase_add_test (tc, test_interrupt_from_another_thread_ends_a_wait);
  suite_add_tcase (s, tc);

  tc = tcase_create ("stream");
  tcase_add_test (tc, test_default_client_gets_a_channel_and_frames_in_order);
  tcase_add_test (tc,
      test_client_without_a_channel_still_works_beside_one_with);
  tcase_add_test (tc,
      test_lazy_releases_of_a_busy_consumer_go_through_the_ring);
  tcase_add_test (tc,
      test_lazy_releases_of_a_sleeping_consumer_cost_one_wakeup_a_frame);
  tcase_add_test (tc, test_region_added_between_frames_arrives_in_order);
  tcase_add_test (tc,
      test_regions_added_while_the_consumer_sleeps_arrive_in_order);
  tcase_add_test (tc, test_events_too_large_for_the_ring_arrive_in_order);
  tcase_add_test (tc, test_reconnect_gets_a_fresh_channel);
  tcase_add_test (tc,
      test_leaving_consumer_releases_its_last_frames_through_the_ring);
  suite_add_tcase (s, tc);

  tc = tcase_create ("hang-ups");
  tcase_add_test (tc,
      test_orderly_free_wakes_a_consumer_sleeping_on_its_channel);
  tcase_add_test (tc,
      test_killed_producer_process_is_seen_by_a_sleeping_consumer);
  tcase_add_test (tc, test_interrupt_ends_a_next_sleeping_on_the_channel);
  tcase_add_test (tc, test_consumer_dropped_while_sleeping_hears_why);
  suite_add_tcase (s, tc);

  tc = tcase_create ("hostile consumers");
  tcase_add_test (tc,
      test_consumer_scribbling_its_ring_tail_is_dropped_at_the_next_frame);
  tcase_add_test (tc, test_consumer_scribbling_its_release_head_is_dropped);
  tcase_add_test (tc,
      test_consumer_releasing_an_unheld_frame_by_its_ring_is_dropped);
  suite_add_tcase (s, tc);

  tc = tcase_create ("hostile producers");
  tcase_add_checked_fixture (tc, fake_setup, fake_teardown);
  tcase_add_test (tc, test_client_asks_for_a_channel_unless_told_not_to);
  tcase_add_test (tc, test_client_follows_socket_markers_in_its_channel);
  tcase_add_test (tc, test_client_refuses_an_impossible_record_in_its_channel);
  tcase_add_test (tc, test_client_refuses_an_unsealed_or_unasked_for_channel);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return zt_run_suite (channel_suite ());
}
