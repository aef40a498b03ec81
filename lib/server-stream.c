/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* What goes to every consumer, and the producer's waits on them: regions,
 * events (and the sticky ones late joiners get), frames and the holds they
 * make, lazy releases (read by the frame's sender instead of the thread),
 * and the waits for consumers and for room. Every frame, event and region
 * goes to STREAMING consumers only; one too slow to take an event or a
 * region is cut off (server-consumer.c).
 *
 * Locking: the public functions here take the server lock and run
 * callbacks->release only after dropping it; callbacks->hold runs under
 * it. The waits sleep on the server's cond, which the thread signals when
 * a consumer joins, leaves or releases. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server-private.h"
#include "zcipc/clock.h"
#include "zcipc/os.h"
#include "zcipc/result.h"

unsigned int
count_streaming_locked (struct zcipc_server *s)
{
  unsigned int n = 0;
  for (unsigned int i = 0; i < s->n_consumers; i++)
    if (consumer_is_streaming (s->consumers[i]))
      n++;
  return n;
}

int
zcipc_server_add_region (struct zcipc_server *s, uint32_t region_id, int fd,
    uint64_t size, uint32_t flags)
{
  struct stored_region *grown, *r;
  int dup_fd = -1;

  /* Consumers get a read-only open of a memfd, not a duplicate of our
   * read-write one: on kernels without F_SEAL_FUTURE_WRITE that still keeps
   * a writable mmap out of their reach through this fd. */
  if (flags & ZCIPC_REGION_FLAG_MEMFD)
    dup_fd = zcipc_reopen_read_only (fd);
  if (dup_fd < 0 && (dup_fd = fcntl (fd, F_DUPFD_CLOEXEC, 3)) < 0)
    return zcipc_neg_errno ();
  pthread_mutex_lock (&s->lock);
  grown = realloc (s->regions, (s->n_regions + 1) * sizeof *grown);
  if (!grown) {
    pthread_mutex_unlock (&s->lock);
    close (dup_fd);
    return -ENOMEM;
  }
  s->regions = grown;
  r = &s->regions[s->n_regions++];
  *r = (struct stored_region) { region_id, flags, size, dup_fd };
  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (consumer_is_streaming (c) && send_region_add (c, r) < 0)
      drop_consumer_locked (s, c, DROP_CUT_OFF,
          "too slow to take a new region");
  }
  pthread_mutex_unlock (&s->lock);
  return 0;
}

int
zcipc_server_remove_region (struct zcipc_server *s, uint32_t region_id)
{
  struct zcipc_wire_region_remove m;
  struct iovec iov = { &m, zcipc_wire_init_region_remove (&m, region_id) };
  unsigned int i;

  pthread_mutex_lock (&s->lock);
  for (i = 0; i < s->n_regions && s->regions[i].id != region_id; i++);
  if (i == s->n_regions) {
    pthread_mutex_unlock (&s->lock);
    return -ENOENT;
  }
  close (s->regions[i].fd);
  s->regions[i] = s->regions[--s->n_regions];
  for (i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (consumer_is_streaming (c) && consumer_send (c, &iov, 1, NULL, 0) < 0)
      drop_consumer_locked (s, c, DROP_CUT_OFF,
          "too slow to take a region removal");
  }
  pthread_mutex_unlock (&s->lock);
  return 0;
}

static void
forget_event_locked (struct zcipc_server *s, uint32_t kind)
{
  for (unsigned int i = 0; i < s->n_events; i++) {
    if (s->events[i].kind == kind) {
      free (s->events[i].payload);
      memmove (&s->events[i], &s->events[i + 1],
          (s->n_events - i - 1) * sizeof s->events[0]);
      s->n_events--;
      return;
    }
  }
}

/* Lock held. Stores a copy of a sticky event in the place of the one of its
 * kind, or after the others. 0, -ENOMEM or -ENOSPC. */
