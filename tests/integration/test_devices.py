# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""The device provider: gst-device-monitor-1.0 and Gst.DeviceMonitor list
the live streams of the user's stream directory, as producers start, end
and die. Real producers (gst-launch-1.0), a real monitor process, each test
with its own $XDG_RUNTIME_DIR."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from zcipctest import BUILD_DIR, context_switches, cpu_seconds, wait_for_path

PY = "/usr/bin/python3"
LIVE_VIDEO = ("videotestsrc is-live=true pattern=solid-color foreground-color=0xff20c040 ! "
              "video/x-raw,format=RGBA,width=64,height=48,framerate=30/1")
LIVE_AUDIO = "audiotestsrc is-live=true ! audio/x-raw,format=S16LE,rate=48000,channels=2"
# A device appears (or goes) this soon after its socket does (or its producer).
DEADLINE = 1.0


@pytest.fixture
def runtime_dir():
    """A fresh $XDG_RUNTIME_DIR (0700) and the stream directory in it."""
    d = Path(tempfile.mkdtemp(prefix="zcrt-", dir="/tmp"))
    d.chmod(0o700)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def stream_dir(runtime_dir):
    d = runtime_dir / "zcipc"
    d.mkdir(mode=0o700)
    return d


def env_for(runtime_dir: Path) -> dict[str, str]:
    return {"XDG_RUNTIME_DIR": str(runtime_dir)}


def start_producer(launcher, runtime_dir: Path, name: str, head: str = LIVE_VIDEO,
                   opts: str = ""):
    path = runtime_dir / "zcipc" / name
    proc = launcher.launch(f"{head} ! zcipcsink stream-name={name} {opts}", name=f"producer-{name}",
                           eos_on_shutdown=True, extra_env=env_for(runtime_dir))
    return proc, path


@dataclass
class DeviceEvent:
    kind: str                   # "found" or "removed"
    name: str
    klass: str = ""
    caps: str = ""
    props: dict[str, str] = field(default_factory=dict)
    launch: str = ""


def parse_monitor(text: str) -> list[DeviceEvent]:
    """gst-device-monitor-1.0's "Device found:" / "Device removed:" blocks."""
    events: list[DeviceEvent] = []
    cur: DeviceEvent | None = None
    in_props = False
    for line in text.splitlines():
        s = line.strip()
        if s in ("Device found:", "Device removed:"):
            cur = DeviceEvent("found" if s == "Device found:" else "removed", "")
            events.append(cur)
            in_props = False
        elif cur is None or not s:
            continue
        elif m := re.match(r"name\s*:\s*(.*)$", s):
            cur.name = m.group(1)
        elif m := re.match(r"class\s*:\s*(.*)$", s):
            cur.klass = m.group(1)
        elif m := re.match(r"caps\s*:\s*(.*)$", s):
            cur.caps = m.group(1)
        elif s == "properties:":
            in_props = True
        elif s.startswith("gst-launch-1.0"):
            cur.launch = s
            in_props = False
        elif in_props and (m := re.match(r"(\S+)\s*=\s*(.*)$", s)):
            cur.props[m.group(1)] = m.group(2)
    return events


class Monitor:
    """gst-device-monitor-1.0 -f, its output read as it comes (g_print
    flushes each line)."""

    def __init__(self, launcher, runtime_dir: Path, classes: str = "Video/Source"):
        self.proc = launcher.run(["gst-device-monitor-1.0", "-f", classes],
                                 name=f"monitor-{classes.replace('/', '-')}",
                                 extra_env=env_for(runtime_dir))
        self.seen: dict[tuple[str, str, int], float] = {}

    def events(self) -> list[DeviceEvent]:
        return parse_monitor(self.proc.stdout())

    def _note(self) -> list[DeviceEvent]:
        events = self.events()
        now = time.monotonic()
        counts: dict[tuple[str, str], int] = {}
        for e in events:
            n = counts.get((e.kind, e.name), 0)
            counts[(e.kind, e.name)] = n + 1
            self.seen.setdefault((e.kind, e.name, n), now)
        return events

    def wait_for(self, kind: str, name: str, timeout: float = 10.0, nth: int = 0,
                 watch: Path | None = None, also=None) -> tuple[DeviceEvent, float, float | None]:
        """Waits for the nth `kind` event of device `name`; returns it, when
        it was first seen, and when `watch` (a path) was first seen to exist.
        The caller's clock starts before; this polls every 5 ms."""
        deadline = time.monotonic() + timeout
        watched = None
        while True:
            if watch is not None and watched is None and watch.exists():
                watched = time.monotonic()
            events = self._note()
            # A block is printed in pieces: a found one is whole once its
            # launch line (the last) is there.
            matching = [e for e in events if e.kind == kind and e.name == name
                        and (kind == "removed" or e.launch)]
            if len(matching) > nth:
                return matching[nth], self.seen[(kind, name, nth)], watched
            if self.proc.popen.poll() is not None:
                raise AssertionError(f"the monitor ended:\n{self.proc.describe()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no '{kind}' for {name} within {timeout} s:\n"
                                     f"{self.proc.describe()}"
                                     + (f"\n{also.describe()}\nexit status: "
                                        f"{also.popen.poll()}" if also else ""))
            time.sleep(0.005)

    def wait_started(self) -> None:
        """The monitor lists what was there, then follows: give it the time
        to start (its first output, or a quiet second)."""
        time.sleep(1.0)
        assert self.proc.popen.poll() is None, self.proc.describe()

    def names(self, kind: str) -> list[str]:
        return [e.name for e in self.events() if e.kind == kind]


