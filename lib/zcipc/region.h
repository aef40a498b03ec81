/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_REGION_H
#define ZCIPC_REGION_H

/* A region is one shared memory object mapped once into this process.
 *
 * The producer creates it as a memfd, maps it writable, then seals it
 * against shrinking, growing and any further writable mapping
 * (F_SEAL_FUTURE_WRITE), so consumers can neither write the stream nor make
 * anybody SIGBUS. Consumers import the fd, check its size and seals (or
 * that it is a real DMABuf), and map it read-only, once. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zcipc_region
{
  int fd;                       /* owned by the region */
  void *data;                   /* the one mapping */
  size_t size;
  bool writable;
  unsigned int seals;           /* F_GET_SEALS at create/import time */
};

/* Seals every producer region carries; a consumer refuses a memfd without
 * ZCIPC_REGION_REQUIRED_SEALS. */
#define ZCIPC_REGION_REQUIRED_SEALS (0x0002u | 0x0004u) /* SHRINK | GROW */

#define ZCIPC_REGION_POPULATE (1u << 0)  /* pre-fault the mapping */

/* Creates a sealed memfd of `size` bytes (rounded up to the page size) named
 * `name` (shows in /proc/PID/maps as "memfd:NAME"), maps it read-write, and
 * seals it. `flags` takes ZCIPC_REGION_POPULATE. */
int zcipc_region_create (struct zcipc_region *region, const char *name,
    size_t size, unsigned int flags);

/* Whether `fd` is memory a consumer may map: a memfd (any shmem object)
 * sealed with ZCIPC_REGION_REQUIRED_SEALS and at least `size` bytes, or,
 * with `allow_dmabuf`, a DMABuf (by its file system type, as the kernel
 * reports it) of at least `size` bytes. Anything else (a regular file, an
 * unsealed memfd, a pipe) could shrink under a mapping, or is no memory:
 * -EBADFD, with *why (when not NULL) saying what the fd is. Maps nothing;
 * the caller keeps `fd`. */
int zcipc_region_check (int fd, uint64_t size, bool allow_dmabuf,
    const char **why);

/* Maps `fd` read-only after zcipc_region_check() (-EBADFD when it fails,
 * whatever the peer said the fd is). `flags` takes ZCIPC_REGION_POPULATE.
 * On success the region owns `fd`; on failure the caller still does. */
int zcipc_region_import (struct zcipc_region *region, int fd, size_t size,
    bool allow_dmabuf, unsigned int flags);

/* Unmaps and closes; safe on a zeroed or already cleared region. */
void zcipc_region_clear (struct zcipc_region *region);

#ifdef __cplusplus
}
#endif
#endif
