/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"

static struct zt_tmpdir dir;
static char path[100];

static void
setup (void)
{
  zt_tmpdir_make (&dir);
  zt_tmpdir_file (&dir, "zcipc.sock", path, sizeof path);
}

static void
teardown (void)
{
  zt_tmpdir_remove (&dir);
}

/* Listens on `path`, connects and accepts: a connected pair. */
static void
make_pair (int *listen_fd, int *client_fd, int *server_fd)
{
  struct zcipc_peer_cred cred;

  ck_assert_int_eq (zcipc_socket_listen (path, 0600, listen_fd), 0);
  ck_assert_int_eq (zcipc_socket_connect (path, client_fd), 0);
  ck_assert_int_eq (zcipc_socket_accept (*listen_fd, server_fd, &cred), 0);
}

static void
close_pair (int listen_fd, int client_fd, int server_fd)
{
  close (client_fd);
  close (server_fd);
  close (listen_fd);
  zt_socket_unlink (path);
}

static int
send_bytes (int fd, const void *data, size_t len, const int *fds,
    unsigned int n_fds)
{
  struct iovec iov = { (void *) data, len };
  return zcipc_socket_send (fd, &iov, 1, fds, n_fds, 0);
}

static bool
fd_has (int fd, int fd_flag, int fl_flag)
{
  if (fd_flag && !(fcntl (fd, F_GETFD) & fd_flag))
    return false;
  if (fl_flag && !(fcntl (fd, F_GETFL) & fl_flag))
    return false;
  return true;
}

START_TEST (test_listen_connect_accept_reports_peer_credentials)
{
  struct zcipc_peer_cred cred = { 0, 0, 0 };
  int lfd, cfd, sfd;

  ck_assert_int_eq (zcipc_socket_listen (path, 0600, &lfd), 0);
  ck_assert_int_eq (zcipc_socket_connect (path, &cfd), 0);
  ck_assert_int_eq (zcipc_socket_accept (lfd, &sfd, &cred), 0);
  ck_assert_int_eq (cred.pid, getpid ());
  ck_assert_int_eq (cred.uid, getuid ());
  ck_assert_int_eq (cred.gid, getgid ());
  /* Every fd is CLOEXEC; the producer's are non-blocking, the
   * consumer's blocking. */
  ck_assert (fd_has (lfd, FD_CLOEXEC, O_NONBLOCK));
  ck_assert (fd_has (sfd, FD_CLOEXEC, O_NONBLOCK));
  ck_assert (fd_has (cfd, FD_CLOEXEC, 0));
  ck_assert (!(fcntl (cfd, F_GETFL) & O_NONBLOCK));
  close_pair (lfd, cfd, sfd);
}

END_TEST;

START_TEST (test_accept_without_pending_connection_returns_eagain)
{
  struct zcipc_peer_cred cred;
  int lfd, fd = -1;

  ck_assert_int_eq (zcipc_socket_listen (path, 0600, &lfd), 0);
  ck_assert_int_eq (zcipc_socket_accept (lfd, &fd, &cred), -EAGAIN);
  ck_assert_int_eq (fd, -1);
  close (lfd);
}

END_TEST;

START_TEST (test_datagrams_keep_their_boundaries)
{
  char buf[64];
  struct iovec iov[2] = { {(void *) "hea", 3}, {(void *) "der", 3} };
  int lfd, cfd, sfd, fds[4];
  unsigned int n_fds = 9;
  size_t len = 0;

  make_pair (&lfd, &cfd, &sfd);
  ck_assert_int_eq (send_bytes (cfd, "one", 3, NULL, 0), 0);
  ck_assert_int_eq (zcipc_socket_send (cfd, iov, 2, NULL, 0, 0), 0);
  ck_assert_int_eq (zcipc_socket_recv (sfd, buf, sizeof buf, &len, fds, 4,
          &n_fds, 1), 0);
  ck_assert_uint_eq (len, 3);
  ck_assert_uint_eq (n_fds, 0);
  ck_assert_mem_eq (buf, "one", 3);
  ck_assert_int_eq (zcipc_socket_recv (sfd, buf, sizeof buf, &len, fds, 4,
          &n_fds, 1), 0);
  ck_assert_uint_eq (len, 6);
  ck_assert_mem_eq (buf, "header", 6);
  ck_assert_int_eq (zcipc_socket_recv (sfd, buf, sizeof buf, &len, fds, 4,
          &n_fds, 1), -EAGAIN);
  close_pair (lfd, cfd, sfd);
}

