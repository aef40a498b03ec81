#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A zcipc.Consumer process for the tests: checks every frame against
patterns.pattern() and prints one JSON summary line at end of stream."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import patterns  # noqa: E402
import zcipc  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket-path", required=True)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args()
    numbers: list[int] = []
    bad: list[int] = []
    error = None
    try:
        with zcipc.Consumer(args.socket_path, timeout=args.timeout) as consumer:
            for frame in consumer:
                n = patterns.frame_number(frame.pts)
                numbers.append(n)
                for p, plane in enumerate(frame.planes()):
                    if not (plane == patterns.pattern(n, plane.shape, p)).all():
                        bad.append(n)
                        break
            stats = consumer.stats
    except zcipc.Error as e:
        error, stats = f"{type(e).__name__}: {e}", {}
    print(json.dumps({"numbers": numbers, "bad": bad, "error": error,
                      "stats": stats}), flush=True)
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
