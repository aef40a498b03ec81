# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Receiving frames: ``zcipcsrc ! appsink`` driven from Python."""

from __future__ import annotations

import logging
import sys
import threading
import time
import warnings
from typing import Any, Iterator

from . import _gst, _reclaim
from ._gst import Gst
from ._mapping import RegionCache
from .errors import Error
from .frame import Frame, FrameStats
from .layout import Layout, VideoCaps, layout_for, video_caps

__all__ = ["Consumer", "PIPELINE_HOLD"]

#: Frames the pipeline itself may hold besides those Python keeps: one in
#: appsink's queue and one that zcipcsrc is pushing while the queue is full.
PIPELINE_HOLD = 2
#: zcipcsrc asks for one frame more than it lets downstream keep: the one on
#: its way from the producer.
IN_FLIGHT = 1

#: How long one wait on appsink lasts before the bus and the Python signal
#: handlers (Ctrl-C) are looked at.
_SLICE_NS = 50 * Gst.MSECOND
#: While no producer came: say so after this long, then every WAIT_REPORT.
_WAIT_FIRST_REPORT = 1.0
_WAIT_REPORT = 5.0
_log = logging.getLogger("zcipc")
_MSG_ERROR = Gst.MessageType.ERROR
_MSG_ELEMENT = Gst.MessageType.ELEMENT


