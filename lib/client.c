/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zcipc/clock.h"
#include "zcipc/channel.h"
#include "zcipc/client.h"
#include "zcipc/client-testing.h"
#include "zcipc/region.h"
#include "zcipc/socket.h"
#include "zcipc/result.h"

struct client_region
{
  uint32_t id;
  uint32_t flags;
  int fd;                       /* owned until mapped, then region's */
  uint64_t size;                /* as announced (and checked) */
  bool populated;               /* counted in populated_bytes */
  struct zcipc_region region;   /* mapped at the first frame into it */
  unsigned int refs;            /* frames pointing into it, +1 while announced */
  bool announced;
};

struct held_frame
{
  uint64_t seq;                 /* 0: free entry */
  uint64_t connection;          /* zcipc_client.connection it came on */
  uint32_t n_regions;
  struct client_region *regions[ZCIPC_WIRE_MAX_MEMS];
};

/* The biggest datagram a producer may send. */
#define RECV_BUFFER_SIZE ZCIPC_WIRE_MAX_MESSAGE_SIZE

/* How long a consumer sleeps on its channel before it looks at the socket:
 * a producer that crashed cannot wake it, so this bounds how late its
 * hang-up is seen. An orderly one wakes it at once. */
#define CHANNEL_CHECK_MS 100

struct zcipc_client
{
  atomic_uint refcount;
  char *path;
  int interrupt_fd;             /* eventfd */
  atomic_bool interrupted;      /* the same, for spinning without a syscall */
  atomic_uint spin_us;          /* see zcipc_client_set_spin() */
  atomic_uint_least64_t sleeps; /* waits in next() for a message */
  uint8_t *buffer;              /* one received datagram, 8-aligned */
  /* next()'s thread only: the last frame's metas, when they came in a
   * region (copied out: the producer may write there while we parse). */
  uint8_t *metas;
  size_t metas_size;
  bool use_channel;             /* ask producers for a channel */
  bool wait_any_path;           /* see zcipc_client_set_wait_any_path() */
  /* next()'s thread only */
  unsigned int socket_due;      /* channel markers whose message is unread */
  unsigned int socket_ahead;    /* socket messages read before their marker */
  bool waited_last;             /* the last frame found the socket empty */
  int64_t last_frame_ns;        /* when the last frame arrived */
  int64_t frame_gap_ns;         /* average time between frames */

  pthread_mutex_t lock;         /* protects everything below */
  uint32_t max_held;            /* what we ask for: only ever grows */
  bool quota_unsent;            /* a QUOTA found the socket full */
  int fd;                       /* -1 when not connected */
  struct zcipc_channel channel; /* open once the producer sent CHANNEL */
  uint32_t quota;
  uint32_t consumer_id;
  uint64_t connection;          /* counts handshakes: seqs are per connection */
  bool leaving;                 /* disconnected with frames held: the socket
                                 * stays open until they are released */
  bool report_removals;
  struct client_region **regions;
  unsigned int n_regions;
  /* What a producer may make us map: see zcipc_client_set_map_limits() */
  uint64_t map_limit;
  uint64_t populate_limit;
  uint64_t mapped_bytes;        /* of the regions mapped now */
  uint64_t populated_bytes;     /* of those, populated when mapped */
  unsigned int retry_delay_ms;  /* before connect's first try */
  struct held_frame *held;      /* ZCIPC_WIRE_MAX_QUOTA entries */
  uint64_t pending[ZCIPC_WIRE_MAX_QUOTA];       /* releases not sent yet */
  uint32_t n_pending;
  char reason[512];
};

static void flush_releases_locked (struct zcipc_client *c);
static void send_quota_locked (struct zcipc_client *c);
static bool channel_release_locked (struct zcipc_client *c, uint64_t seq);
static unsigned int held_now_locked (struct zcipc_client *c);

static void set_reason (struct zcipc_client *c, const char *format, ...)
    __attribute__((format (printf, 2, 3)));

static void
set_reason (struct zcipc_client *c, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  vsnprintf (c->reason, sizeof c->reason, format, args);
  va_end (args);
}

int
zcipc_client_new (const char *path, uint32_t max_held,
    struct zcipc_client **out)
{
  struct zcipc_client *c;
  int res;

  if ((res = zcipc_socket_check_path (path)) < 0)
    return res;
  if (max_held == 0 || max_held > ZCIPC_WIRE_MAX_QUOTA)
    return -EINVAL;
  if (!(c = calloc (1, sizeof *c)))
    return -ENOMEM;
  atomic_init (&c->refcount, 1);
  c->fd = -1;
  c->channel.fd = -1;
  c->use_channel = true;        /* zcipc_client_set_channel() */
  c->max_held = max_held;
  c->map_limit = ZCIPC_CLIENT_DEFAULT_MAP_LIMIT;
  c->populate_limit = ZCIPC_CLIENT_DEFAULT_POPULATE_LIMIT;
  c->path = strdup (path);
  c->held = calloc (ZCIPC_WIRE_MAX_QUOTA, sizeof *c->held);
  c->buffer = aligned_alloc (8, RECV_BUFFER_SIZE);
  c->interrupt_fd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
  pthread_mutex_init (&c->lock, NULL);
  if (!c->path || !c->held || !c->buffer || c->interrupt_fd < 0) {
    zcipc_client_unref (c);
    return -ENOMEM;
  }
  *out = c;
  return 0;
}

struct zcipc_client *
zcipc_client_ref (struct zcipc_client *c)
{
  atomic_fetch_add (&c->refcount, 1);
  return c;
}

static void
region_unref_locked (struct zcipc_client *c, struct client_region *r)
{
  if (--r->refs > 0)
    return;
  for (unsigned int i = 0; i < c->n_regions; i++) {
    if (c->regions[i] == r) {
      c->regions[i] = c->regions[--c->n_regions];
      break;
    }
  }
  if (r->region.data) {
    c->mapped_bytes -= r->region.size;
    if (r->populated)
      c->populated_bytes -= r->region.size;
    zcipc_region_clear (&r->region);
  } else if (r->fd >= 0) {
    close (r->fd);              /* announced, never mapped */
  }
  free (r);
}

