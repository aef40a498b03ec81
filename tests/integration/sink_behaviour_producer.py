#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A producer for test_sink_behaviour.py: `videotestsrc ! zcipcsink` driven
through a scenario, reporting each step as one JSON line on stdout.

--scenario pause: zcipcsink waits for its first consumer (min-consumers=1,
  slow-consumer=wait), or with --pause-when-held for a consumer that holds
  its quota to release a frame; meanwhile the pipeline goes PLAYING ->
  PAUSED -> PLAYING, each step reported with the state change's result
  ("resumed"); then the stream runs to EOS.
--scenario tee: `videotestsrc ! tee ! queue ! zcipcsink`, no consumer yet:
  once --unwatched frames were rendered, reports the sink's stats
  ("unwatched"); then waits for a consumer and runs to EOS.
Both end with "done": the sink's stats and the bus's verdict."""

from __future__ import annotations

import argparse
import json
import sys
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

CAPS = "video/x-raw,format=RGBA,width=64,height=48,framerate=30/1"
STATS = ("frames-sent", "frames-unsent", "frames-dropped", "frames-copied", "bytes-copied",
         "regions-announced", "rendered", "consumers")


def report(step: str, **fields) -> None:
    print(json.dumps({"step": step, **fields}), flush=True)


def stats_of(sink) -> dict:
    s = sink.get_property("stats")
    return {k: s.get_value(k) for k in STATS}


def change(pipeline, state) -> str:
    """Sets `state` and waits up to 5 s for the change to complete."""
    pipeline.set_state(state)
    res, _, _ = pipeline.get_state(5 * Gst.SECOND)
    return res.value_nick


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket-path", required=True)
    ap.add_argument("--scenario", choices=("pause", "tee"), required=True)
    ap.add_argument("--live", action="store_true")
    ap.add_argument("--pattern", default="smpte")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--unwatched", type=int, default=20)
    ap.add_argument("--pause-when-held", action="store_true",
                    help="pause once a consumer with max-held=2 holds two frames (the sink "
                    "then waits for room)")
    args = ap.parse_args()
    Gst.init(None)

    live = "true" if args.live else "false"
    src = (f"videotestsrc is-live={live} num-buffers={args.frames} pattern={args.pattern} "
           f"! {CAPS}")
    sink = f"zcipcsink name=sink socket-path={args.socket_path} sync=false"
    if args.scenario == "pause":
        desc = f"{src} ! {sink} min-consumers=1 slow-consumer=wait wait-timeout=0"
    else:
        desc = f"{src} ! tee ! queue ! {sink}"
    pipeline = Gst.parse_launch(desc)
    sink_el = pipeline.get_by_name("sink")
    bus = pipeline.get_bus()

    if args.scenario == "pause":
        report("playing", result=change(pipeline, Gst.State.PLAYING))
        deadline = time.monotonic() + 20
        while (args.pause_when_held and sink_el.get_property("stats").get_value("frames-held") < 2
               and time.monotonic() < deadline):
            time.sleep(0.01)
        # The sink now waits in render(): for a consumer, or for room.
        time.sleep(0.5)
        paused = change(pipeline, Gst.State.PAUSED)
        time.sleep(0.3)
        playing = change(pipeline, Gst.State.PLAYING)
        report("resumed", paused=paused, playing=playing, stats=stats_of(sink_el))
    else:
        report("playing", result=change(pipeline, Gst.State.PLAYING))
        deadline = time.monotonic() + 20
        while stats_of(sink_el)["rendered"] < args.unwatched and time.monotonic() < deadline:
            time.sleep(0.01)
        report("unwatched", stats=stats_of(sink_el))

    msg = bus.timed_pop_filtered(40 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
    error = None
    if msg is None:
        error = "timeout"
    elif msg.type == Gst.MessageType.ERROR:
        error = str(msg.parse_error())
    report("done", error=error, stats=stats_of(sink_el))
    pipeline.set_state(Gst.State.NULL)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
