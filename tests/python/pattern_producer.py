#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A zcipc.Producer process for the tests: publishes patterns.pattern()
frames and reports zcipcsink's statistics as JSON lines on stdout.

SIGUSR1 prints the statistics again; with --linger the process waits after
the last frame until SIGTERM, then ends the stream."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import patterns  # noqa: E402
import zcipc  # noqa: E402


def say(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket-path", required=True)
    ap.add_argument("--caps", required=True)
    ap.add_argument("--frames", type=int, default=10)
    ap.add_argument("--interval", type=float, default=0.0,
                    help="seconds between frames")
    ap.add_argument("--mode", choices=("frame", "push"), default="frame")
    ap.add_argument("--linger", action="store_true")
    ap.add_argument("--verify-slots", action="store_true",
                    help="check that a slot still holds what we wrote in it "
                    "when the pool hands it out again")
    ap.add_argument("--prop", action="append", default=[],
                    help="zcipcsink property name=value")
    args = ap.parse_args()

    props: dict[str, object] = {}
    for p in args.prop:
        k, v = p.split("=", 1)
        props[k] = int(v) if v.isdigit() else v
    stop = lingering = False

    with zcipc.Producer(args.socket_path, args.caps, **props) as producer:
        def on_usr1(*_: object) -> None:
            say("stats", stats=producer.stats)

        def on_term(*_: object) -> None:
            nonlocal stop
            stop = True
            if not lingering:
                raise Stopped  # out of a wait for consumers, too

        signal.signal(signal.SIGUSR1, on_usr1)
        signal.signal(signal.SIGTERM, on_term)
        say("ready")
        try:
            publish(producer, args)
        except Stopped:
            say("stopped")
        lingering = True
        while args.linger and not stop:
            time.sleep(0.02)
        final = producer.stats
        producer.close(timeout=1.0)
    say("closed", stats=final)
    return 0


class Stopped(Exception):
    """SIGTERM while publishing."""


def publish(producer: zcipc.Producer, args: argparse.Namespace) -> None:
    written: dict[int, int] = {}  # slot address -> frame number
    slot_mismatches = slot_checks = 0
    for i in range(args.frames):
        pts = i * patterns.FRAME_DURATION
        if args.mode == "frame":
            with producer.planes(pts=pts, duration=patterns.FRAME_DURATION) as planes:
                key = planes[0].ctypes.data
                if args.verify_slots and key in written:
                    slot_checks += 1
                    for p, a in enumerate(planes):
                        if not (a == patterns.pattern(written[key], a.shape, p)).all():
                            slot_mismatches += 1
                for p, a in enumerate(planes):
                    a[...] = patterns.pattern(i, a.shape, p)
                written[key] = i
        else:
            producer.push([patterns.pattern(i, s, p)
                           for p, s in enumerate(producer.shapes)],
                          pts=pts, duration=patterns.FRAME_DURATION)
        if args.interval:
            time.sleep(args.interval)
    say("published", stats=producer.stats, slot_mismatches=slot_mismatches,
        slot_checks=slot_checks, slots=len(written))


if __name__ == "__main__":
    sys.exit(main())
