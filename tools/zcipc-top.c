/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* zcipc-top: what each zcipc stream of this user is doing, from its
 * producer's own counters (the stats request, zcipc/stats.h).
 *
 *   zcipc-top [--once] [--json] [NAME|PATH ...]
 *
 * Without arguments it watches every stream in the user's directory of
 * streams (zcipc/streamdir.h); a NAME is a stream there, anything with a
 * '/' a socket path. It refreshes once a second until Ctrl-C; --once prints
 * one table (fps from two samples half a second apart) and exits; --json
 * prints the same as one JSON object. */

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "zcipc/clock.h"
#include "zcipc/stats.h"
#include "zcipc/streamdir.h"

#define WIDTH 80
#define NAME_WIDTH 24
#define REQUEST_TIMEOUT_MS 500
#define SAMPLE_GAP_MS 500

struct target
{
  char *name;                   /* the stream name, or NULL for a path */
  char *path;
  int fd;                       /* monitor connection, -1 when closed */
  bool seen;                    /* still listed (directory mode) */
  int error;                    /* of the last sample, 0 if it answered */
  bool have_prev;
  struct zcipc_stats_stream *cur, *prev;
};

struct targets
{
  struct target *items;
  size_t n;
};

static volatile sig_atomic_t interrupted;

static void
on_signal (int sig)
{
  (void) sig;
  interrupted = 1;
}

static void
usage (FILE * out)
{
  fprintf (out,
      "Usage: zcipc-top [--once] [--json] [NAME|PATH ...]\n"
      "Shows each zcipc stream (caps, fps, consumers) and its consumers\n"
      "(pid, uid, quota, frames held, received, dropped, copied, lag),\n"
      "refreshing once a second until Ctrl-C.\n"
      "\n"
      "  NAME    a stream in this user's stream directory\n"
      "  PATH    a producer's socket (any argument with a '/')\n"
      "          (none: every stream in this user's stream directory)\n"
      "  --once  print one table and exit\n"
      "  --json  print JSON instead of a table\n" "  --help  show this help\n");
}

static void
sleep_ms (int ms)
{
  struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
  while (!interrupted && nanosleep (&ts, &ts) < 0 && errno == EINTR);
}

static void *
xcalloc (size_t n, size_t size)
{
  void *p = calloc (n, size);
  if (!p) {
    fprintf (stderr, "zcipc-top: out of memory\n");
    exit (2);
  }
  return p;
}

static char *
xstrdup (const char *s)
{
  char *d = strdup (s);
  if (!d) {
    fprintf (stderr, "zcipc-top: out of memory\n");
    exit (2);
  }
  return d;
}

static struct target *
targets_find (struct targets *t, const char *path)
{
  for (size_t i = 0; i < t->n; i++)
    if (strcmp (t->items[i].path, path) == 0)
      return &t->items[i];
  return NULL;
}

static struct target *
targets_add (struct targets *t, const char *name, const char *path)
{
  struct target *grown = realloc (t->items, (t->n + 1) * sizeof *grown);
  struct target *it;

  if (!grown) {
    fprintf (stderr, "zcipc-top: out of memory\n");
    exit (2);
  }
  t->items = grown;
  it = &t->items[t->n++];
  memset (it, 0, sizeof *it);
  it->name = name ? xstrdup (name) : NULL;
  it->path = xstrdup (path);
  it->fd = -1;
  it->seen = true;
  it->cur = xcalloc (1, sizeof *it->cur);
  it->prev = xcalloc (1, sizeof *it->prev);
  return it;
}

static void
target_clear (struct target *it)
{
  if (it->fd >= 0)
    close (it->fd);
  free (it->name);
  free (it->path);
  free (it->cur);
  free (it->prev);
}

static void
targets_clear (struct targets *t)
{
  for (size_t i = 0; i < t->n; i++)
    target_clear (&t->items[i]);
  free (t->items);
  t->items = NULL;
  t->n = 0;
}

static int
compare_targets (const void *a, const void *b)
{
  const struct target *x = a, *y = b;
  return strcmp (x->name ? x->name : x->path, y->name ? y->name : y->path);
}

