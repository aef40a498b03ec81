/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* Counting this process's fds and mappings from /proc: the one copy the
 * test suites share (see proc.h). */

#define _GNU_SOURCE
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

void
zt_for_each_fd (void (*func) (int fd, const char *target, void *data),
    void *data)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *e;

  if (!dir) {
    perror ("opendir /proc/self/fd");
    abort ();
  }
  while ((e = readdir (dir)) != NULL) {
    char link[300], target[256];
    ssize_t n;

    if (e->d_name[0] == '.' || atoi (e->d_name) == dirfd (dir))
      continue;
    snprintf (link, sizeof link, "/proc/self/fd/%s", e->d_name);
    n = readlink (link, target, sizeof target - 1);
    if (n < 0)
      snprintf (target, sizeof target, "?");
    else
      target[n] = '\0';
    func (atoi (e->d_name), target, data);
  }
  closedir (dir);
}

static void
count_one (int fd, const char *target, void *data)
{
  (void) fd;
  (void) target;
  (*(int *) data)++;
}

int
zt_count_fds (void)
{
  int n = 0;

  zt_for_each_fd (count_one, &n);
  return n;
}

bool
zt_for_each_mapping (bool (*func) (const struct zt_mapping * m, void *data),
    void *data)
{
  FILE *f = fopen ("/proc/self/maps", "re");
  char line[4096];
  bool stop = false;

  if (!f) {
    perror ("fopen /proc/self/maps");
    abort ();
  }
  while (!stop && fgets (line, sizeof line, f)) {
    struct zt_mapping m = { 0 };
    int name_at = 0;

    /* address perms offset dev inode [name] */
    if (sscanf (line, "%" SCNxPTR "-%" SCNxPTR " %4s %*s %*s %*s %n",
            &m.start, &m.end, m.perms, &name_at) < 3)
      continue;
    if (name_at > 0) {
      snprintf (m.name, sizeof m.name, "%s", line + name_at);
      m.name[strcspn (m.name, "\n")] = '\0';
    }
    stop = func (&m, data);
  }
  fclose (f);
  return stop;
}

struct count_named
{
  const char *text;
  int n;
};

static bool
count_named_one (const struct zt_mapping *m, void *data)
{
  struct count_named *c = data;

  if (m->name[0] != '\0' && strstr (m->name, c->text))
    c->n++;
  return false;
}

int
zt_count_maps_named (const char *text)
{
  struct count_named c = { text, 0 };

  zt_for_each_mapping (count_named_one, &c);
  return c.n;
}

struct find
{
  uintptr_t start;
  uintptr_t end;
  struct zt_mapping *out;
};

static bool
find_one (const struct zt_mapping *m, void *data)
{
  struct find *f = data;

  if (f->start < m->start || f->end > m->end)
    return false;
  if (f->out)
    *f->out = *m;
  return true;
}

bool
zt_find_mapping (const void *addr, size_t size, struct zt_mapping *out)
{
  struct find f = { (uintptr_t) addr, (uintptr_t) addr + (size ? size : 1),
    out
  };

  return zt_for_each_mapping (find_one, &f);
}
