/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "helpers.h"
#include "zcipc/streamdir.h"

/* Plays $XDG_RUNTIME_DIR: the stream directory is "<runtime>/zcipc". */
static struct zt_tmpdir runtime;
static char stream_dir[128];
static char elsewhere[128];

static void
setup (void)
{
  zt_tmpdir_make (&runtime);
  snprintf (stream_dir, sizeof stream_dir, "%s/zcipc", runtime.path);
  snprintf (elsewhere, sizeof elsewhere, "%s/elsewhere", runtime.path);
}

/* zt_tmpdir_remove() does not recurse: empty the subdirectories first. */
static void
teardown (void)
{
  char sock[160];

  snprintf (sock, sizeof sock, "%s/cam0", stream_dir);
  unlink (sock);
  if (rmdir (stream_dir) < 0)
    unlink (stream_dir);
  rmdir (elsewhere);
  zt_tmpdir_remove (&runtime);
}

static mode_t
mode_of (const char *path)
{
  struct stat st;

  ck_assert_int_eq (lstat (path, &st), 0);
  return st.st_mode & 07777;
}

START_TEST (test_names_of_allowed_bytes_are_valid)
{
  char longest[ZCIPC_STREAM_NAME_MAX + 1];

  memset (longest, 'x', ZCIPC_STREAM_NAME_MAX);
  longest[ZCIPC_STREAM_NAME_MAX] = '\0';
  ck_assert_int_eq (zcipc_stream_name_check ("cam0"), 0);
  ck_assert_int_eq (zcipc_stream_name_check ("a"), 0);
  ck_assert_int_eq (zcipc_stream_name_check ("Front-door_2.left"), 0);
  ck_assert_int_eq (zcipc_stream_name_check ("cam.."), 0);
  ck_assert_int_eq (zcipc_stream_name_check (longest), 0);
}

END_TEST
START_TEST (test_bad_names_are_refused)
{
  static const char *const bad[] = {
    "", ".", "..", "a/b", "../x", "/abs", ".hidden", "a b", "cam0\n",
    "caf\xc3\xa9", "a\\b", "a:b", "*",
  };
  char too_long[ZCIPC_STREAM_NAME_MAX + 2];
  size_t i;

  for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
    ck_assert_msg (zcipc_stream_name_check (bad[i]) == -EINVAL,
        "name \"%s\" was accepted", bad[i]);
  ck_assert_int_eq (zcipc_stream_name_check (NULL), -EINVAL);
  memset (too_long, 'x', ZCIPC_STREAM_NAME_MAX + 1);
  too_long[ZCIPC_STREAM_NAME_MAX + 1] = '\0';
  ck_assert_int_eq (zcipc_stream_name_check (too_long), -EINVAL);
}

END_TEST
START_TEST (test_runtime_dir_rule_composes_runtime_zcipc)
{
  char buf[128];

  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), false, buf,
          sizeof buf), -ENOENT);
  ck_assert_str_eq (buf, stream_dir);
  /* The runtime dir wins over the uid rules, root's included. */
  ck_assert_int_eq (zcipc_stream_dir (runtime.path, 0, false, buf,
          sizeof buf), -ENOENT);
  ck_assert_str_eq (buf, stream_dir);
}

END_TEST
START_TEST (test_root_without_runtime_dir_uses_run_zcipc)
{
  char buf[128];

  zcipc_stream_dir (NULL, 0, false, buf, sizeof buf);
  ck_assert_str_eq (buf, "/run/zcipc");
  zcipc_stream_dir ("", 0, false, buf, sizeof buf);
  ck_assert_str_eq (buf, "/run/zcipc");
  /* The XDG spec: a relative path is invalid and ignored. */
  zcipc_stream_dir ("run/user/0", 0, false, buf, sizeof buf);
  ck_assert_str_eq (buf, "/run/zcipc");
}

END_TEST
START_TEST (test_other_uids_without_runtime_dir_use_tmp_zcipc_uid)
{
  char buf[128];

  /* A uid no one has, so nothing exists there. */
  ck_assert_int_eq (zcipc_stream_dir (NULL, 4000123, false, buf,
          sizeof buf), -ENOENT);
  ck_assert_str_eq (buf, "/tmp/zcipc-4000123");
  ck_assert_int_eq (zcipc_stream_dir ("", 4000123, false, buf,
          sizeof buf), -ENOENT);
  ck_assert_str_eq (buf, "/tmp/zcipc-4000123");
}

END_TEST
START_TEST (test_stream_path_is_the_name_in_the_directory)
{
  char buf[128], expected[160];

  ck_assert_int_eq (zcipc_stream_path (runtime.path, getuid (), "cam0", true,
          buf, sizeof buf), 0);
  snprintf (expected, sizeof expected, "%s/cam0", stream_dir);
  ck_assert_str_eq (buf, expected);
  /* Without creating anything outside the test's directory: when the
   * directory is missing, buf names it instead. */
  if (zcipc_stream_path (NULL, 0, "cam0", false, buf, sizeof buf) == 0)
    ck_assert_str_eq (buf, "/run/zcipc/cam0");
  else
    ck_assert_str_eq (buf, "/run/zcipc");
  ck_assert_int_eq (zcipc_stream_path (NULL, 4000123, "cam0", false, buf,
          sizeof buf), -ENOENT);
  ck_assert_str_eq (buf, "/tmp/zcipc-4000123");
}

