/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zcipc/socket.h"
#include "zcipc/streamdir.h"
#include "zcipc/result.h"

static bool
is_name_byte (char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int
zcipc_stream_name_check (const char *name)
{
  size_t n;

  if (name == NULL || name[0] == '\0' || name[0] == '.')
    return -EINVAL;
  for (n = 0; name[n] != '\0'; n++) {
    if (n >= ZCIPC_STREAM_NAME_MAX || !is_name_byte (name[n]))
      return -EINVAL;
  }
  return 0;
}

static int
format_dir (const char *runtime_dir, uid_t uid, char *buf, size_t size)
{
  int n;

  if (runtime_dir != NULL && runtime_dir[0] == '/')
    n = snprintf (buf, size, "%s/zcipc", runtime_dir);
  else if (uid == 0)
    n = snprintf (buf, size, "/run/zcipc");
  else
    n = snprintf (buf, size, "/tmp/zcipc-%u", (unsigned) uid);
  if (n < 0 || (size_t) n >= size)
    return -ENAMETOOLONG;
  return 0;
}

/* lstat, not stat: in a shared parent such as /tmp, a symlink planted by
 * another user must not lead us into a directory of theirs. */
static int
check_dir (const char *path, uid_t uid)
{
  struct stat st;

  if (lstat (path, &st) < 0)
    return zcipc_neg_errno ();
  if (!S_ISDIR (st.st_mode))
    return -ENOTDIR;
  if (st.st_uid != uid)
    return -EPERM;
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return -EACCES;
  return 0;
}

int
zcipc_stream_dir (const char *runtime_dir, uid_t uid, bool create,
    char *buf, size_t size)
{
  int res;

  if (buf == NULL || size == 0)
    return -EINVAL;
  if ((res = format_dir (runtime_dir, uid, buf, size)) < 0)
    return res;
  if (create) {
    if (mkdir (buf, 0700) == 0) {
      /* The umask may have taken the owner's bits; ours must be 0700. */
      if (chmod (buf, 0700) < 0)
        return zcipc_neg_errno ();
    } else if (errno != EEXIST) {
      return zcipc_neg_errno ();
    }
  }
  return check_dir (buf, uid);
}

int
zcipc_stream_socket_stat (const char *path, struct stat *st)
{
  const char *slash = strrchr (path, '/');
  struct stat own;

  if (zcipc_stream_name_check (slash ? slash + 1 : path) < 0)
    return -EINVAL;
  if (!st)
    st = &own;
  if (lstat (path, st) < 0)
    return zcipc_neg_errno ();
  return S_ISSOCK (st->st_mode) ? 0 : -ENOTSOCK;
}

int
zcipc_stream_path (const char *runtime_dir, uid_t uid, const char *name,
    bool create, char *buf, size_t size)
{
  size_t dir_len;
  int res;

  if ((res = zcipc_stream_name_check (name)) < 0)
    return res;
  if ((res = zcipc_stream_dir (runtime_dir, uid, create, buf, size)) < 0)
    return res;
  dir_len = strlen (buf);
  if (dir_len + 1 + strlen (name) >= size)
    return -ENAMETOOLONG;
  buf[dir_len] = '/';
  strcpy (buf + dir_len + 1, name);
  return zcipc_socket_check_path (buf);
}
