/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The producer's server object and its thread. The thread polls the
 * listening socket and every connection, accepts (backing off when out of
 * fds), reads what consumers send (server-consumer.c), closes handshakes
 * past their deadline, gives up frames departed consumers pin past the
 * pin bounds, and reaps dropped connections. Also here: creating and
 * freeing the server, and its stats and caps.
 *
 * Locking: the server lock guards every field of struct zcipc_server below
 * it (server-private.h); the thread takes it per step and never across
 * poll(), so that frames go out while it sleeps. Fields marked "only the
 * thread" are its own. See server-private.h for how the parts divide the
 * producer's side. */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server-private.h"
#include "zcipc/clock.h"
#include "zcipc/result.h"

void
server_log (struct zcipc_server *s, enum zcipc_log_level level,
    const char *format, ...)
{
  char message[256];
  va_list args;

  if (!s->callbacks.log)
    return;
  va_start (args, format);
  vsnprintf (message, sizeof message, format, args);
  va_end (args);
  s->callbacks.log (s->data, level, message);
}

void
wake_thread (struct zcipc_server *s)
{
  uint64_t one = 1;
  ssize_t r = write (s->wake_fd, &one, sizeof one);
  (void) r;
}

/* accept() failed for want of fds or memory: the connection stays pending,
 * so the listening socket would read as ready at once, forever. Stop polling
 * it for a while, and log once per period with the count. */
static void
back_off_accept (struct zcipc_server *s, int error)
{
  int64_t now = zcipc_now_ns ();

  s->accept_paused_until = now + ZCIPC_SERVER_ACCEPT_BACKOFF_NS;
  s->accept_failures++;
  if (now >= s->accept_next_log) {
    server_log (s, ZCIPC_LOG_WARNING, "accept failed %u time(s): %s; not "
        "accepting for %lld ms at a time (logged at most every %lld s)",
        s->accept_failures, strerror (-error),
        (long long) (ZCIPC_SERVER_ACCEPT_BACKOFF_NS / 1000000),
        (long long) (ZCIPC_SERVER_ACCEPT_LOG_PERIOD_NS / 1000000000));
    s->accept_failures = 0;
    s->accept_next_log = now + ZCIPC_SERVER_ACCEPT_LOG_PERIOD_NS;
  }
}

/* Refuses a peer the allow-list does not name; closes `fd`. */
static void
refuse_not_allowed (struct zcipc_server *s, int fd,
    const struct zcipc_peer_cred *cred)
{
  /* Named, so the consumer's message says whom to add; only the peer's
   * effective gid is known (SO_PEERCRED), not its other groups. */
  char why[ZCIPC_WIRE_REASON_SIZE];

  server_log (s, ZCIPC_LOG_WARNING,
      "refused consumer pid %d uid %u gid %u: not on the allow-list",
      (int) cred->pid, (unsigned) cred->uid, (unsigned) cred->gid);
  snprintf (why, sizeof why, "uid %u gid %u not allowed by this "
      "producer's allowed-uids/allowed-gids (only the primary gid "
      "counts)", (unsigned) cred->uid, (unsigned) cred->gid);
  reject (fd, -EACCES, why);
  close (fd);
}

/* Lock held. A new connection, in its handshake; takes `fd`, closing it
 * when out of memory. */
static void
add_connection_locked (struct zcipc_server *s, int fd,
    const struct zcipc_peer_cred *cred)
{
  struct consumer *c, **grown;

  make_room_for_handshake_locked (s);
  c = calloc (1, sizeof *c);
  grown = realloc (s->consumers, (s->n_consumers + 1) * sizeof *grown);
  if (grown)
    s->consumers = grown;
  if (!c || !grown) {
    free (c);
    close (fd);
    return;
  }
  c->fd = fd;
  c->state = CONSUMER_HANDSHAKE;
  c->accepted_ns = zcipc_now_ns ();
  c->info.id = ++s->next_consumer_id;
  c->info.pid = cred->pid;
  c->info.uid = cred->uid;
  c->info.gid = cred->gid;
  s->consumers[s->n_consumers++] = c;
}

