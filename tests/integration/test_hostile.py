# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Hostile peers and bad input: nobody writes, crashes or wedges what is not
theirs. A raw-socket client attacks a real zcipcsink while a legitimate
zcipcsrc consumer keeps receiving every frame; a raw-socket producer feeds a
real zcipcsrc lies."""

from __future__ import annotations

import os
import socket
import struct
import time

import pytest

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import wire  # noqa: E402
from zcipctest import checksums, fd_count, wait_for_path  # noqa: E402

Gst.init(None)


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def handshake(path: str) -> socket.socket:
    s = wire.connect(path)
    s.send(wire.hello())
    s.settimeout(5)
    kind, _ = wire.parse_header(s.recv(1 << 18))
    assert kind == wire.WELCOME
    return s


def attacks():
    """(name, function(sock_path) -> socket) for every kind of garbage."""
    def raw(data, fds=None, greet=False):
        def run(path):
            s = handshake(path) if greet else wire.connect(path)
            if fds:
                wire.send_with_fds(s, data, fds)
            else:
                s.send(data)
            return s
        return run

    def release_twice(path):
        s = handshake(path)
        s.settimeout(5)
        while True:                       # wait for a frame, release it twice
            data = s.recv(1 << 18)
            kind, _ = wire.parse_header(data)
            if kind == wire.FRAME:
                seq = struct.unpack_from("=Q", data, 8)[0]
                s.send(wire.release(seq))
                s.send(wire.release(seq))
                return s

    def many_fds(path):
        s = wire.connect(path)
        fds = [os.dup(0) for _ in range(250)]
        try:
            wire.send_with_fds(s, wire.hello(), fds)
        finally:
            for fd in fds:
                os.close(fd)
        return s

    yield "garbage", raw(os.urandom(64))
    yield "truncated header", raw(b"\x01\x00\x00")
    yield "length larger than the message", raw(wire.header(wire.HELLO, 4096) + b"\0" * 16)
    yield "huge count", raw(wire.header(wire.RELEASE, 16) + struct.pack("=II", 0xFFFFFFFF, 0), greet=True)
    yield "release of a frame it does not hold", raw(wire.release(123456789), greet=True)
    yield "release twice", release_twice
    yield "250 fds in one message", many_fds
    yield "wrong version", raw(wire.hello(version=99))
    yield "frame sent by a consumer", raw(wire.frame(1, 1, 0, 16), greet=True)


def test_hostile_clients_are_cut_off_and_a_legitimate_consumer_misses_nothing(launcher, sock_dir):
    sock = sock_dir / "s"
    pipeline = Gst.parse_launch(
        "videotestsrc is-live=true pattern=ball ! video/x-raw,format=RGBA,width=320,height=240,framerate=30/1 "
        f"! zcipcsink name=sink socket-path={sock} slow-consumer=wait wait-timeout=5000 min-consumers=1")
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    try:
        legit = launcher.launch(f"zcipcsrc socket-path={sock} ! checksumsink sync=false", name="legit")
        wait_until(lambda: sink.get_property("stats").get_value("consumers") == 1, 10, "the consumer")
        time.sleep(0.3)
        baseline = fd_count()
        for name, attack in attacks():
            s = attack(str(sock))
            assert wire.is_hung_up(s), f"{name}: the producer did not disconnect the attacker"
            s.close()
            wait_until(lambda: sink.get_property("stats").get_value("consumers") == 1, 5,
                       f"{name}: the attacker to be gone")
            # The streaming thread may be the one that reads the garbage
            # (releases are read with the next frame); the server thread
            # closes the socket right after.
            wait_until(lambda: fd_count() == baseline, 5,
                       f"{name}: every fd back to the baseline ({baseline})")
        # A version mismatch is answered with a REJECT naming both versions.
        s = wire.connect(str(sock))
        s.send(wire.hello(version=99))
        s.settimeout(5)
        reply = s.recv(1 << 12)
        assert wire.parse_header(reply)[0] == wire.REJECT
        assert b"version 99" in reply and b"version 1" in reply
        s.close()
        # A connect storm.
        for _ in range(1000):
            c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            c.connect(str(sock))
            c.close()
        wait_until(lambda: fd_count() == baseline, 10, "the storm's fds to be closed")
        assert sink.get_property("stats").get_value("consumers") == 1
        assert sink.get_property("stats").get_value("consumers-dropped") >= 5
        pipeline.send_event(Gst.Event.new_eos())
        assert legit.wait(30) == 0, legit.describe()
        got = checksums(legit.stdout())
        rendered = sink.get_property("stats").get_value("rendered")
        assert len(got) == rendered       # lossless from its first frame: nothing missed
    finally:
        pipeline.set_state(Gst.State.NULL)


def serve_one(sock_path, script):
    """A fake producer: accepts one consumer, answers HELLO, then `script`."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    listener.bind(str(sock_path))
    listener.listen(1)
    return listener


def hostile_producer(launcher, sock_dir, offer):
    sock = sock_dir / "s"
    listener = serve_one(sock, None)
    consumer = launcher.launch(f"zcipcsrc socket-path={sock} reconnect=false ! fakesink", quiet=False,
                               name="consumer")
    listener.settimeout(10)
    conn, _ = listener.accept()
    conn.settimeout(5)
    assert wire.parse_header(conn.recv(1024))[0] == wire.HELLO
    conn.send(wire.welcome(quota=2))
    try:
        offer(conn)
    except BrokenPipeError:
        pass                 # the consumer refused and hung up already: the point

    rc = consumer.wait(20)
    conn.close()
    listener.close()
    return rc, consumer


