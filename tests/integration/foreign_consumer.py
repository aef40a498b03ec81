#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A consumer (`zcipcsrc ! appsink`) that reports, for every frame, what kind
of memory each of its memories is (DMABuf, fd, or plain memory wrapped
around zcipcsrc's mapping), the sha1 of its bytes, and which mapping of this
process (by inode) its data lies in; and how many mappings each inode has
here. Prints one JSON object when the stream ends."""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import sys
from collections import Counter

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstAllocators", "1.0")
from gi.repository import Gst, GstAllocators  # noqa: E402
import numpy as np  # noqa: E402

from zcipctest import maps_lines  # noqa: E402


def mappings() -> list[tuple[int, int, str, int, str]]:
    """(start, end, perms, inode, name) of every file-backed mapping."""
    out = []
    for line in maps_lines():
        parts = line.split(maxsplit=5)
        if len(parts) >= 5 and parts[4] != "0":
            start, end = (int(x, 16) for x in parts[0].split("-"))
            out.append((start, end, parts[1], int(parts[4]), parts[5].strip() if len(parts) > 5 else ""))
    return out


def memfd_mappings() -> dict[str, int]:
    """Mappings of memfds in this process, per inode, but for the zcipc
    channel (the message ring beside the socket, not frame memory)."""
    return {str(k): v for k, v in
            Counter(m[3] for m in mappings() if m[4].startswith("/memfd:")
                    and not m[4].startswith("/memfd:zcipc-channel")).items()}


def kind_of(mem: Gst.Memory) -> str:
    if GstAllocators.is_dmabuf_memory(mem):
        return "dmabuf"
    if GstAllocators.is_fd_memory(mem):
        return "fd"
    return "wrapped"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket-path", required=True)
    ap.add_argument("--timeout", type=int, default=10000)
    args = ap.parse_args()

    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"zcipcsrc name=src socket-path={args.socket_path} timeout={args.timeout} "
        "! appsink name=sink sync=false max-buffers=1")
    sink, src = pipeline.get_by_name("sink"), pipeline.get_by_name("src")
    sample = buf = mem = None
    report = {"frames": [], "caps": None, "eos": False, "error": None,
              "mappings_per_inode": {}, "stats": None}
    per_inode_max: Counter = Counter()
    pipeline.set_state(Gst.State.PLAYING)
    while True:
        sample = sink.emit("try-pull-sample", 20 * Gst.SECOND)
        if sample is None:
            msg = pipeline.get_bus().pop_filtered(Gst.MessageType.ERROR)
            if msg:
                err, dbg = msg.parse_error()
                report["error"] = f"{err.message} ({dbg})"
            report["eos"] = sink.get_property("eos")
            break
        buf = sample.get_buffer()
        report["caps"] = sample.get_caps().to_string()
        frame = {"offset": buf.offset, "memories": []}
        for i in range(buf.n_memory()):
            mem = buf.peek_memory(i)
            ok, info = mem.map(Gst.MapFlags.READ)
            assert ok
            arr = np.frombuffer(info.data, dtype=np.uint8)
            address = arr.ctypes.data
            maps = mappings()     # after map(): a DMABuf is mapped at its first
            where = next((m for m in maps if m[0] <= address and address + arr.size <= m[1]),
                         None)
            frame["memories"].append({
                "kind": kind_of(mem),
                "read_only": bool(mem.mini_object.flags & Gst.MemoryFlags.READONLY),
                "sha1": hashlib.sha1(arr.tobytes()).hexdigest(),
                "inode": where[3] if where else None,
                "perms": where[2] if where else None,
            })
            del arr
            mem.unmap(info)
        report["frames"].append(frame)
        for inode, n in memfd_mappings().items():
            per_inode_max[inode] = max(per_inode_max[inode], n)
    report["mappings_per_inode"] = dict(per_inode_max)
    report["mappings_at_eos"] = memfd_mappings()
    st = src.get_property("stats")
    report["stats"] = {k: st.get_value(k) for k in ("frames-received", "regions", "dmabuf-regions")}
    pipeline.set_state(Gst.State.NULL)
    # Nothing of the stream is held any more: every mapping must be gone.
    del sample, buf, mem, pipeline, sink, src
    gc.collect()
    report["mappings_after_null"] = memfd_mappings()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
