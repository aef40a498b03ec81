# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Every fenced code block of README.md and docs/*.md runs, as written.

The harness never edits a block's text: shell blocks run in bash (`bash -e
-c TEXT`), Python blocks with /usr/bin/python3, C blocks are compiled with
cc against GStreamer and run. What it does around a block is set-up: a
working directory, an input file, a display, and the environment a reader
has after `meson install` (the plugin on the GStreamer path, python/ on
PYTHONPATH) in a login session (XDG_RUNTIME_DIR: a fresh 0700 directory per
group, so the groups' named streams meet no other checkout's or the
machine's). Every block must carry a marker, or
test_every_doc_block_has_a_marker fails: a new block cannot go untested by
accident.

The marker is an HTML comment (the reader does not see it) on the last
non-blank line before the opening fence:

    <!-- doc-test: [GROUP] [WORD ...] -->

split like a shell line (so `skip="two words"` works). GROUP, a bare first
word, names the blocks of one file that run together (a producer and its
consumers); a block without a group runs alone. The words:

  skip="REASON"   the block is not run; the test says why (keep these rare:
                  output listings, the test command itself). With roles=, the
                  reason for the commands whose role is skip.
  role=ROLE       the whole block is one process: producer, consumer or run
                  (the default).
  roles=R,R,...   a shell block whose commands are separate processes (each
                  a line with its backslash continuations; blank and comment
                  lines are not commands), one role per command: producer,
                  consumer, run or skip.
  live            the group's producers publish until stopped.
  seconds=S       a live group runs S seconds (default 5) before it is stopped.
  timeout=S       a group that is not live must finish within S seconds
                  (default 120).
  cwd=checkout    run in the checkout (the block names paths in it, like
                  ./scripts or build/) with none of the reader's set-up: no
                  plugin path, no PYTHONPATH, none of the suite's own variables
                  (ZCIPC_*, the sanitizer pass's LD_PRELOAD and options: the
                  checkout's build/ is not instrumented); otherwise the block
                  runs in a fresh empty directory.
  input=FILE      create FILE in the working directory first: a 2 s, 30 fps,
                  320x240 H.264 MP4 (constrained baseline), 60 frames.
  writes=FILE     the block writes FILE, a video: afterwards
                  gst-discoverer-1.0 must show its duration, and it must
                  decode to exactly the input's frames (a group that is not
                  live and has input=), or (live) to between a third of
                  duration x frame rate (a consumer that cannot keep up misses
                  frames by design) and 110 % of it, with a duration of at
                  least half the time it recorded.
  stdout=REGEX    what the block's processes print must match REGEX.
  display         the group shows video: it runs with DISPLAY set to a
                  private Xvfb server.
  needs=X,...     run only where X exists: an absolute path (/dev/video0) or
                  a GStreamer element; else skipped with what is missing. With
                  roles=, an X that only run commands name applies to those
                  commands only (the others run).

How a group runs: producers start first, in the background, and the harness
waits until each /tmp path they name exists (stale sockets at those paths are
removed before); then consumers start in the background; then the run
commands run one after another, each must exit 0. A live group then runs until
`seconds` are up; every producer and consumer must still be running (a live
stream does not end by itself), then the consumers get SIGINT, as a reader's
Ctrl-C, and then the producers; each must end within 20 s with 0 or as
stopped by SIGINT (130, or killed by it: Python's KeyboardInterrupt). A group
that is not live must end by itself, every process with status 0. Processes
are started in their own process group and whatever is left is killed when
the test ends. Groups run one at a time across checkouts (a lock in /tmp),
because the docs name fixed socket paths.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from docblocks import SHELLS, Block, Command, MarkerError, doc_files, parse_marker, read_blocks
from zcipctest import BUILD_DIR, SOURCE_DIR

PY = "/usr/bin/python3"
INPUT_FRAMES = 60
STOP_WAIT = 20.0
LOCK_PATH = "/tmp/zcipc-doc-tests.lock"


def _collect():
    blocks: list[Block] = []
    problems: list[str] = []
    for path in doc_files(SOURCE_DIR):
        for block in read_blocks(path):
            if block.marker is None:
                problems.append(f"{block.where}: ```{block.lang} block without a "
                                "<!-- doc-test: ... --> marker")
                continue
            try:
                parse_marker(block)
            except MarkerError as e:
                problems.append(str(e))
                continue
            blocks.append(block)
    units: dict[str, list[Block]] = {}
    for block in blocks:
        key = f"{block.path.name}:{block.group}" if block.group else block.where
        units.setdefault(key, []).append(block)
    return units, problems