def test_a_region_smaller_than_claimed_is_refused_without_sigbus(launcher, sock_dir):
    def offer(conn):
        fd = wire.memfd(4096)
        wire.send_with_fds(conn, wire.region_add(1, 1 << 20), [fd])
        os.close(fd)
        conn.send(wire.frame(1, 1, (1 << 20) - 4096, 4096))
    rc, consumer = hostile_producer(launcher, sock_dir, offer)
    out = consumer.stderr() + consumer.stdout()
    assert rc == 1, consumer.describe()             # an error, not a signal
    assert "smaller than it claims" in out


def test_an_unsealed_region_is_refused(launcher, sock_dir):
    def offer(conn):
        fd = wire.memfd(1 << 16, seal=False)
        wire.send_with_fds(conn, wire.region_add(1, 1 << 16), [fd])
        os.close(fd)
        conn.send(wire.frame(1, 1, 0, 4096))
    rc, consumer = hostile_producer(launcher, sock_dir, offer)
    assert rc == 1, consumer.describe()
    assert "not sealed" in consumer.stderr() + consumer.stdout()


def test_a_frame_outside_its_region_is_refused(launcher, sock_dir):
    def offer(conn):
        fd = wire.memfd(1 << 16)
        wire.send_with_fds(conn, wire.region_add(1, 1 << 16), [fd])
        os.close(fd)
        conn.send(wire.frame(1, 1, 1 << 16, 4096))
    rc, consumer = hostile_producer(launcher, sock_dir, offer)
    assert rc == 1, consumer.describe()
    assert "outside region" in consumer.stderr() + consumer.stdout()


def test_a_consumer_cannot_write_the_shared_memory(launcher, sock_dir):
    """From inside a consumer process: the received fd cannot be mapped
    shared and writable, not even reopened through /proc/self/fd, nor
    truncated. (The consumer here is a raw client holding the real fd.)"""
    sock = sock_dir / "s"
    producer = launcher.launch("videotestsrc is-live=true ! video/x-raw,width=64,height=48 ! "
                               f"zcipcsink socket-path={sock}", name="producer")
    wait_for_path(sock)
    s = handshake(str(sock))
    s.settimeout(5)
    fd = None
    while fd is None:
        msg, anc, _, _ = s.recvmsg(1 << 18, socket.CMSG_SPACE(4 * 4))
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fd = struct.unpack("=i", data[:4])[0]
    import mmap
    size = os.fstat(fd).st_size
    with pytest.raises(PermissionError):
        mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    reopened = os.open(f"/proc/self/fd/{fd}", os.O_RDWR)
    with pytest.raises(PermissionError):
        mmap.mmap(reopened, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    with pytest.raises(PermissionError):
        os.ftruncate(reopened, 0)
    with pytest.raises(PermissionError):
        os.write(reopened, b"x")
    os.close(reopened)
    os.close(fd)
    s.close()
    producer.kill()


def test_a_uid_not_on_the_allow_list_is_refused(launcher, sock_dir, other_uid_env):
    os.chmod(sock_dir, 0o777)
    sock = sock_dir / "s"
    producer = launcher.launch("videotestsrc is-live=true ! video/x-raw,width=64,height=48 ! "
                               f"zcipcsink socket-path={sock} socket-mode=0666 allowed-uids={os.getuid()}",
                               name="producer")
    wait_for_path(sock)
    nobody = launcher.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "gst-launch-1.0", "zcipcsrc", f"socket-path={sock}", "!", "fakesink"],
                          name="nobody", extra_env=other_uid_env)
    assert nobody.wait(20) != 0
    assert "not allowed" in nobody.stderr() + nobody.stdout(), nobody.describe()
    me = launcher.launch(f"zcipcsrc socket-path={sock} num-buffers=5 ! fakesink", name="me")
    assert me.wait(20) == 0, me.describe()
    producer.kill()


def test_an_abstract_socket_leaves_nothing_in_the_file_system(launcher, sock_dir):
    name = f"@zcipc-test-{os.getpid()}"
    producer = launcher.launch("videotestsrc num-buffers=10 ! video/x-raw,width=64,height=48 ! "
                               f"zcipcsink socket-path={name} min-consumers=1 slow-consumer=wait sync=false")
    consumer = launcher.launch(f"zcipcsrc socket-path={name} ! checksumsink sync=false")
    assert consumer.wait(20) == 0, consumer.describe()
    assert producer.wait(20) == 0
    assert len(checksums(consumer.stdout())) == 10


def test_sigkill_of_either_side_leaves_nothing_but_the_socket(launcher, sock_dir):
    before = set(os.listdir("/dev/shm"))
    sock = sock_dir / "s"
    producer = launcher.launch("videotestsrc is-live=true ! video/x-raw,width=320,height=240 ! "
                               f"zcipcsink socket-path={sock}", name="producer")
    wait_for_path(sock)
    consumer = launcher.launch(f"zcipcsrc socket-path={sock} ! fakesink", name="consumer")
    time.sleep(1.0)
    consumer.kill()
    producer.kill()
    # Other programs on the machine may use /dev/shm meanwhile: look for
    # anything of ours (memfds never appear there at all).
    new = set(os.listdir("/dev/shm")) - before
    ours = [n for n in new if "zcipc" in n or str(producer.pid) in n or str(consumer.pid) in n]
    assert ours == []
    assert os.listdir(sock_dir) == ["s"]