static void
accept_pending (struct zcipc_server *s)
{
  for (;;) {
    struct zcipc_peer_cred cred;
    int fd, res;

    res = zcipc_socket_accept (s->listen_fd, &fd, &cred);
    if (res == -EAGAIN)
      return;
    if (res < 0) {
      back_off_accept (s, res);
      return;
    }
    if (!peer_allowed (s, &cred)) {
      refuse_not_allowed (s, fd, &cred);
      continue;
    }
    pthread_mutex_lock (&s->lock);
    add_connection_locked (s, fd, &cred);
    pthread_mutex_unlock (&s->lock);
    server_log (s, ZCIPC_LOG_DEBUG, "connection from pid %d uid %u",
        (int) cred.pid, (unsigned) cred.uid);
  }
}

/* Lock held. Gives up the frames a departed consumer still pins: the
 * producer's references go (`released`), and callbacks->retire() has made
 * sure their memory is never written again, so the pinner keeps reading
 * what it holds from its own mapping. The consumer is closed. False when a
 * frame cannot be retired: then its frames stay pinned until it lets go,
 * and it is not tried again (what memory a frame is in does not change). */
static bool
retire_pinned_locked (struct zcipc_server *s, struct consumer *c,
    struct release_list *released, const char *why)
{
  for (uint32_t j = 0; j < c->info.quota; j++) {
    if (c->holds[j].frame && !s->callbacks.retire (s->data, c->holds[j].frame)) {
      server_log (s, ZCIPC_LOG_DEBUG, "consumer %u: a frame it pins %s "
          "cannot be retired: it stays pinned", c->info.id, why);
      c->departed_ns = 0;
      return false;
    }
  }
  for (uint32_t j = 0; j < c->info.quota; j++) {
    if (!c->holds[j].frame)
      continue;
    release_list_add (released, c->holds[j].frame);
    c->holds[j].frame = NULL;
    s->stats.held--;
    s->stats.frames_retired++;
  }
  server_log (s, ZCIPC_LOG_WARNING, "consumer %u (pid %d): %u frame(s) it "
      "still pins %s are given up; their memory is never reused",
      c->info.id, (int) c->info.pid, c->n_held, why);
  c->n_held = 0;
  c->departed_ns = 0;
  /* LEAVING -> CLOSED; a cut-off one (CUT_OFF -> CLOSED) keeps the reason
   * it was cut off for. */
  drop_consumer_locked (s, c, DROP_GONE, "left; it pinned its frames past "
      "the producer's bound");
  pthread_cond_broadcast (&s->cond);
  return true;
}

/* Bytes of shared memory the frames a consumer holds pin. */
static uint64_t
pinned_bytes (const struct consumer *c)
{
  uint64_t bytes = 0;

  for (uint32_t j = 0; j < c->info.quota; j++)
    if (c->holds[j].frame)
      bytes += c->holds[j].bytes;
  return bytes;
}

/* Lock held. While departed consumers pin more than the byte bound, those
 * that departed first give up theirs first. */
static void
retire_over_byte_bound_locked (struct zcipc_server *s, uint64_t pinned,
    struct release_list *released)
{
  while (pinned > s->pin_max_bytes) {
    struct consumer *first = NULL;
    uint64_t bytes;

    for (unsigned int i = 0; i < s->n_consumers; i++) {
      struct consumer *c = s->consumers[i];
      if (c->departed_ns && c->n_held > 0 &&
          (!first || c->departed_ns < first->departed_ns))
        first = c;
    }
    if (!first)
      break;
    bytes = pinned_bytes (first);
    /* Retired or not, no longer counted (see retire_pinned_locked()). */
    retire_pinned_locked (s, first, released, "past the producer's bound on "
        "bytes pinned by departed consumers");
    pinned -= bytes < pinned ? bytes : pinned;
  }
}

/* Lock held. Closes handshakes past their deadline and gives up frames
 * pinned past the bounds; returns when to look again (0: nothing due). */
static int64_t
expire_locked (struct zcipc_server *s, struct release_list *released)
{
  int64_t now = zcipc_now_ns (), next = 0;
  uint64_t pinned = 0;

  for (unsigned int i = 0; i < s->n_consumers; i++) {
    struct consumer *c = s->consumers[i];
    int64_t due = 0;

    if (consumer_in_handshake (c)) {
      due = c->accepted_ns + ZCIPC_SERVER_HANDSHAKE_TIMEOUT_NS;
      if (now >= due) {
        drop_consumer_locked (s, c, DROP_GONE, "did not say HELLO within "
            "the handshake deadline");
        continue;
      }
    } else if (c->departed_ns && c->n_held > 0 && s->callbacks.retire) {
      if (s->pin_timeout_ns >= 0) {
        due = c->departed_ns + s->pin_timeout_ns;
        if (now >= due) {
          retire_pinned_locked (s, c, released, "longer than the pin "
              "timeout after it left or was cut off");
          continue;
        }
      }
      pinned += pinned_bytes (c);
    }
    if (due > now && (next == 0 || due < next))
      next = due;
  }
  retire_over_byte_bound_locked (s, pinned, released);
  return next;
}

