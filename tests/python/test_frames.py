# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Frames as arrays: zero copy by identity, pixel bytes, padded strides,
planar formats."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import patterns
import pyhelpers
import zcipc
from zcipc._gst import Gst, GstAllocators, GstVideo, init

RGBA_640 = "video/x-raw,format=RGBA,width=640,height=480,framerate=30/1"
LOSSLESS_GST = "min-consumers=1 slow-consumer=wait sync=false"


def test_numpy_data_pointer_lies_in_shared_mapping_and_torch_shares_it(launcher, sock_dir):
    sock = sock_dir / "s"
    prod = pyhelpers.start_producer(launcher, sock, RGBA_640, 3, props=pyhelpers.LOSSLESS)
    with zcipc.Consumer(str(sock), timeout=10) as consumer:
        frame = consumer.pull(timeout=10)
        assert frame is not None
        array = frame.numpy()
        assert array.shape == (480, 640, 4) and array.dtype == np.uint8
        mapping = pyhelpers.mapping_of(array)
        assert mapping is not None, "numpy data is not in a zcipc memfd mapping"
        assert "memfd:zcipc-" in mapping[3]

        tensor = frame.torch()
        assert tensor.data_ptr() == array.ctypes.data
        assert tensor.shape == (480, 640, 4) and tensor.dtype == torch.uint8
        assert tuple(tensor.stride()) == array.strides
        assert torch.from_dlpack(frame).data_ptr() == array.ctypes.data

        # The same memfd, at the same offset, as zcipcsrc's own read-only
        # shared mapping that the Gst.Buffer points into.
        ok, info = frame.buffer.map(Gst.MapFlags.READ)
        gst_ptr = np.frombuffer(info.data, np.uint8).ctypes.data
        frame.buffer.unmap(info)
        shared = pyhelpers.zcipctest.address_in_mappings(
            gst_ptr, array.nbytes, pyhelpers.zcipctest.zcipc_mappings())
        assert shared is not None and shared[2].startswith("r--s")
        assert shared[3] == mapping[3]
        assert gst_ptr - shared[0] == array.ctypes.data - mapping[0]

        # Reading every pixel copies nothing: no private page in the mapping.
        assert (array == patterns.pattern(0, array.shape)).all()
        assert pyhelpers.anonymous_kb(mapping[0]) == 0
        assert consumer.stats["frames-merged"] == 0
        assert consumer.stats["torch-copies"] == 0
        # The descriptor came through the shared channel, not the socket.
        assert consumer.stats["channel"] is True
        del frame, array, tensor
    prod.wait(10)


def test_views_come_from_zcipcsrc_fd_memory_not_from_proc(launcher, sock_dir,
                                                          monkeypatch):
    """The package finds a frame's region through zcipcsrc's public memory
    contract (GstFdMemory: fd and offset), never by reading this process's
    mappings or fds from /proc: with those unreadable, torch still shares
    the frame's bytes."""
    import builtins
    import os

    def refuse(path):
        path = os.fsdecode(path) if isinstance(path, (str, bytes)) else ""
        if path.startswith("/proc/") and not path.endswith("/pagemap"):
            raise PermissionError(f"test refuses {path}")

    real_open, real_os_open, real_listdir = builtins.open, os.open, os.listdir
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: (refuse(f), real_open(f, *a, **k))[1])
    monkeypatch.setattr(os, "open", lambda f, *a, **k: (refuse(f), real_os_open(f, *a, **k))[1])
    monkeypatch.setattr(os, "listdir", lambda f=".": (refuse(f), real_listdir(f))[1])
    sock = sock_dir / "s"
    prod = pyhelpers.start_producer(launcher, sock, RGBA_640, 2, props=pyhelpers.LOSSLESS)
    with zcipc.Consumer(str(sock), timeout=10) as consumer:
        frame = consumer.pull(timeout=10)
        memory = frame.buffer.peek_memory(0)
        assert GstAllocators.is_fd_memory(memory)
        fd = GstAllocators.fd_memory_get_fd(memory)
        # The fd's bytes at the memory's offset are the frame's bytes.
        ok, info = frame.buffer.map(Gst.MapFlags.READ)
        assert ok
        assert os.pread(fd, 4096, memory.offset) == bytes(info.data[:4096])
        frame.buffer.unmap(info)
        tensor = frame.torch()
        array = frame.numpy()
        assert tensor.data_ptr() == array.ctypes.data
        assert (array == patterns.pattern(0, array.shape)).all()
        assert consumer.stats["torch-copies"] == 0
        del frame, array, tensor, memory
    monkeypatch.undo()
    prod.wait(10)


def test_pixels_match_what_a_python_producer_wrote(launcher, sock_dir):
    sock = sock_dir / "s"
    n = 12
    prod = pyhelpers.start_producer(launcher, sock, RGBA_640, n, props=pyhelpers.LOSSLESS)
    numbers = []
    with zcipc.Consumer(str(sock)) as consumer:
        for frame in consumer:
            i = patterns.frame_number(frame.pts)
            numbers.append(i)
            assert frame.duration == patterns.FRAME_DURATION
            assert (frame.format, frame.width, frame.height) == ("RGBA", 640, 480)
            assert (frame.numpy() == patterns.pattern(i, (480, 640, 4))).all()
            assert (frame.torch().numpy() == patterns.pattern(i, (480, 640, 4))).all()
    assert numbers == list(range(n))
    assert consumer.eos
    prod.wait(10)
    published = pyhelpers.wait_event(prod, "published")["stats"]
    assert published["frames-copied"] == 0


