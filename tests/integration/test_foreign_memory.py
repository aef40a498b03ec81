# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Zero copy when upstream owns the memory (issue 7): fd-backed memory that
zcipcsink did not allocate crosses by its fd, once per underlying object;
behind a tee, one counted copy per frame (or a clear error when copies are
forbidden); the C examples exchange checksummed frames."""

from __future__ import annotations

import fcntl
import json
import mmap
import os
import re
import socket
import struct
import sys
import time

import pytest

import wire
from zcipctest import BUILD_DIR, SOURCE_DIR, checksums, wait_for_path

HERE = SOURCE_DIR / "tests/integration"
LOSSLESS = "min-consumers=1 slow-consumer=wait sync=false"
F_SEAL_SHRINK, F_SEAL_GROW = 0x2, 0x4


def run_foreign(launcher, sock, *producer_args: str):
    """foreign_producer.py -> foreign_consumer.py; both JSON reports."""
    producer = launcher.run([sys.executable, str(HERE / "foreign_producer.py"),
                             "--socket-path", str(sock), *producer_args], name="producer")
    wait_for_path(sock)
    consumer = launcher.run([sys.executable, str(HERE / "foreign_consumer.py"),
                             "--socket-path", str(sock)], name="consumer")
    assert consumer.wait(60) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    produced, received = json.loads(producer.stdout()), json.loads(consumer.stdout())
    assert produced["error"] is None, produced["error"]
    assert received["error"] is None and received["eos"], received["error"]
    return produced, received


def expected_for(produced: dict, n: int, replace_at: int = 0):
    gens = produced["generations"]
    gen = gens[1] if replace_at and n >= replace_at else gens[0]
    return gen, n % len(gen["sha1"])


def assert_bytes_match(produced: dict, received: dict, replace_at: int = 0):
    assert [f["offset"] for f in received["frames"]] == list(range(produced["frames"]))
    for frame in received["frames"]:
        gen, slot = expected_for(produced, frame["offset"], replace_at)
        assert [m["sha1"] for m in frame["memories"]] == gen["sha1"][slot], frame


def first_fd_region(sock, timeout: float = 20.0) -> tuple[int, int, int]:
    """Connects by hand and returns (fd, flags, size) of the first REGION_ADD
    of an upstream object (ids of upstream's fds have the top bit set)."""
    s = wire.connect(str(sock))
    s.send(wire.hello(max_held=8))
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(deadline - time.monotonic(), 0.01))
            data, anc, _, _ = s.recvmsg(1 << 18, socket.CMSG_SPACE(4 * 4))
            assert data, "the producer hung up before announcing upstream's memfd"
            fds = [fd for level, kind, raw in anc
                   if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS
                   for fd in struct.unpack(f"={len(raw) // 4}i", raw[:len(raw) // 4 * 4])]
            kind, _ = wire.parse_header(data)
            if kind == wire.REGION_ADD:
                region_id, flags, size = struct.unpack_from("=IIQ", data, 8)
                if region_id & 0x80000000:
                    return fds.pop(), flags, size
            for fd in fds:
                os.close(fd)
    finally:
        s.close()
    raise AssertionError("no REGION_ADD for upstream's memfd")


def test_upstreams_memfd_reaches_consumers_as_a_read_only_fd(launcher, sock_dir):
    """Upstream's own fd to its memfd is read-write; what a consumer gets is
    a read-only open of the same memfd, so it cannot map it writable (the
    sink's own regions get F_SEAL_FUTURE_WRITE instead, which upstream's
    memfd cannot take: upstream maps it writable again)."""
    sock = sock_dir / "s"
    producer = launcher.run([sys.executable, str(HERE / "foreign_producer.py"),
                             "--socket-path", str(sock), "--kind", "fd"], name="producer")
    wait_for_path(sock)
    fd, flags, size = first_fd_region(sock)
    try:
        assert flags & wire.REGION_FLAG_MEMFD, flags
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY
        with pytest.raises(PermissionError):
            mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ).close()
    finally:
        os.close(fd)
        producer.kill()


@pytest.mark.parametrize("kind,consumer_kind", [("fd", "fd"), ("dmabuf", "dmabuf")])
def test_memfd_backed_memory_at_an_offset_crosses_by_fd_once_and_arrives_intact(
        launcher, sock_dir, kind, consumer_kind):
    """One memory per buffer, the first at offset 4096 of an unsealed memfd
    the producer made: the sink seals it and sends its fd once; the
    consumer's memory lies in its one mapping of that memfd, read-only.
    A GstFdMemory arrives as read-only fd memory over zcipcsrc's mapping
    (like the sink's own regions: zcipcsrc pushes fd memory); a
    GstDmaBufMemory arrives as GstDmaBufMemory."""
    produced, received = run_foreign(launcher, sock_dir / "s", "--kind", kind)
    gen = produced["generations"][0]
    inode = gen["inodes"][0]
    assert gen["offsets"][0] == [4096]
    assert_bytes_match(produced, received)

    stats = produced["stats"]
    assert stats["frames-copied"] == 0 and stats["bytes-copied"] == 0
    assert stats["frames-sent"] == stats["frames-by-fd"] == produced["frames"]
    assert stats["fd-regions-announced"] == 1          # the fd crossed once
    assert stats["regions-announced"] == 1             # and nothing else did
    assert produced["seals"][0] & (F_SEAL_SHRINK | F_SEAL_GROW) == F_SEAL_SHRINK | F_SEAL_GROW

    memories = [m for f in received["frames"] for m in f["memories"]]
    assert {m["kind"] for m in memories} == {consumer_kind}
    assert all(m["inode"] == inode and m["perms"] == "r--s" for m in memories)
    assert all(m["read_only"] for m in memories)
    assert received["stats"]["regions"] == 1
    assert received["stats"]["dmabuf-regions"] == (1 if kind == "dmabuf" else 0)
    # Mapped once, not per frame: zcipcsrc's read-only mapping, and for a
    # DMABuf also the GstDmaBufMemory's own (made at its first map, kept).
    assert received["mappings_per_inode"] == {str(inode): 1 if kind == "fd" else 2}
    assert received["mappings_after_null"] == {}
    if kind == "dmabuf":
        assert "memory:DMABuf" in received["caps"]
    else:
        assert "memory:DMABuf" not in received["caps"]


@pytest.mark.parametrize("kind", ["fd", "dmabuf"])
def test_buffers_of_three_memories_from_two_memfds_cross_each_fd_once(launcher, sock_dir, kind):
    """I420 with Y and V in memfd A and U in memfd B, at non-zero offsets
    (U not even page-aligned), made as shares of one root memory per memfd."""
    produced, received = run_foreign(launcher, sock_dir / "s", "--kind", kind,
                                     "--layout", "multi")
    a, b = produced["generations"][0]["inodes"]
    assert_bytes_match(produced, received)
    assert produced["stats"]["frames-copied"] == 0
    assert produced["stats"]["fd-regions-announced"] == 2
    assert produced["stats"]["frames-by-fd"] == produced["frames"]
    for frame in received["frames"]:
        assert [m["inode"] for m in frame["memories"]] == [a, b, a]
        assert {m["kind"] for m in frame["memories"]} == {"dmabuf" if kind == "dmabuf" else "fd"}
    assert received["stats"]["regions"] == 2
    per_region = 1 if kind == "fd" else 2
    assert received["mappings_per_inode"] == {str(a): per_region, str(b): per_region}
    assert received["mappings_after_null"] == {}


@pytest.mark.parametrize("kind", ["fd", "dmabuf"])
def test_an_fd_is_forgotten_once_the_last_memory_over_it_is_freed(launcher, sock_dir, kind):
    """Half way the producer drops its memfds and memories for new ones: the
    sink sends the new fds once, and REGION_REMOVE for the old ones once
    their last memory went; the consumer unmaps them."""
    produced, received = run_foreign(launcher, sock_dir / "s", "--kind", kind,
                                     "--layout", "multi", "--replace-at", "12")
    old, new = (g["inodes"] for g in produced["generations"])
    assert_bytes_match(produced, received, replace_at=12)
    assert produced["stats"]["fd-regions-announced"] == 4
    assert produced["stats"]["fd-regions"] == 2            # the old ones forgotten
    assert received["stats"]["regions"] == 2
    assert received["stats"]["dmabuf-regions"] == (2 if kind == "dmabuf" else 0)
    at_eos = received["mappings_at_eos"]
    assert all(str(i) not in at_eos for i in old), at_eos
    assert all(str(i) in at_eos for i in new), at_eos
    assert received["mappings_after_null"] == {}


def test_a_memfd_that_cannot_be_sealed_is_copied_once_per_frame(launcher, sock_dir):
    """Consumers refuse unsealed memfds (they could be shrunk under them):
    one made without MFD_ALLOW_SEALING falls back to the counted copy."""
    produced, received = run_foreign(launcher, sock_dir / "s", "--kind", "fd", "--unsealable")
    assert_bytes_match(produced, received)
    frame_bytes = 320 * 240 * 4
    assert produced["stats"]["frames-copied"] == produced["frames"]
    assert produced["stats"]["bytes-copied"] == produced["frames"] * frame_bytes
    assert produced["stats"]["fd-regions-announced"] == 0
    inode = produced["generations"][0]["inodes"][0]
    assert all(m["inode"] != inode for f in received["frames"] for m in f["memories"])


# ------------------------------------------------------------------ tee

TEE_HEAD = ("videotestsrc num-buffers=30 pattern=ball ! "
            "video/x-raw,format=RGBA,width=320,height=240,framerate=30/1")
TEE_FRAME = 320 * 240 * 4


def run_producer(launcher, pipeline: str, name: str = "producer", extra_env=None):
    return launcher.run([sys.executable, str(HERE / "run_pipeline.py"), "--pipeline", pipeline],
                        name=name, extra_env=extra_env)


def reference_checksums(launcher, head: str):
    proc = launcher.launch(f"{head} ! checksumsink sync=false", name="reference")
    assert proc.wait(60) == 0, proc.describe()
    return checksums(proc.stdout())


def test_behind_a_tee_each_frame_is_copied_exactly_once_counted_and_logged(launcher, sock_dir):
    """tee never passes zcipcsink's pool or allocator upstream (it proposes
    neither), so videotestsrc allocates its own memory: one copy per frame,
    counted in stats and logged to GST_PERFORMANCE, never an error."""
    sock = sock_dir / "s"
    expected = reference_checksums(launcher, TEE_HEAD)
    producer = run_producer(
        launcher, f"{TEE_HEAD} ! tee name=t t. ! queue ! zcipcsink name=sink socket-path={sock} "
                  f"{LOSSLESS} t. ! queue ! fakesink",
        extra_env={"GST_DEBUG": "GST_PERFORMANCE:6", "GST_DEBUG_NO_COLOR": "1"})
    wait_for_path(sock)
    consumer = launcher.launch(f"zcipcsrc socket-path={sock} ! checksumsink sync=false",
                               name="consumer")
    assert consumer.wait(60) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    report = json.loads(producer.stdout())
    assert report["error"] is None
    assert len(expected) == 30
    assert checksums(consumer.stdout()) == expected
    assert report["stats"]["frames-copied"] == 30
    assert report["stats"]["bytes-copied"] == 30 * TEE_FRAME
    assert report["stats"]["frames-sent"] == 30
    copy_lines = re.findall(rf"GST_PERFORMANCE .*copied {TEE_FRAME} bytes into shared memory",
                            producer.stderr())
    assert len(copy_lines) == 30


def test_behind_a_tee_a_converter_in_the_branch_writes_into_the_pool(launcher, sock_dir):
    """An element in zcipcsink's branch that allocates its output (here a
    videoconvert that really converts) does see the pool: zero copy."""
    sock = sock_dir / "s"
    head = TEE_HEAD.replace("format=RGBA", "format=I420")
    tail = "video/x-raw,format=RGBA"
    expected = reference_checksums(launcher, f"{head} ! videoconvert ! {tail}")
    producer = run_producer(
        launcher, f"{head} ! tee name=t t. ! queue ! videoconvert ! {tail} ! zcipcsink name=sink "
                  f"socket-path={sock} {LOSSLESS} t. ! queue ! fakesink")
    wait_for_path(sock)
    consumer = launcher.launch(f"zcipcsrc socket-path={sock} ! checksumsink sync=false",
                               name="consumer")
    assert consumer.wait(60) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    report = json.loads(producer.stdout())
    assert report["error"] is None
    assert checksums(consumer.stdout()) == expected
    assert report["stats"]["frames-copied"] == 0
    assert report["stats"]["frames-sent"] == 30


def test_behind_a_tee_with_copies_forbidden_the_error_says_what_to_do(launcher, sock_dir):
    sock = sock_dir / "s"
    producer = run_producer(
        launcher, f"{TEE_HEAD} ! tee name=t t. ! queue ! zcipcsink name=sink socket-path={sock} "
                  "copy-mode=forbid t. ! queue ! fakesink")
    assert producer.wait(30) == 1, producer.describe()
    report = json.loads(producer.stdout())
    assert "copy-mode=forbid" in report["error"]
    assert "pool or allocator" in report["error"]
    assert "copy-mode=allow" in report["error"]
    assert "tee" in report["error"]
    assert "SystemMemory" in report["debug"]              # whose memory it was
    assert report["stats"]["frames-copied"] == 0
    assert report["stats"]["frames-sent"] == 0


# ------------------------------------------------------------- examples/c

def test_c_example_producer_and_consumer_exchange_checksummed_frames(launcher, sock_dir):
    producer_bin = BUILD_DIR / "examples/c/producer"
    consumer_bin = BUILD_DIR / "examples/c/consumer"
    assert producer_bin.exists() and consumer_bin.exists(), "build the examples (ninja)"
    sock = sock_dir / "s"
    producer = launcher.run([str(producer_bin), "--socket-path", str(sock), "--frames", "90",
                             "--width", "320", "--height", "240", "--lossless"], name="producer")
    wait_for_path(sock)
    consumer = launcher.run([str(consumer_bin), "--socket-path", str(sock)], name="consumer")
    assert consumer.wait(60) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()

    def frame_lines(text: str):
        return [line for line in text.splitlines() if line.startswith("frame ")]

    sent, got = frame_lines(producer.stdout()), frame_lines(consumer.stdout())
    assert len(sent) == 90
    assert got == sent                                  # same frames, same checksums, none BAD
    assert "consumer: 90 frames (0 to 89), 0 bad, 0 skipped" in consumer.stdout()
    # Written in place into zcipcsink's pool: nothing copied.
    assert "producer: 90 frames, 90 from zcipcsink's pool, 0 copied" in producer.stdout()
