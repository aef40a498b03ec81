/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_BENCH_WAKEUP_H
#define ZCIPC_BENCH_WAKEUP_H

/* What the two wake-up floors (zcipc-wakeup-floor, zcipc-wakeup-futex)
 * measure with: CLOCK_MONOTONIC through zcipc/clock.h (the clock zcipc
 * stamps frames with) and this process's CPU time. Plain C11 + POSIX. */

#include <stdint.h>
#include <sys/resource.h>

#include "zcipc/clock.h"

/* CPU time this process has used, user and system, in µs. */
static inline int64_t
wakeup_cpu_us (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return (int64_t) ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec +
      (int64_t) ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

#endif
