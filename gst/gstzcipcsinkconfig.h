/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/* From zcipcsink's setup properties to its server: user and group names to
 * ids (allowed-uids, allowed-gids), socket-mode as gst-launch-1.0 writes it,
 * and the error a user can act on when the server cannot be made.
 *
 * Owns nothing and keeps no state: plain functions, called from start().
 * Each one that fails posts a GST_ELEMENT_ERROR on `sink` itself.
 */
#ifndef __GST_ZCIPC_SINK_CONFIG_H__
#define __GST_ZCIPC_SINK_CONFIG_H__

#include <gst/gst.h>

G_BEGIN_DECLS

gboolean gst_zcipc_sink_config_socket_mode (GstElement * sink, guint value,
    guint * mode);
gboolean gst_zcipc_sink_config_allowed_ids (GstElement * sink,
    const gchar * uid_list, const gchar * gid_list, GArray * uids,
    GArray * gids);
void gst_zcipc_sink_config_post_server_error (GstElement * sink,
    const gchar * path, int res);

G_END_DECLS
#endif
