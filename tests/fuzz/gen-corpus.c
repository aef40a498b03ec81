/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */

/* Writes the seed corpora of the fuzz targets: valid messages of every type
 * (and a few near misses), built with the library's own zcipc_wire_init_*,
 * so the seeds follow the wire format when it changes. Run it from the
 * fuzz build and check in what it writes:
 *
 *   build-fuzz/tests/fuzz/gen-corpus tests/fuzz/corpus
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "zcipc/wire.h"

/* One message or input being built. */
struct buf
{
  uint8_t data[4096];
  size_t len;
};

static void
put (struct buf *b, const void *data, size_t len)
{
  if (b->len + len > sizeof b->data) {
    fprintf (stderr, "seed too large\n");
    exit (1);
  }
  memcpy (b->data + b->len, data, len);
  b->len += len;
}

static void
put_u8 (struct buf *b, uint8_t v)
{
  put (b, &v, 1);
}

static void
write_seed (const char *dir, const char *target, const char *name,
    const struct buf *b)
{
  char path[512];
  FILE *f;

  snprintf (path, sizeof path, "%s/%s", dir, target);
  if (mkdir (path, 0755) < 0 && errno != EEXIST) {
    perror (path);
    exit (1);
  }
  snprintf (path, sizeof path, "%s/%s/%s", dir, target, name);
  if (!(f = fopen (path, "wb")) || fwrite (b->data, 1, b->len, f) != b->len ||
      fclose (f) != 0) {
    perror (path);
    exit (1);
  }
}

/* --- messages ------------------------------------------------------------ */

static void
msg_hello (struct buf *b, uint32_t max_held)
{
  struct zcipc_wire_hello m;
  put (b, &m, zcipc_wire_init_hello (&m, max_held));
}

static void
msg_welcome (struct buf *b, uint32_t quota)
{
  struct zcipc_wire_welcome m;
  put (b, &m, zcipc_wire_init_welcome (&m, quota, 3));
}

static void
msg_reject (struct buf *b)
{
  struct zcipc_wire_reject m;
  put (b, &m, zcipc_wire_init_reject (&m, -EPROTONOSUPPORT,
          "speaks protocol version 2, this producer speaks version 1"));
}

static void
msg_region_add (struct buf *b, uint32_t id, uint32_t flags, uint64_t size)
{
  struct zcipc_wire_region_add m;
  put (b, &m, zcipc_wire_init_region_add (&m, id, flags, size));
}

static void
msg_region_remove (struct buf *b, uint32_t id)
{
  struct zcipc_wire_region_remove m;
  put (b, &m, zcipc_wire_init_region_remove (&m, id));
}

static void
msg_event (struct buf *b, uint32_t kind, const char *payload)
{
  struct zcipc_wire_event m;
  uint32_t n = (uint32_t) strlen (payload);
  put (b, &m, zcipc_wire_init_event (&m, kind, n));
  put (b, payload, n);
}

/* A frame of `n_mems` mems in region `region_id`, 4 KiB apart, with
 * `frame_flags` (the last mem holds the metas with
 * ZCIPC_FRAME_FLAG_METAS_IN_REGION). */
static void
msg_frame_flags (struct buf *b, uint64_t seq, uint32_t region_id,
    uint32_t n_mems, uint32_t meta_size, uint32_t frame_flags)
{
  struct zcipc_wire_frame m;
  size_t n = zcipc_wire_init_frame (&m, n_mems, meta_size);

  m.seq = seq;
  m.pts = seq * 33333333u;
  m.dts = m.pts;
  m.duration = 33333333u;
  m.offset = seq;
  m.offset_end = seq + 1;
  m.flags = seq == 1 ? 0 : 0x2000;
  m.frame_flags = frame_flags;
  put (b, &m, n);
  for (uint32_t i = 0; i < n_mems; i++) {
    struct zcipc_wire_mem mem = { region_id, 0, 4096u * i, 1000u + i };
    put (b, &mem, sizeof mem);
  }
  for (uint32_t i = 0; i < meta_size; i++)
    put_u8 (b, (uint8_t) i);
}

static void
msg_frame (struct buf *b, uint64_t seq, uint32_t region_id, uint32_t n_mems,
    uint32_t meta_size)
{
  msg_frame_flags (b, seq, region_id, n_mems, meta_size, 0);
}

static void
msg_release (struct buf *b, uint32_t count)
{
  struct zcipc_wire_release m;
  put (b, &m, zcipc_wire_init_release (&m, count));
  for (uint64_t i = 1; i <= count; i++)
    put (b, &i, sizeof i);
}

/* --- fuzz_wire_parse: [fd count byte][datagram] -------------------------- */

