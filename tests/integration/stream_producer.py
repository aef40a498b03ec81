#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A producer process for the stream-meaning tests: runs a pipeline with an
element named `sink` (a zcipcsink, or the same tail as a consumer for an
in-process reference run) and an element named by --at (a capsfilter, say)
whose src pad the scripted actions act on:

  --caps-at N:CAPS     frames from N on have these caps (the element's caps
                       property is set once frame N-1 has left it)
  --event-at N:KIND:S  pushes an event right before frame N; KIND is custom,
                       custom-sticky, tag (S a tag list) or gap (S = duration ns)
  --seek-after N:POS   once the sink received N frames, the application does a
                       flushing seek to POS ns

  --clock SPEC         the pipeline's clock (see make_clock)
  --provide-clock P    serves the pipeline's clock on 127.0.0.1:P
  --running-for S      the pipeline's base time is S seconds in the past, as
                       if it had been playing that long (give its live
                       source a timestamp-offset of S seconds to match)

Writes a JSON report (--report) of what reached the sink pad in order
(buffers with offset, PTS, running time, the clock time they are
scheduled to render at and the one they reached the sink at, both also in
CLOCK_MONOTONIC; events), so stdout stays free for checksumsink."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from fractions import Fraction

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstBase", "1.0")
from gi.repository import GObject, Gst, GstBase  # noqa: E402

# Loading GstBase's typelib gives the sink element its BaseSink methods.
assert GstBase.BaseSink


def describe_event(event: Gst.Event) -> dict:
    t = event.type
    item = {"kind": "event", "type": Gst.EventType.get_name(t)}
    if t == Gst.EventType.TAG:
        tags = event.parse_tag()
        item["tags"] = tags.to_string()
        item["scope"] = int(tags.get_scope())
    elif t == Gst.EventType.GAP:
        ts, duration = event.parse_gap()
        item["timestamp"], item["duration"] = ts, duration
    elif t == Gst.EventType.STREAM_START:
        item["stream-id"] = event.parse_stream_start()
        ok, group = event.parse_group_id()
        item["group-id"] = group if ok else None
    elif t == Gst.EventType.CAPS:
        item["caps"] = event.parse_caps().to_string()
    elif t == Gst.EventType.SEGMENT:
        seg = event.parse_segment()
        item["segment"] = {"base": seg.base, "start": seg.start, "time": seg.time,
                           "rate": seg.rate}
    elif event.get_structure() is not None:
        item["structure"] = event.get_structure().to_string()
    return item


def make_clock(spec: str) -> Gst.Clock | None:
    """The clock a pipeline runs on: "" (the pipeline's choice), "monotonic"
    or "realtime" (a system clock of that type), or
    "skewed:EPOCH_S:RATE": a monotonic system clock calibrated to tell
    EPOCH_S seconds now and to run RATE times as fast as CLOCK_MONOTONIC
    (what an audio or network clock does, exaggerated), or "net:PORT": a
    network clock slaved to the time provider on 127.0.0.1:PORT (see
    provide_clock), once it is in sync."""
    if not spec:
        return None
    kind, _, rest = spec.partition(":")
    if kind in ("monotonic", "realtime"):
        return GObject.new(Gst.SystemClock, clock_type=getattr(Gst.ClockType, kind.upper()))
    if kind == "skewed":
        epoch, rate = rest.split(":")
        clock = GObject.new(Gst.SystemClock, clock_type=Gst.ClockType.MONOTONIC)
        num, denom = Fraction(rate).limit_denominator(1_000_000).as_integer_ratio()
        clock.set_calibration(clock.get_internal_time(), int(float(epoch) * Gst.SECOND),
                              num, denom)
        return clock
    if kind == "net":
        gi.require_version("GstNet", "1.0")
        from gi.repository import GstNet
        clock = GstNet.NetClientClock.new("net", "127.0.0.1", int(rest), 0)
        if not clock.wait_for_sync(10 * Gst.SECOND):
            raise RuntimeError(f"the network clock of 127.0.0.1:{rest} did not sync")
        return clock
    raise ValueError(spec)


def provide_clock(pipeline: Gst.Pipeline, port: int):
    """Serves the pipeline's clock on 127.0.0.1:`port` (keep the result)."""
    gi.require_version("GstNet", "1.0")
    from gi.repository import GstNet
    clock = pipeline.get_pipeline_clock()
    pipeline.use_clock(clock)
    return GstNet.NetTimeProvider.new(clock, "127.0.0.1", port)