END_TEST
START_TEST (test_stream_path_checks_the_name_before_touching_the_disk)
{
  char buf[128];

  ck_assert_int_eq (zcipc_stream_path (runtime.path, getuid (), "../x", true,
          buf, sizeof buf), -EINVAL);
  ck_assert_int_eq (zcipc_stream_path (runtime.path, getuid (), "a/b", true,
          buf, sizeof buf), -EINVAL);
  ck_assert_int_eq (zcipc_stream_path (runtime.path, getuid (), "..", true,
          buf, sizeof buf), -EINVAL);
  ck_assert_int_eq (access (stream_dir, F_OK), -1);
}

END_TEST
START_TEST (test_too_long_paths_are_refused)
{
  char small[8], buf[256], deep[200], name[ZCIPC_STREAM_NAME_MAX + 1];

  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), true, small,
          sizeof small), -ENAMETOOLONG);
  /* Fits the buffer, not a sockaddr_un (108 bytes). */
  snprintf (deep, sizeof deep, "%s/%060d", runtime.path, 0);
  ck_assert_int_eq (mkdir (deep, 0700), 0);
  memset (name, 'n', ZCIPC_STREAM_NAME_MAX);
  name[ZCIPC_STREAM_NAME_MAX] = '\0';
  ck_assert_int_eq (zcipc_stream_path (deep, getuid (), name, true, buf,
          sizeof buf), -ENAMETOOLONG);
  snprintf (buf, sizeof buf, "%s/zcipc", deep);
  rmdir (buf);
  rmdir (deep);
}

END_TEST
START_TEST (test_create_makes_the_directory_0700_whatever_the_umask)
{
  static const mode_t umasks[] = { 022, 0, 0777 };
  char buf[128];
  size_t i;

  for (i = 0; i < sizeof umasks / sizeof umasks[0]; i++) {
    mode_t old = umask (umasks[i]);

    ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), true, buf,
            sizeof buf), 0);
    umask (old);
    ck_assert_str_eq (buf, stream_dir);
    ck_assert_int_eq (mode_of (stream_dir), 0700);
    ck_assert_int_eq (rmdir (stream_dir), 0);
  }
}

END_TEST
START_TEST (test_an_existing_good_directory_is_used_as_it_is)
{
  char buf[128];

  ck_assert_int_eq (mkdir (stream_dir, 0700), 0);
  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), false, buf,
          sizeof buf), 0);
  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), true, buf,
          sizeof buf), 0);
  /* Read and search for others is not a risk: they cannot plant sockets. */
  ck_assert_int_eq (chmod (stream_dir, 0755), 0);
  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), true, buf,
          sizeof buf), 0);
}

END_TEST
START_TEST (test_missing_directory_without_create_is_enoent)
{
  char buf[128];

  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), false, buf,
          sizeof buf), -ENOENT);
  ck_assert_int_eq (access (stream_dir, F_OK), -1);
}

END_TEST
START_TEST (test_directory_of_another_owner_is_refused_with_eperm)
{
  char buf[128];

  ck_assert_int_eq (mkdir (stream_dir, 0700), 0);
  /* As seen by another uid, the directory is not theirs. */
  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid () + 1, true, buf,
          sizeof buf), -EPERM);
  ck_assert_str_eq (buf, stream_dir);
  if (getuid () != 0)
    return;
  /* And really owned by someone else (nobody). */
  ck_assert_int_eq (chown (stream_dir, 65534, 65534), 0);
  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), true, buf,
          sizeof buf), -EPERM);
  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), false, buf,
          sizeof buf), -EPERM);
}

END_TEST
START_TEST (test_group_or_world_writable_directory_is_refused_with_eacces)
{
  static const mode_t bad_modes[] = { 0770, 0720, 0702, 0777, 01777 };
  char buf[128];
  size_t i;

  ck_assert_int_eq (mkdir (stream_dir, 0700), 0);
  for (i = 0; i < sizeof bad_modes / sizeof bad_modes[0]; i++) {
    ck_assert_int_eq (chmod (stream_dir, bad_modes[i]), 0);
    ck_assert_msg (zcipc_stream_dir (runtime.path, getuid (), true, buf,
            sizeof buf) == -EACCES, "mode %o was accepted", bad_modes[i]);
    /* Refused, not repaired behind the user's back. */
    ck_assert_int_eq (mode_of (stream_dir), bad_modes[i]);
  }
}

