/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_FDS_H
#define ZCIPC_FDS_H

/* File descriptors that came with a message (zcipc_socket_recv()) and that
 * nobody took: closed in one place. */

#include <unistd.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Closes `n` fds of `fds`; they are nobody's afterwards. */
static inline void
zcipc_close_fds (const int *fds, unsigned int n)
{
  for (unsigned int i = 0; i < n; i++)
    close (fds[i]);
}

#ifdef __cplusplus
}
#endif
#endif
