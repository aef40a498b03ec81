/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/**
 * SECTION:gstzcipcdeviceprovider
 * @title: GstZcipcDeviceProvider
 * @see_also: #GstZcipcDevice, zcipcsrc, zcipcsink
 *
 * Lists the live zcipc streams of the user's stream directory
 * (`$XDG_RUNTIME_DIR/zcipc`, else `/run/zcipc` for root and `/tmp/zcipc-UID`)
 * as devices of class `Video/Source` (`Audio/Source` for audio streams), so
 * that `gst-device-monitor-1.0 Video/Source` and #GstDeviceMonitor find them.
 *
 * A socket in that directory is a device once its producer answered a stats
 * request (a stale socket left by a producer that died is not one). The
 * provider keeps that monitor connection open: it never counts as a
 * consumer, and the producer's exit, SIGKILL included, shows as a hang-up on
 * it, so the device goes at once. New and deleted sockets come from an
 * inotify watch (#GFileMonitor) on the directory, or on its parent while the
 * directory does not exist yet. Nothing polls.
 *
 * Started (gst_device_provider_start(), as #GstDeviceMonitor does), all of
 * this runs in a thread of its own with its own #GMainContext, so callers
 * need no main loop; start() returns once the streams already there have
 * answered or failed to. Unstarted, gst_device_provider_get_devices() probes
 * the directory once.
 *
 * A producer that answers before it has caps is asked again until it has
 * them (at most every 100 ms for a second, then every 2 s); after that
 * second it is listed with ANY caps, and replaced once its caps come.
 * A producer that restarts binds a new socket, which replaces the device;
 * caps renegotiated inside a running producer are not followed (that would
 * take polling).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* lstat, S_ISSOCK, F_DUPFD_CLOEXEC (c11) */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzcipcdeviceprovider.h"
#include "gstzcipcdevice.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>

#include "zcipc/stats.h"
#include "zcipc/streamdir.h"

GST_DEBUG_CATEGORY_STATIC (gst_zcipc_device_provider_debug);
#define GST_CAT_DEFAULT gst_zcipc_device_provider_debug

/* How long one connect or one stats request may take: a peer that never
 * answers costs a worker thread this long, never the provider's thread. */
#define PROBE_TIMEOUT_MS 500
/* A socket file appears at bind(), before its producer listen()s: connects
 * refused this soon after it appeared are tried again. */
#define FRESH_WINDOW_US (1 * G_USEC_PER_SEC)
#define REFUSED_RETRY_FIRST_MS 10
#define REFUSED_RETRY_MAX_MS 100
/* A producer that answered without caps (zcipcsink binds its socket
 * before its first caps) is asked again: often in the first CAPS_WAIT_US,
 * since a device appears late by that much; then it is listed with ANY
 * caps and asked seldom, for a producer that waits long for its input. */
#define CAPS_RETRY_FIRST_MS 10
#define CAPS_RETRY_SOON_MS 100
#define CAPS_RETRY_LATE_MS 2000
#define CAPS_WAIT_US (1 * G_USEC_PER_SEC)

/* One socket file of the directory. Provider thread only; reference
 * counted because probes and timers in flight hold it. */
typedef struct
{
  GstZcipcDeviceProvider *provider;     /* not a reference: outlives us */
  gchar *name;
  gchar *path;
  dev_t dev;                    /* which file: a new socket at the same */
  ino_t ino;                    /* name is another stream */
  gboolean forgotten;           /* out of the table: drop what arrives */
  gboolean initial;             /* start() waits for its first probe */
  gboolean fresh;               /* retry refused connects until fresh_until */
  gint64 fresh_until;
  guint refused_delay_ms;

  int fd;                       /* monitor connection, -1 when none */
  GSource *watch;               /* on fd, except while a job asks on it */
  GSource *timer;               /* to probe or ask again */
  gint64 answered_at;           /* first reply without caps, 0 if none */
  guint caps_delay_ms;
  gint pid;
  gchar *caps_string;
  GstDevice *device;            /* our reference; added to the provider */
} Stream;

/* What a worker thread does for a stream: connect unless fd is given, ask
 * once. The fd belongs to the job until the callback takes it. */
typedef struct
{
  gchar *path;
  int fd;
  int res;
  struct zcipc_stats_stream *stats;
} ProbeJob;

struct _GstZcipcDeviceProvider
{
  GstDeviceProvider parent;

