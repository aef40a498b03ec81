# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Errors are clear Python exceptions, in bounded time, never hangs or
crashes: no producer, a wrong socket path, a producer killed mid-stream;
end of stream ends the iteration."""

from __future__ import annotations

import signal
import sys
import threading
import time

import numpy as np
import pytest

import pyhelpers
import zcipc

LIVE = ("videotestsrc is-live=true pattern=ball",
        "video/x-raw,format=RGBA,width=160,height=120,framerate=50/1")


def test_no_producer_raises_producer_not_found(sock_dir):
    path = str(sock_dir / "nobody")
    start = time.monotonic()
    with zcipc.Consumer(path, timeout=0.5) as consumer:
        with pytest.raises(zcipc.ProducerNotFound) as info:
            next(iter(consumer))
        # Asking again gives the same answer, without waiting again.
        with pytest.raises(zcipc.ProducerNotFound):
            consumer.pull()
    assert time.monotonic() - start < 5
    assert path in str(info.value)
    assert isinstance(info.value, zcipc.Error)


def test_wrong_socket_path_raises_producer_not_found(launcher, sock_dir):
    sock = sock_dir / "cam0"
    pyhelpers.gst_producer(launcher, sock, *LIVE)
    with zcipc.Consumer(str(sock), timeout=5) as consumer:  # the right one works
        assert consumer.pull(timeout=5) is not None
    for wrong in (sock_dir / "cam1", sock_dir / "missing-dir" / "cam0"):
        with zcipc.Consumer(str(wrong), timeout=0.3) as consumer:
            with pytest.raises(zcipc.ProducerNotFound, match=str(wrong)):
                for _ in consumer:
                    pass


def test_unusable_socket_path_raises_connection_failed():
    with pytest.raises(zcipc.ConnectionFailed, match="too long"):
        with zcipc.Consumer("/tmp/" + "x" * 200, timeout=0.3) as consumer:
            consumer.pull()


def test_producer_killed_mid_iteration_raises_producer_gone(launcher, sock_dir):
    sock = sock_dir / "s"
    prod = pyhelpers.gst_producer(launcher, sock, *LIVE)
    received = 0
    kept = None
    start = time.monotonic()
    with zcipc.Consumer(str(sock), timeout=5) as consumer:
        with pytest.raises(zcipc.ProducerGone) as info:
            for frame in consumer:
                received += 1
                if received == 5:
                    kept = frame.numpy()
                    snapshot = kept.copy()
                    prod.kill(signal.SIGKILL)
                    killed = time.monotonic()
        gone = time.monotonic()
    assert received >= 5
    assert gone - killed < 3, "the hang-up took too long to surface"
    assert time.monotonic() - start < 15
    assert "went away" in str(info.value)
    # A frame kept from before stays mapped and unchanged.
    assert np.array_equal(kept, snapshot)
    assert pyhelpers.mapping_of(kept) is not None


def test_end_of_stream_ends_iteration(launcher, sock_dir):
    sock = sock_dir / "s"
    pyhelpers.gst_producer(launcher, sock, "videotestsrc num-buffers=5",
                           "video/x-raw,format=GRAY8,width=64,height=48",
                           "min-consumers=1 slow-consumer=wait sync=false")
    with zcipc.Consumer(str(sock)) as consumer:
        frames = [f.pts for f in consumer]
        assert consumer.eos
        assert consumer.pull(timeout=0.1) is None
    assert len(frames) == 5


def test_close_from_another_thread_interrupts_a_waiting_consumer(sock_dir):
    consumer = zcipc.Consumer(str(sock_dir / "nobody"), timeout=None)
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(consumer.pull()))
    thread.start()
    time.sleep(0.3)
    start = time.monotonic()
    consumer.close()
    thread.join(5)
    assert not thread.is_alive()
    assert result == [None]
    assert time.monotonic() - start < 2


def test_pull_timeout_returns_none_while_the_producer_is_idle(launcher, sock_dir):
    sock = sock_dir / "s"
    prod = pyhelpers.start_producer(
        launcher, sock, "video/x-raw,format=GRAY8,width=8,height=8,framerate=30/1",
        1, props=pyhelpers.LOSSLESS, linger=True)
    with zcipc.Consumer(str(sock)) as consumer:
        assert consumer.pull(timeout=10) is not None
        start = time.monotonic()
        assert consumer.pull(timeout=0.2) is None
        assert 0.15 < time.monotonic() - start < 2
        assert not consumer.eos
    prod.kill(signal.SIGTERM)


def test_waiting_releases_the_gil(sock_dir):
    ticks = 0
    stop = False

    def spin() -> None:
        nonlocal ticks
        while not stop:
            ticks += 1
            time.sleep(0.001)

    thread = threading.Thread(target=spin)
    with zcipc.Consumer(str(sock_dir / "nobody"), timeout=None) as consumer:
        thread.start()
        assert consumer.pull(timeout=0.5) is None
        stop = True
    thread.join()
    # ~500 if the wait never holds the GIL; ~10 if each 50 ms slice held it
    assert ticks > 50


def test_ctrl_c_interrupts_a_waiting_consumer(launcher, sock_dir):
    # Python turns SIGINT into KeyboardInterrupt only if SIGINT was not
    # ignored when it started, and a test run started in the background
    # (`./scripts/test.sh &`) hands it down ignored: install the handler.
    code = ("import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "import zcipc, sys\n"
            f"c = zcipc.Consumer({str(sock_dir / 'nobody')!r}, timeout=None)\n"
            "print('waiting', flush=True)\n"
            "try:\n"
            "    c.pull()\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted', flush=True)\n"
            "    sys.exit(3)\n")
    proc = launcher.run([sys.executable, "-c", code], name="ctrlc")
    deadline = time.monotonic() + 10
    while "waiting" not in proc.stdout():
        assert time.monotonic() < deadline and proc.popen.poll() is None, proc.describe()
        time.sleep(0.02)
    time.sleep(0.2)
    start = time.monotonic()
    proc.kill(signal.SIGINT)
    assert proc.wait(5) == 3, proc.describe()
    assert time.monotonic() - start < 2


def test_bad_hold_values_are_refused(sock_dir):
    for hold in (0, -1, 10_000):
        with pytest.raises(ValueError, match="hold"):
            zcipc.Consumer(str(sock_dir / "s"), hold=hold)


def test_bad_spin_values_are_refused(sock_dir):
    for spin in (-1, 1_000_001):
        with pytest.raises(ValueError, match="spin_us"):
            zcipc.Consumer(str(sock_dir / "s"), spin_us=spin)


def test_spin_us_reaches_zcipcsrc(sock_dir):
    consumer = zcipc.Consumer(str(sock_dir / "s"), spin_us=250)
    try:
        assert consumer._src.get_property("spin-time") == 250
        assert consumer.stats["sleeps"] == 0
    finally:
        consumer.close()
