/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Copyright (C) 2026 The zcipc authors */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "zcipc/channel.h"
#include "zcipc/os.h"
#include "zcipc/result.h"

#define CHANNEL_MAGIC 0x4843435au       /* "ZCCH" in memory order */
#define CHANNEL_VERSION 1u

_Static_assert (ATOMIC_LLONG_LOCK_FREE == 2 && ATOMIC_INT_LOCK_FREE == 2,
    "the channel's atomics must work across processes");
_Static_assert ((ZCIPC_CHANNEL_RING_SIZE & (ZCIPC_CHANNEL_RING_SIZE - 1)) == 0,
    "ring size is a power of two");
_Static_assert ((ZCIPC_CHANNEL_RELEASES & (ZCIPC_CHANNEL_RELEASES - 1)) == 0,
    "release ring size is a power of two");

/* Each side's published fields on a cache line of their own, so that the
 * producer's writes do not bounce the line the consumer writes. */
struct zcipc_channel_shared
{
  uint32_t magic;
  uint32_t version;
  uint32_t ring_size;
  uint32_t releases;
  uint8_t reserved0[48];
  /* written by the producer */
  _Atomic uint64_t ring_head;   /* bytes published */
  _Atomic uint64_t release_tail;        /* releases read */
  _Atomic uint32_t releases_by_socket;
  uint8_t reserved1[44];
  /* written by the consumer */
  _Atomic uint64_t ring_tail;   /* bytes consumed */
  _Atomic uint64_t release_head;        /* releases published */
  _Atomic uint32_t sleeping;    /* in zcipc_channel_wait() */
  uint8_t reserved2[44];
  /* written by both: the futex word a sleeping consumer waits on */
  _Atomic uint32_t wake_seq;
  uint8_t reserved3[60];
  uint64_t release_ring[ZCIPC_CHANNEL_RELEASES];
  uint8_t ring[ZCIPC_CHANNEL_RING_SIZE];
};
_Static_assert (offsetof (struct zcipc_channel_shared, ring_head) == 64,
    "channel layout");
_Static_assert (offsetof (struct zcipc_channel_shared, ring_tail) == 128,
    "channel layout");
_Static_assert (offsetof (struct zcipc_channel_shared, wake_seq) == 192,
    "channel layout");
_Static_assert (offsetof (struct zcipc_channel_shared, release_ring) == 256,
    "channel layout");

struct record_header
{
  uint32_t size;                /* payload bytes, header excluded */
  uint32_t kind;
};
_Static_assert (sizeof (struct record_header) == 8, "record header layout");

static size_t
align8 (size_t n)
{
  return (n + 7) & ~(size_t) 7;
}

static size_t
channel_size (void)
{
  return zcipc_page_round (sizeof (struct zcipc_channel_shared));
}

static long
futex (_Atomic uint32_t * word, int op, uint32_t value,
    const struct timespec *timeout)
{
  /* Shared (not FUTEX_PRIVATE_FLAG): the two sides are two processes. */
  return syscall (SYS_futex, word, op, value, timeout, NULL, 0);
}

static void
channel_reset (struct zcipc_channel *ch)
{
  memset (ch, 0, sizeof *ch);
  ch->fd = -1;
}

