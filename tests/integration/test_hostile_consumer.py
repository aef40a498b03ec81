# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Hostile consumers against a real producer (issue 15, classes 8-11).

Each test runs a real zcipcsink in gst-launch-1.0, an honest zcipcsrc
consumer in another gst-launch-1.0 whose frames must stay intact and in
order, and hostile consumers that speak the wire protocol by hand from this
process. What is asserted is what the honest side sees: frames keep coming
within a bounded time, and the producer's fds, CPU time and log stay
bounded."""

from __future__ import annotations

import hashlib
import mmap
import os
import resource
import socket
import struct
import threading
import time

import wire
from zcipctest import checksums, cpu_seconds, fd_count, wait_for_path

CAPS = "video/x-raw,format=RGBA,width=160,height=120,framerate=30/1"
# Not live, paced by the sink's clock (sync=true): frame i has pts i/30 s and
# the same bytes as in a reference run, whoever receives it.
N_FRAMES = 900
HEAD = f"videotestsrc pattern=ball num-buffers={N_FRAMES} ! {CAPS}"
LEAVE, QUOTA = 9, 12
# zcipc's own constants (lib/zcipc/server.h), as the tests rely on them.
HANDSHAKE_TIMEOUT_S = 2.0
MAX_HANDSHAKES = 32
PIN_TIMEOUT_S = 5.0


# --------------------------------------------------------------- the sides

_reference: dict[str, str] = {}


def reference(launcher) -> dict[str, str]:
    """pts -> SHA-1 of every frame the producer can send."""
    if not _reference:
        ref = launcher.launch(f"{HEAD} ! checksumsink sync=false", name="reference")
        assert ref.wait(120) == 0, ref.describe()
        _reference.update(dict(checksums(ref.stdout())))
        assert len(_reference) == N_FRAMES
    return _reference


class Producer:
    """zcipcsink in its own gst-launch-1.0, its log at WARNING and above."""

    def __init__(self, launcher, sock, opts: str = ""):
        pipeline = f"{HEAD} ! zcipcsink socket-path={sock} sync=true {opts}"
        self.proc = launcher.launch(pipeline, name="producer", extra_env={"GST_DEBUG": "zcipcsink:4"})
        wait_for_path(sock)
        self.pid = self.proc.pid

    def fds(self) -> int:
        return fd_count(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def log_lines(self, text: str) -> int:
        return sum(text in line for line in self.proc.stderr().splitlines())

    def assert_alive(self):
        assert self.proc.popen.poll() is None, self.proc.describe()


class Honest:
    """zcipcsrc ! checksumsink in its own gst-launch-1.0."""

    def __init__(self, launcher, sock, name="honest"):
        self.proc = launcher.launch(f"zcipcsrc socket-path={sock} ! checksumsink sync=false",
                                    name=name)

    def frames(self) -> list[tuple[str, str]]:
        return checksums(self.proc.stdout())

    def wait_frames(self, n: int, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while len(self.frames()) < n:
            assert self.proc.popen.poll() is None, f"{what}: honest consumer died\n{self.proc.describe()}"
            assert time.monotonic() < deadline, \
                f"{what}: {len(self.frames())} of {n} frames after {timeout} s\n{self.proc.describe()}"
            time.sleep(0.05)

    def frames_during(self, seconds: float) -> int:
        before = len(self.frames())
        time.sleep(seconds)
        return len(self.frames()) - before

    def assert_intact_and_in_order(self, ref: dict[str, str]) -> None:
        got = self.frames()
        assert got, self.proc.describe()
        for pts, sha in got:
            assert ref.get(pts) == sha, f"frame at {pts} is not the producer's"
        times = [pts for pts, _ in got]
        assert times == sorted(set(times)), "frames out of order or repeated"


class Raw:
    """A consumer that speaks the protocol by hand, socket only (no channel),
    and releases nothing unless told to."""

    def __init__(self, path, hello: bool = True, max_held: int = 4):
        self.s = wire.connect(str(path))
        self.regions: dict[int, int] = {}      # region id -> fd
        self.frames: list[tuple[int, int, int, int]] = []   # seq, region, offset, size
        self.rejected: bytes | None = None
        self.closed = False
        if hello:
            self.s.send(wire.hello(max_held=max_held))

    def pump(self, timeout: float = 0.0, until=None) -> None:
        """Reads what the producer sent for up to `timeout` s, or until
        `until()` holds, or it hangs up."""
        deadline = time.monotonic() + timeout
        while not self.closed and not (until and until()):
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.s.settimeout(left)
            try:
                data, anc, _, _ = self.s.recvmsg(1 << 18, socket.CMSG_SPACE(4 * 4))
            except socket.timeout:
                return
            except (ConnectionResetError, BrokenPipeError):
                self.closed = True
                return
            if not data:
                self.closed = True
                return
            fds = [fd for level, kind, raw in anc
                   if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
                   for fd in struct.unpack(f"={len(raw) // 4}i", raw[:len(raw) // 4 * 4])]
            kind, _ = wire.parse_header(data)
            if kind == wire.REGION_ADD:
                region_id = struct.unpack_from("=I", data, 8)[0]
                self.regions[region_id] = fds.pop()
            elif kind == wire.FRAME:
                seq = struct.unpack_from("=Q", data, 8)[0]
                n_mems = struct.unpack_from("=I", data, 8 + 56 + 4)[0]
                if n_mems:
                    region_id, _, offset, size = struct.unpack_from("=IIQQ", data, 80)
                    self.frames.append((seq, region_id, offset, size))
            elif kind == wire.REJECT:
                self.rejected = data
            for fd in fds:
                os.close(fd)

    def welcomed(self, timeout: float = 5.0) -> bool:
        """Whether the producer took it as a consumer (it sent the first
        frame or region) rather than refusing it."""
        self.pump(timeout, until=lambda: self.regions or self.frames or self.rejected)
        return bool(self.regions or self.frames) and self.rejected is None

    def frame_bytes(self, frame) -> bytes:
        _, region_id, offset, size = frame
        fd = self.regions[region_id]
        with mmap.mmap(fd, os.fstat(fd).st_size, mmap.MAP_SHARED, mmap.PROT_READ) as m:
            return bytes(m[offset:offset + size])

    def leave(self) -> None:
        self.s.send(wire.header(LEAVE, 8))

    def hung_up(self, timeout: float) -> bool:
        self.pump(timeout)
        return self.closed

    def close(self) -> None:
        for fd in self.regions.values():
            os.close(fd)
        self.regions.clear()
        self.s.close()


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def settle_fds(producer: Producer, seconds: float = 1.0) -> int:
    """The producer's fd count once it stays put for `seconds`."""
    last, since = producer.fds(), time.monotonic()
    while time.monotonic() - since < seconds:
        time.sleep(0.1)
        now = producer.fds()
        if now != last:
            last, since = now, time.monotonic()
    return last