/* Directory mode: (re)lists the user's streams, keeping the connections of
 * those still there. Sockets only: anything else there is no stream. */
static void
list_stream_dir (struct targets *t)
{
  char dir[4096], path[4096 + 2 + 256];
  struct dirent *e;
  DIR *d;
  size_t kept = 0;

  for (size_t i = 0; i < t->n; i++)
    t->items[i].seen = false;
  if (zcipc_stream_dir (getenv ("XDG_RUNTIME_DIR"), getuid (), false, dir,
          sizeof dir) == 0 && (d = opendir (dir)) != NULL) {
    while ((e = readdir (d)) != NULL) {
      struct target *it;

      snprintf (path, sizeof path, "%s/%s", dir, e->d_name);
      if (zcipc_stream_socket_stat (path, NULL) < 0)
        continue;
      if ((it = targets_find (t, path)))
        it->seen = true;
      else
        targets_add (t, e->d_name, path);
    }
    closedir (d);
  }
  for (size_t i = 0; i < t->n; i++) {
    if (t->items[i].seen)
      t->items[kept++] = t->items[i];
    else
      target_clear (&t->items[i]);
  }
  t->n = kept;
  if (t->n > 1)
    qsort (t->items, t->n, sizeof *t->items, compare_targets);
}

static int
compare_consumers (const void *a, const void *b)
{
  const struct zcipc_stats_consumer *x = a, *y = b;
  return x->consumer_id < y->consumer_id ? -1 : x->consumer_id > y->consumer_id;
}

/* One stats sample, on the target's monitor connection (opened on first
 * use, and again after an error). */
static void
sample (struct target *it)
{
  struct zcipc_stats_stream *swap;
  int res;

  if (it->fd < 0 &&
      (res = zcipc_stats_open (it->path, REQUEST_TIMEOUT_MS, &it->fd)) < 0) {
    it->fd = -1;
    it->error = res;
    it->have_prev = false;
    return;
  }
  swap = it->prev;
  it->prev = it->cur;
  it->cur = swap;
  res = zcipc_stats_request (it->fd, REQUEST_TIMEOUT_MS, it->cur);
  if (res < 0) {
    /* A late reply would answer the next request: start over. */
    close (it->fd);
    it->fd = -1;
    it->error = res;
    it->have_prev = false;
    return;
  }
  /* In the order they joined. */
  qsort (it->cur->consumers, it->cur->n_consumers,
      sizeof it->cur->consumers[0], compare_consumers);
  /* The previous sample counts for fps only if it answered too. */
  it->have_prev = it->error == 0 && it->prev->version != 0;
  it->error = 0;
}

/* Frames per second between the last two samples; < 0 if unknown. */
static double
fps_of (const struct target *it)
{
  const struct zcipc_stats_stream *a = it->prev, *b = it->cur;
  int64_t dt;
  uint64_t da, db;

  if (it->error || !it->have_prev || b->pid != a->pid)
    return -1;
  da = a->frames_sent + a->frames_unsent;
  db = b->frames_sent + b->frames_unsent;
  if (db < da)
    return -1;
  /* Between the last frames of the two samples: exact for a steady
   * stream, where the replies' own times would add up to a frame of
   * jitter. A stream that stopped shows 0. */
  dt = b->last_frame_ns - a->last_frame_ns;
  if (db > da && dt > 0 && a->last_frame_ns > 0 &&
      b->monotonic_ns - b->last_frame_ns < 2 * dt)
    return (double) (db - da) * 1e9 / (double) dt;
  dt = b->monotonic_ns - a->monotonic_ns;
  if (dt <= 0)
    return -1;
  return (double) (db - da) * 1e9 / (double) dt;
}

static const char *
error_text (int error)
{
  switch (error) {
    case -ENOENT:
      return "no such socket";
    case -ECONNREFUSED:
      return "not answering: nobody listens (producer gone)";
    case -ETIMEDOUT:
      return "not answering: no reply (stopped, or an older producer)";
    case -EPIPE:
      return "not answering: hung up";
    case -EACCES:
      return "not allowed (socket mode or allowed-uids)";
    case -EUSERS:
      return "refused: too many monitors";
    case -EPROTONOSUPPORT:
      return "refused: another stats version";
    case -EPROTO:
      return "not answering: malformed reply";
    case -EINVAL:
      return "not a valid stream name";
    default:
      return strerror (-error);
  }
}