static void
forget_regions_locked (struct zcipc_client *c)
{
  /* Drop the "announced" reference of every region; those that frames
   * still point into stay mapped until released. */
  for (unsigned int i = c->n_regions; i-- > 0;) {
    struct client_region *r = c->regions[i];
    if (r->announced) {
      r->announced = false;
      region_unref_locked (c, r);
    }
  }
}

void
zcipc_client_unref (struct zcipc_client *c)
{
  if (!c || atomic_fetch_sub (&c->refcount, 1) != 1)
    return;
  if (c->fd >= 0)
    close (c->fd);
  zcipc_channel_clear (&c->channel);
  if (c->held) {
    for (uint32_t i = 0; i < ZCIPC_WIRE_MAX_QUOTA; i++)
      for (uint32_t j = 0; c->held[i].seq && j < c->held[i].n_regions; j++)
        region_unref_locked (c, c->held[i].regions[j]);
  }
  forget_regions_locked (c);
  free (c->regions);
  if (c->interrupt_fd >= 0)
    close (c->interrupt_fd);
  pthread_mutex_destroy (&c->lock);
  free (c->held);
  free (c->buffer);
  free (c->metas);
  free (c->path);
  free (c);
}

/* Waits for `fd` to become readable, or the interrupt. */
static int
wait_readable (struct zcipc_client *c, int fd, int timeout_ms)
{
  struct pollfd pfds[2] = { {c->interrupt_fd, POLLIN, 0}, {fd, POLLIN, 0} };
  int n = fd >= 0 ? 2 : 1, res;

  do {
    res = poll (pfds, (nfds_t) n, timeout_ms < 0 ? -1 : timeout_ms);
  } while (res < 0 && errno == EINTR);
  if (res < 0)
    return zcipc_neg_errno ();
  if (pfds[0].revents)
    return -ECANCELED;
  if (res == 0)
    return -EAGAIN;
  return 0;
}

static int
remaining (int64_t deadline, int timeout_ms)
{
  int64_t left;
  if (timeout_ms < 0)
    return -1;
  left = deadline - zcipc_now_ms ();
  return left < 0 ? 0 : (int) left;
}

static void
close_socket_locked (struct zcipc_client *c)
{
  if (c->fd >= 0) {
    close (c->fd);
    c->fd = -1;
  }
  zcipc_channel_clear (&c->channel);
  c->socket_due = 0;
  c->socket_ahead = 0;
  c->n_pending = 0;
  c->leaving = false;
  forget_regions_locked (c);
}

/* Reads one datagram; closes any fds a caller did not expect. */
static int
receive (struct zcipc_client *c, int fd, size_t *len, int *fds,
    unsigned int *n_fds)
{
  int res = zcipc_socket_recv (fd, c->buffer, RECV_BUFFER_SIZE, len, fds,
      ZCIPC_SOCKET_MAX_FDS, n_fds, 1);
  /* A producer that closes with our last message unread (a RELEASE, or a
   * HELLO it refuses) makes the kernel report ECONNRESET once, ahead of
   * what it sent before closing (an EOS, a REJECT): read on to get that,
   * then the hang-up. */
  if (res == -ECONNRESET)
    res = zcipc_socket_recv (fd, c->buffer, RECV_BUFFER_SIZE, len, fds,
        ZCIPC_SOCKET_MAX_FDS, n_fds, 1);
  if (res == 0 && *len == 0)
    return -EPIPE;
  return res;
}

/* Reads the producer's next message into c->buffer without waiting: from
 * the channel once there is one (where a marker sends us to the socket),
 * else from the socket. -EAGAIN: nothing there; -EBADMSG: the producer
 * wrote an impossible record into the channel. */
static int
read_message (struct zcipc_client *c, int fd, size_t *len, int *fds,
    unsigned int *n_fds)
{
  *n_fds = 0;
  for (;;) {
    enum zcipc_channel_record kind;
    int res;

    if (!zcipc_channel_is_open (&c->channel) || c->socket_due > 0) {
      res = receive (c, fd, len, fds, n_fds);
      if (res != -EAGAIN && c->socket_due > 0)
        c->socket_due--;
      return res;
    }
    res = zcipc_channel_pop (&c->channel, c->buffer, RECV_BUFFER_SIZE, len,
        &kind);
    if (res == -EPROTO)
      return -EBADMSG;
    if (res < 0 || kind == ZCIPC_CHANNEL_RECORD_MESSAGE)
      return res;
    if (c->socket_ahead > 0)
      c->socket_ahead--;        /* its message was read already */
    else
      c->socket_due++;
  }
}

static int wait_readable (struct zcipc_client *c, int fd, int timeout_ms);
static int remaining (int64_t deadline, int timeout_ms);

/* Sleeps until read_message() may find something. 0, -EAGAIN at the
 * deadline, -ECANCELED when interrupted. */
static int
wait_message (struct zcipc_client *c, int fd, int64_t deadline, int timeout_ms)
{
  if (!zcipc_channel_is_open (&c->channel) || c->socket_due > 0)
    return wait_readable (c, fd, remaining (deadline, timeout_ms));
  for (;;) {
    int left = remaining (deadline, timeout_ms), res;

    zcipc_channel_wait (&c->channel, left < 0 || left > CHANNEL_CHECK_MS ?
        CHANNEL_CHECK_MS : left, &c->interrupted);
    if (atomic_load (&c->interrupted))
      return -ECANCELED;
    if (zcipc_channel_pending (&c->channel))
      return 0;
    /* Woken with nothing to read, or a while went by: the socket tells
     * whether the producer hung up (it cannot wake us if it crashed). */
    res = wait_readable (c, fd, 0);
    if (res == 0) {
      if (zcipc_channel_pending (&c->channel))
        return 0;
      /* The ring is empty, so what is on the socket is next in order: a
       * hang-up, or a message whose marker is not published yet. */
      c->socket_due++;
      c->socket_ahead++;
      return 0;
    }
    if (res != -EAGAIN)
      return res;
    if (timeout_ms >= 0 && remaining (deadline, timeout_ms) == 0)
      return -EAGAIN;
  }
}

static void
close_fds (const int *fds, unsigned int n)
{
  for (unsigned int i = 0; i < n; i++)
    close (fds[i]);
}

