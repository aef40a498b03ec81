#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Runs a consumer pipeline description the way gst-launch-1.0 would
(Gst.parse_launch, PLAYING, until EOS or an error), then prints one JSON
object on stdout: how it ended, how many buffers reached the sink pad of
each element named by --count, every WARNING posted on the bus, how often
each zcipcsrc connected, and the final `stats` of every zcipcsrc in the
pipeline (by element name), as plain fields.

--ready-file is created once the pipeline is PLAYING, that is once every
zcipcsrc is looking for its producer: a live producer started after that
loses no frame to the consumer's own start-up."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def zcipc_sources(pipeline: Gst.Bin) -> list[Gst.Element]:
    it = pipeline.iterate_recurse()
    found = []
    while True:
        res, element = it.next()
        if res != Gst.IteratorResult.OK:
            break
        factory = element.get_factory()
        if factory is not None and factory.get_name() == "zcipcsrc":
            found.append(element)
    return found


def plain_fields(structure: Gst.Structure) -> dict:
    fields = {}
    for i in range(structure.n_fields()):
        name = structure.nth_field_name(i)
        value = structure.get_value(name)
        if isinstance(value, (int, float, str, bool)):
            fields[name] = value
    return fields


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--count", action="append", default=[],
                    help="name of an element whose sink pad's buffers to count")
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds before giving up on EOS (reported as an error)")
    ap.add_argument("--ready-file", default=None)
    args = ap.parse_args()

    Gst.init(None)
    pipeline = Gst.parse_launch(args.pipeline)
    sources = zcipc_sources(pipeline)
    lock = threading.Lock()
    report: dict = {"error": None, "debug": None, "eos": False,
                    "counts": {}, "warnings": [], "connected": {}, "stats": {},
                    "elapsed": 0.0}

    for name in args.count:
        element = pipeline.get_by_name(name)
        if element is None:
            print(f"no element named {name!r}", file=sys.stderr)
            return 2
        report["counts"][name] = 0

        def count(pad, info, name=name):
            with lock:
                report["counts"][name] += 1
            return Gst.PadProbeReturn.OK
        element.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, count)

    for src in sources:
        report["connected"][src.get_name()] = 0

    def on_sync_message(bus, msg):
        # Sync handler: a connection is seen even if the pipeline ends before
        # the main loop below pops it.
        if msg.type != Gst.MessageType.ELEMENT:
            return
        s = msg.get_structure()
        if s is None or s.get_name() != "zcipc-connected":
            return
        with lock:
            report["connected"][msg.src.get_name()] += 1

    bus = pipeline.get_bus()
    bus.enable_sync_message_emission()
    bus.connect("sync-message", on_sync_message)

    start = time.monotonic()
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        report["error"] = "could not set the pipeline to PLAYING"
    elif args.ready_file:
        Path(args.ready_file).touch()
    deadline = start + args.timeout
    while report["error"] is None and not report["eos"]:
        now = time.monotonic()
        if now >= deadline:
            report["error"] = f"neither EOS nor an error within {args.timeout} s"
            break
        msg = bus.timed_pop_filtered(20 * Gst.MSECOND, Gst.MessageType.EOS
                                     | Gst.MessageType.ERROR | Gst.MessageType.WARNING)
        if msg is None:
            continue
        if msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            report["error"], report["debug"] = err.message, dbg
        elif msg.type == Gst.MessageType.WARNING:
            err, dbg = msg.parse_warning()
            report["warnings"].append({"source": msg.src.get_name(),
                                       "message": err.message, "debug": dbg})
        else:
            report["eos"] = True
    report["elapsed"] = time.monotonic() - start
    # Warnings posted just before EOS are still queued.
    while (msg := bus.pop_filtered(Gst.MessageType.WARNING)) is not None:
        err, dbg = msg.parse_warning()
        report["warnings"].append({"source": msg.src.get_name(),
                                   "message": err.message, "debug": dbg})
    for src in sources:
        report["stats"][src.get_name()] = plain_fields(src.get_property("stats"))
    pipeline.set_state(Gst.State.NULL)
    with lock:
        text = json.dumps(report)
    print(text, flush=True)
    return 0 if report["eos"] and report["error"] is None else 1


if __name__ == "__main__":
    sys.exit(main())
