/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#ifndef ZCIPC_WIRE_H
#define ZCIPC_WIRE_H

/* The zcipc wire protocol.
 *
 * One message per SOCK_SEQPACKET datagram, native byte order (both peers are
 * on the same host). Every message starts with a zcipc_wire_header whose
 * `size` is the datagram's full length. Fixed parts use fixed-width fields
 * and are checked with _Static_assert so the layout cannot drift. File
 * descriptors travel as SCM_RIGHTS; only REGION_ADD carries one.
 *
 *   consumer                      producer
 *      HELLO  ------------------>
 *             <------------------  WELCOME (or REJECT, then hang-up)
 *             <------------------  REGION_ADD*, EVENT* (sticky state)
 *             <------------------  FRAME / EVENT / REGION_ADD / REGION_REMOVE
 *    RELEASE  ------------------>
 *      LEAVE  ------------------>  (no more frames; holds kept until RELEASEd
 *                                   or the connection closes)
 *      QUOTA  ------------------>  (I want to hold this many frames now)
 *             <------------------  GRANT (your quota from the next frame on)
 *     REPORT  ------------------>  (frames I copied, my lag: at most 1/s)
 *
 * A monitor (zcipc-top, the device provider) connects to the same socket
 * and sends STATS_REQUEST instead of HELLO; it never becomes a consumer:
 *
 *   monitor                       producer
 *   STATS_REQUEST --------------->
 *             <------------------  STATS_REPLY (or REJECT, then hang-up)
 *   STATS_REQUEST --------------->  (as often as it likes, one at a time)
 *             <------------------  STATS_REPLY
 *
 * A consumer whose HELLO carries ZCIPC_HELLO_FLAG_CHANNEL gets a CHANNEL
 * message (1 fd) right after WELCOME: from then on the producer's messages
 * come through the channel's ring (zcipc/channel.h), the same bytes as on
 * the socket; one that carries fds still comes by socket, with a marker in
 * the ring at its place. The consumer's releases go in the channel's
 * release ring, or by socket when the producer asks; a consumer that put
 * releases in the ring while the producer switched to socket releases sends
 * WAKE so that it reads them.
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZCIPC_PROTOCOL_VERSION 1u
#define ZCIPC_WIRE_MAGIC 0x3150435au    /* "ZCP1" in memory order */

/* Upper bounds a peer may rely on; anything larger is a protocol error. */
#define ZCIPC_WIRE_MAX_MESSAGE_SIZE (256u * 1024u)
#define ZCIPC_WIRE_MAX_MEMS 16u
/* Most bytes of metas one frame may carry in a region of their own (see
 * ZCIPC_FRAME_FLAG_METAS_IN_REGION): bounds what a consumer copies. */
#define ZCIPC_WIRE_MAX_META_SIZE (64u * 1024u * 1024u)
#define ZCIPC_WIRE_MAX_RELEASES 64u
#define ZCIPC_WIRE_MAX_QUOTA 64u
#define ZCIPC_WIRE_REASON_SIZE 128u

enum zcipc_wire_type
{
  ZCIPC_WIRE_HELLO = 1,         /* consumer -> producer */
  ZCIPC_WIRE_WELCOME = 2,       /* producer -> consumer */
  ZCIPC_WIRE_REJECT = 3,        /* producer -> consumer */
  ZCIPC_WIRE_REGION_ADD = 4,    /* producer -> consumer, 1 fd */
  ZCIPC_WIRE_REGION_REMOVE = 5, /* producer -> consumer */
  ZCIPC_WIRE_EVENT = 6,         /* producer -> consumer */
  ZCIPC_WIRE_FRAME = 7,         /* producer -> consumer */
  ZCIPC_WIRE_RELEASE = 8,       /* consumer -> producer */
  ZCIPC_WIRE_LEAVE = 9,         /* consumer -> producer */
  ZCIPC_WIRE_CHANNEL = 10,      /* producer -> consumer, 1 fd */
  ZCIPC_WIRE_WAKE = 11,         /* consumer -> producer */
  ZCIPC_WIRE_QUOTA = 12,        /* consumer -> producer */
  ZCIPC_WIRE_GRANT = 13,        /* producer -> consumer */
  ZCIPC_WIRE_REPORT = 14,       /* consumer -> producer */
  ZCIPC_WIRE_STATS_REQUEST = 15,  /* monitor -> producer */
  ZCIPC_WIRE_STATS_REPLY = 16,  /* producer -> monitor */
};