def test_pixels_match_what_a_gst_launch_producer_wrote(launcher, sock_dir):
    sock = sock_dir / "s"
    pyhelpers.gst_producer(
        launcher, sock, "videotestsrc num-buffers=4 pattern=solid-color "
        "foreground-color=0xff204080",
        "video/x-raw,format=RGBA,width=320,height=240", LOSSLESS_GST)
    count = 0
    with zcipc.Consumer(str(sock)) as consumer:
        for frame in consumer:
            image = frame.numpy()
            assert image.shape == (240, 320, 4)
            assert (image == np.array([0x20, 0x40, 0x80, 0xff], np.uint8)).all()
            count += 1
    assert count == 4


def _reference_frames(source: str, caps: str, n: int) -> list[list[np.ndarray]]:
    """Frames made in this process by the same videotestsrc, as one
    (rows, row bytes) array per plane, cut out with GStreamer's own
    strides and offsets (not zcipc's layout code)."""
    init()
    pipe = Gst.parse_launch(f"{source} num-buffers={n} ! {caps} ! appsink name=s sync=false")
    sink = pipe.get_by_name("s")
    pipe.set_state(Gst.State.PLAYING)
    frames = []
    for _ in range(n):
        sample = sink.try_pull_sample(5 * Gst.SECOND)
        assert sample is not None
        buf = sample.get_buffer()
        info = GstVideo.VideoInfo.new_from_caps(sample.get_caps())
        meta = GstVideo.buffer_get_video_meta(buf)
        offsets = meta.offset if meta else info.offset
        strides = meta.stride if meta else info.stride
        data = buf.extract_dup(0, buf.get_size())
        planes = []
        for p in range(info.finfo.n_planes):
            comp = [c for c in range(info.finfo.n_components) if info.finfo.plane[c] == p][0]
            width = -(-info.width >> info.finfo.w_sub[comp])
            rows = -(-info.height >> info.finfo.h_sub[comp])
            row_bytes = width * info.finfo.pixel_stride[comp]
            raw = np.frombuffer(data, np.uint8)
            planes.append(np.stack([raw[offsets[p] + y * strides[p]:
                                        offsets[p] + y * strides[p] + row_bytes]
                                    for y in range(rows)]))
        frames.append(planes)
    pipe.set_state(Gst.State.NULL)
    return frames


@pytest.mark.parametrize("fmt,width,height", [("RGB", 999, 101), ("I420", 999, 301),
                                              ("NV12", 638, 99), ("GRAY8", 333, 65)])
def test_padded_strides_give_correct_images(launcher, sock_dir, fmt, width, height):
    sock = sock_dir / "s"
    caps = f"video/x-raw,format={fmt},width={width},height={height},framerate=30/1"
    source = "videotestsrc pattern=ball"
    n = 3
    pyhelpers.gst_producer(launcher, sock, f"{source} num-buffers={n}", caps, LOSSLESS_GST)
    reference = _reference_frames(source, caps, n)
    got = 0
    with zcipc.Consumer(str(sock)) as consumer:
        for i, frame in enumerate(consumer):
            planes = frame.planes()
            assert len(planes) == len(reference[i])
            if fmt in ("RGB", "GRAY8"):
                bpp = 3 if fmt == "RGB" else 1
                assert frame.strides[0] != width * bpp, "no row padding to test"
                assert frame.numpy().shape == (height, width, bpp)
            else:
                with pytest.raises(zcipc.FormatError):
                    frame.numpy()
                assert (frame.numpy(plane=1) == planes[1]).all()
            for p, (plane, ref) in enumerate(zip(planes, reference[i])):
                assert plane.strides[0] == frame.strides[p]
                assert plane.reshape(plane.shape[0], -1).shape == ref.shape
                assert (plane.reshape(plane.shape[0], -1) == ref).all(), f"plane {p}"
                assert pyhelpers.mapping_of(plane) is not None
            got += 1
    assert got == n


def test_planar_python_producer_round_trip(launcher, sock_dir):
    sock = sock_dir / "s"
    caps = "video/x-raw,format=I420,width=321,height=239,framerate=30/1"
    prod = pyhelpers.start_producer(launcher, sock, caps, 5, props=pyhelpers.LOSSLESS)
    numbers = []
    with zcipc.Consumer(str(sock)) as consumer:
        for frame in consumer:
            i = patterns.frame_number(frame.pts)
            numbers.append(i)
            shapes = [p.shape for p in frame.planes()]
            assert shapes == [(239, 321, 1), (120, 161, 1), (120, 161, 1)]
            for p, plane in enumerate(frame.planes()):
                assert (plane == patterns.pattern(i, plane.shape, p)).all()
                assert frame.torch(plane=p).data_ptr() == plane.ctypes.data
    assert numbers == list(range(5))
    prod.wait(10)