/* What the thread polls: the wake eventfd, the listening socket, then one
 * entry per connection, `polled` naming it. */
struct poll_set
{
  struct pollfd *pfds;
  struct consumer **polled;
  unsigned int cap, n;
};

static void
poll_set_reserve (struct poll_set *ps, unsigned int n)
{
  if (ps->pfds && n + 2 <= ps->cap)
    return;
  ps->cap = n + 16;
  ps->pfds = realloc (ps->pfds, ps->cap * sizeof *ps->pfds);
  ps->polled = realloc (ps->polled, ps->cap * sizeof *ps->polled);
  if (!ps->pfds || !ps->polled)
    abort ();
}

/* Lock held. How long the thread may sleep: until the lazy window ends,
 * the next deadline (`next_due`), or for ever (-1). Out of the window,
 * channel consumers are told to send their releases by socket again. */
static int
poll_timeout_locked (struct zcipc_server *s, int64_t next_due, bool lazy,
    struct release_list *released)
{
  int timeout_ms = -1;

  if (lazy)
    timeout_ms = (int) ((s->lazy_until - zcipc_now_ns ()) / 1000000 + 1);
  else if (!s->channel_releases_by_socket)
    /* The window ended (no frame for a while): we read releases now. */
    set_channel_releases_locked (s, true, released);
  if (next_due) {
    int64_t ms = (next_due - zcipc_now_ns ()) / 1000000 + 1;
    if (ms < 1)
      ms = 1;
    if (timeout_ms < 0 || ms < timeout_ms)
      timeout_ms = (int) ms;
  }
  return timeout_ms;
}

/* Lock held. Runs what is due, fills the poll set and returns the poll
 * timeout. */
static int
prepare_poll_locked (struct zcipc_server *s, struct poll_set *ps,
    struct release_list *released)
{
  int64_t next_due;
  bool lazy;

  ps->n = s->n_consumers;
  poll_set_reserve (ps, ps->n);
  next_due = expire_locked (s, released);
  if (s->accept_paused_until && s->accept_paused_until <= zcipc_now_ns ())
    s->accept_paused_until = 0;
  if (s->accept_paused_until && (next_due == 0 ||
          s->accept_paused_until < next_due))
    next_due = s->accept_paused_until;
  ps->pfds[0] = (struct pollfd) { s->wake_fd, POLLIN, 0 };
  ps->pfds[1] = (struct pollfd) { s->listen_fd,
    s->accept_paused_until ? 0 : POLLIN, 0
  };
  lazy = s->lazy && s->lazy_until > zcipc_now_ns ();
  for (unsigned int i = 0; i < ps->n; i++) {
    struct consumer *c = s->consumers[i];
    /* Lazily, an active consumer's releases wait for the next frame;
     * poll still reports its hang-up (POLLHUP needs no request). One with
     * a channel sends by socket only what must not wait (LEAVE, WAKE). */
    short events = lazy && consumer_is_active (c) &&
        !zcipc_channel_is_open (&c->channel) ? 0 : POLLIN;
    ps->polled[i] = c;
    ps->pfds[i + 2] = (struct pollfd) { c->fd, events, 0 };
  }
  return poll_timeout_locked (s, next_due, lazy, released);
}

/* Reads what one polled connection sent, or finds it gone; reports a
 * consumer that joined. `c` is safe to use unlocked: only this thread
 * frees it. */
static void
handle_connection_events (struct zcipc_server *s, struct consumer *c,
    short revents, struct release_list *released)
{
  bool joined = false;

  pthread_mutex_lock (&s->lock);
  if (revents & POLLIN)
    read_consumer_locked (s, c, released, &joined);
  if (revents & (POLLHUP | POLLERR | POLLNVAL))
    drop_consumer_locked (s, c, DROP_GONE, "hung up");
  pthread_mutex_unlock (&s->lock);
  if (joined) {
    server_log (s, ZCIPC_LOG_INFO, "consumer %u joined: pid %d uid %u, "
        "quota %u", c->info.id, (int) c->info.pid, (unsigned) c->info.uid,
        c->info.quota);
    if (s->callbacks.consumer_joined)
      s->callbacks.consumer_joined (s->data, &c->info);
  }
  run_releases (s, released);
}

