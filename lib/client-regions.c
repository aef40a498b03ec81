/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* The regions a producer announces to a consumer: checked when announced
 * (sealed memfds and DMABufs only), mapped read-only at the first frame
 * into them within the client's map and populate limits, and unmapped
 * with their last reference (the announcement, or a frame still held).
 * Every function here runs with the client's lock held. */

#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-private.h"

void
client_region_unref_locked (struct zcipc_client *c, struct client_region *r)
{
  if (--r->refs > 0)
    return;
  for (unsigned int i = 0; i < c->n_regions; i++) {
    if (c->regions[i] == r) {
      c->regions[i] = c->regions[--c->n_regions];
      break;
    }
  }
  if (r->region.data) {
    c->mapped_bytes -= r->region.size;
    if (r->populated)
      c->populated_bytes -= r->region.size;
    zcipc_region_clear (&r->region);
  } else if (r->fd >= 0) {
    close (r->fd);              /* announced, never mapped */
  }
  free (r);
}

void
client_forget_regions_locked (struct zcipc_client *c)
{
  /* Drop the "announced" reference of every region; those that frames
   * still point into stay mapped until released. */
  for (unsigned int i = c->n_regions; i-- > 0;) {
    struct client_region *r = c->regions[i];
    if (r->announced) {
      r->announced = false;
      client_region_unref_locked (c, r);
    }
  }
}

/* Checks what REGION_ADD offers; says why it is refused. */
static int
check_offered_region_locked (struct zcipc_client *c,
    const struct zcipc_message *msg)
{
  const struct zcipc_wire_region_add *info = &msg->region_add.info;
  const char *why;
  int res;

  if (client_find_region_locked (c, info->region_id)) {
    client_set_reason (c, "the producer announced region %u twice",
        info->region_id);
    return -EPROTO;
  }
  if (c->n_regions >= ZCIPC_CLIENT_MAX_REGIONS) {
    client_set_reason (c, "the producer announced more than %u regions",
        ZCIPC_CLIENT_MAX_REGIONS);
    return -EPROTO;
  }
  /* Checked now, mapped at the first frame that needs it. */
  res = zcipc_region_check (msg->region_add.fd, info->size,
      (info->flags & ZCIPC_REGION_FLAG_DMABUF) != 0, &why);
  if (res < 0) {
    if (res == -EBADFD)
      client_set_reason (c, "the producer offered region %u (%llu bytes) "
          "that is %s; refusing to map it", info->region_id,
          (unsigned long long) info->size, why);
    else
      client_set_reason (c, "could not check region %u: %s",
          info->region_id, strerror (-res));
    return res == -EBADFD || res == -EINVAL ? -EPROTO : res;
  }
  return 0;
}

/* Takes the region REGION_ADD announces: on success its fd is the
 * client's, on failure still the caller's. */
int
client_add_region_locked (struct zcipc_client *c,
    const struct zcipc_message *msg)
{
  const struct zcipc_wire_region_add *info = &msg->region_add.info;
  struct client_region *r, **grown;
  int res;

  if ((res = check_offered_region_locked (c, msg)) < 0)
    return res;
  if (!(r = calloc (1, sizeof *r)))
    return -ENOMEM;
  if (!(grown = realloc (c->regions, (c->n_regions + 1) * sizeof *grown))) {
    free (r);
    return -ENOMEM;
  }
  c->regions = grown;
  r->id = info->region_id;
  r->flags = info->flags;
  r->fd = msg->region_add.fd;
  r->size = info->size;
  r->region.fd = -1;
  r->refs = 1;
  r->announced = true;
  c->regions[c->n_regions++] = r;
  return 0;
}

/* Maps `r`, not mapped yet, within this client's limits (see
 * client_map_region_locked()). */
int
client_map_new_region_locked (struct zcipc_client *c, struct client_region *r)
{
  unsigned int flags = 0;
  int res;

  if (r->size > SIZE_MAX || r->size > c->map_limit ||
      c->mapped_bytes > c->map_limit - r->size) {
    client_set_reason (c, "the producer's region %u of %llu bytes would "
        "take this consumer's mappings to more than the %llu bytes its "
        "stream can need (%llu mapped)", r->id, (unsigned long long) r->size,
        (unsigned long long) c->map_limit,
        (unsigned long long) c->mapped_bytes);
    return -EPROTO;
  }
  /* Populated up front only within its own bound: a producer's pages are
   * resident already, a sparse object's would be made for us. */
  if (r->size <= c->populate_limit &&
      c->populated_bytes <= c->populate_limit - r->size)
    flags |= ZCIPC_REGION_POPULATE;
  res = zcipc_region_import (&r->region, r->fd, (size_t) r->size,
      (r->flags & ZCIPC_REGION_FLAG_DMABUF) != 0, flags);
  if (res < 0) {
    client_set_reason (c, "could not map region %u of %llu bytes: %s", r->id,
        (unsigned long long) r->size, strerror (-res));
    return res == -EBADFD ? -EPROTO : res;
  }
  r->fd = -1;                   /* the region's now */
  c->mapped_bytes += r->size;
  r->populated = (flags & ZCIPC_REGION_POPULATE) != 0;
  if (r->populated)
    c->populated_bytes += r->size;
  return 0;
}

int
client_remove_region_locked (struct zcipc_client *c, uint32_t id,
    uint32_t * flags)
{
  struct client_region *r = client_find_region_locked (c, id);
  if (!r) {
    client_set_reason (c, "the producer removed unknown region %u", id);
    return -EPROTO;
  }
  *flags = r->flags;
  r->announced = false;
  client_region_unref_locked (c, r);
  return 0;
}

/* Resolves `m`, which says where the frame's metas lie in a region, and
 * copies them out to c->metas. */
int
client_copy_metas_locked (struct zcipc_client *c, uint64_t seq,
    const struct zcipc_wire_mem *m)
{
  struct client_region *r = client_find_region_locked (c, m->region_id);
  int res;

  /* The parser bounded the size (ZCIPC_WIRE_MAX_META_SIZE). */
  if (!r || m->offset > r->size || m->size > r->size - m->offset) {
    client_set_reason (c, "the metas of frame %llu point %s region %u",
        (unsigned long long) seq, r ? "outside" : "into unknown", m->region_id);
    return -EPROTO;
  }
  if (c->metas_size < m->size) {
    uint8_t *bigger = realloc (c->metas, m->size);
    if (!bigger) {
      client_set_reason (c, "no memory for %llu bytes of metas",
          (unsigned long long) m->size);
      return -ENOMEM;
    }
    c->metas = bigger;
    c->metas_size = m->size;
  }
  if ((res = client_map_region_locked (c, r)) < 0)
    return res;
  memcpy (c->metas, (const uint8_t *) r->region.data + m->offset, m->size);
  return 0;
}