# ------------------------------------------------- class 8: the handshake

def test_connections_that_never_say_hello_are_closed_after_the_handshake_deadline(launcher, sock_dir):
    sock = sock_dir / "s"
    producer = Producer(launcher, sock, "min-consumers=1")
    honest = Honest(launcher, sock)
    honest.wait_frames(10, 20, "the honest consumer's first frames")
    baseline = settle_fds(producer)
    silent = [Raw(sock, hello=False) for _ in range(8)]
    start = time.monotonic()
    for s in silent:
        assert s.hung_up(HANDSHAKE_TIMEOUT_S + 3 - (time.monotonic() - start)), \
            "a connection that never said HELLO is still open"
    assert time.monotonic() - start >= HANDSHAKE_TIMEOUT_S - 0.5
    wait_until(lambda: producer.fds() <= baseline, 3, "the producer's fds back to the baseline")
    assert honest.frames_during(1.0) >= 10
    for s in silent:
        s.close()
    honest.assert_intact_and_in_order(reference(launcher))


def test_silent_connections_beyond_every_bound_do_not_lock_out_an_honest_consumer(launcher, sock_dir):
    """More silent connections than max-consumers, monitors and handshakes
    together: the honest consumer that comes after them still joins at once."""
    sock = sock_dir / "s"
    producer = Producer(launcher, sock, "max-consumers=2 min-consumers=1")
    silent = [Raw(sock, hello=False) for _ in range(MAX_HANDSHAKES + 16)]
    time.sleep(0.3)
    start = time.monotonic()
    honest = Honest(launcher, sock)
    honest.wait_frames(10, 10, "the honest consumer's frames with the silent connections open")
    # Well before the handshake deadline could have freed anything.
    assert time.monotonic() - start < 10
    producer.assert_alive()
    assert producer.fds() < settle_fds(producer, 0.2) + MAX_HANDSHAKES + 8
    for s in silent:
        s.close()
    honest.assert_intact_and_in_order(reference(launcher))