END_TEST;

START_TEST (test_fd_passing_delivers_a_new_cloexec_fd_to_the_same_file)
{
  int memfd = zt_memfd (4096, 0);
  int lfd, cfd, sfd, fds[4] = { -1, -1, -1, -1 };
  unsigned int n_fds = 0;
  char buf[16], content[6];
  size_t len = 0;

  ck_assert_int_eq (pwrite (memfd, "shared", 6, 100), 6);
  make_pair (&lfd, &cfd, &sfd);
  ck_assert_int_eq (send_bytes (sfd, "fd!", 3, &memfd, 1), 0);
  ck_assert_int_eq (zt_recv (cfd, 2000, buf, sizeof buf, &len, fds, 4,
          &n_fds), 0);
  ck_assert_uint_eq (len, 3);
  ck_assert_uint_eq (n_fds, 1);
  ck_assert_int_ge (fds[0], 0);
  ck_assert_int_ne (fds[0], memfd);
  ck_assert (zt_same_file (fds[0], memfd));
  ck_assert (fd_has (fds[0], FD_CLOEXEC, 0));
  ck_assert_int_eq (pread (fds[0], content, 6, 100), 6);
  ck_assert_mem_eq (content, "shared", 6);
  /* The sender still owns its fd. */
  ck_assert_int_ge (fcntl (memfd, F_GETFD), 0);
  close (fds[0]);
  close (memfd);
  close_pair (lfd, cfd, sfd);
}

END_TEST;

START_TEST (test_receive_of_more_fds_than_allowed_fails_without_leaking)
{
  int memfd = zt_memfd (4096, 0);
  int three[3] = { memfd, memfd, memfd };
  int lfd, cfd, sfd, fds[4] = { -1, -1, -1, -1 };
  unsigned int n_fds = 0;
  char buf[16];
  size_t len = 0;
  int before;

  make_pair (&lfd, &cfd, &sfd);
  ck_assert_int_eq (send_bytes (sfd, "x", 1, three, 3), 0);
  before = zt_count_fds ();
  ck_assert_int_eq (zt_recv (cfd, 2000, buf, sizeof buf, &len, fds, 2,
          &n_fds), -EPROTO);
  ck_assert_int_eq (zt_count_fds (), before);
  /* Nothing was handed out. */
  ck_assert_int_eq (fds[0], -1);
  ck_assert_int_eq (fds[2], -1);
  close (memfd);
  close_pair (lfd, cfd, sfd);
}

END_TEST;

START_TEST (test_receive_of_250_fds_fails_without_leaking)
{
  int memfd = zt_memfd (4096, 0);
  int many[250], fds[ZCIPC_SOCKET_MAX_FDS];
  int lfd, cfd, sfd, before;
  unsigned int n_fds = 0;
  char buf[16];
  size_t len = 0;

  for (int i = 0; i < 250; i++)
    many[i] = memfd;
  make_pair (&lfd, &cfd, &sfd);
  ck_assert_int_eq (zt_send_raw (cfd, "many", 4, many, 250), 0);
  before = zt_count_fds ();
  ck_assert_int_eq (zt_recv (sfd, 2000, buf, sizeof buf, &len, fds,
          ZCIPC_SOCKET_MAX_FDS, &n_fds), -EPROTO);
  ck_assert_int_eq (zt_count_fds (), before);
  /* The connection still works for the next datagram. */
  ck_assert_int_eq (send_bytes (cfd, "next", 4, NULL, 0), 0);
  ck_assert_int_eq (zt_recv (sfd, 2000, buf, sizeof buf, &len, fds,
          ZCIPC_SOCKET_MAX_FDS, &n_fds), 0);
  ck_assert_uint_eq (len, 4);
  close (memfd);
  close_pair (lfd, cfd, sfd);
}

END_TEST;