int
zcipc_channel_create (struct zcipc_channel *ch, bool releases_by_socket)
{
  size_t size = channel_size ();
  struct zcipc_channel_shared *sh;
  void *data;
  int fd, res;

  channel_reset (ch);
  if ((res = zcipc_memfd_create_mapped ("zcipc-channel", size, MAP_POPULATE,
              &fd, &data)) < 0)
    return res;
  sh = data;
  /* The consumer maps it writable too (it writes its indices and releases),
   * so no write seal; but neither side may resize it under the other. */
  if (fcntl (fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
    res = zcipc_neg_errno ();
    munmap (sh, size);
    close (fd);
    return res;
  }
  sh->magic = CHANNEL_MAGIC;
  sh->version = CHANNEL_VERSION;
  sh->ring_size = ZCIPC_CHANNEL_RING_SIZE;
  sh->releases = ZCIPC_CHANNEL_RELEASES;
  atomic_store (&sh->releases_by_socket, releases_by_socket);
  ch->shared = sh;
  ch->size = size;
  ch->fd = fd;
  return 0;
}

int
zcipc_channel_import (struct zcipc_channel *ch, int fd)
{
  size_t size = channel_size ();
  struct zcipc_channel_shared *sh;
  struct stat st;
  int seals;

  channel_reset (ch);
  if (fstat (fd, &st) < 0)
    return zcipc_neg_errno ();
  seals = fcntl (fd, F_GET_SEALS);
  /* Smaller than the layout, or able to shrink: the producer could make us
   * SIGBUS. */
  if (st.st_size < 0 || (uint64_t) st.st_size < size || seals < 0 ||
      (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW))
    return -EBADFD;
  sh = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
      fd, 0);
  if (sh == MAP_FAILED)
    return zcipc_neg_errno ();
  if (sh->magic != CHANNEL_MAGIC || sh->version != CHANNEL_VERSION ||
      sh->ring_size != ZCIPC_CHANNEL_RING_SIZE ||
      sh->releases != ZCIPC_CHANNEL_RELEASES) {
    munmap (sh, size);
    return -EBADFD;
  }
  madvise (sh, size, MADV_DONTFORK);
  ch->shared = sh;
  ch->size = size;
  ch->fd = fd;
  /* Start where the producer is: it wrote nothing yet, but do not trust
   * that it did not. */
  ch->ring_pos = atomic_load (&sh->ring_tail);
  ch->release_pos = atomic_load (&sh->release_head);
  return 0;
}

void
zcipc_channel_clear (struct zcipc_channel *ch)
{
  if (ch->shared == NULL)
    return;
  munmap (ch->shared, ch->size);
  close (ch->fd);
  channel_reset (ch);
}

/* Producer. Bytes the ring holds, checked. */
static int
ring_used (struct zcipc_channel *ch, uint64_t * used)
{
  uint64_t tail = atomic_load_explicit (&ch->shared->ring_tail,
      memory_order_acquire);

  *used = ch->ring_pos - tail;
  if (*used > ZCIPC_CHANNEL_RING_SIZE || (*used & 7))
    return -EPROTO;
  return 0;
}

/* Bytes a record of `size` payload takes at `pos`, padding included. */
static size_t
record_space (uint64_t pos, size_t size)
{
  size_t need = sizeof (struct record_header) + align8 (size);
  size_t to_end = ZCIPC_CHANNEL_RING_SIZE - (size_t) (pos &
      (ZCIPC_CHANNEL_RING_SIZE - 1));

  return need <= to_end ? need : to_end + need;
}

int
zcipc_channel_check_room (struct zcipc_channel *ch, size_t size)
{
  uint64_t used;
  int res;

  if (size > ZCIPC_CHANNEL_MAX_RECORD)
    return -EMSGSIZE;
  if ((res = ring_used (ch, &used)) < 0)
    return res;
  if (used + record_space (ch->ring_pos, size) > ZCIPC_CHANNEL_RING_SIZE)
    return -EAGAIN;
  return 0;
}

void
zcipc_channel_wake (struct zcipc_channel *ch)
{
  struct zcipc_channel_shared *sh = ch->shared;

  /* Pairs with the fence in zcipc_channel_wait(): either it sees what we
   * published, or we see it asleep. */
  atomic_thread_fence (memory_order_seq_cst);
  if (!atomic_load_explicit (&sh->sleeping, memory_order_relaxed))
    return;
  atomic_fetch_add (&sh->wake_seq, 1);
  futex (&sh->wake_seq, FUTEX_WAKE, 1, NULL);
  ch->wakeups++;
}