def test_caps_that_are_not_video_give_the_bytes(launcher, sock_dir):
    sock = sock_dir / "s"
    pyhelpers.gst_producer(launcher, sock, "audiotestsrc num-buffers=3 samplesperbuffer=480 wave=silence",
                           "audio/x-raw,format=S16LE,rate=48000,channels=2", LOSSLESS_GST)
    count = 0
    with zcipc.Consumer(str(sock)) as consumer:
        for frame in consumer:
            assert frame.format is None and frame.caps.get_structure(0).get_name() == "audio/x-raw"
            data = frame.numpy()
            assert data.shape == (480 * 4,) and data.dtype == np.uint8
            assert not data.any() and not data.flags.writeable
            assert frame.torch().shape == (480 * 4,)
            assert pyhelpers.mapping_of(data) is not None
            with pytest.raises(zcipc.FormatError):
                frame.planes()
            count += 1
    assert count == 3


def test_16_bit_formats_come_as_uint16_arrays_and_int16_tensors(launcher, sock_dir):
    sock = sock_dir / "s"
    pyhelpers.gst_producer(launcher, sock, "videotestsrc num-buffers=2 pattern=white",
                           "video/x-raw,format=GRAY16_LE,width=99,height=10", LOSSLESS_GST)
    with zcipc.Consumer(str(sock)) as consumer:
        for frame in consumer:
            image = frame.numpy()
            assert image.shape == (10, 99, 1) and image.dtype == np.dtype("<u2")
            assert (image == 0xebeb).all()  # videotestsrc's white: 235 << 8 | 235
            tensor = frame.torch()
            assert tensor.dtype == torch.int16 and tensor.data_ptr() == image.ctypes.data
            assert (tensor.numpy().view(np.uint16) == image).all()  # the same bits


def test_without_a_private_mapping_numpy_reads_in_place_and_torch_copies(
        launcher, sock_dir, monkeypatch):
    monkeypatch.setattr(zcipc.consumer.RegionCache, "lookup", lambda self, p, s: None)
    sock = sock_dir / "s"
    prod = pyhelpers.start_producer(launcher, sock, RGBA_640, 2, props=pyhelpers.LOSSLESS)
    with zcipc.Consumer(str(sock)) as consumer:
        frame = consumer.pull(timeout=10)
        array = frame.numpy()
        mapping = pyhelpers.mapping_of(array)
        assert mapping is not None and mapping[2].startswith("r--s")  # zcipcsrc's
        with pytest.raises(ValueError):
            array[0, 0, 0] = 1
        with pytest.warns(RuntimeWarning, match="copy"):
            tensor = frame.torch()
        assert tensor.data_ptr() != array.ctypes.data
        tensor.zero_()  # a private copy: safe
        assert (array == patterns.pattern(0, array.shape)).all()
        assert consumer.stats["torch-copies"] == 1
        del frame, array, tensor
    prod.wait(10)


def test_two_consumers_in_one_process_each_see_every_frame(launcher, sock_dir):
    sock = sock_dir / "s"
    n = 8
    prod = pyhelpers.start_producer(launcher, sock, RGBA_640, n,
                                    props={**pyhelpers.LOSSLESS, "min-consumers": 2})
    with zcipc.Consumer(str(sock)) as a, zcipc.Consumer(str(sock)) as b:
        for i in range(n):
            fa, fb = a.pull(timeout=10), b.pull(timeout=10)
            assert patterns.frame_number(fa.pts) == patterns.frame_number(fb.pts) == i
            ta, tb = fa.torch(), fb.torch()
            assert ta.data_ptr() != tb.data_ptr()  # each has its own mapping
            ta.zero_()  # private to a's view
            assert (fb.numpy() == patterns.pattern(i, (480, 640, 4))).all()
            del fa, fb, ta, tb
        assert a.pull(timeout=10) is None and a.eos
        assert b.pull(timeout=10) is None and b.eos
    prod.wait(10)


def test_an_empty_frame_has_no_bytes_and_says_so(launcher, sock_dir):
    # Every third frame of this producer has no memory, every third one 0
    # bytes: they cross with their timestamps (a gap) and reach Python.
    sock = sock_dir / "s"
    producer = Path(__file__).resolve().parent.parent / "integration" / \
        "stream_meta_producer.py"
    prod = launcher.run([sys.executable, str(producer), "--socket-path", str(sock),
                         "--case", "empty", "--frames", "9"], name="producer")
    pyhelpers.wait_for_socket(prod, sock)
    sizes = []
    with zcipc.Consumer(str(sock), timeout=10) as consumer:
        for frame in consumer:
            sizes.append(frame.size)
            if frame.size == 0:
                with pytest.raises(zcipc.FormatError, match="has no bytes"):
                    frame.numpy()
                assert not frame.copied
            else:
                assert frame.numpy().shape == (240, 320, 4)
    assert [s == 0 for s in sizes] == [n % 3 != 1 for n in range(9)]
    prod.wait(10)
