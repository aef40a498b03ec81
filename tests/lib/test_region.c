/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "helpers.h"

/* The producer's region and a consumer's import of it, in one process: the
 * consumer side gets its own fd (a dup, as SCM_RIGHTS would give) and its
 * own read-only mapping. A failing check that makes the kernel SIGBUS shows
 * as this test's process dying on a signal, which check reports. */

static size_t page;

static void
setup (void)
{
  page = (size_t) sysconf (_SC_PAGESIZE);
}

static void
make_pair (struct zcipc_region *producer, struct zcipc_region *consumer,
    size_t size)
{
  int fd;

  ck_assert_int_eq (zcipc_region_create (producer, "zt-region", size, 0), 0);
  fd = fcntl (producer->fd, F_DUPFD_CLOEXEC, 3);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (zcipc_region_import (consumer, fd, producer->size, true,
          0), 0);
}

START_TEST (test_create_gives_a_sealed_writable_mapping_rounded_to_pages)
{
  struct zcipc_region r;
  struct stat st;

  ck_assert_int_eq (zcipc_region_create (&r, "zt-region", 10000,
          ZCIPC_REGION_POPULATE), 0);
  ck_assert_int_ge (r.fd, 0);
  ck_assert_ptr_nonnull (r.data);
  ck_assert (r.writable);
  ck_assert_uint_eq (r.size % page, 0);
  ck_assert_uint_ge (r.size, 10000);
  ck_assert_uint_lt (r.size, 10000 + page);
  ck_assert_int_eq (fstat (r.fd, &st), 0);
  ck_assert_int_eq (st.st_size, (off_t) r.size);
  ck_assert (fcntl (r.fd, F_GETFD) & FD_CLOEXEC);
  /* Sealed against shrinking, growing and further sealing. */
  ck_assert_uint_eq (r.seals & ZCIPC_REGION_REQUIRED_SEALS,
      ZCIPC_REGION_REQUIRED_SEALS);
  ck_assert (r.seals & ZT_SEAL_SEAL);
  ck_assert_int_eq ((unsigned int) fcntl (r.fd, F_GET_SEALS), r.seals);
  /* The producer's mapping writes, also after sealing. */
  memset (r.data, 0xab, r.size);
  ck_assert_uint_eq (((uint8_t *) r.data)[r.size - 1], 0xab);
  zcipc_region_clear (&r);
  ck_assert_int_eq (r.fd, -1);
  ck_assert_ptr_null (r.data);
}

END_TEST;

START_TEST (test_create_refuses_size_zero)
{
  struct zcipc_region r;
  int before = zt_count_fds ();

  ck_assert_int_eq (zcipc_region_create (&r, "zt-region", 0, 0), -EINVAL);
  ck_assert_int_eq (r.fd, -1);
  ck_assert_ptr_null (r.data);
  ck_assert_int_eq (zt_count_fds (), before);
}

END_TEST;

START_TEST (test_data_is_visible_through_a_read_only_import)
{
  struct zcipc_region producer, consumer;
  uint8_t *p, *c;

  make_pair (&producer, &consumer, 3 * page);
  p = producer.data;
  c = consumer.data;
  ck_assert (!consumer.writable);
  ck_assert_ptr_ne (c, p);
  ck_assert_uint_eq (consumer.size, producer.size);
  ck_assert_int_ne (consumer.fd, producer.fd);
  ck_assert (zt_same_file (consumer.fd, producer.fd));
  ck_assert_uint_eq (consumer.seals, producer.seals);
  /* Written after the import, seen through the other mapping. */
  for (size_t i = 0; i < producer.size; i++)
    p[i] = zt_pattern (1, i);
  for (size_t i = 0; i < consumer.size; i++)
    ck_assert_uint_eq (c[i], zt_pattern (1, i));
  p[page + 5] = 0x11;
  ck_assert_uint_eq (c[page + 5], 0x11);
  zcipc_region_clear (&consumer);
  zcipc_region_clear (&producer);
}

END_TEST;

