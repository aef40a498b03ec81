# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""One producer, many consumers that join late, stall, crash; producers that
restart. Real processes, real signals."""

from __future__ import annotations

import json
import random
import signal
import sys
import time
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from zcipctest import SOURCE_DIR, checksums, fd_count, wait_for_path, zcipc_mappings  # noqa: E402

Gst.init(None)

LIVE_SMALL = "videotestsrc is-live=true ! video/x-raw,format=RGBA,width=320,height=240,framerate=30/1"


def start_producer(description: str):
    pipeline = Gst.parse_launch(description)
    assert pipeline.set_state(Gst.State.PLAYING) != Gst.StateChangeReturn.FAILURE
    return pipeline, pipeline.get_by_name("sink")


def stop_producer(pipeline):
    pipeline.set_state(Gst.State.NULL)


def consumer_stats(sink) -> dict[int, Gst.Structure]:
    """Per-consumer stats of a sink, by consumer pid."""
    return {s.get_value("pid"): s for s in sink.get_property("stats").get_value("consumer-stats")}


def wait_until(predicate, timeout: float, what: str, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def read_status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def test_16_consumers_of_one_1080p_stream_all_receive_every_frame_losslessly(launcher, sock_dir):
    head = "videotestsrc num-buffers=60 pattern=ball ! video/x-raw,format=RGBA,width=1920,height=1080"
    ref = launcher.launch(f"{head} ! checksumsink sync=false", name="reference")
    assert ref.wait(60) == 0
    expected = checksums(ref.stdout())
    sock = sock_dir / "s"
    producer = launcher.launch(f"{head} ! zcipcsink socket-path={sock} min-consumers=16 "
                               "slow-consumer=wait wait-timeout=20000 sync=false", name="producer")
    wait_for_path(sock)
    consumers = [launcher.launch(f"zcipcsrc socket-path={sock} ! checksumsink sync=false",
                                 name=f"consumer{i}") for i in range(16)]
    for c in consumers:
        assert c.wait(120) == 0, c.describe()
    assert producer.wait(30) == 0, producer.describe()
    assert len(expected) == 60
    for c in consumers:
        assert checksums(c.stdout()) == expected, c.name


def test_a_stopped_consumer_does_not_slow_a_fast_one_by_default(launcher, sock_dir):
    sock = sock_dir / "s"
    pipeline, sink = start_producer(f"{LIVE_SMALL} ! zcipcsink name=sink socket-path={sock}")
    try:
        fast = launcher.launch(f"zcipcsrc socket-path={sock} ! fakesink", name="fast")
        slow = launcher.launch(f"zcipcsrc socket-path={sock} ! fakesink", name="slow")
        wait_until(lambda: len(consumer_stats(sink)) == 2, 10, "two consumers")
        time.sleep(0.5)
        slow.kill(signal.SIGSTOP)
        time.sleep(0.3)                  # let it fill its quota
        before = consumer_stats(sink)
        rendered_before = sink.get_property("stats").get_value("rendered")
        time.sleep(3.0)
        after = consumer_stats(sink)
        rendered = sink.get_property("stats").get_value("rendered") - rendered_before
        fast_frames = after[fast.pid].get_value("frames-sent") - before[fast.pid].get_value("frames-sent")
        slow_missed = after[slow.pid].get_value("frames-missed") - before[slow.pid].get_value("frames-missed")
        # Whatever the machine's load, the producer kept rendering, and the
        # fast consumer got every frame it rendered while the stopped one
        # missed them (it holds at most its quota).
        assert rendered >= 30, rendered
        assert fast_frames >= rendered - 1, (fast_frames, rendered)
        assert after[fast.pid].get_value("frames-missed") == 0
        assert slow_missed >= rendered - 1, (slow_missed, rendered)
        assert after[slow.pid].get_value("frames-held") <= after[slow.pid].get_value("quota")
        slow.kill(signal.SIGCONT)
        stats = sink.get_property("stats")
        assert stats.get_value("consumers-dropped") == 0
    finally:
        stop_producer(pipeline)


def test_a_stopped_consumer_gates_lossless_mode_until_the_timeout_drops_it(launcher, sock_dir):
    sock = sock_dir / "s"
    pipeline, sink = start_producer(
        f"{LIVE_SMALL} ! zcipcsink name=sink socket-path={sock} slow-consumer=wait wait-timeout=1500")
    left = []
    sink.connect("consumer-left", lambda s, cid, pid, uid, reason: left.append((pid, reason)))
    try:
        fast = launcher.launch(f"zcipcsrc socket-path={sock} ! fakesink", name="fast")
        slow = launcher.launch(f"zcipcsrc socket-path={sock} ! fakesink", name="slow")
        wait_until(lambda: len(consumer_stats(sink)) == 2, 10, "two consumers")
        time.sleep(0.5)
        slow.kill(signal.SIGSTOP)
        before = consumer_stats(sink)[fast.pid].get_value("frames-sent")
        time.sleep(1.0)
        during = consumer_stats(sink)[fast.pid].get_value("frames-sent")
        # Lossless: the fast consumer waits with everyone for the stuck one.
        assert during - before <= 5, during - before
        wait_until(lambda: sink.get_property("stats").get_value("consumers-dropped") == 1, 5,
                   "the stuck consumer to be dropped")
        wait_until(lambda: any(pid == slow.pid for pid, _ in left), 5, "consumer-left signal")
        assert "wait timeout" in dict(left)[slow.pid]
        resumed = consumer_stats(sink)[fast.pid].get_value("frames-sent")
        rendered_before = sink.get_property("stats").get_value("rendered")
        time.sleep(1.0)
        rendered = sink.get_property("stats").get_value("rendered") - rendered_before
        # The stream goes on at the producer's pace for the remaining consumer.
        assert rendered >= 10, rendered
        assert consumer_stats(sink)[fast.pid].get_value("frames-sent") - resumed >= rendered - 1
        assert list(consumer_stats(sink)) == [fast.pid]
        slow.kill(signal.SIGCONT)
    finally:
        stop_producer(pipeline)


def test_100_consumers_killed_at_random_moments_leak_nothing_and_the_survivor_misses_nothing(
        launcher, sock_dir):
    sock = sock_dir / "s"
    pipeline, sink = start_producer(
        f"{LIVE_SMALL} ! zcipcsink name=sink socket-path={sock} slow-consumer=wait "
        "wait-timeout=5000 min-consumers=1")
    try:
        survivor = launcher.launch(f"zcipcsrc socket-path={sock} ! checksumsink sync=false",
                                   name="survivor")
        wait_until(lambda: len(consumer_stats(sink)) == 1, 10, "the survivor")
        time.sleep(0.5)
        base_fds = fd_count()
        base_maps = len(zcipc_mappings())
        rng = random.Random(1234)
        for i in range(100):
            victim = launcher.launch(f"zcipcsrc socket-path={sock} max-held={rng.randint(1, 4)} "
                                     "! fakesink", name=f"victim{i}")
            time.sleep(rng.uniform(0.0, 0.25))
            victim.kill(signal.SIGKILL)
            victim.close()
        wait_until(lambda: sink.get_property("stats").get_value("consumers") == 1, 10,
                   "killed consumers to be gone")
        # The pool may have grown while victims held frames; as their frames
        # come back it shrinks to its first region, and the fds and mappings
        # of the producer return to what they were.
        # (At most: a pool that had already grown for a slow start may even
        # end below its count at the baseline.)
        wait_until(lambda: fd_count() <= base_fds and len(zcipc_mappings()) <= base_maps, 15,
                   f"fds {fd_count()} -> {base_fds}, mappings {len(zcipc_mappings())} -> {base_maps}")
        stats = sink.get_property("stats")
        assert stats.get_value("frames-held") <= 2      # only the survivor's
        assert stats.get_value("consumers-joined") >= 2
        pipeline.send_event(Gst.Event.new_eos())
        assert survivor.wait(30) == 0, survivor.describe()
        rendered = sink.get_property("stats").get_value("rendered")
        got = checksums(survivor.stdout())
        # Lossless mode and the survivor connected before the first frame
        # (min-consumers=1): it received every frame the producer rendered.
        assert len(got) == rendered
    finally:
        stop_producer(pipeline)


def test_a_reconnecting_consumer_survives_20_producer_kills_and_a_caps_change(launcher, sock_dir, tmp_path):
    sock = sock_dir / "s"
    status_file = tmp_path / "status.json"
    consumer = launcher.run([sys.executable, str(SOURCE_DIR / "tests/integration/status_consumer.py"),
                             "--socket-path", str(sock), "--status-file", str(status_file)],
                            name="consumer")
    fds_after_round = []
    maps_after_round = []
    for i in range(20):
        width = 320 if i < 10 else 640
        producer = launcher.launch(
            f"videotestsrc is-live=true ! video/x-raw,format=RGBA,width={width},height=240,framerate=30/1 "
            f"! zcipcsink socket-path={sock}", name=f"producer{i}")
        wait_until(lambda: read_status(status_file).get("connections", 0) == i + 1, 15,
                   f"connection {i + 1}")
        wait_until(lambda: (read_status(status_file).get("frames_per_connection") or [0])[-1] >= 5,
                   10, f"frames from producer {i + 1}")
        producer.kill(signal.SIGKILL)
        producer.close()
        assert sock.exists()             # a dead producer's stale socket stays behind...
        time.sleep(0.3)
        st = read_status(status_file)
        fds_after_round.append(st["fds"])
        maps_after_round.append(st["mappings"])
    st = read_status(status_file)
    assert consumer.popen.poll() is None, consumer.describe()
    assert st["errors"] == []
    assert st["connections"] == 20      # ...and each new producer replaced it
    assert all(n >= 5 for n in st["frames_per_connection"])
    assert [c.split("width=(int)")[1].split(",")[0] for c in st["caps"]] == ["320", "640"]
    # Nothing accumulates: once frames are released, a dead producer's
    # regions are unmapped and its socket closed.
    assert max(fds_after_round[2:]) <= fds_after_round[1] + 1
    assert max(maps_after_round) <= 1
    consumer.kill(signal.SIGTERM)
