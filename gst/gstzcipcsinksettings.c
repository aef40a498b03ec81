/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzcipcsinksettings.h"

/* The types of the sink's enum properties (declared in gstzcipcsink.h). */
GType
gst_zcipc_slow_consumer_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ZCIPC_SLOW_CONSUMER_SKIP,
        "A consumer at its quota misses frames; nobody waits for it", "skip"},
    {GST_ZCIPC_SLOW_CONSUMER_WAIT,
          "Lossless: wait for the slowest consumer, drop it after wait-timeout",
        "wait"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZcipcSlowConsumer", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

GType
gst_zcipc_copy_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_ZCIPC_COPY_MODE_ALLOW,
        "Copy buffers that are not in shared memory (counted)", "allow"},
    {GST_ZCIPC_COPY_MODE_FORBID,
        "Fail on a buffer that is not in shared memory", "forbid"},
    {0, NULL, NULL}
  };

  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstZcipcCopyMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

void
gst_zcipc_sink_settings_init (GstZcipcSinkSettings * settings)
{
  settings->socket_path = g_strdup (DEFAULT_SOCKET_PATH);
  settings->stream_name = g_strdup (DEFAULT_STREAM_NAME);
  settings->socket_mode = DEFAULT_SOCKET_MODE;
  settings->consumer_quota = DEFAULT_CONSUMER_QUOTA;
  settings->max_consumers = DEFAULT_MAX_CONSUMERS;
  settings->slow_consumer = DEFAULT_SLOW_CONSUMER;
  settings->wait_timeout = DEFAULT_WAIT_TIMEOUT;
  settings->min_consumers = DEFAULT_MIN_CONSUMERS;
  settings->pool_size = DEFAULT_POOL_SIZE;
  settings->copy_mode = DEFAULT_COPY_MODE;
  settings->yield_after_send = DEFAULT_YIELD_AFTER_SEND;
  settings->allowed_uids = g_strdup (DEFAULT_ALLOWED_UIDS);
  settings->allowed_gids = g_strdup (DEFAULT_ALLOWED_GIDS);
}

void
gst_zcipc_sink_settings_clear (GstZcipcSinkSettings * settings)
{
  g_clear_pointer (&settings->socket_path, g_free);
  g_clear_pointer (&settings->stream_name, g_free);
  g_clear_pointer (&settings->allowed_uids, g_free);
  g_clear_pointer (&settings->allowed_gids, g_free);
}

/* Sets property `prop_id` from `value`; FALSE: not a setting. */
gboolean
gst_zcipc_sink_settings_set (GstZcipcSinkSettings * settings, guint prop_id,
    const GValue * value)
{
  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_free (settings->socket_path);
      settings->socket_path = g_value_dup_string (value);
      break;
    case PROP_STREAM_NAME:
      g_free (settings->stream_name);
      settings->stream_name = g_value_dup_string (value);
      break;
    case PROP_SOCKET_MODE:
      settings->socket_mode = g_value_get_uint (value);
      break;
    case PROP_CONSUMER_QUOTA:
      settings->consumer_quota = g_value_get_uint (value);
      break;
    case PROP_MAX_CONSUMERS:
      settings->max_consumers = g_value_get_uint (value);
      break;
    case PROP_SLOW_CONSUMER:
      settings->slow_consumer = g_value_get_enum (value);
      break;
    case PROP_WAIT_TIMEOUT:
      settings->wait_timeout = g_value_get_uint (value);
      break;
    case PROP_MIN_CONSUMERS:
      settings->min_consumers = g_value_get_uint (value);
      break;
    case PROP_POOL_SIZE:
      settings->pool_size = g_value_get_uint (value);
      break;
    case PROP_COPY_MODE:
      settings->copy_mode = g_value_get_enum (value);
      break;
    case PROP_YIELD_AFTER_SEND:
      settings->yield_after_send = g_value_get_boolean (value);
      break;
    case PROP_ALLOWED_UIDS:
      g_free (settings->allowed_uids);
      settings->allowed_uids = g_value_dup_string (value);
      break;
    case PROP_ALLOWED_GIDS:
      g_free (settings->allowed_gids);
      settings->allowed_gids = g_value_dup_string (value);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}

/* Puts property `prop_id` in `value`; FALSE: not a setting. */
gboolean
gst_zcipc_sink_settings_get (const GstZcipcSinkSettings * settings,
    guint prop_id, GValue * value)
{
  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_value_set_string (value, settings->socket_path);
      break;
    case PROP_STREAM_NAME:
      g_value_set_string (value, settings->stream_name);
      break;
    case PROP_SOCKET_MODE:
      g_value_set_uint (value, settings->socket_mode);
      break;
    case PROP_CONSUMER_QUOTA:
      g_value_set_uint (value, settings->consumer_quota);
      break;
    case PROP_MAX_CONSUMERS:
      g_value_set_uint (value, settings->max_consumers);
      break;
    case PROP_SLOW_CONSUMER:
      g_value_set_enum (value, settings->slow_consumer);
      break;
    case PROP_WAIT_TIMEOUT:
      g_value_set_uint (value, settings->wait_timeout);
      break;
    case PROP_MIN_CONSUMERS:
      g_value_set_uint (value, settings->min_consumers);
      break;
    case PROP_POOL_SIZE:
      g_value_set_uint (value, settings->pool_size);
      break;
    case PROP_COPY_MODE:
      g_value_set_enum (value, settings->copy_mode);
      break;
    case PROP_YIELD_AFTER_SEND:
      g_value_set_boolean (value, settings->yield_after_send);
      break;
    case PROP_ALLOWED_UIDS:
      g_value_set_string (value, settings->allowed_uids);
      break;
    case PROP_ALLOWED_GIDS:
      g_value_set_string (value, settings->allowed_gids);
      break;
    default:
      return FALSE;
  }
  return TRUE;
}