def to_monotonic(clock: Gst.Clock, clock_time: int) -> int:
    """`clock_time` on `clock` in CLOCK_MONOTONIC (ns), from both read
    together: the closest of a few tries, as zcipc does."""
    best = None
    for _ in range(3):
        before = time.monotonic_ns()
        now = clock.get_time()
        after = time.monotonic_ns()
        if best is None or after - before < best[0]:
            best = (after - before, now - (before + after) // 2)
    return clock_time - best[1]


def use_clock(pipeline: Gst.Pipeline, spec: str, running_for: float = 0.0) -> None:
    clock = make_clock(spec)
    if clock is not None:
        pipeline.use_clock(clock)
    if running_for:
        clock = clock or Gst.SystemClock.obtain()
        pipeline.use_clock(clock)
        pipeline.set_start_time(Gst.CLOCK_TIME_NONE)
        pipeline.set_base_time(clock.get_time() - int(running_for * Gst.SECOND))


def make_event(kind: str, arg: str) -> Gst.Event:
    if kind == "custom":
        return Gst.Event.new_custom(Gst.EventType.CUSTOM_DOWNSTREAM, Gst.Structure.from_string(arg)[0])
    if kind == "custom-sticky":
        return Gst.Event.new_custom(Gst.EventType.CUSTOM_DOWNSTREAM_STICKY,
                                    Gst.Structure.from_string(arg)[0])
    if kind == "tag":
        return Gst.Event.new_tag(Gst.TagList.new_from_string(arg))
    raise ValueError(kind)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--at", default="cf")
    ap.add_argument("--caps-at", action="append", default=[])
    ap.add_argument("--event-at", action="append", default=[])
    ap.add_argument("--seek-after", action="append", default=[])
    ap.add_argument("--report", required=True)
    ap.add_argument("--clock", default="")
    ap.add_argument("--running-for", type=float, default=0.0)
    ap.add_argument("--provide-clock", type=int, default=0,
                    help="serve the pipeline's clock on this port of 127.0.0.1")
    ap.add_argument("--timeout", type=float, default=25.0)
    args = ap.parse_args()

    Gst.init(None)
    pipeline = Gst.parse_launch(args.pipeline)
    use_clock(pipeline, args.clock, args.running_for)
    provider = provide_clock(pipeline, args.provide_clock) if args.provide_clock else None
    sink = pipeline.get_by_name("sink")
    report: dict = {"items": [], "seeks": [], "error": None, "eos": False}
    lock = threading.Lock()
    received = [0]

    caps_at = {}
    for spec in args.caps_at:
        n, caps = spec.split(":", 1)
        caps_at[int(n)] = Gst.Caps.from_string(caps)
    events_at: dict[int, list] = {}
    for spec in args.event_at:
        n, kind, arg = spec.split(":", 2)
        events_at.setdefault(int(n), []).append((kind, arg))
    seeks = sorted((int(n), int(pos)) for n, pos in (s.split(":") for s in args.seek_after))

    at = pipeline.get_by_name(args.at) if (caps_at or events_at) else None
    if at is not None:
        counter = [0]

        def act(pad, info):
            n = counter[0]
            for kind, arg in events_at.get(n, []):
                if kind == "gap":
                    buf = info.get_buffer()
                    event = Gst.Event.new_gap(buf.pts, int(arg))
                else:
                    event = make_event(kind, arg)
                pad.push_event(event)
            if n + 1 in caps_at:
                # Frame n has left the capsfilter: the next one is
                # negotiated with the new caps.
                at.set_property("caps", caps_at[n + 1])
            counter[0] += 1
            return Gst.PadProbeReturn.OK

        at.get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, act)

    def record(pad, info):
        item: dict
        if info.type & Gst.PadProbeType.BUFFER:
            buf = info.get_buffer()
            item = {"kind": "buffer", "offset": buf.offset, "pts": buf.pts}
            seg_event = pad.get_sticky_event(Gst.EventType.SEGMENT, 0)
            if seg_event is not None and buf.pts != Gst.CLOCK_TIME_NONE:
                rt = seg_event.parse_segment().to_running_time(Gst.Format.TIME, buf.pts)
                item["running_time"] = rt
                base = sink.get_base_time()
                latency = sink.get_latency()    # GstBaseSink: the pipeline's
                item["base_time"] = base
                item["latency"] = latency
                item["render_clock"] = base + rt + latency
                # When it reached the sink: after render_clock, the sink
                # renders at once, late to its own schedule.
                clock = sink.get_clock()
                if clock is not None:
                    item["arrival_clock"] = clock.get_time()
                    item["render_monotonic"] = to_monotonic(clock, item["render_clock"])
                    item["arrival_monotonic"] = to_monotonic(clock, item["arrival_clock"])
            with lock:
                received[0] += 1
        else:
            item = describe_event(info.get_event())
        with lock:
            report["items"].append(item)
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(
        Gst.PadProbeType.BUFFER | Gst.PadProbeType.EVENT_DOWNSTREAM, record)

    pipeline.set_state(Gst.State.PLAYING)
    bus = pipeline.get_bus()
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        msg = bus.timed_pop_filtered(20 * Gst.MSECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        if msg is not None:
            if msg.type == Gst.MessageType.ERROR:
                err, dbg = msg.parse_error()
                report["error"] = f"{err.message} ({dbg})"
            else:
                report["eos"] = True
            break
        with lock:
            n = received[0]
        if seeks and n >= seeks[0][0]:
            after, pos = seeks.pop(0)
            t0 = time.monotonic()
            ok = pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, pos)
            with lock:
                report["items"].append({"kind": "seek", "position": pos})
            report["seeks"].append({"after": n, "position": pos, "ok": ok,
                                    "seconds": time.monotonic() - t0})
    else:
        report["error"] = f"timed out after {args.timeout} s"
    if hasattr(sink.props, "stats"):
        report["stats"] = sink.get_property("stats").to_string()
    clock = pipeline.get_clock()
    report["clock_type"] = clock.get_property("clock-type").value_nick if clock else None
    pipeline.set_state(Gst.State.NULL)
    del provider
    with open(args.report, "w") as f:
        json.dump(report, f)
    return 0 if report["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