START_TEST (test_import_of_a_smaller_part_maps_that_part)
{
  struct zcipc_region producer, consumer;
  int fd;

  ck_assert_int_eq (zcipc_region_create (&producer, "zt-region", 4 * page,
          0), 0);
  fd = fcntl (producer.fd, F_DUPFD_CLOEXEC, 3);
  ck_assert_int_eq (zcipc_region_import (&consumer, fd, page, true, 0), 0);
  ck_assert_uint_eq (consumer.size, page);
  zcipc_region_clear (&consumer);
  zcipc_region_clear (&producer);
}

END_TEST;

START_TEST (test_import_refuses_a_memfd_smaller_than_claimed)
{
  struct zcipc_region r;
  int fd = zt_memfd (page, ZT_SEAL_SHRINK | ZT_SEAL_GROW | ZT_SEAL_SEAL);
  int maps = zt_count_maps ();

  ck_assert_int_eq (zcipc_region_import (&r, fd, 256 * page, true, 0), -EBADFD);
  ck_assert_int_eq (zcipc_region_import (&r, fd, page + 1, true,
          ZCIPC_REGION_POPULATE), -EBADFD);
  ck_assert_int_eq (r.fd, -1);
  ck_assert_ptr_null (r.data);
  ck_assert_int_eq (zt_count_maps (), maps);
  /* On failure the caller still owns the fd. */
  ck_assert_int_ge (fcntl (fd, F_GETFD), 0);
  close (fd);
}

END_TEST;

START_TEST (test_import_refuses_an_unsealed_memfd)
{
  struct zcipc_region r;
  int unsealed = zt_memfd (page, 0);
  int shrink_only = zt_memfd (page, ZT_SEAL_SHRINK);
  int no_sealing = memfd_create ("zt-nosealing", MFD_CLOEXEC);
  int maps = zt_count_maps ();

  ck_assert_int_ge (no_sealing, 0);
  ck_assert_int_eq (ftruncate (no_sealing, (off_t) page), 0);
  ck_assert_int_eq (zcipc_region_import (&r, unsealed, page, true, 0), -EBADFD);
  ck_assert_int_eq (zcipc_region_import (&r, shrink_only, page, true, 0),
      -EBADFD);
  /* Made without MFD_ALLOW_SEALING: it only carries F_SEAL_SEAL. */
  ck_assert_int_eq (zcipc_region_import (&r, no_sealing, page, true, 0),
      -EBADFD);
  ck_assert_int_eq (zt_count_maps (), maps);
  /* Had any of these been mapped, shrinking it now would SIGBUS a reader. */
  ck_assert_int_eq (ftruncate (unsealed, 0), 0);
  close (unsealed);
  close (shrink_only);
  close (no_sealing);
}

END_TEST;

START_TEST (test_import_refuses_an_fd_that_is_no_memfd)
{
  struct zcipc_region r;
  int pipe_fds[2];

  ck_assert_int_eq (pipe2 (pipe_fds, O_CLOEXEC), 0);
  ck_assert_int_eq (zcipc_region_import (&r, pipe_fds[0], page, true, 0),
      -EBADFD);
  close (pipe_fds[0]);
  close (pipe_fds[1]);
}

END_TEST;

START_TEST (test_check_refuses_a_regular_file_whatever_is_allowed)
{
  struct zt_tmpdir dir;
  struct zcipc_region r;
  const char *why = NULL;
  char path[256];
  int fd, maps = zt_count_maps ();

  zt_tmpdir_make (&dir);
  zt_tmpdir_file (&dir, "region", path, sizeof path);
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (ftruncate (fd, (off_t) page), 0);
  /* Big enough, but a file: it can be truncated under any mapping. */
  ck_assert_int_eq (zcipc_region_check (fd, page, true, &why), -EBADFD);
  ck_assert_ptr_nonnull (strstr (why, "a file that can shrink"));
  ck_assert_int_eq (zcipc_region_import (&r, fd, page, true, 0), -EBADFD);
  ck_assert_int_eq (zcipc_region_import (&r, fd, page, false, 0), -EBADFD);
  ck_assert_int_eq (zt_count_maps (), maps);
  close (fd);
  unlink (path);
  zt_tmpdir_remove (&dir);
}

END_TEST;