  /* OBJECT LOCK */
  GThread *thread;
  GMainContext *context;
  GMainLoop *loop;
  gboolean started;             /* initial listing done; with started_cond */
  GCond started_cond;

  /* Provider thread only (set up by start() before the thread runs). */
  gchar *runtime_dir;
  uid_t uid;
  gchar *dir_path;
  GFile *dir_file;
  GFileMonitor *dir_monitor;    /* the stream directory */
  GFileMonitor *parent_monitor; /* its parent, while it is missing */
  GHashTable *streams;          /* name -> Stream */
  guint initial_pending;        /* first probes start() waits for */
  guint jobs_in_flight;
  gboolean stopping;
};

G_DEFINE_TYPE (GstZcipcDeviceProvider, gst_zcipc_device_provider,
    GST_TYPE_DEVICE_PROVIDER);

/* MARGINAL: the lowest rank GstDeviceMonitor takes; these are streams of
 * other processes, not hardware, so no provider should be hidden for us. */
GST_DEVICE_PROVIDER_REGISTER_DEFINE (zcipcdeviceprovider,
    "zcipcdeviceprovider", GST_RANK_MARGINAL, GST_TYPE_ZCIPC_DEVICE_PROVIDER);

static void gst_zcipc_device_provider_finalize (GObject * object);
static GList *gst_zcipc_device_provider_probe (GstDeviceProvider * provider);
static gboolean gst_zcipc_device_provider_start (GstDeviceProvider * provider);
static void gst_zcipc_device_provider_stop (GstDeviceProvider * provider);

static void watch_directory (GstZcipcDeviceProvider * self, gboolean initial);
static void stream_probe (Stream * stream);
static void stream_ask (Stream * stream);

static void
gst_zcipc_device_provider_class_init (GstZcipcDeviceProviderClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstDeviceProviderClass *provider_class = GST_DEVICE_PROVIDER_CLASS (klass);

  gobject_class->finalize = gst_zcipc_device_provider_finalize;

  provider_class->probe = gst_zcipc_device_provider_probe;
  provider_class->start = gst_zcipc_device_provider_start;
  provider_class->stop = gst_zcipc_device_provider_stop;

  /* Both Video and Audio: GstDeviceMonitor matches its filters' classes
   * against these words. */
  gst_device_provider_class_set_static_metadata (provider_class,
      "zcipc Stream Provider", "Source/Video/Audio",
      "Lists and watches the zcipc streams (zcipcsink) of the user's "
      "stream directory", "The zcipc authors");

  GST_DEBUG_CATEGORY_INIT (gst_zcipc_device_provider_debug,
      "zcipcdeviceprovider", 0, "zcipc device provider");
}

static void
gst_zcipc_device_provider_init (GstZcipcDeviceProvider * self)
{
  g_cond_init (&self->started_cond);
}

static void
gst_zcipc_device_provider_finalize (GObject * object)
{
  GstZcipcDeviceProvider *self = GST_ZCIPC_DEVICE_PROVIDER (object);

  g_cond_clear (&self->started_cond);
  g_free (self->runtime_dir);
  G_OBJECT_CLASS (gst_zcipc_device_provider_parent_class)->finalize (object);
}

/* --- streams ------------------------------------------------------------ */

static Stream *
stream_ref (Stream * stream)
{
  return g_rc_box_acquire (stream);
}

static void
stream_clear (Stream * stream)
{
  g_free (stream->name);
  g_free (stream->path);
  g_free (stream->caps_string);
  g_assert (stream->fd < 0 && stream->watch == NULL && stream->timer == NULL
      && stream->device == NULL);
}

static void
stream_unref (Stream * stream)
{
  g_rc_box_release_full (stream, (GDestroyNotify) stream_clear);
}

static void
stream_cancel_timer (Stream * stream)
{
  if (stream->timer != NULL) {
    g_source_destroy (stream->timer);
    g_source_unref (stream->timer);
    stream->timer = NULL;
  }
}

static void
stream_unwatch (Stream * stream)
{
  if (stream->watch != NULL) {
    g_source_destroy (stream->watch);
    g_source_unref (stream->watch);
    stream->watch = NULL;
  }
}