static void *
server_thread (void *user)
{
  struct zcipc_server *s = user;
  struct release_list released = RELEASE_LIST_INIT (released);
  struct poll_set ps = { NULL, NULL, 0, 0 };

  poll_set_reserve (&ps, 0);
  for (;;) {
    int timeout_ms;

    pthread_mutex_lock (&s->lock);
    if (s->stopping) {
      pthread_mutex_unlock (&s->lock);
      break;
    }
    timeout_ms = prepare_poll_locked (s, &ps, &released);
    pthread_mutex_unlock (&s->lock);
    run_releases (s, &released);

    if (poll (ps.pfds, ps.n + 2, timeout_ms) < 0) {
      if (errno == EINTR)
        continue;
      server_log (s, ZCIPC_LOG_ERROR, "poll failed: %s", strerror (errno));
      break;
    }
    if (ps.pfds[0].revents) {
      uint64_t v;
      ssize_t r = read (s->wake_fd, &v, sizeof v);
      (void) r;
    }
    if (ps.pfds[1].revents & POLLIN)
      accept_pending (s);
    for (unsigned int i = 0; i < ps.n; i++)
      if (ps.pfds[i + 2].revents)
        handle_connection_events (s, ps.polled[i], ps.pfds[i + 2].revents,
            &released);
    reap_dropped (s, &released);
  }
  free (ps.pfds);
  free (ps.polled);
  release_list_clear (&released);
  return NULL;
}

/* Copies `n` ids of `size` bytes each into *out (NULL when n is 0). */
static int
copy_ids (const void *ids, unsigned int n, size_t size, void **out)
{
  *out = NULL;
  if (n == 0)
    return 0;
  if (!(*out = calloc (n, size)))
    return -ENOMEM;
  memcpy (*out, ids, n * size);
  return 0;
}

