/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/**
 * SECTION:gstzcipcallocator
 * @title: GstZcipcAllocator
 * @short_description: memory in sealed memfd regions that consumers map
 *
 * Memory handed out by zcipcsink lives in #GstZcipcRegion objects: one memfd
 * each, mapped once, sealed after the producer's writable mapping. A
 * #GstZcipcProducerPool carves many slots out of one region; a plain
 * gst_allocator_alloc() (upstream that builds its own pool from the
 * allocation parameters) gets a region of its own, recycled through a small
 * cache so that consumers map each region once and not once per frame.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>
#include <unistd.h>

#include "gstzcipcallocator.h"

GST_DEBUG_CATEGORY_STATIC (gst_zcipc_allocator_debug);
#define GST_CAT_DEFAULT gst_zcipc_allocator_debug

/* Regions kept for reuse by plain allocations, so a pool upstream builds
 * on our allocator recycles regions instead of making new ones. */
#define REGION_CACHE_SIZE 16

typedef struct
{
  GstMemory mem;
  GstZcipcRegion *region;
  gsize slot_offset;            /* where this memory's maxsize starts */
  gint slot;                    /* slot index, or -1 for a whole region */
} GstZcipcMemory;

struct _GstZcipcAllocator
{
  GstAllocator parent;

  GMutex lock;                  /* protects cache */
  GQueue cache;                 /* GstZcipcRegion*, whole-region allocations */
};

G_DEFINE_TYPE (GstZcipcAllocator, gst_zcipc_allocator, GST_TYPE_ALLOCATOR);

static gint next_region_id = 0; /* atomic */

GstZcipcRegion *
gst_zcipc_region_new (gsize size, guint n_slots, gsize slot_stride,
    GError ** error)
{
  GstZcipcRegion *region = g_new0 (GstZcipcRegion, 1);
  gchar name[64];
  int res;

  region->refcount = 1;
  region->id = (guint32) g_atomic_int_add (&next_region_id, 1) + 1;
  region->n_slots = n_slots;
  region->slot_stride = slot_stride;
  g_snprintf (name, sizeof name, "zcipc-%d-%u", (int) getpid (), region->id);
  res = zcipc_region_create (&region->region, name, size,
      ZCIPC_REGION_POPULATE);
  if (res < 0) {
    g_set_error (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT,
        "Could not create a shared memory region of %" G_GSIZE_FORMAT
        " bytes: %s", size, g_strerror (-res));
    g_free (region);
    return NULL;
  }
  GST_DEBUG ("region %u: %" G_GSIZE_FORMAT " bytes, %u slots, fd %d",
      region->id, region->region.size, n_slots, region->region.fd);
  return region;
}

GstZcipcRegion *
gst_zcipc_region_ref (GstZcipcRegion * region)
{
  g_atomic_int_inc (&region->refcount);
  return region;
}

void
gst_zcipc_region_unref (GstZcipcRegion * region)
{
  if (!g_atomic_int_dec_and_test (&region->refcount))
    return;
  GST_DEBUG ("region %u freed", region->id);
  zcipc_region_clear (&region->region);
  g_free (region);
}

/* Called when a consumer that left or was cut off pinned one of its slots
 * past the producer's bound: the producer gives the region up. */
void
gst_zcipc_region_retire (GstZcipcRegion * region)
{
  if (g_atomic_int_compare_and_exchange (&region->retired, 0, 1))
    GST_DEBUG ("region %u retired", region->id);
}

gboolean
gst_zcipc_region_is_retired (GstZcipcRegion * region)
{
  return g_atomic_int_get (&region->retired) != 0;
}

/* Whether the caller's reference is the last one: no memory, pool or
 * allocator cache uses the region any more, so nothing can hand out or
 * point into it again. (Another thread may take no new reference: only
 * holders of one can.) */
gboolean
gst_zcipc_region_is_held_only_by_caller (GstZcipcRegion * region)
{
  return g_atomic_int_get (&region->refcount) == 1;
}

