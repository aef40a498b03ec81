/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The consumer's connection: connecting (retrying while nobody listens,
 * explaining what waiting cannot fix), the handshake (HELLO, then WELCOME
 * or REJECT), and hanging up (LEAVE while frames are held). Connect and
 * the handshake run on the thread that calls next(); they take the
 * client's lock only to publish the new connection. */

#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "client-private.h"
#include "zcipc/clock.h"
#include "zcipc/fds.h"
#include "zcipc/socket.h"

/* Connect retries while nobody listens: quick at first, so that a producer
 * starting at the same time is found at once, then slower, so that a
 * consumer waiting for hours costs nothing. */
#define CONNECT_RETRY_FIRST_MS 10
#define CONNECT_RETRY_MAX_MS 100

/* The handshake has its own bound, counted from the connect. */
#define HANDSHAKE_TIMEOUT_MS 5000

void
client_close_socket_locked (struct zcipc_client *c)
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
  client_forget_regions_locked (c);
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
void
client_sanitize_reason (char *reason)
{
  for (; *reason; reason++)
    if (*reason < 0x20 || *reason > 0x7e)
      *reason = '?';
}

/* Handshake, step 1: HELLO, asking for `asked` held frames. */
static int
send_hello (struct zcipc_client *c, int fd, uint32_t asked)
{
  struct zcipc_wire_hello hello;
  struct iovec iov = { &hello, sizeof hello };
  int res;

  zcipc_wire_init_hello (&hello, asked);
  if (c->use_channel)
    hello.flags |= ZCIPC_HELLO_FLAG_CHANNEL;
  /* A producer that refuses us at accept time may have closed already:
   * its REJECT is still queued for us, so read on after EPIPE. */
  if ((res = zcipc_socket_send (fd, &iov, 1, NULL, 0, 0)) < 0 &&
      res != -EPIPE && res != -ECONNRESET) {
    client_set_reason (c, "could not greet the producer: %s", strerror (-res));
    return res;
  }
  return 0;
}

/* Handshake, step 2: the reply to HELLO, which comes first, parsed into
 * `msg` (its fds closed: a reply has none). */
static int
receive_reply (struct zcipc_client *c, int fd, int64_t deadline,
    int timeout_ms, struct zcipc_message *msg)
{
  int fds[ZCIPC_SOCKET_MAX_FDS];
  unsigned int n_fds = 0;
  size_t len = 0;
  int res;

  do {
    /* A timeout here means a producer that is wedged or is not a zcipc
     * producer at all: not "nobody listens", something accepted and
     * stayed silent. */
    res = client_wait_readable (c, fd, client_remaining (deadline,
            timeout_ms < 0 ? 10000 : timeout_ms));
    if (res == -EAGAIN) {
      client_set_reason (c, "the producer on '%s' did not answer the "
          "handshake (wedged, or not a zcipc producer)", c->path);
      return -EPROTO;
    }
    if (res < 0)
      return res;
    res = client_receive (c, fd, &len, fds, &n_fds);
  } while (res == -EAGAIN);
  if (res == -EPIPE) {
    client_set_reason (c, "the producer hung up during the handshake");
    return -ECONNRESET;
  }
  if (res < 0) {
    client_set_reason (c, "malformed handshake reply from the producer");
    return res;
  }
  res = zcipc_wire_parse (c->buffer, len, fds, n_fds, msg);
  zcipc_close_fds (fds, n_fds);
  if (res < 0) {
    client_set_reason (c, "the producer sent a malformed %s as handshake "
        "reply", zcipc_wire_type_name (msg->type));
    return -EPROTO;
  }
  return 0;
}

