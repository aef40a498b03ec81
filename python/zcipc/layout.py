# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Where each plane of a frame lies in its buffer, and as what array.

Strides and offsets come from the buffer's GstVideoMeta (the producer's
pool may pad rows); the caps only give the format and the size. A plane
is described as a (rows, columns, channels) array: ``channels`` is the
number of elements per pixel of that plane (4 for RGBA, 1 for I420's Y,
2 for NV12's interleaved UV, 2 for YUY2's Y+U / Y+V pairs), and a format
whose components share one machine word (RGB16, r210, BGR10A2_LE) is one
channel of that word.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ._gst import Gst, GstVideo
from .errors import FormatError

__all__ = ["Plane", "Layout", "VideoCaps", "video_caps", "layout_for", "caps_layout"]


@dataclass(frozen=True)
class Plane:
    """One plane: byte ``offset`` into the buffer, array ``shape`` (rows,
    columns, channels), byte ``strides`` and numpy ``typestr``."""

    offset: int
    shape: tuple[int, int, int]
    strides: tuple[int, int, int]
    typestr: str

    @property
    def extent(self) -> int:
        """Bytes from the plane's first byte to one past its last."""
        rows, cols, chans = self.shape
        return ((rows - 1) * self.strides[0] + (cols - 1) * self.strides[1]
                + (chans - 1) * self.strides[2] + int(self.typestr[2:]))


@dataclass(frozen=True)
class Layout:
    """The array layout of one frame. ``format`` is None for caps that are
    not raw video; then ``planes`` is empty and the frame is bytes."""

    format: str | None
    width: int
    height: int
    offsets: tuple[int, ...]
    strides: tuple[int, ...]
    planes: tuple[Plane, ...]
    error: str | None = None  # why there is no array layout, if there is none

    def plane(self, index: int | None) -> Plane:
        if self.error is not None:
            raise FormatError(self.error)
        if index is None:
            if len(self.planes) != 1:
                raise FormatError(
                    f"{self.format} has {len(self.planes)} planes: use planes() "
                    f"or pass plane=0..{len(self.planes) - 1}")
            return self.planes[0]
        if not 0 <= index < len(self.planes):
            raise IndexError(f"{self.format} has {len(self.planes)} planes")
        return self.planes[index]


def video_caps(caps: Gst.Caps) -> VideoCaps | None:
    """The caps' video description, or None when they are not raw video."""
    if caps is None or caps.get_size() == 0:
        return None
    if caps.get_structure(0).get_name() != "video/x-raw":
        return None
    try:
        info = GstVideo.VideoInfo.new_from_caps(caps)
    except (TypeError, ValueError):
        return None
    return VideoCaps(info) if info is not None else None


def _element_size(depths: list[int], shifts: list[int], poffsets: list[int],
                  pstride: int) -> tuple[int, int]:
    """(bytes per array element, channels) for the components of a plane."""
    if len(set(poffsets)) < len(poffsets):
        # Components packed into one word (RGB16, r210, BGR10A2_LE).
        return pstride, 1
    bits = max(d + s for d, s in zip(depths, shifts))
    size = 1 if bits <= 8 else 2 if bits <= 16 else 4 if bits <= 32 else 8
    if pstride % size or any(p % size for p in poffsets):
        raise FormatError("components do not sit on element boundaries")
    return size, pstride // size


def _sub(size: int, sub: int) -> int:
    return -((-size) >> sub)  # GST_VIDEO_SUB_SCALE


@functools.lru_cache(maxsize=64)
def _layout(fmt: int, width: int, height: int, offsets: tuple[int, ...],
            strides: tuple[int, ...]) -> Layout:
    vfmt = GstVideo.VideoFormat(fmt)
    finfo = GstVideo.video_format_get_info(vfmt)
    name = GstVideo.video_format_to_string(vfmt)
    flags = finfo.flags
    bad = (GstVideo.VideoFormatFlags.COMPLEX | GstVideo.VideoFormatFlags.TILED
           | GstVideo.VideoFormatFlags.PALETTE)
    if flags & bad:
        return Layout(name, width, height, offsets, strides, (),
                      f"{name} is a tiled, palette or bit-packed format: "
                      "there is no array view of it (use Frame.buffer)")
    little = bool(flags & GstVideo.VideoFormatFlags.LE)
    planes = []
    for p in range(finfo.n_planes):
        comps = [c for c in range(finfo.n_components) if finfo.plane[c] == p]
        if not comps:
            return Layout(name, width, height, offsets, strides, (),
                          f"{name} plane {p} has no components")
        main = min(comps, key=lambda c: (finfo.w_sub[c], finfo.poffset[c]))
        pstride = finfo.pixel_stride[main]
        try:
            size, channels = _element_size([finfo.depth[c] for c in comps],
                                           [finfo.shift[c] for c in comps],
                                           [finfo.poffset[c] for c in comps],
                                           pstride)
        except FormatError as e:
            return Layout(name, width, height, offsets, strides, (),
                          f"{name}: {e}")
        typestr = "|u1" if size == 1 else ("<u" if little else ">u") + str(size)
        planes.append(Plane(
            offset=offsets[p],
            shape=(_sub(height, finfo.h_sub[main]),
                   _sub(width, finfo.w_sub[main]), channels),
            strides=(strides[p], pstride, size),
            typestr=typestr))
    return Layout(name, width, height, offsets, strides, tuple(planes))


class VideoCaps:
    """What the layout code needs from raw video caps, read once per caps
    (GstVideoInfo field access through introspection is slow)."""

    __slots__ = ("format", "width", "height", "n_planes", "offsets", "strides")

    def __init__(self, info: GstVideo.VideoInfo) -> None:
        finfo = info.finfo
        self.format = int(finfo.format)
        self.width = info.width
        self.height = info.height
        self.n_planes = finfo.n_planes
        self.offsets = tuple(info.offset[:self.n_planes])
        self.strides = tuple(info.stride[:self.n_planes])


def layout_for(caps: VideoCaps | None, buffer: Gst.Buffer) -> Layout:
    """The layout of ``buffer`` holding a frame of ``caps``: its GstVideoMeta's
    offsets and strides when it has one, else the caps' defaults."""
    if caps is None:
        return Layout(None, 0, 0, (0,), (buffer.get_size(),), (),
                      "the caps are not raw video: there are no planes")
    meta = _get_video_meta(buffer)
    if meta is None:
        return _layout(caps.format, caps.width, caps.height, caps.offsets,
                       caps.strides)
    # As gst_video_frame_map(): format and size from the caps (the meta
    # must agree), plane offsets and strides from the meta.
    n = caps.n_planes
    return _layout(caps.format, caps.width, caps.height,
                   tuple(meta.offset[:n]), tuple(meta.stride[:n]))


_get_video_meta = GstVideo.buffer_get_video_meta  # per frame: look up once


def caps_layout(caps: VideoCaps) -> Layout:
    """The layout the caps alone describe (GStreamer's default strides).
    Plane shapes and types are those of every buffer; a pool may pad rows
    differently, so strides and offsets can differ from a real buffer's."""
    return _layout(caps.format, caps.width, caps.height, caps.offsets,
                   caps.strides)