/* HELLO flags. */
#define ZCIPC_HELLO_FLAG_CHANNEL (1u << 0)  /* wants a shared-memory channel */
#define ZCIPC_HELLO_FLAGS_KNOWN ZCIPC_HELLO_FLAG_CHANNEL

/* Region flags. */
#define ZCIPC_REGION_FLAG_MEMFD  (1u << 0)  /* sealed memfd: check seals, size */
#define ZCIPC_REGION_FLAG_DMABUF (1u << 1)  /* DMABuf owned by someone else */

struct zcipc_wire_header
{
  uint32_t type;
  uint32_t size;                /* whole datagram, header included */
};
_Static_assert (sizeof (struct zcipc_wire_header) == 8, "header layout");

struct zcipc_wire_hello
{
  struct zcipc_wire_header header;
  uint32_t magic;
  uint32_t version;
  uint32_t max_held;            /* frames this consumer wants to hold at once */
  uint32_t flags;               /* ZCIPC_HELLO_FLAG_* */
};
_Static_assert (sizeof (struct zcipc_wire_hello) == 24, "hello layout");

struct zcipc_wire_welcome
{
  struct zcipc_wire_header header;
  uint32_t magic;
  uint32_t version;
  uint32_t quota;               /* frames granted: never more than asked */
  uint32_t consumer_id;
};
_Static_assert (sizeof (struct zcipc_wire_welcome) == 24, "welcome layout");

struct zcipc_wire_reject
{
  struct zcipc_wire_header header;
  uint32_t version;             /* the producer's protocol version */
  int32_t error;                /* negative errno */
  char reason[ZCIPC_WIRE_REASON_SIZE];  /* NUL-terminated */
};
_Static_assert (sizeof (struct zcipc_wire_reject) == 144, "reject layout");

struct zcipc_wire_region_add
{
  struct zcipc_wire_header header;
  uint32_t region_id;
  uint32_t flags;
  uint64_t size;
};
_Static_assert (sizeof (struct zcipc_wire_region_add) == 24, "region layout");

struct zcipc_wire_region_remove
{
  struct zcipc_wire_header header;
  uint32_t region_id;
  uint32_t reserved;
};
_Static_assert (sizeof (struct zcipc_wire_region_remove) == 16, "remove layout");

/* Followed by `size` payload bytes. The kind and payload are the caller's
 * (the GStreamer layer puts serialized events here). */
struct zcipc_wire_event
{
  struct zcipc_wire_header header;
  uint32_t kind;
  uint32_t payload_size;
};
_Static_assert (sizeof (struct zcipc_wire_event) == 16, "event layout");

struct zcipc_wire_mem
{
  uint32_t region_id;
  uint32_t reserved;
  uint64_t offset;              /* from the start of the region */
  uint64_t size;
};
_Static_assert (sizeof (struct zcipc_wire_mem) == 24, "mem layout");

/* Frame flags (zcipc_wire_frame.frame_flags). */
/* The frame's metas are too big for its message: the last of its mems (one
 * more than ZCIPC_WIRE_MAX_MEMS allowed) says where they lie in a region,
 * at most ZCIPC_WIRE_MAX_META_SIZE bytes, and meta_size is 0. That mem is
 * held with the frame like the others. */
#define ZCIPC_FRAME_FLAG_METAS_IN_REGION (1u << 0)
#define ZCIPC_FRAME_FLAGS_KNOWN ZCIPC_FRAME_FLAG_METAS_IN_REGION