/* Everything of zcipc_server_new() but binding and the thread. */
static int
server_init (struct zcipc_server *s, const struct zcipc_server_config *config,
    const struct zcipc_server_callbacks *callbacks, void *data)
{
  pthread_condattr_t attr;
  void *uids, *gids;

  s->listen_fd = -1;
  s->wake_fd = -1;
  s->socket_owner.dir_fd = -1;
  s->callbacks = *callbacks;
  s->data = data;
  s->quota = config->quota > ZCIPC_WIRE_MAX_QUOTA ?
      ZCIPC_WIRE_MAX_QUOTA : config->quota;
  s->channel_releases_by_socket = true;
  s->max_consumers = config->max_consumers;
  s->pin_timeout_ns = config->pin_timeout_ns ? config->pin_timeout_ns :
      ZCIPC_SERVER_PIN_TIMEOUT_NS;
  s->pin_max_bytes = config->pin_max_bytes ? config->pin_max_bytes :
      ZCIPC_SERVER_PIN_MAX_BYTES;
  pthread_mutex_init (&s->lock, NULL);
  pthread_condattr_init (&attr);
  pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
  pthread_cond_init (&s->cond, &attr);
  pthread_condattr_destroy (&attr);
  if (!(s->path = strdup (config->path)))
    return -ENOMEM;
  if (copy_ids (config->allowed_uids, config->n_allowed_uids, sizeof (uid_t),
          &uids) < 0)
    return -ENOMEM;
  s->allowed_uids = uids;
  s->n_allowed_uids = config->n_allowed_uids;
  if (copy_ids (config->allowed_gids, config->n_allowed_gids, sizeof (gid_t),
          &gids) < 0)
    return -ENOMEM;
  s->allowed_gids = gids;
  s->n_allowed_gids = config->n_allowed_gids;
  if ((s->wake_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
    return zcipc_neg_errno ();
  return 0;
}

int
zcipc_server_new (const struct zcipc_server_config *config,
    const struct zcipc_server_callbacks *callbacks, void *data,
    struct zcipc_server **out)
{
  struct zcipc_server *s;
  int res;

  if (!config || !config->path || !callbacks || !callbacks->hold ||
      !callbacks->release || config->quota == 0 || config->max_consumers == 0)
    return -EINVAL;
  if ((s = calloc (1, sizeof *s)) == NULL)
    return -ENOMEM;
  if ((res = server_init (s, config, callbacks, data)) < 0)
    goto fail;
  if ((res = zcipc_socket_listen_owned (config->path, config->socket_mode,
              &s->listen_fd, &s->socket_owner)) < 0)
    goto fail;
  if ((res = -pthread_create (&s->thread, NULL, server_thread, s)) < 0)
    goto fail;
  s->thread_started = true;
  *out = s;
  return 0;

fail:
  s->stopping = true;
  zcipc_server_free (s);
  return res;
}

void
zcipc_server_free (struct zcipc_server *s)
{
  struct release_list released = RELEASE_LIST_INIT (released);
  unsigned int i;

  if (!s)
    return;
  pthread_mutex_lock (&s->lock);
  s->stopping = true;
  pthread_cond_broadcast (&s->cond);
  pthread_mutex_unlock (&s->lock);
  if (s->thread_started) {
    wake_thread (s);
    pthread_join (s->thread, NULL);
  }
  zcipc_socket_remove_owned (&s->socket_owner);
  /* The thread is gone: nobody else touches the consumers now. */
  while (s->n_consumers) {
    struct consumer *c = remove_consumer_locked (s, 0, &released);
    run_releases (s, &released);
    if (!c->notified)
      notify_left (s, c, consumer_is_dropped (c) ? c->drop_reason :
          "producer stopped");
    free_consumer (c);
  }
  release_list_clear (&released);
  free (s->consumers);
  for (i = 0; i < s->n_regions; i++)
    close (s->regions[i].fd);
  free (s->regions);
  for (i = 0; i < s->n_events; i++)
    free (s->events[i].payload);
  if (s->listen_fd >= 0)
    close (s->listen_fd);
  if (s->wake_fd >= 0)
    close (s->wake_fd);
  pthread_cond_destroy (&s->cond);
  pthread_mutex_destroy (&s->lock);
  free (s->allowed_uids);
  free (s->allowed_gids);
  free (s->caps);
  free (s->path);
  free (s);
}

void
zcipc_server_set_flushing (struct zcipc_server *s, bool flushing)
{
  pthread_mutex_lock (&s->lock);
  s->flushing = flushing;
  pthread_cond_broadcast (&s->cond);
  pthread_mutex_unlock (&s->lock);
}

unsigned int
zcipc_server_get_stats (struct zcipc_server *s,
    struct zcipc_server_stats *stats, struct zcipc_consumer_stats *consumers,
    unsigned int max)
{
  unsigned int n = 0;

  pthread_mutex_lock (&s->lock);
  *stats = s->stats;
  stats->consumers = count_streaming_locked (s);
  for (unsigned int i = 0; i < s->n_consumers && n < max; i++) {
    struct consumer *c = s->consumers[i];
    if (!consumer_is_streaming (c))
      continue;
    consumers[n].info = c->info;
    consumers[n].frames_sent = c->frames_sent;
    consumers[n].frames_missed = c->frames_missed;
    consumers[n].held = c->n_held;
    n++;
  }
  pthread_mutex_unlock (&s->lock);
  return n;
}

bool
zcipc_server_last_frame_woke (struct zcipc_server *s)
{
  bool woke;
  pthread_mutex_lock (&s->lock);
  woke = s->last_frame_woke;
  pthread_mutex_unlock (&s->lock);
  return woke;
}

/* How much of a caps string longer than ZCIPC_WIRE_STATS_CAPS_MAX fits:
 * whole structures ("; " separates them in gst_caps_to_string's text),
 * else whole fields (", "). */
static size_t
caps_cut (const char *caps)
{
  static const char *const separators[] = { "; ", ", " };
  size_t cut = 0;

  for (unsigned int k = 0; k < 2 && cut == 0; k++)
    for (size_t i = 0; i + 2 <= ZCIPC_WIRE_STATS_CAPS_MAX; i++)
      if (memcmp (caps + i, separators[k], 2) == 0)
        cut = i;
  return cut;
}

int
zcipc_server_set_caps_string (struct zcipc_server *s, const char *caps)
{
  size_t len = caps ? strlen (caps) : 0;
  bool truncated = false;
  char *copy;

  if (len > ZCIPC_WIRE_STATS_CAPS_MAX) {
    len = caps_cut (caps);
    truncated = true;
  }
  if (len == 0) {
    copy = NULL;
  } else if ((copy = malloc (len + 1)) == NULL) {
    return -ENOMEM;
  } else {
    memcpy (copy, caps, len);
    copy[len] = '\0';
  }
  pthread_mutex_lock (&s->lock);
  free (s->caps);
  s->caps = copy;
  s->caps_truncated = truncated;
  pthread_mutex_unlock (&s->lock);
  return 0;
}
