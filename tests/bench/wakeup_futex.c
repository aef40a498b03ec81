/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/*
 * The floor for a transport that wakes its consumer with a futex (what
 * zcipc's shared channel does), beside zcipc-wakeup-floor's socket one; and
 * what a consumer that never sleeps (spins on the shared word) sees. Two
 * processes share one anonymous page. At a fixed rate the parent stamps
 * CLOCK_MONOTONIC, bumps a sequence word and, only if the child said it
 * sleeps, FUTEX_WAKEs it; the child records now - stamp when it sees the
 * new sequence. One-way, like a frame: no answer.
 *
 *   zcipc-wakeup-futex [futex|spin [COUNT [HZ [WARMUP]]]]
 *                                            (defaults: futex 300 30 30)
 *
 * Prints one JSON object: the latencies after WARMUP (ns) and the CPU time
 * (getrusage) each side spent per wake-up.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "wakeup.h"

struct shared
{
  _Atomic uint32_t seq;
  _Atomic uint32_t sleeping;
  _Atomic uint64_t stamp_ns;
  int64_t child_cpu_us;
  int64_t latency_ns[];
};

static long
futex (_Atomic uint32_t * word, int op, uint32_t value)
{
  return syscall (SYS_futex, word, op, value, NULL, NULL, 0);
}

/* Waits for the sequence to pass `seen`, asleep or spinning. */
static uint32_t
wait_next (struct shared *sh, uint32_t seen, int spin)
{
  for (;;) {
    uint32_t seq = atomic_load (&sh->seq);

    if (seq != seen)
      return seq;
    if (spin) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause ();
#endif
      continue;
    }
    atomic_store (&sh->sleeping, 1);
    /* Either the parent sees us asleep or we see its new sequence. */
    if (atomic_load (&sh->seq) == seen)
      futex (&sh->seq, FUTEX_WAIT, seen);
    atomic_store (&sh->sleeping, 0);
  }
}

int
main (int argc, char **argv)
{
  int spin = argc > 1 && strcmp (argv[1], "spin") == 0;
  unsigned count = argc > 2 ? (unsigned) strtoul (argv[2], NULL, 10) : 300;
  unsigned hz = argc > 3 ? (unsigned) strtoul (argv[3], NULL, 10) : 30;
  unsigned warmup = argc > 4 ? (unsigned) strtoul (argv[4], NULL, 10) : 30;
  size_t size;
  struct shared *sh;
  struct timespec next;
  int64_t parent_cpu;
  pid_t pid;
  int status;

  if ((argc > 1 && !spin && strcmp (argv[1], "futex") != 0) || count == 0 ||
      warmup >= count || hz == 0) {
    fprintf (stderr, "usage: %s [futex|spin [COUNT [HZ [WARMUP]]]], "
        "WARMUP < COUNT, HZ > 0\n", argv[0]);
    return 2;
  }
  size = sizeof *sh + count * sizeof (int64_t);
  sh = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
      -1, 0);
  if (sh == MAP_FAILED) {
    perror ("mmap");
    return 1;
  }
  pid = fork ();
  if (pid < 0) {
    perror ("fork");
    return 1;
  }
  if (pid == 0) {
    int64_t cpu0 = wakeup_cpu_us ();
    uint32_t seen = 0;

    for (unsigned i = 0; i < count; i++) {
      seen = wait_next (sh, seen, spin);
      sh->latency_ns[i] =
          (int64_t) ((uint64_t) zcipc_now_ns () - atomic_load (&sh->stamp_ns));
    }
    sh->child_cpu_us = wakeup_cpu_us () - cpu0;
    _exit (0);
  }

  clock_gettime (CLOCK_MONOTONIC, &next);
  parent_cpu = wakeup_cpu_us ();
  for (unsigned i = 0; i < count; i++) {
    next.tv_nsec += (long) (1000000000u / hz);
    while (next.tv_nsec >= 1000000000L) {
      next.tv_nsec -= 1000000000L;
      next.tv_sec++;
    }
    while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL));
    atomic_store (&sh->stamp_ns, (uint64_t) zcipc_now_ns ());
    atomic_fetch_add (&sh->seq, 1);
    if (atomic_load (&sh->sleeping))
      futex (&sh->seq, FUTEX_WAKE, 1);
  }
  parent_cpu = wakeup_cpu_us () - parent_cpu;
  if (waitpid (pid, &status, 0) < 0 || !WIFEXITED (status) ||
      WEXITSTATUS (status) != 0) {
    fprintf (stderr, "child failed\n");
    return 1;
  }
  printf ("{\"element\": \"wakeup-futex\", \"mode\": \"%s\", \"hz\": %u, "
      "\"count\": %u, \"warmup\": %u, \"sender_cpu_us_per_wake\": %.2f, "
      "\"receiver_cpu_us_per_wake\": %.2f, \"latency_ns\": [",
      spin ? "spin" : "futex", hz, count, warmup,
      (double) parent_cpu / count, (double) sh->child_cpu_us / count);
  for (unsigned i = warmup; i < count; i++)
    printf ("%s%" PRId64, i > warmup ? ", " : "", sh->latency_ns[i]);
  printf ("]}\n");
  return 0;
}
