# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Helpers shared by the Python package's tests: the pattern producer and
checking consumer processes, their JSON reports, mapping probes."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import zcipctest

HERE = Path(__file__).resolve().parent
PRODUCER = HERE / "pattern_producer.py"
CHECKER = HERE / "check_consumer.py"

#: zcipcsink properties for a lossless stream that starts when one consumer
#: is there (a stuck consumer is dropped after 5 s, so nothing waits forever).
LOSSLESS = {"min-consumers": 1, "slow-consumer": "wait", "wait-timeout": 5000}


def start_producer(launcher: zcipctest.Launcher, socket: Path, caps: str,
                   frames: int, *, props: dict[str, Any] | None = None,
                   mode: str = "frame", interval: float = 0.0,
                   linger: bool = False, verify_slots: bool = False,
                   name: str = "producer") -> zcipctest.Proc:
    argv = [sys.executable, str(PRODUCER), "--socket-path", str(socket),
            "--caps", caps, "--frames", str(frames), "--mode", mode,
            "--interval", str(interval)]
    if linger:
        argv.append("--linger")
    if verify_slots:
        argv.append("--verify-slots")
    for k, v in (props or {}).items():
        argv += ["--prop", f"{k}={v}"]
    proc = launcher.run(argv, name=name)
    wait_for_socket(proc, socket)
    return proc


def gst_producer(launcher: zcipctest.Launcher, socket: Path, source: str,
                 caps: str, extra: str = "", name: str = "gstproducer"
                 ) -> zcipctest.Proc:
    """A gst-launch-1.0 producer: ``source ! caps ! zcipcsink``."""
    proc = launcher.launch(f"{source} ! {caps} ! zcipcsink socket-path={socket} "
                           f"{extra}", name=name)
    wait_for_socket(proc, socket)
    return proc


def wait_for_socket(proc: zcipctest.Proc, socket: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not socket.exists():
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{socket} did not appear:\n{proc.describe()}")
        time.sleep(0.02)


def events(proc: zcipctest.Proc) -> list[dict[str, Any]]:
    out = []
    for line in proc.stdout().splitlines():
        line = line.strip()
        if line.startswith("{"):
            out.append(json.loads(line))
    return out


def wait_event(proc: zcipctest.Proc, name: str, timeout: float = 10.0,
               after: int = 0) -> dict[str, Any]:
    """The first report called ``name`` among those after the first
    ``after`` reports."""
    deadline = time.monotonic() + timeout
    while True:
        evs = events(proc)[after:]
        for ev in evs:
            if ev.get("event") == name:
                return ev
        if time.monotonic() > deadline or (proc.popen.poll() is not None
                                           and not evs):
            raise AssertionError(f"no '{name}' report:\n{proc.describe()}")
        time.sleep(0.02)


def producer_stats(proc: zcipctest.Proc) -> dict[str, Any]:
    """The producer's zcipcsink statistics, now."""
    n = len(events(proc))
    proc.kill(signal.SIGUSR1)
    return wait_event(proc, "stats", after=n)["stats"]


def wait_stat(proc: zcipctest.Proc, key: str, value: Any, timeout: float = 5.0
              ) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stats = producer_stats(proc)
        if stats[key] == value or time.monotonic() > deadline:
            return stats
        time.sleep(0.05)


def checker(launcher: zcipctest.Launcher, socket: Path, name: str = "checker"
            ) -> zcipctest.Proc:
    return launcher.run([sys.executable, str(CHECKER), "--socket-path", str(socket)],
                        name=name)


def checker_result(proc: zcipctest.Proc, timeout: float = 20.0) -> dict[str, Any]:
    proc.wait(timeout)
    lines = [l for l in proc.stdout().splitlines() if l.startswith("{")]
    assert lines, proc.describe()
    return json.loads(lines[-1])


def extent(array: np.ndarray) -> int:
    """Bytes from the array's first element to one past its last."""
    return sum((n - 1) * s for n, s in zip(array.shape, array.strides)) + array.itemsize


def mapping_of(array: np.ndarray) -> tuple[int, int, str, str] | None:
    """The zcipc memfd mapping of this process that holds the array."""
    return zcipctest.address_in_mappings(array.ctypes.data, extent(array),
                                         zcipctest.zcipc_mappings())


def anonymous_kb(start: int) -> int:
    """Anonymous (copied-on-write) kB in the mapping that starts at start."""
    found = False
    with open("/proc/self/smaps") as f:
        for line in f:
            if not found:
                head = line.split(maxsplit=1)[0]
                found = "-" in head and int(head.split("-")[0], 16) == start
            elif line.startswith("Anonymous:"):
                return int(line.split()[1])
    raise AssertionError(f"no mapping at {start:#x}")
