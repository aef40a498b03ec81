#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A producer whose buffers are fd-backed memory that zcipcsink does not own:
`appsrc ! zcipcsink`, every memory a GstFdMemory (--kind fd) or a
GstDmaBufMemory (--kind dmabuf) over memfds this script creates, never
sealed by it (the sink must seal them; with --unsealable it cannot).

  --layout single   one RGBA 320x240 memory per buffer, each frame slot a
                    memory of its own (gst_fd_allocator_alloc over the memfd +
                    gst_memory_resize), the first at offset 4096 of one memfd
  --layout multi    an I420 320x240 buffer of 3 memories from 2 memfds: Y and
                    V in memfd A, U in memfd B, all at non-zero offsets, made
                    as shares of one root memory per memfd
  --replace-at N    from frame N on, new memfds (and memories) replace the
                    first ones, which this script then drops

Frame n uses slot n % SLOTS, whose bytes were written once at start (so no
frame is written while a consumer may read it) and differ per slot and
plane. Buffer offset = n. Prints one JSON object: the sha1 of each (slot,
memory) per memfd set, the memfds' inodes, and the sink's stats at EOS."""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import random
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstAllocators", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstAllocators, GstVideo  # noqa: E402

WIDTH, HEIGHT = 320, 240
SLOTS = 4
PAGE = 4096


def page_round(n: int) -> int:
    return (n + PAGE - 1) // PAGE * PAGE


def pattern(seed: str, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


class Memfd:
    """A memfd of `size` bytes, unsealed (sealing is the sink's job); with
    SEALABLE false, made without MFD_ALLOW_SEALING, so it can never be
    sealed."""

    SEALABLE = True

    def __init__(self, name: str, size: int):
        flags = os.MFD_CLOEXEC | (os.MFD_ALLOW_SEALING if Memfd.SEALABLE else 0)
        self.fd = os.memfd_create(name, flags)
        os.ftruncate(self.fd, size)
        self.size = size
        self.inode = os.fstat(self.fd).st_ino

    def write(self, offset: int, data: bytes) -> None:
        os.pwrite(self.fd, data, offset)


class Source:
    """The memfds and per-slot memories of one generation."""

    def __init__(self, kind: str, layout: str, generation: int):
        self.kind, self.layout = kind, layout
        if kind == "dmabuf":
            self.allocator = GstAllocators.DmaBufAllocator.new()
        else:
            self.allocator = GstAllocators.FdAllocator.new()
        self.slots: list[list[Gst.Memory]] = []
        self.sha1: list[list[str]] = []
        self.offsets: list[list[int]] = []
        if layout == "single":
            self._single(generation)
        else:
            self._multi(generation)

    def _alloc(self, fd: int, size: int) -> Gst.Memory:
        # Each memory owns a duplicate of the memfd and closes it when freed,
        # which may be long after this script dropped it (queued, or held by
        # a consumer); the script's own fd may be closed any time.
        fd = os.dup(fd)
        flags = GstAllocators.FdMemoryFlags.NONE
        if self.kind == "dmabuf":
            return GstAllocators.DmaBufAllocator.alloc_with_flags(self.allocator, fd, size, flags)
        return GstAllocators.FdAllocator.alloc(self.allocator, fd, size, flags)

    def _single(self, gen: int) -> None:
        frame = WIDTH * HEIGHT * 4
        stride = page_round(frame)
        self.memfds = [Memfd(f"foreign-{gen}", PAGE + SLOTS * stride)]
        for s in range(SLOTS):
            offset = PAGE + s * stride
            data = pattern(f"{gen}-{s}-rgba", frame)
            self.memfds[0].write(offset, data)
            # A memory of its own per slot: gst_fd_allocator_alloc (fd,
            # offset + size) + gst_memory_resize (offset, size).
            mem = self._alloc(self.memfds[0].fd, offset + frame)
            mem.resize(offset, frame)
            self.slots.append([mem])
            self.sha1.append([hashlib.sha1(data).hexdigest()])
            self.offsets.append([offset])

    def _multi(self, gen: int) -> None:
        y, c = WIDTH * HEIGHT, WIDTH * HEIGHT // 4
        a_slot = page_round(y) + page_round(c)
        b_slot = page_round(c)
        a = Memfd(f"foreign-a-{gen}", PAGE + SLOTS * a_slot)
        b = Memfd(f"foreign-b-{gen}", 3 * PAGE + SLOTS * b_slot)
        self.memfds = [a, b]
        # One root memory per memfd; frames are shares of it at offsets.
        root_a = self._alloc(a.fd, a.size)
        root_b = self._alloc(b.fd, b.size)
        for s in range(SLOTS):
            y_off = PAGE + s * a_slot
            v_off = y_off + page_round(y)
            u_off = 3 * PAGE + s * b_slot + 512       # not even page-aligned
            planes = [(a, root_a, y_off, y, "y"), (b, root_b, u_off, c, "u"),
                      (a, root_a, v_off, c, "v")]
            mems, sums, offs = [], [], []
            for memfd, root, off, size, name in planes:
                data = pattern(f"{gen}-{s}-{name}", size)
                memfd.write(off, data)
                mems.append(root.share(off, size))
                sums.append(hashlib.sha1(data).hexdigest())
                offs.append(off)
            self.slots.append(mems)
            self.sha1.append(sums)
            self.offsets.append(offs)

    def caps(self) -> str:
        fmt = "RGBA" if self.layout == "single" else "I420"
        feature = "(memory:DMABuf)" if self.kind == "dmabuf" else ""
        return f"video/x-raw{feature},format={fmt},width={WIDTH},height={HEIGHT},framerate=30/1"

    def buffer(self, n: int) -> Gst.Buffer:
        buf = Gst.Buffer.new()
        for mem in self.slots[n % SLOTS]:
            buf.append_memory(mem)
        buf.pts = n * Gst.SECOND // 30
        buf.duration = Gst.SECOND // 30
        buf.offset = n
        if self.layout == "multi":
            y, c = WIDTH * HEIGHT, WIDTH * HEIGHT // 4
            GstVideo.buffer_add_video_meta_full(
                buf, GstVideo.VideoFrameFlags.NONE, GstVideo.VideoFormat.I420, WIDTH, HEIGHT,
                3, [0, y, y + c, 0], [WIDTH, WIDTH // 2, WIDTH // 2, 0])
        return buf

    def describe(self) -> dict:
        return {"sha1": self.sha1, "offsets": self.offsets,
                "inodes": [m.inode for m in self.memfds]}

    def close(self) -> None:
        """Drops this script's memories and fds (queued buffers and
        consumers may hold theirs a while longer)."""
        self.slots.clear()
        for m in self.memfds:
            os.close(m.fd)
            m.fd = -1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket-path", required=True)
    ap.add_argument("--kind", choices=["fd", "dmabuf"], required=True)
    ap.add_argument("--layout", choices=["single", "multi"], default="single")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--replace-at", type=int, default=0)
    ap.add_argument("--unsealable", action="store_true",
                    help="memfds without MFD_ALLOW_SEALING (the sink must copy)")
    args = ap.parse_args()
    Memfd.SEALABLE = not args.unsealable

    Gst.init(None)
    gens = [Source(args.kind, args.layout, 0)]
    pipeline = Gst.parse_launch(
        f"appsrc name=src format=time block=true max-buffers=2 caps={gens[0].caps()} ! "
        f"zcipcsink name=sink socket-path={args.socket_path} "
        "min-consumers=1 slow-consumer=wait sync=false")
    src, sink = pipeline.get_by_name("src"), pipeline.get_by_name("sink")
    report = {"generations": [gens[0].describe()], "frames": args.frames}
    pipeline.set_state(Gst.State.PLAYING)
    for n in range(args.frames):
        if args.replace_at and n == args.replace_at:
            # The first memfds' memories are dropped here (and by the sink
            # once consumers released their frames): the sink forgets them.
            gens[0].close()
            gens.append(Source(args.kind, args.layout, 1))
            report["generations"].append(gens[-1].describe())
        ret = src.emit("push-buffer", gens[-1].buffer(n))
        assert ret == Gst.FlowReturn.OK, ret
    src.emit("end-of-stream")
    msg = pipeline.get_bus().timed_pop_filtered(60 * Gst.SECOND,
                                                Gst.MessageType.EOS | Gst.MessageType.ERROR)
    if msg is None or msg.type != Gst.MessageType.EOS:
        report["error"] = str(msg.parse_error()) if msg else "timeout"
    else:
        report["error"] = None
    stats = sink.get_property("stats")
    report["stats"] = {k: stats.get_value(k) for k in (
        "frames-copied", "bytes-copied", "frames-sent", "frames-by-fd", "regions-announced",
        "fd-regions-announced", "fd-regions")}
    # Sealed by the sink, not by us.
    report["seals"] = [fcntl.fcntl(m.fd, fcntl.F_GET_SEALS) for m in gens[-1].memfds]
    pipeline.set_state(Gst.State.NULL)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