/* Followed by n_mems zcipc_wire_mem, then meta_size bytes of metadata.
 * n_mems may be 0: a buffer without memory (its timestamps, flags and metas
 * still cross); see ZCIPC_FRAME_FLAG_METAS_IN_REGION for the metas' mem. */
struct zcipc_wire_frame
{
  struct zcipc_wire_header header;
  uint64_t seq;                 /* unique per producer, echoed in RELEASE */
  uint64_t pts;
  uint64_t dts;
  uint64_t duration;
  uint64_t offset;
  uint64_t offset_end;
  uint64_t send_time;           /* producer CLOCK_MONOTONIC ns at send */
  uint32_t flags;
  uint32_t n_mems;
  uint32_t meta_size;
  uint32_t frame_flags;         /* ZCIPC_FRAME_FLAG_* */
};
_Static_assert (sizeof (struct zcipc_wire_frame) == 80, "frame layout");

/* Followed by count uint64_t sequence numbers. */
struct zcipc_wire_release
{
  struct zcipc_wire_header header;
  uint32_t count;
  uint32_t reserved;
};
_Static_assert (sizeof (struct zcipc_wire_release) == 16, "release layout");

/* A consumer that stops but still holds frames (a buffer kept after its
 * pipeline went to NULL) says LEAVE instead of hanging up, so the producer
 * keeps those slots untouched until they are released. */
struct zcipc_wire_leave
{
  struct zcipc_wire_header header;
};
_Static_assert (sizeof (struct zcipc_wire_leave) == 8, "leave layout");

/* The shared-memory channel (zcipc/channel.h) as a sealed memfd. */
struct zcipc_wire_channel
{
  struct zcipc_wire_header header;
  uint64_t size;
};
_Static_assert (sizeof (struct zcipc_wire_channel) == 16, "channel layout");

/* "Read the release ring": see the protocol above. */
struct zcipc_wire_wake
{
  struct zcipc_wire_header header;
};
_Static_assert (sizeof (struct zcipc_wire_wake) == 8, "wake layout");

/* A consumer whose downstream keeps more frames than it first asked for
 * (an encoder's lookahead, a muxer) asks for more while connected. The
 * producer answers with GRANT, in stream order, unless its cap leaves the
 * quota where it is. A producer that does not know QUOTA skips it. */
struct zcipc_wire_quota
{
  struct zcipc_wire_header header;
  uint32_t max_held;            /* 1 .. ZCIPC_WIRE_MAX_QUOTA */
  uint32_t reserved;
};
_Static_assert (sizeof (struct zcipc_wire_quota) == 16, "quota layout");

/* The consumer's quota from the next frame on: more than it had, never more
 * than it asked for. */
struct zcipc_wire_grant
{
  struct zcipc_wire_header header;
  uint32_t quota;               /* 1 .. ZCIPC_WIRE_MAX_QUOTA */
  uint32_t reserved;
};
_Static_assert (sizeof (struct zcipc_wire_grant) == 16, "grant layout");

/* What only the consumer knows, for the producer's stats (zcipc-top): sent
 * at most once a second. A producer that does not know REPORT skips it. */
struct zcipc_wire_report
{
  struct zcipc_wire_header header;
  uint32_t flags;               /* 0: none defined yet */
  uint32_t reserved;            /* 0 */
  uint64_t frames_copied;       /* frames it copied out of shared memory
                                 * because downstream kept its whole quota */
  int64_t lag_ns;               /* for the last frame it pushed downstream:
                                 * CLOCK_MONOTONIC then minus the frame's
                                 * send_time; -1 before its first frame */
};
_Static_assert (sizeof (struct zcipc_wire_report) == 32, "report layout");

/* The stats protocol has its own version: a monitor asks for the one it
 * speaks, and the producer answers in it or REJECTs with
 * -EPROTONOSUPPORT. */
#define ZCIPC_STATS_VERSION 1u
/* Most consumers one STATS_REPLY lists (zcipcsink's max-consumers cap). */
#define ZCIPC_WIRE_STATS_MAX_CONSUMERS 1024u
/* Most bytes of caps one STATS_REPLY carries (no NUL): longer caps are cut
 * at a structure boundary and flagged ZCIPC_STATS_FLAG_CAPS_TRUNCATED. */
