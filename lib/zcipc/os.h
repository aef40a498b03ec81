/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_OS_H
#define ZCIPC_OS_H

/* The small system helpers more than one part of libzcipc needs, each
 * written once (as Wayland's wayland-os.c). Closing a message's fds is
 * zcipc/fds.h's. */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* `size` rounded up to a whole number of pages. */
size_t zcipc_page_round (size_t size);

/* Creates a memfd named `name` (shown in /proc/PID/maps as "memfd:NAME")
 * of `size` bytes that can be sealed, maps it read-write and shared
 * (`map_flags` adds to MAP_SHARED: MAP_POPULATE, say) and keeps the mapping
 * out of forked children. Sealing is the caller's: what to seal, and when,
 * differs. On success *out_fd and the mapping *out_data are the caller's;
 * 0 or -errno. */
int zcipc_memfd_create_mapped (const char *name, size_t size, int map_flags,
    int *out_fd, void **out_data);

/* A new read-only, CLOEXEC open of what `fd` refers to, through
 * /proc/self/fd: a peer given it cannot map the object writable, whatever
 * `fd` allows. Returns the fd (the caller's), or -errno (-ENOENT without
 * /proc). */
int zcipc_reopen_read_only (int fd);

#ifdef __cplusplus
}
#endif
#endif