static void
stream_remove_device (Stream * stream)
{
  GstDevice *device = g_steal_pointer (&stream->device);

  if (device == NULL)
    return;
  GST_INFO_OBJECT (stream->provider, "stream %s is no longer a device",
      stream->name);
  /* Not while stopping: gst_device_provider_stop() drops its devices
   * itself, and posts nothing then. */
  if (!stream->provider->stopping)
    gst_device_provider_device_remove (GST_DEVICE_PROVIDER (stream->provider),
        device);
  gst_object_unref (device);
}

/* The producer is gone, or never was one: no device, no connection. The
 * entry stays while its socket file does, so that the same stale file is
 * not probed again. */
static void
stream_kill (Stream * stream)
{
  stream_cancel_timer (stream);
  stream_unwatch (stream);
  if (stream->fd >= 0) {
    close (stream->fd);
    stream->fd = -1;
  }
  stream_remove_device (stream);
}

/* The table's destroy function: the file went, or the provider stops. */
static void
stream_forget (Stream * stream)
{
  stream->forgotten = TRUE;
  stream_kill (stream);
  stream_unref (stream);
}

static void
initial_done (GstZcipcDeviceProvider * self, Stream * stream)
{
  if (!stream->initial)
    return;
  stream->initial = FALSE;
  g_assert (self->initial_pending > 0);
  if (--self->initial_pending == 0) {
    GST_OBJECT_LOCK (self);
    self->started = TRUE;
    g_cond_broadcast (&self->started_cond);
    GST_OBJECT_UNLOCK (self);
  }
}

static void
stream_set_timer (Stream * stream, guint delay_ms, GSourceFunc func)
{
  stream_cancel_timer (stream);
  stream->timer = g_timeout_source_new (delay_ms);
  g_source_set_callback (stream->timer, func, stream_ref (stream),
      (GDestroyNotify) stream_unref);
  g_source_attach (stream->timer, stream->provider->context);
}

