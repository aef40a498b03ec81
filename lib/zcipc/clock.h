/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_CLOCK_H
#define ZCIPC_CLOCK_H

/* CLOCK_MONOTONIC, the clock of every deadline and timestamp libzcipc keeps
 * (and of the wire's send times), in one place. */

#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

static inline int64_t
zcipc_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline int64_t
zcipc_now_ms (void)
{
  return zcipc_now_ns () / 1000000;
}

#ifdef __cplusplus
}
#endif
#endif