/* A REJECT's error is the peer's word: only the refusals a producer makes
 * keep their meaning; anything else (an error this consumer gives its own
 * meaning to: -ECANCELED is "interrupted", -ECONNRESET "not there yet",
 * -ETIMEDOUT "nobody came") becomes a protocol error. */
static int
reject_error (int32_t error)
{
  switch (error) {
    case -EACCES:
    case -EPERM:
    case -EUSERS:
    case -EBUSY:
    case -EPROTONOSUPPORT:
    case -ECONNABORTED:
      return error;
    default:
      return -EPROTO;
  }
}

/* The peer's reason goes into our messages (and terminals): printable
 * ASCII only. */
static void
sanitize_reason (char *reason)
{
  for (; *reason; reason++)
    if (*reason < 0x20 || *reason > 0x7e)
      *reason = '?';
}

static int
handshake (struct zcipc_client *c, int fd, int64_t deadline, int timeout_ms)
{
  struct zcipc_wire_hello hello;
  struct iovec iov = { &hello, sizeof hello };
  struct zcipc_message msg;
  uint32_t asked;
  int fds[ZCIPC_SOCKET_MAX_FDS];
  unsigned int n_fds = 0;
  size_t len = 0;
  int res;

  pthread_mutex_lock (&c->lock);
  asked = c->max_held;
  pthread_mutex_unlock (&c->lock);
  zcipc_wire_init_hello (&hello, asked);
  if (c->use_channel)
    hello.flags |= ZCIPC_HELLO_FLAG_CHANNEL;
  /* A producer that refuses us at accept time may have closed already:
   * its REJECT is still queued for us, so read on after EPIPE. */
  if ((res = zcipc_socket_send (fd, &iov, 1, NULL, 0, 0)) < 0 &&
      res != -EPIPE && res != -ECONNRESET) {
    set_reason (c, "could not greet the producer: %s", strerror (-res));
    return res;
  }
  /* The reply to HELLO comes first, a timeout here means a producer that
   * is wedged or is not a zcipc producer at all. */
  for (;;) {
    res = wait_readable (c, fd, remaining (deadline, timeout_ms < 0 ? 10000 :
            timeout_ms));
    if (res == -EAGAIN) {
      /* Not "nobody listens": something accepted and stayed silent. */
      set_reason (c, "the producer on '%s' did not answer the handshake "
          "(wedged, or not a zcipc producer)", c->path);
      return -EPROTO;
    }
    if (res < 0)
      return res;
    res = receive (c, fd, &len, fds, &n_fds);
    if (res == -EAGAIN)
      continue;
    break;
  }
  if (res == -EPIPE) {
    set_reason (c, "the producer hung up during the handshake");
    return -ECONNRESET;
  }
  if (res < 0) {
    set_reason (c, "malformed handshake reply from the producer");
    return res;
  }
  res = zcipc_wire_parse (c->buffer, len, fds, n_fds, &msg);
  close_fds (fds, n_fds);
  if (res < 0) {
    set_reason (c, "the producer sent a malformed %s as handshake reply",
        zcipc_wire_type_name (msg.type));
    return -EPROTO;
  }
  if (msg.type == ZCIPC_WIRE_REJECT) {
    sanitize_reason (msg.reject.reason);
    if (msg.reject.version != ZCIPC_PROTOCOL_VERSION)
      set_reason (c, "the producer speaks protocol version %u, this consumer "
          "speaks version %u: %s", msg.reject.version, ZCIPC_PROTOCOL_VERSION,
          msg.reject.reason);
    else
      set_reason (c, "the producer refused this consumer: %s",
          msg.reject.reason);
    return reject_error (msg.reject.error);
  }
  if (msg.type != ZCIPC_WIRE_WELCOME) {
    set_reason (c, "the producer answered the handshake with %s",
        zcipc_wire_type_name (msg.type));
    return -EPROTO;
  }
  if (msg.welcome.version != ZCIPC_PROTOCOL_VERSION) {
    set_reason (c, "the producer speaks protocol version %u, this consumer "
        "speaks version %u", msg.welcome.version, ZCIPC_PROTOCOL_VERSION);
    return -EPROTONOSUPPORT;
  }
  if (msg.welcome.quota > asked) {
    set_reason (c, "the producer granted %u held frames, more than the %u "
        "asked for", msg.welcome.quota, asked);
    return -EPROTO;
  }
  pthread_mutex_lock (&c->lock);
  c->quota = msg.welcome.quota;
  c->consumer_id = msg.welcome.consumer_id;
  c->connection++;
  c->fd = fd;
  /* Asked for more while the handshake went on. */
  c->quota_unsent = c->max_held > asked;
  send_quota_locked (c);
  pthread_mutex_unlock (&c->lock);
  return 0;
}

static void
user_name (uid_t uid, char *out, size_t n)
{
  struct passwd pw, *found = NULL;
  char buf[1024];

  if (getpwuid_r (uid, &pw, buf, sizeof buf, &found) == 0 && found)
    snprintf (out, n, "%s", found->pw_name);
  else
    snprintf (out, n, "%u", (unsigned) uid);
}

static void
group_name (gid_t gid, char *out, size_t n)
{
  struct group gr, *found = NULL;
  char buf[1024];

  if (getgrgid_r (gid, &gr, buf, sizeof buf, &found) == 0 && found)
    snprintf (out, n, "%s", found->gr_name);
  else
    snprintf (out, n, "%u", (unsigned) gid);
}

/* Connecting needs write permission on the socket file (and search on its
 * directories): say what the file allows and who we are, so that the fix
 * (the producer's socket mode, or our groups) is plain. */
static void
explain_permission_denied (struct zcipc_client *c)
{
  char owner[64], group[64], me[64], my_group[64];
  struct stat st;

  user_name (geteuid (), me, sizeof me);
  group_name (getegid (), my_group, sizeof my_group);
  if (stat (c->path, &st) < 0) {
    set_reason (c, "permission denied connecting to '%s': this process "
        "(uid %u %s) may not enter a directory on the way to it", c->path,
        (unsigned) geteuid (), me);
    return;
  }
  user_name (st.st_uid, owner, sizeof owner);
  group_name (st.st_gid, group, sizeof group);
  set_reason (c, "permission denied on socket '%s' (mode %04o, owner %s, "
      "group %s) for this process (uid %u %s, gid %u %s): let it in on the "
      "producer's side with zcipcsink's socket-mode (e.g. 0666; "
      "allowed-uids/allowed-gids then choose who), or add user %s to "
      "group %s", c->path, (unsigned) (st.st_mode & 07777), owner, group,
      (unsigned) geteuid (), me, (unsigned) getegid (), my_group, me, group);
}

