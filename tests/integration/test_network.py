# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""docs/network.md's bridges (issue 17): each recipe's commands, read from
the page and run as written over loopback, carry the stream from host A's
zcipcsink to a zcipcsink on "host B", whose consumers get the frames.

test_docs_run.py runs the page's blocks too (all recipes at once, checking
that the far consumers print a frame rate); here each recipe runs alone with
one more consumer on the far side, a checksumsink, so that what arrives can
be checked: how many frames, their caps, their order and timestamps, for raw
video their exact pixels, and whether the far zcipcsink had to copy them."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import time

import pytest

from docblocks import read_blocks, parse_marker
from test_docs_run import LOCK_PATH
from zcipctest import SOURCE_DIR, checksums, wait_for_path

DOC = SOURCE_DIR / "docs" / "network.md"
PUBLISHER_SECTION = "The stream on host A"
RECIPES = {
    "rtp-raw": "RTP over UDP, raw video",
    "rtp-h264": "RTP over UDP, H.264",
    "srt": "SRT (MPEG-TS over SRT, H.264)",
}
FRAMES = 60          # what the far side must receive, two seconds of the stream
FRAME_TIMEOUT = 60.0
STREAM = re.compile(r"stream-name=([A-Za-z0-9_.-]+)")
CAPS = re.compile(r"GstZcipcSrc:zcipcsrc0\.GstPad:src: caps = (.*)$", re.MULTILINE)
COPYING = "copying frames into shared memory"


def sections() -> dict[str, list]:
    """The page's runnable blocks, by the `## ` heading they stand under."""
    lines = DOC.read_text().splitlines()
    out: dict[str, list] = {}
    for block in read_blocks(DOC):
        parse_marker(block)
        if "skip" in block.options:
            continue
        heading = next(ln[3:].strip() for ln in reversed(lines[:block.line - 1])
                       if ln.startswith("## "))
        out.setdefault(heading, []).append(block)
    return out


def stream_of(block) -> str:
    (name,) = set(STREAM.findall(block.text))
    return name


def recipe(name: str):
    """(publisher, receiver, sender, consumer) blocks of one recipe."""
    blocks = sections()
    (publisher,) = blocks[PUBLISHER_SECTION]
    own = blocks[RECIPES[name]]
    assert len(own) == 3, [b.where for b in own]
    (receiver,) = [b for b in own if b.options.get("role") == "producer"]
    cam = stream_of(publisher)
    (sender,) = [b for b in own if b.options.get("role") == "consumer"
                 and stream_of(b) == cam]
    (consumer,) = [b for b in own if b not in (receiver, sender)]
    assert stream_of(consumer) == stream_of(receiver)
    return publisher, receiver, sender, consumer