static GstZcipcMemory *
memory_new (GstAllocator * allocator, GstMemory * parent,
    GstZcipcRegion * region, gsize slot_offset, gint slot, gsize maxsize,
    gsize offset, gsize size, GstMemoryFlags flags)
{
  GstZcipcMemory *mem = g_new0 (GstZcipcMemory, 1);

  gst_memory_init (GST_MEMORY_CAST (mem), flags, allocator, parent, maxsize,
      0, offset, size);
  mem->region = gst_zcipc_region_ref (region);
  mem->slot_offset = slot_offset;
  mem->slot = slot;
  return mem;
}

GstMemory *
gst_zcipc_allocator_alloc_slot (GstZcipcAllocator * self,
    GstZcipcRegion * region, guint slot, gsize size)
{
  g_return_val_if_fail (slot < region->n_slots && slot < 64, NULL);
  g_return_val_if_fail (size <= region->slot_stride, NULL);

  g_atomic_pointer_or (&region->slots_used, G_GUINT64_CONSTANT (1) << slot);
  return GST_MEMORY_CAST (memory_new (GST_ALLOCATOR_CAST (self), NULL, region,
          slot * region->slot_stride, (gint) slot, region->slot_stride, 0,
          size, 0));
}

static GstMemory *
gst_zcipc_allocator_alloc (GstAllocator * allocator, gsize size,
    GstAllocationParams * params)
{
  GstZcipcAllocator *self = GST_ZCIPC_ALLOCATOR (allocator);
  GstZcipcRegion *region = NULL;
  gsize maxsize = params->prefix + size + params->padding;
  GError *error = NULL;
  GList *l;

  /* Reuse a cached region that fits without wasting more than half. */
  g_mutex_lock (&self->lock);
  for (l = self->cache.head; l; l = l->next) {
    GstZcipcRegion *r = l->data;
    if (r->region.size >= maxsize && r->region.size / 2 <= maxsize) {
      region = r;
      g_queue_delete_link (&self->cache, l);
      break;
    }
  }
  g_mutex_unlock (&self->lock);

  if (!region) {
    region = gst_zcipc_region_new (maxsize, 0, 0, &error);
    if (!region) {
      GST_WARNING_OBJECT (self, "%s", error->message);
      g_clear_error (&error);
      return NULL;
    }
  }
  {
    GstZcipcMemory *mem = memory_new (allocator, NULL, region, 0, -1,
        maxsize, params->prefix, size, params->flags);
    if (params->flags & GST_MEMORY_FLAG_ZERO_PREFIXED && params->prefix)
      memset (region->region.data, 0, params->prefix);
    if (params->flags & GST_MEMORY_FLAG_ZERO_PADDED && params->padding)
      memset ((guint8 *) region->region.data + params->prefix + size, 0,
          params->padding);
    /* memory_new took its own reference; the creation one goes, a cached
     * one goes back to... nobody: the memory holds it now. */
    gst_zcipc_region_unref (region);
    return GST_MEMORY_CAST (mem);
  }
}

static void
gst_zcipc_allocator_free (GstAllocator * allocator, GstMemory * memory)
{
  GstZcipcAllocator *self = GST_ZCIPC_ALLOCATOR (allocator);
  GstZcipcMemory *mem = (GstZcipcMemory *) memory;
  GstZcipcRegion *region = mem->region;

  if (mem->slot >= 0 && !memory->parent)
    g_atomic_pointer_and (&region->slots_used,
        ~(G_GUINT64_CONSTANT (1) << mem->slot));

  if (mem->slot < 0 && !memory->parent && !gst_zcipc_region_is_retired (region)) {
    /* A whole-region allocation: keep the region for the next one. */
    g_mutex_lock (&self->lock);
    if (self->cache.length < REGION_CACHE_SIZE) {
      g_queue_push_head (&self->cache, region);
      region = NULL;
    }
    g_mutex_unlock (&self->lock);
  }
  if (region)
    gst_zcipc_region_unref (region);
  g_free (mem);
}

static gpointer
gst_zcipc_memory_map (GstMemory * memory, gsize maxsize, GstMapFlags flags)
{
  GstZcipcMemory *mem = (GstZcipcMemory *) memory;
  return (guint8 *) mem->region->region.data + mem->slot_offset;
}