static void
wire_seed (const char *dir, const char *name, uint8_t n_fds,
    void (*build) (struct buf *))
{
  struct buf b = {.len = 0 };
  put_u8 (&b, n_fds);
  build (&b);
  write_seed (dir, "fuzz_wire_parse", name, &b);
}

static void
w_hello (struct buf *b)
{
  msg_hello (b, 4);
}

static void
w_welcome (struct buf *b)
{
  msg_welcome (b, 4);
}

static void
w_reject (struct buf *b)
{
  msg_reject (b);
}

static void
w_region_add (struct buf *b)
{
  msg_region_add (b, 1, ZCIPC_REGION_FLAG_MEMFD, 8294400);
}

static void
w_region_add_dmabuf (struct buf *b)
{
  msg_region_add (b, 7, ZCIPC_REGION_FLAG_DMABUF, 3110400);
}

static void
w_region_remove (struct buf *b)
{
  msg_region_remove (b, 1);
}

static void
w_event (struct buf *b)
{
  msg_event (b, 1, "video/x-raw, format=(string)RGBA, width=(int)640, "
      "height=(int)480, framerate=(fraction)30/1");
}

static void
w_event_empty (struct buf *b)
{
  msg_event (b, 2, "");
}

static void
w_frame (struct buf *b)
{
  msg_frame (b, 1, 1, 1, 0);
}

static void
w_frame_planes (struct buf *b)
{
  msg_frame (b, 2, 1, 3, 48);
}

static void
w_frame_max (struct buf *b)
{
  msg_frame (b, 3, 1, ZCIPC_WIRE_MAX_MEMS, 0);
}

static void
w_frame_no_mems (struct buf *b)
{
  msg_frame (b, 4, 1, 0, 24);
}

static void
w_frame_metas_in_region (struct buf *b)
{
  msg_frame_flags (b, 5, 1, 2, 0, ZCIPC_FRAME_FLAG_METAS_IN_REGION);
}

static void
w_release (struct buf *b)
{
  msg_release (b, 1);
}

static void
w_release_max (struct buf *b)
{
  msg_release (b, ZCIPC_WIRE_MAX_RELEASES);
}

static void
w_leave (struct buf *b)
{
  struct zcipc_wire_leave m;
  put (b, &m, zcipc_wire_init_leave (&m));
}

static void
w_unknown (struct buf *b)
{
  struct zcipc_wire_header h = { 99, 16 };
  uint64_t body = 0x0123456789abcdefull;
  put (b, &h, sizeof h);
  put (b, &body, sizeof body);
}

/* --- fuzz_client_receive: [max_held][quota]([kind][len16][datagram])* ---- */

#define FD_NONE 0
#define FD_SEALED 1
#define FD_UNSEALED 2

static void
record (struct buf *input, uint8_t kind, void (*build) (struct buf *, void *),
    void *arg)
{
  struct buf m = {.len = 0 };
  build (&m, arg);
  put_u8 (input, kind);
  put_u8 (input, (uint8_t) (m.len & 0xff));
  put_u8 (input, (uint8_t) (m.len >> 8));
  put (input, m.data, m.len);
}

struct region_arg
{
  uint32_t id, flags;
  uint64_t size;
};

static void
r_region_add (struct buf *b, void *arg)
{
  struct region_arg *r = arg;
  msg_region_add (b, r->id, r->flags, r->size);
}

static void
r_region_remove (struct buf *b, void *arg)
{
  msg_region_remove (b, *(uint32_t *) arg);
}

static void
r_event (struct buf *b, void *arg)
{
  msg_event (b, 1, arg);
}

struct frame_arg
{
  uint64_t seq;
  uint32_t region_id, n_mems, meta_size;
};

static void
r_frame (struct buf *b, void *arg)
{
  struct frame_arg *f = arg;
  msg_frame (b, f->seq, f->region_id, f->n_mems, f->meta_size);
}

static void
r_frame_metas_in_region (struct buf *b, void *arg)
{
  struct frame_arg *f = arg;
  msg_frame_flags (b, f->seq, f->region_id, f->n_mems, 0,
      ZCIPC_FRAME_FLAG_METAS_IN_REGION);
}

static void
r_empty (struct buf *b, void *arg)
{
}

static void
r_unknown (struct buf *b, void *arg)
{
  struct zcipc_wire_header h = { 99, sizeof h };
  put (b, &h, sizeof h);
}