START_TEST (test_send_refuses_more_fds_than_the_maximum)
{
  int memfd = zt_memfd (4096, 0);
  int five[ZCIPC_SOCKET_MAX_FDS + 1];
  int lfd, cfd, sfd;

  for (unsigned int i = 0; i <= ZCIPC_SOCKET_MAX_FDS; i++)
    five[i] = memfd;
  make_pair (&lfd, &cfd, &sfd);
  ck_assert_int_eq (send_bytes (sfd, "x", 1, five, ZCIPC_SOCKET_MAX_FDS + 1),
      -EINVAL);
  ck_assert_int_eq (send_bytes (sfd, "x", 1, five, ZCIPC_SOCKET_MAX_FDS), 0);
  close (memfd);
  close_pair (lfd, cfd, sfd);
}

END_TEST;

START_TEST (test_truncated_datagram_is_refused_without_leaking)
{
  int memfd = zt_memfd (4096, 0);
  int lfd, cfd, sfd, fds[4];
  char big[100], buf[10];
  unsigned int n_fds = 0;
  size_t len = 0;
  int before;

  memset (big, 'b', sizeof big);
  make_pair (&lfd, &cfd, &sfd);
  ck_assert_int_eq (send_bytes (sfd, big, sizeof big, NULL, 0), 0);
  ck_assert_int_eq (send_bytes (sfd, big, sizeof big, &memfd, 1), 0);
  before = zt_count_fds ();
  ck_assert_int_eq (zt_recv (cfd, 2000, buf, sizeof buf, &len, fds, 4,
          &n_fds), -EPROTO);
  ck_assert_int_eq (zt_recv (cfd, 2000, buf, sizeof buf, &len, fds, 4,
          &n_fds), -EPROTO);
  ck_assert_int_eq (zt_count_fds (), before);
  /* A datagram that fits exactly is fine. */
  ck_assert_int_eq (send_bytes (sfd, big, sizeof buf, NULL, 0), 0);
  ck_assert_int_eq (zt_recv (cfd, 2000, buf, sizeof buf, &len, fds, 4,
          &n_fds), 0);
  ck_assert_uint_eq (len, sizeof buf);
  close (memfd);
  close_pair (lfd, cfd, sfd);
}

END_TEST;

START_TEST (test_empty_datagram_with_fds_is_refused_without_leaking)
{
  int memfd = zt_memfd (4096, 0);
  int lfd, cfd, sfd, fds[4] = { -1, -1, -1, -1 };
  unsigned int n_fds = 0;
  size_t len = 0;
  char buf[16];
  int before;

  make_pair (&lfd, &cfd, &sfd);
  /* No bytes would read as a hang-up, and the fd would be nobody's. */
  ck_assert_int_eq (zt_send_raw (cfd, "", 0, &memfd, 1), 0);
  before = zt_count_fds ();
  ck_assert_int_eq (zt_recv (sfd, 2000, buf, sizeof buf, &len, fds, 4,
          &n_fds), -EPROTO);
  ck_assert_int_eq (zt_count_fds (), before);
  ck_assert_int_eq (fds[0], -1);
  close (memfd);
  close_pair (lfd, cfd, sfd);
}

END_TEST;

START_TEST (test_hang_up_reads_as_an_empty_datagram)
{
  int lfd, cfd, sfd, fds[4];
  unsigned int n_fds = 7;
  size_t len = 99;
  char buf[16];

  make_pair (&lfd, &cfd, &sfd);
  close (cfd);
  ck_assert_int_eq (zt_recv (sfd, 2000, buf, sizeof buf, &len, fds, 4,
          &n_fds), 0);
  ck_assert_uint_eq (len, 0);
  ck_assert_uint_eq (n_fds, 0);
  /* Sending to a closed peer fails instead of raising SIGPIPE. */
  ck_assert_int_eq (send_bytes (sfd, "x", 1, NULL, 0), -EPIPE);
  close (sfd);
  close (lfd);
}

END_TEST;

