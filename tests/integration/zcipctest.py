# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Shared helpers for the multi-process tests: real gst-launch-1.0 processes,
real sockets, real memfds. Import from test files; fixtures live in
conftest.py."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterable

SOURCE_DIR = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("ZCIPC_BUILD_DIR", SOURCE_DIR / "build")).resolve()
PLUGIN_DIR = BUILD_DIR / "gst"
GST_LAUNCH = "gst-launch-1.0"


def gst_environment(registry: Path | None = None) -> dict[str, str]:
    """The environment every GStreamer process of a test runs with: our
    plugin from the build tree, the system's plugins beside it, a private
    registry so a stale system registry cannot hide a rebuilt plugin."""
    env = dict(os.environ)
    env["GST_PLUGIN_PATH_1_0"] = str(PLUGIN_DIR)
    env["GST_PLUGIN_PATH"] = str(PLUGIN_DIR)
    if registry is not None:
        env["GST_REGISTRY_1_0"] = str(registry)
    env.setdefault("GST_DEBUG_NO_COLOR", "1")
    env["PYTHONPATH"] = str(SOURCE_DIR / "python") + os.pathsep + env.get("PYTHONPATH", "")
    return env


def stage_for_other_uids(directory: Path) -> dict[str, str]:
    """Copies the plugin and the Python package into `directory` (which any
    uid can enter) and returns the environment a process run as another uid
    (setpriv) needs: those, and a registry it can write. The checkout itself
    may sit where only its owner can enter (root's home is 0700)."""
    plugins = directory / "gst"
    plugins.mkdir()
    for so in PLUGIN_DIR.glob("*.so"):
        shutil.copy2(so, plugins / so.name)
    python = directory / "python"
    shutil.copytree(SOURCE_DIR / "python" / "zcipc", python / "zcipc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    registry = directory / "registry"
    registry.mkdir()
    for d in (directory, plugins):
        d.chmod(0o755)
    for d in (python, *python.rglob("*")):
        d.chmod(0o755 if d.is_dir() else 0o644)
    registry.chmod(0o777)
    return {"GST_PLUGIN_PATH_1_0": str(plugins), "GST_PLUGIN_PATH": str(plugins),
            "GST_REGISTRY_1_0": str(registry / "registry.bin"),
            "PYTHONPATH": str(python)}


class Proc:
    """A running gst-launch-1.0 (or other) process whose output is kept."""

    def __init__(self, argv: list[str], env: dict[str, str], name: str, log_dir: Path):
        self.name = name
        self.argv = argv
        self.out_path = log_dir / f"{name}.out"
        self.err_path = log_dir / f"{name}.err"
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.popen = subprocess.Popen(argv, env=env, stdout=self._out, stderr=self._err,
                                      stdin=subprocess.DEVNULL, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def wait(self, timeout: float = 60.0) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} did not finish within {timeout} s:\n{self.describe()}")
        finally:
            self._out.flush()
            self._err.flush()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass
            if sig in (signal.SIGKILL, signal.SIGTERM):
                self.popen.wait(timeout=10)

    def stdout(self) -> str:
        self._out.flush()
        return self.out_path.read_text(errors="replace")

    def stderr(self) -> str:
        self._err.flush()
        return self.err_path.read_text(errors="replace")

    def describe(self) -> str:
        return (f"$ {' '.join(self.argv)}\n--- stdout ---\n{self.stdout()[-4000:]}"
                f"\n--- stderr ---\n{self.stderr()[-4000:]}")

    def close(self) -> None:
        self.kill()
        self._out.close()
        self._err.close()


class Launcher:
    """Starts gst-launch-1.0 processes for one test and reaps them after."""

    def __init__(self, log_dir: Path, registry: Path):
        self.log_dir = log_dir
        self.env = gst_environment(registry)
        self.procs: list[Proc] = []
        self._n = 0

    def launch(self, pipeline: str, name: str | None = None, quiet: bool = True,
               eos_on_shutdown: bool = False, extra_env: dict[str, str] | None = None) -> Proc:
        self._n += 1
        argv = [GST_LAUNCH]
        if quiet:
            argv.append("-q")
        if eos_on_shutdown:
            argv.append("-e")
        argv += pipeline.split()
        env = dict(self.env)
        if extra_env:
            env.update(extra_env)
        proc = Proc(argv, env, name or f"proc{self._n}", self.log_dir)
        self.procs.append(proc)
        return proc

    def run(self, argv: list[str], name: str | None = None,
            extra_env: dict[str, str] | None = None) -> Proc:
        self._n += 1
        env = dict(self.env)
        if extra_env:
            env.update(extra_env)
        proc = Proc(argv, env, name or f"proc{self._n}", self.log_dir)
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for p in self.procs:
            p.close()


CHECKSUM_LINE = re.compile(r"^(\d+:\d\d:\d\d\.\d{9}|99:99:99\.999999999) ([0-9a-f]{40,})$")


def checksums(output: str) -> list[tuple[str, str]]:
    """(timestamp, sha1) pairs from checksumsink's output, in order."""
    return [m.groups() for line in output.splitlines() if (m := CHECKSUM_LINE.match(line.strip()))]


def wait_for_path(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.02)


def fd_count(pid: int | str = "self") -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def maps_lines(pid: int | str = "self") -> list[str]:
    with open(f"/proc/{pid}/maps") as f:
        return f.read().splitlines()


def cpu_seconds(pid: int | str = "self") -> float:
    """CPU time the process has used, user and system."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime: fields 14 and 15 of stat(5), counted from 1 with pid and comm.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def context_switches(pid: int | str = "self", voluntary_only: bool = False) -> int:
    """Times the threads of a process went to sleep (voluntary: one per
    wake-up of a wait) or, unless `voluntary_only`, were preempted too. A
    thread that ends while being read counts no more."""
    prefix = "voluntary_ctxt_switches:" if voluntary_only else None
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                total += sum(int(line.split()[1]) for line in f
                             if (line.startswith(prefix) if prefix else "ctxt_switches" in line))
        except FileNotFoundError:
            pass
    return total


def zcipc_mappings(pid: int | str = "self") -> list[tuple[int, int, str, str]]:
    """(start, end, perms, name) of every zcipc memfd mapping of a process."""
    out = []
    for line in maps_lines(pid):
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and "memfd:zcipc-" in parts[5]:
            start, end = (int(x, 16) for x in parts[0].split("-"))
            out.append((start, end, parts[1], parts[5]))
    return out


def address_in_mappings(address: int, size: int, mappings: Iterable[tuple[int, int, str, str]]):
    """The mapping [address, address+size) lies in, or None."""
    for m in mappings:
        if m[0] <= address and address + size <= m[1]:
            return m
    return None