static void
explain_not_waitable (struct zcipc_client *c, int res)
{
  switch (res) {
    case -EISDIR:
      set_reason (c, "'%s' is a directory, not a socket: socket-path must "
          "name the socket file itself", c->path);
      break;
    case -ENOTSOCK:
      set_reason (c, "'%s' is a file, not a socket: socket-path must name "
          "the socket a producer creates", c->path);
      break;
    default:{
      const char *slash = strrchr (c->path, '/');
      int dir_len = slash ? (int) (slash - c->path) : 0;
      set_reason (c, "directory '%.*s' does not exist: create it (a "
          "producer does not) or fix the path", dir_len, c->path);
      break;
    }
  }
}

/* Connect retries while nobody listens: quick at first, so that a producer
 * starting at the same time is found at once, then slower, so that a
 * consumer waiting for hours costs nothing. */
#define CONNECT_RETRY_FIRST_MS 10
#define CONNECT_RETRY_MAX_MS 100

int
zcipc_client_connect (struct zcipc_client *c, int timeout_ms)
{
  int64_t deadline = zcipc_now_ms () + (timeout_ms < 0 ? 0 : timeout_ms);
  int retry_ms = CONNECT_RETRY_FIRST_MS;
  int fd = -1, res, blocked;

  pthread_mutex_lock (&c->lock);
  close_socket_locked (c);
  pthread_mutex_unlock (&c->lock);

  /* Backing off after a lost connection: a producer that accepts and
   * cuts us off at once must not have us reconnect in a tight loop. */
  if (c->retry_delay_ms > 0) {
    int wait_ms = (int) c->retry_delay_ms;
    if (timeout_ms >= 0 && remaining (deadline, timeout_ms) < wait_ms)
      wait_ms = remaining (deadline, timeout_ms);
    /* Once: a caller that connects in slices waits only before the
     * first. */
    c->retry_delay_ms = 0;
    if (wait_readable (c, -1, wait_ms) == -ECANCELED)
      return -ECANCELED;
  }

  for (;;) {
    int wait_ms;

    res = zcipc_socket_connect (c->path, &fd);
    if (res == 0) {
      /* The handshake has its own 5 s, counted from now: a producer that
       * appeared after a long wait must not find the deadline gone. */
      res = handshake (c, fd, zcipc_now_ms () + 5000, 5000);
      if (res == 0)
        return 0;
      close (fd);
      /* A producer that dies (or is killed) while we connect leaves our
       * connection in its dying listen queue: it is reset unanswered.
       * That is "not there yet", like a refused connect; anything else
       * (a REJECT, a protocol error) is final. */
      if (res != -ECONNRESET)
        return res;
      res = -ECONNREFUSED;
    }
    if (res == -EACCES) {
      explain_permission_denied (c);
      return res;
    }
    if (res != -ENOENT && res != -ECONNREFUSED) {
      set_reason (c, "could not connect to '%s': %s", c->path, strerror (-res));
      return res;
    }
    /* Waiting only helps where a producer can appear. */
    if ((blocked = zcipc_socket_check_waitable (c->path)) < 0) {
      explain_not_waitable (c, blocked);
      if (!c->wait_any_path)
        return blocked;
    }
    if (timeout_ms >= 0 && zcipc_now_ms () >= deadline) {
      if (blocked < 0)
        return -ETIMEDOUT;      /* explained above */
      if (c->path[0] == '@')
        set_reason (c, "no producer is listening on abstract socket '%s' "
            "in this network namespace", c->path);
      else
        set_reason (c, "no producer is listening on '%s'", c->path);
      return -ETIMEDOUT;
    }
    wait_ms = retry_ms;
    if (timeout_ms >= 0 && remaining (deadline, timeout_ms) < wait_ms)
      wait_ms = remaining (deadline, timeout_ms);
    res = wait_readable (c, -1, wait_ms);
    if (res == -ECANCELED)
      return res;
    retry_ms = retry_ms * 2 > CONNECT_RETRY_MAX_MS ? CONNECT_RETRY_MAX_MS :
        retry_ms * 2;
  }
}

static struct client_region *
find_region_locked (struct zcipc_client *c, uint32_t id)
{
  for (unsigned int i = 0; i < c->n_regions; i++)
    if (c->regions[i]->announced && c->regions[i]->id == id)
      return c->regions[i];
  return NULL;
}

static int
add_region_locked (struct zcipc_client *c, const struct zcipc_message *msg)
{
  const struct zcipc_wire_region_add *info = &msg->region_add.info;
  struct client_region *r, **grown;
  const char *why;
  int res;

  if (find_region_locked (c, info->region_id)) {
    set_reason (c, "the producer announced region %u twice", info->region_id);
    return -EPROTO;
  }
  if (c->n_regions >= ZCIPC_CLIENT_MAX_REGIONS) {
    set_reason (c, "the producer announced more than %u regions",
        ZCIPC_CLIENT_MAX_REGIONS);
    return -EPROTO;
  }
  /* Checked now, mapped at the first frame that needs it. */
  res = zcipc_region_check (msg->region_add.fd, info->size,
      (info->flags & ZCIPC_REGION_FLAG_DMABUF) != 0, &why);
  if (res < 0) {
    if (res == -EBADFD)
      set_reason (c, "the producer offered region %u (%llu bytes) that is "
          "%s; refusing to map it", info->region_id,
          (unsigned long long) info->size, why);
    else
      set_reason (c, "could not check region %u: %s", info->region_id,
          strerror (-res));
    return res == -EBADFD || res == -EINVAL ? -EPROTO : res;
  }
  if (!(r = calloc (1, sizeof *r)))
    return -ENOMEM;
  if (!(grown = realloc (c->regions, (c->n_regions + 1) * sizeof *grown))) {
    free (r);
    return -ENOMEM;
  }
  c->regions = grown;
  r->id = info->region_id;
  r->flags = info->flags;
  r->fd = msg->region_add.fd;
  r->size = info->size;
  r->region.fd = -1;
  r->refs = 1;
  r->announced = true;
  c->regions[c->n_regions++] = r;
  return 0;
}