START_TEST (test_full_socket_returns_eagain_when_not_waiting)
{
  static char chunk[16384];
  struct iovec iov = { chunk, sizeof chunk };
  int lfd, cfd, sfd, res = 0, i;

  make_pair (&lfd, &cfd, &sfd);
  for (i = 0; i < 100000 && res == 0; i++)
    res = zcipc_socket_send (sfd, &iov, 1, NULL, 0, 1);
  ck_assert_int_eq (res, -EAGAIN);
  ck_assert_int_gt (i, 1);
  close_pair (lfd, cfd, sfd);
}

END_TEST;

START_TEST (test_path_too_long_is_refused)
{
  struct sockaddr_un addr;
  char longest[sizeof addr.sun_path], too_long[sizeof addr.sun_path + 1];
  int fd = -1;

  memset (longest, 'a', sizeof longest - 1);
  longest[0] = '/';
  longest[sizeof longest - 1] = '\0';
  memset (too_long, 'a', sizeof too_long - 1);
  too_long[0] = '/';
  too_long[sizeof too_long - 1] = '\0';
  ck_assert_int_eq (zcipc_socket_check_path (longest), 0);
  ck_assert_int_eq (zcipc_socket_check_path (too_long), -ENAMETOOLONG);
  ck_assert_int_eq (zcipc_socket_listen (too_long, 0600, &fd), -ENAMETOOLONG);
  ck_assert_int_eq (zcipc_socket_connect (too_long, &fd), -ENAMETOOLONG);
  too_long[0] = '@';
  ck_assert_int_eq (zcipc_socket_listen (too_long, 0600, &fd), -ENAMETOOLONG);
  ck_assert_int_eq (fd, -1);
}

END_TEST;

START_TEST (test_empty_path_is_refused)
{
  int fd = -1;

  ck_assert_int_eq (zcipc_socket_check_path (NULL), -EINVAL);
  ck_assert_int_eq (zcipc_socket_check_path (""), -EINVAL);
  ck_assert_int_eq (zcipc_socket_check_path ("@"), -EINVAL);
  ck_assert_int_eq (zcipc_socket_listen ("", 0600, &fd), -EINVAL);
  ck_assert_int_eq (zcipc_socket_connect ("@", &fd), -EINVAL);
  ck_assert_int_eq (fd, -1);
}

END_TEST;

START_TEST (test_missing_directory_gives_enoent)
{
  char missing[300];
  int fd = -1;

  zt_tmpdir_file (&dir, "missing/zcipc.sock", missing, sizeof missing);
  ck_assert_int_eq (zcipc_socket_listen (missing, 0600, &fd), -ENOENT);
  ck_assert_int_eq (zcipc_socket_connect (missing, &fd), -ENOENT);
  ck_assert_int_eq (fd, -1);
}

END_TEST;

START_TEST (test_connect_without_listener_gives_enoent_or_econnrefused)
{
  int fd = -1, lfd;

  ck_assert_int_eq (zcipc_socket_connect (path, &fd), -ENOENT);
  /* A socket file nobody listens on any more. */
  ck_assert_int_eq (zcipc_socket_listen (path, 0600, &lfd), 0);
  close (lfd);
  ck_assert_int_eq (zcipc_socket_connect (path, &fd), -ECONNREFUSED);
  ck_assert_int_eq (fd, -1);
}

END_TEST;

START_TEST (test_stale_socket_file_is_replaced)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX };
  struct zcipc_peer_cred cred;
  struct stat st;
  int stale, lfd, cfd, sfd;

  /* A producer that died: its socket file stays, nobody accepts on it. */
  stale = socket (AF_UNIX, SOCK_SEQPACKET, 0);
  ck_assert_int_ge (stale, 0);
  snprintf (addr.sun_path, sizeof addr.sun_path, "%s", path);
  ck_assert_int_eq (bind (stale, (struct sockaddr *) &addr, sizeof addr), 0);
  ck_assert_int_eq (listen (stale, 1), 0);
  close (stale);
  ck_assert_int_eq (lstat (path, &st), 0);
  ck_assert (S_ISSOCK (st.st_mode));
  ck_assert_int_eq (zcipc_socket_connect (path, &cfd), -ECONNREFUSED);

  /* (Inode numbers may be reused, so the proof is that it accepts.) */
  ck_assert_int_eq (zcipc_socket_listen (path, 0600, &lfd), 0);
  ck_assert_int_eq (lstat (path, &st), 0);
  ck_assert (S_ISSOCK (st.st_mode));
  ck_assert_uint_eq (st.st_mode & 07777, 0600);
  ck_assert_int_eq (zcipc_socket_connect (path, &cfd), 0);
  ck_assert_int_eq (zcipc_socket_accept (lfd, &sfd, &cred), 0);
  close_pair (lfd, cfd, sfd);
}