/* --- text output --------------------------------------------------------- */

/* Copies `in` into `out` (`size` bytes) printable: control bytes (a
 * producer's caps could carry escape sequences) become '?'. */
static void
printable (const char *in, char *out, size_t size)
{
  size_t i;
  for (i = 0; in[i] && i + 1 < size; i++)
    out[i] = (unsigned char) in[i] < 0x20 || in[i] == 0x7f ? '?' : in[i];
  out[i] = '\0';
}

/* Caps for one line: without the "(type)" annotations, cut with "..." to
 * `width` columns. */
static void
short_caps (const char *caps, size_t width, char *out, size_t size)
{
  char clean[ZCIPC_STATS_CAPS_MAX + 1];
  size_t o = 0;

  for (size_t i = 0; caps[i] && o + 1 < sizeof clean; i++) {
    if (caps[i] == '=' && caps[i + 1] == '(') {
      const char *close = strchr (caps + i, ')');
      clean[o++] = '=';
      if (close) {
        i = (size_t) (close - caps);
        continue;
      }
      continue;
    }
    clean[o++] = caps[i];
  }
  clean[o] = '\0';
  printable (clean, clean, sizeof clean);
  if (width >= size)
    width = size - 1;
  if (strlen (clean) > width && width > 3) {
    memcpy (out, clean, width - 3);
    strcpy (out + width - 3, "...");
  } else {
    snprintf (out, size, "%.*s", (int) width, clean);
  }
}

/* A name or path for a `width`-column field: a long one keeps its end. */
static void
short_name (const char *name, size_t width, char *out, size_t size)
{
  char clean[4096];
  size_t len;

  printable (name, clean, sizeof clean);
  len = strlen (clean);
  if (len <= width)
    snprintf (out, size, "%s", clean);
  else
    snprintf (out, size, "...%s", clean + len - (width - 3));
}

static void
format_lag (int64_t lag_ns, char *out, size_t size)
{
  if (lag_ns < 0)
    snprintf (out, size, "-");
  else if (lag_ns < 1000000)
    snprintf (out, size, "%" PRId64 " us", lag_ns / 1000);
  else if (lag_ns < 10000000000LL)
    snprintf (out, size, "%.1f ms", (double) lag_ns / 1e6);
  else
    snprintf (out, size, "%.1f s", (double) lag_ns / 1e9);
}

static void
print_text (const struct targets *t, bool tty)
{
  char name[NAME_WIDTH + 1], caps[WIDTH + 1], fps[16], copied[24], lag[24];

  if (tty)
    fputs ("\033[H\033[2J", stdout);
  if (t->n == 0) {
    printf ("no zcipc streams\n");
    return;
  }
  printf ("%-*s %7s %6s %4s  %s\n", NAME_WIDTH, "STREAM", "PID", "FPS",
      "CONS", "CAPS");
  for (size_t i = 0; i < t->n; i++) {
    const struct target *it = &t->items[i];
    const struct zcipc_stats_stream *st = it->cur;
    double f;

    short_name (it->name ? it->name : it->path, NAME_WIDTH, name, sizeof name);
    if (it->error) {
      printf ("%-*s %.*s\n", NAME_WIDTH, name, WIDTH - NAME_WIDTH - 1,
          error_text (it->error));
      continue;
    }
    f = fps_of (it);
    if (f < 0)
      snprintf (fps, sizeof fps, "-");
    else
      snprintf (fps, sizeof fps, "%.1f", f);
    /* NAME_WIDTH + " %7s %6s %4s  " = 24 + 22 columns before the caps. */
    short_caps (st->caps[0] ? st->caps : "(no caps yet)",
        WIDTH - NAME_WIDTH - 22, caps, sizeof caps);
    printf ("%-*s %7d %6s %4u  %s\n", NAME_WIDTH, name, (int) st->pid, fps,
        st->n_consumers, caps);
    if (st->n_consumers == 0)
      continue;
    printf ("  %7s %6s %5s %4s %10s %9s %9s %10s\n", "PID", "UID", "QUOTA",
        "HELD", "RECEIVED", "DROPPED", "COPIED", "LAG");
    for (uint32_t j = 0; j < st->n_consumers; j++) {
      const struct zcipc_stats_consumer *c = &st->consumers[j];
      bool reported = c->flags & ZCIPC_STATS_CONSUMER_REPORTED;

      if (reported)
        snprintf (copied, sizeof copied, "%" PRIu64, c->frames_copied);
      else
        snprintf (copied, sizeof copied, "-");
      format_lag (reported ? c->lag_ns : -1, lag, sizeof lag);
      printf ("  %7d %6u %5u %4u %10" PRIu64 " %9" PRIu64 " %9s %10s\n",
          (int) c->pid, (unsigned) c->uid, (unsigned) c->quota,
          (unsigned) c->held, c->frames_sent, c->frames_dropped, copied, lag);
    }
  }
}