UNITS, PROBLEMS = _collect()


def test_every_doc_block_has_a_marker():
    assert not PROBLEMS, "\n".join(PROBLEMS)


# --- running -----------------------------------------------------------------

@dataclass
class Running:
    block: Block
    cmd: Command
    name: str
    popen: subprocess.Popen
    out: Path
    err: Path
    started: float
    display: str | None = None
    stopped_by_us: bool = False
    ended: float | None = None

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def describe(self) -> str:
        return (f"--- {self.name} ({self.cmd.role}), exit {self.popen.returncode}"
                f"{' DISPLAY=' + self.display if self.display else ''}:\n"
                f"{self.cmd.text}\n--- stdout:\n{self.output()[-3000:]}\n"
                f"--- stderr:\n{self.err.read_text(errors='replace')[-3000:]}")


@dataclass
class Group:
    key: str
    blocks: list[Block]
    tmp: Path
    work: Path = field(init=False)
    runtime: Path = field(init=False)
    procs: list[Running] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.work = self.tmp / "work"
        self.work.mkdir()
        # The session's XDG_RUNTIME_DIR, where named streams live: short,
        # for the 107 bytes of a socket path.
        self.runtime = Path(tempfile.mkdtemp(prefix="zcipc-doc-", dir="/tmp"))

    def flag(self, name: str) -> bool:
        return any(name in b.flags for b in self.blocks)

    def number(self, key: str, default: float) -> float:
        values = [float(b.options[key]) for b in self.blocks if key in b.options]
        return max(values) if values else default


def _missing(need: str) -> bool:
    if need.startswith("/"):
        return not os.path.exists(need)
    return subprocess.run(["gst-inspect-1.0", "--exists", need],
                          capture_output=True).returncode != 0


def _commands(group: Group) -> list[tuple[Block, Command]]:
    """The commands to run; skips the unit when a whole block cannot run."""
    todo = []
    for block in group.blocks:
        needs = [n for n in block.options.get("needs", "").split(",") if n]
        cmds = block.commands()
        for need in needs:
            if not _missing(need):
                continue
            naming = [c for c in cmds if need in c.text]
            if "roles" not in block.options or not naming \
                    or any(c.role in ("producer", "consumer") for c in naming):
                pytest.skip(f"{block.where}: needs {need}, which this machine lacks")
            for c in naming:
                if c.role != "skip":
                    group.notes.append(f"{block.where}: not run (needs {need}): {c.text}")
                    c.role = "unavailable"
        for c in cmds:
            if c.role == "skip":
                group.notes.append(f"{block.where}: not run ({block.options['skip']}): {c.text}")
            elif c.role != "unavailable":
                todo.append((block, c))
    return todo


def _env(group: Group, block: Block, display: str | None) -> dict[str, str]:
    env = dict(os.environ)  # conftest: the plugin path, PYTHONPATH, a private registry
    if block.options.get("cwd") == "checkout":
        # A reader's shell in the checkout: the block sets up what it needs.
        for var in list(env):
            if var in ("GST_PLUGIN_PATH", "GST_PLUGIN_PATH_1_0", "PYTHONPATH", "LD_PRELOAD",
                       "ASAN_OPTIONS", "UBSAN_OPTIONS") or var.startswith("ZCIPC_"):
                env.pop(var)
        env["GST_REGISTRY_1_0"] = str(group.tmp / "checkout-registry.bin")
    else:
        # After `meson install` the commands (zcipc-top) are on the PATH.
        env["PATH"] = str(BUILD_DIR / "tools") + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env["XDG_RUNTIME_DIR"] = str(group.runtime)
    env.pop("DISPLAY", None)
    if display:
        env["DISPLAY"] = display
    return env


