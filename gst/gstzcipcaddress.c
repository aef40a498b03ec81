/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* lstat under -std=c11 */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "gstzcipcaddress.h"
#include "zcipc/socket.h"
#include "zcipc/streamdir.h"

#define NAME_RULES "a stream name is 1 to 64 letters, digits, '.', '_' or " \
  "'-', and does not start with '.'"
#define URI_GRAMMAR "write zcipc://NAME for a named stream or " \
  "zcipc:///path/to/socket for a socket path"
/* Characters a path keeps unescaped in a URI (RFC 3986 pchar and '/'). */
#define PATH_CHARS_ALLOWED "!$&'()*+,;=:@/"

gboolean
gst_zcipc_uri_parse (const gchar * uri, gchar ** stream_name,
    gchar ** socket_path, GError ** error)
{
  static const gchar prefix[] = GST_ZCIPC_URI_PROTOCOL "://";
  const gchar *rest;
  gchar *path;

  *stream_name = NULL;
  *socket_path = NULL;
  if (uri == NULL || g_ascii_strncasecmp (uri, prefix, strlen (prefix))) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "'%s' is not a zcipc URI: " URI_GRAMMAR, GST_STR_NULL (uri));
    return FALSE;
  }
  rest = uri + strlen (prefix);
  if (strpbrk (rest, "?#")) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "'%s': a zcipc URI has no query or fragment ('?', '#'): " URI_GRAMMAR
        ", and set anything else as element properties", uri);
    return FALSE;
  }
  if (*rest == '\0') {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "'%s' names no stream: " URI_GRAMMAR, uri);
    return FALSE;
  }
  if (*rest == '/') {
    /* NULL for a bad escape or an escaped NUL. */
    path = g_uri_unescape_string (rest, NULL);
    if (path == NULL) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "'%s': the socket path has a bad %%-escape", uri);
      return FALSE;
    }
    if (g_str_has_suffix (path, "/")) {
      g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
          "'%s' names a directory ('%s'), not a socket: " URI_GRAMMAR, uri,
          path);
      g_free (path);
      return FALSE;
    }
    *socket_path = path;
    return TRUE;
  }
  if (strchr (rest, '/')) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "'%s': a stream name has no '/' in it, and a socket path must be "
        "absolute, after three slashes: " URI_GRAMMAR, uri);
    return FALSE;
  }
  if (zcipc_stream_name_check (rest) < 0) {
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_URI,
        "'%s': '%s' is not a valid stream name: " NAME_RULES, uri, rest);
    return FALSE;
  }
  *stream_name = g_strdup (rest);
  return TRUE;
}

gchar *
gst_zcipc_uri_build (const gchar * stream_name, const gchar * socket_path)
{
  gchar *escaped, *uri;

  if (stream_name && *stream_name)
    return g_strdup_printf (GST_ZCIPC_URI_PROTOCOL "://%s", stream_name);
  /* An abstract socket ("@name") or a relative path has no URI form. */
  if (!socket_path || socket_path[0] != '/')
    return NULL;
  escaped = g_uri_escape_string (socket_path, PATH_CHARS_ALLOWED, FALSE);
  uri = g_strdup_printf (GST_ZCIPC_URI_PROTOCOL "://%s", escaped);
  g_free (escaped);
  return uri;
}

gchar *
gst_zcipc_uri_get (GstElement * element, gchar * const *stream_name,
    gchar * const *socket_path)
{
  gchar *uri;

  GST_OBJECT_LOCK (element);
  uri = gst_zcipc_uri_build (*stream_name, *socket_path);
  GST_OBJECT_UNLOCK (element);
  return uri;
}

static const gchar *element_kind (GstElement * element);

gboolean
gst_zcipc_uri_set (GstElement * element, const gchar * uri,
    gchar ** stream_name, gchar ** socket_path, GParamSpec * stream_name_pspec,
    GParamSpec * socket_path_pspec, const gchar * running, GError ** error)
{
  gchar *new_stream_name, *new_socket_path;

  if (!gst_zcipc_uri_parse (uri, &new_stream_name, &new_socket_path, error))
    return FALSE;
  GST_OBJECT_LOCK (element);
  if (GST_STATE (element) > GST_STATE_READY) {
    GST_OBJECT_UNLOCK (element);
    g_set_error (error, GST_URI_ERROR, GST_URI_ERROR_BAD_STATE,
        "Changing the URI of %s while it %s is not supported",
        element_kind (element), running);
    g_free (new_stream_name);
    g_free (new_socket_path);
    return FALSE;
  }
  g_free (*stream_name);
  *stream_name = new_stream_name;
  g_free (*socket_path);
  *socket_path = new_socket_path;
  GST_OBJECT_UNLOCK (element);
  GST_DEBUG_OBJECT (element, "URI '%s'", uri);
  g_object_notify_by_pspec (G_OBJECT (element), stream_name_pspec);
  g_object_notify_by_pspec (G_OBJECT (element), socket_path_pspec);
  return TRUE;
}

