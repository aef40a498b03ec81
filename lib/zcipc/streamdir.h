/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_STREAMDIR_H
#define ZCIPC_STREAMDIR_H

/* Named streams: where the socket of a stream called NAME lives. Each user
 * has one directory of streams; the socket of stream NAME is the file NAME
 * in it (no suffix), so listing the directory lists the streams. The library
 * reads no environment: callers pass their $XDG_RUNTIME_DIR. */

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Longest stream name, in bytes, without the NUL. */
#define ZCIPC_STREAM_NAME_MAX 64

/* 0 if `name` is a valid stream name: 1..ZCIPC_STREAM_NAME_MAX bytes of
 * [A-Za-z0-9._-], not starting with '.' (so neither "." nor ".."); -EINVAL
 * otherwise (NULL included). A valid name is one path component that is
 * never hidden and never climbs out of the directory. */
int zcipc_stream_name_check (const char *name);

/* 0 if `path` is a stream's socket: its last component is a valid stream
 * name and it is a socket (a symlink is not: lstat), which is then in *st
 * (when not NULL). -EINVAL for a bad name, -ENOTSOCK for anything else
 * there, or lstat's -errno. What the listers of a stream directory
 * (zcipc-top, the device provider) count as a stream. */
int zcipc_stream_socket_stat (const char *path, struct stat *st);

/* The per-user directory of zcipc streams:
 *   "<runtime_dir>/zcipc" when `runtime_dir` (the caller's $XDG_RUNTIME_DIR)
 *                         is an absolute path (the XDG base directory spec
 *                         says to ignore a relative one, as if unset),
 *   "/run/zcipc"          for uid 0 otherwise,
 *   "/tmp/zcipc-<uid>"    otherwise.
 * With `create`, makes it with mode 0700 when missing (its parent must
 * exist). Whether made or found, it must be a directory (a symlink is not:
 * lstat) owned by `uid` and neither group- nor world-writable, else -ENOTDIR
 * (not a directory), -EPERM (another owner) or -EACCES (writable by others).
 * -ENOENT when missing and !create. `buf` (`size` bytes) receives the path
 * for every result but -ENAMETOOLONG (too long for `buf`), so a caller can
 * name the directory in its error message. */
int zcipc_stream_dir (const char *runtime_dir, uid_t uid, bool create,
    char *buf, size_t size);

/* zcipc_stream_dir() + "/" + `name`: the socket path of stream `name`. The
 * name is checked first (-EINVAL, `buf` untouched); the result also fails
 * with -ENAMETOOLONG when the path does not fit a Unix socket address.
 * On a directory error `buf` holds the directory's path, as above. */
int zcipc_stream_path (const char *runtime_dir, uid_t uid, const char *name,
    bool create, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