class Consumer:
    """Receives frames published by a zcipcsink (or ``zcipc.Producer``).

    ::

        with zcipc.Consumer("cam0") as consumer:
            for frame in consumer:
                image = frame.numpy()      # (height, width, channels), no copy

    ``stream`` says which stream: a stream name (``"cam0"``, what
    ``zcipcsink stream-name=cam0`` publishes in this user's stream
    directory), a ``zcipc://`` URI (``zcipc://cam0``,
    ``zcipc:///run/cams/cam0``) or a socket path (anything with a '/', or
    ``@name`` for an abstract socket). ``socket_path=`` is the same for a
    path, as before.

    ``timeout`` is how many seconds to wait for the producer to appear
    (None, the default: as long as it takes, so a consumer may start
    before its producer); past it, iterating raises
    :class:`ProducerNotFound`. While it waits, the ``zcipc`` logger says so
    at INFO level every few seconds. A path where no producer can ever
    appear (a file or a directory in the way, a missing directory, no
    permission) raises at once, whatever the timeout.
    ``hold`` is how many frames Python may keep alive at once (a frame is
    alive while the Frame object or any array or tensor made from it is):
    the default 3 leaves room for the loop's current frame, the previous
    one it still holds while asking for the next, and one kept frame. The
    consumer asks the producer for ``hold + PIPELINE_HOLD + 1`` frames
    (zcipcsrc's max-held is ``hold + PIPELINE_HOLD``; one more is on its
    way); the producer grants at most its consumer-quota (see
    :attr:`quota`). Keeping more frames alive than that never stalls
    iteration and misses nothing: the frames beyond come as private copies
    (``frame.copied``, counted in ``stats["frames-copied"]``), with one
    RuntimeWarning.

    ``spin_us`` is zcipcsrc's spin-time: for a stream whose frames come
    less than that many microseconds apart, wait for the next one polling
    instead of sleeping (0, the default: never).

    Iteration ends at end of stream. A producer that goes away raises
    :class:`ProducerGone`. Waiting releases the GIL and wakes every 50 ms, so
    Ctrl-C and :meth:`close` from another thread interrupt it.
    """

    def __init__(self, stream: str | None = None, timeout: float | None = None,
                 hold: int = 3, spin_us: int = 0, *,
                 socket_path: str | None = None) -> None:
        stream = _gst.one_stream(stream, socket_path)
        if hold < 1:
            raise ValueError("hold must be at least 1")
        if not 0 <= spin_us <= 1_000_000:
            raise ValueError("spin_us must be between 0 and 1000000")
        _gst.init()
        #: What the stream was given as: a name, a URI or a path.
        self.stream = stream
        #: The socket: the path given, else (a name or a URI) the one
        #: zcipcsrc found, once connected.
        self.socket_path = stream
        self.hold = hold
        self._cache = RegionCache()
        self._frame_stats = FrameStats()
        self._caps: Gst.Caps | None = None
        self._vcaps: VideoCaps | None = None
        self._connected = False
        self._quota_checked = False
        self._copy_warned = False
        self._eos = False
        self._closed = False
        self._error: Error | None = None
        self._lock = threading.Lock()

        self._final_stats: dict[str, Any] | None = None
        self._started = time.monotonic()
        self._next_report = self._started + _WAIT_FIRST_REPORT

        pipeline = Gst.Pipeline.new("zcipc-consumer")
        src = _gst.make_element("zcipcsrc", "src")
        sink = _gst.make_element("appsink", "sink")
        _gst.set_stream(src, stream)
        src.set_property("timeout", 0 if timeout is None
                         else max(1, int(timeout * 1000)))
        most = src.find_property("max-held").maximum
        if hold + PIPELINE_HOLD + IN_FLIGHT > most:
            raise ValueError("hold must be at most "
                             f"{most - PIPELINE_HOLD - IN_FLIGHT}")
        src.set_property("max-held", hold + PIPELINE_HOLD)
        src.set_property("reconnect", False)
        src.set_property("spin-time", spin_us)
        for name, value in (("sync", False), ("max-buffers", 1), ("drop", False),
                            ("enable-last-sample", False),
                            ("emit-signals", False), ("wait-on-eos", False)):
            sink.set_property(name, value)
        pipeline.add(src)
        pipeline.add(sink)
        src.link(sink)
        # None once closed (see close()).
        self._pipeline: Gst.Pipeline | None = pipeline
        self._src: Gst.Element | None = src
        self._sink: Gst.Element | None = sink
        self._bus: Gst.Bus | None = pipeline.get_bus()
        if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
            error = self._poll_bus() or Error(
                f"could not start receiving from '{stream}'")
            self.close()
            raise error


    # ------------------------------------------------------------ lifetime

    def close(self) -> None:
        """Stops receiving. Frames (and arrays) still alive stay valid, and
        each goes back to the producer when it dies."""
        with self._lock:
            if self._closed or self._pipeline is None:
                return
            self._closed = True
        pipeline, bus = self._pipeline, self._bus
        self._final_stats = self._read_stats()
        pipeline.set_state(Gst.State.NULL)
        if bus is not None:
            bus.set_flushing(True)
        self._cache.close()
        # appsink keeps the last frame it handed out (in a GstSample it
        # reuses) until it is started again or finalized: let it go, so that
        # frame goes back to the producer like the others.
        self._pipeline = self._src = self._sink = self._bus = None

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_pipeline", None) is not None and not self._closed \
                and not sys.is_finalizing():
            self.close()

    # ----------------------------------------------------------- receiving

    def _poll_bus(self) -> Error | None:
        bus = self._bus
        while bus is not None:
            msg = bus.pop()
            if msg is None:
                return None
            if msg.type == _MSG_ERROR:
                return _gst.consumer_error(msg, self._connected)
            if msg.type == _MSG_ELEMENT:
                s = msg.get_structure()
                if s is not None and s.get_name() == "zcipc-connected":
                    self._connected = True
                    path = s.get_string("socket-path")
                    if path:
                        self.socket_path = path
        return None

    def _frame(self, sample: Gst.Sample) -> Frame:
        caps = sample.get_caps()
        if self._caps is None or not caps.is_equal(self._caps):
            self._caps = caps
            self._vcaps = video_caps(caps)
        layout: Layout = layout_for(self._vcaps, sample.get_buffer())
        if not self._quota_checked:
            self._quota_checked = True
            quota = self.quota
            if 0 < quota < self.hold + PIPELINE_HOLD + IN_FLIGHT:
                warnings.warn(
                    f"zcipc: the producer on '{self.socket_path}' grants "
                    f"{quota} frames (its consumer-quota), less than hold="
                    f"{self.hold} + {PIPELINE_HOLD} + {IN_FLIGHT}: frames "
                    "kept alive beyond "
                    f"{max(0, quota - PIPELINE_HOLD - IN_FLIGHT)} come as "
                    "private copies", RuntimeWarning, stacklevel=3)
        frame = Frame(sample, layout, self._cache, self._frame_stats)
        if not self._copy_warned and frame.copied:
            self._copy_warned = True
            quota = self.quota  # 0 once the producer cut this consumer off
            lent = f"{quota} frames, " if quota else ""
            warnings.warn(
                f"zcipc: this consumer keeps more frames alive than the "
                f"producer on '{self.socket_path}' lends it ({lent}"
                f"for hold={self.hold}): the frames beyond come as private "
                "copies (frame.copied, stats['frames-copied']). Keep fewer, "
                "or raise hold= (and the producer's consumer-quota) to keep "
                "them zero-copy", RuntimeWarning, stacklevel=3)
        return frame

    def pull(self, timeout: float | None = None) -> Frame | None:
        """The next frame; None when none came within ``timeout`` seconds
        (None: wait as long as it takes) or at end of stream (then
        :attr:`eos` is True). Raises a :class:`zcipc.Error` when the
        producer is not found or goes away."""
        if self._error is not None:
            raise self._error
        deadline = None if timeout is None else \
            Gst.util_get_timestamp() + int(timeout * Gst.SECOND)
        sink = self._sink  # close() from another thread clears the attribute
        while not self._closed and sink is not None:
            wait = _SLICE_NS if deadline is None else \
                max(0, min(_SLICE_NS, deadline - Gst.util_get_timestamp()))
            sample = sink.try_pull_sample(wait)
            if sample is not None:
                if not self._connected:
                    # zcipcsrc said where it connected before this frame.
                    self._error = self._poll_bus()
                return self._frame(sample)
            error = self._poll_bus()
            if error is not None:
                self._error = error
                # The error is kept and its traceback holds this frame:
                # without this, it would keep appsink, and the last frame
                # appsink caches, from the producer until the Consumer goes.
                del sink
                raise error
            if sink.is_eos():
                self._eos = True
                return None
            if not self._connected:
                self._report_waiting()
            if deadline is not None and Gst.util_get_timestamp() >= deadline:
                return None
        return None

    def _report_waiting(self) -> None:
        now = time.monotonic()
        if now < self._next_report:
            return
        self._next_report = now + _WAIT_REPORT
        _log.info("still waiting for a producer on '%s' (%.0f s so far)",
                  self.socket_path, now - self._started)

    def __iter__(self) -> Iterator[Frame]:
        return self

    def __next__(self) -> Frame:
        frame = self.pull()
        if frame is None:
            raise StopIteration
        return frame

    # ---------------------------------------------------------- statistics

    @property
    def eos(self) -> bool:
        """Whether the producer ended the stream."""
        return self._eos

    @property
    def quota(self) -> int:
        """Frames the producer granted this consumer (0 before connecting):
        ``hold + PIPELINE_HOLD + 1``, or less if its consumer-quota is
        smaller."""
        return int(self.stats.get("quota", 0)) if self._src is None else \
            int(self._src.get_property("stats").get_value("quota"))

    def _read_stats(self) -> dict[str, Any]:
        src = self._src
        return {} if src is None else \
            _gst.structure_to_dict(src.get_property("stats"))

    @property
    def stats(self) -> dict[str, Any]:
        """zcipcsrc's statistics (frames-received, frames-dropped: frames the
        producer skipped for this consumer, quota, frames-copied: frames
        copied because this consumer kept every frame it was lent, ...; as
        they were at
        close() once closed) plus this package's own: frames-merged
        (multi-memory buffers mapped with a copy), torch-copies,
        pages-reverted (frames whose privately written pages were dropped on
        release)."""
        _reclaim.flush(1.0)  # count frames released a moment ago
        out = dict(self._final_stats) if self._final_stats is not None \
            else self._read_stats()
        fs = self._frame_stats
        out.update({"frames-merged": fs.frames_merged,
                    "torch-copies": fs.torch_copies,
                    "pages-reverted": fs.pages_reverted})
        return out
