/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The producer's side of a test's handshake with a real client: the one
 * copy tests/lib and the fuzzers share (see peer.h). */

#include <errno.h>
#include <poll.h>

#include "peer.h"

int
zt_poll_in (int fd, int timeout_ms)
{
  struct pollfd pfd = { fd, POLLIN, 0 };
  int res;

  do {
    res = poll (&pfd, 1, timeout_ms);
  } while (res < 0 && errno == EINTR);
  return res < 0 ? -errno : res;
}

static void *
connect_thread (void *data)
{
  struct zt_connect_job *job = data;

  job->res = zcipc_client_connect (job->client, 5000);
  return NULL;
}

int
zt_connect_start (struct zt_connect_job *job, struct zcipc_client *client)
{
  job->client = client;
  job->res = 0;
  return pthread_create (&job->thread, NULL, connect_thread, job);
}

int
zt_connect_finish (struct zt_connect_job *job)
{
  pthread_join (job->thread, NULL);
  return job->res;
}
