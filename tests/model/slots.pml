/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* A Promela model of the slot hand-over between a producer (zcipcsink and
 * lib/server*.c) and its consumers, checked with spin (tests/model/check.sh,
 * meson suite `model`).
 *
 * What a "slot" is: a buffer of zcipcsink's pool (shared memory the
 * consumers map). The producer rewrites a slot only when the pool hands its
 * buffer out again, which GStreamer does once the buffer's refcount is 0:
 * the pipeline's own reference plus one per consumer that holds the frame
 * (on_hold/on_release in gst/gstzcipcsink.c ref and unref it). So "who still
 * holds slot s" is refcnt[s] below, and the rule the producer follows before
 * reusing s is refcnt[s] == 0 (and, since issue 15, s not retired).
 *
 * Processes: one producer (the streaming thread and the server thread, as
 * atomic steps: both run under the server's lock), and P = 2 consumer
 * processes: consumer 0 may leave, crash and rejoin once on a second
 * connection (after leaving, being cut off or crashing, while the first may
 * still pin slots); consumer 1, to keep the state space small, may leave or
 * crash. Either may be cut off, and may stop acting at any point, holding
 * what it holds for ever. Each step names the function it mirrors.
 *
 * Checked (tests/model/check.sh):
 * - safety (pan -DSAFETY): no slot is rewritten while a consumer that is
 *   alive may still read it (the assertion in send_frame); the producer's
 *   books agree with the consumers' (refcnt = holds, no release of a frame
 *   not held); no invalid end state (nothing waits forever).
 * - liveness (pan -a, LTL no_slot_lost): every run ends with every slot
 *   either back in the pool or retired and counted: none is lost.
 *
 * Bounds (check.sh sets them): N slots, Q frames quota per connection,
 * MAXF frames in all. N is 2 or 3.
 *
 * Compile with -DBUGGY for a producer that gives a consumer's slots back on
 * its LEAVE without waiting for its releases: the safety check must fail
 * (meson test model-catches-bug). */

#ifndef N
#define N 3                     /* slots in the producer's pool */
#endif
#define P 2                     /* consumer processes */
#define R (2 * P)               /* connections: records 2p and 2p+1 are p's */
#ifndef Q
#define Q 2                     /* quota: frames one connection may hold */
#endif
#ifndef MAXF
#define MAXF 5                  /* frames the producer sends in all */
#endif

/* The producer's view of a connection (struct consumer's state, in
 * lib/server-private.h). */
#define NONE 0                  /* no connection, or removed */
#define JOINED 1                /* CONSUMER_STREAMING */
#define LEAVING 2               /* CONSUMER_LEAVING: said LEAVE, holds frames */
#define CUTOFF 3                /* CONSUMER_CUT_OFF: dropped by policy, holds kept */

mtype = { REL, LEAVE };

/* Slots. */
byte refcnt[N];                 /* the buffer's refcount */
bit inpool[N];                  /* back in the pool: the next frame may use it */
bit retired[N];                 /* issue 15: never reused */
byte nretired;                  /* retired slots, counted (a stat) */

/* Connections, producer side. */
byte srv[R];
bit holds[R * N];               /* c->holds[]: the producer's view */
byte nheld[R];                  /* c->n_held */
bit hung[R];                    /* the consumer process is gone (EOF queued) */

/* Consumer side: slots a consumer may read (the frame is on its way or in
 * its hands). Cleared when it releases the frame or its process dies. */
bit mayread[R * N];

/* What a consumer sends: its channel ring and socket, in order
 * (read_consumer_locked() reads the ring before the socket). */
chan fifo[R] = [3] of { mtype, byte };

byte ndone;                     /* consumer processes that ended */

/* Scratch for the producer's and consumers' steps: each step is atomic and
 * sets them before use, so they stay out of the state vector. */
hidden byte s, k, m, r;
hidden mtype kind;

#define H(r, s) holds[(r) * N + (s)]
#define M(r, s) mayread[(r) * N + (s)]

/* Every slot settled: nobody holds it and it is back in the pool or
 * retired (never both). */
#define SETTLED(s) (refcnt[s] == 0 && (inpool[s] != retired[s]))
#if N == 2
#define ALL_SETTLED (SETTLED(0) && SETTLED(1) && \
    nretired == retired[0] + retired[1])
#define ANY_IN_POOL (inpool[0] || inpool[1])
#elif N == 3
#define ALL_SETTLED (SETTLED(0) && SETTLED(1) && SETTLED(2) && \
    nretired == retired[0] + retired[1] + retired[2])
#define ANY_IN_POOL (inpool[0] || inpool[1] || inpool[2])
#else
#error "N is 2 or 3"
#endif

ltl no_slot_lost { <> [] ALL_SETTLED }

/* gst_buffer_unref() of a slot's buffer: at 0 it goes back to the pool,
 * unless retired (issue 15: the producer dropped its reference for good). */