static gboolean
stream_hung_up (gint fd, GIOCondition condition, gpointer user_data)
{
  Stream *stream = user_data;
  char byte;
  ssize_t n = 0;

  if (condition & G_IO_IN) {
    /* Only replies to our requests come on this connection, and we asked
     * nothing now: EOF, or a message we cannot place. */
    n = recv (fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return G_SOURCE_CONTINUE;
  }
  if (n > 0)
    GST_WARNING_OBJECT (stream->provider, "stream %s: unexpected message on "
        "the monitor connection, dropping it", stream->name);
  else
    GST_INFO_OBJECT (stream->provider, "stream %s: producer hung up",
        stream->name);
  /* The source is destroyed in stream_kill (); returning REMOVE as well
   * would unref it twice. */
  g_source_unref (g_steal_pointer (&stream->watch));
  stream_kill (stream);
  return G_SOURCE_REMOVE;
}

static void
stream_watch (Stream * stream)
{
  g_assert (stream->fd >= 0 && stream->watch == NULL);
  stream->watch = g_unix_fd_source_new (stream->fd,
      G_IO_IN | G_IO_HUP | G_IO_ERR);
  g_source_set_callback (stream->watch, G_SOURCE_FUNC (stream_hung_up),
      stream, NULL);
  g_source_attach (stream->watch, stream->provider->context);
}

static void
stream_publish (Stream * stream)
{
  GstZcipcDeviceProvider *self = stream->provider;
  GstDevice *device;

  if (stream->device != NULL && !g_strcmp0 (stream->caps_string,
          gst_zcipc_device_get_caps_string (GST_ZCIPC_DEVICE (stream->device))))
    return;
  /* Caps changed (or came): the old device described another stream. */
  stream_remove_device (stream);
  device = gst_zcipc_device_new (stream->name, stream->path, stream->pid,
      stream->caps_string);
  stream->device = gst_object_ref (device);
  GST_INFO_OBJECT (self, "stream %s (pid %d) is a device, caps %s",
      stream->name, stream->pid,
      stream->caps_string[0] ? stream->caps_string : "ANY");
  gst_device_provider_device_add (GST_DEVICE_PROVIDER (self), device);
}

static gboolean
stream_retry_probe (gpointer user_data)
{
  Stream *stream = user_data;

  g_source_unref (g_steal_pointer (&stream->timer));
  stream_probe (stream);
  return G_SOURCE_REMOVE;
}

static gboolean
stream_retry_ask (gpointer user_data)
{
  Stream *stream = user_data;

  g_source_unref (g_steal_pointer (&stream->timer));
  stream_unwatch (stream);
  stream_ask (stream);
  return G_SOURCE_REMOVE;
}

static void
probe_job_free (ProbeJob * job)
{
  if (job->fd >= 0)
    close (job->fd);
  g_free (job->stats);
  g_free (job->path);
  g_free (job);
}

/* Worker thread: may block up to PROBE_TIMEOUT_MS twice. */
static void
probe_job_run (GTask * task, gpointer source_object, gpointer task_data,
    GCancellable * cancellable)
{
  ProbeJob *job = task_data;

  job->res = 0;
  if (job->fd < 0)
    job->res = zcipc_stats_open (job->path, PROBE_TIMEOUT_MS, &job->fd);
  if (job->res == 0)
    job->res = zcipc_stats_request (job->fd, PROBE_TIMEOUT_MS, job->stats);
  g_task_return_boolean (task, TRUE);
}

static void
probe_job_done (GObject * source_object, GAsyncResult * result,
    gpointer user_data)
{
  GstZcipcDeviceProvider *self = GST_ZCIPC_DEVICE_PROVIDER (source_object);
  Stream *stream = user_data;
  ProbeJob *job = g_task_get_task_data (G_TASK (result));
  gint64 now = g_get_monotonic_time ();
  gboolean late;

  self->jobs_in_flight--;
  if (stream->forgotten || self->stopping)
    goto done;                  /* the job's free closes its fd */

  if (job->res < 0) {
    if (stream->fd < 0 && job->res == -ECONNREFUSED && stream->fresh
        && now < stream->fresh_until) {
      GST_DEBUG_OBJECT (self, "stream %s: refused, trying again in %u ms",
          stream->name, stream->refused_delay_ms);
      stream_set_timer (stream, stream->refused_delay_ms, stream_retry_probe);
      stream->refused_delay_ms = MIN (stream->refused_delay_ms * 2,
          REFUSED_RETRY_MAX_MS);
      goto done;
    }
    GST_INFO_OBJECT (self, "stream %s is not a live producer: %s",
        stream->name, g_strerror (-job->res));
    stream_kill (stream);
    goto done;
  }

  if (stream->fd < 0)
    stream->fd = g_steal_fd (&job->fd);
  stream->pid = job->stats->pid;
  g_free (stream->caps_string);
  stream->caps_string = g_strndup (job->stats->caps, sizeof (job->stats->caps));
  stream_watch (stream);

  if (stream->caps_string[0] == '\0') {
    if (stream->answered_at == 0)
      stream->answered_at = now;
    late = now - stream->answered_at >= CAPS_WAIT_US;
    if (late)
      stream_publish (stream);
    GST_DEBUG_OBJECT (self, "stream %s has no caps yet, asking again in "
        "%u ms", stream->name, stream->caps_delay_ms);
    stream_set_timer (stream, stream->caps_delay_ms, stream_retry_ask);
    /* The fd stays watched meanwhile: a hang-up still counts. */
    stream->caps_delay_ms = MIN (stream->caps_delay_ms * 2,
        late ? CAPS_RETRY_LATE_MS : CAPS_RETRY_SOON_MS);
  } else {
    stream_publish (stream);
  }

done:
  initial_done (self, stream);
  stream_unref (stream);
}

/* Runs one job for the stream in a worker thread: with `fd` -1, connects
 * and asks (is a producer behind this socket?); else asks again on `fd`, a
 * duplicate of the stream's connection that the job owns (and closes), so
 * that the stream's own fd is never closed under a worker. */
static void
stream_run_job (Stream * stream, int fd)
{
  GstZcipcDeviceProvider *self = stream->provider;
  ProbeJob *job = g_new0 (ProbeJob, 1);
  GTask *task;

  job->path = g_strdup (stream->path);
  job->fd = fd;
  job->stats = g_new0 (struct zcipc_stats_stream, 1);

  /* The callback runs in the thread-default context: the provider's. */
  task = g_task_new (self, NULL, probe_job_done, stream_ref (stream));
  g_task_set_task_data (task, job, (GDestroyNotify) probe_job_free);
  g_task_set_name (task, "zcipc-probe");
  self->jobs_in_flight++;
  g_task_run_in_thread (task, probe_job_run);
  g_object_unref (task);
}

static void
stream_probe (Stream * stream)
{
  g_assert (stream->fd < 0);
  stream_run_job (stream, -1);
}

/* Asks again on the open connection, for caps. The stream is not watched
 * meanwhile: the reply is the worker's to read. */
static void
stream_ask (Stream * stream)
{
  int fd;

  g_assert (stream->fd >= 0 && stream->watch == NULL);
  fd = fcntl (stream->fd, F_DUPFD_CLOEXEC, 0);
  if (fd < 0) {
    GST_WARNING_OBJECT (stream->provider, "stream %s: dup: %s", stream->name,
        g_strerror (errno));
    /* Keep the device as it is, watched for the hang-up. */
    stream_watch (stream);
    return;
  }
  stream_run_job (stream, fd);
}

/* A socket file is (or may be) in the directory. */
static void
stream_found (GstZcipcDeviceProvider * self, const gchar * name,
    gboolean initial)
{
  g_autofree gchar *path = NULL;
  struct stat st;
  Stream *stream;

  path = g_build_filename (self->dir_path, name, NULL);
  if (zcipc_stream_socket_stat (path, &st) < 0)
    return;                     /* not a stream's socket: not ours */

  stream = g_hash_table_lookup (self->streams, name);
  if (stream != NULL && stream->dev == st.st_dev && stream->ino == st.st_ino)
    return;                     /* the same file, seen twice */
  /* A new socket under an old name: another producer's. */
  g_hash_table_remove (self->streams, name);

  stream = g_rc_box_new0 (Stream);
  stream->provider = self;
  stream->name = g_strdup (name);
  stream->path = g_steal_pointer (&path);
  stream->dev = st.st_dev;
  stream->ino = st.st_ino;
  stream->fd = -1;
  stream->caps_string = g_strdup ("");
  stream->caps_delay_ms = CAPS_RETRY_FIRST_MS;
  stream->refused_delay_ms = REFUSED_RETRY_FIRST_MS;
  /* At start, a refused socket is a stale one; later, one that just
   * appeared may not listen yet. */
  stream->fresh = !initial;
  stream->fresh_until = g_get_monotonic_time () + FRESH_WINDOW_US;
  if (initial) {
    stream->initial = TRUE;
    self->initial_pending++;
  }
  g_hash_table_insert (self->streams, stream->name, stream);
  GST_DEBUG_OBJECT (self, "probing %s", stream->path);
  stream_probe (stream);
}

/* --- the directory ------------------------------------------------------ */

static void
list_directory (GstZcipcDeviceProvider * self, gboolean initial)
{
  g_autoptr (GError) error = NULL;
  const gchar *name;
  GDir *dir;

  dir = g_dir_open (self->dir_path, 0, &error);
  if (dir == NULL) {
    GST_WARNING_OBJECT (self, "cannot list %s: %s", self->dir_path,
        error->message);
    return;
  }
  while ((name = g_dir_read_name (dir)) != NULL)
    stream_found (self, name, initial);
  g_dir_close (dir);
}

static void
unwatch_directory (GstZcipcDeviceProvider * self)
{
  if (self->dir_monitor != NULL) {
    g_file_monitor_cancel (self->dir_monitor);
    g_clear_object (&self->dir_monitor);
  }
  if (self->parent_monitor != NULL) {
    g_file_monitor_cancel (self->parent_monitor);
    g_clear_object (&self->parent_monitor);
  }
  g_clear_object (&self->dir_file);
}

/* NAME left the directory, or was replaced: a producer replacing a stale
 * socket exchanges the two files, so by the time this runs the name may
 * already hold the new socket. */
static void
stream_gone (GstZcipcDeviceProvider * self, const gchar * name)
{
  g_autofree gchar *path = g_build_filename (self->dir_path, name, NULL);
  Stream *stream = g_hash_table_lookup (self->streams, name);
  struct stat st;
  gboolean present = zcipc_stream_socket_stat (path, &st) == 0;

  if (stream != NULL && present && stream->dev == st.st_dev
      && stream->ino == st.st_ino)
    return;                     /* still the file we know */
  if (g_hash_table_remove (self->streams, name))
    GST_DEBUG_OBJECT (self, "%s was removed", name);
  if (present)
    stream_found (self, name, FALSE);
}

static void
directory_changed (GFileMonitor * monitor, GFile * file, GFile * other,
    GFileMonitorEvent event, gpointer user_data)
{
  GstZcipcDeviceProvider *self = user_data;
  g_autofree gchar *name = NULL;

  if (g_file_equal (file, self->dir_file)) {
    if (event == G_FILE_MONITOR_EVENT_DELETED) {
      GST_INFO_OBJECT (self, "%s was removed", self->dir_path);
      g_hash_table_remove_all (self->streams);
      watch_directory (self, FALSE);
    }
    return;
  }
  name = g_file_get_basename (file);
  switch (event) {
    case G_FILE_MONITOR_EVENT_CREATED:
    case G_FILE_MONITOR_EVENT_MOVED_IN:
      /* zcipcsink moves its socket into place, complete (lib/socket.c). */
      stream_found (self, name, FALSE);
      break;
    case G_FILE_MONITOR_EVENT_RENAMED:
      stream_gone (self, name);
      if (other != NULL) {
        g_autofree gchar *new_name = g_file_get_basename (other);

        stream_found (self, new_name, FALSE);
      }
      break;
    case G_FILE_MONITOR_EVENT_DELETED:
    case G_FILE_MONITOR_EVENT_MOVED_OUT:
      stream_gone (self, name);
      break;
    default:
      break;
  }
}

static void
parent_changed (GFileMonitor * monitor, GFile * file, GFile * other,
    GFileMonitorEvent event, gpointer user_data)
{
  GstZcipcDeviceProvider *self = user_data;

  if (event == G_FILE_MONITOR_EVENT_CREATED
      && g_file_equal (file, self->dir_file)) {
    GST_INFO_OBJECT (self, "%s appeared", self->dir_path);
    watch_directory (self, FALSE);
  }
}

/* Watches the stream directory and probes what is in it; while it is
 * missing, watches its parent for it instead. */
static void
watch_directory (GstZcipcDeviceProvider * self, gboolean initial)
{
  g_autoptr (GError) error = NULL;
  char path[4096];
  int res;

  unwatch_directory (self);
  res = zcipc_stream_dir (self->runtime_dir, self->uid, false, path,
      sizeof (path));
  if (res == -ENAMETOOLONG) {
    GST_WARNING_OBJECT (self, "the stream directory's path is too long");
    return;
  }
  g_free (self->dir_path);
  self->dir_path = g_strdup (path);
  self->dir_file = g_file_new_for_path (path);

  if (res == -ENOENT) {
    g_autoptr (GFile) parent = g_file_get_parent (self->dir_file);

    GST_INFO_OBJECT (self, "%s does not exist yet: watching its parent", path);
    self->parent_monitor = g_file_monitor_directory (parent,
        G_FILE_MONITOR_NONE, NULL, &error);
    if (self->parent_monitor == NULL) {
      GST_WARNING_OBJECT (self, "cannot watch for %s: %s", path,
          error->message);
      return;
    }
    g_signal_connect (self->parent_monitor, "changed",
        G_CALLBACK (parent_changed), self);
    /* It may have appeared before the watch. */
    if (!g_file_test (path, G_FILE_TEST_IS_DIR))
      return;
    unwatch_directory (self);
    self->dir_file = g_file_new_for_path (path);
    res = zcipc_stream_dir (self->runtime_dir, self->uid, false, path,
        sizeof (path));
  }
  if (res < 0) {
    /* Not ours, or open to others: what is in it may not be what it
     * claims (zcipcsink refuses to publish there for the same reason). */
    GST_WARNING_OBJECT (self, "not listing the streams of %s: %s", path,
        g_strerror (-res));
    return;
  }

  self->dir_monitor = g_file_monitor_directory (self->dir_file,
      G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
  if (self->dir_monitor == NULL) {
    GST_WARNING_OBJECT (self, "cannot watch %s: %s", path, error->message);
    return;
  }
  g_signal_connect (self->dir_monitor, "changed",
      G_CALLBACK (directory_changed), self);
  list_directory (self, initial);
}

/* --- the thread --------------------------------------------------------- */

static gpointer
provider_thread (gpointer data)
{
  GstZcipcDeviceProvider *self = data;
  GMainContext *context = self->context;

  g_main_context_push_thread_default (context);
  self->streams = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
      (GDestroyNotify) stream_forget);

  watch_directory (self, TRUE);
  if (self->initial_pending == 0) {
    GST_OBJECT_LOCK (self);
    self->started = TRUE;
    g_cond_broadcast (&self->started_cond);
    GST_OBJECT_UNLOCK (self);
  }

  g_main_loop_run (self->loop);

  self->stopping = TRUE;
  unwatch_directory (self);
  g_hash_table_destroy (g_steal_pointer (&self->streams));
  /* Jobs still in a worker report here; they hold the provider and
   * would keep it (and their fds) forever otherwise. Each ends within its
   * timeouts. */
  while (self->jobs_in_flight > 0)
    g_main_context_iteration (context, TRUE);
  g_clear_pointer (&self->dir_path, g_free);

  g_main_context_pop_thread_default (context);
  return NULL;
}

static gboolean
gst_zcipc_device_provider_start (GstDeviceProvider * provider)
{
  GstZcipcDeviceProvider *self = GST_ZCIPC_DEVICE_PROVIDER (provider);

  g_free (self->runtime_dir);
  self->runtime_dir = g_strdup (g_getenv ("XDG_RUNTIME_DIR"));
  self->uid = getuid ();
  self->stopping = FALSE;
  self->initial_pending = 0;
  self->jobs_in_flight = 0;

  GST_OBJECT_LOCK (self);
  g_assert (self->context == NULL);
  self->context = g_main_context_new ();
  self->loop = g_main_loop_new (self->context, FALSE);
  self->started = FALSE;
  self->thread = g_thread_new ("zcipc-devices", provider_thread, self);
  while (!self->started)
    g_cond_wait (&self->started_cond, GST_OBJECT_GET_LOCK (self));
  GST_OBJECT_UNLOCK (self);
  return TRUE;
}

static gboolean
quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
gst_zcipc_device_provider_stop (GstDeviceProvider * provider)
{
  GstZcipcDeviceProvider *self = GST_ZCIPC_DEVICE_PROVIDER (provider);
  GMainContext *context;
  GMainLoop *loop;
  GThread *thread;

  GST_OBJECT_LOCK (self);
  context = g_steal_pointer (&self->context);
  loop = g_steal_pointer (&self->loop);
  thread = g_steal_pointer (&self->thread);
  GST_OBJECT_UNLOCK (self);
  if (thread == NULL)
    return;

  g_main_context_invoke_full (context, G_PRIORITY_DEFAULT, quit_loop,
      g_main_loop_ref (loop), (GDestroyNotify) g_main_loop_unref);
  g_thread_join (thread);
  g_main_loop_unref (loop);
  g_main_context_unref (context);
}

/* --- probe (not started) ------------------------------------------------ */

static GList *
gst_zcipc_device_provider_probe (GstDeviceProvider * provider)
{
  struct zcipc_stats_stream *stats;
  g_autoptr (GError) error = NULL;
  GList *devices = NULL;
  char dir_path[4096];
  const gchar *name;
  GDir *dir;
  int res;

  res = zcipc_stream_dir (g_getenv ("XDG_RUNTIME_DIR"), getuid (), false,
      dir_path, sizeof (dir_path));
  if (res < 0) {
    GST_DEBUG_OBJECT (provider, "no streams to list: %s", g_strerror (-res));
    return NULL;
  }
  dir = g_dir_open (dir_path, 0, &error);
  if (dir == NULL) {
    GST_WARNING_OBJECT (provider, "cannot list %s: %s", dir_path,
        error->message);
    return NULL;
  }
  stats = g_new0 (struct zcipc_stats_stream, 1);
  while ((name = g_dir_read_name (dir)) != NULL) {
    g_autofree gchar *path = NULL;
    g_autofree gchar *caps = NULL;
    GstDevice *device;

    path = g_build_filename (dir_path, name, NULL);
    if (zcipc_stream_socket_stat (path, NULL) < 0)
      continue;
    /* One after the other: a stale socket refuses at once, only a live
     * peer that does not answer costs PROBE_TIMEOUT_MS. */
    res = zcipc_stats_query (path, PROBE_TIMEOUT_MS, stats);
    if (res < 0) {
      GST_DEBUG_OBJECT (provider, "%s: %s", path, g_strerror (-res));
      continue;
    }
    caps = g_strndup (stats->caps, sizeof (stats->caps));
    device = gst_zcipc_device_new (name, path, stats->pid, caps);
    devices = g_list_prepend (devices, gst_object_ref_sink (device));
  }
  g_free (stats);
  g_dir_close (dir);
  return g_list_reverse (devices);
}
