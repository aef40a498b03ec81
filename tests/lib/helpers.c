/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

/* --- resources ----------------------------------------------------------- */

int
zt_count_maps (void)
{
  return zt_count_maps_named ("");
}

bool
zt_is_mapped (const void *addr)
{
  return zt_find_mapping (addr, 1, NULL);
}

bool
zt_wait_fd_count (int expected, int timeout_ms)
{
  return ZT_WAIT_UNTIL (zt_count_fds () == expected, timeout_ms);
}

void
zt_ensure_stdin (void)
{
  if (fcntl (0, F_GETFD) < 0) {
    int fd = open ("/dev/null", O_RDONLY);
    ck_assert_int_eq (fd, 0);
  }
}

int64_t
zt_now_ms (void)
{
  return zcipc_now_ms ();
}

const char *
zt_strerror (int res)
{
  if (res >= 0)
    return "Success";
  return strerror (-res);
}

void
zt_sleep_ms (int ms)
{
  struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000 };
  while (nanosleep (&ts, &ts) < 0 && errno == EINTR);
}

/* --- temporary directories ----------------------------------------------- */

void
zt_tmpdir_make (struct zt_tmpdir *dir)
{
  snprintf (dir->path, sizeof dir->path, "/tmp/zcipc-test-XXXXXX");
  ck_assert_ptr_nonnull (mkdtemp (dir->path));
}

const char *
zt_tmpdir_file (const struct zt_tmpdir *dir, const char *name, char *buf,
    size_t size)
{
  int n = snprintf (buf, size, "%s/%s", dir->path, name);
  ck_assert (n > 0 && (size_t) n < size);
  return buf;
}

void
zt_socket_unlink (const char *path)
{
  if (path && path[0] != '@')
    unlink (path);
}

void
zt_tmpdir_remove (struct zt_tmpdir *dir)
{
  DIR *d;
  struct dirent *e;

  if (dir->path[0] == '\0')
    return;
  if ((d = opendir (dir->path)) != NULL) {
    while ((e = readdir (d)) != NULL) {
      if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
        continue;
      unlinkat (dirfd (d), e->d_name, 0);
    }
    closedir (d);
  }
  rmdir (dir->path);
  dir->path[0] = '\0';
}

int
zt_tmpdir_n_entries (const struct zt_tmpdir *dir)
{
  DIR *d = opendir (dir->path);
  struct dirent *e;
  int n = 0;

  ck_assert_ptr_nonnull (d);
  while ((e = readdir (d)) != NULL)
    if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
      n++;
  closedir (d);
  return n;
}

/* --- memfds -------------------------------------------------------------- */

int
zt_memfd (size_t size, unsigned int seals)
{
  int fd = memfd_create ("zt-memfd", MFD_CLOEXEC | MFD_ALLOW_SEALING);

  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (ftruncate (fd, (off_t) size), 0);
  if (seals)
    ck_assert_int_eq (fcntl (fd, F_ADD_SEALS, (int) seals), 0);
  return fd;
}