int
zcipc_channel_push (struct zcipc_channel *ch, enum zcipc_channel_record kind,
    const struct iovec *iov, unsigned int n_iov)
{
  struct zcipc_channel_shared *sh = ch->shared;
  struct record_header header = { 0, (uint32_t) kind };
  size_t to_end, offset, size = 0;
  uint8_t *p;
  int res;

  /* Summed in size_t and checked before narrowing: lengths that wrap 32
   * bits must not pass as a small record. */
  for (unsigned int i = 0; i < n_iov; i++) {
    if (iov[i].iov_len > ZCIPC_CHANNEL_MAX_RECORD)
      return -EMSGSIZE;
    size += iov[i].iov_len;
  }
  if ((res = zcipc_channel_check_room (ch, size)) < 0)
    return res;
  header.size = (uint32_t) size;
  offset = (size_t) (ch->ring_pos & (ZCIPC_CHANNEL_RING_SIZE - 1));
  to_end = ZCIPC_CHANNEL_RING_SIZE - offset;
  if (sizeof header + align8 (header.size) > to_end) {
    /* Records never wrap: pad to the start. */
    struct record_header pad = { (uint32_t) (to_end - sizeof pad),
      ZCIPC_CHANNEL_RECORD_PAD
    };
    memcpy (sh->ring + offset, &pad, sizeof pad);
    ch->ring_pos += to_end;
    offset = 0;
  }
  p = sh->ring + offset;
  memcpy (p, &header, sizeof header);
  p += sizeof header;
  for (unsigned int i = 0; i < n_iov; i++) {
    memcpy (p, iov[i].iov_base, iov[i].iov_len);
    p += iov[i].iov_len;
  }
  ch->ring_pos += sizeof header + align8 (header.size);
  atomic_store_explicit (&sh->ring_head, ch->ring_pos, memory_order_release);
  zcipc_channel_wake (ch);
  return 0;
}

int
zcipc_channel_pop_releases (struct zcipc_channel *ch, uint64_t * seqs,
    unsigned int max, unsigned int *n)
{
  struct zcipc_channel_shared *sh = ch->shared;
  uint64_t head = atomic_load_explicit (&sh->release_head,
      memory_order_acquire);
  uint64_t avail = head - ch->release_pos;
  unsigned int i;

  *n = 0;
  if (avail > ZCIPC_CHANNEL_RELEASES)
    return -EPROTO;
  for (i = 0; i < max && i < avail; i++)
    seqs[i] = sh->release_ring[(ch->release_pos + i) &
        (ZCIPC_CHANNEL_RELEASES - 1)];
  if (i == 0)
    return 0;
  ch->release_pos += i;
  atomic_store_explicit (&sh->release_tail, ch->release_pos,
      memory_order_release);
  *n = i;
  return 0;
}

void
zcipc_channel_set_releases_by_socket (struct zcipc_channel *ch, bool by_socket)
{
  atomic_store (&ch->shared->releases_by_socket, by_socket);
  /* Pairs with zcipc_channel_push_release(): the caller reads the ring
   * after this, so a release is either seen there or sent by socket. */
  atomic_thread_fence (memory_order_seq_cst);
}