def test_a_storm_of_silent_connections_does_not_keep_an_honest_consumer_out(launcher, sock_dir):
    sock = sock_dir / "s"
    producer = Producer(launcher, sock, "max-consumers=2 min-consumers=1")
    open_ones: list[Raw] = []
    honest = None
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        for _ in range(20):                  # a new silent connection every ms or so
            try:
                open_ones.append(Raw(sock, hello=False))
            except OSError:
                pass
        if honest is None and time.monotonic() > deadline - 5:
            honest = Honest(launcher, sock)
        time.sleep(0.02)
        if len(open_ones) > 400:
            for s in open_ones[:200]:
                s.close()
            del open_ones[:200]
    honest.wait_frames(10, 5, "the honest consumer's frames during the storm")
    producer.assert_alive()
    for s in open_ones:
        s.close()
    honest.assert_intact_and_in_order(reference(launcher))


def test_one_process_cannot_take_every_consumer_place(launcher, sock_dir):
    sock = sock_dir / "s"
    producer = Producer(launcher, sock, "max-consumers=3")
    mine = []
    for _ in range(2):
        r = Raw(sock)
        assert r.welcomed(), "an idle consumer within the share was refused"
        mine.append(r)
    third = Raw(sock)
    assert not third.welcomed()
    assert third.rejected is not None and b"too many consumers from process" in third.rejected
    honest = Honest(launcher, sock)
    honest.wait_frames(30, 15, "the honest consumer beside a process holding its share")
    producer.assert_alive()
    for r in mine + [third]:
        r.close()
    honest.assert_intact_and_in_order(reference(launcher))


# ---------------------------------------- class 9: frames pinned for good

def pin_and_depart(sock, how: str, n: int = 6, quota: int = 4) -> list[Raw]:
    """`n` consumers that each take `quota` frames, keep them, and then say
    LEAVE (how="leave") or stop reading to be cut off (how="cut-off")."""
    # All at once: cut off for the wait timeout, a consumer's uid is on
    # probation (not waited for) when it joins again soon after.
    pinners = [Raw(sock, max_held=quota) for _ in range(n)]
    for r in pinners:
        r.pump(10, until=lambda r=r: len(r.frames) >= quota)
    for r in pinners:
        assert len(r.frames) >= quota, "a pinner did not get its frames"
        r.kept = [(f, hashlib.sha1(r.frame_bytes(f)).hexdigest()) for f in r.frames[:quota]]
        if how == "leave":
            r.leave()
    return pinners


def check_pinned_frames_are_given_up(launcher, sock_dir, how: str, opts: str):
    sock = sock_dir / "s"
    producer = Producer(launcher, sock, f"min-consumers=1 {opts}")
    honest = Honest(launcher, sock)
    honest.wait_frames(10, 20, "the honest consumer's first frames")
    baseline = settle_fds(producer)
    pinners = pin_and_depart(sock, how)
    if how == "cut-off":
        # Cut off, a consumer reads the end of the stream at once (it may
        # still send releases); the frames it holds stay its own.
        for r in pinners:
            assert r.hung_up(10), "a pinner was not cut off"
    # While they pin, the stream goes on for the honest consumer.
    assert honest.frames_during(1.0) >= 10
    # After the pin bound the producer gives the frames up: it closes the
    # pinners and its fds come back to what the honest stream needs.
    start = time.monotonic()
    for r in pinners:
        assert r.hung_up(PIN_TIMEOUT_S + 5 - (time.monotonic() - start)), \
            f"a {how} consumer still pins its frames"
    wait_until(lambda: producer.fds() <= baseline + 2, 5,
               f"the producer's fds ({producer.fds()}) back near the baseline ({baseline})")
    # The pinned bytes stay what they were for the pinner: never rewritten,
    # though the stream went on.
    assert honest.frames_during(1.0) >= 10
    for r in pinners:
        for frame, sha in r.kept:
            assert hashlib.sha1(r.frame_bytes(frame)).hexdigest() == sha, "a pinned frame was rewritten"
        r.close()
    assert producer.log_lines("their memory is never reused") >= 1
    producer.assert_alive()
    honest.assert_intact_and_in_order(reference(launcher))