#define ZCIPC_WIRE_STATS_CAPS_MAX 4096u

struct zcipc_wire_stats_request
{
  struct zcipc_wire_header header;
  uint32_t magic;
  uint32_t version;             /* ZCIPC_STATS_VERSION the monitor speaks */
  uint32_t flags;               /* 0: none defined yet */
  uint32_t reserved;            /* 0 */
};
_Static_assert (sizeof (struct zcipc_wire_stats_request) == 24,
    "stats request layout");

/* STATS_REPLY flags. */
#define ZCIPC_STATS_FLAG_CAPS_TRUNCATED (1u << 0)
#define ZCIPC_STATS_FLAGS_KNOWN ZCIPC_STATS_FLAG_CAPS_TRUNCATED

/* Per-consumer flags. */
#define ZCIPC_STATS_CONSUMER_REPORTED (1u << 0)  /* frames_copied, lag_ns
                                                  * come from its REPORT */
#define ZCIPC_STATS_CONSUMER_CHANNEL (1u << 1)   /* has a shared channel */
#define ZCIPC_STATS_CONSUMER_FLAGS_KNOWN \
  (ZCIPC_STATS_CONSUMER_REPORTED | ZCIPC_STATS_CONSUMER_CHANNEL)

struct zcipc_wire_stats_consumer
{
  uint32_t consumer_id;
  int32_t pid;                  /* SO_PEERCRED at connect */
  uint32_t uid;
  uint32_t quota;               /* frames it may hold, as granted */
  uint32_t held;                /* frames it holds now */
  uint32_t flags;               /* ZCIPC_STATS_CONSUMER_* */
  uint64_t frames_sent;
  uint64_t frames_dropped;      /* frames it missed: at its quota, or its
                                 * socket full */
  uint64_t frames_copied;       /* from its REPORT, else 0 */
  int64_t lag_ns;               /* from its REPORT, else -1 */
};
_Static_assert (sizeof (struct zcipc_wire_stats_consumer) == 56,
    "stats consumer layout");

/* Followed by n_consumers zcipc_wire_stats_consumer, then caps_size bytes
 * of caps (gst_caps_to_string's text, no NUL; 0 bytes before caps). */
struct zcipc_wire_stats_reply
{
  struct zcipc_wire_header header;
  uint32_t magic;
  uint32_t version;             /* the request's */
  int32_t pid;                  /* the producer's */
  uint32_t uid;
  int64_t monotonic_ns;         /* the producer's CLOCK_MONOTONIC now */
  uint64_t frames_sent;         /* frames that reached a consumer */
  uint64_t frames_unsent;       /* frames no consumer took */
  uint32_t n_consumers;
  uint32_t caps_size;
  uint32_t flags;               /* ZCIPC_STATS_FLAG_* */
  uint32_t max_consumers;
  uint32_t quota;               /* the producer's cap per consumer */
  uint32_t n_monitors;          /* monitors connected, this one included */
  int64_t last_frame_ns;        /* CLOCK_MONOTONIC of the last frame (sent
                                 * or unsent); 0 before the first */
};
_Static_assert (sizeof (struct zcipc_wire_stats_reply) == 80,
    "stats reply layout");

/* A validated message. Pointers refer into the datagram passed to
 * zcipc_wire_parse() and live as long as it does. */