/* --- JSON output --------------------------------------------------------- */

static void
json_string (const char *s)
{
  putchar ('"');
  for (; *s; s++) {
    unsigned char ch = (unsigned char) *s;
    switch (ch) {
      case '"':
        fputs ("\\\"", stdout);
        break;
      case '\\':
        fputs ("\\\\", stdout);
        break;
      case '\n':
        fputs ("\\n", stdout);
        break;
      case '\r':
        fputs ("\\r", stdout);
        break;
      case '\t':
        fputs ("\\t", stdout);
        break;
      default:
        if (ch < 0x20 || ch == 0x7f)
          printf ("\\u%04x", ch);
        else
          putchar (ch);
    }
  }
  putchar ('"');
}

static void
print_json (const struct targets *t)
{
  fputs ("{\"streams\":[", stdout);
  for (size_t i = 0; i < t->n; i++) {
    const struct target *it = &t->items[i];
    const struct zcipc_stats_stream *st = it->cur;
    double f;

    if (i)
      putchar (',');
    fputs ("{\"name\":", stdout);
    if (it->name)
      json_string (it->name);
    else
      fputs ("null", stdout);
    fputs (",\"path\":", stdout);
    json_string (it->path);
    if (it->error) {
      fputs (",\"answering\":false,\"error\":", stdout);
      json_string (error_text (it->error));
      fputs (",\"caps\":null,\"pid\":null,\"fps\":null,"
          "\"frames_sent\":null,\"consumers\":[]}", stdout);
      continue;
    }
    fputs (",\"answering\":true,\"caps\":", stdout);
    json_string (st->caps);
    printf (",\"caps_truncated\":%s,\"pid\":%d,\"uid\":%u,\"fps\":",
        st->flags & ZCIPC_STATS_FLAG_CAPS_TRUNCATED ? "true" : "false",
        (int) st->pid, (unsigned) st->uid);
    f = fps_of (it);
    if (f < 0)
      fputs ("null", stdout);
    else
      printf ("%.2f", f);
    printf (",\"frames_sent\":%" PRIu64 ",\"frames_unsent\":%" PRIu64
        ",\"max_consumers\":%u,\"monitors\":%u,\"consumers\":[",
        st->frames_sent, st->frames_unsent, (unsigned) st->max_consumers,
        (unsigned) st->n_monitors);
    for (uint32_t j = 0; j < st->n_consumers; j++) {
      const struct zcipc_stats_consumer *c = &st->consumers[j];

      printf ("%s{\"id\":%u,\"pid\":%d,\"uid\":%u,\"quota\":%u,\"held\":%u,"
          "\"received\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"copied\":",
          j ? "," : "", (unsigned) c->consumer_id, (int) c->pid,
          (unsigned) c->uid, (unsigned) c->quota, (unsigned) c->held,
          c->frames_sent, c->frames_dropped);
      if (c->flags & ZCIPC_STATS_CONSUMER_REPORTED)
        printf ("%" PRIu64 ",\"lag_ns\":%" PRId64 "}", c->frames_copied,
            c->lag_ns);
      else
        fputs ("null,\"lag_ns\":null}", stdout);
    }
    fputs ("]}", stdout);
  }
  fputs ("]}\n", stdout);
}