static void
client_seeds (const char *dir)
{
  struct region_arg r1 = { 1, ZCIPC_REGION_FLAG_MEMFD, 65536 };
  struct region_arg r2 = { 2, ZCIPC_REGION_FLAG_MEMFD, 32768 };
  struct region_arg bad = { 3, ZCIPC_REGION_FLAG_MEMFD, 4096 };
  struct region_arg liar = { 4, ZCIPC_REGION_FLAG_DMABUF, 65536 };
  struct region_arg huge = { 5, ZCIPC_REGION_FLAG_MEMFD, 1u << 20 };
  struct frame_arg f1 = { 1, 1, 1, 0 }, f2 = { 2, 1, 3, 24 };
  struct frame_arg f3 = { 3, 2, 2, 0 }, f4 = { 4, 2, 1, 0 };
  struct frame_arg even = { 2, 1, 1, 0 };
  struct frame_arg memless = { 1, 1, 0, 24 };
  struct frame_arg metas = { 5, 1, 2, 0 }, metas_only = { 7, 1, 1, 0 };
  uint32_t one = 1;
  struct buf b;

  /* The common stream: region, caps, frames, EOS. */
  b.len = 0;
  put_u8 (&b, 3);               /* max_held 4 */
  put_u8 (&b, 4);               /* quota 4 */
  record (&b, FD_SEALED, r_region_add, &r1);
  record (&b, FD_NONE, r_event, "video/x-raw, format=RGBA, width=64");
  record (&b, FD_NONE, r_frame, &f1);
  record (&b, FD_NONE, r_frame, &f2);
  record (&b, FD_NONE, r_event, "eos");
  write_seed (dir, "fuzz_client_receive", "stream.bin", &b);

  /* Two regions, one removed while a frame still points into it. */
  b.len = 0;
  put_u8 (&b, 7);
  put_u8 (&b, 8);
  record (&b, FD_SEALED, r_region_add, &r1);
  record (&b, FD_SEALED, r_region_add, &r2);
  record (&b, FD_NONE, r_frame, &f1);
  record (&b, FD_NONE, r_frame, &f3);
  record (&b, FD_NONE, r_region_remove, &one);
  record (&b, FD_NONE, r_frame, &f4);
  write_seed (dir, "fuzz_client_receive", "regions.bin", &b);

  /* More frames than the quota of 2 (even seqs: the fuzzer holds them). */
  b.len = 0;
  put_u8 (&b, 1);
  put_u8 (&b, 2);
  record (&b, FD_SEALED, r_region_add, &r1);
  for (even.seq = 2; even.seq <= 6; even.seq += 2)
    record (&b, FD_NONE, r_frame, &even);
  write_seed (dir, "fuzz_client_receive", "quota.bin", &b);

  /* Regions to refuse: unsealed, a memfd calling itself a DMABuf, one
   * larger than its memfd. */
  b.len = 0;
  put_u8 (&b, 3);
  put_u8 (&b, 4);
  record (&b, FD_UNSEALED, r_region_add, &bad);
  write_seed (dir, "fuzz_client_receive", "unsealed.bin", &b);
  b.len = 0;
  put_u8 (&b, 3);
  put_u8 (&b, 4);
  record (&b, FD_UNSEALED, r_region_add, &liar);
  record (&b, FD_NONE, r_frame, &f1);
  write_seed (dir, "fuzz_client_receive", "liar.bin", &b);
  b.len = 0;
  put_u8 (&b, 3);
  put_u8 (&b, 4);
  record (&b, FD_SEALED, r_region_add, &huge);
  write_seed (dir, "fuzz_client_receive", "too-small.bin", &b);

  /* A newer producer's message, then an event. */
  b.len = 0;
  put_u8 (&b, 3);
  put_u8 (&b, 4);
  record (&b, FD_NONE, r_unknown, NULL);
  record (&b, FD_NONE, r_event, "segment");
  write_seed (dir, "fuzz_client_receive", "unknown.bin", &b);

  /* A datagram of no bytes carrying an fd (found by this fuzzer: it read
   * as a hang-up and leaked the fd). */
  b.len = 0;
  put_u8 (&b, 3);
  put_u8 (&b, 4);
  record (&b, FD_SEALED, r_region_add, &r1);
  record (&b, FD_SEALED, r_empty, NULL);
  record (&b, FD_NONE, r_frame, &f1);
  write_seed (dir, "fuzz_client_receive", "empty-with-fd.bin", &b);

  /* Frames without memory past a quota of 1 (given back at once), then
   * one whose metas lie in the region, and one with only those. */
  b.len = 0;
  put_u8 (&b, 0);
  put_u8 (&b, 1);
  record (&b, FD_SEALED, r_region_add, &r1);
  for (memless.seq = 1; memless.seq <= 3; memless.seq++)
    record (&b, FD_NONE, r_frame, &memless);
  record (&b, FD_NONE, r_frame_metas_in_region, &metas);
  record (&b, FD_NONE, r_frame_metas_in_region, &metas_only);
  write_seed (dir, "fuzz_client_receive", "memoryless.bin", &b);

  /* A WELCOME granting more than asked. */
  b.len = 0;
  put_u8 (&b, 1);
  put_u8 (&b, 3);
  write_seed (dir, "fuzz_client_receive", "greedy-welcome.bin", &b);
}