inline unref (s)
{
  assert (refcnt[s] > 0);
  refcnt[s]--;
  if
  :: refcnt[s] == 0 && !retired[s] -> inpool[s] = 1
  :: else -> skip
  fi
}

/* The books: a slot's refcount is the number of connections holding it
 * (the pipeline's own reference is gone between steps). */
inline check_books ()
{
  k = 0;
  do
  :: k < N ->
    assert (refcnt[k] == H(0, k) + H(1, k) + H(2, k) + H(3, k));
    assert (!(inpool[k] && (refcnt[k] > 0 || retired[k])));
    k++
  :: else -> break
  od
}

/* remove_consumer_locked(): its holds go back (run_releases), its socket
 * and channel close (what it still sends is lost). */
inline remove (r)
{
  k = 0;
  do
  :: k < N ->
    if
    :: H(r, k) -> H(r, k) = 0; unref (k)
    :: else -> skip
    fi;
    k++
  :: else -> break
  od;
  nheld[r] = 0;
  srv[r] = NONE;
  do
  :: fifo[r] ? kind, m -> skip
  :: empty (fifo[r]) -> break
  od
}

/* zcipc_server_send_frame(), with the pool's acquire before it and the
 * sink's unref after render. */
inline send_frame ()
{
  /* The pool hands out a buffer whose refcount went to 0. */
  s = 0;
  do
  :: s < N && !inpool[s] -> s++
  :: s < N && inpool[s] -> break
  od;
  assert (refcnt[s] == 0 && !retired[s]);
  /* THE property: the producer writes a new frame into s now. */
  k = 0;
  do
  :: k < R -> assert (!M(k, s)); k++
  :: else -> break
  od;
  inpool[s] = 0;
  refcnt[s] = 1;                /* the pipeline's reference */
  /* Every streaming consumer (consumer_is_streaming()) below its
   * quota gets it: c->holds[j] = { seq, frame }, callbacks.hold. */
  k = 0;
  do
  :: k < R ->
    if
    :: srv[k] == JOINED && nheld[k] < Q ->
      H(k, s) = 1;
      nheld[k]++;
      refcnt[s]++;
      if
      :: !hung[k] -> M(k, s) = 1
      :: else -> skip           /* sent into a dead socket */
      fi
    :: else -> skip
    fi;
    k++
  :: else -> break
  od;
  unref (s);                    /* render returned: the pipeline's ref */
  frames++
}

/* handle_release_locked(). */
inline release (r, s)
{
  /* An honest consumer releases only what it holds: a release of a frame
   * not held would be a broken protocol (it gets dropped). */
  assert (H(r, s));
  H(r, s) = 0;
  nheld[r]--;
  unref (s);
  /* A consumer that said LEAVE goes with its last release; a cut-off one
   * is reaped by reap_dropped() once n_held is 0. */
  if
  :: (srv[r] == LEAVING || srv[r] == CUTOFF) && nheld[r] == 0 -> remove (r)
  :: else -> skip
  fi
}

/* handle_leave_locked(), ZCIPC_WIRE_LEAVE. (A cut-off consumer holding
 * nothing is reaped by reap_dropped() rather than by its LEAVE: the same
 * step here.) */
inline leave (r)
{
#ifdef BUGGY
  /* The bug the model must catch: the LEAVE gives the slots back at once,
   * though the consumer's buffers still live. */
  remove (r)
#else
  /* Its pipeline stopped but buffers live on: keep their slots. */
  if
  :: srv[r] == JOINED -> srv[r] = LEAVING
  :: else -> skip               /* already cut off: stays so */
  fi;
  if
  :: nheld[r] == 0 -> remove (r)
  :: else -> skip
  fi
#endif
}

/* The producer's policy: drop_consumer_locked(DROP_CUT_OFF) (the wait
 * timeout, too slow). A consumer that holds nothing just goes. */
inline cut_off (r)
{
  if
  :: nheld[r] > 0 -> srv[r] = CUTOFF
  :: else -> remove (r)
  fi
}

/* Issue 15's bound on pinned frames: a consumer that left or was cut off
 * and still holds frames after the bound (time or bytes) loses them: the
 * producer drops its own references and fds and never reuses those slots;
 * the consumer's mapping stays valid (mayread is untouched). Mirrors
 * retire_pinned_locked() in lib/server.c (called from expire_locked() for
 * the time bound and for the byte bound), with the sink's retire callback
 * taking the regions out of its pool and allocator. */
inline retire (r)
{
  k = 0;
  do
  :: k < N ->
    if
    :: H(r, k) ->
      if
      :: !retired[k] -> retired[k] = 1; nretired++
      :: else -> skip
      fi;
      H(r, k) = 0;
      unref (k)
    :: else -> skip
    fi;
    k++
  :: else -> break
  od;
  nheld[r] = 0;
  remove (r)
}

