/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The consumer's side, the object itself: creating it, its reference
 * count (frames held keep it alive), interrupting it, its settings and
 * what it tells about itself. The connection is in client-connect.c,
 * next() in client-receive.c, regions in client-regions.c, held frames in
 * client-frames.c; client-private.h says what they share. Getters of
 * fields under the client's lock take it; settings meant for before
 * connect (or next()'s thread) do not. */

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "client-private.h"
#include "zcipc/client-testing.h"
#include "zcipc/socket.h"

void
client_set_reason (struct zcipc_client *c, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  vsnprintf (c->reason, sizeof c->reason, format, args);
  va_end (args);
}

int
zcipc_client_new (const char *path, uint32_t max_held,
    struct zcipc_client **out)
{
  struct zcipc_client *c;
  int res;

  if ((res = zcipc_socket_check_path (path)) < 0)
    return res;
  if (max_held == 0 || max_held > ZCIPC_WIRE_MAX_QUOTA)
    return -EINVAL;
  if (!(c = calloc (1, sizeof *c)))
    return -ENOMEM;
  atomic_init (&c->refcount, 1);
  c->fd = -1;
  c->channel.fd = -1;
  c->use_channel = true;        /* zcipc_client_set_channel() */
  c->max_held = max_held;
  c->map_limit = ZCIPC_CLIENT_DEFAULT_MAP_LIMIT;
  c->populate_limit = ZCIPC_CLIENT_DEFAULT_POPULATE_LIMIT;
  c->path = strdup (path);
  c->held = calloc (ZCIPC_WIRE_MAX_QUOTA, sizeof *c->held);
  c->buffer = aligned_alloc (8, RECV_BUFFER_SIZE);
  c->interrupt_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  pthread_mutex_init (&c->lock, NULL);
  if (!c->path || !c->held || !c->buffer || c->interrupt_fd < 0) {
    zcipc_client_unref (c);
    return -ENOMEM;
  }
  *out = c;
  return 0;
}

struct zcipc_client *
zcipc_client_ref (struct zcipc_client *c)
{
  atomic_fetch_add (&c->refcount, 1);
  return c;
}

void
zcipc_client_unref (struct zcipc_client *c)
{
  if (!c || atomic_fetch_sub (&c->refcount, 1) != 1)
    return;
  if (c->fd >= 0)
    close (c->fd);
  zcipc_channel_clear (&c->channel);
  if (c->held) {
    for (uint32_t i = 0; i < ZCIPC_WIRE_MAX_QUOTA; i++)
      for (uint32_t j = 0; c->held[i].seq && j < c->held[i].n_regions; j++)
        client_region_unref_locked (c, c->held[i].regions[j]);
  }
  client_forget_regions_locked (c);
  free (c->regions);
  if (c->interrupt_fd >= 0)
    close (c->interrupt_fd);
  pthread_mutex_destroy (&c->lock);
  free (c->held);
  free (c->buffer);
  free (c->metas);
  free (c->path);
  free (c);
}

void
zcipc_client_report_region_removals (struct zcipc_client *c, bool report)
{
  pthread_mutex_lock (&c->lock);
  c->report_removals = report;
  pthread_mutex_unlock (&c->lock);
}

void
zcipc_client_set_interrupted (struct zcipc_client *c, bool interrupted)
{
  atomic_store (&c->interrupted, interrupted);
  if (interrupted) {
    uint64_t one = 1;
    ssize_t r = write (c->interrupt_fd, &one, sizeof one);
    (void) r;
    pthread_mutex_lock (&c->lock);
    if (zcipc_channel_is_open (&c->channel))
      zcipc_channel_interrupt (&c->channel);
    pthread_mutex_unlock (&c->lock);
  } else {
    uint64_t v;
    ssize_t r = read (c->interrupt_fd, &v, sizeof v);
    (void) r;
  }
}

uint32_t
zcipc_client_quota (struct zcipc_client *c)
{
  uint32_t quota;
  pthread_mutex_lock (&c->lock);
  quota = c->quota;
  pthread_mutex_unlock (&c->lock);
  return quota;
}

uint32_t
zcipc_client_consumer_id (struct zcipc_client *c)
{
  return c->consumer_id;
}

const char *
zcipc_client_reason (struct zcipc_client *c)
{
  return c->reason;
}

unsigned int
zcipc_client_n_regions (struct zcipc_client *c)
{
  unsigned int n;
  pthread_mutex_lock (&c->lock);
  n = c->n_regions;
  pthread_mutex_unlock (&c->lock);
  return n;
}

void
zcipc_client_set_spin (struct zcipc_client *c, unsigned int spin_us)
{
  atomic_store (&c->spin_us, spin_us);
}

uint64_t
zcipc_client_sleeps (struct zcipc_client *c)
{
  return atomic_load_explicit (&c->sleeps, memory_order_relaxed);
}

void
zcipc_client_set_wait_any_path (struct zcipc_client *c, bool wait)
{
  c->wait_any_path = wait;
}

void
zcipc_client_set_channel (struct zcipc_client *c, bool use_channel)
{
  c->use_channel = use_channel;
}

bool
zcipc_client_has_channel (struct zcipc_client *c)
{
  bool open;
  pthread_mutex_lock (&c->lock);
  open = zcipc_channel_is_open (&c->channel);
  pthread_mutex_unlock (&c->lock);
  return open;
}

void
zcipc_client_set_map_limits (struct zcipc_client *c, uint64_t map_bytes,
    uint64_t populate_bytes)
{
  pthread_mutex_lock (&c->lock);
  c->map_limit = map_bytes ? map_bytes : ZCIPC_CLIENT_DEFAULT_MAP_LIMIT;
  c->populate_limit = populate_bytes ? populate_bytes :
      ZCIPC_CLIENT_DEFAULT_POPULATE_LIMIT;
  pthread_mutex_unlock (&c->lock);
}

uint64_t
zcipc_client_mapped_bytes (struct zcipc_client *c)
{
  uint64_t n;
  pthread_mutex_lock (&c->lock);
  n = c->mapped_bytes;
  pthread_mutex_unlock (&c->lock);
  return n;
}

void
zcipc_client_set_retry_delay (struct zcipc_client *c, unsigned int delay_ms)
{
  c->retry_delay_ms = delay_ms;
}