bool
zt_same_file (int a, int b)
{
  struct stat sa, sb;

  ck_assert_int_eq (fstat (a, &sa), 0);
  ck_assert_int_eq (fstat (b, &sb), 0);
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool
zt_region_future_write_supported (void)
{
  struct zcipc_region r;
  bool supported;

  if (zcipc_region_create (&r, "zt-probe", 1, 0) < 0)
    return false;
  supported = (r.seals & ZT_SEAL_FUTURE_WRITE) != 0;
  zcipc_region_clear (&r);
  return supported;
}

/* --- raw datagrams -------------------------------------------------------- */

int
zt_send_raw (int fd, const void *data, size_t len, const int *fds,
    unsigned int n_fds)
{
  union
  {
    char buf[CMSG_SPACE (sizeof (int) * 253)];
    struct cmsghdr align;
  } control;
  struct iovec iov = { (void *) data, len };
  struct msghdr msg = { 0 };
  ssize_t res;

  ck_assert_uint_le (n_fds, 253);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (n_fds) {
    struct cmsghdr *cmsg;

    memset (&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE (sizeof (int) * n_fds);
    cmsg = CMSG_FIRSTHDR (&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN (sizeof (int) * n_fds);
    memcpy (CMSG_DATA (cmsg), fds, sizeof (int) * n_fds);
  }
  do {
    res = sendmsg (fd, &msg, MSG_NOSIGNAL);
  } while (res < 0 && errno == EINTR);
  return res < 0 ? -errno : 0;
}

int
zt_recv (int fd, int timeout_ms, void *buf, size_t cap, size_t *len,
    int *fds, unsigned int max_fds, unsigned int *n_fds)
{
  int res = zt_poll_in (fd, timeout_ms);

  if (res < 0)
    return res;
  if (res == 0)
    return -EAGAIN;
  *n_fds = 0;
  *len = 0;
  return zcipc_socket_recv (fd, buf, cap, len, fds, max_fds, n_fds, 1);
}

int
zt_recv_type (int fd, uint32_t type, int timeout_ms, union zt_msg_buf *buf,
    struct zcipc_message *msg)
{
  int64_t deadline = zt_now_ms () + timeout_ms;

  for (;;) {
    int fds[ZCIPC_SOCKET_MAX_FDS];
    unsigned int n_fds = 0, i;
    int64_t left = deadline - zt_now_ms ();
    size_t len = 0;
    int res;

    res = zt_recv (fd, left < 0 ? 0 : (int) left, buf->bytes,
        sizeof buf->bytes, &len, fds, ZCIPC_SOCKET_MAX_FDS, &n_fds);
    if (res < 0)
      return res;
    if (len == 0)
      return -EPIPE;
    res = zcipc_wire_parse (buf->bytes, len, fds, n_fds, msg);
    for (i = 0; i < n_fds; i++)
      close (fds[i]);
    if (res == -ENOMSG)
      continue;
    if (res < 0)
      return res;
    if (msg->type == type)
      return 0;
  }
}

bool
zt_wait_hang_up (int fd, int timeout_ms)
{
  static union zt_msg_buf buf;
  int64_t deadline = zt_now_ms () + timeout_ms;

  for (;;) {
    int fds[ZCIPC_SOCKET_MAX_FDS];
    unsigned int n_fds = 0, i;
    int64_t left = deadline - zt_now_ms ();
    size_t len = 0;
    int res;

    if (left < 0)
      return false;
    res = zt_recv (fd, (int) left, buf.bytes, sizeof buf.bytes, &len, fds,
        ZCIPC_SOCKET_MAX_FDS, &n_fds);
    if (res == -EAGAIN)
      return false;
    if (res == -ECONNRESET || (res == 0 && len == 0))
      return true;
    if (res == 0)
      for (i = 0; i < n_fds; i++)
        close (fds[i]);
  }
}

int
zt_raw_handshake (int fd, uint32_t max_held)
{
  struct zcipc_wire_hello hello;
  static union zt_msg_buf buf;
  struct zcipc_message msg;
  size_t n = zcipc_wire_init_hello (&hello, max_held);
  int res;

  if ((res = zt_send_raw (fd, &hello, n, NULL, 0)) < 0)
    return res;
  if ((res = zt_recv_type (fd, ZCIPC_WIRE_WELCOME, 5000, &buf, &msg)) < 0)
    return res;
  return (int) msg.welcome.quota;
}

size_t
zt_build_release (union zt_msg_buf *buf, const uint64_t * seqs, uint32_t count)
{
  struct zcipc_wire_release m;
  size_t n = zcipc_wire_init_release (&m, count);

  memcpy (buf->bytes, &m, n);
  memcpy (buf->bytes + n, seqs, count * sizeof (uint64_t));
  return n + count * sizeof (uint64_t);
}

size_t
zt_build_frame (union zt_msg_buf *buf, uint64_t seq, uint32_t region_id,
    uint64_t offset, uint64_t size)
{
  struct zcipc_wire_frame f;
  struct zcipc_wire_mem mem = { region_id, 0, offset, size };
  size_t n = zcipc_wire_init_frame (&f, 1, 0);

  f.seq = seq;
  f.pts = seq * 1000;
  memcpy (buf->bytes, &f, n);
  memcpy (buf->bytes + n, &mem, sizeof mem);
  return n + sizeof mem;
}

/* --- a producer with counting callbacks ---------------------------------- */

static void
on_hold (void *data, void *frame)
{
  struct zt_producer *p = data;
  struct zt_frame *f = frame;

  atomic_fetch_add (&f->refs, 1);
  atomic_fetch_add (&p->holds, 1);
}

static void
on_release (void *data, void *frame)
{
  struct zt_producer *p = data;
  struct zt_frame *f = frame;

  atomic_fetch_sub (&f->refs, 1);
  atomic_fetch_add (&p->releases, 1);
}

static bool
on_retire (void *data, void *frame)
{
  struct zt_producer *p = data;

  if (!atomic_load (&p->retire_ok))
    return false;
  atomic_fetch_add (&p->retired, 1);
  return true;
}

static void
on_joined (void *data, const struct zcipc_consumer_info *info)
{
  struct zt_producer *p = data;
  atomic_fetch_add (&p->joined, 1);
}

static void
on_left (void *data, const struct zcipc_consumer_info *info, const char *reason)
{
  struct zt_producer *p = data;
  size_t used;

  pthread_mutex_lock (&p->log_lock);
  used = strlen (p->left_reasons);
  snprintf (p->left_reasons + used, sizeof p->left_reasons - used, "%s\n",
      reason);
  pthread_mutex_unlock (&p->log_lock);
  atomic_fetch_add (&p->left, 1);
}

static void
on_log (void *data, enum zcipc_log_level level, const char *message)
{
  struct zt_producer *p = data;

  size_t used;

  if (level <= ZCIPC_LOG_WARNING)
    atomic_fetch_add (&p->warnings, 1);
  pthread_mutex_lock (&p->log_lock);
  used = strlen (p->log);
  if (used + strlen (message) + 2 < sizeof p->log)
    snprintf (p->log + used, sizeof p->log - used, "%s\n", message);
  pthread_mutex_unlock (&p->log_lock);
  if (getenv ("ZT_VERBOSE"))
    fprintf (stderr, "server[%d]: %s\n", (int) level, message);
}

static const struct zcipc_server_callbacks counting_callbacks = {
  .hold = on_hold,
  .release = on_release,
  .retire = on_retire,
  .consumer_joined = on_joined,
  .consumer_left = on_left,
  .log = on_log,
};

void
zt_producer_start_full (struct zt_producer *p,
    const struct zcipc_server_config *config)
{
  struct zcipc_server_config c = *config;
  int res;

  memset (p, 0, sizeof *p);
  pthread_mutex_init (&p->log_lock, NULL);
  zt_tmpdir_make (&p->dir);
  zt_tmpdir_file (&p->dir, "zcipc.sock", p->path, sizeof p->path);
  if (!c.path)
    c.path = p->path;
  if (!c.socket_mode)
    c.socket_mode = 0600;
  res = zcipc_server_new (&c, &counting_callbacks, p, &p->server);
  ck_assert_msg (res == 0, "zcipc_server_new: %s", zt_strerror (res));
}

void
zt_producer_start (struct zt_producer *p, uint32_t quota,
    uint32_t max_consumers)
{
  struct zcipc_server_config config = {
    .quota = quota,
    .max_consumers = max_consumers,
  };
  zt_producer_start_full (p, &config);
}

uint8_t
zt_pattern (uint32_t id, uint64_t offset)
{
  return (uint8_t) (id * 31u + offset * 7u + (offset >> 9));
}

unsigned int
zt_producer_add_region (struct zt_producer *p, uint32_t id, size_t size)
{
  unsigned int i = p->n_regions;
  struct zcipc_region *r = &p->regions[i];
  int res;

  ck_assert_uint_lt (i, ZT_MAX_REGIONS);
  res = zcipc_region_create (r, "zt-region", size, 0);
  ck_assert_msg (res == 0, "zcipc_region_create: %s", zt_strerror (res));
  for (size_t o = 0; o < r->size; o++)
    ((uint8_t *) r->data)[o] = zt_pattern (id, o);
  p->region_ids[i] = id;
  p->n_regions++;
  res = zcipc_server_add_region (p->server, id, r->fd, r->size,
      ZCIPC_REGION_FLAG_MEMFD);
  ck_assert_int_eq (res, 0);
  return i;
}

struct zcipc_region *
zt_producer_region (struct zt_producer *p, uint32_t id)
{
  for (unsigned int i = 0; i < p->n_regions; i++)
    if (p->region_ids[i] == id)
      return &p->regions[i];
  ck_abort_msg ("no region %u", id);
  return NULL;
}

struct zt_frame *
zt_producer_send (struct zt_producer *p, uint32_t region_id, uint64_t offset,
    uint64_t size, uint64_t pts, unsigned int *n_sent)
{
  struct zcipc_wire_frame info = { 0 };
  struct zcipc_wire_mem mem = { region_id, 0, offset, size };
  struct zt_frame *f;
  int res;

  ck_assert_uint_lt (p->n_frames, ZT_MAX_FRAMES);
  f = &p->frames[p->n_frames++];
  info.pts = pts;
  info.dts = pts + 1;
  info.duration = 1000;
  info.offset = pts * 2;
  info.offset_end = pts * 2 + 1;
  info.flags = (uint32_t) pts ^ 0xa5a5u;
  res = zcipc_server_send_frame (p->server, &info, &mem, 1, NULL, 0, f, n_sent);
  ck_assert_int_eq (res, 0);
  return f;
}

struct zcipc_server_stats
zt_producer_stats (struct zt_producer *p)
{
  struct zcipc_server_stats stats;
  zcipc_server_get_stats (p->server, &stats, NULL, 0);
  return stats;
}

struct zcipc_consumer_stats
zt_producer_consumer_stats (struct zt_producer *p, uint32_t id)
{
  struct zcipc_consumer_stats cs[32];
  struct zcipc_server_stats stats;
  unsigned int n = zcipc_server_get_stats (p->server, &stats, cs, 32);

  for (unsigned int i = 0; i < n; i++)
    if (cs[i].info.id == id)
      return cs[i];
  ck_abort_msg ("consumer %u is not connected", id);
  return cs[0];
}

/* Whether `text` stands in one of p's logs (they grow under log_lock). */
static bool
producer_log_has (struct zt_producer *p, const char *log, const char *text)
{
  bool found;

  pthread_mutex_lock (&p->log_lock);
  found = strstr (log, text) != NULL;
  pthread_mutex_unlock (&p->log_lock);
  return found;
}

bool
zt_producer_left_with (struct zt_producer *p, const char *text)
{
  return producer_log_has (p, p->left_reasons, text);
}

bool
zt_producer_logged (struct zt_producer *p, const char *text)
{
  return producer_log_has (p, p->log, text);
}

void
zt_producer_stop (struct zt_producer *p)
{
  zcipc_server_free (p->server);
  p->server = NULL;
  ck_assert_int_eq (atomic_load (&p->holds), atomic_load (&p->releases));
  for (unsigned int i = 0; i < p->n_frames; i++)
    ck_assert_int_eq (atomic_load (&p->frames[i].refs), 0);
  for (unsigned int i = 0; i < p->n_regions; i++)
    zcipc_region_clear (&p->regions[i]);
  /* The server removes its socket file. */
  ck_assert_int_eq (zt_tmpdir_n_entries (&p->dir), 0);
  zt_tmpdir_remove (&p->dir);
  pthread_mutex_destroy (&p->log_lock);
}

struct zcipc_client *
zt_client_connect (const char *path, uint32_t max_held)
{
  struct zcipc_client *c = NULL;
  int res;

  ck_assert_int_eq (zcipc_client_new (path, max_held, &c), 0);
  res = zcipc_client_connect (c, 5000);
  ck_assert_msg (res == 0, "zcipc_client_connect: %s (%s)",
      zt_strerror (res), zcipc_client_reason (c));
  return c;
}

void
zt_client_next_frame (struct zcipc_client *c, struct zcipc_client_event *ev,
    int timeout_ms)
{
  int res = zcipc_client_next (c, ev, timeout_ms);

  ck_assert_msg (res == 0, "zcipc_client_next: %s (%s)",
      zt_strerror (res), zcipc_client_reason (c));
  ck_assert_int_eq (ev->type, ZCIPC_CLIENT_FRAME);
}

void
zt_fake_producer_listen (struct zt_fake_producer *fake)
{
  zt_tmpdir_make (&fake->dir);
  zt_tmpdir_file (&fake->dir, "fake.sock", fake->path, sizeof fake->path);
  ck_assert_int_eq (zcipc_socket_listen (fake->path, 0600, &fake->listen_fd),
      0);
  fake->baseline_fds = zt_count_fds ();
}

void
zt_fake_producer_close (struct zt_fake_producer *fake)
{
  close (fake->listen_fd);
  fake->listen_fd = -1;
  zt_tmpdir_remove (&fake->dir);
}

int
zt_fake_producer_connect (int listen_fd, struct zcipc_client *client,
    uint32_t quota, int *producer_fd)
{
  return zt_fake_producer_connect_full (listen_fd, client, quota, producer_fd,
      NULL);
}

int
zt_fake_producer_connect_full (int listen_fd, struct zcipc_client *client,
    uint32_t quota, int *producer_fd, uint32_t * hello_flags)
{
  struct zt_connect_job job;
  struct zcipc_peer_cred cred;
  struct zcipc_wire_welcome welcome;
  static union zt_msg_buf buf;
  struct zcipc_message msg;
  int fd = -1, res;
  size_t n;

  ck_assert_int_eq (zt_connect_start (&job, client), 0);
  ck_assert_int_eq (zt_poll_in (listen_fd, 5000), 1);
  ck_assert_int_eq (zcipc_socket_accept (listen_fd, &fd, &cred), 0);
  res = zt_recv_type (fd, ZCIPC_WIRE_HELLO, 5000, &buf, &msg);
  ck_assert_int_eq (res, 0);
  if (hello_flags)
    *hello_flags = msg.hello.flags;
  n = zcipc_wire_init_welcome (&welcome, quota, 7);
  ck_assert_int_eq (zt_send_raw (fd, &welcome, n, NULL, 0), 0);
  res = zt_connect_finish (&job);
  if (res < 0) {
    close (fd);
    fd = -1;
  }
  *producer_fd = fd;
  return res;
}

int
zt_fake_producer_refuse (int listen_fd, struct zcipc_client *client,
    int error, const char *reason)
{
  struct zt_connect_job job;
  struct zcipc_peer_cred cred;
  struct zcipc_wire_reject reject;
  size_t n = zcipc_wire_init_reject (&reject, error, reason);
  int fd = -1;

  ck_assert_int_eq (zt_connect_start (&job, client), 0);
  ck_assert_int_eq (zt_poll_in (listen_fd, 5000), 1);
  ck_assert_int_eq (zcipc_socket_accept (listen_fd, &fd, &cred), 0);
  /* HELLO is queued: leave it unread. */
  ck_assert_int_eq (zt_poll_in (fd, 5000), 1);
  ck_assert_int_eq (zt_send_raw (fd, &reject, n, NULL, 0), 0);
  close (fd);
  return zt_connect_finish (&job);
}

int
zt_run_suite (Suite * suite)
{
  SRunner *runner = srunner_create (suite);
  int failed;

  /* Mapping counts must only move with what the code under test maps:
   * keep glibc from adding per-thread arenas and from moving big blocks
   * between mmap and the heap as its dynamic threshold adapts. */
  mallopt (M_ARENA_MAX, 1);
  mallopt (M_MMAP_THRESHOLD, 128 * 1024);
  srunner_run_all (runner, CK_ENV);
  failed = srunner_ntests_failed (runner);
  srunner_free (runner);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