static int
store_sticky_event_locked (struct zcipc_server *s, uint32_t kind,
    const void *payload, uint32_t payload_size)
{
  uint8_t *copy = malloc (payload_size ? payload_size : 1);
  unsigned int i;

  if (!copy)
    return -ENOMEM;
  memcpy (copy, payload, payload_size);
  for (i = 0; i < s->n_events && s->events[i].kind != kind; i++);
  if (i == s->n_events) {
    if (s->n_events == MAX_STICKY_EVENTS) {
      free (copy);
      return -ENOSPC;
    }
    s->n_events++;
  } else {
    free (s->events[i].payload);
  }
  s->events[i] = (struct stored_event) { kind, payload_size, copy };
  return 0;
}

int
zcipc_server_send_event (struct zcipc_server *s, uint32_t kind,
    const void *payload, uint32_t payload_size, bool sticky)
{
  int res;

  if (payload_size > ZCIPC_WIRE_MAX_MESSAGE_SIZE -
      sizeof (struct zcipc_wire_event))
    return -EMSGSIZE;
  pthread_mutex_lock (&s->lock);
  if (sticky && (res = store_sticky_event_locked (s, kind, payload,
              payload_size)) < 0) {
    pthread_mutex_unlock (&s->lock);
    return res;
  }
  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (consumer_is_streaming (c) &&
        send_event (c, kind, payload, payload_size) < 0)
      drop_consumer_locked (s, c, DROP_CUT_OFF, "too slow to take an event");
  }
  pthread_mutex_unlock (&s->lock);
  return 0;
}

void
zcipc_server_forget_event (struct zcipc_server *s, uint32_t kind)
{
  pthread_mutex_lock (&s->lock);
  forget_event_locked (s, kind);
  pthread_mutex_unlock (&s->lock);
}

/* Lock held. Reads what active consumers (with `only_full`, those at
 * their quota) sent since the last call (releases, LEAVE), in the caller's
 * thread: without a wake-up. */
static void
drain_consumers_locked (struct zcipc_server *s, struct release_list *released,
    bool only_full)
{
  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    bool joined = false;

    if (!consumer_is_active (c) || (only_full && c->n_held < c->info.quota))
      continue;
    /* A channel's socket carries nothing that must be read per frame: the
     * thread reads it; its ring costs no system call. */
    if (zcipc_channel_is_open (&c->channel))
      read_channel_locked (s, c, released);
    else
      read_consumer_locked (s, c, released, &joined);
  }
}

/* Lock held. Tells every channel consumer where its releases go from now
 * on; when that is the socket, takes what is already in the rings. A
 * dropped one reads them by socket already (see drop_consumer_locked()). */
void
set_channel_releases_locked (struct zcipc_server *s, bool by_socket,
    struct release_list *released)
{
  s->channel_releases_by_socket = by_socket;
  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];

    if (!zcipc_channel_is_open (&c->channel) || consumer_is_dropped (c))
      continue;
    zcipc_channel_set_releases_by_socket (&c->channel, by_socket);
    if (by_socket)
      read_channel_locked (s, c, released);
  }
}

/* Lock held. Ends the lazy window, so that the thread reads releases until
 * the next frame; TRUE if the thread sleeps without reading them and must be
 * woken (wake_thread() after unlocking). */
static bool
end_lazy_window_locked (struct zcipc_server *s, struct release_list *released)
{
  bool was_waiting = s->lazy && s->lazy_until > zcipc_now_ns ();

  s->lazy_until = 0;
  if (!s->channel_releases_by_socket)
    set_channel_releases_locked (s, true, released);
  return was_waiting;
}

void
zcipc_server_set_lazy_releases (struct zcipc_server *s, int64_t window_ns)
{
  struct release_list released = RELEASE_LIST_INIT (released);
  bool lazy = window_ns > 0, was_waiting;

  pthread_mutex_lock (&s->lock);
  if (s->lazy == lazy && s->lazy_window == window_ns) {
    pthread_mutex_unlock (&s->lock);
    return;
  }
  s->lazy_window = window_ns;
  was_waiting = end_lazy_window_locked (s, &released);
  s->lazy = lazy;
  pthread_mutex_unlock (&s->lock);
  if (was_waiting)
    wake_thread (s);            /* to poll for releases again */
  run_releases (s, &released);
  release_list_clear (&released);
}

