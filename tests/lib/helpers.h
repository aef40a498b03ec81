/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_TEST_HELPERS_H
#define ZCIPC_TEST_HELPERS_H

/* Shared setup for the libzcipc check suites: resource counting (fds,
 * mappings), temporary socket directories, memfds, raw datagrams for hostile
 * peers, a producer (zcipc_server) whose callbacks count what they see, and a
 * fake producer that lets a test speak the wire protocol to a real client. */

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zcipc/client.h"
#include "zcipc/clock.h"
#include "zcipc/region.h"
#include "zcipc/result.h"
#include "zcipc/server.h"
#include "zcipc/socket.h"
#include "zcipc/wire.h"

#include "peer.h"
#include "proc.h"

/* Seal bits as in <linux/fcntl.h>, for libcs that lack some of them. */
#define ZT_SEAL_SEAL 0x0001u
#define ZT_SEAL_SHRINK 0x0002u
#define ZT_SEAL_GROW 0x0004u
#define ZT_SEAL_WRITE 0x0008u
#define ZT_SEAL_FUTURE_WRITE 0x0010u

/* A buffer any wire struct may be built in without misalignment. */
union zt_msg_buf
{
  uint64_t align;
  uint8_t bytes[ZCIPC_WIRE_MAX_MESSAGE_SIZE + 64];
};

/* --- resources ----------------------------------------------------------- */

/* zt_count_fds(), zt_for_each_mapping() and the rest are tests/common's
 * proc.h; zt_poll_in() and the connect job its peer.h. */
/* Lines of /proc/self/maps that name what they map (a memfd, a file, the
 * heap). libzcipc only maps fds; anonymous lines come and go with the
 * allocator (glibc arenas, sanitizer runtimes) and are not counted. */
int zt_count_maps (void);
/* Whether `addr` lies inside one of this process's mappings. */
bool zt_is_mapped (const void *addr);
/* Waits until zt_count_fds () == expected; false after `timeout_ms`. */
bool zt_wait_fd_count (int expected, int timeout_ms);
/* Makes sure fd 0 is open (meson may start tests with it closed). */
void zt_ensure_stdin (void);

int64_t zt_now_ms (void);
void zt_sleep_ms (int ms);

/* Evaluates `cond` every millisecond until it holds or `timeout_ms` passed;
 * yields whether it held. */
#define ZT_WAIT_UNTIL(cond, timeout_ms) \
  ({ \
    int64_t zt_deadline_ = zt_now_ms () + (timeout_ms); \
    bool zt_ok_; \
    while (!(zt_ok_ = (cond)) && zt_now_ms () < zt_deadline_) \
      zt_sleep_ms (1); \
    zt_ok_; \
  })