END_TEST;

START_TEST (test_live_socket_gives_eaddrinuse)
{
  struct zcipc_peer_cred cred;
  int lfd, other = -1, cfd, sfd, fds[4], found = 0;
  unsigned int n_fds;
  char buf[16];
  size_t len;

  ck_assert_int_eq (zcipc_socket_listen (path, 0600, &lfd), 0);
  ck_assert_int_eq (zcipc_socket_listen (path, 0600, &other), -EADDRINUSE);
  ck_assert_int_eq (other, -1);
  /* The running producer keeps its socket and still accepts. The probe's
   * own connection may be pending before ours: it has hung up already. */
  ck_assert_int_eq (zcipc_socket_connect (path, &cfd), 0);
  ck_assert_int_eq (send_bytes (cfd, "ping", 4, NULL, 0), 0);
  while (!found && zcipc_socket_accept (lfd, &sfd, &cred) == 0) {
    if (zt_recv (sfd, 2000, buf, sizeof buf, &len, fds, 4, &n_fds) == 0 &&
        len == 4)
      found = 1;
    close (sfd);
  }
  ck_assert (found);
  close (cfd);
  close (lfd);
  zt_socket_unlink (path);
}

END_TEST;

START_TEST (test_regular_file_at_the_path_gives_eexist)
{
  char content[8] = { 0 };
  int fd = open (path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644), lfd = -1;

  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (write (fd, "keep me", 7), 7);
  close (fd);
  ck_assert_int_eq (zcipc_socket_listen (path, 0600, &lfd), -EEXIST);
  ck_assert_int_eq (lfd, -1);
  fd = open (path, O_RDONLY | O_CLOEXEC);
  ck_assert_int_eq (read (fd, content, 7), 7);
  ck_assert_str_eq (content, "keep me");
  close (fd);
  /* A directory is no socket either. */
  unlink (path);
  ck_assert_int_eq (mkdir (path, 0700), 0);
  ck_assert_int_eq (zcipc_socket_listen (path, 0600, &lfd), -EEXIST);
  rmdir (path);
}

END_TEST;

START_TEST (test_abstract_name_works_and_leaves_nothing_in_the_file_system)
{
  char name[64], line[512];
  struct zcipc_peer_cred cred;
  struct stat st;
  int lfd, cfd, sfd, other = -1, listed = 0;
  FILE *f;

  snprintf (name, sizeof name, "@zcipc-test-%d-%ld", (int) getpid (),
      (long) zt_now_ms ());
  ck_assert_int_eq (zcipc_socket_listen (name, 0600, &lfd), 0);
  ck_assert_int_eq (zcipc_socket_listen (name, 0600, &other), -EADDRINUSE);
  ck_assert_int_eq (zcipc_socket_connect (name, &cfd), 0);
  ck_assert_int_eq (zcipc_socket_accept (lfd, &sfd, &cred), 0);
  ck_assert_int_eq (cred.pid, getpid ());

  ck_assert_int_eq (lstat (name, &st), -1);
  ck_assert_int_eq (lstat (name + 1, &st), -1);
  ck_assert_int_eq (zt_tmpdir_n_entries (&dir), 0);
  /* The kernel lists it as abstract ('@' prefix). */
  f = fopen ("/proc/net/unix", "re");
  ck_assert_ptr_nonnull (f);
  while (fgets (line, sizeof line, f))
    if (strstr (line, name))
      listed = 1;
  fclose (f);
  ck_assert (listed);

  zt_socket_unlink (name);      /* a no-op for abstract names */
  close (cfd);
  close (sfd);
  close (lfd);
  /* Gone with its last fd: the name is free again. */
  ck_assert_int_eq (zcipc_socket_connect (name, &cfd), -ECONNREFUSED);
  ck_assert_int_eq (zcipc_socket_listen (name, 0600, &lfd), 0);
  close (lfd);
}

