# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Errors are clear Python exceptions, in bounded time, never hangs or
crashes: no producer, a wrong socket path, a producer killed mid-stream;
end of stream ends the iteration."""

from __future__ import annotations

import logging
import os
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


# --- Same patience both ways; errors that say what to do (issue 14) ----------

def test_a_consumer_started_first_waits_by_default_and_logs_it(launcher, sock_dir, caplog):
    """No timeout given: the consumer waits past the old 10 s default,
    says so on the zcipc logger, and receives once the producer comes."""
    sock = sock_dir / "late"
    caplog.set_level(logging.INFO, logger="zcipc")
    with zcipc.Consumer(str(sock)) as consumer:
        assert consumer.pull(timeout=10.5) is None
        waiting = [r for r in caplog.records if "still waiting for a producer" in r.getMessage()]
        assert 2 <= len(waiting) <= 4 and str(sock) in waiting[0].getMessage()
        pyhelpers.gst_producer(launcher, sock, *LIVE)
        assert consumer.pull(timeout=10) is not None


def _raises_at_once(path: str, kind: type[zcipc.Error]) -> zcipc.Error:
    start = time.monotonic()
    with zcipc.Consumer(path) as consumer:          # no timeout: forever
        with pytest.raises(kind) as info:
            consumer.pull(timeout=20)
    assert time.monotonic() - start < 3, "waited where no producer can appear"
    return info.value


def test_error_text_has_no_c_source_locations(sock_dir):
    path = sock_dir / "file"
    path.write_text("x")
    error = _raises_at_once(str(path), zcipc.ConnectionFailed)
    assert str(error) == error.message
    assert f"'{path}' is a file, not a socket" in str(error)
    assert ".c(" not in str(error) and "zcipc_client_connect" not in str(error)
    # kept apart for bug reports: the element's source file and line
    assert "/GstZcipcSrc:" in error.debug and ".c(" in error.debug
    assert error.debug.split(".c(")[0].rsplit("/", 1)[-1].startswith("gstzcipc")


def test_a_directory_at_the_path_raises_connection_failed_at_once(sock_dir):
    path = sock_dir / "dir"
    path.mkdir()
    error = _raises_at_once(str(path), zcipc.ConnectionFailed)
    assert f"'{path}' is a directory, not a socket" in str(error)


def test_a_missing_directory_raises_producer_not_found_at_once(sock_dir):
    path = sock_dir / "missing-dir" / "cam0"
    error = _raises_at_once(str(path), zcipc.ProducerNotFound)
    assert f"directory '{sock_dir / 'missing-dir'}' does not exist" in str(error)


def test_an_allow_list_refusal_names_the_refused_uid_and_gid(launcher, sock_dir):
    sock = sock_dir / "s"
    pyhelpers.gst_producer(launcher, sock, *LIVE, extra="allowed-uids=12345 allowed-gids=12345")
    error = _raises_at_once(str(sock), zcipc.ConnectionFailed)
    assert f"uid {os.geteuid()} gid {os.getegid()} not allowed" in str(error)


def test_an_abstract_name_not_found_says_it_is_per_network_namespace():
    name = f"@zcipc-nobody-{os.getpid()}"
    start = time.monotonic()
    with zcipc.Consumer(name, timeout=0.5) as consumer:
        with pytest.raises(zcipc.ProducerNotFound) as info:
            consumer.pull()
    assert 0.5 <= time.monotonic() - start < 5
    assert "per network namespace" in str(info.value)


def test_permission_denied_names_the_mode_the_group_and_socket_mode(launcher, sock_dir,
                                                                   other_uid_env):
    os.chmod(sock_dir, 0o755)
    sock = sock_dir / "s"
    pyhelpers.gst_producer(launcher, sock, *LIVE, extra="socket-mode=0600")
    code = ("import time, zcipc\n"
            f"c = zcipc.Consumer({str(sock)!r})\n"
            "start = time.monotonic()\n"
            "try:\n"
            "    c.pull(timeout=20)\n"
            "except zcipc.ConnectionFailed as e:\n"
            "    print(f'{time.monotonic() - start:.2f}', e, flush=True)\n")
    proc = launcher.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                         sys.executable, "-c", code], name="nobody",
                        extra_env=other_uid_env)
    assert proc.wait(30) == 0, proc.describe()
    took, text = proc.stdout().split(" ", 1)
    assert float(took) < 3, proc.describe()
    assert "mode 0600, owner root, group root" in text, proc.describe()
    assert "uid 65534" in text and "socket-mode" in text
    assert ".c(" not in text