def reference_checksums(publisher, frames: int) -> list[str]:
    """The publisher's first `frames` frames, in one process: its command
    with num-buffers instead of is-live, into a checksumsink instead of
    zcipcsink."""
    cmd = publisher.text.replace("\\\n", " ")
    cmd = re.sub(r"!\s*zcipcsink[^!]*$", "", cmd.strip())
    assert "is-live=true" in cmd, cmd
    cmd = cmd.replace("is-live=true", f"num-buffers={frames}")
    cmd = cmd.replace("gst-launch-1.0", "gst-launch-1.0 -q", 1)
    out = subprocess.run(["bash", "-e", "-c", cmd + " ! checksumsink sync=false"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    sums = [sha for _, sha in checksums(out.stdout)]
    assert len(sums) == frames
    return sums


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    it = iter(whole)
    return all(any(x == y for y in it) for x in part)


def pts_ns(ts: str) -> int:
    h, m, s = ts.split(":")
    return round((int(h) * 3600 + int(m) * 60 + float(s)) * 1e9)


def stop(proc, timeout: float = 20.0) -> None:
    """Ctrl-C, as a reader stops a gst-launch-1.0: the process must end, by
    the signal or cleanly (srtsrc ends the stream when its sender is gone)."""
    if proc.popen.poll() is None:
        os.killpg(proc.popen.pid, signal.SIGINT)
    try:
        rc = proc.popen.wait(timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{proc.name} still runs {timeout} s after Ctrl-C:\n"
                             f"{proc.describe()}")
    assert rc in (0, 130, -signal.SIGINT), f"{proc.name}: exit {rc}\n{proc.describe()}"


@pytest.fixture
def doc_lock():
    """The page names fixed socket paths and ports, as the doc tests do:
    hold their lock."""
    fd = os.open(LOCK_PATH, os.O_RDONLY | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipe_brings_the_stream_to_the_far_zcipcsink(launcher, doc_lock, xdg_runtime_dir,
                                                      name):
    publisher, receiver, sender, consumer = recipe(name)
    far = stream_of(receiver)
    # Both "hosts" are this user on this machine: one stream directory.
    session = {"XDG_RUNTIME_DIR": str(xdg_runtime_dir)}
    streams = xdg_runtime_dir / "zcipc"
    cam_path, far_path = streams / stream_of(publisher), streams / far

    def run(block, who, env=None):
        return launcher.run(["bash", "-e", "-c", block.text], name=who,
                            extra_env={**session, **(env or {})})

    started = time.monotonic()
    procs = {"publisher": run(publisher, "publisher")}
    wait_for_path(cam_path)
    # The far zcipcsink says on GST_PERFORMANCE when it has to copy frames.
    procs["receiver"] = run(receiver, "receiver", {"GST_DEBUG": "GST_PERFORMANCE:4"})
    wait_for_path(far_path)
    procs["consumer"] = run(consumer, "consumer")
    checker = launcher.launch(f"-v zcipcsrc stream-name={far} ! checksumsink sync=false",
                              name="checker", quiet=False, extra_env=session)
    procs["sender"] = run(sender, "sender")

    deadline = time.monotonic() + FRAME_TIMEOUT
    while len(checksums(checker.stdout())) < FRAMES:
        for who, proc in procs.items():
            assert proc.popen.poll() is None, f"the {who} ended:\n{proc.describe()}"
        assert time.monotonic() < deadline, (
            f"fewer than {FRAMES} frames reached the far side in {FRAME_TIMEOUT:g} s:\n"
            + "\n".join(p.describe() for p in [*procs.values(), checker]))
        time.sleep(0.1)

    # Stopped as a reader would, the far side first.
    for who in ("consumer", "sender", "receiver", "publisher"):
        stop(procs[who])
    published = time.monotonic() - started
    stop(checker)

    out = checker.stdout()
    frames = checksums(out)
    assert len(frames) >= FRAMES
    caps = CAPS.findall(out)
    assert caps, checker.describe()
    caps = caps[0]
    pts = [pts_ns(ts) for ts, _ in frames]
    assert pts == sorted(pts) and len(set(pts)) == len(pts), pts
    sums = [sha for _, sha in frames]
    # The doc's own consumer saw them too.
    assert re.search(r"rendered: [1-9]", procs["consumer"].stdout()), procs["consumer"].describe()

    if name == "rtp-raw":
        assert caps.startswith("video/x-raw, format=(string)RGBA, width=(int)320, "
                               "height=(int)240"), caps
        # Every pixel of every frame as the publisher made it, in order
        # (the ones before the sender connected are not sent).
        reference = reference_checksums(publisher, int(30 * (published + 2)))
        assert is_subsequence(sums, reference), "frames differ from the publisher's"
        # rtpvrawdepay wrote them into the far zcipcsink's pool: no copy.
        assert COPYING not in procs["receiver"].stderr(), procs["receiver"].describe()
    else:
        assert caps.startswith("video/x-raw, format=(string)I420, width=(int)320, "
                               "height=(int)240"), caps
        # Decoded pictures of a moving ball: every frame a new one.
        assert len(set(sums)) == len(sums)
        # avdec_h264 decodes into its own buffers: the far zcipcsink copies
        # each frame once, as docs/network.md says.
        assert COPYING in procs["receiver"].stderr(), procs["receiver"].describe()
