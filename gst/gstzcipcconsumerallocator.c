/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
/**
 * SECTION:gstzcipcconsumerallocator
 * @title: GstZcipcConsumerAllocator
 * @short_description: zcipcsrc's fd memory over a memfd region it has
 *   mapped already
 *
 * A #GstFdAllocator whose memories are the consumer's view of a producer's
 * memfd region: gst_is_fd_memory() is TRUE, gst_fd_memory_get_fd() gives
 * the region's fd, and the memory's offset is the file offset of its first
 * byte, so an element that imports fd memory can use it. Mapping one
 * returns the read-only mapping the consumer made of the region when it
 * first saw it: a map costs no mmap and every frame of a region lies at the
 * same place. A writable map fails (the mapping is PROT_READ).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstzcipcconsumerallocator.h"

GST_DEBUG_CATEGORY_STATIC (gst_zcipc_consumer_allocator_debug);
#define GST_CAT_DEFAULT gst_zcipc_consumer_allocator_debug

struct _GstZcipcConsumerAllocator
{
  GstFdAllocator parent;
};

#define gst_zcipc_consumer_allocator_parent_class parent_class
G_DEFINE_TYPE (GstZcipcConsumerAllocator, gst_zcipc_consumer_allocator,
    GST_TYPE_FD_ALLOCATOR);

/* On a parent memory: the start of the region's mapping. */
static GQuark
region_data_quark (void)
{
  static GQuark quark = 0;

  if (!quark)
    quark = g_quark_from_static_string ("GstZcipcConsumerRegionData");
  return quark;
}

/* GstFdMemory's own map would mmap the fd again (and its free munmap what
 * it mapped): ours returns the mapping there is, and leaves GstFdMemory's
 * mapping unset, so its free never unmaps anything. gst_memory_map() adds
 * the memory's offset. */
static gpointer
consumer_mem_map (GstMemory * mem, gsize maxsize, GstMapFlags flags)
{
  GstMemory *parent = mem->parent ? mem->parent : mem;

  if (flags & GST_MAP_WRITE) {
    GST_DEBUG ("%p: refusing a writable map of read-only shared memory", mem);
    return NULL;
  }
  return gst_mini_object_get_qdata (GST_MINI_OBJECT_CAST (parent),
      region_data_quark ());
}

static void
consumer_mem_unmap (GstMemory * mem)
{
  /* The mapping is the region's, unmapped with it. */
}

static void
gst_zcipc_consumer_allocator_init (GstZcipcConsumerAllocator * self)
{
  GstAllocator *alloc = GST_ALLOCATOR_CAST (self);

  alloc->mem_type = GST_ZCIPC_CONSUMER_MEMORY_TYPE;
  alloc->mem_map = consumer_mem_map;
  alloc->mem_unmap = consumer_mem_unmap;
  /* mem_share stays GstFdMemory's: a share has the parent's fd and the
   * parent's offset plus its own, and maps through the parent. */
}

static void
gst_zcipc_consumer_allocator_class_init (GstZcipcConsumerAllocatorClass * klass)
{
  GST_DEBUG_CATEGORY_INIT (gst_zcipc_consumer_allocator_debug,
      "zcipcconsumerallocator", 0, "zcipcsrc's fd memory over mapped regions");
}

GstAllocator *
gst_zcipc_consumer_allocator_new (void)
{
  GstAllocator *alloc = g_object_new (GST_TYPE_ZCIPC_CONSUMER_ALLOCATOR, NULL);

  gst_object_ref_sink (alloc);
  return alloc;
}

/**
 * gst_zcipc_consumer_allocator_wrap_region:
 * @allocator: a #GstZcipcConsumerAllocator
 * @fd: the region's fd; stays the caller's (never closed here)
 * @data: the caller's read-only mapping of all of @fd
 * @size: the region's size
 *
 * Returns: (transfer full): a read-only fd memory over the whole region, to
 * be shared (gst_memory_share()) per frame. @fd and @data must stay valid
 * while it or a share of it can be mapped.
 */
GstMemory *
gst_zcipc_consumer_allocator_wrap_region (GstAllocator * allocator, gint fd,
    gconstpointer data, gsize size)
{
  GstMemory *mem;

  g_return_val_if_fail (GST_IS_ZCIPC_CONSUMER_ALLOCATOR (allocator), NULL);
  mem = gst_fd_allocator_alloc (allocator, fd, size,
      GST_FD_MEMORY_FLAG_DONT_CLOSE);
  if (!mem)
    return NULL;
  gst_mini_object_set_qdata (GST_MINI_OBJECT_CAST (mem), region_data_quark (),
      (gpointer) data, NULL);
  /* Shares inherit it: a writer downstream copies, never maps writable. */
  GST_MINI_OBJECT_FLAG_SET (mem, GST_MEMORY_FLAG_READONLY);
  GST_DEBUG_OBJECT (allocator, "region fd %d, %" G_GSIZE_FORMAT " bytes "
      "mapped at %p", fd, size, data);
  return mem;
}
