#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Steady-state system calls per frame of a zcipc (or shmsink) producer and
consumer, from `strace -f -c`.

Runs the same two-process pipeline twice, with N1 and N2 frames, and divides
the difference of the counts by N2 - N1, so start-up and tear-down cancel:

    /usr/bin/python3 tests/bench/syscalls_per_frame.py --build-dir build
    /usr/bin/python3 tests/bench/syscalls_per_frame.py --build-dir build --transport shm
    /usr/bin/python3 tests/bench/syscalls_per_frame.py --build-dir build --fps 1000

By default the producer is videotestsrc flat out; --fps N uses the benchmark's
zcipcframesrc paced at N frames per second (the benchmark's cost runs).

strace slows every syscall down, so use it for counts, not for times.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LINE = re.compile(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:(\d+)\s+)?(\w+)\s*$")


def parse_strace_c(text: str) -> dict[str, int]:
    counts = {}
    for line in text.splitlines():
        m = LINE.match(line)
        if m and m.group(3) != "total":
            counts[m.group(3)] = int(m.group(1))
    return counts


def run_once(args, frames: int, workdir: Path) -> tuple[dict, dict]:
    env = dict(os.environ)
    build = Path(args.build_dir).resolve()
    plugin_path = os.pathsep.join([str(build / "gst"), str(build / "tests" / "bench")])
    env["GST_PLUGIN_PATH_1_0"] = env["GST_PLUGIN_PATH"] = plugin_path
    env["GST_REGISTRY_1_0"] = str(workdir / "registry.bin")
    sock = workdir / f"sock{frames}"
    fps = args.fps or 30
    caps = (f"video/x-raw,format=RGBA,width={args.width},height={args.height},"
            f"framerate={fps}/1")
    if args.fps:
        src = f"zcipcframesrc is-live=true num-buffers={frames} ! {caps}"
    else:
        live = "true" if args.live else "false"
        src = f"videotestsrc pattern=black is-live={live} num-buffers={frames} ! {caps}"
    if args.transport == "zcipc":
        prod = (f"{src} ! zcipcsink socket-path={sock} min-consumers=1 "
                f"slow-consumer=wait sync=false")
        cons = f"zcipcsrc socket-path={sock} ! fakesink sync=false"
    else:
        prod = (f"{src} ! shmsink socket-path={sock} wait-for-connection=true "
                f"shm-size={max(64 << 20, args.width * args.height * 4 * 20)} sync=false")
        cons = (f"shmsrc socket-path={sock} is-live=true ! {caps} ! "
                "fakesink sync=false enable-last-sample=false")
    pout, cout = workdir / f"p{frames}.txt", workdir / f"c{frames}.txt"
    p = subprocess.Popen(["strace", "-f", "-c", "-o", str(pout), "gst-launch-1.0", "-q"]
                         + shlex.split(prod), env=env, stdout=subprocess.DEVNULL)
    for _ in range(200):
        if sock.exists():
            break
        time.sleep(0.02)
    c = subprocess.Popen(["strace", "-f", "-c", "-o", str(cout), "gst-launch-1.0", "-q"]
                         + shlex.split(cons), env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    p.wait(timeout=300)
    if args.transport == "shm":
        time.sleep(0.5)
        c.terminate()
    c.wait(timeout=60)
    return parse_strace_c(pout.read_text()), parse_strace_c(cout.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--transport", choices=("zcipc", "shm"), default="zcipc")
    ap.add_argument("--width", type=int, default=1920)
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--live", action="store_true", help="30 fps live videotestsrc")
    ap.add_argument("--fps", type=int, default=0,
                    help="zcipcframesrc paced at this rate instead of videotestsrc")
    ap.add_argument("--frames", default="300,1300", help="N1,N2")
    args = ap.parse_args()
    n1, n2 = (int(x) for x in args.frames.split(","))
    with tempfile.TemporaryDirectory(prefix="zcipc-strace-") as d:
        a = run_once(args, n1, Path(d))
        b = run_once(args, n2, Path(d))
    for name, x, y in (("producer", a[0], b[0]), ("consumer", a[1], b[1])):
        per = {k: (y.get(k, 0) - x.get(k, 0)) / (n2 - n1) for k in set(x) | set(y)}
        per = {k: v for k, v in per.items() if v >= 0.01}
        total = sum(per.values())
        print(f"{name}: {total:.2f} syscalls/frame: " + ", ".join(
            f"{k} {v:.2f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