def wait_exists_then_found(monitor: Monitor, path: Path, name: str):
    event, found_at, sock_at = monitor.wait_for("found", name, watch=path)
    assert sock_at is not None or path.exists()
    return event, found_at, sock_at


def assert_describes(event: DeviceEvent, name: str, path: Path, pid: int, klass: str) -> None:
    assert event.klass == klass, event
    assert event.props.get("device.api") == "zcipc", event
    assert event.props.get("zcipc.stream-name") == name, event
    assert event.props.get("zcipc.socket-path") == str(path), event
    assert event.props.get("zcipc.pid") == str(pid), event
    assert event.props.get("zcipc.uri") == f"zcipc://{name}", event
    assert "zcipcsrc" in event.launch and f"socket-path={path}" in event.launch, event


def test_a_producer_started_after_the_monitor_is_listed_within_a_second_with_its_caps_and_pid(
        launcher, runtime_dir, stream_dir):
    monitor = Monitor(launcher, runtime_dir)
    monitor.wait_started()
    producer, path = start_producer(launcher, runtime_dir, "cam0")
    event, found_at, sock_at = wait_exists_then_found(monitor, path, "cam0")
    assert sock_at is not None, "the socket was there before the monitor polled"
    assert found_at - sock_at < DEADLINE, f"listed {found_at - sock_at:.3f} s after the socket"
    assert event.caps.startswith("video/x-raw"), event
    for field_ in ("format=RGBA", "width=64", "height=48", "framerate=30/1"):
        assert field_ in event.caps, event
    assert_describes(event, "cam0", path, producer.pid, "Video/Source")


def wait_publishing(path: Path, runtime_dir: Path, timeout: float = 10.0) -> None:
    """Waits until the producer at `path` published a frame (zcipc-top's
    counters): its pipeline is PLAYING. A device is found as soon as the
    sink has caps, which a live pipeline has in PAUSED already; SIGINT to
    `gst-launch-1.0 -e` before PLAYING can deadlock it (its EOS meets the
    live source's wait for PLAYING), and no exit comes."""
    deadline = time.monotonic() + timeout
    while True:
        res = subprocess.run([str(BUILD_DIR / "tools" / "zcipc-top"), "--once", "--json", str(path)],
                             capture_output=True, text=True, timeout=30,
                             env={**os.environ, **env_for(runtime_dir)})
        if res.returncode == 0:
            stream = json.loads(res.stdout)["streams"][0]
            if stream.get("frames_sent", 0) + stream.get("frames_unsent", 0) > 0:
                return
        assert time.monotonic() < deadline, f"{path} published no frame:\n{res.stdout}{res.stderr}"
        time.sleep(0.05)


def test_a_producer_that_ends_cleanly_is_dropped_within_a_second(launcher, runtime_dir, stream_dir):
    monitor = Monitor(launcher, runtime_dir)
    monitor.wait_started()
    producer, path = start_producer(launcher, runtime_dir, "cam0")
    monitor.wait_for("found", "cam0")
    wait_publishing(path, runtime_dir)
    stopped = time.monotonic()
    producer.kill(signal.SIGINT)  # -e: EOS, then a clean exit
    _, removed_at, _ = monitor.wait_for("removed", "cam0", also=producer)
    assert removed_at - stopped < DEADLINE, f"dropped {removed_at - stopped:.3f} s after SIGINT"
    assert producer.wait(20) == 0, producer.describe()
    assert not path.exists()


