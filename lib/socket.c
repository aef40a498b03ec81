/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zcipc/socket.h"

static bool
is_abstract (const char *path)
{
  return path[0] == '@';
}

int
zcipc_socket_check_path (const char *path)
{
  struct sockaddr_un addr;

  if (path == NULL || path[0] == '\0' || (is_abstract (path) && !path[1]))
    return -EINVAL;
  if (strlen (path) >= sizeof addr.sun_path)
    return -ENAMETOOLONG;
  return 0;
}

static int
make_address (const char *path, struct sockaddr_un *addr, socklen_t *len)
{
  int res;
  size_t n;

  if ((res = zcipc_socket_check_path (path)) < 0)
    return res;
  memset (addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  n = strlen (path);
  memcpy (addr->sun_path, path, n);
  if (is_abstract (path))
    addr->sun_path[0] = '\0';   /* abstract: the name is not NUL-terminated */
  *len = (socklen_t) (offsetof (struct sockaddr_un, sun_path) + n +
      (is_abstract (path) ? 0 : 1));
  return 0;
}

static int
new_socket (int extra_flags)
{
  return socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | extra_flags, 0);
}

/* A socket file is stale when nothing accepts on it any more. */
static int
probe_existing (const char *path)
{
  struct stat st;
  int fd, res;

  if (lstat (path, &st) < 0)
    return errno == ENOENT ? 0 : -errno;
  if (!S_ISSOCK (st.st_mode))
    return -EEXIST;
  /* Non-blocking: a live producer whose backlog is full answers EAGAIN
   * at once instead of hanging our start. */
  {
    struct sockaddr_un addr;
    socklen_t addr_len;

    if ((res = make_address (path, &addr, &addr_len)) < 0)
      return res;
    if ((fd = new_socket (SOCK_NONBLOCK)) < 0)
      return -errno;
    do {
      res = connect (fd, (struct sockaddr *) &addr, addr_len);
    } while (res < 0 && errno == EINTR);
    res = res < 0 ? -errno : 0;
    close (fd);
  }
  if (res == 0 || res == -EAGAIN || res == -EINPROGRESS)
    return -EADDRINUSE;
  if (res == -ENOENT)
    return 0;
  if (res != -ECONNREFUSED)
    return res;
  if (unlink (path) < 0 && errno != ENOENT)
    return -errno;
  return 0;
}

int
zcipc_socket_listen (const char *path, uint32_t mode, int *out_fd)
{
  struct sockaddr_un addr;
  socklen_t addr_len;
  int fd, res;

  if ((res = make_address (path, &addr, &addr_len)) < 0)
    return res;
  if ((fd = new_socket (SOCK_NONBLOCK)) < 0)
    return -errno;

  if (bind (fd, (struct sockaddr *) &addr, addr_len) < 0) {
    res = -errno;
    if (res == -EADDRINUSE && !is_abstract (path)) {
      res = probe_existing (path);
      if (res == 0 && bind (fd, (struct sockaddr *) &addr, addr_len) < 0)
        res = -errno;
    }
    if (res < 0)
      goto fail;
  }
  /* chmod after bind has a short window with the umask's mode; the
   * directory's permissions are what really guard it, as for any socket. */
  if (!is_abstract (path) && chmod (path, mode) < 0) {
    res = -errno;
    unlink (path);
    goto fail;
  }
  if (listen (fd, 64) < 0) {
    res = -errno;
    if (!is_abstract (path))
      unlink (path);
    goto fail;
  }
  *out_fd = fd;
  return 0;

fail:
  close (fd);
  return res;
}

int
zcipc_socket_connect (const char *path, int *out_fd)
{
  struct sockaddr_un addr;
  socklen_t addr_len;
  int fd, res;

  if ((res = make_address (path, &addr, &addr_len)) < 0)
    return res;
  if ((fd = new_socket (0)) < 0)
    return -errno;
  do {
    res = connect (fd, (struct sockaddr *) &addr, addr_len);
  } while (res < 0 && errno == EINTR);
  if (res < 0) {
    res = -errno;
    close (fd);
    return res;
  }
  *out_fd = fd;
  return 0;
}

