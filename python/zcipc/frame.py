# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Frames received from a producer, and the arrays that view them.

Every array or tensor made from a frame has, at the bottom of its ``base``
chain, a small owner object that keeps the frame's Gst.Buffer referenced and
mapped. The buffer is unmapped and released (giving the producer its slot
back) only when the frame object and the last view made from it are gone.
"""

from __future__ import annotations

import functools
import sys
import threading
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _reclaim
from ._gst import CLOCK_TIME_NONE, Gst
from ._mapping import RegionCache, RegionView
from .errors import FormatError
from .layout import Layout, Plane

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["Frame"]

# Looked up once: attribute access on gi modules is slow, and these are
# per-frame paths.
_MAP_READ = Gst.MapFlags.READ
_MEMORY_READONLY = int(Gst.MemoryFlags.READONLY)


class FrameStats:
    """Counters a consumer shares with its frames."""

    __slots__ = ("frames_merged", "torch_copies", "pages_reverted", "_lock")

    def __init__(self) -> None:
        self.frames_merged = 0  # multi-memory buffers mapped as one (a copy)
        self.torch_copies = 0   # torch views that had to be private copies
        self.pages_reverted = 0  # frames whose written pages were dropped
        self._lock = threading.RLock()  # add() may run from a __del__

    def add(self, name: str) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + 1)


class _Hold:
    """Keeps one frame's buffer referenced and mapped (read-only) until the
    frame and every view of it are gone; then drops the pages this process
    wrote, unmaps and releases the buffer."""

    __slots__ = ("buffer", "_info", "pointer", "size", "view", "address",
                 "_stats", "writable_given")

    def __init__(self, buffer: Gst.Buffer, cache: RegionCache,
                 stats: FrameStats) -> None:
        self.buffer: Gst.Buffer | None = None
        self._info: Any = None
        single = buffer.n_memory() == 1
        if not single:
            stats.add("frames_merged")  # gst_buffer_map merges: one copy
        ok, info = buffer.map(_MAP_READ)
        if not ok:
            raise MemoryError("could not map the frame's buffer")
        self.buffer = buffer
        self._info = info
        self._stats = stats
        self.size = info.size
        self.pointer = np.frombuffer(info.data, dtype=np.uint8) \
            .__array_interface__["data"][0] if info.size else 0
        # A buffer of several memories was merged into a temporary one by
        # map(): not shared memory, nothing to look up.
        found = cache.lookup(buffer.peek_memory(0), self.size) \
            if info.size and single else None
        self.view: RegionView | None = found[0] if found else None
        self.address = found[1] if found else self.pointer
        self.writable_given = False

    def __del__(self) -> None:
        buffer, info = self.buffer, self._info
        if buffer is None or sys.is_finalizing():
            # At interpreter exit GObject introspection may already be torn
            # down; the process is going away and takes its holds with it.
            return
        self.buffer = self._info = None
        if self.view is None or not self.writable_given:
            buffer.unmap(info)
        elif self.view.tracked:  # finding written pages is cheap: do it now
            _revert_and_release(self.view, self.address, self.size, buffer,
                                info, self._stats)
        else:
            _reclaim.submit(functools.partial(
                _revert_and_release, self.view, self.address, self.size,
                buffer, info, self._stats))


def _revert_and_release(view: RegionView, address: int, size: int,
                        buffer: Gst.Buffer, info: Any, stats: FrameStats) -> None:
    """Drops the pages of the frame this process wrote, then gives the frame
    back (in that order: the slot must be clean before the producer reuses
    it). Runs on the reclaim thread when finding the pages is slow."""
    try:
        if view.revert(address, size):
            stats.add("pages_reverted")
    finally:
        buffer.unmap(info)


class _Owner:
    """The base object of an array: exposes one plane of a held frame
    through the array interface, and keeps the hold alive."""

    __slots__ = ("__array_interface__", "_hold")

    def __init__(self, hold: _Hold, plane: Plane, writable: bool) -> None:
        self._hold = hold
        self.__array_interface__ = {
            "version": 3,
            "shape": plane.shape,
            "typestr": plane.typestr,
            "strides": plane.strides,
            "data": (hold.address + plane.offset, not writable),
        }


def _ns(value: int) -> int | None:
    return None if value == CLOCK_TIME_NONE else value


class Frame:
    """One frame from a producer.

    ``pts``, ``dts`` and ``duration`` are in nanoseconds (None when unset);
    ``format`` is the GStreamer video format name ("RGBA", "I420", ...) or
    None for caps that are not raw video; ``strides`` and ``offsets`` are per
    plane, in bytes, from the buffer's GstVideoMeta. ``copied`` says whether
    zcipcsrc had to copy the frame into memory of this process (the consumer
    kept every frame the producer lends it alive).
    """

    __slots__ = ("_sample", "_buffer", "_layout", "_cache", "_stats", "_hold",
                 "_lock", "__weakref__")

    def __init__(self, sample: Gst.Sample, layout: Layout, cache: RegionCache,
                 stats: FrameStats) -> None:
        self._sample: Gst.Sample | None = sample
        self._buffer: Gst.Buffer | None = sample.get_buffer()
        self._layout = layout
        self._cache = cache
        self._stats = stats
        self._hold: _Hold | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ metadata

    @property
    def buffer(self) -> Gst.Buffer:
        """The Gst.Buffer (read-only memory)."""
        if self._buffer is None:
            raise ValueError("the frame was released")
        return self._buffer

    @property
    def caps(self) -> Gst.Caps:
        if self._sample is None:
            raise ValueError("the frame was released")
        return self._sample.get_caps()

    @property
    def pts(self) -> int | None:
        return _ns(self.buffer.pts)

    @property
    def dts(self) -> int | None:
        return _ns(self.buffer.dts)

    @property
    def duration(self) -> int | None:
        return _ns(self.buffer.duration)

    @property
    def copied(self) -> bool:
        """True for a private copy that zcipcsrc made because this consumer
        kept alive every frame the producer lends it (see ``Consumer``'s
        ``hold``); False for a frame read in place from shared memory."""
        buffer = self.buffer
        # Shared frames are read-only memory (the mapping is PROT_READ);
        # zcipcsrc's copies are plain memory of one piece.
        return buffer.n_memory() == 1 and not \
            int(buffer.peek_memory(0).mini_object.flags) & _MEMORY_READONLY

    @property
    def format(self) -> str | None:
        return self._layout.format

    @property
    def width(self) -> int:
        return self._layout.width

    @property
    def height(self) -> int:
        return self._layout.height

    @property
    def strides(self) -> tuple[int, ...]:
        return self._layout.strides

    @property
    def offsets(self) -> tuple[int, ...]:
        return self._layout.offsets

    @property
    def n_planes(self) -> int:
        return len(self._layout.planes)

    @property
    def layout(self) -> Layout:
        return self._layout

    def __repr__(self) -> str:
        if self._buffer is None:
            return "<zcipc.Frame (released)>"
        return (f"<zcipc.Frame {self.format} {self.width}x{self.height} "
                f"pts={self.pts}>")

    # --------------------------------------------------------------- views

    def _held(self) -> _Hold:
        with self._lock:
            if self._hold is None:
                self._hold = _Hold(self.buffer, self._cache, self._stats)
            return self._hold

    @property
    def size(self) -> int:
        """Bytes in the frame: 0 for a buffer without memory (a gap, an
        empty buffer the producer sent for its timestamps and metas)."""
        return self.buffer.get_size()

    def _array(self, plane: int | None, writable: bool) -> np.ndarray:
        if self._layout.format is not None and self.size == 0:
            raise FormatError(
                f"the frame at pts {self.pts} has no bytes (the producer sent "
                "an empty buffer: a gap, or one for its timestamps and metas);"
                " check frame.size before asking for an array")
        hold = self._held()
        if self._layout.format is None and plane is None:
            # Not raw video: the bytes, as a 1-D array.
            layout = Plane(0, (hold.size, 1, 1), (1, 1, 1), "|u1")
        else:
            layout = self._layout.plane(plane)
        if writable:
            hold.writable_given = True
        array = np.asarray(_Owner(hold, layout, writable))
        return array[:, 0, 0] if self._layout.format is None and plane is None \
            else array

    def numpy(self, plane: int | None = None) -> np.ndarray:
        """A read-only array over the frame, no copy: (height, width,
        channels) for a single-plane format; ``plane=i`` for one plane of a
        planar format. Caps that are not raw video give the bytes (1-D).
        Writing raises ValueError."""
        return self._array(plane, writable=False)

    def planes(self) -> tuple[np.ndarray, ...]:
        """A read-only (rows, columns, channels) array per plane."""
        self._layout.plane(0)  # raises FormatError when there is no layout
        return tuple(self._array(i, writable=False)
                     for i in range(len(self._layout.planes)))

    def _writable(self, plane: int | None) -> np.ndarray:
        hold = self._held()
        if hold.view is None and self.copied:
            # zcipcsrc's own copy: memory of this process that nobody else
            # reads, so torch may write it as it is.
            return self._array(plane, writable=True)
        if hold.view is None:
            # No private mapping of this memory: a writable view would be
            # zcipcsrc's read-only mapping (SIGSEGV on write). Copy instead.
            array = self._array(plane, writable=False)
            self._stats.add("torch_copies")
            warnings.warn("zcipc: the frame's memory has no private mapping; "
                          "torch gets a copy", RuntimeWarning, stacklevel=3)
            return array.copy()
        return self._array(plane, writable=True)

    def torch(self, plane: int | None = None) -> Tensor:
        """A uint8 tensor (int16/int32 holding the bits of 16/32-bit formats:
        torch has no unsigned wider types) of the same shape as ``numpy()``,
        sharing its memory (same data_ptr, no copy). In-place ops are
        allowed and private to this process: they change this process's
        views of this frame only (numpy views included), never the producer
        or other consumers, and are undone when the frame is released."""
        import torch as _torch

        array = self._writable(plane)
        if array.dtype.itemsize > 1:
            if not array.dtype.isnative:
                raise FormatError(f"{self.format}: torch has no byte-swapped "
                                  "tensors (use numpy())")
            # torch 1.13 has no uint16/uint32: same bits, signed type.
            array = array.view(f"i{array.dtype.itemsize}")
        return _torch.from_numpy(array)

    def __dlpack__(self, stream: int | None = None) -> Any:
        """DLPack export of the single plane (the same memory, and the same
        write rules, as ``torch()``)."""
        if stream is not None:
            raise BufferError("zcipc frames are CPU memory: stream must be None")
        return self._writable(None).__dlpack__()

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU

    # ------------------------------------------------------------ lifetime

    def release(self) -> None:
        """Drops the frame's own references; the buffer goes back to the
        producer once no array or tensor made from it is alive."""
        with self._lock:
            self._hold = None
        self._buffer = None
        self._sample = None

    def __enter__(self) -> Frame:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