END_TEST;

START_TEST (test_socket_file_mode_is_honoured)
{
  static const mode_t modes[] = { 0600, 0660, 0666, 0640 };
  mode_t old = umask (077);
  struct stat st;
  int lfd;

  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    ck_assert_int_eq (zcipc_socket_listen (path, modes[i], &lfd), 0);
    ck_assert_int_eq (lstat (path, &st), 0);
    ck_assert (S_ISSOCK (st.st_mode));
    ck_assert_uint_eq (st.st_mode & 07777, modes[i]);
    close (lfd);
    zt_socket_unlink (path);
  }
  umask (old);
}

END_TEST;

START_TEST (test_socket_calls_leak_no_fd)
{
  int before = zt_count_fds ();

  for (int i = 0; i < 50; i++) {
    int lfd, cfd, sfd, fd = -1;

    make_pair (&lfd, &cfd, &sfd);
    ck_assert_int_eq (zcipc_socket_listen (path, 0600, &fd), -EADDRINUSE);
    close_pair (lfd, cfd, sfd);
    ck_assert_int_eq (zcipc_socket_connect (path, &fd), -ENOENT);
  }
  ck_assert_int_eq (zt_count_fds (), before);
}

END_TEST;


/* --- issue 15, classes 12 and 13: the socket path ---------------------- */

struct racer
{
  pthread_barrier_t *start;
  int res, fd;
  struct zcipc_socket_owner owner;
};

static void *
race_listen (void *user)
{
  struct racer *r = user;

  pthread_barrier_wait (r->start);
  r->fd = -1;
  r->res = zcipc_socket_listen_owned (path, 0600, &r->fd, &r->owner);
  return NULL;
}

/* The winner's socket accepts a connection made through the path. */
static void
assert_reachable_through_path (int listen_fd)
{
  struct zcipc_peer_cred cred;
  int cfd, sfd;

  ck_assert_int_eq (zcipc_socket_connect (path, &cfd), 0);
  ZT_ASSERT_EVENTUALLY (zcipc_socket_accept (listen_fd, &sfd, &cred) == 0,
      2000);
  ck_assert_int_eq (cred.pid, getpid ());
  close (sfd);
  close (cfd);
}

/* Two producers start at once, `stale_first`: on a path a dead producer
 * left its socket at. Exactly one wins; after the loser stops, the
 * winner's socket is still there and reachable. */
static void
race_two_producers (bool stale_first)
{
  for (int round = 0; round < 200; round++) {
    pthread_barrier_t start;
    struct racer r[2];
    pthread_t t[2];
    int wins = 0, winner = -1;

    if (stale_first) {
      int lfd;
      ck_assert_int_eq (zcipc_socket_listen (path, 0600, &lfd), 0);
      close (lfd);              /* the file stays, nobody accepts on it */
    }
    pthread_barrier_init (&start, NULL, 2);
    for (int i = 0; i < 2; i++) {
      r[i].start = &start;
      pthread_create (&t[i], NULL, race_listen, &r[i]);
    }
    for (int i = 0; i < 2; i++)
      pthread_join (t[i], NULL);
    pthread_barrier_destroy (&start);
    for (int i = 0; i < 2; i++) {
      if (r[i].res == 0) {
        wins++;
        winner = i;
      } else {
        ck_assert_msg (r[i].res == -EADDRINUSE, "round %d: loser got %s",
            round, strerror (-r[i].res));
      }
    }
    ck_assert_msg (wins == 1, "round %d: %d producers own the path", round,
        wins);
    assert_reachable_through_path (r[winner].fd);
    /* The loser stops (had it won too, it would remove the path now). */
    for (int i = 0; i < 2; i++) {
      if (i != winner && r[i].res == 0) {
        zcipc_socket_remove_owned (&r[i].owner);
        close (r[i].fd);
      }
    }
    assert_reachable_through_path (r[winner].fd);
    zcipc_socket_remove_owned (&r[winner].owner);
    close (r[winner].fd);
    ck_assert_int_eq (zt_tmpdir_n_entries (&dir), 0);
  }
}

