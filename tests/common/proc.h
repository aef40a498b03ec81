/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_TEST_PROC_H
#define ZCIPC_TEST_PROC_H

/* What /proc says of this process, for every test that proves nothing
 * leaks (tests/lib, tests/gst, tests/fuzz): its open fds and its mappings.
 * Plain C: no check, no GLib. A /proc that cannot be read aborts (a failed
 * test in check's forked tests, a crash for a fuzzer). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Calls `func` with each open fd of this process and what it refers to
 * (the /proc/self/fd link, "?" when unreadable), in no order, leaving out
 * the fd the listing itself uses. */
void zt_for_each_fd (void (*func) (int fd, const char *target, void *data),
    void *data);
/* Open fds of this process (entries of /proc/self/fd, minus the one used to
 * read it). */
int zt_count_fds (void);

/* One line of /proc/self/maps. */
struct zt_mapping
{
  uintptr_t start;
  uintptr_t end;
  char perms[5];                /* "rw-s", "r--p", ... */
  char name[256];               /* "" for anonymous memory */
};

/* Calls `func` for each mapping of this process until it returns true;
 * returns whether one did. */
bool zt_for_each_mapping (bool (*func) (const struct zt_mapping * m,
        void *data), void *data);
/* Mappings whose name contains `text` ("" counts every named one). */
int zt_count_maps_named (const char *text);
/* The mapping that holds all of [addr, addr + size) (into *out when not
 * NULL), if one does. */
bool zt_find_mapping (const void *addr, size_t size, struct zt_mapping *out);

#ifdef __cplusplus
}
#endif
#endif