static void
gst_zcipc_memory_unmap (GstMemory * memory)
{
}

static GstMemory *
gst_zcipc_memory_share (GstMemory * memory, gssize offset, gssize size)
{
  GstZcipcMemory *mem = (GstZcipcMemory *) memory;
  GstMemory *parent = memory->parent ? memory->parent : memory;

  if (size == -1)
    size = memory->size - offset;
  /* Like system memory, a shared part is read-only: the parent stays the
   * only writer. */
  return GST_MEMORY_CAST (memory_new (memory->allocator, parent, mem->region,
          mem->slot_offset, mem->slot, memory->maxsize, memory->offset + offset,
          size, GST_MINI_OBJECT_FLAGS (parent) |
          GST_MINI_OBJECT_FLAG_LOCK_READONLY));
}

static GstMemory *
gst_zcipc_memory_copy (GstMemory * memory, gssize offset, gssize size)
{
  GstMemory *copy;
  GstMapInfo in, out;

  if (size == -1)
    size = memory->size > (gsize) offset ? memory->size - offset : 0;
  copy = gst_allocator_alloc (NULL, size, NULL);
  if (!gst_memory_map (memory, &in, GST_MAP_READ))
    goto fail;
  if (!gst_memory_map (copy, &out, GST_MAP_WRITE)) {
    gst_memory_unmap (memory, &in);
    goto fail;
  }
  memcpy (out.data, in.data + offset, size);
  gst_memory_unmap (copy, &out);
  gst_memory_unmap (memory, &in);
  return copy;

fail:
  gst_memory_unref (copy);
  return NULL;
}

static void
gst_zcipc_allocator_finalize (GObject * object)
{
  GstZcipcAllocator *self = GST_ZCIPC_ALLOCATOR (object);
  GstZcipcRegion *region;

  while ((region = g_queue_pop_head (&self->cache)))
    gst_zcipc_region_unref (region);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (gst_zcipc_allocator_parent_class)->finalize (object);
}

static void
gst_zcipc_allocator_class_init (GstZcipcAllocatorClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstAllocatorClass *allocator_class = GST_ALLOCATOR_CLASS (klass);

  gobject_class->finalize = gst_zcipc_allocator_finalize;
  allocator_class->alloc = gst_zcipc_allocator_alloc;
  allocator_class->free = gst_zcipc_allocator_free;

  GST_DEBUG_CATEGORY_INIT (gst_zcipc_allocator_debug, "zcipcallocator", 0,
      "zcipc shared memory allocator");
}

static void
gst_zcipc_allocator_init (GstZcipcAllocator * self)
{
  GstAllocator *allocator = GST_ALLOCATOR_CAST (self);

  allocator->mem_type = GST_ZCIPC_MEMORY_TYPE;
  allocator->mem_map = gst_zcipc_memory_map;
  allocator->mem_unmap = gst_zcipc_memory_unmap;
  allocator->mem_share = gst_zcipc_memory_share;
  allocator->mem_copy = gst_zcipc_memory_copy;
  g_mutex_init (&self->lock);
  g_queue_init (&self->cache);
}

GstAllocator *
gst_zcipc_allocator_new (void)
{
  GstAllocator *allocator = g_object_new (GST_TYPE_ZCIPC_ALLOCATOR, NULL);
  gst_object_ref_sink (allocator);
  return allocator;
}

gboolean
gst_is_zcipc_memory (GstMemory * mem)
{
  return mem && mem->allocator &&
      g_type_check_instance_is_a ((GTypeInstance *) mem->allocator,
      GST_TYPE_ZCIPC_ALLOCATOR);
}

GstZcipcRegion *
gst_zcipc_memory_get_region (GstMemory * memory, gsize * region_offset)
{
  GstZcipcMemory *mem = (GstZcipcMemory *) memory;

  if (!gst_is_zcipc_memory (memory))
    return NULL;
  if (region_offset)
    *region_offset = mem->slot_offset + memory->offset;
  return mem->region;
}
