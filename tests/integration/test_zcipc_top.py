# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""zcipc-top against real processes: a gst-launch producer, gst-launch
consumers, and the tool from the build tree reading the producer's stats
over its socket."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

import wire
from zcipctest import BUILD_DIR, wait_for_path

TOP = BUILD_DIR / "tools" / "zcipc-top"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

pytestmark = pytest.mark.skipif(not TOP.exists(), reason=f"{TOP} not built")


def producer(launcher, path: Path, extra: str = "", width: int = 64):
    return launcher.launch(
        f"videotestsrc is-live=true ! video/x-raw,format=RGBA,width={width},height=48,"
        f"framerate=30/1 ! zcipcsink socket-path={path} {extra}", name="producer")


def consumer(launcher, path: Path, name: str):
    return launcher.launch(f"zcipcsrc socket-path={path} ! fakesink", name=name)


def top(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(TOP), *args], capture_output=True, text=True, timeout=30,
                          env=env)


def top_json(*args: str, env: dict[str, str] | None = None) -> dict:
    res = top("--once", "--json", *args, env=env)
    assert res.returncode in (0, 1), res
    return json.loads(res.stdout)


def wait_for_consumers(path: Path, pids: set[int], timeout: float = 30.0) -> dict:
    """Polls zcipc-top until the stream lists exactly `pids`, each of them
    having reported (copied and lag known) and received frames."""
    deadline = time.monotonic() + timeout
    while True:
        out = top_json(str(path))
        stream = out["streams"][0]
        got = {c["pid"] for c in stream["consumers"]}
        if got == pids and all(c["lag_ns"] is not None and c["received"] > 0
                               for c in stream["consumers"]):
            return stream
        if time.monotonic() > deadline:
            raise AssertionError(f"consumers {pids} not all shown: {out}")
        time.sleep(0.2)


def test_three_consumers_show_with_their_pids_and_moving_counters(launcher, sock_dir):
    path = sock_dir / "cam.sock"
    prod = producer(launcher, path)
    wait_for_path(path)
    cons = [consumer(launcher, path, f"consumer{i}") for i in range(3)]
    pids = {c.pid for c in cons}

    first = wait_for_consumers(path, pids)
    assert first["path"] == str(path)
    assert first["name"] is None
    assert first["answering"] is True
    assert first["pid"] == prod.pid
    assert first["uid"] == os.geteuid()
    assert first["caps"].startswith("video/x-raw")
    assert "format=(string)RGBA" in first["caps"] and "width=(int)64" in first["caps"]
    # A live 30 fps source, sampled twice half a second apart.
    assert first["fps"] is not None and 15 < first["fps"] < 45, first
    for c in first["consumers"]:
        assert c["uid"] == os.geteuid()
        assert 1 <= c["quota"] <= 64 and 0 <= c["held"] <= c["quota"]
        assert c["copied"] == 0         # fakesink keeps nothing
        assert 0 <= c["lag_ns"] < 5_000_000_000

    time.sleep(1.0)
    second = top_json(str(path))["streams"][0]
    assert {c["pid"] for c in second["consumers"]} == pids
    assert second["frames_sent"] > first["frames_sent"]
    before = {c["pid"]: c for c in first["consumers"]}
    for c in second["consumers"]:
        assert c["received"] > before[c["pid"]]["received"], (before, second)

    for c in cons:
        assert c.popen.poll() is None, c.describe()
    assert prod.popen.poll() is None, prod.describe()


def test_tty_screen_fits_80_columns_and_refreshes_until_ctrl_c(launcher, sock_dir):
    # A long path and long caps: both must be shortened, not wrapped.
    deep = sock_dir / ("d" * 40)
    deep.mkdir()
    path = deep / "a-rather-long-socket-name.sock"
    producer(launcher, path, width=1234)
    wait_for_path(path)
    cons = consumer(launcher, path, "consumer")
    wait_for_consumers(path, {cons.pid})

    pid, fd = pty.fork()
    if pid == 0:
        os.execv(str(TOP), [str(TOP), str(path)])
    out = b""
    deadline = time.monotonic() + 3.5
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    os.kill(pid, signal.SIGINT)
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status

    text = out.decode()
    # It redraws: one clear per screen, at least two screens in 3.5 s.
    assert text.count("\x1b[H\x1b[2J") >= 2, text
    lines = [line for line in ANSI.sub("", text).replace("\r", "").split("\n") if line]
    assert lines
    for line in lines:
        assert len(line) <= 80, f"{len(line)} columns: {line!r}"
    assert any(str(cons.pid) in line for line in lines), text
    assert any("video/x-raw" in line and line.endswith("...") for line in lines), text

    # Not a tty: no escape codes.
    plain = top("--once", str(path))
    assert plain.returncode == 0
    assert "\x1b" not in plain.stdout
    assert all(len(line) <= 80 for line in plain.stdout.splitlines())
    assert str(cons.pid) in plain.stdout


