# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""zcipcsink with real pipelines and the defaults (issue 14): pausing while
it waits, buffers without memory, metas of any size, and no work while
nobody listens. Producer and consumer are separate processes."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import pytest

from test_stream_meaning import metas_cross, read_report, start_consumer
from zcipctest import wait_for_path

HERE = Path(__file__).resolve().parent
CAPS = "video/x-raw,format=RGBA,width=64,height=48,framerate=30/1"


def producer(launcher, sock, scenario: str, *args: str):
    return launcher.run([sys.executable, str(HERE / "sink_behaviour_producer.py"),
                         "--socket-path", str(sock), "--scenario", scenario, *args],
                        name="producer")


def steps(proc) -> dict:
    """The producer's JSON lines so far, by step."""
    out = {}
    for line in proc.stdout().splitlines():
        if line.startswith("{"):
            item = json.loads(line)
            out[item["step"]] = item
    return out


def wait_for_step(proc, step: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if step in (s := steps(proc)):
            return s[step]
        assert proc.popen.poll() is None, proc.describe()
        time.sleep(0.02)
    raise AssertionError(f"no '{step}' from the producer:\n{proc.describe()}")


def reference_frames(pattern: str, frames: int) -> list[str]:
    """SHA-1 of each frame videotestsrc makes, in this process."""
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    pipeline = Gst.parse_launch(f"videotestsrc num-buffers={frames} pattern={pattern} ! {CAPS} "
                                "! appsink name=out sync=false")
    out = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    sums = []
    while (sample := out.emit("try-pull-sample", 5 * Gst.SECOND)) is not None:
        buf = sample.get_buffer()
        sums.append(hashlib.sha1(buf.extract_dup(0, buf.get_size())).hexdigest())
    pipeline.set_state(Gst.State.NULL)
    assert len(sums) == frames
    return sums


def received_frames(report: Path) -> list[dict]:
    got = read_report(report)
    assert got["error"] is None and got["eos"], got
    return [i for i in got["items"] if i["kind"] == "buffer"]


# ---------------------------------------------------------- pause / resume

@pytest.mark.parametrize("live", [False, True], ids=["non-live", "live"])
def test_pause_and_resume_while_the_sink_waits_for_a_consumer_goes_on(
        launcher, sock_dir, live):
    frames = 30
    sock = sock_dir / "s"
    # smpte's noise corner changes with each frame's number, live or not.
    prod = producer(launcher, sock, "pause", "--frames", str(frames),
                    *(["--live"] if live else []))
    resumed = wait_for_step(prod, "resumed")
    # Both state changes completed: a sink waiting in render() for a
    # consumer prerolls on PAUSED instead of dropping out of the stream.
    assert resumed["paused"] in ("success", "no-preroll"), resumed
    assert resumed["playing"] == "success", resumed
    assert resumed["stats"]["frames-sent"] == 0

    consumer, report = start_consumer(launcher, sock, "consumer", "--metas")
    check_lossless_stream(prod, consumer, report, frames)


@pytest.mark.parametrize("live", [False, True], ids=["non-live", "live"])
def test_pause_and_resume_while_the_sink_waits_for_room_goes_on(
        launcher, sock_dir, live):
    frames = 30
    sock = sock_dir / "s"
    held = launcher.log_dir / "go-on"
    prod = producer(launcher, sock, "pause", "--frames", str(frames), "--pause-when-held",
                    *(["--live"] if live else []))
    wait_for_path(sock)
    # max-held=2 asks for a quota of 3 (one more for the frame in flight);
    # the first frame kept in a probe (its streaming thread with it) and the
    # next two unread: the sink waits for room (slow-consumer=wait, no
    # timeout) when the pipeline pauses. (Not max-held=1: fakesink keeps its
    # last sample.)
    consumer, report = start_consumer(launcher, sock, "consumer", "--metas",
                                      "--src-opts", "max-held=2",
                                      "--hold-first-until", str(held))
    resumed = wait_for_step(prod, "resumed")
    assert resumed["paused"] in ("success", "no-preroll"), resumed
    assert resumed["playing"] == "success", resumed
    assert resumed["stats"]["frames-sent"] == 3
    held.touch()
    check_lossless_stream(prod, consumer, report, frames)


def check_lossless_stream(prod, consumer, report: Path, frames: int) -> None:
    """The consumer got every frame, in order, with its bytes, and both
    processes ended well."""
    assert consumer.wait(40) == 0, consumer.describe()
    assert prod.wait(40) == 0, prod.describe()
    done = steps(prod)["done"]
    assert done["error"] is None
    got = received_frames(report)
    assert [f["offset"] for f in got] == list(range(frames))
    assert [f["sha1"] for f in got] == reference_frames("smpte", frames)
    assert done["stats"]["frames-sent"] == frames


# ------------------------------------------------ buffers without memory

def test_buffers_without_memory_or_bytes_cross_with_timestamps_flags_and_metas(
        launcher, sock_dir):
    frames = 9
    sent, _, received = metas_cross(launcher, sock_dir, "empty", frames=frames)
    # metas_cross checked count, order, PTS and bytes; the empty ones too.
    assert [f["size"] for f in received] == [f["size"] for f in sent["frames"]]
    assert [f["size"] == 0 for f in received] == [n % 3 != 1 for n in range(frames)]
    assert [f["duration"] for f in received] == [f["duration"] for f in sent["frames"]]
    assert [f["gap"] for f in received] == [n % 3 != 1 for n in range(frames)]
    assert [f["metas"] for f in received] == [f["metas"] for f in sent["frames"]]
    for n, f in enumerate(received):
        (meta,) = f["metas"]
        assert meta["structure"].startswith(f"zcipc-detections, frame-id=(guint64){n}, ")
    assert sent["metas_skipped"] == 0


# ------------------------------------------------------------ big metas

def test_custom_meta_of_a_mebibyte_crosses_in_shared_memory_of_its_own(launcher, sock_dir):
    sent, got, received = metas_cross(launcher, sock_dir, "custom-1024k", frames=4)
    assert [f["metas"] for f in received] == [f["metas"] for f in sent["frames"]]
    for n, f in enumerate(received):
        (meta,) = f["metas"]
        assert len(meta["structure"]) > 1024 * 1024
        assert meta["structure"].startswith(f"zcipc-detections, frame-id=(guint64){n}, ")
    assert sent["metas_skipped"] == 0
    assert "metas-unknown=(guint64)0" in got["stats"]


def test_meta_past_the_64_mib_limit_is_left_out_with_a_warning_naming_it(launcher, sock_dir):
    sent, _, received = metas_cross(launcher, sock_dir, "overlimit", frames=2)
    for s, r in zip(sent["frames"], received):
        assert [m["api"] for m in s["metas"]] == ["zcipc-detections-api", "zcipc-meta-00-api"]
        assert r["metas"] == [s["metas"][1]]
    assert sent["metas_skipped"] == 2
    # Said once per stream, naming the meta and its size.
    (warning,) = sent["warnings"]
    assert "zcipc-detections-api" in warning and "67108864" in warning
    size = int(warning.split(" of ")[1].split(" bytes")[0])
    assert size > 64 * 1024 * 1024


# ------------------------------------------------- no work for nobody

def test_tee_without_consumers_copies_nothing_until_one_connects(launcher, sock_dir):
    frames, unwatched = 90, 20
    sock = sock_dir / "s"
    prod = producer(launcher, sock, "tee", "--live", "--pattern", "smpte",
                    "--frames", str(frames), "--unwatched", str(unwatched))
    wait_for_path(sock)
    before = wait_for_step(prod, "unwatched")["stats"]
    # Behind a tee the memory is not ours: with nobody to see the frames,
    # none was copied into shared memory, and no region was announced.
    assert before["rendered"] >= unwatched
    assert before["frames-copied"] == 0 and before["bytes-copied"] == 0
    assert before["regions-announced"] == 0
    assert before["frames-unsent"] == before["rendered"]

    consumer, report = start_consumer(launcher, sock, "consumer", "--metas")
    assert consumer.wait(40) == 0, consumer.describe()
    assert prod.wait(40) == 0, prod.describe()
    after = steps(prod)["done"]
    assert after["error"] is None

    got = received_frames(report)
    assert got, "the consumer got no frame"
    reference = reference_frames("smpte", frames)
    assert [f["sha1"] for f in got] == [reference[f["offset"]] for f in got]
    assert all(f["size"] == 64 * 48 * 4 for f in got)
    # Once the consumer was there each frame was copied once: it reached
    # the consumer, or the consumer missed it (at its quota: skip mode).
    stats = after["stats"]
    assert stats["frames-copied"] == stats["frames-sent"] + stats["frames-dropped"]
    assert stats["frames-sent"] >= len(got)
    assert stats["frames-copied"] <= frames - before["frames-unsent"]
    assert stats["bytes-copied"] == stats["frames-copied"] * 64 * 48 * 4
    assert stats["frames-sent"] + stats["frames-unsent"] == frames