unsigned int
zcipc_server_collect_releases (struct zcipc_server *s)
{
  struct release_list released = RELEASE_LIST_INIT (released);
  bool was_waiting;
  unsigned int n;

  pthread_mutex_lock (&s->lock);
  drain_consumers_locked (s, &released, false);
  /* Whoever needs releases should not wait for the next frame for more:
   * the thread reads them until then. */
  was_waiting = end_lazy_window_locked (s, &released);
  pthread_mutex_unlock (&s->lock);
  if (was_waiting)
    wake_thread (s);
  n = released.n;
  run_releases (s, &released);
  release_list_clear (&released);
  return n;
}

/* A frame the server is to send, checked, as the iovecs of its message. */
struct outgoing_frame
{
  struct zcipc_wire_frame m;
  struct iovec iov[3];
  unsigned int n_iov;
  uint64_t bytes;               /* of shared memory the frame pins */
  void *frame;
};

/* Checks zcipc_server_send_frame()'s arguments and lays out its message
 * (all but seq and send time). 0, -EINVAL or -EMSGSIZE. */
static int
prepare_frame (struct outgoing_frame *out, const struct zcipc_wire_frame *info,
    const struct zcipc_wire_mem *mems, uint32_t n_mems, const void *meta,
    uint32_t meta_size, void *frame)
{
  bool metas_in_region =
      (info->frame_flags & ZCIPC_FRAME_FLAG_METAS_IN_REGION) != 0;
  uint32_t max_mems = ZCIPC_WIRE_MAX_MEMS;

  /* The metas' mem, when they are in a region, is the last of `mems`. */
  if (metas_in_region) {
    if (n_mems == 0 || meta_size != 0 ||
        mems[n_mems - 1].size > ZCIPC_WIRE_MAX_META_SIZE)
      return -EINVAL;
    max_mems++;
  }
  if ((info->frame_flags & ~ZCIPC_FRAME_FLAGS_KNOWN) || n_mems > max_mems ||
      (n_mems && mems == NULL) || frame == NULL)
    return -EINVAL;
  if (sizeof out->m + n_mems * sizeof *mems + meta_size >
      ZCIPC_WIRE_MAX_MESSAGE_SIZE)
    return -EMSGSIZE;

  out->m = *info;
  zcipc_wire_init_frame (&out->m, n_mems, meta_size);
  out->m.frame_flags = info->frame_flags;
  out->m.pts = info->pts;
  out->m.dts = info->dts;
  out->m.duration = info->duration;
  out->m.offset = info->offset;
  out->m.offset_end = info->offset_end;
  out->m.flags = info->flags;
  out->n_iov = 0;
  out->iov[out->n_iov++] = (struct iovec) { &out->m, sizeof out->m };
  if (n_mems)
    out->iov[out->n_iov++] = (struct iovec) { (void *) mems,
    n_mems * sizeof *mems
    };
  if (meta_size)
    out->iov[out->n_iov++] = (struct iovec) { (void *) meta, meta_size };
  out->bytes = meta_size;
  for (uint32_t i = 0; i < n_mems; i++)
    out->bytes += mems[i].size;
  out->frame = frame;
  return 0;
}

/* Lock held. Sends a frame to one streaming consumer below its quota and
 * records its hold (callbacks->hold). True if it was sent; *woke when the
 * consumer may have slept (every socket send; a channel's futex wake). */
static bool
send_frame_to_locked (struct zcipc_server *s, struct consumer *c,
    const struct outgoing_frame *out, bool *woke)
{
  uint64_t wakeups = c->channel.wakeups;
  uint32_t j;
  int res;

  if (c->n_held >= c->info.quota) {
    c->frames_missed++;
    s->stats.frames_missed++;
    return false;
  }
  res = consumer_send (c, out->iov, out->n_iov, NULL, 0);
  *woke = res == 0 && (!zcipc_channel_is_open (&c->channel) ||
      c->channel.wakeups != wakeups);
  if (res == -EAGAIN) {
    c->frames_missed++;
    s->stats.frames_missed++;
    return false;
  }
  if (res == -EPROTO) {
    drop_corrupt_channel_locked (s, c);
    return false;
  }
  if (res < 0) {
    drop_consumer_locked (s, c, DROP_GONE, "hung up");
    return false;
  }
  for (j = 0; c->holds[j].frame; j++);
  c->holds[j] = (struct hold) { out->m.seq, out->bytes, out->frame };
  c->n_held++;
  if (c->n_held >= c->info.quota)
    c->full_since_ns = (int64_t) out->m.send_time;
  c->frames_sent++;
  s->stats.held++;
  s->callbacks.hold (s->data, out->frame);
  return true;
}

