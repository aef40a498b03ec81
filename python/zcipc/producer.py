# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Publishing frames: ``appsrc ! zcipcsink`` driven from Python, writing
straight into the sink's shared-memory pool."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Iterator, Sequence

import numpy as np

from . import _gst
from ._gst import Gst
from .errors import FormatError, ProducerError
from .layout import Layout, Plane, caps_layout, layout_for, video_caps

__all__ = ["Producer"]

#: Frames appsrc may queue ahead of the sink.
_QUEUE = 2


class _WriteMapping:
    """The base of a producer's writable array: one plane of a pool buffer
    mapped read-write. The mapping ends when the frame is published (the
    sink then shares the slot with consumers); the memory itself stays
    valid as long as this object holds the buffer."""

    __slots__ = ("__array_interface__", "_buffer")

    def __init__(self, buffer: Gst.Buffer, address: int, plane: Plane) -> None:
        self._buffer = buffer
        self.__array_interface__ = {
            "version": 3, "shape": plane.shape, "typestr": plane.typestr,
            "strides": plane.strides, "data": (address + plane.offset, False)}


class Producer:
    """Publishes raw video frames as ``stream`` for any number of
    ``zcipc.Consumer`` or ``zcipcsrc`` in other processes.

    ``stream`` is a stream name (``"cam0"``: the socket cam0 in this user's
    stream directory, as ``zcipcsink stream-name=cam0``), a ``zcipc://`` URI
    or a socket path (anything with a '/', or ``@name``); ``socket_path=``
    is the same for a path, as before.

    ::

        with zcipc.Producer("cam0", "video/x-raw,format=RGB,width=640,"
                            "height=480,framerate=30/1") as producer:
            with producer.frame() as image:   # (480, 640, 3), shared memory
                image[:] = 0                  # written once, no copy
            producer.push(other_image)        # one copy into shared memory

    Keyword arguments set zcipcsink properties (``min_consumers=1``,
    ``slow_consumer="wait"``, ``consumer_quota=8``, ``pool_size=4``,
    ``sync=True``...). By default the sink does not sync to the clock: a
    frame goes out when it is pushed.

    Timestamps: ``pts`` (ns) given to :meth:`frame` / :meth:`push`, else the
    frame number times the caps' frame duration, else the running time.
    """

    def __init__(self, stream: str | None = None,
                 caps: str | Gst.Caps | None = None, *,
                 socket_path: str | None = None,
                 **sink_properties: Any) -> None:
        stream = _gst.one_stream(stream, socket_path)
        if caps is None:
            raise TypeError("Producer needs caps")
        _gst.init()
        #: What the stream was given as: a name, a URI or a path.
        self.stream = stream
        self.caps = Gst.Caps.from_string(caps) if isinstance(caps, str) else caps
        if self.caps is None or not self.caps.is_fixed():
            raise ValueError(f"caps must be fixed, got {caps!r}")
        self._vcaps = video_caps(self.caps)
        if self._vcaps is None:
            if self.caps.get_structure(0).get_name() == "video/x-raw":
                raise ValueError(f"caps need a format, width and height: {caps!r}")
            raise FormatError("zcipc.Producer publishes raw video (video/x-raw)")
        fps = self.caps.get_structure(0).get_fraction("framerate")
        self._duration = (Gst.util_uint64_scale_int(Gst.SECOND, fps[2], fps[1])
                          if fps[0] and fps[1] > 0 else None)
        self._count = 0
        self.frames_copied = 0
        self._closed = False
        self._lock = threading.Lock()

        self._pipeline = Gst.Pipeline.new("zcipc-producer")
        self._src = _gst.make_element("appsrc", "src")
        self._sink = _gst.make_element("zcipcsink", "sink")
        for name, value in (("caps", self.caps), ("format", Gst.Format.TIME),
                            ("block", False), ("max-buffers", _QUEUE),
                            ("emit-signals", False)):
            self._src.set_property(name, value)
        _gst.set_stream(self._sink, stream)
        self._sink.set_property("sync", False)
        _gst.set_properties(self._sink, sink_properties)
        self._pipeline.add(self._src)
        self._pipeline.add(self._sink)
        self._src.link(self._sink)
        self._bus = self._pipeline.get_bus()
        if self._pipeline.set_state(Gst.State.PLAYING) == \
                Gst.StateChangeReturn.FAILURE:
            error = self._bus_error() or ProducerError(
                f"could not start publishing on '{stream}'")
            self._pipeline.set_state(Gst.State.NULL)
            raise error
        self._pool = self._find_pool()

    def _find_pool(self) -> Gst.BufferPool:
        # The pool zcipcsink proposes to upstream: the same ALLOCATION query
        # appsrc's base class makes when it negotiates.
        query = Gst.Query.new_allocation(self.caps, True)
        pad = self._src.get_static_pad("src")
        if not pad.peer_query(query) or query.get_n_allocation_pools() == 0:
            self.close()
            raise ProducerError("zcipcsink proposed no buffer pool")
        pool = query.parse_nth_allocation_pool(0)[0]
        if not pool.set_active(True):
            self.close()
            raise ProducerError("could not activate zcipcsink's buffer pool")
        return pool

    def _bus_error(self) -> ProducerError | None:
        msg = self._bus.pop_filtered(Gst.MessageType.ERROR)
        return _gst.producer_error(msg) if msg is not None else None

    # ----------------------------------------------------------- publishing

    def _acquire(self) -> tuple[Gst.Buffer, Layout]:
        if self._closed:
            raise ProducerError("the producer is closed")
        ret, buffer = self._pool.acquire_buffer(None)
        if ret != Gst.FlowReturn.OK or buffer is None:
            raise self._bus_error() or ProducerError(
                f"could not get a buffer from the pool: {ret.value_nick}")
        return buffer, layout_for(self._vcaps, buffer)

    def _publish(self, buffer: Gst.Buffer, pts: int | None,
                 duration: int | None) -> None:
        if pts is None:
            if self._duration is not None:
                pts = self._count * self._duration
            else:
                clock = self._pipeline.get_clock()
                pts = (clock.get_time() - self._pipeline.get_base_time()
                       if clock is not None else 0)
        if duration is None and self._duration is not None:
            duration = self._duration
        buffer.pts = pts
        if duration is not None:
            buffer.duration = duration
        self._wait_for_room()
        self._count += 1
        ret = self._src.push_buffer(buffer)
        error = self._bus_error()
        if error is not None:
            raise error
        if ret != Gst.FlowReturn.OK:
            raise ProducerError(f"could not publish a frame: {ret.value_nick}")

    def _wait_for_room(self) -> None:
        # appsrc's own blocking push would wait in C, deaf to Ctrl-C and
        # signal handlers, for as long as the sink waits (for min-consumers,
        # or for a lossless consumer to give a frame back). Wait here.
        delay = 0.0001
        while self._src.get_property("current-level-buffers") >= _QUEUE:
            error = self._bus_error()
            if error is not None:
                raise error
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    @contextlib.contextmanager
    def _mapped(self) -> Iterator[tuple[Gst.Buffer, Layout, int]]:
        buffer, layout = self._acquire()
        ok, info = buffer.map(Gst.MapFlags.READ | Gst.MapFlags.WRITE)
        if not ok:
            raise ProducerError("could not map a pool buffer for writing")
        try:
            address = np.frombuffer(info.data, dtype=np.uint8).ctypes.data
            yield buffer, layout, address
        finally:
            # Unmapped before the push: a buffer mapped for writing cannot
            # share its memory, and the pipeline would copy it.
            buffer.unmap(info)

    @contextlib.contextmanager
    def planes(self, pts: int | None = None,
               duration: int | None = None) -> Iterator[tuple[np.ndarray, ...]]:
        """Like :meth:`frame`, one writable array per plane (for planar
        formats such as I420 or NV12)."""
        with self._mapped() as (buffer, layout, address):
            layout.plane(0)
            arrays = tuple(np.asarray(_WriteMapping(buffer, address, p))
                           for p in layout.planes)
            yield arrays
            for a in arrays:
                a.flags.writeable = False
        self._publish(buffer, pts, duration)

    @contextlib.contextmanager
    def frame(self, pts: int | None = None,
              duration: int | None = None) -> Iterator[np.ndarray]:
        """A writable (height, width, channels) array over a slot of the
        shared pool, published when the block ends without an exception
        (zero copy: the sink's frames-copied stays 0). Row padding is
        respected: write through the array, not its raw buffer. The array is
        made read-only on publishing; do not write through views of it kept
        past the block (consumers would see the change)."""
        with self._mapped() as (buffer, layout, address):
            array = np.asarray(_WriteMapping(buffer, address, layout.plane(None)))
            yield array
            array.flags.writeable = False
        self._publish(buffer, pts, duration)

    def push(self, image: np.ndarray | Sequence[np.ndarray],
             pts: int | None = None, duration: int | None = None) -> None:
        """Publishes a copy of ``image`` (one array of the frame's shape, or
        one per plane), written into a pool slot: one copy, counted in
        :attr:`frames_copied` (zcipcsink's own frames-copied stays 0 since
        the slot is shared memory)."""
        images = [image] if isinstance(image, np.ndarray) else list(image)
        with self._mapped() as (buffer, layout, address):
            layout.plane(0)
            if len(images) != len(layout.planes):
                raise FormatError(f"{layout.format} has {len(layout.planes)} "
                                  f"planes, got {len(images)} arrays")
            for plane, src in zip(layout.planes, images):
                dst = np.asarray(_WriteMapping(buffer, address, plane))
                src = np.asarray(src)
                if src.shape != dst.shape:
                    src = src.reshape(dst.shape)  # (h, w) for one channel
                np.copyto(dst, src, casting="same_kind")
        self.frames_copied += 1
        self._publish(buffer, pts, duration)

    def drain(self, timeout: float = 5.0) -> bool:
        """Waits until the sink has handled every frame published so far
        (appsrc queues up to two). Returns False on timeout."""
        deadline = time.monotonic() + timeout
        while self._sink.get_property("stats").get_value("rendered") < self._count:
            if time.monotonic() > deadline:
                return False
            error = self._bus_error()
            if error is not None:
                raise error
            time.sleep(0.002)
        return True

    # ------------------------------------------------------------ lifetime

    @property
    def stats(self) -> dict[str, Any]:
        """zcipcsink's statistics (consumers, frames-sent, frames-dropped,
        frames-copied, frames-held, ...) plus python-frames-copied
        (frames given to :meth:`push`)."""
        out = _gst.structure_to_dict(self._sink.get_property("stats"))
        out["python-frames-copied"] = self.frames_copied
        return out

    @property
    def shapes(self) -> tuple[tuple[int, int, int], ...]:
        """The (rows, columns, channels) shape of each plane of a frame."""
        return tuple(p.shape for p in caps_layout(self._vcaps).planes)

    @property
    def sink(self) -> Gst.Element:
        """The zcipcsink element (signals consumer-joined / consumer-left)."""
        return self._sink

    def close(self, timeout: float = 5.0) -> None:
        """Ends the stream (consumers see end of stream) and stops."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._src.end_of_stream() == Gst.FlowReturn.OK:
            self._bus.timed_pop_filtered(int(timeout * Gst.SECOND),
                                         Gst.MessageType.EOS
                                         | Gst.MessageType.ERROR)
        self._pipeline.set_state(Gst.State.NULL)
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.set_active(False)

    def __enter__(self) -> Producer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