START_TEST (test_two_producers_racing_on_a_free_path_exactly_one_wins)
{
  race_two_producers (false);
}

END_TEST;

START_TEST (test_two_producers_replacing_a_stale_socket_exactly_one_wins)
{
  race_two_producers (true);
}

END_TEST;

START_TEST (test_stop_removes_only_our_own_socket)
{
  struct zcipc_socket_owner first, second;
  int lfd, other;

  ck_assert_int_eq (zcipc_socket_listen_owned (path, 0600, &lfd, &first), 0);
  /* It stopped listening (crashed, say) without removing its file; another
   * producer replaced the stale file with its own. */
  close (lfd);
  ck_assert_int_eq (zcipc_socket_listen_owned (path, 0600, &other, &second), 0);
  zcipc_socket_remove_owned (&first);
  assert_reachable_through_path (other);
  zcipc_socket_remove_owned (&second);
  close (other);
  ck_assert_int_eq (zt_tmpdir_n_entries (&dir), 0);
}

END_TEST;

static atomic_bool stop_swapping;

/* A hostile user of a shared directory: as soon as a socket appears at the
 * path, renames a symlink to `user` (a file) over it in one step, then,
 * a moment later, clears the path for the next try. */
static void *
swap_in_symlink (void *user)
{
  const char *target = user;
  char link_path[128];

  snprintf (link_path, sizeof link_path, "%s.link", path);
  while (!atomic_load (&stop_swapping)) {
    struct stat st;

    if (lstat (path, &st) < 0 || !S_ISSOCK (st.st_mode))
      continue;
    unlink (link_path);
    if (symlink (target, link_path) < 0 || rename (link_path, path) < 0)
      continue;
    for (int i = 0; i < 50; i++)
      sched_yield ();
    if (lstat (path, &st) == 0 && S_ISLNK (st.st_mode))
      unlink (path);
  }
  unlink (link_path);
  return NULL;
}

