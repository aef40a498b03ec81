# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Hostile producers (issue 15, classes 1-7): a raw-socket fake producer
attacks a real zcipcsrc with real elements downstream. What the honest side
must see: no signal, a bounded time, bounded memory and fds, and an error
that says what the producer did (or, for what is skipped, a stream that
goes on)."""

from __future__ import annotations

import errno
import os
import socket
import time

import pytest

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import wire  # noqa: E402
from zcipctest import GST_LAUNCH, fd_count  # noqa: E402

Gst.init(None)

RGBA, I420 = 11, 2
W, H = 64, 48
RGBA_SIZE = W * H * 4
RGBA_CAPS = f"video/x-raw,format=RGBA,width={W},height={H},framerate=30/1".encode() + b"\0"
REGION = 1 << 16


class FakeProducer:
    """Listens on `path`, accepts one consumer and answers its HELLO."""

    def __init__(self, path):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.listener.bind(str(path))
        self.listener.listen(8)
        self.listener.settimeout(20)
        self.conn = None

    def accept(self, quota: int = 2, welcome: bool = True) -> socket.socket:
        conn, _ = self.listener.accept()
        conn.settimeout(5)
        assert wire.parse_header(conn.recv(1024))[0] == wire.HELLO
        if welcome:
            conn.send(wire.welcome(quota=quota))
        self.conn = conn
        return conn

    def send(self, data: bytes, fds: list[int] | None = None) -> bool:
        """False once the consumer hung up (it refused: the point)."""
        try:
            if fds:
                wire.send_with_fds(self.conn, data, fds)
            else:
                self.conn.send(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def region(self, region_id: int, fd: int, size: int, flags: int = wire.REGION_FLAG_MEMFD) -> bool:
        return self.send(wire.region_add(region_id, size, flags), [fd])

    def close(self) -> None:
        if self.conn:
            self.conn.close()
        self.listener.close()


@pytest.fixture
def producer(sock_dir):
    p = FakeProducer(sock_dir / "s")
    yield p
    p.close()


def consume(launcher, sock_dir, downstream: str = "fakesink", prefix: list[str] | None = None):
    """A real zcipcsrc in gst-launch-1.0 (reconnect=false: one connection)."""
    argv = (prefix or []) + [GST_LAUNCH, "zcipcsrc", f"socket-path={sock_dir / 's'}", "reconnect=false",
                             "!", *downstream.split()]
    return launcher.run(argv, name="consumer")


def smaps_rss_kb(pid: int) -> int:
    """Rss of the whole process (shared mappings included), in kB."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def assert_refused(consumer, *texts: str, timeout: float = 20):
    """The consumer ended within `timeout` with an error, not a signal, and
    said why."""
    rc = consumer.wait(timeout)
    out = consumer.stderr() + consumer.stdout()
    # gst-launch-1.0 catches SIGSEGV and SIGBUS and spins: then it times out.
    assert "Caught SIG" not in out, consumer.describe()
    assert rc == 1, f"exit {rc} (a negative one is a signal)\n{consumer.describe()}"
    for text in texts:
        assert text in out, consumer.describe()
    return out


def good_region(producer, region_id: int = 1, size: int = REGION) -> None:
    fd = wire.memfd(size)
    producer.region(region_id, fd, size)
    os.close(fd)


# --- class 1: only memory that cannot shrink ---------------------------------

@pytest.mark.parametrize("flags", [0, wire.REGION_FLAG_DMABUF], ids=["no-flags", "dmabuf-flag"])
def test_a_regular_file_region_is_refused_and_shrinking_it_raises_no_sigbus(
        launcher, sock_dir, producer, tmp_path, flags):
    """A plain file called a DMABuf (or nothing) was mapped unchecked; the
    producer then shrank it and the consumer's reader died of SIGBUS."""
    consumer = consume(launcher, sock_dir, "checksumsink sync=false")
    producer.accept()
    producer.send(wire.event(wire.EVENT_CAPS, RGBA_CAPS))
    path = tmp_path / "region"
    path.write_bytes(b"\x5a" * REGION)
    fd = os.open(path, os.O_RDWR)
    producer.region(1, fd, REGION, flags)
    time.sleep(0.5)                      # mapped by now, where it is mapped
    os.ftruncate(fd, 0)
    producer.send(wire.frame(1, 1, 0, RGBA_SIZE))
    os.close(fd)
    assert_refused(consumer, "region 1", "a file that can shrink under the mapping")


def test_a_pipe_called_a_region_is_refused_as_no_memory(launcher, sock_dir, producer):
    consumer = consume(launcher, sock_dir)
    producer.accept()
    r, w = os.pipe()
    producer.region(1, r, REGION, 0)
    os.close(r)
    os.close(w)
    assert_refused(consumer, "region 1", "a pipe or socket, not memory")


