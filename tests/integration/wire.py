# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""The zcipc wire format, spoken by hand, for hostile-peer tests. Mirrors
lib/zcipc/wire.h (native byte order, one message per datagram)."""

from __future__ import annotations

import os
import socket
import struct

MAGIC = 0x3150435A
VERSION = 1
HELLO, WELCOME, REJECT, REGION_ADD, REGION_REMOVE, EVENT, FRAME, RELEASE = range(1, 9)
REGION_FLAG_MEMFD = 1
REPORT, STATS_REQUEST, STATS_REPLY = range(14, 17)
STATS_VERSION = 1
REGION_FLAG_DMABUF = 2
# Event kinds (gst/gstzcipcserial.h) and meta record kinds (gst/gstzcipcmetacodec.h).
EVENT_CAPS, EVENT_STREAM_START, EVENT_SEGMENT, EVENT_TAG, EVENT_EOS = range(1, 6)
EVENT_CUSTOM = 7
META_VIDEO, META_VIDEO_CROP, META_REFERENCE_TIMESTAMP, META_CUSTOM = range(1, 5)


def header(kind: int, size: int) -> bytes:
    return struct.pack("=II", kind, size)


def hello(max_held: int = 2, version: int = VERSION, magic: int = MAGIC) -> bytes:
    return header(HELLO, 24) + struct.pack("=IIII", magic, version, max_held, 0)


def welcome(quota: int = 2, consumer_id: int = 1) -> bytes:
    return header(WELCOME, 24) + struct.pack("=IIII", MAGIC, VERSION, quota, consumer_id)


def release(*seqs: int) -> bytes:
    return header(RELEASE, 16 + 8 * len(seqs)) + struct.pack("=II", len(seqs), 0) + \
        b"".join(struct.pack("=Q", s) for s in seqs)


def region_add(region_id: int, size: int, flags: int = REGION_FLAG_MEMFD) -> bytes:
    return header(REGION_ADD, 24) + struct.pack("=IIQ", region_id, flags, size)


def frame(seq: int, region_id: int, offset: int, size: int, pts: int = 0, metas: bytes = b"") -> bytes:
    fixed = header(FRAME, 80 + 24 + len(metas)) + \
        struct.pack("=QQQQQQQIIII", seq, pts, pts, 0, 0, 0, 0, 0, 1, len(metas), 0)
    return fixed + struct.pack("=IIQQ", region_id, 0, offset, size) + metas


def reject(error: int, reason: bytes = b"go away") -> bytes:
    return header(REJECT, 144) + struct.pack("=Ii128s", VERSION, error, reason)


def meta_record(kind: int, payload: bytes) -> bytes:
    """One serialized meta: [kind][size][payload][pad to 8]."""
    rec = struct.pack("=II", kind, len(payload)) + payload
    return rec + b"\0" * ((8 - len(rec) % 8) % 8)


def video_meta(fmt: int, width: int, height: int, offsets: list[int], strides: list[int]) -> bytes:
    """A GstVideoMeta record (format is a GstVideoFormat number)."""
    n = len(offsets)
    offs = offsets + [0] * (4 - n)
    strs = strides + [0] * (4 - n)
    return meta_record(META_VIDEO, struct.pack("=IIIIII4Q4i", 0, fmt, width, height, n, 0, *offs, *strs))


def custom_meta(name: str, structure: str) -> bytes:
    return meta_record(META_CUSTOM, name.encode() + b"\0" + structure.encode() + b"\0")


def event(kind: int, payload: bytes) -> bytes:
    return header(EVENT, 16 + len(payload)) + struct.pack("=II", kind, len(payload)) + payload


def stats_request(version: int = STATS_VERSION) -> bytes:
    return header(STATS_REQUEST, 24) + struct.pack("=IIII", MAGIC, version, 0, 0)


def parse_header(data: bytes) -> tuple[int, int]:
    return struct.unpack_from("=II", data)


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(path)
    return s


def send_with_fds(s: socket.socket, data: bytes, fds: list[int]) -> None:
    s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"={len(fds)}i", *fds))])


def is_hung_up(s: socket.socket, timeout: float = 5.0) -> bool:
    """Reads until the peer hangs up (True) or `timeout` passes (False)."""
    s.settimeout(timeout)
    try:
        while True:
            data = s.recv(1 << 18)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def memfd(size: int, seal: bool = True) -> int:
    fd = os.memfd_create("hostile", os.MFD_ALLOW_SEALING | os.MFD_CLOEXEC)
    os.ftruncate(fd, size)
    if seal:
        import fcntl
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW)
    return fd