/* Lock held. Maps `r` if it is not yet, within this client's limits. */
static int
map_region_locked (struct zcipc_client *c, struct client_region *r)
{
  unsigned int flags = 0;
  int res;

  if (r->region.data)
    return 0;
  if (r->size > SIZE_MAX || r->size > c->map_limit ||
      c->mapped_bytes > c->map_limit - r->size) {
    set_reason (c, "the producer's region %u of %llu bytes would take this "
        "consumer's mappings to more than the %llu bytes its stream can need "
        "(%llu mapped)", r->id, (unsigned long long) r->size,
        (unsigned long long) c->map_limit,
        (unsigned long long) c->mapped_bytes);
    return -EPROTO;
  }
  /* Populated up front only within its own bound: a producer's pages are
   * resident already, a sparse object's would be made for us. */
  if (r->size <= c->populate_limit &&
      c->populated_bytes <= c->populate_limit - r->size)
    flags |= ZCIPC_REGION_POPULATE;
  res = zcipc_region_import (&r->region, r->fd, (size_t) r->size,
      (r->flags & ZCIPC_REGION_FLAG_DMABUF) != 0, flags);
  if (res < 0) {
    set_reason (c, "could not map region %u of %llu bytes: %s", r->id,
        (unsigned long long) r->size, strerror (-res));
    return res == -EBADFD ? -EPROTO : res;
  }
  r->fd = -1;                   /* the region's now */
  c->mapped_bytes += r->size;
  r->populated = (flags & ZCIPC_REGION_POPULATE) != 0;
  if (r->populated)
    c->populated_bytes += r->size;
  return 0;
}

static int
remove_region_locked (struct zcipc_client *c, uint32_t id, uint32_t * flags)
{
  struct client_region *r = find_region_locked (c, id);
  if (!r) {
    set_reason (c, "the producer removed unknown region %u", id);
    return -EPROTO;
  }
  *flags = r->flags;
  r->announced = false;
  region_unref_locked (c, r);
  return 0;
}

/* Lock held. Resolves `m`, which says where the frame's metas lie in a
 * region, and copies them out to c->metas. */
static int
copy_metas_locked (struct zcipc_client *c, uint64_t seq,
    const struct zcipc_wire_mem *m)
{
  struct client_region *r = find_region_locked (c, m->region_id);
  int res;

  /* The parser bounded the size (ZCIPC_WIRE_MAX_META_SIZE). */
  if (!r || m->offset > r->size || m->size > r->size - m->offset) {
    set_reason (c, "the metas of frame %llu point %s region %u",
        (unsigned long long) seq, r ? "outside" : "into unknown", m->region_id);
    return -EPROTO;
  }
  if (c->metas_size < m->size) {
    uint8_t *bigger = realloc (c->metas, m->size);
    if (!bigger) {
      set_reason (c, "no memory for %llu bytes of metas",
          (unsigned long long) m->size);
      return -ENOMEM;
    }
    c->metas = bigger;
    c->metas_size = m->size;
  }
  if ((res = map_region_locked (c, r)) < 0)
    return res;
  memcpy (c->metas, (const uint8_t *) r->region.data + m->offset, m->size);
  return 0;
}

static int
take_frame_locked (struct zcipc_client *c, const struct zcipc_message *msg,
    struct zcipc_client_event *ev)
{
  const struct zcipc_wire_frame *info = &msg->frame.info;
  struct held_frame *slot = NULL;
  uint32_t i, held = 0, n_mems = info->n_mems;
  int res;

  /* Frames still held from an earlier connection are not this producer
   * connection's business: it gave them back when that one closed. */
  for (i = 0; i < ZCIPC_WIRE_MAX_QUOTA; i++) {
    if (c->held[i].seq && c->held[i].connection == c->connection) {
      held++;
      if (c->held[i].seq == info->seq) {
        set_reason (c, "the producer sent frame %llu twice",
            (unsigned long long) info->seq);
        return -EPROTO;
      }
    } else if (!c->held[i].seq && !slot) {
      slot = &c->held[i];
    }
  }
  if (held >= c->quota || !slot || info->seq == 0) {
    set_reason (c, "the producer sent more frames than the %u granted",
        c->quota);
    return -EPROTO;
  }
  ev->frame.meta = msg->frame.meta;
  ev->frame.meta_size = info->meta_size;
  if (info->frame_flags & ZCIPC_FRAME_FLAG_METAS_IN_REGION) {
    n_mems--;                   /* the parser saw to it that there is one */
    if ((res = copy_metas_locked (c, info->seq, &msg->frame.mems[n_mems])) < 0)
      return res;
    ev->frame.meta = c->metas;
    ev->frame.meta_size = (uint32_t) msg->frame.mems[n_mems].size;
  }
  if (n_mems > ZCIPC_WIRE_MAX_MEMS) {
    set_reason (c, "frame %llu has more than %u memories",
        (unsigned long long) info->seq, ZCIPC_WIRE_MAX_MEMS);
    return -EPROTO;
  }
  for (i = 0; i < n_mems; i++) {
    const struct zcipc_wire_mem *m = &msg->frame.mems[i];
    struct client_region *r = find_region_locked (c, m->region_id);
    if (!r) {
      set_reason (c, "frame %llu points into unknown region %u",
          (unsigned long long) info->seq, m->region_id);
      return -EPROTO;
    }
    if (m->offset > r->size || m->size > r->size - m->offset) {
      set_reason (c, "frame %llu points outside region %u",
          (unsigned long long) info->seq, m->region_id);
      return -EPROTO;
    }
    if ((res = map_region_locked (c, r)) < 0)
      return res;
    ev->frame.mems[i] = (struct zcipc_client_mem) {
      .data = (const uint8_t *) r->region.data + m->offset,
      .size = m->size,
      .region_id = r->id,
      .region_flags = r->flags,
      .region_fd = r->region.fd,
      .offset = m->offset,
      .region_data = r->region.data,
      .region_size = r->region.size,
    };
    slot->regions[i] = r;
  }
  ev->type = ZCIPC_CLIENT_FRAME;
  ev->frame.info = *info;
  ev->frame.n_mems = n_mems;
  if (n_mems == 0) {
    /* Nothing of it stays in shared memory (its metas were copied out):
     * give it back at once, so it holds no slot here or at the producer. */
    if (!channel_release_locked (c, info->seq)) {
      /* Releases the socket could not take yet stay queued: a producer
       * that keeps sending regardless would overflow the queue. */
      if (c->n_pending >= ZCIPC_WIRE_MAX_QUOTA) {
        set_reason (c, "the producer sent more frames than the %u granted",
            c->quota);
        return -EPROTO;
      }
      c->pending[c->n_pending++] = info->seq;
    }
    flush_releases_locked (c);
    return 0;
  }
  for (i = 0; i < n_mems; i++)
    slot->regions[i]->refs++;
  slot->n_regions = n_mems;
  slot->seq = info->seq;
  slot->connection = c->connection;
  zcipc_client_ref (c);         /* dropped by zcipc_client_release */
  return 0;
}

