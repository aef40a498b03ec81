/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "zcipc/os.h"
#include "zcipc/region.h"
#include "zcipc/result.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

/* Where the system offers transparent huge pages for shared memory
 * (shmem_enabled "advise", or "always"), a region's frames sit in 2 MiB
 * pages: a 1080p frame in 4 TLB entries instead of 2025. Advised before
 * the pages exist (MAP_POPULATE would make them small), then faulted in
 * once; elsewhere the advice does nothing. */
static void
map_huge_and_populate (void *data, size_t size, bool populate, bool write)
{
  size_t page = (size_t) sysconf (_SC_PAGESIZE);

  madvise (data, size, MADV_HUGEPAGE);
  if (!populate || madvise (data, size, write ? MADV_POPULATE_WRITE :
          MADV_POPULATE_READ) == 0)
    return;
  /* Kernels before 5.14: fault each page in by hand. The region is new
   * (zeros) where we write, so writing a zero changes nothing. */
  for (size_t off = 0; off < size; off += page) {
    if (write)
      ((volatile uint8_t *) data)[off] = 0;
    else
      (void) ((volatile const uint8_t *) data)[off];
  }
}

static void
region_reset (struct zcipc_region *region)
{
  region->fd = -1;
  region->data = NULL;
  region->size = 0;
  region->writable = false;
  region->seals = 0;
}

static int
add_seals (int fd)
{
  const int base = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;

  if (fcntl (fd, F_ADD_SEALS, base | F_SEAL_FUTURE_WRITE) == 0)
    return 0;
  /* Kernels before 5.1 lack F_SEAL_FUTURE_WRITE: consumers then still get
   * read-only fds and mappings, but could reopen /proc/self/fd writable. */
  if (errno == EINVAL && fcntl (fd, F_ADD_SEALS, base) == 0)
    return 0;
  return zcipc_neg_errno ();
}

int
zcipc_region_create (struct zcipc_region *region, const char *name,
    size_t size, unsigned int flags)
{
  void *data;
  int res;
  int fd;

  region_reset (region);
  if (size == 0)
    return -EINVAL;
  size = zcipc_page_round (size);
  /* The producer's writable mapping must exist before F_SEAL_FUTURE_WRITE:
   * after it, nobody (us included) can map the memfd writable again. */
  if ((res = zcipc_memfd_create_mapped (name, size, 0, &fd, &data)) < 0)
    return res;
  map_huge_and_populate (data, size, flags & ZCIPC_REGION_POPULATE, true);
  if ((res = add_seals (fd)) < 0) {
    munmap (data, size);
    close (fd);
    return res;
  }
  region->fd = fd;
  region->data = data;
  region->size = size;
  region->writable = true;
  region->seals = (unsigned int) fcntl (fd, F_GET_SEALS);
  return 0;
}

/* The file system type the kernel reports for a DMABuf (linux/magic.h). */
#ifndef DMA_BUF_MAGIC
#define DMA_BUF_MAGIC 0x444d4142
#endif

int
zcipc_region_check (int fd, uint64_t size, bool allow_dmabuf, const char **why)
{
  const char *unused;
  struct statfs fs;
  struct stat st;
  int seals;

  if (!why)
    why = &unused;
  *why = "";
  if (size == 0 || fd < 0)
    return -EINVAL;
  if (fstat (fd, &st) < 0)
    return zcipc_neg_errno ();
  /* The peer's word for what the fd is does not count, nor does its
   * kind: only memory that cannot shrink under our mapping is taken, for
   * a read past a shrunk object's end raises SIGBUS. A memfd (or any
   * shmem object) holds still once sealed against shrinking; a DMABuf's
   * size is fixed for its life. Regular files, unsealed shmem, pipes and
   * the rest can change (or were never memory): refused. */
  seals = fcntl (fd, F_GET_SEALS);
  if (seals >= 0) {
    if (((unsigned int) seals & ZCIPC_REGION_REQUIRED_SEALS) !=
        ZCIPC_REGION_REQUIRED_SEALS) {
      *why = "a memfd not sealed against shrinking and growing";
      return -EBADFD;
    }
    if (st.st_size < 0 || (uint64_t) st.st_size < size) {
      *why = "a memfd smaller than it claims";
      return -EBADFD;
    }
    return 0;
  }
  if (fstatfs (fd, &fs) == 0 && (unsigned long) fs.f_type == DMA_BUF_MAGIC) {
    off_t end;

    if (!allow_dmabuf) {
      *why = "a DMABuf where a memfd was announced";
      return -EBADFD;
    }
    end = lseek (fd, 0, SEEK_END);
    if (end < 0 || (uint64_t) end < size) {
      *why = "a DMABuf smaller than it claims";
      return -EBADFD;
    }
    return 0;
  }
  if (S_ISREG (st.st_mode))
    *why = "a file that can shrink under the mapping (not a sealed memfd "
        "nor a DMABuf)";
  else if (S_ISFIFO (st.st_mode) || S_ISSOCK (st.st_mode))
    *why = "a pipe or socket, not memory";
  else
    *why = "neither a sealed memfd nor a DMABuf";
  return -EBADFD;
}

int
zcipc_region_import (struct zcipc_region *region, int fd, size_t size,
    bool allow_dmabuf, unsigned int flags)
{
  int mmap_flags = MAP_SHARED;
  int seals, res;
  bool shmem;
  void *data;

  region_reset (region);
  if (size == 0 || fd < 0)
    return -EINVAL;
  if ((res = zcipc_region_check (fd, size, allow_dmabuf, NULL)) < 0)
    return res;
  seals = fcntl (fd, F_GET_SEALS);
  shmem = seals >= 0;
  /* Shared memory may sit in huge pages: advise before populating.
   * DMABufs are populated by mmap as ever. */
  if ((flags & ZCIPC_REGION_POPULATE) && !shmem)
    mmap_flags |= MAP_POPULATE;
  data = mmap (NULL, size, PROT_READ, mmap_flags, fd, 0);
  if (data == MAP_FAILED)
    return zcipc_neg_errno ();
  if (shmem)
    map_huge_and_populate (data, size, flags & ZCIPC_REGION_POPULATE, false);
  madvise (data, size, MADV_DONTFORK);
  region->fd = fd;
  region->data = data;
  region->size = size;
  region->writable = false;
  region->seals = (unsigned int) (seals < 0 ? 0 : seals);
  return 0;
}

void
zcipc_region_clear (struct zcipc_region *region)
{
  /* A live region always has its mapping; a zeroed struct (fd 0) must not
   * close stdin. */
  if (region->data == NULL)
    return;
  munmap (region->data, region->size);
  if (region->fd >= 0)
    close (region->fd);
  region_reset (region);
}