/* --- main ---------------------------------------------------------------- */

static void
sample_all (struct targets *t)
{
  for (size_t i = 0; i < t->n && !interrupted; i++)
    sample (&t->items[i]);
}

/* Adds the stream named `name` in the stream directory; 0, or the exit
 * status after saying why it cannot be. */
static int
add_stream_name (struct targets *t, const char *name)
{
  char path[4096 + 2 + ZCIPC_STREAM_NAME_MAX];
  int res = zcipc_stream_path (getenv ("XDG_RUNTIME_DIR"), getuid (), name,
      false, path, sizeof path);

  if (res == -EINVAL) {
    fprintf (stderr, "zcipc-top: '%s' is not a valid stream name (1 to "
        "%d of A-Z a-z 0-9 . _ -, not starting with '.'); give a socket "
        "path with a '/' instead\n", name, ZCIPC_STREAM_NAME_MAX);
    return 2;
  }
  if (res < 0 && res != -ENOENT) {
    fprintf (stderr, "zcipc-top: the stream directory '%s' is not "
        "usable: %s\n", path, strerror (-res));
    return 2;
  }
  if (res == -ENOENT)           /* no directory yet: no such stream */
    snprintf (path + strlen (path), sizeof path - strlen (path), "/%s", name);
  if (!targets_find (t, path))
    targets_add (t, name, path);
  return 0;
}

/* Reads the options and the streams asked for into *t; -1 to go on, or
 * the status to exit with (0 after --help). */
static int
parse_args (int argc, char **argv, struct targets *t, bool *once, bool *json)
{
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int status;

    if (strcmp (a, "--once") == 0) {
      *once = true;
    } else if (strcmp (a, "--json") == 0) {
      *json = true;
    } else if (strcmp (a, "--help") == 0 || strcmp (a, "-h") == 0) {
      usage (stdout);
      return 0;
    } else if (a[0] == '-' && a[1] != '\0') {
      fprintf (stderr, "zcipc-top: unknown option '%s'\n", a);
      usage (stderr);
      return 2;
    } else if (strchr (a, '/')) {
      if (!targets_find (t, a))
        targets_add (t, NULL, a);
    } else if ((status = add_stream_name (t, a)) != 0) {
      return status;
    }
  }
  return -1;
}

static void
install_signal_handlers (void)
{
  struct sigaction sa;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction (SIGINT, &sa, NULL);
  sigaction (SIGTERM, &sa, NULL);
  signal (SIGPIPE, SIG_IGN);
}

/* Samples and prints once a second (once with `once`) until interrupted;
 * `by_dir`: the targets are whatever the stream directory holds. */
static void
watch (struct targets *t, bool once, bool json, bool by_dir)
{
  bool tty = isatty (STDOUT_FILENO);

  if (by_dir)
    list_stream_dir (t);
  /* Two samples for the first screen's fps. */
  sample_all (t);
  sleep_ms (SAMPLE_GAP_MS);
  for (;;) {
    int64_t next;

    sample_all (t);
    if (interrupted)
      break;
    if (json)
      print_json (t);
    else
      print_text (t, tty && !once);
    fflush (stdout);
    if (once)
      break;
    next = zcipc_now_ms () + 1000;
    while (!interrupted && zcipc_now_ms () < next)
      sleep_ms ((int) (next - zcipc_now_ms ()));
    if (interrupted)
      break;
    if (by_dir)
      list_stream_dir (t);
  }
}

int
main (int argc, char **argv)
{
  struct targets t = { 0 };
  bool once = false, json = false, by_dir;
  int status, answered = 0;

  if ((status = parse_args (argc, argv, &t, &once, &json)) >= 0) {
    targets_clear (&t);
    return status;
  }
  by_dir = t.n == 0;
  install_signal_handlers ();
  watch (&t, once, json, by_dir);
  for (size_t i = 0; i < t.n; i++)
    if (!t.items[i].error)
      answered++;
  targets_clear (&t);
  /* Nothing to read is an error only where streams were asked for. */
  return !by_dir && answered == 0 ? 1 : 0;
}