START_TEST (test_a_symlink_swapped_in_is_never_chmodded)
{
  char target[128];
  struct stat st;
  pthread_t t;
  int fd;

  zt_tmpdir_file (&dir, "victim", target, sizeof target);
  fd = open (target, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
  ck_assert_int_ge (fd, 0);
  close (fd);
  ck_assert_int_eq (chmod (target, 0600), 0);
  atomic_store (&stop_swapping, false);
  pthread_create (&t, NULL, swap_in_symlink, target);
  for (int i = 0; i < 6000; i++) {
    struct zcipc_socket_owner owner;
    int lfd;

    if (zcipc_socket_listen_owned (path, 0666, &lfd, &owner) == 0) {
      zcipc_socket_remove_owned (&owner);
      close (lfd);
    }
  }
  atomic_store (&stop_swapping, true);
  pthread_join (t, NULL);
  ck_assert_int_eq (stat (target, &st), 0);
  ck_assert_uint_eq (st.st_mode & 07777, 0600);
  unlink (path);
}

END_TEST;

static atomic_int modes_seen, wrong_modes;
static atomic_uint last_wrong_mode;

/* Looks at the path as often as it can, as a consumer waiting for the
 * producer would, and counts every time a socket there has another mode. */
static void *
watch_mode (void *user)
{
  mode_t wanted = *(mode_t *) user;

  while (!atomic_load (&stop_swapping)) {
    struct stat st;
    if (lstat (path, &st) == 0 && S_ISSOCK (st.st_mode)) {
      atomic_fetch_add (&modes_seen, 1);
      if ((st.st_mode & 07777) != wanted) {
        atomic_fetch_add (&wrong_modes, 1);
        atomic_store (&last_wrong_mode, st.st_mode & 07777);
      }
    }
  }
  return NULL;
}

START_TEST (test_the_socket_has_its_final_mode_at_first_sight)
{
  mode_t wanted = 0600, old = umask (022);
  pthread_t t;

  atomic_store (&stop_swapping, false);
  atomic_store (&modes_seen, 0);
  atomic_store (&wrong_modes, 0);
  pthread_create (&t, NULL, watch_mode, &wanted);
  for (int i = 0; i < 2000; i++) {
    struct zcipc_socket_owner owner;
    int lfd;

    ck_assert_int_eq (zcipc_socket_listen_owned (path, wanted, &lfd, &owner),
        0);
    zcipc_socket_remove_owned (&owner);
    close (lfd);
  }
  atomic_store (&stop_swapping, true);
  pthread_join (t, NULL);
  umask (old);
  ck_assert_int_gt (atomic_load (&modes_seen), 0);
  ck_assert_msg (atomic_load (&wrong_modes) == 0,
      "%d of %d looks saw the socket with mode %o, not %o",
      atomic_load (&wrong_modes), atomic_load (&modes_seen),
      atomic_load (&last_wrong_mode), wanted);
  ck_assert_int_eq (zt_tmpdir_n_entries (&dir), 0);
}

END_TEST;

START_TEST (test_owned_listen_leaks_no_fd)
{
  int before = zt_count_fds ();

  for (int i = 0; i < 50; i++) {
    struct zcipc_socket_owner owner, other_owner;
    int lfd, other = -1;

    ck_assert_int_eq (zcipc_socket_listen_owned (path, 0600, &lfd, &owner), 0);
    ck_assert_int_eq (zcipc_socket_listen_owned (path, 0600, &other,
            &other_owner), -EADDRINUSE);
    ck_assert_int_eq (other, -1);
    zcipc_socket_remove_owned (&owner);
    close (lfd);
  }
  ck_assert_int_eq (zt_count_fds (), before);
  ck_assert_int_eq (zt_tmpdir_n_entries (&dir), 0);
}

END_TEST;

static Suite *
socket_suite (void)
{
  Suite *s = suite_create ("socket");
  TCase *tc = tcase_create ("datagrams");

  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_listen_connect_accept_reports_peer_credentials);
  tcase_add_test (tc, test_accept_without_pending_connection_returns_eagain);
  tcase_add_test (tc, test_datagrams_keep_their_boundaries);
  tcase_add_test (tc,
      test_fd_passing_delivers_a_new_cloexec_fd_to_the_same_file);
  tcase_add_test (tc,
      test_receive_of_more_fds_than_allowed_fails_without_leaking);
  tcase_add_test (tc, test_receive_of_250_fds_fails_without_leaking);
  tcase_add_test (tc, test_send_refuses_more_fds_than_the_maximum);
  tcase_add_test (tc, test_truncated_datagram_is_refused_without_leaking);
  tcase_add_test (tc, test_empty_datagram_with_fds_is_refused_without_leaking);
  tcase_add_test (tc, test_hang_up_reads_as_an_empty_datagram);
  tcase_add_test (tc, test_full_socket_returns_eagain_when_not_waiting);
  suite_add_tcase (s, tc);

  tc = tcase_create ("paths");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_path_too_long_is_refused);
  tcase_add_test (tc, test_empty_path_is_refused);
  tcase_add_test (tc, test_missing_directory_gives_enoent);
  tcase_add_test (tc,
      test_connect_without_listener_gives_enoent_or_econnrefused);
  tcase_add_test (tc, test_stale_socket_file_is_replaced);
  tcase_add_test (tc, test_live_socket_gives_eaddrinuse);
  tcase_add_test (tc, test_regular_file_at_the_path_gives_eexist);
  tcase_add_test (tc,
      test_abstract_name_works_and_leaves_nothing_in_the_file_system);
  tcase_add_test (tc, test_socket_file_mode_is_honoured);
  tcase_add_test (tc, test_socket_calls_leak_no_fd);
  suite_add_tcase (s, tc);

  tc = tcase_create ("hostile paths");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc,
      test_two_producers_racing_on_a_free_path_exactly_one_wins);
  tcase_add_test (tc,
      test_two_producers_replacing_a_stale_socket_exactly_one_wins);
  tcase_add_test (tc, test_stop_removes_only_our_own_socket);
  tcase_add_test (tc, test_a_symlink_swapped_in_is_never_chmodded);
  tcase_add_test (tc, test_the_socket_has_its_final_mode_at_first_sight);
  tcase_add_test (tc, test_owned_listen_leaks_no_fd);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return zt_run_suite (socket_suite ());
}
