#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A consumer process that proves zero copy from the inside: for every
buffer zcipcsrc pushes, checks that its data lies in a read-only shared
zcipc mapping of this process and that the memory is flagged read-only.
Prints one JSON object when the stream ends."""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zcipctest import address_in_mappings, zcipc_mappings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket-path", required=True)
    ap.add_argument("--max-frames", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=10000)
    args = ap.parse_args()

    Gst.init(None)
    pipeline = Gst.parse_launch(
        f"zcipcsrc name=src socket-path={args.socket_path} timeout={args.timeout} "
        f"! appsink name=sink sync=false max-buffers=1")
    sink = pipeline.get_by_name("sink")
    src = pipeline.get_by_name("src")
    report = {"frames": 0, "inside_shared_mapping": 0, "mapping_read_only": 0,
              "memory_read_only": 0, "write_map_refused": 0, "pts": [], "sha1": [],
              "caps": None, "video_meta": None, "eos": False, "error": None}
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
        vmeta = GstVideo.buffer_get_video_meta(buf)
        if vmeta is not None:
            report["video_meta"] = {"stride": list(vmeta.stride)[:vmeta.n_planes],
                                    "offset": list(vmeta.offset)[:vmeta.n_planes]}
        mappings = zcipc_mappings()
        for i in range(buf.n_memory()):
            mem = buf.peek_memory(i)
            if mem.mini_object.flags & Gst.MemoryFlags.READONLY:
                report["memory_read_only"] += 1
        ok, info = buf.map(Gst.MapFlags.READ)
        assert ok
        arr = np.frombuffer(info.data, dtype=np.uint8)
        where = address_in_mappings(arr.ctypes.data, arr.size, mappings)
        if where is not None:
            report["inside_shared_mapping"] += 1
            if where[2] == "r--s":
                report["mapping_read_only"] += 1
        report["sha1"].append(hashlib.sha1(arr.tobytes()).hexdigest())
        del arr
        buf.unmap(info)
        # The memory itself refuses a write mapping (the buffer is shared with
        # appsink, so asking the buffer would only test its refcount).
        mem = buf.peek_memory(0)
        ok, winfo = mem.map(Gst.MapFlags.WRITE)
        if not ok:
            report["write_map_refused"] += 1
        else:
            mem.unmap(winfo)
        report["pts"].append(buf.pts)
        report["frames"] += 1
        # Which path this frame came by (the channel is known from the
        # first message after the handshake on).
        if src.get_property("stats").get_value("channel"):
            report["frames_by_channel"] = report.get("frames_by_channel", 0) + 1
        if args.max_frames and report["frames"] >= args.max_frames:
            break
    report["stats"] = src.get_property("stats").to_string()
    pipeline.set_state(Gst.State.NULL)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
