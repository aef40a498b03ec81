#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A consumer process for the stream-meaning tests:
`zcipcsrc name=src ! TAIL`, where TAIL has an element named `sink`.

Records, in order, what reaches the sink pad of `sink` (buffers with offset,
PTS and, with --metas, every meta and the bytes' SHA-1; serialized events), and with --handoffs
the clock time each buffer is rendered at (fakesink signal-handoffs=true),
also in CLOCK_MONOTONIC. --clock sets the pipeline's clock (as
stream_producer.py's); --pause-after pauses the pipeline once, mid-stream.
When the stream ends (EOS, an error, or --max-frames), writes a JSON report
(--report) with those items, zcipcsrc's stats and how many zcipc regions this
process has mapped, so stdout stays free for checksumsink."""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import sys
import threading
import time
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stream_producer import describe_event, to_monotonic, use_clock  # noqa: E402
from zcipctest import maps_lines, zcipc_mappings  # noqa: E402


def mapped_memfds(channel: bool = False) -> int:
    """zcipc memfds mapped in this process (distinct files, not lines): the
    frame regions, or (`channel`) the shared-memory channels beside them."""
    inodes = {tuple(line.split()[3:5]) for line in maps_lines() if "memfd:zcipc-" in line
              and ("memfd:zcipc-channel" in line) == channel}
    assert len(inodes) <= len(zcipc_mappings())
    return len(inodes)


def mapped_regions() -> int:
    return mapped_memfds()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket-path", required=True)
    ap.add_argument("--tail", default="fakesink name=sink sync=false")
    ap.add_argument("--src-opts", default="")
    ap.add_argument("--report", required=True)
    ap.add_argument("--metas", action="store_true")
    ap.add_argument("--handoffs", action="store_true")
    ap.add_argument("--max-frames", type=int, default=0)
    ap.add_argument("--hold-first-until", default=None,
                    help="keep the first buffer (and the streaming thread) until this path exists")
    ap.add_argument("--clock", default="")
    ap.add_argument("--pause-after", default="",
                    help="N:S: once N frames arrived, pause for S seconds")
    ap.add_argument("--timeout", type=float, default=25.0)
    args = ap.parse_args()

    Gst.init(None)
    if args.metas:
        import stream_metas  # noqa: F401 (ctypes only when needed)
    pipeline = Gst.parse_launch(f"zcipcsrc name=src socket-path={args.socket_path} "
                                f"{args.src_opts} ! {args.tail}")
    use_clock(pipeline, args.clock)
    src = pipeline.get_by_name("src")
    sink = pipeline.get_by_name("sink")
    report: dict = {"items": [], "renders": [], "error": None, "eos": False}
    lock = threading.Lock()
    frames = [0]
    done = threading.Event()

    def record(pad, info):
        if info.type & Gst.PadProbeType.BUFFER:
            buf = info.get_buffer()
            if args.hold_first_until and frames[0] == 0:
                deadline = time.monotonic() + args.timeout
                while not Path(args.hold_first_until).exists() and time.monotonic() < deadline:
                    time.sleep(0.01)
            item = {"kind": "buffer", "offset": buf.offset, "pts": buf.pts,
                    "size": buf.get_size()}
            if args.handoffs:  # when zcipcsrc pushed it: before the sink waits
                item["arrival_clock"] = sink.get_clock().get_time()
            if args.metas:
                item["metas"] = stream_metas.dump_metas(buf)
                item["sha1"] = hashlib.sha1(buf.extract_dup(0, buf.get_size())).hexdigest()
                item["duration"] = buf.duration
                item["gap"] = bool(buf.get_flags() & Gst.BufferFlags.GAP)
            with lock:
                report["items"].append(item)
                frames[0] += 1
                if args.max_frames and frames[0] >= args.max_frames:
                    done.set()
        else:
            with lock:
                report["items"].append(describe_event(info.get_event()))
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM, record)

    if args.handoffs:
        # A collection of this process's objects holds the GIL for tens of
        # ms under ASan, and the handoff below waits for the GIL before it
        # reads the clock: it would time the collector, not the sink.
        gc.disable()

        def on_handoff(element, buf, pad):
            clock = element.get_clock()
            now = clock.get_time()
            now_monotonic = time.monotonic_ns()
            seg = pad.get_sticky_event(Gst.EventType.SEGMENT, 0).parse_segment()
            rt = seg.to_running_time(Gst.Format.TIME, buf.pts)
            scheduled = element.get_base_time() + rt
            with lock:
                report["renders"].append({"offset": buf.offset, "pts": buf.pts,
                                          "clock": now, "running_time": rt,
                                          "base_time": element.get_base_time(),
                                          "scheduled": scheduled,
                                          "monotonic": now_monotonic,
                                          "scheduled_monotonic": to_monotonic(clock, scheduled)})
        sink.connect("handoff", on_handoff)

    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    deadline = time.monotonic() + args.timeout
    pause = [float(x) for x in args.pause_after.split(":")] if args.pause_after else None
    while time.monotonic() < deadline and not done.is_set():
        msg = bus.timed_pop_filtered(20 * Gst.MSECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is None:
            with lock:
                n = frames[0]
            if pause and n >= pause[0]:
                # Paused and resumed: a new base time.
                report["paused_monotonic"] = time.monotonic_ns()
                pipeline.set_state(Gst.State.PAUSED)
                time.sleep(pause[1])
                pipeline.set_state(Gst.State.PLAYING)
                report["resumed_monotonic"] = time.monotonic_ns()
                pause = None
            continue
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            report["error"] = f"{err.message} ({dbg})"
        else:
            report["eos"] = True
        break
    else:
        if not done.is_set():
            report["error"] = f"timed out after {args.timeout} s"
    # The stream is over and every frame went through the tail: nothing of
    # the old caps' regions should be mapped any more.
    report["stats"] = src.get_property("stats").to_string()
    report["regions"] = src.get_property("stats").get_value("regions")
    report["mapped_regions"] = mapped_regions()
    report["mapped_channels"] = mapped_memfds(channel=True)
    caps = sink.get_static_pad("sink").get_current_caps()
    report["caps"] = caps.to_string() if caps else None
    clock = pipeline.get_clock()
    report["clock_type"] = clock.get_property("clock-type").value_nick if clock else None
    pipeline.set_state(Gst.State.NULL)
    with open(args.report, "w") as f:
        json.dump(report, f)
    return 0 if report["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
