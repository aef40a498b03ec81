/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE             /* O_CLOEXEC under -std=c11 */
#include <fcntl.h>
#include <stdio.h>
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
zcipc_reopen_read_only (int fd)
{
  char proc_path[64];
  int res;

  snprintf (proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
  if ((res = open (proc_path, O_RDONLY | O_CLOEXEC)) < 0)
    return zcipc_neg_errno ();
  return res;
}