END_TEST
START_TEST (test_symlink_to_a_good_directory_is_refused)
{
  char buf[128];

  ck_assert_int_eq (mkdir (elsewhere, 0700), 0);
  ck_assert_int_eq (symlink (elsewhere, stream_dir), 0);
  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), true, buf,
          sizeof buf), -ENOTDIR);
  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), false, buf,
          sizeof buf), -ENOTDIR);
}

END_TEST
START_TEST (test_file_in_the_way_is_refused_with_enotdir)
{
  char buf[128];
  FILE *f = fopen (stream_dir, "w");

  ck_assert_ptr_nonnull (f);
  fclose (f);
  chmod (stream_dir, 0600);
  ck_assert_int_eq (zcipc_stream_dir (runtime.path, getuid (), true, buf,
          sizeof buf), -ENOTDIR);
}

END_TEST
START_TEST (test_missing_runtime_dir_is_not_created)
{
  char buf[160], missing[160];

  snprintf (missing, sizeof missing, "%s/gone", runtime.path);
  ck_assert_int_eq (zcipc_stream_dir (missing, getuid (), true, buf,
          sizeof buf), -ENOENT);
  ck_assert_int_eq (access (missing, F_OK), -1);
}

END_TEST
/* A socket bound at `path` (closed: the file stays, as a stale one does). */
    static void
make_socket (const char *path)
{
  struct sockaddr_un addr = {.sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_SEQPACKET, 0);

  ck_assert_int_ge (fd, 0);
  snprintf (addr.sun_path, sizeof addr.sun_path, "%s", path);
  ck_assert_int_eq (bind (fd, (struct sockaddr *) &addr, sizeof addr), 0);
  close (fd);
}

/* What zcipc-top and the device provider count as a stream. */
START_TEST (test_only_sockets_with_stream_names_are_streams)
{
  char cam[160], hidden[160], file[160], link[160], missing[160];
  struct stat st;
  FILE *f;

  zt_tmpdir_file (&runtime, "cam0", cam, sizeof cam);
  zt_tmpdir_file (&runtime, ".zcipc-tmp", hidden, sizeof hidden);
  zt_tmpdir_file (&runtime, "file", file, sizeof file);
  zt_tmpdir_file (&runtime, "link", link, sizeof link);
  zt_tmpdir_file (&runtime, "gone", missing, sizeof missing);
  make_socket (cam);
  make_socket (hidden);
  ck_assert ((f = fopen (file, "w")) != NULL);
  fclose (f);
  ck_assert_int_eq (symlink (cam, link), 0);

  ck_assert_int_eq (zcipc_stream_socket_stat (cam, &st), 0);
  ck_assert (S_ISSOCK (st.st_mode));
  ck_assert_int_eq (zcipc_stream_socket_stat (cam, NULL), 0);
  ck_assert_int_eq (zcipc_stream_socket_stat (hidden, NULL), -EINVAL);
  ck_assert_int_eq (zcipc_stream_socket_stat (file, NULL), -ENOTSOCK);
  ck_assert_int_eq (zcipc_stream_socket_stat (link, NULL), -ENOTSOCK);
  ck_assert_int_eq (zcipc_stream_socket_stat (missing, NULL), -ENOENT);
}

END_TEST static Suite *
streamdir_suite (void)
{
  Suite *s = suite_create ("streamdir");
  TCase *tc;

  tc = tcase_create ("names");
  tcase_add_test (tc, test_names_of_allowed_bytes_are_valid);
  tcase_add_test (tc, test_bad_names_are_refused);
  suite_add_tcase (s, tc);

  tc = tcase_create ("paths");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_runtime_dir_rule_composes_runtime_zcipc);
  tcase_add_test (tc, test_root_without_runtime_dir_uses_run_zcipc);
  tcase_add_test (tc, test_other_uids_without_runtime_dir_use_tmp_zcipc_uid);
  tcase_add_test (tc, test_stream_path_is_the_name_in_the_directory);
  tcase_add_test (tc,
      test_stream_path_checks_the_name_before_touching_the_disk);
  tcase_add_test (tc, test_too_long_paths_are_refused);
  suite_add_tcase (s, tc);

  tc = tcase_create ("checks");
  tcase_add_checked_fixture (tc, setup, teardown);
  tcase_add_test (tc, test_create_makes_the_directory_0700_whatever_the_umask);
  tcase_add_test (tc, test_an_existing_good_directory_is_used_as_it_is);
  tcase_add_test (tc, test_missing_directory_without_create_is_enoent);
  tcase_add_test (tc, test_directory_of_another_owner_is_refused_with_eperm);
  tcase_add_test (tc,
      test_group_or_world_writable_directory_is_refused_with_eacces);
  tcase_add_test (tc, test_symlink_to_a_good_directory_is_refused);
  tcase_add_test (tc, test_file_in_the_way_is_refused_with_enotdir);
  tcase_add_test (tc, test_missing_runtime_dir_is_not_created);
  tcase_add_test (tc, test_only_sockets_with_stream_names_are_streams);
  suite_add_tcase (s, tc);
  return s;
}

int
main (void)
{
  return zt_run_suite (streamdir_suite ());
}