/* The server thread's events for connection r, as the loop in
 * server_thread() meets them. */
#define EVENTS(r) \
  /* a release, or LEAVE, in its ring or socket (read_consumer_locked) */ \
  :: atomic { nempty (fifo[r]) -> \
      fifo[r] ? kind, m; \
      if \
      :: srv[r] == NONE -> skip /* its socket is closed: lost */ \
      :: srv[r] != NONE && kind == REL -> release (r, m) \
      :: srv[r] != NONE && kind == LEAVE -> leave (r) \
      fi; \
      check_books () } \
  /* the wait timeout or the too-slow rule fires (any time: over-approximates \
   * every timeout value) */ \
  :: atomic { srv[r] == JOINED -> cut_off (r); check_books () } \
  /* its hang-up, after what it sent before (drop GONE, reap_dropped) */ \
  :: atomic { srv[r] != NONE && hung[r] && empty (fifo[r]) -> remove (r); \
      check_books () } \
  /* the pin bound expires (any time after the LEAVE or the cut-off) */ \
  :: atomic { (srv[r] == LEAVING || srv[r] == CUTOFF) && nheld[r] > 0 -> \
      retire (r); check_books () }

active proctype producer ()
{
  byte frames;

  atomic {
    k = 0;
    do
    :: k < N -> inpool[k] = 1; k++
    :: else -> break
    od
  }
  do
  :: atomic { frames < MAXF && ANY_IN_POOL ->
      send_frame (); check_books () }
  EVENTS(0)
  EVENTS(1)
  EVENTS(2)
  EVENTS(3)
  :: atomic { ndone == P && empty (fifo[0]) && empty (fifo[1]) &&
      empty (fifo[2]) && empty (fifo[3]) -> break }
  od;
  /* The consumers stopped acting; time passes and the stream goes on: dead
   * ones are reaped, live ones that sit on frames fill their quota and are
   * cut off by the wait timeout, and the pin bound retires what departed
   * ones keep. */
  atomic {
    r = 0;
    do
    :: r < R ->
      if
      :: srv[r] != NONE && hung[r] -> remove (r)
      :: else -> skip
      fi;
      if
      :: srv[r] == JOINED -> cut_off (r)
      :: else -> skip
      fi;
      if
      :: srv[r] != NONE && nheld[r] > 0 -> retire (r)
      :: else -> skip
      fi;
      r++
    :: else -> break
    od;
    check_books ();
    k = 0;
    do
    :: k < N -> assert (SETTLED(k)); k++
    :: else -> break
    od;
    assert (ALL_SETTLED)
  }
}

/* A consumer releases a frame of connection r in slot s: it stops reading
 * it, then puts the release in its ring (zcipc_channel_push_release) or on
 * its socket. To a connection the producer closed, it goes nowhere. */
#define RELEASE(r, s) \
  :: atomic { M(r, s) -> M(r, s) = 0; \
      if \
      :: srv[r] != NONE -> fifo[r] ! REL, s \
      :: else -> skip \
      fi }

/* `whole`: the consumer may also rejoin, and crash after leaving. */
proctype consumer (byte p; bool whole)
{
  byte c = 2 * p;               /* its connection now */
  bool left, crashed, rejoined;

  atomic { srv[c] = JOINED }    /* HELLO, WELCOME */
  do
  RELEASE(2 * p, 0)
  RELEASE(2 * p, 1)
  RELEASE(2 * p + 1, 0)
  RELEASE(2 * p + 1, 1)
#if N == 3
  RELEASE(2 * p, 2)
  RELEASE(2 * p + 1, 2)
#endif
  /* Its pipeline stops (zcipc_client: LEAVE); its buffers may live on. */
  :: atomic { !left && !crashed && srv[c] != NONE -> left = true;
      fifo[c] ! LEAVE, 0 }
  /* It crashes: its mappings go with it, and the producer sees a hang-up
   * on each of its connections. */
  :: atomic { !crashed && (whole || !left) ->
      crashed = true;
      k = 0;
      do
      :: k < N -> M(2 * p, k) = 0; M(2 * p + 1, k) = 0; k++
      :: else -> break
      od;
      hung[2 * p] = (srv[2 * p] != NONE);
      hung[2 * p + 1] = (srv[2 * p + 1] != NONE) }
  /* It joins again (a new connection; a crashed one as a new process)
   * after leaving, being cut off (it got the REJECT) or crashing. The old
   * connection may still pin frames. */
  ::  atomic { whole && !rejoined && (left || crashed || srv[c] != JOINED) ->
      rejoined = true; left = false; crashed = false;
      c = 2 * p + 1;
      srv[c] = JOINED }
  /* It does nothing more, whatever it holds (pins for ever). */
  :: break
  od;
  atomic { ndone++ }
}

init
{
  atomic {
    run consumer (0, true);
    run consumer (1, false)
  }
}
