# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Writing through a consumer's views: numpy raises, torch writes are
private to this process and undone on release; the producer and a second
consumer never see a change, and nothing crashes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import patterns
import pyhelpers
import zcipc
from zcipc import _writes

CAPS = "video/x-raw,format=RGBA,width=256,height=64,framerate=100/1"
SHAPE = (64, 256, 4)


def test_numpy_views_are_read_only(launcher, sock_dir):
    sock = sock_dir / "s"
    prod = pyhelpers.start_producer(launcher, sock, CAPS, 2, props=pyhelpers.LOSSLESS)
    with zcipc.Consumer(str(sock)) as consumer:
        for frame in consumer:
            array = frame.numpy()
            assert not array.flags.writeable
            with pytest.raises(ValueError):
                array[0, 0, 0] = 1
            with pytest.raises(ValueError):
                array.flags.writeable = True
            with pytest.raises(ValueError):
                array[1:3].fill(0)
            with pytest.raises(ValueError):
                np.add(array, 1, out=array)
            plane = frame.planes()[0]
            with pytest.raises(ValueError):
                plane[...] = 0
            i = patterns.frame_number(frame.pts)
            assert (array == patterns.pattern(i, SHAPE)).all()
    prod.wait(10)


@pytest.mark.parametrize("finder", ["default", "pagemap", "none"])
def test_torch_writes_are_private_and_undone_and_nobody_else_sees_them(
        launcher, sock_dir, monkeypatch, finder):
    # How written pages are found: the default (userfaultfd write-protect
    # where the kernel has it), the /proc/self/pagemap fallback, or none
    # (every page of a written frame is dropped).
    if finder == "pagemap":
        monkeypatch.setattr(_writes, "track", lambda address, length: False)
    elif finder == "none":
        monkeypatch.setattr(_writes, "_fds", lambda: (None, None))
    sock = sock_dir / "s"
    n = 40
    # A small pool, so slots come back many times; the producer checks that a
    # slot still holds what it wrote when it gets it back.
    prod = pyhelpers.start_producer(
        launcher, sock, CAPS, n, verify_slots=True,
        props={"min-consumers": 2, "slow-consumer": "wait", "wait-timeout": 5000,
               "pool-size": 2, "consumer-quota": 16})
    other = pyhelpers.checker(launcher, sock)
    numbers = []
    # A written frame goes back once its pages are dropped, which the
    # reclaim thread may do a few frames later: room for those, so that no
    # frame comes as a private copy (whose writes nobody would undo).
    with zcipc.Consumer(str(sock), hold=10) as consumer:
        for frame in consumer:
            i = patterns.frame_number(frame.pts)
            numbers.append(i)
            expected = patterns.pattern(i, SHAPE)
            array = frame.numpy()
            # A slot written by us in an earlier frame shows the shared bytes.
            assert (array == expected).all(), f"frame {i} shows an earlier write"
            tensor = frame.torch()
            ops = [lambda t: t.add_(1), lambda t: t.zero_(),
                   lambda t: t.copy_(torch.full_like(t, 9)),
                   lambda t: t.__setitem__((slice(0, 4),), 255),
                   lambda t: t.bitwise_not_(),
                   lambda t: t.mul_(3)]
            ops[i % len(ops)](tensor)
            if i % len(ops) == 2:
                assert (array == 9).all()  # this process's views see it
            if i % 7 == 0:
                other_view = torch.from_dlpack(frame)  # DLPack, same rules
                other_view.fill_(42)
                assert (array == 42).all()
                del other_view
            del array, tensor
            frame.release()
    assert numbers == list(range(n))
    assert consumer.stats["frames-copied"] == 0
    assert consumer.stats["pages-reverted"] == n  # every frame was written
    prod.wait(20)
    result = pyhelpers.checker_result(other)
    assert result["error"] is None
    assert result["numbers"] == list(range(n))
    assert result["bad"] == [], "the other consumer saw our writes"
    published = pyhelpers.wait_event(prod, "published")
    assert published["slot_mismatches"] == 0, "the producer saw our writes"
    assert published["slot_checks"] >= n // 2, "slots were not reused"
    assert published["stats"]["frames-copied"] == 0
