/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE             /* O_CLOEXEC under -std=c11 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zcipc/os.h"
#include "zcipc/result.h"

size_t
zcipc_page_round (size_t size)
{
  size_t page = (size_t) sysconf (_SC_PAGESIZE);

  return (size + page - 1) / page * page;
}

int
zcipc_memfd_create_mapped (const char *name, size_t size, int map_flags,
    int *out_fd, void **out_data)
{
  void *data;
  int fd, res;

  if ((fd = memfd_create (name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0)
    return zcipc_neg_errno ();
  if (ftruncate (fd, (off_t) size) < 0)
    goto fail;
  data = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | map_flags,
      fd, 0);
  if (data == MAP_FAILED)
    goto fail;
  /* A forked child (gst-launch's helpers, a Python subprocess) has no
   * business with these pages. */
  madvise (data, size, MADV_DONTFORK);
  *out_fd = fd;
  *out_data = data;
  return 0;

fail:
  res = zcipc_neg_errno ();
  close (fd);
  return res;
}

int
zcipc_reopen_read_only (int fd)
{
  char proc_path[64];
  int res;

  snprintf (proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
  if ((res = open (proc_path, O_RDONLY | O_CLOEXEC)) < 0)
    return zcipc_neg_errno ();
  return res;
}
