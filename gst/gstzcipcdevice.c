/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/**
 * SECTION:gstzcipcdevice
 * @title: GstZcipcDevice
 * @see_also: #GstZcipcDeviceProvider, zcipcsrc
 *
 * One live zcipc stream as a #GstDevice: a producer (zcipcsink) that
 * answered on its socket. gst_device_create_element() gives a zcipcsrc
 * reading that socket.
 *
 * The device's properties (gst_device_get_properties()) are a structure
 * named `zcipc-device-properties` with:
 *
 * - `device.api` (string): "zcipc"
 * - `zcipc.stream-name` (string): the stream's name; absent for a socket
 *   that is not a named stream
 * - `zcipc.socket-path` (string): the producer's socket
 * - `zcipc.pid` (int): the producer's process id, as it reported it
 * - `zcipc.uri` (string): `zcipc://NAME`, or `zcipc://` + the socket path
 *
 * The device class is `Video/Source`, or `Audio/Source` when the stream's
 * caps are audio.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzcipcdevice.h"

struct _GstZcipcDevice
{
  GstDevice parent;

  /* Set at construction, constant afterwards. */
  gchar *socket_path;
  gchar *caps_string;
};

enum
{
  PROP_0,
  PROP_SOCKET_PATH,
  PROP_CAPS_STRING,
};

G_DEFINE_TYPE (GstZcipcDevice, gst_zcipc_device, GST_TYPE_DEVICE);

static void gst_zcipc_device_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_zcipc_device_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static void gst_zcipc_device_finalize (GObject * object);
static GstElement *gst_zcipc_device_create_element (GstDevice * device,
    const gchar * name);
static gboolean gst_zcipc_device_reconfigure_element (GstDevice * device,
    GstElement * element);

static void
gst_zcipc_device_class_init (GstZcipcDeviceClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstDeviceClass *device_class = GST_DEVICE_CLASS (klass);

  gobject_class->set_property = gst_zcipc_device_set_property;
  gobject_class->get_property = gst_zcipc_device_get_property;
  gobject_class->finalize = gst_zcipc_device_finalize;

  device_class->create_element = gst_zcipc_device_create_element;
  device_class->reconfigure_element = gst_zcipc_device_reconfigure_element;

  /**
   * GstZcipcDevice:socket-path:
   *
   * The producer's socket, which the elements this device creates read.
   */
  g_object_class_install_property (gobject_class, PROP_SOCKET_PATH,
      g_param_spec_string ("socket-path", "Socket path",
          "The producer's socket", NULL,
          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));

  /**
   * GstZcipcDevice:caps-string:
   *
   * The stream's caps as the producer reported them ("" before it had
   * caps), so that a provider can tell when a stream's caps changed.
   */
  g_object_class_install_property (gobject_class, PROP_CAPS_STRING,
      g_param_spec_string ("caps-string", "Caps string",
          "The stream's caps as the producer reported them", "",
          G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS));
}

static void
gst_zcipc_device_init (GstZcipcDevice * self)
{
}

static void
gst_zcipc_device_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstZcipcDevice *self = GST_ZCIPC_DEVICE (object);

  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_free (self->socket_path);
      self->socket_path = g_value_dup_string (value);
      break;
    case PROP_CAPS_STRING:
      g_free (self->caps_string);
      self->caps_string = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_zcipc_device_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstZcipcDevice *self = GST_ZCIPC_DEVICE (object);

  switch (prop_id) {
    case PROP_SOCKET_PATH:
      g_value_set_string (value, self->socket_path);
      break;
    case PROP_CAPS_STRING:
      g_value_set_string (value, self->caps_string);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_zcipc_device_finalize (GObject * object)
{
  GstZcipcDevice *self = GST_ZCIPC_DEVICE (object);

  g_free (self->socket_path);
  g_free (self->caps_string);
  G_OBJECT_CLASS (gst_zcipc_device_parent_class)->finalize (object);
}

static GstElement *
gst_zcipc_device_create_element (GstDevice * device, const gchar * name)
{
  GstZcipcDevice *self = GST_ZCIPC_DEVICE (device);
  GstElement *element;

  element = gst_element_factory_make ("zcipcsrc", name);
  if (element != NULL)
    g_object_set (element, "socket-path", self->socket_path, NULL);
  return element;
}

static gboolean
gst_zcipc_device_reconfigure_element (GstDevice * device, GstElement * element)
{
  GstZcipcDevice *self = GST_ZCIPC_DEVICE (device);
  GstElementFactory *factory = gst_element_get_factory (element);

  if (factory == NULL || g_strcmp0 (GST_OBJECT_NAME (factory), "zcipcsrc"))
    return FALSE;
  /* socket-path is a setup property: zcipcsrc takes it in NULL or READY. */
  g_object_set (element, "socket-path", self->socket_path, NULL);
  return TRUE;
}

/* Whether caps of this stream are audio: all their structures audio/x-raw
 * (or another audio/ media type), none video. */
static gboolean
caps_are_audio (const GstCaps * caps)
{
  guint i, n = gst_caps_get_size (caps);

  if (n == 0 || gst_caps_is_any (caps))
    return FALSE;
  for (i = 0; i < n; i++) {
    const gchar *media =
        gst_structure_get_name (gst_caps_get_structure (caps, i));
    if (!g_str_has_prefix (media, "audio/"))
      return FALSE;
  }
  return TRUE;
}

/**
 * gst_zcipc_device_new:
 * @stream_name: (nullable): the stream's name, or %NULL for a socket that is
 *   not a named stream
 * @socket_path: the producer's socket
 * @pid: the producer's pid, as its stats reply gave it
 * @caps_string: the stream's caps as the producer reported them; "" (no caps
 *   yet) or caps that do not parse give ANY
 *
 * Returns: (transfer floating): a new device
 */
GstDevice *
gst_zcipc_device_new (const gchar * stream_name, const gchar * socket_path,
    gint pid, const gchar * caps_string)
{
  g_autoptr (GstCaps) caps = NULL;
  g_autofree gchar *uri = NULL;
  GstStructure *props;
  GstDevice *device;

  if (caps_string != NULL && caps_string[0] != '\0')
    caps = gst_caps_from_string (caps_string);
  if (caps == NULL)
    caps = gst_caps_new_any ();

  uri = stream_name ? g_strconcat ("zcipc://", stream_name, NULL)
      : g_strconcat ("zcipc://", socket_path, NULL);
  props = gst_structure_new ("zcipc-device-properties",
      "device.api", G_TYPE_STRING, "zcipc",
      "zcipc.socket-path", G_TYPE_STRING, socket_path,
      "zcipc.pid", G_TYPE_INT, pid, "zcipc.uri", G_TYPE_STRING, uri, NULL);
  if (stream_name != NULL)
    gst_structure_set (props, "zcipc.stream-name", G_TYPE_STRING, stream_name,
        NULL);

  device = g_object_new (GST_TYPE_ZCIPC_DEVICE,
      "display-name", stream_name ? stream_name : socket_path,
      "device-class", caps_are_audio (caps) ? "Audio/Source" : "Video/Source",
      "caps", caps, "properties", props, "socket-path", socket_path,
      "caps-string", caps_string ? caps_string : "", NULL);
  gst_structure_free (props);
  return device;
}

const gchar *
gst_zcipc_device_get_socket_path (GstZcipcDevice * device)
{
  return device->socket_path;
}

const gchar *
gst_zcipc_device_get_caps_string (GstZcipcDevice * device)
{
  return device->caps_string;
}
