/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#include <errno.h>
#include <string.h>

#include "zcipc/wire.h"

/* Every parse_* works on a datagram whose header was already checked: `len`
 * equals header.size and is at least the header. Fixed parts are memcpy'd out
 * so that an unaligned datagram (a fuzzer's, say) is never dereferenced as a
 * struct. */

static int
expect_fds (unsigned n_fds, unsigned expected)
{
  return n_fds == expected ? 0 : -EPROTO;
}

static int
parse_hello (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  if (len != sizeof msg->hello || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&msg->hello, data, sizeof msg->hello);
  if (msg->hello.magic != ZCIPC_WIRE_MAGIC)
    return -EPROTO;
  /* The version is checked by the receiver, which must answer a mismatch
   * with a REJECT naming both versions rather than a silent hang-up. */
  if (msg->hello.max_held == 0 || (msg->hello.flags & ~ZCIPC_HELLO_FLAGS_KNOWN))
    return -EPROTO;
  return 0;
}

static int
parse_welcome (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  if (len != sizeof msg->welcome || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&msg->welcome, data, sizeof msg->welcome);
  if (msg->welcome.magic != ZCIPC_WIRE_MAGIC)
    return -EPROTO;
  if (msg->welcome.quota == 0 || msg->welcome.quota > ZCIPC_WIRE_MAX_QUOTA)
    return -EPROTO;
  return 0;
}

static int
parse_reject (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  if (len != sizeof msg->reject || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&msg->reject, data, sizeof msg->reject);
  if (memchr (msg->reject.reason, '\0', sizeof msg->reject.reason) == NULL)
    return -EPROTO;
  if (msg->reject.error >= 0)
    return -EPROTO;
  return 0;
}

static int
parse_region_add (const uint8_t * data, size_t len, const int *fds,
    unsigned n_fds, struct zcipc_message *msg)
{
  const uint32_t known = ZCIPC_REGION_FLAG_MEMFD | ZCIPC_REGION_FLAG_DMABUF;

  if (len != sizeof msg->region_add.info || expect_fds (n_fds, 1) < 0)
    return -EPROTO;
  memcpy (&msg->region_add.info, data, sizeof msg->region_add.info);
  if (msg->region_add.info.size == 0 || (msg->region_add.info.flags & ~known))
    return -EPROTO;
  if (fds[0] < 0)
    return -EPROTO;
  msg->region_add.fd = fds[0];
  return 0;
}

static int
parse_region_remove (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  if (len != sizeof msg->region_remove || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&msg->region_remove, data, sizeof msg->region_remove);
  return 0;
}

static int
parse_event (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  const size_t fixed = sizeof msg->event.info;

  if (len < fixed || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&msg->event.info, data, fixed);
  if (msg->event.info.payload_size != len - fixed)
    return -EPROTO;
  msg->event.payload = data + fixed;
  return 0;
}

static int
parse_frame (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  const size_t fixed = sizeof msg->frame.info;
  uint32_t max_mems = ZCIPC_WIRE_MAX_MEMS;
  size_t mems_size;
  uint32_t i;

  if (len < fixed || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&msg->frame.info, data, fixed);
  if (msg->frame.info.frame_flags & ~ZCIPC_FRAME_FLAGS_KNOWN)
    return -EPROTO;
  if (msg->frame.info.frame_flags & ZCIPC_FRAME_FLAG_METAS_IN_REGION) {
    /* The metas' mem comes on top of the frame's own, and replaces the
     * inline metas. */
    if (msg->frame.info.n_mems == 0 || msg->frame.info.meta_size != 0)
      return -EPROTO;
    max_mems++;
  }
  /* n_mems 0 is a buffer without memory. */
  if (msg->frame.info.n_mems > max_mems)
    return -EPROTO;
  mems_size = (size_t) msg->frame.info.n_mems * sizeof (struct zcipc_wire_mem);
  /* Both counts are bounded, so the sum cannot overflow. */
  if (len != fixed + mems_size + msg->frame.info.meta_size)
    return -EPROTO;
  memcpy (msg->frame.mems, data + fixed, mems_size);
  for (i = 0; i < msg->frame.info.n_mems; i++) {
    const struct zcipc_wire_mem *m = &msg->frame.mems[i];
    /* Region bounds are checked by the consumer, which knows the regions. */
    if (m->size == 0 || m->offset + m->size < m->offset)
      return -EPROTO;
  }
  if ((msg->frame.info.frame_flags & ZCIPC_FRAME_FLAG_METAS_IN_REGION) &&
      msg->frame.mems[msg->frame.info.n_mems - 1].size >
      ZCIPC_WIRE_MAX_META_SIZE)
    return -EPROTO;
  msg->frame.meta = data + fixed + mems_size;
  return 0;
}