/* Handshake, step 3: a WELCOME we can take, or why not. */
static int
check_reply (struct zcipc_client *c, struct zcipc_message *msg, uint32_t asked)
{
  if (msg->type == ZCIPC_WIRE_REJECT) {
    client_sanitize_reason (msg->reject.reason);
    if (msg->reject.version != ZCIPC_PROTOCOL_VERSION)
      client_set_reason (c, "the producer speaks protocol version %u, this "
          "consumer speaks version %u: %s", msg->reject.version,
          ZCIPC_PROTOCOL_VERSION, msg->reject.reason);
    else
      client_set_reason (c, "the producer refused this consumer: %s",
          msg->reject.reason);
    return reject_error (msg->reject.error);
  }
  if (msg->type != ZCIPC_WIRE_WELCOME) {
    client_set_reason (c, "the producer answered the handshake with %s",
        zcipc_wire_type_name (msg->type));
    return -EPROTO;
  }
  if (msg->welcome.version != ZCIPC_PROTOCOL_VERSION) {
    client_set_reason (c, "the producer speaks protocol version %u, this "
        "consumer speaks version %u", msg->welcome.version,
        ZCIPC_PROTOCOL_VERSION);
    return -EPROTONOSUPPORT;
  }
  if (msg->welcome.quota > asked) {
    client_set_reason (c, "the producer granted %u held frames, more than "
        "the %u asked for", msg->welcome.quota, asked);
    return -EPROTO;
  }
  return 0;
}

/* Greets the producer on `fd` and takes its WELCOME: then `fd` is the
 * client's connection. On failure `fd` stays the caller's. */
static int
handshake (struct zcipc_client *c, int fd, int64_t deadline, int timeout_ms)
{
  struct zcipc_message msg;
  uint32_t asked;
  int res;

  pthread_mutex_lock (&c->lock);
  asked = c->max_held;
  pthread_mutex_unlock (&c->lock);
  if ((res = send_hello (c, fd, asked)) < 0 ||
      (res = receive_reply (c, fd, deadline, timeout_ms, &msg)) < 0 ||
      (res = check_reply (c, &msg, asked)) < 0)
    return res;
  pthread_mutex_lock (&c->lock);
  c->quota = msg.welcome.quota;
  c->consumer_id = msg.welcome.consumer_id;
  c->connection++;
  c->fd = fd;
  /* Asked for more while the handshake went on. */
  c->quota_unsent = c->max_held > asked;
  client_send_quota_locked (c);
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
    client_set_reason (c, "permission denied connecting to '%s': this "
        "process (uid %u %s) may not enter a directory on the way to it",
        c->path, (unsigned) geteuid (), me);
    return;
  }
  user_name (st.st_uid, owner, sizeof owner);
  group_name (st.st_gid, group, sizeof group);
  client_set_reason (c, "permission denied on socket '%s' (mode %04o, owner "
      "%s, group %s) for this process (uid %u %s, gid %u %s): let it in on "
      "the producer's side with zcipcsink's socket-mode (e.g. 0666; "
      "allowed-uids/allowed-gids then choose who), or add user %s to "
      "group %s", c->path, (unsigned) (st.st_mode & 07777), owner, group,
      (unsigned) geteuid (), me, (unsigned) getegid (), my_group, me, group);
}

static void
explain_not_waitable (struct zcipc_client *c, int res)
{
  switch (res) {
    case -EISDIR:
      client_set_reason (c, "'%s' is a directory, not a socket: socket-path "
          "must name the socket file itself", c->path);
      break;
    case -ENOTSOCK:
      client_set_reason (c, "'%s' is a file, not a socket: socket-path must "
          "name the socket a producer creates", c->path);
      break;
    default:{
      const char *slash = strrchr (c->path, '/');
      int dir_len = slash ? (int) (slash - c->path) : 0;
      client_set_reason (c, "directory '%.*s' does not exist: create it (a "
          "producer does not) or fix the path", dir_len, c->path);
      break;
    }
  }
}

/* At most `wait_ms`, less where the deadline comes first. */
static int
bounded_wait_ms (int wait_ms, int64_t deadline, int timeout_ms)
{
  if (timeout_ms >= 0 && client_remaining (deadline, timeout_ms) < wait_ms)
    return client_remaining (deadline, timeout_ms);
  return wait_ms;
}

/* Backing off after a lost connection: a producer that accepts and cuts
 * us off at once must not have us reconnect in a tight loop. */
static int
wait_retry_delay (struct zcipc_client *c, int64_t deadline, int timeout_ms)
{
  int wait_ms;

  if (c->retry_delay_ms == 0)
    return 0;
  wait_ms = bounded_wait_ms ((int) c->retry_delay_ms, deadline, timeout_ms);
  /* Once: a caller that connects in slices waits only before the first. */
  c->retry_delay_ms = 0;
  if (client_wait_readable (c, -1, wait_ms) == -ECANCELED)
    return -ECANCELED;
  return 0;
}