def test_a_killed_producer_is_dropped_within_a_second_and_its_stale_socket_is_not_a_device(
        launcher, runtime_dir, stream_dir):
    monitor = Monitor(launcher, runtime_dir)
    monitor.wait_started()
    producer, path = start_producer(launcher, runtime_dir, "cam0")
    monitor.wait_for("found", "cam0")
    killed = time.monotonic()
    producer.kill(signal.SIGKILL)
    _, removed_at, _ = monitor.wait_for("removed", "cam0")
    assert removed_at - killed < DEADLINE, f"dropped {removed_at - killed:.3f} s after SIGKILL"
    assert path.is_socket(), "SIGKILL leaves the socket behind"
    time.sleep(1.5)
    assert monitor.names("found") == ["cam0"], monitor.proc.describe()
    assert monitor.names("removed") == ["cam0"], monitor.proc.describe()


def test_a_stale_socket_present_at_start_is_not_listed_until_a_producer_takes_its_name(
        launcher, runtime_dir, stream_dir):
    dead, path = start_producer(launcher, runtime_dir, "cam0")
    wait_for_path(path)
    dead.kill(signal.SIGKILL)
    assert path.is_socket()
    monitor = Monitor(launcher, runtime_dir)
    monitor.wait_started()
    time.sleep(0.5)
    assert monitor.events() == [], monitor.proc.describe()
    # A producer replaces the stale socket: that one is a device.
    producer, _ = start_producer(launcher, runtime_dir, "cam0")
    event, _, _ = monitor.wait_for("found", "cam0", watch=path)
    assert event.props.get("zcipc.pid") == str(producer.pid), event


def test_streams_are_found_when_the_stream_directory_is_made_after_the_monitor_started(
        launcher, runtime_dir):
    assert not (runtime_dir / "zcipc").exists()
    monitor = Monitor(launcher, runtime_dir)
    monitor.wait_started()
    # The producer makes the directory, and binds at once.
    producer, path = start_producer(launcher, runtime_dir, "late")
    event, found_at, sock_at = monitor.wait_for("found", "late", watch=path)
    assert sock_at is not None and found_at - sock_at < DEADLINE, (found_at, sock_at)
    assert_describes(event, "late", path, producer.pid, "Video/Source")


def test_the_one_shot_listing_shows_the_running_producers_and_not_the_stale_socket(
        launcher, runtime_dir, stream_dir):
    producers = {}
    for name in ("a", "b"):
        producers[name] = start_producer(launcher, runtime_dir, name)
    dead, dead_path = start_producer(launcher, runtime_dir, "dead")
    for _, path in list(producers.values()) + [(dead, dead_path)]:
        wait_for_path(path)
    dead.kill(signal.SIGKILL)
    time.sleep(0.5)  # caps: the producers have negotiated
    res = subprocess.run(["gst-device-monitor-1.0", "Video/Source"], capture_output=True,
                         text=True, timeout=30, env={**launcher.env, **env_for(runtime_dir)})
    assert res.returncode == 0, res.stderr
    events = [e for e in parse_monitor(res.stdout) if e.props.get("device.api") == "zcipc"]
    assert sorted(e.name for e in events) == ["a", "b"], res.stdout
    for e in events:
        proc, path = producers[e.name]
        assert_describes(e, e.name, path, proc.pid, "Video/Source")
        assert "format=RGBA" in e.caps, e


def test_an_audio_stream_is_listed_under_audio_source_and_not_video_source(
        launcher, runtime_dir, stream_dir):
    audio_monitor = Monitor(launcher, runtime_dir, "Audio/Source")
    video_monitor = Monitor(launcher, runtime_dir, "Video/Source")
    audio_monitor.wait_started()
    producer, path = start_producer(launcher, runtime_dir, "mic", head=LIVE_AUDIO)
    event, _, _ = audio_monitor.wait_for("found", "mic")
    assert event.caps.startswith("audio/x-raw") and "rate=48000" in event.caps, event
    assert_describes(event, "mic", path, producer.pid, "Audio/Source")
    video, _ = start_producer(launcher, runtime_dir, "cam", head=LIVE_VIDEO)
    video_monitor.wait_for("found", "cam")
    time.sleep(0.5)
    assert "mic" not in video_monitor.names("found"), video_monitor.proc.describe()
    assert "cam" not in audio_monitor.names("found"), audio_monitor.proc.describe()