static int
parse_release (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  struct zcipc_wire_release fixed;

  if (len < sizeof fixed || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&fixed, data, sizeof fixed);
  if (fixed.count == 0 || fixed.count > ZCIPC_WIRE_MAX_RELEASES)
    return -EPROTO;
  if (len != sizeof fixed + fixed.count * sizeof (uint64_t))
    return -EPROTO;
  msg->release.count = fixed.count;
  memcpy (msg->release.seqs, data + sizeof fixed,
      fixed.count * sizeof (uint64_t));
  return 0;
}

static int
parse_leave (size_t len, unsigned n_fds)
{
  if (len != sizeof (struct zcipc_wire_leave) || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  return 0;
}

static int
parse_channel (const uint8_t * data, size_t len, const int *fds,
    unsigned n_fds, struct zcipc_message *msg)
{
  if (len != sizeof msg->channel.info || expect_fds (n_fds, 1) < 0)
    return -EPROTO;
  memcpy (&msg->channel.info, data, sizeof msg->channel.info);
  if (msg->channel.info.size == 0 || fds[0] < 0)
    return -EPROTO;
  msg->channel.fd = fds[0];
  return 0;
}

static int
parse_wake (size_t len, unsigned n_fds)
{
  if (len != sizeof (struct zcipc_wire_wake) || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  return 0;
}

static int
parse_quota (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  if (len != sizeof msg->quota || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&msg->quota, data, sizeof msg->quota);
  if (msg->quota.max_held == 0 || msg->quota.max_held > ZCIPC_WIRE_MAX_QUOTA)
    return -EPROTO;
  return 0;
}

static int
parse_grant (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  if (len != sizeof msg->grant || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&msg->grant, data, sizeof msg->grant);
  if (msg->grant.quota == 0 || msg->grant.quota > ZCIPC_WIRE_MAX_QUOTA)
    return -EPROTO;
  return 0;
}

static int
parse_report (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  if (len != sizeof msg->report || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&msg->report, data, sizeof msg->report);
  if (msg->report.flags != 0 || msg->report.reserved != 0 ||
      msg->report.lag_ns < -1)
    return -EPROTO;
  return 0;
}

static int
parse_stats_request (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  if (len != sizeof msg->stats_request || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (&msg->stats_request, data, sizeof msg->stats_request);
  if (msg->stats_request.magic != ZCIPC_WIRE_MAGIC)
    return -EPROTO;
  /* As with HELLO, the version is the receiver's to check: it answers a
   * version it does not speak with a REJECT naming both. */
  if (msg->stats_request.flags != 0 || msg->stats_request.reserved != 0)
    return -EPROTO;
  return 0;
}

static int
parse_stats_consumer (const struct zcipc_wire_stats_consumer *c)
{
  if (c->flags & ~ZCIPC_STATS_CONSUMER_FLAGS_KNOWN)
    return -EPROTO;
  if (c->quota == 0 || c->quota > ZCIPC_WIRE_MAX_QUOTA || c->held > c->quota)
    return -EPROTO;
  if (c->lag_ns < -1)
    return -EPROTO;
  if (!(c->flags & ZCIPC_STATS_CONSUMER_REPORTED) &&
      (c->frames_copied != 0 || c->lag_ns != -1))
    return -EPROTO;
  return 0;
}

static int
parse_stats_reply (const uint8_t * data, size_t len, unsigned n_fds,
    struct zcipc_message *msg)
{
  struct zcipc_wire_stats_reply *r = &msg->stats_reply.info;
  const size_t fixed = sizeof *r;
  size_t consumers_size;

  if (len < fixed || expect_fds (n_fds, 0) < 0)
    return -EPROTO;
  memcpy (r, data, fixed);
  /* A producer answers in the version asked for, which is ours. */
  if (r->magic != ZCIPC_WIRE_MAGIC || r->version != ZCIPC_STATS_VERSION)
    return -EPROTO;
  if ((r->flags & ~ZCIPC_STATS_FLAGS_KNOWN) ||
      r->n_consumers > ZCIPC_WIRE_STATS_MAX_CONSUMERS ||
      r->caps_size > ZCIPC_WIRE_STATS_CAPS_MAX || r->n_monitors == 0 ||
      r->quota == 0 || r->quota > ZCIPC_WIRE_MAX_QUOTA || r->last_frame_ns < 0)
    return -EPROTO;
  consumers_size = (size_t) r->n_consumers *
      sizeof (struct zcipc_wire_stats_consumer);
  /* Both counts are bounded, so the sum cannot overflow. */
  if (len != fixed + consumers_size + r->caps_size)
    return -EPROTO;
  for (uint32_t i = 0; i < r->n_consumers; i++) {
    struct zcipc_wire_stats_consumer c;
    memcpy (&c, data + fixed + i * sizeof c, sizeof c);
    if (parse_stats_consumer (&c) < 0)
      return -EPROTO;
  }
  if (memchr (data + fixed + consumers_size, '\0', r->caps_size))
    return -EPROTO;
  msg->stats_reply.consumers = data + fixed;
  msg->stats_reply.caps = (const char *) data + fixed + consumers_size;
  return 0;
}

int
zcipc_wire_parse (const void *data, size_t len, const int *fds,
    unsigned n_fds, struct zcipc_message *msg)
{
  const uint8_t *bytes = data;
  struct zcipc_wire_header header;

  msg->type = 0;
  if (data == NULL || len < sizeof header || len > ZCIPC_WIRE_MAX_MESSAGE_SIZE)
    return -EPROTO;
  memcpy (&header, bytes, sizeof header);
  if (header.size != len)
    return -EPROTO;

  switch (header.type) {
    case ZCIPC_WIRE_HELLO:
      msg->type = header.type;
      return parse_hello (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_WELCOME:
      msg->type = header.type;
      return parse_welcome (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_REJECT:
      msg->type = header.type;
      return parse_reject (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_REGION_ADD:
      msg->type = header.type;
      return parse_region_add (bytes, len, fds, n_fds, msg);
    case ZCIPC_WIRE_REGION_REMOVE:
      msg->type = header.type;
      return parse_region_remove (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_EVENT:
      msg->type = header.type;
      return parse_event (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_FRAME:
      msg->type = header.type;
      return parse_frame (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_RELEASE:
      msg->type = header.type;
      return parse_release (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_LEAVE:
      msg->type = header.type;
      return parse_leave (len, n_fds);
    case ZCIPC_WIRE_CHANNEL:
      msg->type = header.type;
      return parse_channel (bytes, len, fds, n_fds, msg);
    case ZCIPC_WIRE_WAKE:
      msg->type = header.type;
      return parse_wake (len, n_fds);
    case ZCIPC_WIRE_QUOTA:
      msg->type = header.type;
      return parse_quota (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_GRANT:
      msg->type = header.type;
      return parse_grant (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_REPORT:
      msg->type = header.type;
      return parse_report (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_STATS_REQUEST:
      msg->type = header.type;
      return parse_stats_request (bytes, len, n_fds, msg);
    case ZCIPC_WIRE_STATS_REPLY:
      msg->type = header.type;
      return parse_stats_reply (bytes, len, n_fds, msg);
    default:
      /* A newer peer's message: skippable, unless it smuggles fds we would
       * not know how to own. */
      return n_fds == 0 ? -ENOMSG : -EPROTO;
  }
}

const char *
zcipc_wire_type_name (uint32_t type)
{
  switch (type) {
    case ZCIPC_WIRE_HELLO:
      return "HELLO";
    case ZCIPC_WIRE_WELCOME:
      return "WELCOME";
    case ZCIPC_WIRE_REJECT:
      return "REJECT";
    case ZCIPC_WIRE_REGION_ADD:
      return "REGION_ADD";
    case ZCIPC_WIRE_REGION_REMOVE:
      return "REGION_REMOVE";
    case ZCIPC_WIRE_EVENT:
      return "EVENT";
    case ZCIPC_WIRE_FRAME:
      return "FRAME";
    case ZCIPC_WIRE_RELEASE:
      return "RELEASE";
    case ZCIPC_WIRE_LEAVE:
      return "LEAVE";
    case ZCIPC_WIRE_CHANNEL:
      return "CHANNEL";
    case ZCIPC_WIRE_WAKE:
      return "WAKE";
    case ZCIPC_WIRE_QUOTA:
      return "QUOTA";
    case ZCIPC_WIRE_GRANT:
      return "GRANT";
    case ZCIPC_WIRE_REPORT:
      return "REPORT";
    case ZCIPC_WIRE_STATS_REQUEST:
      return "STATS_REQUEST";
    case ZCIPC_WIRE_STATS_REPLY:
      return "STATS_REPLY";
    default:
      return "UNKNOWN";
  }
}

static void
init_header (struct zcipc_wire_header *h, uint32_t type, size_t size)
{
  h->type = type;
  h->size = (uint32_t) size;
}

size_t
zcipc_wire_init_hello (struct zcipc_wire_hello *m, uint32_t max_held)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_HELLO, sizeof *m);
  m->magic = ZCIPC_WIRE_MAGIC;
  m->version = ZCIPC_PROTOCOL_VERSION;
  m->max_held = max_held;
  return sizeof *m;
}

size_t
zcipc_wire_init_welcome (struct zcipc_wire_welcome *m, uint32_t quota,
    uint32_t consumer_id)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_WELCOME, sizeof *m);
  m->magic = ZCIPC_WIRE_MAGIC;
  m->version = ZCIPC_PROTOCOL_VERSION;
  m->quota = quota;
  m->consumer_id = consumer_id;
  return sizeof *m;
}

size_t
zcipc_wire_init_reject (struct zcipc_wire_reject *m, int error,
    const char *reason)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_REJECT, sizeof *m);
  m->version = ZCIPC_PROTOCOL_VERSION;
  m->error = error < 0 ? error : -EPERM;
  if (reason)
    strncpy (m->reason, reason, sizeof m->reason - 1);
  return sizeof *m;
}

size_t
zcipc_wire_init_region_add (struct zcipc_wire_region_add *m,
    uint32_t region_id, uint32_t flags, uint64_t size)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_REGION_ADD, sizeof *m);
  m->region_id = region_id;
  m->flags = flags;
  m->size = size;
  return sizeof *m;
}

size_t
zcipc_wire_init_region_remove (struct zcipc_wire_region_remove *m,
    uint32_t region_id)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_REGION_REMOVE, sizeof *m);
  m->region_id = region_id;
  return sizeof *m;
}

size_t
zcipc_wire_init_event (struct zcipc_wire_event *m, uint32_t kind,
    uint32_t payload_size)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_EVENT, sizeof *m + payload_size);
  m->kind = kind;
  m->payload_size = payload_size;
  return sizeof *m;
}

size_t
zcipc_wire_init_frame (struct zcipc_wire_frame *m, uint32_t n_mems,
    uint32_t meta_size)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_FRAME, sizeof *m +
      n_mems * sizeof (struct zcipc_wire_mem) + meta_size);
  m->n_mems = n_mems;
  m->meta_size = meta_size;
  return sizeof *m;
}

