/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_CLIENT_TESTING_H
#define ZCIPC_CLIENT_TESTING_H

/* For tests only: what a test looks at inside a client that no real user
 * needs. Not API: it may change with any commit. zcipc/client.h is the
 * consumer's API. */

#include <stdint.h>

#include "zcipc/client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes of regions mapped now (within zcipc_client_set_map_limits()'s
 * map_bytes). Any thread. */
uint64_t zcipc_client_mapped_bytes (struct zcipc_client *client);

#ifdef __cplusplus
}
#endif
#endif
