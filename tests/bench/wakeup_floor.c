/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/*
 * The floor for any transport that sleeps between frames: two processes on a
 * SOCK_SEQPACKET socketpair. At a fixed rate the parent stamps
 * CLOCK_MONOTONIC into a small message and sends it; the child sleeps in
 * recv(), reads the clock when it wakes, records now - stamp (the one-way
 * wake-up latency) and answers, so each side sleeps in turn like a producer
 * and its consumer do (the answer stands for a consumer's release). Prints
 * one JSON object on stdout: the latencies after WARMUP, and the CPU time
 * (getrusage, over all COUNT pings) each side spent per ping.
 *
 *   zcipc-wakeup-floor [COUNT [HZ [WARMUP]]]     (defaults: 150 30 15)
 *
 * HZ 0 pings back to back, as fast as the two processes can: the CPU cost of
 * one sleep/wake-up cycle on each side when frames come at the highest rate.
 *
 * Plain C11 + POSIX on purpose: no GLib, nothing between the syscalls and the
 * clock.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wakeup.h"

struct ping
{
  uint64_t index;
  uint64_t stamp_ns;
};

static ssize_t
recv_full (int fd, void *buf, size_t size)
{
  ssize_t n;

  do
    n = recv (fd, buf, size, 0);
  while (n < 0 && errno == EINTR);
  return n;
}

static ssize_t
send_full (int fd, const void *buf, size_t size)
{
  ssize_t n;

  do
    n = send (fd, buf, size, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n;
}

/* The consumer side: writes the latencies (ns) to @out_fd as raw int64s,
 * then the CPU time (µs) it spent on the pings; all at the end, so that a
 * full pipe cannot stall the pings. */
static int
run_child (int fd, int out_fd, unsigned count)
{
  int64_t *lat = calloc (count + 1, sizeof *lat);
  int64_t cpu0 = wakeup_cpu_us ();
  size_t size = (count + 1) * sizeof *lat;

  if (!lat)
    return 1;

  for (unsigned i = 0; i < count; i++) {
    struct ping p;
    int64_t latency;
    ssize_t n = recv_full (fd, &p, sizeof p);
    uint64_t now = (uint64_t) zcipc_now_ns ();

    if (n != (ssize_t) sizeof p)
      return 1;
    latency = (int64_t) (now - p.stamp_ns);
    lat[i] = latency;
    if (send_full (fd, &p.index, sizeof p.index) != (ssize_t) sizeof p.index)
      return 1;
  }
  lat[count] = wakeup_cpu_us () - cpu0;
  for (size_t done = 0; done < size;) {
    ssize_t n = write (out_fd, (char *) lat + done, size - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return 1;
    done += (size_t) n;
  }
  free (lat);
  return 0;
}

int
main (int argc, char **argv)
{
  unsigned count = argc > 1 ? (unsigned) strtoul (argv[1], NULL, 10) : 150;
  unsigned hz = argc > 2 ? (unsigned) strtoul (argv[2], NULL, 10) : 30;
  unsigned warmup = argc > 3 ? (unsigned) strtoul (argv[3], NULL, 10) : 15;
  int sv[2], out[2];
  struct timespec next;
  uint64_t period_ns;
  int64_t *lat, child_cpu = 0, parent_cpu;
  uint64_t t_start, t_end;
  pid_t pid;
  int status;

  if (count == 0 || warmup >= count) {
    fprintf (stderr, "usage: %s [COUNT [HZ [WARMUP]]], WARMUP < COUNT\n",
        argv[0]);
    return 2;
  }
  period_ns = hz ? 1000000000u / hz : 0;
  if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0 ||
      pipe2 (out, O_CLOEXEC) < 0) {
    perror ("socketpair/pipe2");
    return 1;
  }
  pid = fork ();
  if (pid < 0) {
    perror ("fork");
    return 1;
  }
  if (pid == 0) {
    close (sv[0]);
    close (out[0]);
    _exit (run_child (sv[1], out[1], count));
  }
  close (sv[1]);
  close (out[1]);

  clock_gettime (CLOCK_MONOTONIC, &next);
  parent_cpu = wakeup_cpu_us ();
  t_start = (uint64_t) zcipc_now_ns ();
  for (unsigned i = 0; i < count; i++) {
    struct ping p = {.index = i };
    uint64_t ack;

    next.tv_nsec += (long) period_ns;
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec++;
    }
    while (period_ns && clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME,
            &next, NULL) == EINTR);
    p.stamp_ns = (uint64_t) zcipc_now_ns ();
    if (send_full (sv[0], &p, sizeof p) != (ssize_t) sizeof p ||
        recv_full (sv[0], &ack, sizeof ack) != (ssize_t) sizeof ack ||
        ack != i) {
      fprintf (stderr, "ping %u failed: %s\n", i, strerror (errno));
      return 1;
    }
  }
  t_end = (uint64_t) zcipc_now_ns ();
  parent_cpu = wakeup_cpu_us () - parent_cpu;

  lat = calloc (count + 1, sizeof *lat);
  if (!lat)
    return 1;
  for (size_t got = 0; got < (count + 1) * sizeof *lat;) {
    ssize_t n = read (out[0], (char *) lat + got,
        (count + 1) * sizeof *lat - got);
    if (n <= 0) {
      if (n < 0 && errno == EINTR)
        continue;
      fprintf (stderr, "short read of latencies\n");
      return 1;
    }
    got += (size_t) n;
  }
  if (waitpid (pid, &status, 0) < 0 || !WIFEXITED (status) ||
      WEXITSTATUS (status) != 0) {
    fprintf (stderr, "child failed\n");
    return 1;
  }

  child_cpu = lat[count];
  printf ("{\"element\": \"wakeup-floor\", \"hz\": %u, \"count\": %u, "
      "\"warmup\": %u, \"rate_hz\": %.1f, \"sender_cpu_us_per_ping\": %.2f, "
      "\"receiver_cpu_us_per_ping\": %.2f, \"latency_ns\": [", hz, count,
      warmup, count * 1e9 / (double) (t_end - t_start),
      (double) parent_cpu / count, (double) child_cpu / count);
  for (unsigned i = warmup; i < count; i++)
    printf ("%s%" PRId64, i > warmup ? ", " : "", lat[i]);
  printf ("]}\n");
  free (lat);
  return 0;
}