/* Lock held, lazy releases on, a frame just sent (after it, so as not to
 * delay it). Frames are what keep the thread asleep: it wakes for releases
 * only when none came for a while (the stream paused or ended). Returns
 * whether the window was entered now: the thread still polls for releases
 * and must be woken to stop (once, not per frame). */
static bool
after_lazy_frame_locked (struct zcipc_server *s, struct release_list *released)
{
  int64_t now = zcipc_now_ns ();
  bool enter_window;

  drain_consumers_locked (s, released, false);
  enter_window = s->lazy_until <= now;
  s->lazy_until = now + s->lazy_window;
  if (s->channel_releases_by_socket)
    set_channel_releases_locked (s, false, released);
  return enter_window;
}

/* Lock held. Sends `out` to every streaming consumer; returns to how
 * many. */
static unsigned int
send_frame_locked (struct zcipc_server *s, struct outgoing_frame *out,
    struct release_list *released)
{
  unsigned int sent = 0, woke = 0;

  /* Lazily, a consumer at its quota may have released frames we have not
   * read yet: read them before deciding it misses this frame. */
  if (s->lazy)
    drain_consumers_locked (s, released, true);
  out->m.seq = ++s->next_seq;
  out->m.send_time = (uint64_t) zcipc_now_ns ();
  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    bool woke_it = false;

    if (!consumer_is_streaming (c))
      continue;
    if (send_frame_to_locked (s, c, out, &woke_it))
      sent++;
    woke += woke_it;
  }
  if (sent)
    s->stats.frames_sent++;
  else
    s->stats.frames_unsent++;
  s->last_frame_ns = (int64_t) out->m.send_time;
  s->stats.wakeups += woke;
  s->last_frame_woke = woke > 0;
  return sent;
}

int
zcipc_server_send_frame (struct zcipc_server *s,
    const struct zcipc_wire_frame *info, const struct zcipc_wire_mem *mems,
    uint32_t n_mems, const void *meta, uint32_t meta_size, void *frame,
    unsigned int *n_sent)
{
  struct release_list released = RELEASE_LIST_INIT (released);
  struct outgoing_frame out;
  bool enter_window = false;
  unsigned int sent;
  int res;

  if ((res = prepare_frame (&out, info, mems, n_mems, meta, meta_size,
              frame)) < 0)
    return res;
  pthread_mutex_lock (&s->lock);
  sent = send_frame_locked (s, &out, &released);
  if (s->lazy)
    enter_window = after_lazy_frame_locked (s, &released);
  pthread_mutex_unlock (&s->lock);
  if (enter_window)
    wake_thread (s);
  /* Handed out after the send, so that freeing buffers cannot delay it. */
  run_releases (s, &released);
  release_list_clear (&released);
  if (n_sent)
    *n_sent = sent;
  return 0;
}

static void
deadline_to_timespec (int64_t deadline_ns, struct timespec *ts)
{
  ts->tv_sec = deadline_ns / 1000000000;
  ts->tv_nsec = deadline_ns % 1000000000;
}

bool
zcipc_server_skip_unwatched_frame (struct zcipc_server *s)
{
  bool skip;

  pthread_mutex_lock (&s->lock);
  skip = count_streaming_locked (s) == 0;
  if (skip) {
    /* The seq a frame would have taken, so that consumers count the frames
     * they did not see (a gap in seqs) as they would have been. */
    s->next_seq++;
    s->stats.frames_unsent++;
    s->last_frame_ns = zcipc_now_ns ();
  }
  pthread_mutex_unlock (&s->lock);
  return skip;
}

