/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_RESULT_H
#define ZCIPC_RESULT_H

#include <errno.h>

/* Every libzcipc function that can fail returns 0 (or a positive count) on
 * success and a negative errno on failure, like PipeWire's SPA. */

#ifdef __cplusplus
extern "C" {
#endif

/* -errno of the call that just failed, never 0: a failure must not read as
 * success, even after a call that left errno unset. */
static inline int
zcipc_neg_errno (void)
{
  int err = errno;

  return err > 0 ? -err : -EIO;
}

#ifdef __cplusplus
}
#endif
#endif