int
zcipc_socket_check_waitable (const char *path)
{
  struct stat st;
  char *dir, *slash;
  int res;

  if (is_abstract (path))
    return 0;
  /* stat, not lstat: connect follows a symlink too. */
  if (stat (path, &st) == 0) {
    if (S_ISSOCK (st.st_mode))
      return 0;
    return S_ISDIR (st.st_mode) ? -EISDIR : -ENOTSOCK;
  }
  if (errno != ENOENT)
    return 0;                   /* let connect() say what it is */
  /* Missing: its directory must exist for a producer to bind there. */
  slash = strrchr (path, '/');
  if (!slash)
    return 0;                   /* the working directory */
  if (slash == path)
    return 0;                   /* "/name": the root exists */
  if (!(dir = strndup (path, (size_t) (slash - path))))
    return 0;
  res = stat (dir, &st) < 0 ? (errno == ENOENT || errno == ENOTDIR ?
      -ENOTDIR : 0) : (S_ISDIR (st.st_mode) ? 0 : -ENOTDIR);
  free (dir);
  return res;
}

int
zcipc_socket_accept (int listen_fd, int *out_fd, struct zcipc_peer_cred *cred)
{
  struct ucred uc;
  socklen_t len = sizeof uc;
  int fd;

  do {
    fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0)
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
    int res = -errno;
    close (fd);
    return res;
  }
  cred->pid = uc.pid;
  cred->uid = uc.uid;
  cred->gid = uc.gid;
  *out_fd = fd;
  return 0;
}

int
zcipc_socket_send (int fd, const struct iovec *iov, int iov_count,
    const int *fds, unsigned n_fds, int dontwait)
{
  union
  {
    char buf[CMSG_SPACE (sizeof (int) * ZCIPC_SOCKET_MAX_FDS)];
    struct cmsghdr align;
  } control;
  struct msghdr msg = { 0 };
  ssize_t res;

  if (n_fds > ZCIPC_SOCKET_MAX_FDS)
    return -EINVAL;
  msg.msg_iov = (struct iovec *) iov;
  msg.msg_iovlen = (size_t) iov_count;
  if (n_fds > 0) {
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
    res = sendmsg (fd, &msg, MSG_NOSIGNAL | (dontwait ? MSG_DONTWAIT : 0));
  } while (res < 0 && errno == EINTR);
  if (res < 0)
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;
  return 0;
}

static void
close_fds (int *fds, unsigned n)
{
  for (unsigned i = 0; i < n; i++)
    close (fds[i]);
}

int
zcipc_socket_recv (int fd, void *buf, size_t cap, size_t *out_len,
    int *fds, unsigned max_fds, unsigned *out_n_fds, int dontwait)
{
  /* Room for more fds than allowed, so that an over-full message is seen
   * (and its fds closed) rather than silently truncated. */
  union
  {
    char buf[CMSG_SPACE (sizeof (int) * 253)];
    struct cmsghdr align;
  } control;
  struct iovec iov = { buf, cap };
  struct msghdr msg = { 0 };
  struct cmsghdr *cmsg;
  int got[253];
  unsigned n_got = 0;
  ssize_t res;
  bool bad = false;

  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  do {
    res = recvmsg (fd, &msg, MSG_CMSG_CLOEXEC | (dontwait ? MSG_DONTWAIT : 0));
  } while (res < 0 && errno == EINTR);
  if (res < 0)
    return errno == EWOULDBLOCK ? -EAGAIN : -errno;

  for (cmsg = CMSG_FIRSTHDR (&msg); cmsg; cmsg = CMSG_NXTHDR (&msg, cmsg)) {
    if (cmsg->cmsg_level == SOL_SOCKET && cmsg->cmsg_type == SCM_RIGHTS) {
      size_t n = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
      for (size_t i = 0; i < n && n_got < 253; i++)
        memcpy (&got[n_got++], CMSG_DATA (cmsg) + i * sizeof (int),
            sizeof (int));
    } else {
      bad = true;
    }
  }
  /* A datagram of no bytes would read as a hang-up and its fds would be
   * nobody's: refuse it like any other malformed one. */
  /* The control buffer has room for the most fds a message can carry
   * (SCM_MAX_FD): MSG_CTRUNC then means the kernel could not install them
   * here. Usually because this process is out of fds, which is ours to
   * report, not the peer's fault: probe before closing what arrived. */
  if ((msg.msg_flags & MSG_CTRUNC) && !(msg.msg_flags & MSG_TRUNC) && !bad) {
    int probe = fcntl (fd, F_DUPFD_CLOEXEC, 0);
    int err = probe < 0 ? errno : 0;

    if (probe >= 0)
      close (probe);
    close_fds (got, n_got);
    return err == EMFILE || err == ENFILE ? -err : -EPROTO;
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n_got > max_fds || bad ||
      (res == 0 && n_got > 0)) {
    close_fds (got, n_got);
    return -EPROTO;
  }
  memcpy (fds, got, n_got * sizeof (int));
  *out_n_fds = n_got;
  *out_len = (size_t) res;
  return 0;
}

void
zcipc_socket_unlink (const char *path)
{
  if (path && !is_abstract (path))
    unlink (path);
}