def test_frames_pinned_after_leave_are_given_up_and_never_reused(launcher, sock_dir):
    check_pinned_frames_are_given_up(launcher, sock_dir, "leave", "")


def test_frames_pinned_by_a_cut_off_consumer_are_given_up_and_never_reused(launcher, sock_dir):
    # All join well within the wait timeout: one that joined after the first
    # cut-off would be on probation (not waited for), never cut off.
    check_pinned_frames_are_given_up(launcher, sock_dir, "cut-off",
                                     "slow-consumer=wait wait-timeout=1500")


# ------------------------------------------------- class 10: out of fds

def test_out_of_fds_the_producer_neither_spins_nor_floods_its_log(launcher, sock_dir):
    sock = sock_dir / "s"
    producer = Producer(launcher, sock, "min-consumers=1")
    honest = Honest(launcher, sock)
    honest.wait_frames(10, 20, "the honest consumer's first frames")
    settle_fds(producer)
    # A few fds of room above what the producer has open: the attack soon
    # takes them all.
    highest = max(int(fd) for fd in os.listdir(f"/proc/{producer.pid}/fd"))
    resource.prlimit(producer.pid, resource.RLIMIT_NOFILE, (highest + 6, highest + 6))
    open_ones: list[Raw] = []
    for _ in range(64):
        open_ones.append(Raw(sock, hello=False))
    time.sleep(0.5)
    assert producer.log_lines("accept failed") >= 1, "the attack did not exhaust the producer's fds"
    cpu_before, t0 = producer.cpu_seconds(), time.monotonic()
    lines_before = producer.log_lines("accept failed")
    end = t0 + 3.0
    while time.monotonic() < end:
        # Keep it out of fds: whatever the producer closes comes back.
        for r in [r for r in open_ones if r.hung_up(0)]:
            r.close()
            open_ones.remove(r)
            open_ones.append(Raw(sock, hello=False))
        time.sleep(0.1)
    cpu = producer.cpu_seconds() - cpu_before
    window = time.monotonic() - t0
    assert cpu < 0.3 * window, f"the producer used {cpu:.2f} s of CPU in {window:.1f} s"
    assert producer.log_lines("accept failed") - lines_before <= 1
    for r in open_ones:
        r.close()
    # The stream went on for the honest consumer, which was in already.
    honest.wait_frames(len(honest.frames()) + 10, 10, "frames after the attack")
    producer.assert_alive()
    honest.assert_intact_and_in_order(reference(launcher))


# -------------------------------------------- class 11: cut off, rejoin

def test_a_consumer_cut_off_for_the_wait_timeout_cannot_stall_the_stream_by_rejoining(launcher, sock_dir):
    sock = sock_dir / "s"
    producer = Producer(launcher, sock, "min-consumers=1 slow-consumer=wait wait-timeout=300")
    honest = Honest(launcher, sock)
    honest.wait_frames(10, 20, "the honest consumer's first frames")
    stop = threading.Event()
    cycles = []

    def attack():
        while not stop.is_set():
            r = Raw(sock, max_held=4)
            # Holds its quota until cut off (or a while, if it is not).
            r.pump(2.0, until=lambda: r.rejected is not None or stop.is_set())
            r.close()
            cycles.append(time.monotonic())

    attacker = threading.Thread(target=attack)
    attacker.start()
    try:
        # The first cut-off stalls the stream for the wait timeout; after it,
        # watch for stalls: moments the honest consumer gets nothing for
        # 250 ms. Each rejoin straight into `wait` would make one.
        time.sleep(1.5)
        stalls, last_count, last_change = 0, len(honest.frames()), time.monotonic()
        end = time.monotonic() + 6.0
        while time.monotonic() < end:
            time.sleep(0.02)
            count, now = len(honest.frames()), time.monotonic()
            if count != last_count:
                if now - last_change >= 0.25:
                    stalls += 1
                last_count, last_change = count, now
        if time.monotonic() - last_change >= 0.25:
            stalls += 1
    finally:
        stop.set()
        attacker.join()
    assert len(cycles) >= 2, "the attacker did not rejoin"
    assert stalls <= 2, f"{stalls} stalls of the stream in 6 s ({len(cycles)} rejoins)"
    assert producer.log_lines("not waited for") >= 1
    producer.assert_alive()
    honest.assert_intact_and_in_order(reference(launcher))