START_TEST (test_check_says_what_a_refused_fd_is)
{
  const char *why = NULL;
  int unsealed = zt_memfd (page, 0);
  int sealed = zt_memfd (page, ZCIPC_REGION_REQUIRED_SEALS);
  int pipe_fds[2];

  ck_assert_int_eq (pipe2 (pipe_fds, O_CLOEXEC), 0);
  ck_assert_int_eq (zcipc_region_check (pipe_fds[0], page, true, &why),
      -EBADFD);
  ck_assert_ptr_nonnull (strstr (why, "pipe"));
  ck_assert_int_eq (zcipc_region_check (unsealed, page, true, &why), -EBADFD);
  ck_assert_ptr_nonnull (strstr (why, "not sealed"));
  ck_assert_int_eq (zcipc_region_check (sealed, 2 * page, true, &why), -EBADFD);
  ck_assert_ptr_nonnull (strstr (why, "smaller than it claims"));
  ck_assert_int_eq (zcipc_region_check (sealed, page, false, &why), 0);
  close (pipe_fds[0]);
  close (pipe_fds[1]);
  close (unsealed);
  close (sealed);
}

END_TEST;

START_TEST (test_import_checks_a_memfd_even_when_not_asked_to)
{
  struct zcipc_region r;
  int fd = zt_memfd (page, 0);

  /* A peer may call its memfd a DMABuf (no seal check asked); the object
   * is still shmem that can shrink under the mapping. */
  ck_assert_int_eq (zcipc_region_import (&r, fd, 16 * page, false, 0), -EBADFD);
  ck_assert_int_eq (zcipc_region_import (&r, fd, page, false, 0), -EBADFD);
  close (fd);
}

END_TEST;

START_TEST (test_import_refuses_bad_arguments)
{
  struct zcipc_region r;
  int fd = zt_memfd (page, ZCIPC_REGION_REQUIRED_SEALS);

  ck_assert_int_eq (zcipc_region_import (&r, -1, page, true, 0), -EINVAL);
  ck_assert_int_eq (zcipc_region_import (&r, fd, 0, true, 0), -EINVAL);
  ck_assert_int_eq (r.fd, -1);
  ck_assert_int_eq (zcipc_region_import (&r, fd, page, true, 0), 0);
  zcipc_region_clear (&r);
}

END_TEST;

START_TEST (test_consumer_cannot_map_the_region_writable)
{
  struct zcipc_region producer, consumer;
  void *p;

  make_pair (&producer, &consumer, page);
  p = mmap (NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, consumer.fd, 0);
  ck_assert_ptr_eq (p, MAP_FAILED);
  ck_assert_int_eq (errno, EPERM);
  p = mmap (NULL, page, PROT_WRITE, MAP_SHARED, consumer.fd, 0);
  ck_assert_ptr_eq (p, MAP_FAILED);
  zcipc_region_clear (&consumer);
  zcipc_region_clear (&producer);
}

END_TEST;