DEVICE_MONITOR_SCRIPT = textwrap.dedent("""
    import sys
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)

    # No main loop anywhere: the provider runs its own thread.
    monitor = Gst.DeviceMonitor()
    monitor.add_filter("Video/Source", None)
    assert monitor.start()
    devices = [d for d in monitor.get_devices() if d.get_display_name() == sys.argv[1]]
    assert len(devices) == 1, [d.get_display_name() for d in monitor.get_devices()]
    src = devices[0].create_element("src")
    assert src.get_factory().get_name() == "zcipcsrc"
    print("socket-path", src.get_property("socket-path"))
    pipeline = Gst.Pipeline()
    sink = Gst.ElementFactory.make("appsink")
    pipeline.add(src)
    pipeline.add(sink)
    src.link(sink)
    pipeline.set_state(Gst.State.PLAYING)
    for i in range(5):
        sample = sink.emit("try-pull-sample", 10 * Gst.SECOND)
        assert sample is not None, "no frame"
        ok, info = sample.get_buffer().map(Gst.MapFlags.READ)
        assert ok
        print("frame", i, sample.get_caps().get_structure(0).get_value("width"),
              bytes(info.data[:4]).hex(), len(info.data))
        sample.get_buffer().unmap(info)
    pipeline.set_state(Gst.State.NULL)
    monitor.stop()

    # Unstarted, the provider probes the directory once.
    provider = Gst.DeviceProviderFactory.get_by_name("zcipcdeviceprovider")
    print("probed", sorted(d.get_display_name() for d in provider.get_devices()))
""")


def test_gst_device_monitor_in_python_creates_a_zcipcsrc_that_plays_the_stream(
        launcher, runtime_dir, stream_dir):
    producer, path = start_producer(launcher, runtime_dir, "cam0")
    wait_for_path(path)
    time.sleep(0.5)
    res = subprocess.run([PY, "-c", DEVICE_MONITOR_SCRIPT, "cam0"], capture_output=True,
                         text=True, timeout=60, env={**launcher.env, **env_for(runtime_dir)})
    assert res.returncode == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert f"socket-path {path}" in lines, res.stdout
    frames = [line.split() for line in lines if line.startswith("frame ")]
    assert len(frames) == 5, res.stdout
    for f in frames:
        # RGBA bytes of foreground-color=0xff20c040 (ARGB), 64x48x4 bytes.
        assert f[2:] == ["64", "20c040ff", str(64 * 48 * 4)], res.stdout
    assert "probed ['cam0']" in lines, res.stdout


def test_an_idle_monitor_watching_a_live_stream_uses_almost_no_cpu_and_never_wakes(
        launcher, runtime_dir, stream_dir):
    monitor = Monitor(launcher, runtime_dir)
    monitor.wait_started()
    start_producer(launcher, runtime_dir, "cam0")
    monitor.wait_for("found", "cam0")
    time.sleep(2.5)  # GIO's delayed change events for the new socket are past
    before, switches = cpu_seconds(monitor.proc.pid), context_switches(monitor.proc.pid)
    time.sleep(3.0)
    used = cpu_seconds(monitor.proc.pid) - before
    woke = context_switches(monitor.proc.pid) - switches
    assert used < 0.1, f"the idle monitor used {used:.2f} s of CPU in 3 s"
    # Even a 2 Hz timer would wake it 6 times.
    assert woke < 5, f"the idle monitor woke {woke} times in 3 s"


def test_the_monitor_does_not_take_a_consumer_place(launcher, runtime_dir, stream_dir):
    monitor = Monitor(launcher, runtime_dir)
    monitor.wait_started()
    producer, path = start_producer(launcher, runtime_dir, "cam0", opts="max-consumers=1")
    monitor.wait_for("found", "cam0")
    consumer = launcher.launch(f"zcipcsrc socket-path={path} num-buffers=10 ! fakesink",
                               name="consumer", extra_env=env_for(runtime_dir))
    assert consumer.wait(30) == 0, consumer.describe()
    assert "removed" not in [e.kind for e in monitor.events()], monitor.proc.describe()


def test_a_peer_that_never_answers_is_not_listed_and_does_not_hold_up_the_listing(
        launcher, runtime_dir, stream_dir):
    import socket
    mute = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    mute.bind(str(stream_dir / "mute"))
    mute.listen(8)  # never accepts, never answers
    try:
        producer, path = start_producer(launcher, runtime_dir, "cam0")
        wait_for_path(path)
        time.sleep(0.5)
        started = time.monotonic()
        res = subprocess.run(["gst-device-monitor-1.0", "Video/Source"], capture_output=True,
                             text=True, timeout=30, env={**launcher.env, **env_for(runtime_dir)})
        took = time.monotonic() - started
        assert res.returncode == 0, res.stderr
        names = [e.name for e in parse_monitor(res.stdout) if e.props.get("device.api") == "zcipc"]
        assert names == ["cam0"], res.stdout
        # The probe's timeout (0.5 s), in a worker beside the others; the rest is start-up.
        assert took < 3.0, f"the listing took {took:.2f} s"
    finally:
        mute.close()