int
zcipc_channel_pop (struct zcipc_channel *ch, void *buf, size_t cap,
    size_t *len, enum zcipc_channel_record *kind)
{
  struct zcipc_channel_shared *sh = ch->shared;

  for (;;) {
    uint64_t head = atomic_load_explicit (&sh->ring_head,
        memory_order_acquire);
    uint64_t avail = head - ch->ring_pos;
    size_t offset = (size_t) (ch->ring_pos & (ZCIPC_CHANNEL_RING_SIZE - 1));
    size_t to_end = ZCIPC_CHANNEL_RING_SIZE - offset;
    struct record_header header;
    size_t space;

    if (avail == 0)
      return -EAGAIN;
    if (avail > ZCIPC_CHANNEL_RING_SIZE || (avail & 7) || avail < sizeof header)
      return -EPROTO;
    /* One copy of the header: the producer may rewrite it meanwhile. */
    memcpy (&header, sh->ring + offset, sizeof header);
    if (header.kind == ZCIPC_CHANNEL_RECORD_PAD) {
      if (header.size != to_end - sizeof header || avail < to_end)
        return -EPROTO;
      ch->ring_pos += to_end;
      continue;
    }
    space = sizeof header + align8 (header.size);
    if ((header.kind != ZCIPC_CHANNEL_RECORD_MESSAGE &&
            header.kind != ZCIPC_CHANNEL_RECORD_SOCKET) ||
        header.size > ZCIPC_CHANNEL_MAX_RECORD || space > to_end ||
        space > avail || header.size > cap)
      return -EPROTO;
    memcpy (buf, sh->ring + offset + sizeof header, header.size);
    ch->ring_pos += space;
    atomic_store_explicit (&sh->ring_tail, ch->ring_pos, memory_order_release);
    *len = header.size;
    *kind = (enum zcipc_channel_record) header.kind;
    return 0;
  }
}

bool
zcipc_channel_pending (struct zcipc_channel *ch)
{
  return atomic_load_explicit (&ch->shared->ring_head,
      memory_order_acquire) != ch->ring_pos;
}

int
zcipc_channel_wait (struct zcipc_channel *ch, int timeout_ms,
    const atomic_bool * interrupted)
{
  struct zcipc_channel_shared *sh = ch->shared;
  uint32_t seq = atomic_load (&sh->wake_seq);
  struct timespec ts, *tsp = NULL;
  long res;

  if (timeout_ms >= 0) {
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = (long) (timeout_ms % 1000) * 1000000;
    tsp = &ts;
  }
  atomic_store_explicit (&sh->sleeping, 1, memory_order_relaxed);
  /* Pairs with zcipc_channel_wake(): the producer either sees us asleep or
   * we see its record here. */
  atomic_thread_fence (memory_order_seq_cst);
  if (atomic_load_explicit (&sh->ring_head, memory_order_relaxed) !=
      ch->ring_pos || atomic_load (interrupted)) {
    atomic_store_explicit (&sh->sleeping, 0, memory_order_relaxed);
    return 0;
  }
  /* Returns at once (EAGAIN) if wake_seq moved since we read it. */
  res = futex (&sh->wake_seq, FUTEX_WAIT, seq, tsp);
  atomic_store_explicit (&sh->sleeping, 0, memory_order_relaxed);
  if (res < 0 && errno == ETIMEDOUT)
    return -ETIMEDOUT;
  return 0;
}

void
zcipc_channel_interrupt (struct zcipc_channel *ch)
{
  atomic_fetch_add (&ch->shared->wake_seq, 1);
  futex (&ch->shared->wake_seq, FUTEX_WAKE, 1, NULL);
}

bool
zcipc_channel_releases_by_socket (struct zcipc_channel *ch)
{
  return atomic_load (&ch->shared->releases_by_socket) != 0;
}

int
zcipc_channel_push_release (struct zcipc_channel *ch, uint64_t seq)
{
  struct zcipc_channel_shared *sh = ch->shared;
  uint64_t tail = atomic_load_explicit (&sh->release_tail,
      memory_order_acquire);

  if (ch->release_pos - tail >= ZCIPC_CHANNEL_RELEASES)
    return -EAGAIN;
  sh->release_ring[ch->release_pos & (ZCIPC_CHANNEL_RELEASES - 1)] = seq;
  ch->release_pos++;
  atomic_store_explicit (&sh->release_head, ch->release_pos,
      memory_order_release);
  /* Pairs with zcipc_channel_set_releases_by_socket(). */
  atomic_thread_fence (memory_order_seq_cst);
  return atomic_load_explicit (&sh->releases_by_socket,
      memory_order_relaxed) ? 1 : 0;
}