def test_sigkilled_producer_is_reported_as_not_answering(launcher, sock_dir):
    alive_path = sock_dir / "alive.sock"
    dead_path = sock_dir / "dead.sock"
    producer(launcher, alive_path)
    dead = launcher.launch(
        f"videotestsrc is-live=true ! video/x-raw,width=64,height=48 ! "
        f"zcipcsink socket-path={dead_path}", name="dead")
    wait_for_path(alive_path)
    wait_for_path(dead_path)
    assert top_json(str(dead_path))["streams"][0]["answering"] is True

    dead.kill(signal.SIGKILL)
    assert dead_path.exists()           # a stale socket is left behind

    res = top("--once", "--json", str(dead_path))
    assert res.returncode == 1          # nothing asked for could be read
    stream = json.loads(res.stdout)["streams"][0]
    assert stream["answering"] is False
    assert "not answering" in stream["error"]
    assert stream["consumers"] == []

    text = top("--once", str(dead_path))
    assert text.returncode == 1
    assert "not answering" in text.stdout

    # One answering is enough for success; the other is still listed.
    res = top("--once", "--json", str(alive_path), str(dead_path))
    assert res.returncode == 0
    by_path = {s["path"]: s for s in json.loads(res.stdout)["streams"]}
    assert by_path[str(alive_path)]["answering"] is True
    assert by_path[str(dead_path)]["answering"] is False


def recv_type(s: socket.socket, timeout: float = 5.0) -> tuple[int, bytes]:
    s.settimeout(timeout)
    data = s.recv(1 << 18)
    assert data, "hung up"
    return wire.parse_header(data)[0], data


def test_stats_request_then_garbage_is_cut_off_while_consumers_stream(launcher, sock_dir):
    path = sock_dir / "cam.sock"
    prod = producer(launcher, path)
    wait_for_path(path)
    cons = consumer(launcher, path, "consumer")
    before = wait_for_consumers(path, {cons.pid})["consumers"][0]["received"]

    mon = wire.connect(str(path))
    mon.send(wire.stats_request())
    kind, data = recv_type(mon)
    assert kind == wire.STATS_REPLY
    magic, version, pid = struct.unpack_from("=IIi", data, 8)
    assert (magic, version, pid) == (wire.MAGIC, wire.STATS_VERSION, prod.pid)
    # Still a monitor: a second request is answered too.
    mon.send(wire.stats_request())
    assert recv_type(mon)[0] == wire.STATS_REPLY
    mon.send(b"\x0f\x00\x00\x00\x0c\x00\x00\x00garbage!"[:12])
    assert wire.is_hung_up(mon)
    mon.close()

    # An unknown stats version is refused with a REJECT, then a hang-up.
    mon = wire.connect(str(path))
    mon.send(wire.stats_request(version=42))
    kind, data = recv_type(mon)
    assert kind == wire.REJECT
    reason = data[16:].split(b"\0", 1)[0].decode()
    assert "version 42" in reason and "version 1" in reason, reason
    assert wire.is_hung_up(mon)
    mon.close()

    time.sleep(0.5)
    stream = top_json(str(path))["streams"][0]
    assert [c["pid"] for c in stream["consumers"]] == [cons.pid]
    assert stream["consumers"][0]["received"] > before
    assert prod.popen.poll() is None and cons.popen.poll() is None


def test_monitor_does_not_take_the_only_consumer_place(launcher, sock_dir):
    path = sock_dir / "one.sock"
    producer(launcher, path, extra="max-consumers=1")
    wait_for_path(path)
    mon = wire.connect(str(path))
    mon.send(wire.stats_request())
    assert recv_type(mon)[0] == wire.STATS_REPLY

    # With the monitor open, the one consumer still joins and streams.
    cons = consumer(launcher, path, "consumer")
    stream = wait_for_consumers(path, {cons.pid})
    assert stream["max_consumers"] == 1
    mon.send(wire.stats_request())
    assert recv_type(mon)[0] == wire.STATS_REPLY
    # A second consumer is still refused: the place is taken.
    extra = launcher.launch(f"zcipcsrc socket-path={path} reconnect=false ! fakesink",
                            name="extra", quiet=False)
    assert extra.wait(30) != 0
    assert "too many consumers" in extra.stdout() + extra.stderr(), extra.describe()
    mon.close()


def test_lists_the_stream_directory_by_name(launcher, tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    streams = runtime / "zcipc"
    streams.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    producer(launcher, streams / "cam0")
    producer(launcher, streams / "cam1")
    wait_for_path(streams / "cam0")
    wait_for_path(streams / "cam1")
    (streams / "not-a-socket").write_text("")

    out = top_json(env=env)
    assert [s["name"] for s in out["streams"]] == ["cam0", "cam1"]
    assert all(s["answering"] for s in out["streams"])
    assert out["streams"][0]["path"] == str(streams / "cam0")

    out = top_json("cam1", env=env)
    assert [(s["name"], s["answering"]) for s in out["streams"]] == [("cam1", True)]

    missing = top("--once", "--json", "nosuch", env=env)
    assert missing.returncode == 1
    assert json.loads(missing.stdout)["streams"][0]["answering"] is False

    bad = top("--once", ".hidden", env=env)
    assert bad.returncode == 2 and "not a valid stream name" in bad.stderr


def test_no_streams_is_not_an_error(tmp_path):
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, XDG_RUNTIME_DIR=str(runtime))
    res = top("--once", "--json", env=env)
    assert res.returncode == 0
    assert json.loads(res.stdout) == {"streams": []}
    res = top("--once", env=env)
    assert res.returncode == 0 and "no zcipc streams" in res.stdout