LIFECYCLE_SCRIPT = textwrap.dedent("""
    import json, os, subprocess, sys
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)

    def monitors():
        out = subprocess.run([sys.argv[1], "--once", "--json", "cam0"], capture_output=True,
                             text=True, check=True).stdout
        return json.loads(out)["streams"][0]["monitors"] - 1  # zcipc-top is one

    def threads():
        return sorted(open(f"/proc/self/task/{t}/comm").read().strip()
                      for t in os.listdir("/proc/self/task"))

    def fds():
        return len(os.listdir("/proc/self/fd"))

    monitor = Gst.DeviceMonitor()
    monitor.add_filter("Video/Source", None)
    for i in range(3):
        assert monitor.start()
        names = [d.get_display_name() for d in monitor.get_devices()]
        print("cycle", i, "devices", names, "monitors", monitors(),
              "provider-threads", threads().count("zcipc-devices"))
        monitor.stop()
        print("cycle", i, "stopped", "monitors", monitors(),
              "provider-threads", threads().count("zcipc-devices"), "fds", fds())
""")


def test_a_stopped_monitor_leaves_no_connection_thread_or_fd_behind(
        launcher, runtime_dir, stream_dir):
    producer, path = start_producer(launcher, runtime_dir, "cam0")
    wait_for_path(path)
    time.sleep(0.5)
    res = subprocess.run([PY, "-c", LIFECYCLE_SCRIPT, str(BUILD_DIR / "tools" / "zcipc-top")],
                         capture_output=True, text=True, timeout=60,
                         env={**launcher.env, **env_for(runtime_dir)})
    assert res.returncode == 0, res.stdout + res.stderr
    lines = [line.split() for line in res.stdout.splitlines() if line.startswith("cycle ")]
    assert len(lines) == 6, res.stdout
    for started, stopped in zip(lines[0::2], lines[1::2]):
        assert started[3:] == ["['cam0']", "monitors", "1", "provider-threads", "1"], res.stdout
        assert stopped[3:7] == ["monitors", "0", "provider-threads", "0"], res.stdout
    # The first cycle may open what GLib keeps for good (the inotify fd).
    assert lines[3][-1] == lines[5][-1], res.stdout


LATE_CAPS_PRODUCER = textwrap.dedent("""
    import sys, time
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    pipeline = Gst.parse_launch("appsrc name=src is-live=true format=time ! zcipcsink stream-name=late")
    pipeline.set_state(Gst.State.PLAYING)  # the socket is there; no caps yet
    time.sleep(float(sys.argv[1]))
    src = pipeline.get_by_name("src")
    src.set_property("caps", Gst.Caps.from_string(
        "video/x-raw,format=RGBA,width=64,height=48,framerate=30/1"))
    print("caps set", flush=True)
    for i in range(300):
        buf = Gst.Buffer.new_wrapped(bytes(64 * 48 * 4))
        buf.pts = i * Gst.SECOND // 30
        src.emit("push-buffer", buf)
        time.sleep(1 / 30)
    pipeline.set_state(Gst.State.NULL)
""")


def test_a_producer_without_caps_yet_is_listed_with_its_caps_once_it_has_them(
        launcher, runtime_dir, stream_dir):
    monitor = Monitor(launcher, runtime_dir)
    monitor.wait_started()
    producer = launcher.run([PY, "-c", LATE_CAPS_PRODUCER, "2.5"], name="late-producer",
                            extra_env=env_for(runtime_dir))
    # Listed after a second without caps, with ANY caps (printed as none)...
    first, _, _ = monitor.wait_for("found", "late", also=producer)
    assert first.caps == "", first
    assert "caps set" not in producer.stdout()
    # ...and replaced by one with the caps once the producer has them.
    wait_until_printed = time.monotonic() + 10
    while "caps set" not in producer.stdout():
        assert time.monotonic() < wait_until_printed, producer.describe()
        time.sleep(0.01)
    caps_at = time.monotonic()
    monitor.wait_for("removed", "late", also=producer)
    second, found_at, _ = monitor.wait_for("found", "late", nth=1, also=producer)
    assert second.caps.startswith("video/x-raw, format=RGBA, width=64, height=48"), second
    # Asked again every 2 s at most once listed with ANY caps.
    assert found_at - caps_at < 2.5, f"caps seen {found_at - caps_at:.2f} s after they were set"
