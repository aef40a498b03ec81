#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Python consumer benchmark: a zcipc.Consumer taking .numpy() and .torch()
of every 1920x1080 RGBA frame, next to a gst-launch-1.0 consumer
(``zcipcsrc ! fakesink``) of the same producer setup, in one interleaved run.

    GST_PLUGIN_PATH=build/gst PYTHONPATH=python \\
        /usr/bin/python3 tests/bench/python_consumer_bench.py [--frames 2000] [--repeat 5] \\
        [--sink-prop pool-size=8]

Each repetition starts a fresh lossless producer for each consumer
(``videotestsrc pattern=black num-buffers=N ! RGBA ! zcipcsink
min-consumers=1 slow-consumer=wait sync=false``), so every consumer takes
all N frames as fast as it and the producer can. Both consumers are timed the
same way: from the moment their pipeline is set to PLAYING to end of stream
(gst-launch-1.0 prints that span as "Execution ended after"). The order of
the two alternates between repetitions. Prints one JSON line with the median
fps of both, the median of the per-repetition ratios (design target: >= 0.9,
at >= 1000 fps), and the CPU time each consumer process spent per frame.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SOURCE_DIR / "python"))

TARGET_RATIO = 0.9
EXECUTION = re.compile(r"Execution ended after (\d+):(\d+):(\d+)\.(\d+)")


def producer(socket: Path, frames: int, width: int, height: int,
             sink_props: list[str] | None = None) -> subprocess.Popen:
    argv = ["gst-launch-1.0", "-q", "videotestsrc", "pattern=black",
            f"num-buffers={frames}", "!",
            f"video/x-raw,format=RGBA,width={width},height={height},framerate=0/1",
            "!", "zcipcsink", f"socket-path={socket}", "min-consumers=1",
            "slow-consumer=wait", "sync=false"] + (sink_props or [])
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not socket.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"producer did not start: {proc.stderr.read().decode()}")
        time.sleep(0.01)
    return proc


def _cpu(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def gst_consumer(socket: Path, frames: int) -> tuple[float, float]:
    """(fps, CPU µs per frame) of a gst-launch-1.0 consumer."""
    cpu = _cpu(resource.RUSAGE_CHILDREN)
    out = subprocess.run(["gst-launch-1.0", "zcipcsrc", f"socket-path={socket}",
                          "!", "fakesink"], capture_output=True, text=True,
                         timeout=120)
    m = EXECUTION.search(out.stdout)
    if out.returncode != 0 or not m:
        raise SystemExit(f"gst-launch consumer failed:\n{out.stdout}\n{out.stderr}")
    cpu = _cpu(resource.RUSAGE_CHILDREN) - cpu
    h, mi, s, frac = m.groups()
    seconds = int(h) * 3600 + int(mi) * 60 + int(s) + int(frac) / 10 ** len(frac)
    return frames / seconds, cpu / frames * 1e6


def python_consumer(socket: Path, frames: int, views: str
                    ) -> tuple[float, float, dict]:
    """(fps, CPU µs per frame, stats) of a zcipc.Consumer in this process
    (all its threads: zcipcsrc's streaming thread and the reclaim thread)."""
    import zcipc

    cpu = _cpu(resource.RUSAGE_SELF)
    count = 0
    frame = array = tensor = None
    start = time.monotonic()
    with zcipc.Consumer(str(socket)) as consumer:
        for frame in consumer:
            if "numpy" in views:
                array = frame.numpy()
            if "torch" in views:
                tensor = frame.torch()
            count += 1
        elapsed = time.monotonic() - start
        stats = consumer.stats
    del frame, array, tensor
    cpu = _cpu(resource.RUSAGE_SELF) - cpu
    if count != frames:
        raise SystemExit(f"python consumer got {count} of {frames} frames")
    return frames / elapsed, cpu / frames * 1e6, stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--views", default="numpy,torch",
                    help="what the Python consumer takes of each frame")
    ap.add_argument("--sink-prop", action="append", default=[],
                    help="extra zcipcsink property for the producer, e.g. pool-size=8")
    args = ap.parse_args()

    # Imported before timing anything (torch takes seconds to import).
    importlib.import_module("torch")
    importlib.import_module("zcipc")

    gst_fps: list[float] = []
    py_fps: list[float] = []
    gst_cpu: list[float] = []
    py_cpu: list[float] = []
    last_stats: dict = {}
    with tempfile.TemporaryDirectory(prefix="zcpb-", dir="/tmp") as tmp:
        for rep in range(args.repeat):
            order = ("gst", "python") if rep % 2 == 0 else ("python", "gst")
            for who in order:
                socket = Path(tmp) / f"{who}-{rep}"
                prod = producer(socket, args.frames, args.width, args.height,
                                args.sink_prop)
                try:
                    if who == "gst":
                        fps, cpu = gst_consumer(socket, args.frames)
                        gst_fps.append(fps)
                        gst_cpu.append(cpu)
                    else:
                        fps, cpu, last_stats = python_consumer(socket, args.frames,
                                                               args.views)
                        py_fps.append(fps)
                        py_cpu.append(cpu)
                finally:
                    try:
                        prod.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        prod.kill()
                        prod.wait()
            print(f"rep {rep}: gst-launch {gst_fps[-1]:.0f} fps "
                  f"({gst_cpu[-1]:.0f} µs CPU/frame), python {py_fps[-1]:.0f} fps "
                  f"({py_cpu[-1]:.0f} µs CPU/frame)", file=sys.stderr, flush=True)

    # Each repetition runs both back to back: the median of the per-repetition
    # ratios is less sensitive to a machine whose load drifts than the ratio
    # of the medians (both are reported).
    ratios = [p / g for p, g in zip(py_fps, gst_fps)]
    gst_median = statistics.median(gst_fps)
    py_median = statistics.median(py_fps)
    result = {
        "benchmark": "python_consumer",
        "width": args.width, "height": args.height, "format": "RGBA",
        "frames": args.frames, "repeat": args.repeat, "views": args.views,
        "sink_props": args.sink_prop,
        "gst_launch_fps": round(gst_median, 1),
        "python_fps": round(py_median, 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratio_of_medians": round(py_median / gst_median, 3),
        "target_ratio": TARGET_RATIO,
        "gst_launch_cpu_us_per_frame": round(statistics.median(gst_cpu), 1),
        "python_cpu_us_per_frame": round(statistics.median(py_cpu), 1),
        "gst_launch_fps_runs": [round(x, 1) for x in gst_fps],
        "python_fps_runs": [round(x, 1) for x in py_fps],
        "python_frames_dropped": last_stats.get("frames-dropped"),
        "python_torch_copies": last_stats.get("torch-copies"),
        "cpus": os.cpu_count(),
        "loadavg_1min": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
