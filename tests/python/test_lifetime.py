# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""The view owns the frame: arrays and tensors keep their frame alive and
correct, releasing them gives the slots back, and holding too many makes
this consumer miss frames without stalling anyone."""

from __future__ import annotations

import gc
import signal
import time

import pytest

import patterns
import pyhelpers
import zcipc

CAPS = "video/x-raw,format=RGB,width=319,height=97,framerate=100/1"
SHAPE = (97, 319, 3)


def test_kept_tensors_stay_valid_and_no_frame_is_missed_with_hold_6(launcher, sock_dir):
    sock = sock_dir / "s"
    n = 30
    # hold 6 + the pipeline's 2 + the frame in flight: above the default cap.
    prod = pyhelpers.start_producer(launcher, sock, CAPS, n,
                                    props={**pyhelpers.LOSSLESS, "consumer-quota": 9},
                                    linger=True)
    kept = {}  # frame number -> tensor
    numbers = []
    with zcipc.Consumer(str(sock), hold=6) as consumer:
        for frame in consumer:
            i = patterns.frame_number(frame.pts)
            numbers.append(i)
            assert (frame.numpy() == patterns.pattern(i, SHAPE)).all()
            if i in (2, 5, 8):
                kept[i] = frame.torch()  # the frame object itself goes
            for k, tensor in kept.items():
                assert (tensor.numpy() == patterns.pattern(k, SHAPE)).all(), \
                    f"kept frame {k} changed while at frame {i}"
            if i == n - 1:
                break
        assert consumer.quota == 6 + zcipc.PIPELINE_HOLD + 1
        assert consumer.stats["frames-dropped"] == 0
        assert consumer.stats["frames-copied"] == 0  # 3 kept, within hold
        del frame
        gc.collect()

        # The producer has our 3 kept frames out, plus the last one received,
        # which appsink keeps (its cached GstSample) until the next pull.
        published = pyhelpers.wait_event(prod, "published")["stats"]
        assert published["consumers-dropped"] == 0
        assert published["frames-dropped"] == 0
        held = pyhelpers.wait_stat(prod, "frames-held", 3 + 1)
        assert held["frames-held"] == 3 + 1, held
        assert numbers == list(range(n))

        for k, tensor in kept.items():  # still the bytes of their frames
            assert (tensor.numpy() == patterns.pattern(k, SHAPE)).all()
        views = [kept[k][10:20] for k in kept]  # views keep frames too
        del tensor
        kept.clear()
        gc.collect()
        assert pyhelpers.wait_stat(prod, "frames-held", 4)["frames-held"] == 4
        assert all((v.numpy() == patterns.pattern(k, SHAPE)[10:20]).all()
                   for k, v in zip((2, 5, 8), views))
        del views
        gc.collect()
        assert pyhelpers.wait_stat(prod, "frames-held", 1)["frames-held"] == 1
    assert pyhelpers.wait_stat(prod, "frames-held", 0)["frames-held"] == 0
    prod.kill(signal.SIGTERM)


def test_arrays_outlive_the_frame_and_the_consumer(launcher, sock_dir):
    sock = sock_dir / "s"
    prod = pyhelpers.start_producer(launcher, sock, CAPS, 4, props=pyhelpers.LOSSLESS,
                                    linger=True)
    consumer = zcipc.Consumer(str(sock))
    frame = consumer.pull(timeout=10)
    i = patterns.frame_number(frame.pts)
    array = frame.numpy()[::2]
    tensor = frame.torch()
    frame.release()
    with pytest.raises(ValueError):
        frame.numpy()
    del frame
    consumer.close()
    gc.collect()
    # The producer keeps our frame's slot (and, for now, frames it had sent
    # that we never read) until the last view goes.
    pyhelpers.wait_event(prod, "published")
    assert pyhelpers.producer_stats(prod)["frames-held"] >= 1
    assert (array == patterns.pattern(i, SHAPE)[::2]).all()
    assert (tensor.numpy() == patterns.pattern(i, SHAPE)).all()
    assert pyhelpers.mapping_of(array) is not None
    del array
    gc.collect()
    assert pyhelpers.producer_stats(prod)["frames-held"] >= 1
    del tensor
    gc.collect()
    assert pyhelpers.wait_stat(prod, "frames-held", 0)["frames-held"] == 0
    prod.kill(signal.SIGTERM)


def test_keeping_more_than_hold_gets_copies_and_misses_nothing(launcher, sock_dir):
    sock = sock_dir / "s"
    n = 60
    # Default (skip) policy, paced at 100 fps. A consumer that keeps more
    # than hold frames alive gets the frames beyond as private copies: it
    # misses none, and the producer never waits for it.
    prod = pyhelpers.start_producer(launcher, sock, CAPS, n, interval=0.01,
                                    props={"min-consumers": 1})
    hold = 2
    kept = []
    numbers = []
    copied = []
    start = time.monotonic()
    with zcipc.Consumer(str(sock), hold=hold) as consumer:
        with pytest.warns(RuntimeWarning, match="private copies") as warned:
            for frame in consumer:
                i = patterns.frame_number(frame.pts)
                numbers.append(i)
                assert (frame.numpy() == patterns.pattern(i, SHAPE)).all()
                copied.append(frame.copied)
                if len(numbers) <= 20:
                    kept.append(frame)  # all of the first 20: more than hold
                    if len(numbers) == 20:
                        kept.clear()  # give them back: zero copy again
            stats = consumer.stats
    assert time.monotonic() - start < 15
    assert consumer.eos
    assert len([w for w in warned if "private copies" in str(w.message)]) == 1
    published = pyhelpers.wait_event(prod, "published")["stats"]
    prod.wait(10)
    assert numbers == list(range(n)), "a frame was missed"
    # hold + what the pipeline keeps are zero copy, then copies until the
    # kept frames go, then zero copy again.
    first_copy = copied.index(True)
    assert first_copy >= hold, copied
    assert all(copied[first_copy:20]), copied
    assert not any(copied[30:]), copied
    assert stats["frames-copied"] == sum(copied)
    assert stats["frames-dropped"] == 0
    assert published["frames-dropped"] == 0
    assert published["rendered"] == n  # the producer never stalled


def test_a_copied_frame_gives_torch_its_own_memory(launcher, sock_dir):
    sock = sock_dir / "s"
    prod = pyhelpers.start_producer(launcher, sock, CAPS, 8, props=pyhelpers.LOSSLESS,
                                    linger=True)
    kept = []
    with zcipc.Consumer(str(sock), hold=1) as consumer:
        with pytest.warns(RuntimeWarning, match="private copies"):
            for frame in consumer:
                kept.append(frame)
                if len(kept) == 8:
                    break
        copy = next(f for f in kept if f.copied)
        i = patterns.frame_number(copy.pts)
        tensor = copy.torch()
        assert pyhelpers.mapping_of(copy.numpy()) is None  # not shared memory
        tensor[0, 0, 0] = 255 - int(tensor[0, 0, 0])  # ours to write
        assert (tensor.numpy()[1:] == patterns.pattern(i, SHAPE)[1:]).all()
        assert consumer.stats["torch-copies"] == 0
        del tensor, copy, frame
        kept.clear()
    prod.kill(signal.SIGTERM)


def test_a_producer_quota_below_hold_is_warned_about(launcher, sock_dir):
    sock = sock_dir / "s"
    prod = pyhelpers.start_producer(launcher, sock, CAPS, 3,
                                    props={**pyhelpers.LOSSLESS, "consumer-quota": 3})
    with zcipc.Consumer(str(sock), hold=3) as consumer:
        with pytest.warns(RuntimeWarning, match="grants 3 frames"):
            frame = consumer.pull(timeout=10)
        assert consumer.quota == 3
        del frame
        assert len([f for f in consumer]) == 2
    prod.wait(10)


def test_keeping_every_frame_from_a_lossless_producer_is_never_cut_off(
        launcher, sock_dir):
    sock = sock_dir / "s"
    n = 30
    prod = pyhelpers.start_producer(
        launcher, sock, CAPS, n,
        props={"min-consumers": 1, "slow-consumer": "wait", "wait-timeout": 300})
    kept = []
    start = time.monotonic()
    with zcipc.Consumer(str(sock), hold=1) as consumer:
        with pytest.warns(RuntimeWarning, match="private copies"):
            for frame in consumer:
                kept.append(frame)  # never given back: copies, not a cut-off
        stats = consumer.stats
    assert time.monotonic() - start < 10
    assert consumer.eos
    assert [patterns.frame_number(f.pts) for f in kept] == list(range(n))
    # hold + what the pipeline keeps came from shared memory; the rest are
    # copies, so the producer never waited wait-timeout for us.
    assert [f.copied for f in kept] == [False] * 3 + [True] * (n - 3)
    assert stats["frames-copied"] == n - 3
    for frame in kept:
        i = patterns.frame_number(frame.pts)
        assert (frame.numpy() == patterns.pattern(i, SHAPE)).all()
    published = pyhelpers.wait_event(prod, "published")["stats"]
    assert published["consumers-dropped"] == 0
    prod.wait(10)
    assert prod.popen.returncode == 0, prod.describe()


def ours_held(prod) -> int:
    """Frames the producer counts as held, less those of its consumers:
    the holds of consumers it cut off."""
    stats = pyhelpers.producer_stats(prod)
    return stats["frames-held"] - sum(c["frames-held"] for c in stats["consumer-stats"])


def test_frames_kept_by_a_cut_off_consumer_survive_the_stream_going_on(
        launcher, sock_dir):
    # Cut off for the wait timeout, a consumer still holds the frames it
    # received; the producer streams on to another consumer from a pool of
    # two, so a slot it took back would be written again within frames.
    sock = sock_dir / "s"
    n = 40
    prod = pyhelpers.start_producer(
        launcher, sock, CAPS, n, linger=True,
        props={"min-consumers": 1, "slow-consumer": "wait", "wait-timeout": 300,
               "pool-size": 2})
    kept = []
    other = None
    with zcipc.Consumer(str(sock), hold=1) as consumer:
        with pytest.raises(zcipc.ProducerGone, match="wait timeout"):
            for frame in consumer:
                kept.append(frame)  # never given back
                if other is None:   # only now, so that we are first
                    other = pyhelpers.checker(launcher, sock)
                    # Stuck (not reading): the producer waits, then cuts
                    # us off. What we keep is no copy: read on after.
                    time.sleep(1.0)
    assert len(kept) >= 2
    assert not kept[0].copied
    pyhelpers.wait_event(prod, "published")
    stats = pyhelpers.wait_stat(prod, "rendered", n)
    assert stats["rendered"] == n and stats["consumers-dropped"] == 1, stats
    # Our frames are still ours: they hold their own bytes ...
    overwritten = [patterns.frame_number(f.pts) for f in kept
                   if not (f.numpy() == patterns.pattern(
                       patterns.frame_number(f.pts), SHAPE)).all()]
    assert overwritten == []
    # ... as the producer keeps their slots (copies went back at once)
    assert ours_held(prod) == len([f for f in kept if not f.copied])
    n_kept = len(kept)
    del frame  # the loop variable is the last one
    kept.clear()
    gc.collect()
    deadline = time.monotonic() + 5  # and take them back once we let go
    while ours_held(prod) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ours_held(prod) == 0
    prod.kill(signal.SIGTERM)  # ends the stream for the other consumer
    result = pyhelpers.checker_result(other)
    assert result["error"] is None, result
    assert result["bad"] == [], result
    assert len(result["numbers"]) >= n - n_kept - 1, result
    assert result["numbers"][-1] == n - 1, result
    prod.wait(10)
    assert prod.popen.returncode == 0, prod.describe()