static const gchar *
element_kind (GstElement * element)
{
  GstElementFactory *factory = gst_element_get_factory (element);

  return factory ? GST_OBJECT_NAME (factory) : G_OBJECT_TYPE_NAME (element);
}

/* GST_ELEMENT_ERROR with a code chosen at run time: `code`, or 0 for the
 * producer cannot publish (OPEN_WRITE), the consumer cannot receive
 * (OPEN_READ). `text` and `debug` are taken. */
#define post_error(element, producer, code, text, debug) \
  post_error_at (element, producer, code, text, debug, __FILE__, \
      GST_FUNCTION, __LINE__)

static void
post_error_at (GstElement * element, gboolean producer, GstResourceError code,
    gchar * text, gchar * debug, const gchar * file, const gchar * function,
    gint line)
{
  GST_ERROR_OBJECT (element, "%s", text);
  gst_element_message_full (element, GST_MESSAGE_ERROR, GST_RESOURCE_ERROR,
      code ? code : producer ? GST_RESOURCE_ERROR_OPEN_WRITE :
      GST_RESOURCE_ERROR_OPEN_READ, text, debug, file, function, line);
}

/* Says what is wrong with stream directory `dir` after a check failed with
 * `res`, and how to fix it; looks at it again to tell. */
static gchar *
describe_dir_problem (const gchar * dir, int res, gboolean create,
    const gchar * runtime_dir)
{
  const gchar *where = runtime_dir && runtime_dir[0] == '/' ?
      " (the zcipc directory in $XDG_RUNTIME_DIR)" : "";
  GStatBuf st;

  if (g_lstat (dir, &st) == 0) {
    if (S_ISLNK (st.st_mode))
      return g_strdup_printf ("The stream directory '%s'%s is a symbolic "
          "link: refused, since it could lead into a directory of someone "
          "else's. Remove it (rm '%s'); zcipcsink makes the directory", dir,
          where, dir);
    if (!S_ISDIR (st.st_mode))
      return g_strdup_printf ("The stream directory '%s'%s is not a "
          "directory. Remove it (rm '%s'); zcipcsink makes the directory",
          dir, where, dir);
    if (st.st_uid != getuid ())
      return g_strdup_printf ("The stream directory '%s'%s belongs to uid "
          "%u, not to this user (uid %u): its owner could read or replace "
          "the streams in it. Have it removed (by its owner or root: rm -r "
          "'%s'), or set XDG_RUNTIME_DIR to a directory of your own", dir,
          where, (guint) st.st_uid, (guint) getuid (), dir);
    if (st.st_mode & (S_IWGRP | S_IWOTH))
      return g_strdup_printf ("The stream directory '%s'%s can be written "
          "by other users (mode %04o), who could replace the streams in it: "
          "run chmod 0700 '%s'. To share a stream with other users, publish "
          "it with socket-path in a directory of a shared group instead",
          dir, where, (guint) (st.st_mode & 07777), dir);
  }
  if (create && res == -ENOENT) {
    g_autofree gchar *parent = g_path_get_dirname (dir);
    return g_strdup_printf ("Could not create the stream directory '%s': "
        "'%s' does not exist%s", dir, parent, *where ? ". Set "
        "XDG_RUNTIME_DIR to an existing directory of yours, or unset it" : "");
  }
  if (create && (res == -EACCES || res == -EPERM || res == -EROFS)) {
    g_autofree gchar *parent = g_path_get_dirname (dir);
    return g_strdup_printf ("Could not create the stream directory '%s': "
        "no permission to write in '%s'", dir, parent);
  }
  return g_strdup_printf ("Could not use the stream directory '%s'%s: %s",
      dir, where, g_strerror (-res));
}

/* An explicit socket-path, as long as a Unix socket path can be. */
static gchar *
resolve_socket_path (GstElement * element, const gchar * socket_path,
    gboolean create)
{
  int res = zcipc_socket_check_path (socket_path);

  if (res == -ENAMETOOLONG) {
    post_error (element, create, GST_RESOURCE_ERROR_SETTINGS,
        g_strdup_printf ("Socket path '%s' is too long: a Unix socket "
            "path holds at most 107 bytes", socket_path),
        g_strdup_printf ("zcipc_socket_check_path: %s", g_strerror (-res)));
    return NULL;
  }
  return g_strdup (socket_path);
}