/* Fails the test, naming `cond`, unless it holds within `timeout_ms`. */
#define ZT_ASSERT_EVENTUALLY(cond, timeout_ms) \
  ck_assert_msg (ZT_WAIT_UNTIL (cond, timeout_ms), \
      "still false after %d ms: %s", (int) (timeout_ms), #cond)

/* Describes a result of libzcipc (0 or a negative errno) for a failure
 * message; never NULL. */
const char *zt_strerror (int res);

/* --- temporary directories ----------------------------------------------- */

struct zt_tmpdir
{
  char path[64];
};

/* mkdtemp under /tmp; asserts. */
void zt_tmpdir_make (struct zt_tmpdir *dir);
/* Writes "<dir>/<name>" into `buf` (`size` bytes) and returns it. */
const char *zt_tmpdir_file (const struct zt_tmpdir *dir, const char *name,
    char *buf, size_t size);
/* Removes the socket file of `path` unless it is abstract ('@') or NULL. */
void zt_socket_unlink (const char *path);
/* Removes every entry, then the directory. */
void zt_tmpdir_remove (struct zt_tmpdir *dir);
/* Number of entries (besides . and ..). */
int zt_tmpdir_n_entries (const struct zt_tmpdir *dir);

/* --- memfds -------------------------------------------------------------- */

/* A CLOEXEC memfd of `size` bytes made with MFD_ALLOW_SEALING, carrying
 * `seals` (0: none). Asserts. */
int zt_memfd (size_t size, unsigned int seals);
/* Whether two fds refer to the same inode. */
bool zt_same_file (int a, int b);
/* Whether the running kernel supports F_SEAL_FUTURE_WRITE (Linux 5.1), as
 * a fresh zcipc region's seals tell. */
bool zt_region_future_write_supported (void);

/* --- raw datagrams -------------------------------------------------------- */

/* sendmsg of one datagram with up to 253 fds (more than zcipc_socket_send
 * allows, to play a hostile peer). Returns 0 or -errno. */
int zt_send_raw (int fd, const void *data, size_t len, const int *fds,
    unsigned int n_fds);
/* Waits up to `timeout_ms` for one datagram, then zcipc_socket_recv()s it.
 * Returns -EAGAIN on timeout. */
int zt_recv (int fd, int timeout_ms, void *buf, size_t cap, size_t *len,
    int *fds, unsigned int max_fds, unsigned int *n_fds);
/* Reads datagrams (closing any fds they bring) until one of `type` arrives,
 * and parses it into `msg` (pointers into `buf`). Returns 0, -EPIPE at
 * hang-up, -EAGAIN on timeout, or a receive/parse error. */
int zt_recv_type (int fd, uint32_t type, int timeout_ms, union zt_msg_buf *buf,
    struct zcipc_message *msg);
/* Drains datagrams until the peer hangs up; false after `timeout_ms`. */
bool zt_wait_hang_up (int fd, int timeout_ms);
/* Sends HELLO (`max_held`) and waits for WELCOME; returns its quota, or a
 * negative errno. */
int zt_raw_handshake (int fd, uint32_t max_held);
/* Builds a RELEASE of `count` seqs into `buf`; returns the length. */
size_t zt_build_release (union zt_msg_buf *buf, const uint64_t * seqs,
    uint32_t count);
/* Builds a FRAME with one mem into `buf`; returns the length. */
size_t zt_build_frame (union zt_msg_buf *buf, uint64_t seq,
    uint32_t region_id, uint64_t offset, uint64_t size);

/* --- a producer with counting callbacks ---------------------------------- */

#define ZT_MAX_REGIONS 8
#define ZT_MAX_FRAMES 256

struct zt_frame
{
  atomic_int refs;              /* holds not yet released */
};

struct zt_producer
{
  struct zt_tmpdir dir;
  char path[128];
  struct zcipc_server *server;
  struct zcipc_region regions[ZT_MAX_REGIONS];
  uint32_t region_ids[ZT_MAX_REGIONS];
  unsigned int n_regions;
  struct zt_frame frames[ZT_MAX_FRAMES];
  unsigned int n_frames;
  atomic_int holds;
  atomic_int releases;
  atomic_int joined;
  atomic_int left;
  atomic_int warnings;
  /* What the retire callback answers (false unless a test sets it after
   * starting), and how often it said yes. */
  atomic_bool retire_ok;
  atomic_int retired;
  pthread_mutex_t log_lock;
  char log[8192];               /* every log line, newline-separated */
  char left_reasons[4096];      /* consumer_left's reasons, one a line */
};

/* Starts a server on "<tmpdir>/zcipc.sock". */
void zt_producer_start (struct zt_producer *p, uint32_t quota,
    uint32_t max_consumers);
/* Same, with a full config (its path is replaced by ours unless set). */
void zt_producer_start_full (struct zt_producer *p,
    const struct zcipc_server_config *config);
/* Creates a region of `size` bytes filled with zt_pattern(), and announces
 * it. Returns its index in p->regions. */
unsigned int zt_producer_add_region (struct zt_producer *p, uint32_t id,
    size_t size);
struct zcipc_region *zt_producer_region (struct zt_producer *p, uint32_t id);
/* Sends one frame of one mem; its timestamps derive from `pts`. Returns the
 * zt_frame it used (its refs count the holds). */
struct zt_frame *zt_producer_send (struct zt_producer *p, uint32_t region_id,
    uint64_t offset, uint64_t size, uint64_t pts, unsigned int *n_sent);
struct zcipc_server_stats zt_producer_stats (struct zt_producer *p);
/* The stats of consumer `id`; asserts it is connected. */
struct zcipc_consumer_stats zt_producer_consumer_stats (struct zt_producer *p,
    uint32_t id);
/* Whether a consumer left with a reason containing `text`. */
bool zt_producer_left_with (struct zt_producer *p, const char *text);
/* Whether the server logged a line containing `text`. */
bool zt_producer_logged (struct zt_producer *p, const char *text);
/* Frees the server (which releases every hold) and checks every hold was
 * released once. */
void zt_producer_stop (struct zt_producer *p);

/* The byte a producer region `id` carries at `offset`. */
uint8_t zt_pattern (uint32_t id, uint64_t offset);

/* A connected client; asserts. */
struct zcipc_client *zt_client_connect (const char *path, uint32_t max_held);
/* next() that must yield a frame. */
void zt_client_next_frame (struct zcipc_client *c,
    struct zcipc_client_event *ev, int timeout_ms);

/* A socket in a temporary directory of its own where the test plays the
 * producer (zt_fake_producer_connect and the rest below). */
struct zt_fake_producer
{
  struct zt_tmpdir dir;
  char path[128];               /* "<dir>/fake.sock" */
  int listen_fd;
  int baseline_fds;             /* open fds once it listens */
};

/* Makes the directory and listens; asserts. */
void zt_fake_producer_listen (struct zt_fake_producer *fake);
/* Stops listening and removes the directory. */
void zt_fake_producer_close (struct zt_fake_producer *fake);

/* Connects `client` to a fake producer listening on `listen_fd`: the test
 * accepts it and answers HELLO with WELCOME granting `quota`. Returns the
 * client's connect result; *producer_fd is the producer's end (or -1). */
int zt_fake_producer_connect (int listen_fd, struct zcipc_client *client,
    uint32_t quota, int *producer_fd);
/* The same; *hello_flags (if not NULL) gets the flags of the client's
 * HELLO. */
int zt_fake_producer_connect_full (int listen_fd, struct zcipc_client *client,
    uint32_t quota, int *producer_fd, uint32_t *hello_flags);

/* Has `client` connect to a fake producer that waits for its HELLO, leaves
 * it unread, answers REJECT (`error`, `reason`) and closes. Returns the
 * client's connect result. */
int zt_fake_producer_refuse (int listen_fd, struct zcipc_client *client,
    int error, const char *reason);

/* Runs a suite; for the main() of each test program. */
int zt_run_suite (Suite * suite);

#endif
