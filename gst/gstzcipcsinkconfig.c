/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* lstat, for g_lstat */
#endif
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <glib/gstdio.h>

#include "gstzcipcsinkconfig.h"

/* The sink's parts log in the sink's category, with the sink as object. */
GST_DEBUG_CATEGORY_EXTERN (gst_zcipc_sink_debug);
#define GST_CAT_DEFAULT gst_zcipc_sink_debug

/* Parses "1000,alice" into ids, resolving names; FALSE names the bad entry. */
static gboolean
parse_id_list (const gchar * list, gboolean groups, GArray * out, gchar ** bad)
{
  gchar **items;
  gboolean ok = TRUE;

  if (!list || !*list)
    return TRUE;
  items = g_strsplit (list, ",", -1);
  for (gchar ** item = items; *item && ok; item++) {
    gchar *name = g_strstrip (*item), *end = NULL;
    guint64 id;

    if (!*name)
      continue;
    id = g_ascii_strtoull (name, &end, 10);
    if (end && *end == '\0' && id <= G_MAXUINT32) {
      guint32 v = (guint32) id;
      g_array_append_val (out, v);
    } else if (!groups && getpwnam (name)) {
      guint32 v = getpwnam (name)->pw_uid;
      g_array_append_val (out, v);
    } else if (groups && getgrnam (name)) {
      guint32 v = getgrnam (name)->gr_gid;
      g_array_append_val (out, v);
    } else {
      *bad = g_strdup (name);
      ok = FALSE;
    }
  }
  g_strfreev (items);
  return ok;
}

/* allowed-uids and allowed-gids as ids, into `uids` and `gids` (guint32). */
gboolean
gst_zcipc_sink_config_allowed_ids (GstElement * sink, const gchar * uid_list,
    const gchar * gid_list, GArray * uids, GArray * gids)
{
  g_autofree gchar *bad = NULL;

  if (parse_id_list (uid_list, FALSE, uids, &bad) &&
      parse_id_list (gid_list, TRUE, gids, &bad))
    return TRUE;
  GST_ELEMENT_ERROR (sink, RESOURCE, SETTINGS,
      ("'%s' in allowed-uids/allowed-gids is neither a number nor a known "
          "user or group", bad), (NULL));
  return FALSE;
}

/* gst-launch-1.0 reads "socket-mode=0660" as octal but "socket-mode=660"
 * as decimal 660, which no mode is: a value above 0777 whose decimal
 * digits are all octal digits is taken as the octal mode they spell. */
static gboolean
socket_mode_from_value (guint value, guint * mode)
{
  guint octal = 0, scale = 1;

  if (value <= 0777) {
    *mode = value;
    return TRUE;
  }
  for (; value > 0; value /= 10, scale *= 8) {
    if (value % 10 > 7)
      return FALSE;
    octal += (value % 10) * scale;
  }
  if (octal > 0777)
    return FALSE;
  *mode = octal;
  return TRUE;
}

/* socket-mode `value` as a file mode. */
gboolean
gst_zcipc_sink_config_socket_mode (GstElement * sink, guint value, guint * mode)
{
  if (socket_mode_from_value (value, mode))
    return TRUE;
  GST_ELEMENT_ERROR (sink, RESOURCE, SETTINGS,
      ("socket-mode %u is not a file mode: write it in octal with its "
          "leading 0, from 0 to 0777, e.g. socket-mode=0660", value),
      ("socket-mode above 0777 with a digit 8 or 9, or above 0777 read as "
          "octal"));
  return FALSE;
}

/* What is in the way of socket `path` when bind() says EEXIST. */
static const gchar *
describe_obstacle (const gchar * path)
{
  GStatBuf st;

  if (g_lstat (path, &st) == 0 && S_ISDIR (st.st_mode))
    return "a directory";
  if (g_lstat (path, &st) == 0 && S_ISREG (st.st_mode))
    return "a regular file";
  return "a file";
}

/* Posts why zcipc_server_new() failed with `res` for socket `path`. */
void
gst_zcipc_sink_config_post_server_error (GstElement * sink,
    const gchar * path, int res)
{
  switch (res) {
    case -ENAMETOOLONG:
      GST_ELEMENT_ERROR (sink, RESOURCE, SETTINGS,
          ("Socket path '%s' is too long: a Unix socket path holds at most "
              "107 bytes", path), ("zcipc_socket_listen: %s",
              g_strerror (-res)));
      break;
    case -ENOENT:
      GST_ELEMENT_ERROR (sink, RESOURCE, OPEN_WRITE,
          ("Could not create socket '%s': its directory does not exist",
              path), ("bind: %s", g_strerror (-res)));
      break;
    case -EACCES:
    case -EPERM:
    case -EROFS:
      GST_ELEMENT_ERROR (sink, RESOURCE, OPEN_WRITE,
          ("Could not create socket '%s': no permission to write in its "
              "directory", path), ("bind: %s", g_strerror (-res)));
      break;
    case -EADDRINUSE:
      GST_ELEMENT_ERROR (sink, RESOURCE, BUSY,
          ("Could not bind socket '%s': already in use by a running "
              "zcipcsink (or another live server)", path),
          ("bind: %s; a connect succeeded, so the socket is not stale",
              g_strerror (-res)));
      break;
    case -EEXIST:
      GST_ELEMENT_ERROR (sink, RESOURCE, OPEN_WRITE,
          ("Could not create socket '%s': %s is in the way (not a socket; "
              "zcipcsink replaces only a stale socket): remove it or choose "
              "another socket-path", path, describe_obstacle (path)),
          ("bind: %s", g_strerror (-res)));
      break;
    default:
      GST_ELEMENT_ERROR (sink, RESOURCE, OPEN_WRITE,
          ("Could not create socket '%s': %s", path, g_strerror (-res)),
          ("zcipc_server_new: %s", g_strerror (-res)));
      break;
  }
}
