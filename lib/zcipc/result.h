/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_RESULT_H
#define ZCIPC_RESULT_H

/* Every libzcipc function that can fail returns 0 (or a positive count) on
 * success and a negative errno on failure, like PipeWire's SPA. */

#ifdef __cplusplus
extern "C" {
#endif

/* Describes a negative result code; never returns NULL. */
const char *zcipc_strerror (int res);

#ifdef __cplusplus
}
#endif
#endif
