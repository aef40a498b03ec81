#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Runs a gst-launch-1.0 style pipeline to EOS or error, like gst-launch-1.0,
then prints one JSON object: the error (message and debug text, or null)
and the `stats` of the element named by --stats, as a dict of its plain
fields. Debug output goes where GST_DEBUG sends it (stderr)."""

from __future__ import annotations

import argparse
import json
import sys

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--stats", default="sink", help="name of the element whose stats to print")
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args()

    Gst.init(None)
    pipeline = Gst.parse_launch(args.pipeline)
    element = pipeline.get_by_name(args.stats)
    pipeline.set_state(Gst.State.PLAYING)
    msg = pipeline.get_bus().timed_pop_filtered(int(args.timeout * Gst.SECOND),
                                                Gst.MessageType.EOS | Gst.MessageType.ERROR)
    report = {"error": None, "debug": None, "eos": False, "stats": {}}
    if msg is None:
        report["error"] = f"neither EOS nor an error within {args.timeout} s"
    elif msg.type == Gst.MessageType.ERROR:
        err, dbg = msg.parse_error()
        report["error"], report["debug"] = err.message, dbg
    else:
        report["eos"] = True
    if element is not None:
        stats = element.get_property("stats")
        for i in range(stats.n_fields()):
            name = stats.nth_field_name(i)
            value = stats.get_value(name)
            if isinstance(value, (int, float, str, bool)):
                report["stats"][name] = value
    pipeline.set_state(Gst.State.NULL)
    print(json.dumps(report))
    return 0 if report["eos"] else 1


if __name__ == "__main__":
    sys.exit(main())
