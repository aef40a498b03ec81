/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "zcipc/fds.h"
#include "zcipc/socket.h"
#include "zcipc/result.h"

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
make_address (const char *path, struct sockaddr_un *addr, socklen_t * len)
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

/* Whether a socket file at `path` has a live listener: 0 stale (nothing
 * accepts on it any more), -EADDRINUSE live, -ENOENT gone meanwhile. */
static int
probe_listener (const char *path)
{
  struct sockaddr_un addr;
  socklen_t addr_len;
  int fd, res;

  if ((res = make_address (path, &addr, &addr_len)) < 0)
    return res;
  /* Non-blocking: a live producer whose backlog is full answers EAGAIN
   * at once instead of hanging our start. */
  if ((fd = new_socket (SOCK_NONBLOCK)) < 0)
    return zcipc_neg_errno ();
  do {
    res = connect (fd, (struct sockaddr *) &addr, addr_len);
  } while (res < 0 && errno == EINTR);
  res = res < 0 ? -errno : 0;
  close (fd);
  if (res == 0 || res == -EAGAIN || res == -EINPROGRESS)
    return -EADDRINUSE;
  if (res == -ECONNREFUSED)
    return 0;
  return res;
}

static bool
same_file (const struct stat *a, const struct stat *b)
{
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Moves the file `from` in `from_dir` to `name` in `dir` unless something
 * is there already (-EEXIST): one atomic step, so of two producers only one
 * can win. Hard links where the file system has no RENAME_NOREPLACE. */
static int
place_noreplace (int from_dir, const char *from, int dir, const char *name)
{
  if (renameat2 (from_dir, from, dir, name, RENAME_NOREPLACE) == 0)
    return 0;
  if (errno != EINVAL && errno != ENOSYS)
    return zcipc_neg_errno ();
  if (linkat (from_dir, from, dir, name, 0) < 0)
    return zcipc_neg_errno ();
  unlinkat (from_dir, from, 0);
  return 0;
}

/* Something is at `name` where we want our socket (`tmp_dir`/"s"). A file
 * that is not a socket is not ours to replace (-EEXIST), a socket someone
 * accepts on is in use (-EADDRINUSE). A stale one is replaced only if the
 * file we take away is the very one the probe found stale: swapped with
 * ours in one step (RENAME_EXCHANGE), then checked by inode; if another
 * producer put its live socket there between the probe and the swap, it is
 * swapped back and we lost. Without RENAME_EXCHANGE the stale file is moved
 * into our private directory, checked the same way, and our placement
 * retried (-EAGAIN). 0: our socket is in place. */
static int
replace_stale (const char *path, int dir, const char *name, int tmp_dir)
{
  struct stat stale, taken;
  int res;

  if (fstatat (dir, name, &stale, AT_SYMLINK_NOFOLLOW) < 0)
    return errno == ENOENT ? -EAGAIN : -errno;
  if (!S_ISSOCK (stale.st_mode))
    return -EEXIST;
  if ((res = probe_listener (path)) < 0)
    return res == -ENOENT ? -EAGAIN : res;

  if (renameat2 (tmp_dir, "s", dir, name, RENAME_EXCHANGE) == 0) {
    if (fstatat (tmp_dir, "s", &taken, AT_SYMLINK_NOFOLLOW) == 0 &&
        same_file (&taken, &stale)) {
      unlinkat (tmp_dir, "s", 0);
      return 0;
    }
    renameat2 (tmp_dir, "s", dir, name, RENAME_EXCHANGE);
    return -EADDRINUSE;
  }
  if (errno != EINVAL && errno != ENOSYS)
    return errno == ENOENT ? -EAGAIN : -errno;
  if (renameat (dir, name, tmp_dir, "stale") < 0)
    return errno == ENOENT ? -EAGAIN : -errno;
  if (fstatat (tmp_dir, "stale", &taken, AT_SYMLINK_NOFOLLOW) == 0 &&
      same_file (&taken, &stale)) {
    unlinkat (tmp_dir, "stale", 0);
    return -EAGAIN;
  }
  place_noreplace (tmp_dir, "stale", dir, name);
  unlinkat (tmp_dir, "stale", 0);
  return -EADDRINUSE;
}

/* Splits `path` into an O_PATH fd of its directory and its last name. */
static int
open_parent (const char *path, int *out_dir, const char **out_name)
{
  const char *slash = strrchr (path, '/');
  char *dir_path;
  int fd, res;

  if (slash && !slash[1])
    return -EISDIR;             /* "dir/": no name to bind */
  if (!slash)
    dir_path = strdup (".");
  else if (slash == path)
    dir_path = strdup ("/");
  else
    dir_path = strndup (path, (size_t) (slash - path));
  if (!dir_path)
    return -ENOMEM;
  fd = open (dir_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  res = fd < 0 ? zcipc_neg_errno () : 0;        /* before free() touches errno */
  free (dir_path);
  if (res < 0)
    return res == -ENOTDIR ? -ENOENT : res;
  *out_dir = fd;
  *out_name = slash ? slash + 1 : path;
  return 0;
}

/* A new directory next to the socket that only we can enter: what is bound
 * in it cannot be reached, swapped or renamed by anyone else. */
static int
make_private_dir (int dir, char *name, size_t name_size, int *out_fd)
{
  struct stat st;

  for (int attempt = 0; attempt < 16; attempt++) {
    unsigned int r;
    int fd;

    if (getrandom (&r, sizeof r, GRND_NONBLOCK) != sizeof r)
      r = (unsigned int) getpid () * 2654435761u + (unsigned int) attempt;
    snprintf (name, name_size, ".zcipc-%08x", r);
    if (mkdirat (dir, name, 0700) < 0) {
      if (errno == EEXIST)
        continue;
      return zcipc_neg_errno ();
    }
    fd = openat (dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
      return zcipc_neg_errno ();
    /* In a directory others may write to without the sticky bit, what we
     * made could be renamed and replaced by theirs: check it is ours. */
    if (fstat (fd, &st) < 0 || st.st_uid != geteuid () || (st.st_mode & 077)) {
      close (fd);
      return -EPERM;
    }
    *out_fd = fd;
    return 0;
  }
  return -EEXIST;
}

static int
listen_abstract (const char *path, int *out_fd)
{
  struct sockaddr_un addr;
  socklen_t addr_len;
  int fd, res;

  if ((res = make_address (path, &addr, &addr_len)) < 0)
    return res;
  if ((fd = new_socket (SOCK_NONBLOCK)) < 0)
    return zcipc_neg_errno ();
  if (bind (fd, (struct sockaddr *) &addr, addr_len) < 0 || listen (fd, 64) < 0) {
    res = zcipc_neg_errno ();
    close (fd);
    return res;
  }
  *out_fd = fd;
  return 0;
}

/* A listening socket "s" in the private directory `tmp_dir` (named
 * `tmp_name` next to `path`), with `mode` set before anyone can reach it;
 * *st is its inode. On success *fd is the caller's; on failure any socket
 * made here is closed (its name is the caller's to remove). */
static int
listen_in_private_dir (const char *path, int tmp_dir, const char *tmp_name,
    uint32_t mode, int *fd, struct stat *st)
{
  struct sockaddr_un addr;
  socklen_t addr_len;
  char bind_path[sizeof addr.sun_path + 32];
  int res;

  /* Through /proc: the private directory's fd, not its path again. Its
   * full path where /proc is not mounted. */
  snprintf (bind_path, sizeof bind_path, "/proc/self/fd/%d/s", tmp_dir);
  if (access ("/proc/self/fd", F_OK) < 0) {
    int n = (int) (strrchr (path, '/') ? strrchr (path, '/') - path + 1 : 0);
    snprintf (bind_path, sizeof bind_path, "%.*s%s/s", n, path, tmp_name);
  }
  if ((res = make_address (bind_path, &addr, &addr_len)) < 0)
    return res;
  if ((*fd = new_socket (SOCK_NONBLOCK)) < 0)
    return zcipc_neg_errno ();
  if (bind (*fd, (struct sockaddr *) &addr, addr_len) < 0 ||
      fchmodat (tmp_dir, "s", mode & 07777, 0) < 0 ||
      fstatat (tmp_dir, "s", st, AT_SYMLINK_NOFOLLOW) < 0 ||
      listen (*fd, 64) < 0)
    res = zcipc_neg_errno ();
  else
    res = S_ISSOCK (st->st_mode) ? 0 : -EIO;
  if (res < 0) {
    close (*fd);
    *fd = -1;
  }
  return res;
}

/* Moves "s" from `tmp_dir` to `name` in `dir` (`path`), replacing a stale
 * socket there, retrying while others change it under us. */
static int
place_socket (const char *path, int tmp_dir, int dir, const char *name)
{
  int res;

  for (int attempt = 0;; attempt++) {
    res = place_noreplace (tmp_dir, "s", dir, name);
    if (res == -EEXIST)
      res = replace_stale (path, dir, name, tmp_dir);
    if (res != -EAGAIN)
      return res;
    if (attempt == 8)
      return -EADDRINUSE;       /* others keep changing it under us */
  }
}

/* Creating the socket file, so that no one sees a half-made one and no
 * path someone else can swap is ever followed:
 * - bind() in a private 0700 directory made next to the path (the same
 *   file system), set the mode there (no one can swap the name in it), and
 *   listen(): the socket is complete before anyone can reach it;
 * - move it to its name in one step that fails if anything is there
 *   (RENAME_NOREPLACE, or link()): of producers racing on a free path
 *   exactly one wins, and the others find its socket live;
 * - a stale socket (a connect probe is refused) is replaced by an exchange
 *   that is undone unless the file taken away is the probed one;
 * - we remember the socket's inode and the directory's fd, so that on stop
 *   we remove the name only while it is still our socket. */
int
zcipc_socket_listen_owned (const char *path, uint32_t mode, int *out_fd,
    struct zcipc_socket_owner *owner)
{
  char tmp_name[32];
  struct stat st = { 0 };
  const char *name = NULL;
  int dir = -1, tmp_dir = -1, fd = -1, res;

  owner->dir_fd = -1;
  if ((res = zcipc_socket_check_path (path)) < 0)
    return res;
  if (is_abstract (path))
    return listen_abstract (path, out_fd);
  if ((res = open_parent (path, &dir, &name)) < 0)
    return res;
  if (strlen (name) >= sizeof owner->name) {
    res = -ENAMETOOLONG;
    goto out;
  }
  if ((res = make_private_dir (dir, tmp_name, sizeof tmp_name, &tmp_dir)) < 0)
    goto out;
  if ((res = listen_in_private_dir (path, tmp_dir, tmp_name, mode, &fd,
              &st)) < 0)
    goto out;
  if ((res = place_socket (path, tmp_dir, dir, name)) < 0)
    goto out;
  owner->dir_fd = dir;
  dir = -1;
  snprintf (owner->name, sizeof owner->name, "%s", name);
  owner->dev = st.st_dev;
  owner->ino = st.st_ino;
  *out_fd = fd;
  fd = -1;

out:
  if (tmp_dir >= 0) {
    unlinkat (tmp_dir, "s", 0);
    unlinkat (tmp_dir, "stale", 0);
    close (tmp_dir);
    unlinkat (dir >= 0 ? dir : owner->dir_fd, tmp_name, AT_REMOVEDIR);
  }
  if (fd >= 0)
    close (fd);
  if (dir >= 0)
    close (dir);
  return res;
}

void
zcipc_socket_remove_owned (struct zcipc_socket_owner *owner)
{
  struct stat st;

  if (owner->dir_fd < 0)
    return;
  /* Only while the name is still our socket: a producer that found ours
   * stale after we stopped listening may have put its own there. (Between
   * this check and the unlink only the directory's writers can swap it:
   * in a sticky directory, no one but us.) */
  if (fstatat (owner->dir_fd, owner->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
      st.st_dev == owner->dev && st.st_ino == owner->ino)
    unlinkat (owner->dir_fd, owner->name, 0);
  close (owner->dir_fd);
  owner->dir_fd = -1;
}

int
zcipc_socket_listen (const char *path, uint32_t mode, int *out_fd)
{
  struct zcipc_socket_owner owner;
  int res = zcipc_socket_listen_owned (path, mode, out_fd, &owner);

  if (res == 0 && owner.dir_fd >= 0)
    close (owner.dir_fd);
  return res;
}

int
zcipc_socket_connect (const char *path, int *out_fd)
{
  return zcipc_socket_connect_timeout (path, -1, out_fd);
}

int
zcipc_socket_connect_timeout (const char *path, int timeout_ms, int *out_fd)
{
  struct sockaddr_un addr;
  socklen_t addr_len;
  int fd, res;

  if ((res = make_address (path, &addr, &addr_len)) < 0)
    return res;
  if ((fd = new_socket (0)) < 0)
    return zcipc_neg_errno ();
  /* connect() on a SEQPACKET socket waits within the send timeout. */
  if (timeout_ms >= 0) {
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  do {
    res = connect (fd, (struct sockaddr *) &addr, addr_len);
  } while (res < 0 && errno == EINTR);
  if (res < 0) {
    res = zcipc_neg_errno ();
    if (res == -EAGAIN || res == -EINPROGRESS)
      res = -ETIMEDOUT;
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
    int res = zcipc_neg_errno ();
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
    zcipc_close_fds (got, n_got);
    return err == EMFILE || err == ENFILE ? -err : -EPROTO;
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n_got > max_fds || bad ||
      (res == 0 && n_got > 0)) {
    zcipc_close_fds (got, n_got);
    return -EPROTO;
  }
  memcpy (fds, got, n_got * sizeof (int));
  *out_n_fds = n_got;
  *out_len = (size_t) res;
  return 0;
}