int
zcipc_server_wait_consumers (struct zcipc_server *s, unsigned int n,
    int64_t timeout_ns)
{
  int64_t deadline = timeout_ns >= 0 ? zcipc_now_ns () + timeout_ns : 0;
  int res = 0;

  pthread_mutex_lock (&s->lock);
  while (count_streaming_locked (s) < n) {
    struct timespec ts;
    if (s->flushing || s->stopping) {
      res = -ECANCELED;
      break;
    }
    if (timeout_ns < 0) {
      pthread_cond_wait (&s->cond, &s->lock);
      continue;
    }
    deadline_to_timespec (deadline, &ts);
    if (pthread_cond_timedwait (&s->cond, &s->lock, &ts) == ETIMEDOUT &&
        count_streaming_locked (s) < n) {
      res = -ETIMEDOUT;
      break;
    }
  }
  pthread_mutex_unlock (&s->lock);
  return res;
}

/* Lock held. Whether the producer waits for a consumer's room: it streams,
 * holds its whole quota, and is not on probation after a cut-off of its
 * uid. `now` 0: the clock is read only for one on probation (this runs
 * per frame). */
static bool
consumer_is_waited_for (const struct consumer *c, int64_t now)
{
  return consumer_is_streaming (c) && c->n_held >= c->info.quota &&
      !(c->skip_until_ns && c->skip_until_ns > (now ? now : zcipc_now_ns ()));
}

/* Lock held: since when the longest-full consumer is at its quota, or -1
 * if none is full. Not since when it holds its oldest frame: a consumer
 * whose downstream keeps a frame for long (a muxer waiting for its other
 * input) but takes the next ones is not stuck. */
static int64_t
oldest_full_hold_locked (struct zcipc_server *s)
{
  int64_t oldest = -1;

  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (!consumer_is_waited_for (c, 0))
      continue;
    if (oldest < 0 || c->full_since_ns < oldest)
      oldest = c->full_since_ns;
  }
  return oldest;
}

/* Lock held. Cuts off every consumer that sat at its quota for longer than
 * the wait timeout. */
static void
cut_off_stuck_locked (struct zcipc_server *s, int64_t now, int64_t timeout_ns)
{
  char why[160];

  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    if (!consumer_is_waited_for (c, now) || now - c->full_since_ns < timeout_ns)
      continue;
    snprintf (why, sizeof why, "held %u frames, its whole quota, for "
        "longer than the wait timeout (%lld ms)", c->n_held,
        (long long) (timeout_ns / 1000000));
    drop_consumer_locked (s, c, DROP_CUT_OFF, why);
    remember_cut_off_locked (s, c->info.uid);
  }
}

/* Lazily, releases waiting to be read may make room already; if not, the
 * thread must read them while zcipc_server_wait_room() waits. */
static void
collect_releases_for_room (struct zcipc_server *s)
{
  struct release_list released = RELEASE_LIST_INIT (released);
  bool was_waiting = false;

  pthread_mutex_lock (&s->lock);
  if (s->lazy && oldest_full_hold_locked (s) >= 0) {
    drain_consumers_locked (s, &released, false);
    if (oldest_full_hold_locked (s) >= 0)
      was_waiting = end_lazy_window_locked (s, &released);
  }
  pthread_mutex_unlock (&s->lock);
  if (was_waiting)
    wake_thread (s);
  run_releases (s, &released);
  release_list_clear (&released);
}

int
zcipc_server_wait_room (struct zcipc_server *s, int64_t timeout_ns)
{
  int res = 0;

  collect_releases_for_room (s);
  pthread_mutex_lock (&s->lock);
  for (;;) {
    int64_t oldest = oldest_full_hold_locked (s), now;
    struct timespec ts;

    if (oldest < 0)
      break;
    if (s->flushing || s->stopping) {
      res = -ECANCELED;
      break;
    }
    now = zcipc_now_ns ();
    if (timeout_ns >= 0 && now - oldest >= timeout_ns) {
      cut_off_stuck_locked (s, now, timeout_ns);
      continue;
    }
    if (timeout_ns < 0) {
      pthread_cond_wait (&s->cond, &s->lock);
      continue;
    }
    deadline_to_timespec (oldest + timeout_ns, &ts);
    pthread_cond_timedwait (&s->cond, &s->lock, &ts);
  }
  pthread_mutex_unlock (&s->lock);
  return res;
}