struct zcipc_message
{
  uint32_t type;                /* enum zcipc_wire_type, or 0 for unknown */
  union
  {
    struct zcipc_wire_hello hello;
    struct zcipc_wire_welcome welcome;
    struct zcipc_wire_reject reject;
    struct
    {
      struct zcipc_wire_region_add info;
      int fd;                   /* owned by the caller of zcipc_wire_parse */
    } region_add;
    struct zcipc_wire_region_remove region_remove;
    struct
    {
      struct zcipc_wire_event info;
      const uint8_t *payload;
    } event;
    struct
    {
      struct zcipc_wire_frame info;
      struct zcipc_wire_mem mems[ZCIPC_WIRE_MAX_MEMS + 1];  /* + metas' */
      const uint8_t *meta;
    } frame;
    struct
    {
      uint32_t count;
      uint64_t seqs[ZCIPC_WIRE_MAX_RELEASES];
    } release;
    struct
    {
      struct zcipc_wire_channel info;
      int fd;                   /* owned by the caller of zcipc_wire_parse */
    } channel;
    struct zcipc_wire_quota quota;
    struct zcipc_wire_grant grant;
    struct zcipc_wire_report report;
    struct zcipc_wire_stats_request stats_request;
    struct
    {
      struct zcipc_wire_stats_reply info;
      const uint8_t *consumers;  /* n_consumers records, maybe unaligned:
                                  * memcpy each out */
      const char *caps;         /* caps_size bytes, not NUL-terminated */
    } stats_reply;
  };
};

/* Validates one datagram of `len` bytes that arrived with `n_fds` file
 * descriptors (`fds`), and fills `msg`. Checks the header, the size of every
 * part, counts against the ZCIPC_WIRE_MAX_* bounds, and that exactly the
 * expected number of fds came along. Never takes ownership of the fds: the
 * caller closes them on error, and on success keeps msg->region_add.fd or
 * msg->channel.fd.
 *
 * Returns 0, or -EPROTO for a malformed message (the peer must be dropped),
 * or -ENOMSG for a well-formed message of a type this version does not know
 * (the caller may skip it: that is how newer peers add messages). */
int zcipc_wire_parse (const void *data, size_t len, const int *fds,
    unsigned n_fds, struct zcipc_message *msg);

/* Human-readable message type, for logs. */
const char *zcipc_wire_type_name (uint32_t type);

/* Fills a header and the fixed part of each message. Each returns the number
 * of bytes of the fixed part; variable parts are sent as further iovecs. */
/* `m->flags` is 0 (a plain socket consumer); the caller may set it. */
size_t zcipc_wire_init_hello (struct zcipc_wire_hello *m, uint32_t max_held);
size_t zcipc_wire_init_welcome (struct zcipc_wire_welcome *m, uint32_t quota,
    uint32_t consumer_id);
size_t zcipc_wire_init_reject (struct zcipc_wire_reject *m, int error,
    const char *reason);
size_t zcipc_wire_init_region_add (struct zcipc_wire_region_add *m,
    uint32_t region_id, uint32_t flags, uint64_t size);
size_t zcipc_wire_init_region_remove (struct zcipc_wire_region_remove *m,
    uint32_t region_id);
size_t zcipc_wire_init_event (struct zcipc_wire_event *m, uint32_t kind,
    uint32_t payload_size);
/* `m->seq`, timestamps and flags (frame_flags too) are left for the caller
 * to set. */
size_t zcipc_wire_init_frame (struct zcipc_wire_frame *m, uint32_t n_mems,
    uint32_t meta_size);
size_t zcipc_wire_init_release (struct zcipc_wire_release *m, uint32_t count);
size_t zcipc_wire_init_leave (struct zcipc_wire_leave *m);
size_t zcipc_wire_init_channel (struct zcipc_wire_channel *m, uint64_t size);
size_t zcipc_wire_init_wake (struct zcipc_wire_wake *m);
size_t zcipc_wire_init_quota (struct zcipc_wire_quota *m, uint32_t max_held);
size_t zcipc_wire_init_grant (struct zcipc_wire_grant *m, uint32_t quota);
size_t zcipc_wire_init_report (struct zcipc_wire_report *m,
    uint64_t frames_copied, int64_t lag_ns);
/* Asks for ZCIPC_STATS_VERSION. */
size_t zcipc_wire_init_stats_request (struct zcipc_wire_stats_request *m);
/* The header's size counts the consumers and caps that follow; the other
 * fields are the caller's. */
size_t zcipc_wire_init_stats_reply (struct zcipc_wire_stats_reply *m,
    uint32_t n_consumers, uint32_t caps_size);

#ifdef __cplusplus
}
#endif
#endif
