/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_TEST_PEER_H
#define ZCIPC_TEST_PEER_H

/* Playing a producer against a real zcipc_client, for tests/lib's helpers
 * and the fuzzers: waiting on a socket, and a client that connects on a
 * thread of its own while the test answers its handshake. Plain C: no
 * check, no GLib. */

#include <pthread.h>

#include "zcipc/client.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Waits up to `timeout_ms` for `fd` to be readable (EINTR retried, so a
 * libFuzzer -timeout alarm does not end the wait); returns 1, 0 on
 * timeout, or -errno. */
int zt_poll_in (int fd, int timeout_ms);

/* zcipc_client_connect (client, 5000) on a thread, so that the test can
 * play the producer meanwhile. */
struct zt_connect_job
{
  struct zcipc_client *client;
  int res;
  pthread_t thread;
};

/* Starts connecting `client`; 0 or the pthread_create error. */
int zt_connect_start (struct zt_connect_job *job, struct zcipc_client *client);
/* Waits for the connect; returns its result. */
int zt_connect_finish (struct zt_connect_job *job);

#ifdef __cplusplus
}
#endif
#endif