/* --- fuzz_ring_scribble: [who][cap] then the peer's ops ------------------ */

static void
scribble_op (struct buf *b, uint8_t op, uint16_t offset, const void *bytes,
    uint8_t len)
{
  put_u8 (b, op);
  put_u8 (b, (uint8_t) (offset & 0xff));
  put_u8 (b, (uint8_t) (offset >> 8));
  put_u8 (b, len);
  put (b, bytes, len);
}

static void
ring_scribble_seeds (const char *dir)
{
  static const uint8_t payload[32] = "a frame's message, 32 bytes.....";
  static const uint8_t huge_index[8] = { 0, 0, 0, 0, 0, 0, 0, 0x80 };
  static const uint8_t bad_record[8] = { 0xf0, 0xff, 0, 0, 1, 0, 0, 0 };
  struct buf b = {.len = 0 };

  /* A hostile producer: records, then a head far ahead, more records. */
  put_u8 (&b, 0);
  put_u8 (&b, 0);
  for (int i = 0; i < 4; i++)
    scribble_op (&b, 0x40, 0, payload, 32);
  scribble_op (&b, 0x82, 0, huge_index, 8);
  scribble_op (&b, 0x40, 1, NULL, 0);
  write_seed (dir, "fuzz_ring_scribble", "producer-moves-head.bin", &b);

  /* A hostile producer rewrites a record's header after publishing it. */
  b.len = 0;
  put_u8 (&b, 0);
  put_u8 (&b, 1);
  for (int i = 0; i < 3; i++)
    scribble_op (&b, 0, 0, payload, 24);
  scribble_op (&b, 0x4a, 32, bad_record, 8);
  scribble_op (&b, 0x0a, 0, bad_record, 8);
  write_seed (dir, "fuzz_ring_scribble", "producer-rewrites-record.bin", &b);

  /* A hostile consumer: releases, then an impossible release head and
   * ring tail, and garbage in the release ring. */
  b.len = 0;
  put_u8 (&b, 1);
  put_u8 (&b, 0);
  for (int i = 0; i < 4; i++)
    scribble_op (&b, 0x41, (uint16_t) (i * 8 + 3), NULL, 0);
  scribble_op (&b, 0x86, 0, huge_index, 8);
  scribble_op (&b, 0x86, 1, huge_index, 8);
  scribble_op (&b, 0x46, 0, payload, 32);
  write_seed (dir, "fuzz_ring_scribble", "consumer-moves-indices.bin", &b);
}

int
main (int argc, char **argv)
{
  const char *dir;

  if (argc != 2) {
    fprintf (stderr, "usage: %s CORPUS-DIR\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  if (mkdir (dir, 0755) < 0 && errno != EEXIST) {
    perror (dir);
    return 1;
  }
  wire_seed (dir, "hello.bin", 0, w_hello);
  wire_seed (dir, "welcome.bin", 0, w_welcome);
  wire_seed (dir, "reject.bin", 0, w_reject);
  wire_seed (dir, "region-add.bin", 1, w_region_add);
  wire_seed (dir, "region-add-dmabuf.bin", 1, w_region_add_dmabuf);
  wire_seed (dir, "region-remove.bin", 0, w_region_remove);
  wire_seed (dir, "event.bin", 0, w_event);
  wire_seed (dir, "event-empty.bin", 0, w_event_empty);
  wire_seed (dir, "frame.bin", 0, w_frame);
  wire_seed (dir, "frame-planes-meta.bin", 0, w_frame_planes);
  wire_seed (dir, "frame-most-mems.bin", 0, w_frame_max);
  wire_seed (dir, "frame-no-mems.bin", 0, w_frame_no_mems);
  wire_seed (dir, "frame-metas-in-region.bin", 0, w_frame_metas_in_region);
  wire_seed (dir, "release.bin", 0, w_release);
  wire_seed (dir, "release-most.bin", 0, w_release_max);
  wire_seed (dir, "leave.bin", 0, w_leave);
  wire_seed (dir, "unknown-type.bin", 0, w_unknown);
  wire_seed (dir, "frame-with-fd.bin", 1, w_frame);
  client_seeds (dir);
  ring_scribble_seeds (dir);
  return 0;
}