def _argv(group: Group, block: Block, cmd: Command, name: str) -> list[str]:
    if block.lang in SHELLS:
        return ["bash", "-e", "-c", cmd.text]
    if block.lang == "python":
        script = group.tmp / f"{name}.py"
        script.write_text(cmd.text)
        return [PY, str(script)]
    if block.lang == "c":
        source = group.tmp / f"{name}.c"
        source.write_text(cmd.text)
        binary = group.tmp / name
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "gstreamer-1.0",
                                "gstreamer-app-1.0", "gstreamer-video-1.0",
                                "gstreamer-allocators-1.0"],
                               capture_output=True, text=True, check=True).stdout.split()
        res = subprocess.run(["cc", "-o", str(binary), str(source)] + flags,
                             capture_output=True, text=True)
        assert res.returncode == 0, f"{block.where} does not compile:\n{res.stderr}"
        return [str(binary)]
    raise AssertionError(f"{block.where}: cannot run a {block.lang!r} block")


def _start(group: Group, block: Block, cmd: Command, display: str | None) -> Running:
    name = f"{block.path.stem}-{block.line}-{len(group.procs)}"
    cwd = SOURCE_DIR if block.options.get("cwd") == "checkout" else group.work
    out, err = group.tmp / f"{name}.out", group.tmp / f"{name}.err"
    with open(out, "wb") as o, open(err, "wb") as e:
        popen = subprocess.Popen(_argv(group, block, cmd, name), cwd=cwd,
                                 env=_env(group, block, display), stdin=subprocess.DEVNULL,
                                 stdout=o, stderr=e, start_new_session=True)
    running = Running(block, cmd, name, popen, out, err, time.monotonic(), display)
    group.procs.append(running)
    return running


def _interrupt(proc: Running) -> None:
    """Ctrl-C: SIGINT to the process group, as a terminal sends it."""
    if proc.popen.poll() is None:
        proc.stopped_by_us = True
        try:
            os.killpg(proc.popen.pid, signal.SIGINT)
        except ProcessLookupError:
            pass


def _wait(proc: Running, timeout: float) -> bool:
    try:
        proc.popen.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    proc.ended = proc.ended or time.monotonic()
    return True


