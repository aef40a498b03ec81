# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""zcipc.Producer: frame() writes straight into the sink's shared pool,
push() copies once; consumers in other processes get the bytes."""

from __future__ import annotations

import signal
import sys
import time

import numpy as np
import pytest

import patterns
import pyhelpers
import zcipc

CAPS = "video/x-raw,format=RGB,width=333,height=77,framerate=100/1"
SHAPE = (77, 333, 3)


def test_frame_writes_into_the_shared_pool_with_no_copy(launcher, sock_dir):
    sock = sock_dir / "s"
    n = 10
    with zcipc.Producer(str(sock), CAPS, **pyhelpers.LOSSLESS) as producer:
        checker = pyhelpers.checker(launcher, sock)
        assert producer.shapes == (SHAPE,)
        for i in range(n):
            with producer.frame(pts=i * patterns.FRAME_DURATION) as image:
                assert image.shape == SHAPE and image.flags.writeable
                assert image.strides[0] > 333 * 3  # the pool pads rows
                mapping = pyhelpers.mapping_of(image)
                assert mapping is not None and mapping[2].startswith("rw-s"), \
                    "the array is not the sink's shared memory"
                image[...] = patterns.pattern(i, SHAPE)
            assert not image.flags.writeable  # published: hands off
        assert producer.drain()
        stats = producer.stats
        assert stats["frames-copied"] == 0
        assert stats["python-frames-copied"] == 0
        assert stats["frames-sent"] == n
    result = pyhelpers.checker_result(checker)
    assert result["error"] is None
    assert result["numbers"] == list(range(n)) and result["bad"] == []


def test_push_copies_once_and_consumers_get_the_bytes(launcher, sock_dir):
    sock = sock_dir / "s"
    n = 6
    with zcipc.Producer(str(sock), CAPS, **pyhelpers.LOSSLESS) as producer:
        checker = pyhelpers.checker(launcher, sock)
        for i in range(n):
            image = np.ascontiguousarray(patterns.pattern(i, SHAPE))
            producer.push(image, pts=i * patterns.FRAME_DURATION)
        assert producer.drain()
        stats = producer.stats
        assert stats["python-frames-copied"] == n
        assert stats["frames-copied"] == 0  # the copy went into a pool slot
    result = pyhelpers.checker_result(checker)
    assert result["numbers"] == list(range(n)) and result["bad"] == []


def test_python_producer_feeds_a_gst_launch_consumer(launcher, sock_dir):
    sock = sock_dir / "s"
    caps = "video/x-raw,format=I420,width=64,height=48,framerate=30/1"
    with zcipc.Producer(str(sock), caps, **pyhelpers.LOSSLESS) as producer:
        consumer = launcher.launch(f"zcipcsrc socket-path={sock} ! checksumsink",
                                   name="gstconsumer")
        for i in range(3):
            with producer.planes() as planes:
                for p, a in enumerate(planes):
                    a[...] = patterns.pattern(i, a.shape, p)
    consumer.wait(10)
    sums = pyhelpers.zcipctest.checksums(consumer.stdout())
    assert len(sums) == 3 and len({s for _, s in sums}) == 3


def test_producer_errors_are_clear(sock_dir):
    sock = sock_dir / "s"
    with zcipc.Producer(str(sock), CAPS):
        with pytest.raises(zcipc.ProducerError, match="in use"):
            zcipc.Producer(str(sock), CAPS)
    with pytest.raises(ValueError):
        zcipc.Producer(str(sock), "video/x-raw,format=RGB")
    with pytest.raises(zcipc.FormatError):
        zcipc.Producer(str(sock), "audio/x-raw,format=S16LE,rate=48000,channels=2,"
                       "layout=interleaved")
    with zcipc.Producer(str(sock), "video/x-raw,format=I420,width=16,height=16") as p:
        with pytest.raises(zcipc.FormatError):
            with p.frame():
                pass
        with pytest.raises(zcipc.FormatError):
            p.push(np.zeros((16, 16, 1), np.uint8))


def test_ctrl_c_interrupts_a_producer_waiting_for_consumers(launcher, sock_dir):
    # Python turns SIGINT into KeyboardInterrupt only if SIGINT was not
    # ignored when it started, and a test run started in the background
    # (`./scripts/test.sh &`) hands it down ignored: install the handler.
    code = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "import zcipc, sys, numpy\n"
            f"p = zcipc.Producer({str(sock_dir / 's')!r}, {CAPS!r}, min_consumers=1)\n"
            "print('publishing', flush=True)\n"
            "try:\n"
            "    for i in range(100):\n"
            "        p.push(numpy.zeros(p.shapes[0], numpy.uint8))\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted', flush=True)\n"
            "    p.close(timeout=0.5)\n"
            "    sys.exit(3)\n")
    proc = launcher.run([sys.executable, "-c", code], name="ctrlc")
    deadline = time.monotonic() + 10
    while "publishing" not in proc.stdout():
        assert time.monotonic() < deadline and proc.popen.poll() is None, proc.describe()
        time.sleep(0.02)
    time.sleep(0.3)  # now waiting: nobody consumes
    assert proc.popen.poll() is None
    start = time.monotonic()
    proc.kill(signal.SIGINT)
    assert proc.wait(5) == 3, proc.describe()
    assert time.monotonic() - start < 3