START_TEST (test_consumer_cannot_reopen_the_region_writable_and_map_it)
{
  struct zcipc_region producer, consumer;
  char proc[64];
  void *p;
  int fd;

  make_pair (&producer, &consumer, page);
  snprintf (proc, sizeof proc, "/proc/self/fd/%d", consumer.fd);
  fd = open (proc, O_RDWR | O_CLOEXEC);
  /* Reopening may work; what matters is that no writable shared mapping
   * or write comes of it. */
  if (fd >= 0) {
    p = mmap (NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ck_assert_ptr_eq (p, MAP_FAILED);
    ck_assert_int_eq (errno, EPERM);
    ck_assert_int_eq (write (fd, "x", 1), -1);
    ck_assert_int_eq (errno, EPERM);
    ck_assert_int_eq (ftruncate (fd, 0), -1);
    close (fd);
  } else {
    ck_assert_int_eq (errno, EACCES);
  }
  zcipc_region_clear (&consumer);
  zcipc_region_clear (&producer);
}

END_TEST;

START_TEST (test_consumer_cannot_truncate_the_region)
{
  struct zcipc_region producer, consumer;
  struct stat st;

  make_pair (&producer, &consumer, 2 * page);
  ck_assert_int_eq (ftruncate (consumer.fd, 0), -1);
  ck_assert_int_eq (errno, EPERM);
  ck_assert_int_eq (ftruncate (consumer.fd, (off_t) page), -1);
  ck_assert_int_eq (ftruncate (consumer.fd, (off_t) (4 * page)), -1);
  ck_assert_int_eq (fallocate (consumer.fd, 0, 0, (off_t) (8 * page)), -1);
  ck_assert_int_eq (fstat (consumer.fd, &st), 0);
  ck_assert_int_eq (st.st_size, (off_t) (2 * page));
  zcipc_region_clear (&consumer);
  zcipc_region_clear (&producer);
}

END_TEST;

START_TEST (test_consumer_cannot_write_the_region)
{
  struct zcipc_region producer, consumer;

  make_pair (&producer, &consumer, page);
  ((uint8_t *) producer.data)[0] = 7;
  ck_assert_int_eq (write (consumer.fd, "x", 1), -1);
  ck_assert_int_eq (errno, EPERM);
  ck_assert_int_eq (pwrite (consumer.fd, "x", 1, 0), -1);
  ck_assert_int_eq (errno, EPERM);
  ck_assert_uint_eq (((uint8_t *) consumer.data)[0], 7);
  zcipc_region_clear (&consumer);
  zcipc_region_clear (&producer);
}

END_TEST;

START_TEST (test_consumer_cannot_make_its_mapping_writable)
{
  struct zcipc_region producer, consumer;

  make_pair (&producer, &consumer, page);
  ck_assert_int_eq (mprotect (consumer.data, page, PROT_READ | PROT_WRITE), -1);
  zcipc_region_clear (&consumer);
  zcipc_region_clear (&producer);
}

END_TEST;

START_TEST (test_consumer_private_writable_mapping_stays_private)
{
  struct zcipc_region producer, consumer;
  uint8_t *priv;

  make_pair (&producer, &consumer, page);
  ((uint8_t *) producer.data)[10] = 1;
  priv = mmap (NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, consumer.fd, 0);
  ck_assert_ptr_ne (priv, MAP_FAILED);
  priv[10] = 99;
  ck_assert_uint_eq (((uint8_t *) producer.data)[10], 1);
  ck_assert_uint_eq (((uint8_t *) consumer.data)[10], 1);
  /* Dropping the private copy shows the shared bytes again. */
  ck_assert_int_eq (madvise (priv, page, MADV_DONTNEED), 0);
  ck_assert_uint_eq (priv[10], 1);
  munmap (priv, page);
  zcipc_region_clear (&consumer);
  zcipc_region_clear (&producer);
}

END_TEST;

START_TEST (test_future_write_seal_support_is_reported)
{
  struct zcipc_region r;
  struct utsname uts;
  bool supported = zt_region_future_write_supported ();
  int fd = memfd_create ("zt-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  bool direct;

  /* Ask the kernel directly, then compare with the library's answer and
   * with the seals a fresh region carries. */
  ck_assert_int_ge (fd, 0);
  direct = fcntl (fd, F_ADD_SEALS, ZT_SEAL_FUTURE_WRITE) == 0;
  close (fd);
  ck_assert_int_eq (zcipc_region_create (&r, "zt-region", page, 0), 0);
  ck_assert_int_eq (supported, direct);
  ck_assert_int_eq ((r.seals & ZT_SEAL_FUTURE_WRITE) != 0, supported);
  zcipc_region_clear (&r);
  uname (&uts);
  printf ("F_SEAL_FUTURE_WRITE is %s by this kernel (%s %s)\n",
      supported ? "supported" : "NOT supported", uts.sysname, uts.release);
  fflush (stdout);
  /* Linux 5.1 added it; every kernel this project supports has it, and the
   * write-protection tests above rely on it. */
  ck_assert_msg (supported, "F_SEAL_FUTURE_WRITE unsupported on %s",
      uts.release);
}

END_TEST;

START_TEST (test_clear_on_a_zeroed_region_does_not_close_fd_0)
{
  struct zcipc_region r;

  zt_ensure_stdin ();
  memset (&r, 0, sizeof r);
  zcipc_region_clear (&r);
  ck_assert_int_ge (fcntl (0, F_GETFD), 0);
  /* Nor does clearing twice. */
  ck_assert_int_eq (zcipc_region_create (&r, "zt-region", page, 0), 0);
  zcipc_region_clear (&r);
  zcipc_region_clear (&r);
  ck_assert_int_ge (fcntl (0, F_GETFD), 0);
}

END_TEST;

START_TEST (test_failed_import_leaves_a_region_that_clears_safely)
{
  struct zcipc_region r;
  int fd = zt_memfd (page, 0);

  zt_ensure_stdin ();
  ck_assert_int_eq (zcipc_region_import (&r, fd, page, true, 0), -EBADFD);
  zcipc_region_clear (&r);
  ck_assert_int_ge (fcntl (fd, F_GETFD), 0);
  ck_assert_int_ge (fcntl (0, F_GETFD), 0);
  close (fd);
}

END_TEST;

START_TEST (test_clear_leaks_no_fd_or_mapping)
{
  int fds = zt_count_fds (), maps = zt_count_maps ();

  for (int i = 0; i < 64; i++) {
    struct zcipc_region producer, consumer;
    make_pair (&producer, &consumer, (size_t) (i + 1) * page);
    ck_assert (zt_is_mapped (producer.data));
    ck_assert (zt_is_mapped (consumer.data));
    zcipc_region_clear (&consumer);
    zcipc_region_clear (&producer);
  }
  ck_assert_int_eq (zt_count_fds (), fds);
  ck_assert_int_eq (zt_count_maps (), maps);
}

END_TEST;

START_TEST (test_cleared_mapping_is_gone)
{
  struct zcipc_region producer, consumer;
  void *p, *c;

  make_pair (&producer, &consumer, 2 * page);
  p = producer.data;
  c = consumer.data;
  zcipc_region_clear (&consumer);
  ck_assert (!zt_is_mapped (c));
  ck_assert (zt_is_mapped (p));
  zcipc_region_clear (&producer);
  ck_assert (!zt_is_mapped (p));
}

END_TEST;

START_TEST (test_region_name_shows_in_maps)
{
  struct zcipc_region r;
  struct zt_mapping m;

  ck_assert_int_eq (zcipc_region_create (&r, "zt-named", page, 0), 0);
  ck_assert (zt_find_mapping (r.data, page, &m));
  ck_assert (m.start == (uintptr_t) r.data);
  ck_assert_ptr_nonnull (strstr (m.name, "memfd:zt-named"));
  zcipc_region_clear (&r);
}

END_TEST;

/* What /proc/self/smaps says of the mapping that starts at `addr`: whether
 * it carries the huge-page advice (VmFlags "hg"), and how much of it is
 * mapped by huge pages (ShmemPmdMapped, kB). */
static void
smaps_of (const void *addr, bool *advised, long *pmd_kb)
{
  char line[1024];
  bool in = false, found = false;
  uintptr_t start, end;
  FILE *f = fopen ("/proc/self/smaps", "re");

  ck_assert_ptr_nonnull (f);
  *advised = false;
  *pmd_kb = -1;
  while (fgets (line, sizeof line, f)) {
    /* A mapping's first line; its fields ("Size:", ...) do not parse. */
    if (sscanf (line, "%" SCNxPTR "-%" SCNxPTR, &start, &end) == 2) {
      in = start == (uintptr_t) addr;
      found |= in;
      continue;
    }
    if (in && strncmp (line, "ShmemPmdMapped:", 15) == 0)
      *pmd_kb = strtol (line + 15, NULL, 10);
    if (in && strncmp (line, "VmFlags:", 8) == 0)
      *advised = strstr (line, " hg") != NULL;
  }
  fclose (f);
  ck_assert_msg (found, "no mapping at %p", addr);
}

/* Where the system offers huge pages for shared memory (shmem_enabled
 * "advise" or "always"), both sides of a region of 8 MiB map it with them;
 * everywhere, both mappings carry the advice. */
START_TEST (test_regions_are_advised_huge_pages_and_get_them_where_offered)
{
  struct zcipc_region producer, consumer;
  char mode[128] = "";
  bool advised, offered;
  long pmd_kb;
  FILE *f;
  int fd;

  if ((f = fopen ("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "re"))) {
    if (!fgets (mode, sizeof mode, f))
      mode[0] = 0;
    fclose (f);
  }
  offered = strstr (mode, "[advise]") || strstr (mode, "[always]") ||
      strstr (mode, "[force]");
  ck_assert_int_eq (zcipc_region_create (&producer, "zt-huge", 8 << 20,
          ZCIPC_REGION_POPULATE), 0);
  fd = fcntl (producer.fd, F_DUPFD_CLOEXEC, 3);
  ck_assert_int_ge (fd, 0);
  ck_assert_int_eq (zcipc_region_import (&consumer, fd, producer.size, true,
          ZCIPC_REGION_POPULATE), 0);
  memset (producer.data, 0x5a, producer.size);
  ck_assert_uint_eq (((const uint8_t *) consumer.data)[producer.size - 1],
      0x5a);

  smaps_of (producer.data, &advised, &pmd_kb);
  ck_assert_msg (advised, "producer mapping without MADV_HUGEPAGE");
  if (offered)
    ck_assert_msg (pmd_kb > 0, "shmem_enabled %s: producer ShmemPmdMapped "
        "%ld kB", mode, pmd_kb);
  smaps_of (consumer.data, &advised, &pmd_kb);
  ck_assert_msg (advised, "consumer mapping without MADV_HUGEPAGE");
  if (offered)
    ck_assert_msg (pmd_kb > 0, "shmem_enabled %s: consumer ShmemPmdMapped "
        "%ld kB", mode, pmd_kb);
  zcipc_region_clear (&consumer);
  zcipc_region_clear (&producer);
}

END_TEST;

static Suite *
region_suite (void)
{
  Suite *s = suite_create ("region");
  TCase *tc = tcase_create ("create and import");

  tcase_add_checked_fixture (tc, setup, NULL);
  tcase_add_test (tc,
      test_create_gives_a_sealed_writable_mapping_rounded_to_pages);
  tcase_add_test (tc, test_create_refuses_size_zero);
  tcase_add_test (tc,
      test_regions_are_advised_huge_pages_and_get_them_where_offered);
  tcase_add_test (tc, test_data_is_visible_through_a_read_only_import);
  tcase_add_test (tc, test_import_of_a_smaller_part_maps_that_part);
  tcase_add_test (tc, test_import_refuses_a_memfd_smaller_than_claimed);
  tcase_add_test (tc, test_import_refuses_an_unsealed_memfd);
  tcase_add_test (tc, test_import_refuses_an_fd_that_is_no_memfd);
  tcase_add_test (tc, test_check_refuses_a_regular_file_whatever_is_allowed);
  tcase_add_test (tc, test_check_says_what_a_refused_fd_is);
  tcase_add_test (tc, test_import_checks_a_memfd_even_when_not_asked_to);
  tcase_add_test (tc, test_import_refuses_bad_arguments);
  tcase_add_test (tc, test_region_name_shows_in_maps);
  suite_add_tcase (s, tc);

  tc = tcase_create ("consumer side");
  tcase_add_checked_fixture (tc, setup, NULL);
  tcase_add_test (tc, test_consumer_cannot_map_the_region_writable);
  tcase_add_test (tc,
      test_consumer_cannot_reopen_the_region_writable_and_map_it);
  tcase_add_test (tc, test_consumer_cannot_truncate_the_region);
  tcase_add_test (tc, test_consumer_cannot_write_the_region);
  tcase_add_test (tc, test_consumer_cannot_make_its_mapping_writable);
  tcase_add_test (tc, test_consumer_private_writable_mapping_stays_private);
  tcase_add_test (tc, test_future_write_seal_support_is_reported);
  suite_add_tcase (s, tc);

  tc = tcase_create ("lifetime");
  tcase_add_checked_fixture (tc, setup, NULL);
  tcase_add_test (tc, test_clear_on_a_zeroed_region_does_not_close_fd_0);
  tcase_add_test (tc, test_failed_import_leaves_a_region_that_clears_safely);
  tcase_add_test (tc, test_clear_leaks_no_fd_or_mapping);
  tcase_add_test (tc, test_cleared_mapping_is_gone);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return zt_run_suite (region_suite ());
}