size_t
zcipc_wire_init_release (struct zcipc_wire_release *m, uint32_t count)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_RELEASE,
      sizeof *m + count * sizeof (uint64_t));
  m->count = count;
  return sizeof *m;
}

size_t
zcipc_wire_init_leave (struct zcipc_wire_leave *m)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_LEAVE, sizeof *m);
  return sizeof *m;
}

size_t
zcipc_wire_init_channel (struct zcipc_wire_channel *m, uint64_t size)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_CHANNEL, sizeof *m);
  m->size = size;
  return sizeof *m;
}

size_t
zcipc_wire_init_wake (struct zcipc_wire_wake *m)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_WAKE, sizeof *m);
  return sizeof *m;
}

size_t
zcipc_wire_init_quota (struct zcipc_wire_quota *m, uint32_t max_held)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_QUOTA, sizeof *m);
  m->max_held = max_held;
  return sizeof *m;
}

size_t
zcipc_wire_init_grant (struct zcipc_wire_grant *m, uint32_t quota)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_GRANT, sizeof *m);
  m->quota = quota;
  return sizeof *m;
}

size_t
zcipc_wire_init_report (struct zcipc_wire_report *m, uint64_t frames_copied,
    int64_t lag_ns)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_REPORT, sizeof *m);
  m->frames_copied = frames_copied;
  m->lag_ns = lag_ns;
  return sizeof *m;
}

size_t
zcipc_wire_init_stats_request (struct zcipc_wire_stats_request *m)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_STATS_REQUEST, sizeof *m);
  m->magic = ZCIPC_WIRE_MAGIC;
  m->version = ZCIPC_STATS_VERSION;
  return sizeof *m;
}

size_t
zcipc_wire_init_stats_reply (struct zcipc_wire_stats_reply *m,
    uint32_t n_consumers, uint32_t caps_size)
{
  memset (m, 0, sizeof *m);
  init_header (&m->header, ZCIPC_WIRE_STATS_REPLY, sizeof *m +
      (size_t) n_consumers * sizeof (struct zcipc_wire_stats_consumer) +
      caps_size);
  m->magic = ZCIPC_WIRE_MAGIC;
  m->version = ZCIPC_STATS_VERSION;
  m->n_consumers = n_consumers;
  m->caps_size = caps_size;
  return sizeof *m;
}
