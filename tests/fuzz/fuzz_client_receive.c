/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* libFuzzer target for the consumer's receive path: a real zcipc_client
 * connects to a fake producer that answers HELLO with a WELCOME, sends the
 * input's datagrams, and hangs up. The client then drains them with
 * zcipc_client_next() as an element would, reads every frame it accepts,
 * and releases them.
 *
 * Input: [max_held byte][quota byte], then records
 * [kind][length, 2 bytes little endian][length bytes], one datagram each.
 * The low two bits of `kind` pick the fds sent along: 0 none, 1 a sealed
 * 64 KiB memfd (a good region), 2 an unsealed 4 KiB memfd (a bad one),
 * 3 both. max_held is 1 + byte % 64; the quota granted is byte % 65 (0 and
 * more than asked are protocol errors the handshake must catch).
 *
 * Beyond crashes (a SIGBUS from a region the client should have refused, a
 * read outside a mapping), it aborts when an fd or region outlives the
 * client, when the client hands out more frames than its quota or a frame
 * outside its region, or when a closed producer leaves next() waiting. */

#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zcipc/client.h"
#include "zcipc/region.h"
#include "zcipc/socket.h"
#include "zcipc/wire.h"

#include "fuzz.h"
#include "peer.h"
#include "proc.h"

int LLVMFuzzerTestOneInput (const uint8_t * data, size_t size);

static char path[64];
static int listen_fd = -1;
static struct zcipc_region sealed;
static int unsealed_fd = -1;

static void
print_fd (int fd, const char *target, void *data)
{
  (void) data;
  fprintf (stderr, "  fd %d -> %s\n", fd, target);
}

static struct stat sealed_st, unsealed_st;

/* The harness's own fds must survive every input: a client that closes an
 * fd it does not own (twice, say) could hit one of them. */
static void
check_own_fds (void)
{
  struct stat st;
  int listening = 0;
  socklen_t len = sizeof listening;

  CHECK (getsockopt (listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
          &len) == 0 && listening);
  CHECK (fstat (sealed.fd, &st) == 0 && st.st_ino == sealed_st.st_ino);
  CHECK (fstat (unsealed_fd, &st) == 0 && st.st_ino == unsealed_st.st_ino);
}

static void
setup (void)
{
  snprintf (path, sizeof path, "@zcipc-fuzz-client-%d", (int) getpid ());
  CHECK (zcipc_socket_listen (path, 0600, &listen_fd) == 0);
  CHECK (zcipc_region_create (&sealed, "fuzz-sealed", 65536, 0) == 0);
  memset (sealed.data, 0x5a, sealed.size);
  unsealed_fd = memfd_create ("fuzz-unsealed", MFD_CLOEXEC);
  CHECK (unsealed_fd >= 0);
  CHECK (ftruncate (unsealed_fd, 4096) == 0);
  CHECK (fstat (sealed.fd, &sealed_st) == 0);
  CHECK (fstat (unsealed_fd, &unsealed_st) == 0);
}

/* The producer's side of the handshake, then the input's datagrams. */
static void
produce (uint32_t quota, const uint8_t * data, size_t size)
{
  struct zcipc_peer_cred cred;
  struct zcipc_wire_welcome welcome;
  struct iovec iov;
  uint8_t hello[64];
  int fds[ZCIPC_SOCKET_MAX_FDS];
  unsigned int n_fds = 0;
  size_t len = 0;
  int fd;

  CHECK (zt_poll_in (listen_fd, 5000) == 1);
  CHECK (zcipc_socket_accept (listen_fd, &fd, &cred) == 0);
  CHECK (zt_poll_in (fd, 5000) == 1);
  CHECK (zcipc_socket_recv (fd, hello, sizeof hello, &len, fds,
          ZCIPC_SOCKET_MAX_FDS, &n_fds, 1) == 0);
  CHECK (n_fds == 0 && len == sizeof (struct zcipc_wire_hello));

  iov.iov_base = &welcome;
  iov.iov_len = zcipc_wire_init_welcome (&welcome, quota, 1);
  zcipc_socket_send (fd, &iov, 1, NULL, 0, 1);

  while (size >= 3) {
    unsigned int kind = data[0] & 3u;
    size_t n = (size_t) data[1] | (size_t) data[2] << 8;
    int send_fds[2];
    unsigned int n_send = 0;

    data += 3;
    size -= 3;
    if (n > size)
      n = size;
    if (kind & 1u)
      send_fds[n_send++] = sealed.fd;
    if (kind & 2u)
      send_fds[n_send++] = unsealed_fd;
    iov = (struct iovec) { (void *) data, n };
    /* A full socket drops the rest, as it would for a real producer. */
    if (zcipc_socket_send (fd, &iov, 1, send_fds, n_send, 1) == -EAGAIN)
      break;
    data += n;
    size -= n;
  }
  close (fd);
}

