/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef __GST_ZCIPC_ADDRESS_H__
#define __GST_ZCIPC_ADDRESS_H__

/* Where a stream is, as both elements take it: a stream-name in the user's
 * stream directory (lib/zcipc/streamdir.h), an explicit socket-path, or a
 * zcipc:// URI that says one of the two. Plain functions without state of
 * their own: the elements keep the properties under their object lock and
 * call these from start() and their URI handlers. */

#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_ZCIPC_URI_PROTOCOL "zcipc"

/* Parses `uri`: "zcipc://NAME" gives *stream_name, "zcipc:///abs/path"
 * (percent-escaped) gives *socket_path; the other is set to NULL. A bad
 * name, an empty URI, a path that is not absolute, a query or a fragment
 * fail with GST_URI_ERROR_BAD_URI and a message that says the grammar. */
gboolean gst_zcipc_uri_parse (const gchar * uri, gchar ** stream_name,
    gchar ** socket_path, GError ** error);

/* The URI of `stream_name` (when set and non-empty) or else `socket_path`;
 * NULL when neither is set, or for an abstract socket ("@name"), which has
 * no URI form. */
gchar *gst_zcipc_uri_build (const gchar * stream_name,
    const gchar * socket_path);

/* The GstURIHandler of both elements, over their `stream_name` and
 * `socket_path` fields (kept under the element's object lock).
 * gst_zcipc_uri_get() is get_uri. gst_zcipc_uri_set() is set_uri: it
 * parses `uri` and, while `element` is at most READY, replaces both fields
 * with what it says (the other cleared) and notifies both properties;
 * otherwise GST_URI_ERROR_BAD_STATE, naming what the element is doing
 * (`running`: "publishes", "receives"). */
gchar *gst_zcipc_uri_get (GstElement * element, gchar * const *stream_name,
    gchar * const *socket_path);
gboolean gst_zcipc_uri_set (GstElement * element, const gchar * uri,
    gchar ** stream_name, gchar ** socket_path, GParamSpec * stream_name_pspec,
    GParamSpec * socket_path_pspec, const gchar * running, GError ** error);

/* For start(): the socket of the stream given by exactly one of
 * `stream_name` and `socket_path` (an empty string counts as unset). A
 * named stream lives in the directory of $XDG_RUNTIME_DIR and our uid; the
 * producer passes `create` to make that directory, a consumer does not and
 * gets *dir_missing (if not NULL) TRUE when it does not exist yet: the
 * producer makes it, so the consumer waits as for a missing socket. On any
 * mistake (both or neither set, a bad name, a directory of another owner or
 * writable by others), posts an element error on `element` that says what
 * to do, and returns NULL. */
gchar *gst_zcipc_address_resolve (GstElement * element,
    const gchar * stream_name, const gchar * socket_path, gboolean create,
    gboolean * dir_missing);

/* For a consumer that connected to a named stream: whether the stream
 * directory passes its checks now. It may not have existed at start()
 * (then nobody checked it), so someone else may have made it meanwhile.
 * FALSE after posting an element error, as above. */
gboolean gst_zcipc_address_check_dir (GstElement * element,
    const gchar * stream_name);

G_END_DECLS
#endif
