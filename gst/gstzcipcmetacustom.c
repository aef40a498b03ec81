/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The custom meta codec: a GstCustomMeta travels as its registered name
 * and its structure's string. A consumer registers names it has not seen
 * (within the bounds of gstzcipcserial.h), so applications need no setup
 * to read them; this file owns that process-wide registration. */

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "gstzcipcmetacodec.h"

/* Custom meta names this process registered for peers (for good: GStreamer
 * has no unregistering), and their lock. */
static GMutex registered_lock;
static GHashTable *registered_names;

static gboolean
encode_custom (GstMeta * meta, GByteArray * out)
{
  GstStructure *s;
  gchar *str;

  if (!gst_meta_info_is_custom (meta->info))
    return FALSE;
  s = gst_custom_meta_get_structure ((GstCustomMeta *) meta);
  /* The structure's name is the registered meta name by convention of
   * gst_meta_register_custom(); send the name explicitly anyway. */
  str = gst_structure_to_string (s);
  g_byte_array_append (out, (const guint8 *) g_type_name (meta->info->type),
      strlen (g_type_name (meta->info->type)) + 1);
  g_byte_array_append (out, (const guint8 *) str, strlen (str) + 1);
  g_free (str);
  return TRUE;
}

/* A name GStreamer can register as a type (g_type_register_static's
 * rules) and that names no type yet: registering it then cannot fail. */
static gboolean
registrable_name (const gchar * name)
{
  gchar *api_name;
  gboolean unused;

  if (!g_ascii_isalpha (name[0]) && name[0] != '_')
    return FALSE;
  for (const gchar * p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-' && *p != '+')
      return FALSE;
  api_name = g_strdup_printf ("%s-api", name);
  unused = g_type_from_name (name) == 0 && g_type_from_name (api_name) == 0;
  g_free (api_name);
  return unused;
}

/* The custom meta named `name`, registering it for the peer within the
 * bounds; NULL (counted in ctx->n_skipped) past them. *bad: the name is
 * no custom meta's (malformed). */
static const GstMetaInfo *
custom_meta_info (GstZcipcMetaContext * ctx, const gchar * name, gboolean * bad)
{
  const GstMetaInfo *info;

  *bad = FALSE;
  if (!g_hash_table_contains (ctx->custom_names, name)) {
    if (g_hash_table_size (ctx->custom_names) >=
        GST_ZCIPC_MAX_CUSTOM_METAS_PER_CONNECTION) {
      ctx->n_skipped++;
      return NULL;
    }
  }
  g_mutex_lock (&registered_lock);
  info = gst_meta_get_info (name);
  if (!info) {
    /* A custom meta is known by its registered name; the consumer registers
     * names it has not seen, so applications need no setup to read them,
     * but only so many: each registration lasts for the process. */
    if (!registered_names)
      registered_names = g_hash_table_new (g_str_hash, g_str_equal);
    if (g_hash_table_size (registered_names) >=
        GST_ZCIPC_MAX_CUSTOM_METAS_PER_PROCESS) {
      g_mutex_unlock (&registered_lock);
      ctx->n_skipped++;
      return NULL;
    }
    if (registrable_name (name)) {
      const gchar *tags[] = { NULL };

      info = gst_meta_register_custom (name, tags, NULL, NULL, NULL);
      if (info)
        g_hash_table_add (registered_names, (gpointer) g_intern_string (name));
    }
  }
  g_mutex_unlock (&registered_lock);
  if (!info || !gst_meta_info_is_custom (info)) {
    *bad = TRUE;
    return NULL;
  }
  g_hash_table_add (ctx->custom_names, g_strdup (name));
  return info;
}

static gboolean
decode_custom (GstBuffer * buffer, const guint8 * data, gsize size,
    GstZcipcMetaContext * ctx)
{
  const gchar *name = (const gchar *) data, *str;
  const guint8 *nul;
  GstStructure *src, *dst;
  GstCustomMeta *cm;
  gboolean bad;

  if (size < 4 || data[size - 1] != '\0' ||
      !(nul = memchr (data, '\0', size)) || nul == data + size - 1)
    return gst_zcipc_meta_malformed (ctx,
        "custom meta without a name and a structure");
  str = (const gchar *) nul + 1;
  if (memchr (str, '\0', size - (gsize) (nul + 1 - data)) != data + size - 1)
    return gst_zcipc_meta_malformed (ctx,
        "custom meta with bytes after its structure");
  if (nul - data > 128)
    return gst_zcipc_meta_malformed (ctx,
        "custom meta name longer than 128 bytes");
  if (!gst_zcipc_string_is_bounded (str, size - (gsize) (nul + 1 - data) - 1))
    return gst_zcipc_meta_malformed (ctx,
        "custom meta '%s' whose structure is longer than "
        "%d bytes or nested deeper than %d", name, GST_ZCIPC_MAX_STRING_SIZE,
        GST_ZCIPC_MAX_STRING_DEPTH);
  if (!custom_meta_info (ctx, name, &bad))
    return bad ? gst_zcipc_meta_malformed (ctx,
        "custom meta name '%s' is no custom meta's", name) : TRUE;
  if (!(src = gst_structure_from_string (str, NULL)))
    return gst_zcipc_meta_malformed (ctx,
        "custom meta '%s' with a malformed structure", name);
  cm = gst_buffer_add_custom_meta (buffer, name);
  if (!cm) {
    gst_structure_free (src);
    return gst_zcipc_meta_malformed (ctx, "GStreamer refused custom meta '%s'",
        name);
  }
  dst = gst_custom_meta_get_structure (cm);
  gst_structure_set_name (dst, gst_structure_get_name (src));
  for (gint i = 0; i < gst_structure_n_fields (src); i++) {
    const gchar *field = gst_structure_nth_field_name (src, i);
    gst_structure_set_value (dst, field, gst_structure_get_value (src, field));
  }
  gst_structure_free (src);
  return TRUE;
}

const GstZcipcMetaCodec gst_zcipc_meta_codec_custom = {
  NULL, GST_ZCIPC_META_CUSTOM, encode_custom, decode_custom
};