/* One try: connects and shakes hands. 0: connected; 1: nobody there yet
 * (worth waiting for); a negative errno is final. */
static int
try_connect (struct zcipc_client *c)
{
  int fd = -1, res;

  res = zcipc_socket_connect (c->path, &fd);
  if (res == 0) {
    /* The handshake has its own bound, counted from now: a producer that
     * appeared after a long wait must not find the deadline gone. */
    res = handshake (c, fd, zcipc_now_ms () + HANDSHAKE_TIMEOUT_MS,
        HANDSHAKE_TIMEOUT_MS);
    if (res == 0)
      return 0;
    close (fd);
    /* A producer that dies (or is killed) while we connect leaves our
     * connection in its dying listen queue: it is reset unanswered.
     * That is "not there yet", like a refused connect; anything else
     * (a REJECT, a protocol error) is final. */
    return res == -ECONNRESET ? 1 : res;
  }
  if (res == -ENOENT || res == -ECONNREFUSED)
    return 1;
  if (res == -EACCES)
    explain_permission_denied (c);
  else
    client_set_reason (c, "could not connect to '%s': %s", c->path,
        strerror (-res));
  return res;
}

/* Nobody listened, and the deadline passed. */
static int
explain_timeout (struct zcipc_client *c, int blocked)
{
  if (blocked < 0)
    return -ETIMEDOUT;          /* explained already */
  if (c->path[0] == '@')
    client_set_reason (c, "no producer is listening on abstract socket "
        "'%s' in this network namespace", c->path);
  else
    client_set_reason (c, "no producer is listening on '%s'", c->path);
  return -ETIMEDOUT;
}

int
zcipc_client_connect (struct zcipc_client *c, int timeout_ms)
{
  int64_t deadline = zcipc_now_ms () + (timeout_ms < 0 ? 0 : timeout_ms);
  int retry_ms = CONNECT_RETRY_FIRST_MS;
  int res, blocked;

  pthread_mutex_lock (&c->lock);
  client_close_socket_locked (c);
  pthread_mutex_unlock (&c->lock);
  if ((res = wait_retry_delay (c, deadline, timeout_ms)) < 0)
    return res;
  for (;;) {
    if ((res = try_connect (c)) <= 0)
      return res;
    /* Waiting only helps where a producer can appear. */
    if ((blocked = zcipc_socket_check_waitable (c->path)) < 0) {
      explain_not_waitable (c, blocked);
      if (!c->wait_any_path)
        return blocked;
    }
    if (timeout_ms >= 0 && zcipc_now_ms () >= deadline)
      return explain_timeout (c, blocked);
    res = client_wait_readable (c, -1, bounded_wait_ms (retry_ms, deadline,
            timeout_ms));
    if (res == -ECANCELED)
      return res;
    retry_ms = retry_ms * 2 > CONNECT_RETRY_MAX_MS ? CONNECT_RETRY_MAX_MS :
        retry_ms * 2;
  }
}

void
zcipc_client_disconnect (struct zcipc_client *c)
{
  struct zcipc_wire_leave m;
  struct iovec iov = { &m, zcipc_wire_init_leave (&m) };

  pthread_mutex_lock (&c->lock);
  /* Frames the producer sent that nobody read yet are ours to give back
   * now, or LEAVE would keep their slots until our last release. */
  if (c->fd >= 0 && client_held_now_locked (c) > 0)
    client_release_unread_locked (c);
  /* Hanging up would make the producer take back (and overwrite) the
   * frames we still hold; LEAVE stops the stream but keeps them, and the
   * socket closes with the last release. */
  if (c->fd >= 0 && client_held_now_locked (c) > 0 &&
      zcipc_socket_send (c->fd, &iov, 1, NULL, 0, 1) == 0) {
    c->leaving = true;
    client_forget_regions_locked (c);
  } else {
    client_close_socket_locked (c);
  }
  pthread_mutex_unlock (&c->lock);
}