/* A stream-name's socket in the stream directory (made when `create`).
 * A consumer whose directory is not there yet gets the path it will have
 * and *dir_missing. */
static gchar *
resolve_stream_name (GstElement * element, const gchar * stream_name,
    gboolean create, gboolean * dir_missing)
{
  const gchar *runtime_dir = g_getenv ("XDG_RUNTIME_DIR");
  gchar buf[PATH_MAX];
  int res;

  if (zcipc_stream_name_check (stream_name) < 0) {
    post_error (element, create, GST_RESOURCE_ERROR_SETTINGS,
        g_strdup_printf ("'%s' is not a valid stream-name: " NAME_RULES
            ". For a path, set socket-path instead", stream_name), NULL);
    return NULL;
  }
  res = zcipc_stream_path (runtime_dir, getuid (), stream_name, create, buf,
      sizeof buf);
  if (res == -ENOENT && !create) {
    /* The producer makes the directory; until then, wait as for a socket
     * that is not there yet. buf holds the directory. */
    gchar *path = g_build_filename (buf, stream_name, NULL);

    if (zcipc_socket_check_path (path) == 0) {
      GST_INFO_OBJECT (element, "stream directory '%s' does not exist yet",
          buf);
      if (dir_missing)
        *dir_missing = TRUE;
      return path;
    }
    g_strlcpy (buf, path, sizeof buf);
    g_free (path);
    res = -ENAMETOOLONG;
  }
  if (res == -ENAMETOOLONG) {
    /* buf holds the socket path that came out too long. */
    post_error (element, create, GST_RESOURCE_ERROR_SETTINGS,
        g_strdup_printf ("The socket path of stream '%s', '%s', is longer "
            "than the 107 bytes a Unix socket path holds: use a shorter "
            "name, or a shorter XDG_RUNTIME_DIR", stream_name, buf),
        g_strdup_printf ("zcipc_stream_path: %s", g_strerror (-res)));
    return NULL;
  }
  if (res < 0) {
    post_error (element, create, 0,
        describe_dir_problem (buf, res, create, runtime_dir),
        g_strdup_printf ("zcipc_stream_path (XDG_RUNTIME_DIR=%s, uid %u, "
            "create %d): %s", GST_STR_NULL (runtime_dir), (guint) getuid (),
            create, g_strerror (-res)));
    return NULL;
  }
  GST_DEBUG_OBJECT (element, "stream '%s' is at '%s'", stream_name, buf);
  return g_strdup (buf);
}

gchar *
gst_zcipc_address_resolve (GstElement * element, const gchar * stream_name,
    const gchar * socket_path, gboolean create, gboolean * dir_missing)
{
  const gchar *kind = element_kind (element);
  gboolean named = stream_name && *stream_name;
  gboolean pathed = socket_path && *socket_path;

  if (dir_missing)
    *dir_missing = FALSE;
  if (named && pathed) {
    post_error (element, create, GST_RESOURCE_ERROR_SETTINGS,
        g_strdup_printf ("Both stream-name ('%s') and socket-path ('%s') are "
            "set on %s: set only one of them (stream-name for a stream in "
            "your stream directory, socket-path for an explicit path)",
            stream_name, socket_path, kind), NULL);
    return NULL;
  }
  if (!named && !pathed) {
    post_error (element, create, GST_RESOURCE_ERROR_NOT_FOUND,
        g_strdup_printf ("No stream set: set %s's stream-name (e.g. "
            "stream-name=cam0), or socket-path for an explicit path", kind),
        g_strdup ("stream-name and socket-path are empty"));
    return NULL;
  }
  if (pathed)
    return resolve_socket_path (element, socket_path, create);
  return resolve_stream_name (element, stream_name, create, dir_missing);
}

gboolean
gst_zcipc_address_check_dir (GstElement * element, const gchar * stream_name)
{
  const gchar *runtime_dir = g_getenv ("XDG_RUNTIME_DIR");
  gchar buf[PATH_MAX];
  int res;

  res = zcipc_stream_dir (runtime_dir, getuid (), FALSE, buf, sizeof buf);
  if (res == 0)
    return TRUE;
  post_error (element, FALSE, 0,
      describe_dir_problem (buf, res, FALSE, runtime_dir),
      g_strdup_printf ("connected to stream '%s', then zcipc_stream_dir: %s",
          stream_name, g_strerror (-res)));
  return FALSE;
}