/* Keeps a running average of the time between frames. */
static void
note_frame_arrival (struct zcipc_client *c)
{
  int64_t now = zcipc_now_ns ();

  if (c->last_frame_ns) {
    int64_t gap = now - c->last_frame_ns;
    c->frame_gap_ns = c->frame_gap_ns ? c->frame_gap_ns +
        (gap - c->frame_gap_ns) / 4 : gap;
  }
  c->last_frame_ns = now;
}

static inline void
spin_pause (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

/* Tries to receive until `spin_us` passed (or the deadline, or an
 * interrupt): a frame that comes meanwhile costs no sleep and no wake-up. */
static int
spin_receive (struct zcipc_client *c, int fd, unsigned int spin_us,
    int64_t deadline_ms, int timeout_ms, size_t *len, int *fds,
    unsigned int *n_fds)
{
  int64_t end = zcipc_now_ns () + (int64_t) spin_us * 1000;

  if (timeout_ms >= 0 && end > deadline_ms * 1000000)
    end = deadline_ms * 1000000;
  do {
    int res;
    if (atomic_load_explicit (&c->interrupted, memory_order_relaxed))
      return -EAGAIN;           /* wait_message() reports it */
    res = read_message (c, fd, len, fds, n_fds);
    if (res != -EAGAIN)
      return res;
    /* On the channel this is a loop over one load: tell the CPU (and a
     * hyper-thread sibling) that we are spinning. */
    if (zcipc_channel_is_open (&c->channel))
      spin_pause ();
  } while (zcipc_now_ns () < end);
  return -EAGAIN;
}

int
zcipc_client_next (struct zcipc_client *c, struct zcipc_client_event *ev,
    int timeout_ms)
{
  int64_t deadline = zcipc_now_ms () + (timeout_ms < 0 ? 0 : timeout_ms);
  unsigned int spin_us = atomic_load (&c->spin_us);
  /* Spin only for a stream whose frames come within the spin time: for a
   * slower one it would only burn the CPU before sleeping anyway. */
  if (spin_us > 0 && (c->frame_gap_ns == 0 ||
          c->frame_gap_ns > (int64_t) spin_us * 1000))
    spin_us = 0;
  /* Paced streams find the socket empty after every frame: then sleep at
   * once instead of first trying a read that fails (a system call saved
   * per frame). */
  bool try_first = spin_us > 0 || !c->waited_last;
  bool waited = false;

  for (;;) {
    struct zcipc_message msg;
    int fds[ZCIPC_SOCKET_MAX_FDS];
    unsigned int n_fds = 0;
    size_t len = 0;
    int fd, res;

    pthread_mutex_lock (&c->lock);
    fd = c->fd;
    pthread_mutex_unlock (&c->lock);
    if (fd < 0) {
      set_reason (c, "not connected");
      return -ENOTCONN;
    }
    res = try_first ? read_message (c, fd, &len, fds, &n_fds) : -EAGAIN;
    try_first = true;
    if (res == -EAGAIN) {
      pthread_mutex_lock (&c->lock);
      flush_releases_locked (c);
      send_quota_locked (c);
      pthread_mutex_unlock (&c->lock);
      if (spin_us > 0)
        res = spin_receive (c, fd, spin_us, deadline, timeout_ms, &len, fds,
            &n_fds);
    }
    if (res == -EAGAIN) {
      waited = true;
      atomic_fetch_add_explicit (&c->sleeps, 1, memory_order_relaxed);
      res = wait_message (c, fd, deadline, timeout_ms);
      if (res < 0)
        return res;
      continue;
    }
    if (res == -EBADMSG) {
      set_reason (c, "the producer wrote an impossible record into the "
          "shared channel");
      return -EPROTO;
    }
    if (res == -EPIPE || res == -ECONNRESET) {
      set_reason (c, "the producer went away");
      return -EPIPE;
    }
    if (res == -EMFILE || res == -ENFILE) {
      set_reason (c, "this process ran out of file descriptors (%s) "
          "receiving a region from the producer: raise its limit "
          "(ulimit -n) or have it hold fewer", strerror (-res));
      return res;
    }
    if (res < 0) {
      set_reason (c, "the producer sent a malformed message: %s",
          strerror (-res));
      return -EPROTO;
    }
    res = zcipc_wire_parse (c->buffer, len, fds, n_fds, &msg);
    if (res == -ENOMSG)
      continue;                 /* a newer producer's message: skip */
    if (res < 0 || (msg.type != ZCIPC_WIRE_REGION_ADD &&
            msg.type != ZCIPC_WIRE_CHANNEL && n_fds)) {
      close_fds (fds, n_fds);
      set_reason (c, "the producer sent a malformed %s message",
          zcipc_wire_type_name (msg.type));
      return -EPROTO;
    }
    pthread_mutex_lock (&c->lock);
    switch (msg.type) {
      case ZCIPC_WIRE_REGION_ADD:
        res = add_region_locked (c, &msg);
        if (res < 0)
          close (msg.region_add.fd);
        break;
      case ZCIPC_WIRE_REGION_REMOVE:{
        uint32_t flags = 0;
        res = remove_region_locked (c, msg.region_remove.region_id, &flags);
        if (res == 0 && c->report_removals) {
          ev->type = ZCIPC_CLIENT_REGION_REMOVED;
          ev->region.id = msg.region_remove.region_id;
          ev->region.flags = flags;
          pthread_mutex_unlock (&c->lock);
          return 0;
        }
        break;
      }
      case ZCIPC_WIRE_CHANNEL:
        if (zcipc_channel_is_open (&c->channel) || !c->use_channel) {
          set_reason (c, "the producer sent a shared channel this consumer "
              "did not ask for");
          res = -EPROTO;
        } else if (zcipc_channel_import (&c->channel, msg.channel.fd) < 0) {
          set_reason (c, "the producer offered a shared channel that is too "
              "small, unsealed or not a zcipc channel; refusing to map it");
          res = -EPROTO;
        }
        if (res < 0)
          close (msg.channel.fd);
        break;
      case ZCIPC_WIRE_FRAME:
        res = take_frame_locked (c, &msg, ev);
        if (res == 0) {
          pthread_mutex_unlock (&c->lock);
          c->waited_last = waited;
          note_frame_arrival (c);
          return 0;
        }
        break;
      case ZCIPC_WIRE_EVENT:
        ev->type = ZCIPC_CLIENT_EVENT;
        ev->event.kind = msg.event.info.kind;
        ev->event.payload = msg.event.payload;
        ev->event.size = msg.event.info.payload_size;
        pthread_mutex_unlock (&c->lock);
        return 0;
      case ZCIPC_WIRE_GRANT:
        /* Quotas only grow, up to what we asked for. */
        if (msg.grant.quota > c->max_held || msg.grant.quota < c->quota) {
          set_reason (c, "the producer granted %u held frames (it had "
              "granted %u, and %u were asked for)", msg.grant.quota,
              c->quota, c->max_held);
          res = -EPROTO;
        } else {
          c->quota = msg.grant.quota;
        }
        break;
      case ZCIPC_WIRE_REJECT:
        /* The producer cut us off (wait timeout, or it judged us broken).
         * Whatever error it names, that is -ECONNABORTED here. */
        sanitize_reason (msg.reject.reason);
        set_reason (c, "the producer disconnected this consumer: %s",
            msg.reject.reason);
        res = -ECONNABORTED;
        break;
      default:
        set_reason (c, "the producer sent %s, which producers may not send",
            zcipc_wire_type_name (msg.type));
        res = -EPROTO;
        break;
    }
    pthread_mutex_unlock (&c->lock);
    if (res < 0)
      return res;
  }
}

/* Lock held. Puts a release in the channel while the producer reads them
 * there; false: it goes by socket. */
static bool
channel_release_locked (struct zcipc_client *c, uint64_t seq)
{
  struct zcipc_wire_wake m;
  struct iovec iov = { &m, zcipc_wire_init_wake (&m) };
  int res;

  if (!zcipc_channel_is_open (&c->channel) ||
      zcipc_channel_releases_by_socket (&c->channel))
    return false;
  res = zcipc_channel_push_release (&c->channel, seq);
  if (res < 0)
    return false;
  /* The producer switched to socket releases meanwhile and may sleep in
   * poll(): have it read the ring. A full socket does as well: it reads
   * the ring with whatever it reads from us. */
  if (res == 1)
    zcipc_socket_send (c->fd, &iov, 1, NULL, 0, 1);
  return true;
}

/* Sends the queued releases as one message. A full socket (the producer
 * is busy) keeps them queued for the next try; a closed one drops them: the
 * producer gets every hold back when a connection goes. */
static void
flush_releases_locked (struct zcipc_client *c)
{
  struct zcipc_wire_release m;
  struct iovec iov[2];
  int res;

  if (c->n_pending == 0)
    return;
  if (c->fd < 0) {
    c->n_pending = 0;
    return;
  }
  iov[0] = (struct iovec) { &m, zcipc_wire_init_release (&m, c->n_pending) };
  iov[1] = (struct iovec) { c->pending, c->n_pending * sizeof (uint64_t) };
  res = zcipc_socket_send (c->fd, iov, 2, NULL, 0, 1);
  if (res != -EAGAIN)
    c->n_pending = 0;
}

/* Lock held. Sends a QUOTA that is due; a full socket keeps it due. */
static void
send_quota_locked (struct zcipc_client *c)
{
  struct zcipc_wire_quota m;
  struct iovec iov = { &m, zcipc_wire_init_quota (&m, c->max_held) };

  if (!c->quota_unsent || c->fd < 0 || c->leaving)
    return;
  if (zcipc_socket_send (c->fd, &iov, 1, NULL, 0, 1) != -EAGAIN)
    c->quota_unsent = false;
}

int
zcipc_client_send_report (struct zcipc_client *c, uint64_t frames_copied,
    int64_t lag_ns)
{
  struct zcipc_wire_report m;
  struct iovec iov = { &m, zcipc_wire_init_report (&m, frames_copied,
        lag_ns < -1 ? -1 : lag_ns)
  };
  int res;

  pthread_mutex_lock (&c->lock);
  /* Best effort: a full socket skips this one, the next comes soon. */
  res = c->fd >= 0 && !c->leaving ?
      zcipc_socket_send (c->fd, &iov, 1, NULL, 0, 1) : -ENOTCONN;
  pthread_mutex_unlock (&c->lock);
  return res;
}

int
zcipc_client_request_quota (struct zcipc_client *c, uint32_t max_held)
{
  if (max_held == 0 || max_held > ZCIPC_WIRE_MAX_QUOTA)
    return -EINVAL;
  pthread_mutex_lock (&c->lock);
  if (max_held > c->max_held) {
    c->max_held = max_held;
    c->quota_unsent = true;
    send_quota_locked (c);
  }
  pthread_mutex_unlock (&c->lock);
  return 0;
}

unsigned int
zcipc_client_held (struct zcipc_client *c)
{
  unsigned int n;
  pthread_mutex_lock (&c->lock);
  n = held_now_locked (c);
  pthread_mutex_unlock (&c->lock);
  return n;
}

int
zcipc_client_release (struct zcipc_client *c, uint64_t seq)
{
  uint32_t i;

  pthread_mutex_lock (&c->lock);
  for (i = 0; i < ZCIPC_WIRE_MAX_QUOTA && c->held[i].seq != seq; i++);
  if (seq == 0 || i == ZCIPC_WIRE_MAX_QUOTA) {
    pthread_mutex_unlock (&c->lock);
    return -ENOENT;
  }
  /* At most quota frames are held, so the queue cannot overflow. A frame
   * from an earlier connection goes back to nobody: that producer
   * connection released it when it closed, and this one never sent it. */
  if (c->fd >= 0 && c->held[i].connection == c->connection &&
      !channel_release_locked (c, seq))
    c->pending[c->n_pending++] = seq;
  flush_releases_locked (c);
  for (uint32_t j = 0; j < c->held[i].n_regions; j++)
    region_unref_locked (c, c->held[i].regions[j]);
  c->held[i].seq = 0;
  c->held[i].n_regions = 0;
  if (c->leaving && held_now_locked (c) == 0) {
    c->leaving = false;
    close_socket_locked (c);
  }
  pthread_mutex_unlock (&c->lock);
  zcipc_client_unref (c);
  return 0;
}

void
zcipc_client_report_region_removals (struct zcipc_client *c, bool report)
{
  pthread_mutex_lock (&c->lock);
  c->report_removals = report;
  pthread_mutex_unlock (&c->lock);
}

void
zcipc_client_set_interrupted (struct zcipc_client *c, bool interrupted)
{
  atomic_store (&c->interrupted, interrupted);
  if (interrupted) {
    uint64_t one = 1;
    ssize_t r = write (c->interrupt_fd, &one, sizeof one);
    (void) r;
    pthread_mutex_lock (&c->lock);
    if (zcipc_channel_is_open (&c->channel))
      zcipc_channel_interrupt (&c->channel);
    pthread_mutex_unlock (&c->lock);
  } else {
    uint64_t v;
    ssize_t r = read (c->interrupt_fd, &v, sizeof v);
    (void) r;
  }
}

static unsigned int
held_now_locked (struct zcipc_client *c)
{
  unsigned int n = 0;
  for (uint32_t i = 0; i < ZCIPC_WIRE_MAX_QUOTA; i++)
    if (c->held[i].seq && c->held[i].connection == c->connection)
      n++;
  return n;
}

/* Lock held. Reads what is queued on the socket without blocking and
 * releases every frame in it (they were never handed out). */
static void
release_unread_locked (struct zcipc_client *c)
{
  for (int budget = 4 * ZCIPC_WIRE_MAX_QUOTA; budget > 0; budget--) {
    struct zcipc_message msg;
    int fds[ZCIPC_SOCKET_MAX_FDS];
    unsigned int n_fds = 0;
    size_t len = 0;

    if (read_message (c, c->fd, &len, fds, &n_fds) < 0)
      break;
    if (zcipc_wire_parse (c->buffer, len, fds, n_fds, &msg) == 0 &&
        msg.type == ZCIPC_WIRE_FRAME && c->n_pending < ZCIPC_WIRE_MAX_QUOTA)
      c->pending[c->n_pending++] = msg.frame.info.seq;
    close_fds (fds, n_fds);
  }
  flush_releases_locked (c);
}

void
zcipc_client_disconnect (struct zcipc_client *c)
{
  struct zcipc_wire_leave m;
  struct iovec iov = { &m, zcipc_wire_init_leave (&m) };

  pthread_mutex_lock (&c->lock);
  /* Frames the producer sent that nobody read yet are ours to give back
   * now, or LEAVE would keep their slots until our last release. */
  if (c->fd >= 0 && held_now_locked (c) > 0)
    release_unread_locked (c);
  /* Hanging up would make the producer take back (and overwrite) the
   * frames we still hold; LEAVE stops the stream but keeps them, and the
   * socket closes with the last release. */
  if (c->fd >= 0 && held_now_locked (c) > 0 &&
      zcipc_socket_send (c->fd, &iov, 1, NULL, 0, 1) == 0) {
    c->leaving = true;
    forget_regions_locked (c);
  } else {
    close_socket_locked (c);
  }
  pthread_mutex_unlock (&c->lock);
}

uint32_t
zcipc_client_quota (struct zcipc_client *c)
{
  uint32_t quota;
  pthread_mutex_lock (&c->lock);
  quota = c->quota;
  pthread_mutex_unlock (&c->lock);
  return quota;
}

uint32_t
zcipc_client_consumer_id (struct zcipc_client *c)
{
  return c->consumer_id;
}

const char *
zcipc_client_reason (struct zcipc_client *c)
{
  return c->reason;
}

unsigned int
zcipc_client_n_regions (struct zcipc_client *c)
{
  unsigned int n;
  pthread_mutex_lock (&c->lock);
  n = c->n_regions;
  pthread_mutex_unlock (&c->lock);
  return n;
}

void
zcipc_client_set_spin (struct zcipc_client *c, unsigned int spin_us)
{
  atomic_store (&c->spin_us, spin_us);
}

uint64_t
zcipc_client_sleeps (struct zcipc_client *c)
{
  return atomic_load_explicit (&c->sleeps, memory_order_relaxed);
}

void
zcipc_client_set_wait_any_path (struct zcipc_client *c, bool wait)
{
  c->wait_any_path = wait;
}

void
zcipc_client_set_channel (struct zcipc_client *c, bool use_channel)
{
  c->use_channel = use_channel;
}

bool
zcipc_client_has_channel (struct zcipc_client *c)
{
  bool open;
  pthread_mutex_lock (&c->lock);
  open = zcipc_channel_is_open (&c->channel);
  pthread_mutex_unlock (&c->lock);
  return open;
}

void
zcipc_client_set_map_limits (struct zcipc_client *c, uint64_t map_bytes,
    uint64_t populate_bytes)
{
  pthread_mutex_lock (&c->lock);
  c->map_limit = map_bytes ? map_bytes : ZCIPC_CLIENT_DEFAULT_MAP_LIMIT;
  c->populate_limit = populate_bytes ? populate_bytes :
      ZCIPC_CLIENT_DEFAULT_POPULATE_LIMIT;
  pthread_mutex_unlock (&c->lock);
}

uint64_t
zcipc_client_mapped_bytes (struct zcipc_client *c)
{
  uint64_t n;
  pthread_mutex_lock (&c->lock);
  n = c->mapped_bytes;
  pthread_mutex_unlock (&c->lock);
  return n;
}

void
zcipc_client_set_retry_delay (struct zcipc_client *c, unsigned int delay_ms)
{
  c->retry_delay_ms = delay_ms;
}
