/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_SOCKET_H
#define ZCIPC_SOCKET_H

/* SOCK_SEQPACKET Unix sockets with fd passing. A path that starts with '@'
 * names a Linux abstract-namespace socket (nothing in the file system). */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Most fds one datagram may carry; more is a protocol error. */
#define ZCIPC_SOCKET_MAX_FDS 4u

struct zcipc_peer_cred
{
  pid_t pid;
  uid_t uid;
  gid_t gid;
};

/* Checks that `path` fits a sockaddr_un (-ENAMETOOLONG) and is not empty
 * (-EINVAL). */
int zcipc_socket_check_path (const char *path);

/* Binds and listens on `path` with file mode `mode` (ignored for abstract
 * names). A stale socket file left by a dead producer is replaced; a socket
 * a live process still accepts on gives -EADDRINUSE; a file that is not a
 * socket gives -EEXIST; a missing directory -ENOENT. On success *out_fd is a
 * non-blocking, CLOEXEC listening socket owned by the caller. */
int zcipc_socket_listen (const char *path, uint32_t mode, int *out_fd);

/* What a producer needs to remove its own socket file and nothing else:
 * its directory (an fd, not a path that could be swapped) and its inode. */
struct zcipc_socket_owner
{
  int dir_fd;                   /* -1: nothing to remove (abstract name) */
  char name[108];
  dev_t dev;
  ino_t ino;
};

/* zcipc_socket_listen(), and fills `owner` for
 * zcipc_socket_remove_owned(). The socket appears at `path` complete:
 * listening, with its final mode; of several producers starting at once on
 * one path exactly one succeeds. */
int zcipc_socket_listen_owned (const char *path, uint32_t mode, int *out_fd,
    struct zcipc_socket_owner *owner);

/* Removes the socket file if the name still refers to the one we created,
 * and closes the directory fd. */
void zcipc_socket_remove_owned (struct zcipc_socket_owner *owner);

/* Connects to `path`. -ENOENT or -ECONNREFUSED mean nobody listens (yet),
 * or that nothing can: see zcipc_socket_check_waitable().
 * On success *out_fd is a blocking, CLOEXEC socket owned by the caller. */
int zcipc_socket_connect (const char *path, int *out_fd);

/* The same, bounded: a producer that stopped accepting (its backlog full)
 * would block connect() for ever; past `timeout_ms` (< 0: no bound) it
 * fails with -ETIMEDOUT. The bound stays on the socket as its send timeout. */
int zcipc_socket_connect_timeout (const char *path, int timeout_ms,
    int *out_fd);

/* After zcipc_socket_connect() found nobody there: whether a producer can
 * still appear at `path`. 0 when it can (no socket yet, or a stale one that
 * nobody accepts on; always for abstract names); -EISDIR when a directory
 * is there, -ENOTSOCK when another file that is not a socket is; -ENOTDIR
 * when the directory it would be in does not exist (or is not one). */
int zcipc_socket_check_waitable (const char *path);

/* Accepts one pending connection as non-blocking and CLOEXEC, and reads its
 * credentials (SO_PEERCRED). -EAGAIN when none is pending. */
int zcipc_socket_accept (int listen_fd, int *out_fd,
    struct zcipc_peer_cred *cred);

/* Sends one datagram made of `iov` with `n_fds` fds (still owned by the
 * caller). MSG_NOSIGNAL, EINTR retried; `dontwait` makes a full socket
 * buffer return -EAGAIN instead of blocking. Returns 0 or a negative errno. */
int zcipc_socket_send (int fd, const struct iovec *iov, int iov_count,
    const int *fds, unsigned n_fds, int dontwait);

/* Receives one datagram into `buf` (`cap` bytes) and up to `max_fds` fds,
 * which arrive CLOEXEC and belong to the caller afterwards. A truncated
 * datagram or control message, more fds than `max_fds`, or fds on an empty
 * datagram, closes every fd that came and returns -EPROTO. Returns 0 with *out_len == 0 at hang-up,
 * -EAGAIN when `dontwait` and nothing is pending, -EMFILE or -ENFILE when
 * the kernel could not install the fds because this process (or the
 * system) is out of file descriptors (the datagram is lost). */
int zcipc_socket_recv (int fd, void *buf, size_t cap, size_t *out_len,
    int *fds, unsigned max_fds, unsigned *out_n_fds, int dontwait);

#ifdef __cplusplus
}
#endif
#endif