/* Drains the client as an element would, holding frames for a while. */
static void
consume (struct zcipc_client *c)
{
  uint64_t held[ZCIPC_WIRE_MAX_QUOTA];
  uint32_t n_held = 0, quota = zcipc_client_quota (c);
  struct zcipc_client_event ev;
  volatile uint8_t sink = 0;

  for (;;) {
    int res = zcipc_client_next (c, &ev, 5000);

    if (getenv ("ZCIPC_FUZZ_VERBOSE"))
      fprintf (stderr, "next: %d %s%s\n", res, res < 0 ?
          zcipc_client_reason (c) : "", res < 0 ? "" : ev.type ==
          ZCIPC_CLIENT_FRAME ? "frame" : "event");
    /* The producer has hung up: next() must not wait for more. */
    CHECK (res != -EAGAIN);
    if (res < 0)
      break;
    if (ev.type == ZCIPC_CLIENT_EVENT) {
      for (uint32_t i = 0; i < ev.event.size; i++)
        sink ^= ev.event.payload[i];
      continue;
    }
    CHECK (ev.type == ZCIPC_CLIENT_FRAME);
    CHECK (ev.frame.n_mems <= ZCIPC_WIRE_MAX_MEMS);
    for (uint32_t i = 0; i < ev.frame.n_mems; i++) {
      const struct zcipc_client_mem *m = &ev.frame.mems[i];

      CHECK (m->size > 0);
      CHECK (m->data >= m->region_data);
      CHECK (m->offset <= m->region_size);
      CHECK (m->size <= m->region_size - m->offset);
      CHECK (m->data == m->region_data + m->offset);
      sink ^= m->data[0] ^ m->data[m->size - 1];
    }
    for (uint32_t i = 0; i < ev.frame.meta_size; i++)
      sink ^= ev.frame.meta[i];
    /* A frame without memory was given back already. */
    if (ev.frame.n_mems == 0) {
      CHECK (zcipc_client_release (c, ev.frame.info.seq) == -ENOENT);
      continue;
    }
    CHECK (n_held < quota);
    held[n_held++] = ev.frame.info.seq;
    /* Release the oldest now and then, as a slow consumer would. */
    if (ev.frame.info.seq & 1u) {
      CHECK (zcipc_client_release (c, held[0]) == 0);
      memmove (held, held + 1, --n_held * sizeof held[0]);
    }
  }
  while (n_held > 0)
    CHECK (zcipc_client_release (c, held[--n_held]) == 0);
  zcipc_client_disconnect (c);
  /* No frame holds a region now, and none is announced any more. */
  CHECK (zcipc_client_n_regions (c) == 0);
  (void) sink;
}

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  struct zt_connect_job job;
  struct zcipc_client *c;
  int fds_before, fds, res;

  if (size < 2)
    return 0;
  if (listen_fd < 0)
    setup ();
  check_own_fds ();
  /* Counted per input: between inputs libFuzzer itself may open fds (the
   * pipes to llvm-symbolizer when it prints NEW_FUNC). */
  fds_before = zt_count_fds ();

  CHECK (zcipc_client_new (path, 1u + data[0] % ZCIPC_WIRE_MAX_QUOTA, &c) == 0);
  CHECK (zt_connect_start (&job, c) == 0);
  produce (data[1] % (ZCIPC_WIRE_MAX_QUOTA + 1u), data + 2, size - 2);
  res = zt_connect_finish (&job);
  if (getenv ("ZCIPC_FUZZ_VERBOSE"))
    fprintf (stderr, "connect: %d %s\n", res, res < 0 ?
        zcipc_client_reason (c) : "");
  if (res == 0)
    consume (c);
  zcipc_client_unref (c);

  check_own_fds ();
  fds = zt_count_fds ();
  if (fds != fds_before) {
    fprintf (stderr, "fd leak: %d open, %d before\n", fds, fds_before);
    zt_for_each_fd (print_fd, NULL);
    abort ();
  }
  return 0;
}