def _kill_all(group: Group) -> None:
    for proc in group.procs:
        try:
            os.killpg(proc.popen.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            proc.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


SOCKET_PATH = re.compile(r"(/tmp/[A-Za-z0-9_.-]+)")
STREAM_NAME = re.compile(r"(?:stream-name=|Producer\(\")([A-Za-z0-9_-][A-Za-z0-9_.-]*)")


def _socket_paths(cmds: list[tuple[Block, Command]], runtime: Path) -> list[str]:
    """The sockets the producers make: /tmp paths they name, and the sockets
    of the stream names they publish, in the group's stream directory."""
    paths = {p for _, c in cmds if c.role == "producer" for p in SOCKET_PATH.findall(c.text)}
    paths |= {str(runtime / "zcipc" / n) for _, c in cmds if c.role == "producer"
              for n in STREAM_NAME.findall(c.text)}
    return sorted(paths)


def _make_input(path: Path) -> None:
    res = subprocess.run(
        ["gst-launch-1.0", "-q", "videotestsrc", f"num-buffers={INPUT_FRAMES}", "!",
         "video/x-raw,format=I420,width=320,height=240,framerate=30/1", "!", "x264enc", "!",
         "video/x-h264,profile=constrained-baseline", "!", "mp4mux", "!", "filesink",
         f"location={path}"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and path.stat().st_size > 0, res.stdout + res.stderr


def _video_facts(path: Path) -> tuple[float, float, int, str]:
    """(duration s, frame rate, decoded frames, discoverer output) of a file."""
    disc = subprocess.run(["gst-discoverer-1.0", "-v", str(path)], capture_output=True,
                          text=True, timeout=60)
    text = disc.stdout + disc.stderr
    m = re.search(r"Duration: (\d+):(\d+):([\d.]+)", text)
    duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)) if m else 0.0
    m = re.search(r"framerate=\(fraction\)(\d+)/(\d+)", text)
    rate = int(m.group(1)) / int(m.group(2)) if m and int(m.group(2)) else 0.0
    dec = subprocess.run(["gst-launch-1.0", "-v", "filesrc", f"location={path}", "!",
                          "decodebin", "!", "fakesink", "silent=false"],
                         capture_output=True, text=True, timeout=120)
    frames = dec.stdout.count("last-message = chain")
    return duration, rate, frames, text


def _check_video(group: Group, block: Block, recorded: float) -> list[str]:
    cwd = SOURCE_DIR if block.options.get("cwd") == "checkout" else group.work
    path = cwd / block.options["writes"]
    if not path.exists() or path.stat().st_size == 0:
        return [f"{block.where}: wrote no {path.name}"]
    duration, rate, frames, disc = _video_facts(path)
    where = f"{block.where}: {path.name} ({frames} frames, {duration:.2f} s at {rate:g} fps)"
    if duration <= 0:
        return [f"{where}: gst-discoverer-1.0 shows no duration:\n{disc[-2000:]}"]
    if group.flag("live"):
        problems = []
        expected = duration * rate
        # A live consumer that cannot keep up misses frames by design (the
        # producer skips it), and x264enc on a loaded 2-core machine cannot;
        # a broken recording has a handful.
        if not rate or not expected / 3 <= frames <= 1.1 * expected:
            problems.append(f"{where}: expected between a third of {expected:.0f} frames "
                            "(duration x rate) and 110 % of it")
        if duration < 0.5 * recorded:
            problems.append(f"{where}: covers {duration:.2f} s of the {recorded:.1f} s it recorded")
        return problems
    if any("input" in b.options for b in group.blocks) and frames != INPUT_FRAMES:
        return [f"{where}: expected the input's {INPUT_FRAMES} frames"]
    return []


class _Xvfb:
    def __init__(self):
        r, w = os.pipe()
        # -noreset: autovideosink tries xvimagesink first and hangs up; a server
        # resetting after its last client would refuse ximagesink meanwhile.
        self.popen = subprocess.Popen(["Xvfb", "-displayfd", str(w), "-nolisten", "tcp", "-noreset",
                                       "-screen", "0", "1920x1080x24"], pass_fds=(w,),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(w)
        with os.fdopen(r) as f:
            number = f.readline().strip()
        assert number, "Xvfb did not start"
        self.display = f":{number}"

    def close(self):
        self.popen.terminate()
        self.popen.wait(timeout=10)


def _stopped_ok(rc: int) -> bool:
    return rc in (0, 130, -signal.SIGINT)


@pytest.mark.parametrize("key", sorted(UNITS))
def test_doc_block_runs(key, tmp_path):
    blocks = UNITS[key]
    skipped = [b for b in blocks if "skip" in b.options and "roles" not in b.options]
    if skipped:
        assert len(skipped) == len(blocks), f"{key}: a group cannot mix skipped blocks"
        pytest.skip("; ".join(f"{b.where}: {b.options['skip']}" for b in skipped))
    group = Group(key, blocks, tmp_path)
    todo = _commands(group)
    for note in group.notes:
        warnings.warn(note)
    if not todo:
        pytest.skip("; ".join(group.notes))
    live = group.flag("live")
    for block in blocks:
        if "input" in block.options:
            _make_input(group.work / block.options["input"])

    xvfb = _Xvfb() if group.flag("display") else None
    display = xvfb.display if xvfb else None
    failures: list[str] = []
    recorded = 0.0
    lock = os.open(LOCK_PATH, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sockets = _socket_paths(todo, group.runtime)
        for path in sockets:  # stale ones: no doc group runs while we hold the lock
            if os.path.exists(path) and stat.S_ISSOCK(os.lstat(path).st_mode):
                os.unlink(path)
        producers = [_start(group, b, c, display) for b, c in todo if c.role == "producer"]
        deadline = time.monotonic() + 15
        for path in sockets:
            while not os.path.exists(path) and time.monotonic() < deadline:
                if any(p.popen.poll() is not None for p in producers):
                    break
                time.sleep(0.05)
        consumers = [_start(group, b, c, display) for b, c in todo if c.role == "consumer"]
        start = time.monotonic()
        timeout = group.number("timeout", 120)
        for b, c in todo:
            if c.role != "run":
                continue
            proc = _start(group, b, c, display)
            if not _wait(proc, timeout):
                failures.append(f"{b.where}: did not finish within {timeout:g} s")
                _interrupt(proc)
                _wait(proc, STOP_WAIT)
            elif proc.popen.returncode != 0:
                failures.append(f"{b.where}: exit status {proc.popen.returncode}")
        if live:
            time.sleep(max(0.0, group.number("seconds", 5) - (time.monotonic() - start)))
            for proc in producers + consumers:
                if proc.popen.poll() is not None:
                    failures.append(f"{proc.block.where}: a {proc.cmd.role} of a live stream "
                                    f"ended by itself (exit {proc.popen.returncode})")
            recorded = time.monotonic() - start
            for batch in (consumers, producers):
                for proc in batch:
                    _interrupt(proc)
                for proc in batch:
                    if not _wait(proc, STOP_WAIT):
                        failures.append(f"{proc.block.where}: still running {STOP_WAIT:g} s "
                                        "after Ctrl-C")
                    elif proc.stopped_by_us and not _stopped_ok(proc.popen.returncode):
                        failures.append(f"{proc.block.where}: exit status "
                                        f"{proc.popen.returncode} after Ctrl-C")
        else:
            for proc in consumers + producers:
                left = max(1.0, timeout - (time.monotonic() - start))
                if not _wait(proc, left):
                    failures.append(f"{proc.block.where}: a {proc.cmd.role} did not end by "
                                    f"itself within {timeout:g} s")
                elif proc.popen.returncode != 0:
                    failures.append(f"{proc.block.where}: exit status {proc.popen.returncode}")
            recorded = time.monotonic() - start
    finally:
        _kill_all(group)
        os.close(lock)
        shutil.rmtree(group.runtime, ignore_errors=True)
        if xvfb:
            xvfb.close()

    for block in blocks:
        if "writes" in block.options:
            failures += _check_video(group, block, recorded)
    for block in blocks:
        pattern = block.options.get("stdout")
        output = "".join(p.output() for p in group.procs if p.block is block)
        if pattern and not re.search(pattern, output, re.MULTILINE):
            failures.append(f"{block.where}: stdout does not match {pattern!r}")
    assert not failures, "\n".join(failures) + "\n\n" + "\n\n".join(
        p.describe() for p in group.procs)


def test_the_marker_grammar_rejects_what_it_does_not_know(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("<!-- doc-test: g role=producer bogus=1 -->\n```sh\ntrue\n```\n"
                   "```sh\ntrue\n```\n"
                   "<!-- doc-test: roles=run -->\n```sh\ntrue\ntrue\n```\n"
                   "<!-- doc-test: skip=\"\" -->\n```\nlisting\n```\n"
                   "- in a list:\n\n  ```python\n  print(1)\n  ```\n")
    blocks = read_blocks(doc)
    assert [b.marker is None for b in blocks] == [False, True, False, False, True]
    assert blocks[4].lang == "python" and blocks[4].text == "print(1)\n"
    for block in (blocks[0], blocks[2], blocks[3]):
        with pytest.raises(MarkerError):
            parse_marker(block)