# --- class 2: video meta layouts within the memory -------------------------

@pytest.mark.parametrize("fmt,offsets,strides,why", [
    (RGBA, [0], [1 << 30], "reaches past"),                    # rows far past the frame
    (RGBA, [RGBA_SIZE - 4], [W * 4], "reaches past"),          # starts at the last pixel
    (RGBA, [REGION - 64], [-(W * 4)], "less than its rows"),   # negative stride
    (RGBA, [0], [16], "less than its rows"),                   # rows overlap, last one past
    (I420, [0, W * H, W * H + W * H // 4], [W, 1 << 16, W // 2], "plane 1"),
], ids=["huge-stride", "offset-at-end", "negative-stride", "short-stride", "i420-chroma-stride"])
def test_a_video_meta_reaching_past_the_frame_closes_the_connection_without_crashing_videoconvert(
        launcher, sock_dir, producer, fmt, offsets, strides, why):
    caps = RGBA_CAPS if fmt == RGBA else \
        f"video/x-raw,format=I420,width={W},height={H},framerate=30/1".encode() + b"\0"
    size = RGBA_SIZE if fmt == RGBA else W * H * 3 // 2
    consumer = consume(launcher, sock_dir, "videoconvert ! video/x-raw,format=BGRx ! fakesink")
    producer.accept()
    producer.send(wire.event(wire.EVENT_CAPS, caps))
    good_region(producer)
    producer.send(wire.frame(1, 1, 0, size, metas=wire.video_meta(fmt, W, H, offsets, strides)))
    assert_refused(consumer, "broke the protocol", "video meta", why)


def test_a_video_meta_that_fits_still_reaches_videoconvert(launcher, sock_dir, producer):
    """The check refuses only what reaches past: a padded stride that fits
    goes through, the frame converts, EOS ends the stream cleanly."""
    stride = W * 4 + 64
    consumer = consume(launcher, sock_dir, "videoconvert ! video/x-raw,format=BGRx ! fakesink")
    producer.accept()
    producer.send(wire.event(wire.EVENT_CAPS, RGBA_CAPS))
    good_region(producer)
    producer.send(wire.frame(1, 1, 0, stride * H, metas=wire.video_meta(RGBA, W, H, [0], [stride])))
    producer.send(wire.event(wire.EVENT_EOS, b"\0"))
    assert consumer.wait(20) == 0, consumer.describe()


# --- class 3: strings bounded before the parsers -----------------------------

DEEP = "{" * 30000 + "}" * 30000


def test_deeply_nested_caps_are_refused_before_the_parser(launcher, sock_dir, producer):
    consumer = consume(launcher, sock_dir)
    producer.accept()
    producer.send(wire.event(wire.EVENT_CAPS, f"video/x-raw, a=(int){DEEP}".encode() + b"\0"))
    assert_refused(consumer, "broke the protocol", "nested deeper than 16")


@pytest.mark.parametrize("kind,payload", [
    (wire.EVENT_TAG, f'tag, scope=(int)0, tags=(string)"taglist, title=(string){DEEP}";'),
    (wire.EVENT_CUSTOM, f'custom, type=(uint){int(Gst.EventType.CUSTOM_DOWNSTREAM)}, '
                        f'structure=(string)"x, y=(int){DEEP}";'),
], ids=["tag", "custom-event"])
def test_deep_nesting_inside_an_event_string_is_skipped_and_the_stream_goes_on(
        launcher, sock_dir, producer, kind, payload):
    consumer = consume(launcher, sock_dir)
    producer.accept()
    producer.send(wire.event(wire.EVENT_CAPS, RGBA_CAPS))
    producer.send(wire.event(kind, payload.encode() + b"\0"))
    producer.send(wire.event(wire.EVENT_EOS, b"\0"))
    assert consumer.wait(20) == 0, consumer.describe()


@pytest.mark.parametrize("metas", [
    wire.custom_meta("HostileDeepMeta", f"x, y=(int){DEEP};"),
    wire.meta_record(wire.META_REFERENCE_TIMESTAMP, b"\0" * 16 + f"timestamp/x, a=(int){DEEP}".encode() + b"\0"),
], ids=["custom-meta", "reference-timestamp-caps"])
def test_deep_nesting_in_a_meta_string_closes_the_connection(launcher, sock_dir, producer, metas):
    consumer = consume(launcher, sock_dir)
    producer.accept()
    producer.send(wire.event(wire.EVENT_CAPS, RGBA_CAPS))
    good_region(producer)
    producer.send(wire.frame(1, 1, 0, RGBA_SIZE, metas=metas))
    assert_refused(consumer, "broke the protocol", "nested deeper than 16")


# --- class 4: mappings bounded by the caps and the quota --------------------

def watch_rss(consumer, seconds: float) -> int:
    """The most Rss (kB) the consumer had while it ran, up to `seconds`."""
    most, end = 0, time.monotonic() + seconds
    while time.monotonic() < end and consumer.popen.poll() is None:
        most = max(most, smaps_rss_kb(consumer.pid))
        time.sleep(0.05)
    return most


def test_a_1_gib_sparse_region_is_refused_and_never_resident(launcher, sock_dir, producer):
    consumer = consume(launcher, sock_dir, "checksumsink sync=false")
    producer.accept()
    producer.send(wire.event(wire.EVENT_CAPS, RGBA_CAPS))
    size = 1 << 30
    fd = wire.memfd(size)                # sealed, sparse: no page exists yet
    producer.region(1, fd, size)
    producer.send(wire.frame(1, 1, size - RGBA_SIZE, RGBA_SIZE))
    most = watch_rss(consumer, 5)
    os.close(fd)
    assert_refused(consumer, "region 1", "its stream can need")
    assert most < 200 * 1024, f"consumer Rss {most} kB"


def test_a_large_sparse_region_within_the_map_limit_is_not_populated(launcher, sock_dir, producer):
    """200 MiB is within what a 64x48 stream may map (a floor of 256 MiB)
    but past what is populated up front (64 MiB): the frame's pages alone
    become resident."""
    consumer = consume(launcher, sock_dir, "checksumsink sync=false")
    producer.accept()
    producer.send(wire.event(wire.EVENT_CAPS, RGBA_CAPS))
    size = 200 << 20
    fd = wire.memfd(size)
    producer.region(1, fd, size)
    producer.send(wire.frame(1, 1, 0, RGBA_SIZE))
    time.sleep(1.0)
    most = watch_rss(consumer, 1.0)
    producer.send(wire.event(wire.EVENT_EOS, b"\0"))
    assert consumer.wait(20) == 0, consumer.describe()
    os.close(fd)
    assert 0 < most < 100 * 1024, f"consumer Rss {most} kB"


def test_more_than_256_regions_are_refused_with_fds_bounded(launcher, sock_dir, producer):
    consumer = consume(launcher, sock_dir)
    producer.accept()
    time.sleep(0.5)
    baseline = fd_count(consumer.pid)
    most = baseline
    fd = wire.memfd(4096)
    for i in range(1, 400):
        if not producer.region(i, fd, 4096):
            break
        if i % 16 == 0:
            time.sleep(0.01)
            try:
                most = max(most, fd_count(consumer.pid))
            except FileNotFoundError:
                break                    # refused and gone
    os.close(fd)
    assert_refused(consumer, "more than 256 regions")
    # One fd per region held, never more than the cap.
    assert most <= baseline + 256 + 4, (baseline, most)


# --- class 5: custom meta names bounded -------------------------------------

class InProcessConsumer:
    """zcipcsrc ! fakesink in this process, for its stats and for what it
    registered with GStreamer."""

    def __init__(self, path):
        self.pipeline = Gst.parse_launch(f"zcipcsrc name=src socket-path={path} reconnect=false ! "
                                         "fakesink name=sink sync=false")
        self.src = self.pipeline.get_by_name("src")
        self.pipeline.set_state(Gst.State.PLAYING)

    def wait_eos(self, timeout: float = 20):
        msg = self.pipeline.get_bus().timed_pop_filtered(int(timeout * Gst.SECOND),
                                                         Gst.MessageType.EOS | Gst.MessageType.ERROR)
        assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()

    def stats(self):
        return self.src.get_property("stats")

    def stop(self):
        self.pipeline.set_state(Gst.State.NULL)


def send_custom_meta_frames(producer, prefix: str, names: int, seq0: int = 1) -> None:
    producer.send(wire.event(wire.EVENT_CAPS, RGBA_CAPS))
    good_region(producer)
    for i in range(names):
        seq = seq0 + i
        meta = wire.custom_meta(f"{prefix}{i}", f"{prefix}{i}, n=(int){i};")
        producer.send(wire.frame(seq, 1, 0, RGBA_SIZE, metas=meta))
        # quota 2: wait for the release of the frame before last
        while True:
            data = producer.conn.recv(1 << 16)
            if wire.parse_header(data)[0] == wire.RELEASE:
                break


def test_custom_meta_names_past_32_per_connection_are_skipped_and_counted(sock_dir, producer):
    prefix = f"HostileConn{os.getpid()}x"
    consumer = InProcessConsumer(sock_dir / "s")
    try:
        producer.accept(quota=1)
        send_custom_meta_frames(producer, prefix, 40)
        producer.send(wire.event(wire.EVENT_EOS, b"\0"))
        consumer.wait_eos()
        assert consumer.stats().get_value("metas-skipped") == 8
        registered = [i for i in range(40) if Gst.meta_get_info(f"{prefix}{i}")]
        assert registered == list(range(32))
    finally:
        consumer.stop()


def test_custom_meta_names_past_256_per_process_are_never_registered(sock_dir):
    """Nine connections of 32 new names each: the process registers 256 at
    most, whoever sends them."""
    prefix = f"HostileProc{os.getpid()}x"
    skipped = 0
    for c in range(9):
        path = sock_dir / f"s{c}"
        producer = FakeProducer(path)
        consumer = InProcessConsumer(path)
        try:
            producer.accept(quota=1)
            send_custom_meta_frames(producer, f"{prefix}{c}y", 32)
            producer.send(wire.event(wire.EVENT_EOS, b"\0"))
            consumer.wait_eos()
            skipped += consumer.stats().get_value("metas-skipped")
        finally:
            consumer.stop()
            producer.close()
    ours = sum(1 for c in range(9) for i in range(32) if Gst.meta_get_info(f"{prefix}{c}y{i}"))
    assert ours <= 256
    assert skipped >= 9 * 32 - 256
    assert ours + skipped == 9 * 32


# --- class 6: peer error codes and reconnect backoff ------------------------

@pytest.mark.parametrize("error", [-errno.ECANCELED, -errno.ECONNRESET, -errno.ETIMEDOUT, -12345],
                         ids=["ECANCELED", "ECONNRESET", "ETIMEDOUT", "unknown"])
def test_a_reject_with_an_error_of_our_own_is_a_protocol_error_not_a_silent_stall(
        launcher, sock_dir, producer, error):
    """-ECANCELED made the consumer think it was flushing (a silent stall),
    -ECONNRESET that nobody was there yet (retrying for ever)."""
    consumer = consume(launcher, sock_dir)
    producer.accept(welcome=False)
    producer.send(wire.reject(error, b"chosen \x1b[31m error"))
    start = time.monotonic()
    out = assert_refused(consumer, "refused this consumer: chosen ?[31m error", timeout=10)
    assert time.monotonic() - start < 10
    assert "\x1b" not in out


def test_reconnects_after_a_cut_off_back_off(launcher, sock_dir, producer):
    """A producer that welcomes and cuts off at once: the consumer comes
    back 20, 40, 80 ... ms later, not every 20 ms for ever."""
    consumer = launcher.run([GST_LAUNCH, "zcipcsrc", f"socket-path={sock_dir / 's'}", "reconnect=true",
                             "!", "fakesink"], name="consumer")
    connections = 0
    end = time.monotonic() + 4.0
    producer.listener.settimeout(0.2)
    while time.monotonic() < end:
        try:
            conn, _ = producer.listener.accept()
        except socket.timeout:
            continue
        connections += 1
        conn.settimeout(2)
        try:
            conn.recv(1024)
            conn.send(wire.welcome(quota=2))
            conn.send(wire.reject(-errno.ECONNABORTED, b"cut off"))
        except OSError:
            pass
        conn.close()
    assert consumer.popen.poll() is None, consumer.describe()     # still trying
    consumer.kill()
    # 20+40+...+1280 ms: 8 connections in 4 s (give or take one).
    assert 3 <= connections <= 10, connections


def test_a_connection_that_lasted_resets_the_backoff(launcher, sock_dir, producer):
    """After a connection of more than 2 s the consumer is back at once
    (20 ms); each connection cut short after that waits twice as long."""
    consumer = launcher.run([GST_LAUNCH, "zcipcsrc", f"socket-path={sock_dir / 's'}", "reconnect=true",
                             "!", "fakesink"], name="consumer")
    accepts, cuts = [], []
    for hold in (2.3, 0, 0, 0, 0):
        conn, _ = producer.listener.accept()
        accepts.append(time.monotonic())
        conn.settimeout(2)
        conn.recv(1024)
        conn.send(wire.welcome(quota=2))
        time.sleep(hold)
        conn.send(wire.reject(-errno.ECONNABORTED, b"cut off"))
        cuts.append(time.monotonic())
        conn.close()
    consumer.kill()
    # From each cut-off to the next connection: after the long one 20 ms
    # (and a handshake), then 40, 80 and 160 ms.
    gaps = [accept - cut for cut, accept in zip(cuts, accepts[1:])]
    assert gaps[0] < 0.5, gaps
    assert gaps[-1] >= 0.15 and gaps[-1] > gaps[0], gaps


# --- class 7: our own fd exhaustion is ours ----------------------------------

def test_running_out_of_fds_is_reported_as_ours_not_the_producers(launcher, sock_dir, producer):
    consumer = consume(launcher, sock_dir, prefix=["prlimit", "--nofile=64:64"])
    producer.accept()
    fd = wire.memfd(4096)
    for i in range(1, 200):
        if not producer.region(i, fd, 4096):
            break
    os.close(fd)
    out = assert_refused(consumer, "this process ran out of file descriptors")
    assert "broke the protocol" not in out
