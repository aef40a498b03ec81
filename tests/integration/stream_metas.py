# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Reading and attaching buffer metas from gst-python, for the stream-meaning
tests' helper processes.

gst-python 1.22 cannot reach most meta fields: GstVideoCropMeta and
GstAudioMeta have no getters, a custom meta's structure comes back as a copy,
and buffers cannot be iterated over their metas. So this module goes through
ctypes, on the structs as the 1.22 headers lay them out (public, ABI-stable
structs of a 64-bit build; checked against offsetof() once at import)."""

from __future__ import annotations

import ctypes
import re
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
gi.require_version("GstAudio", "1.0")
from gi.repository import Gst, GstAudio, GstVideo  # noqa: E402

_gst = ctypes.CDLL("libgstreamer-1.0.so.0")
_gobject = ctypes.CDLL("libgobject-2.0.so.0")
_glib = ctypes.CDLL("libglib-2.0.so.0")
_gstaudio = ctypes.CDLL("libgstaudio-1.0.so.0")

c_p = ctypes.c_void_p


class GstMeta(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint), ("info", c_p)]


class GstMetaInfo(ctypes.Structure):
    _fields_ = [("api", ctypes.c_size_t), ("type", ctypes.c_size_t), ("size", ctypes.c_size_t)]


class GstVideoMeta(ctypes.Structure):
    _fields_ = [("meta", GstMeta), ("buffer", c_p), ("flags", ctypes.c_int),
                ("format", ctypes.c_int), ("id", ctypes.c_int), ("width", ctypes.c_uint),
                ("height", ctypes.c_uint), ("n_planes", ctypes.c_uint),
                ("offset", ctypes.c_size_t * 4), ("stride", ctypes.c_int * 4)]


class GstVideoCropMeta(ctypes.Structure):
    _fields_ = [("meta", GstMeta), ("x", ctypes.c_uint), ("y", ctypes.c_uint),
                ("width", ctypes.c_uint), ("height", ctypes.c_uint)]


class GstReferenceTimestampMeta(ctypes.Structure):
    _fields_ = [("meta", GstMeta), ("reference", c_p), ("timestamp", ctypes.c_uint64),
                ("duration", ctypes.c_uint64)]


class GstAudioInfo(ctypes.Structure):
    _fields_ = [("finfo", c_p), ("flags", ctypes.c_int), ("layout", ctypes.c_int),
                ("rate", ctypes.c_int), ("channels", ctypes.c_int), ("bpf", ctypes.c_int),
                ("position", ctypes.c_int * 64), ("_reserved", c_p * 4)]


class GstAudioMeta(ctypes.Structure):
    _fields_ = [("meta", GstMeta), ("info", GstAudioInfo), ("samples", ctypes.c_size_t),
                ("offsets", ctypes.POINTER(ctypes.c_size_t)),
                ("priv_offsets_arr", ctypes.c_size_t * 8), ("_reserved", c_p * 4)]


# The layout of the 1.22 headers on x86-64/aarch64 (offsetof() in C).
assert GstVideoMeta.offset.offset == 48 and GstVideoMeta.stride.offset == 80
assert GstReferenceTimestampMeta.duration.offset == 32
assert GstAudioMeta.info.offset == 16 and GstAudioMeta.samples.offset == 336
assert GstAudioMeta.offsets.offset == 344

for name, restype, argtypes in [
    ("gst_buffer_iterate_meta", c_p, [c_p, ctypes.POINTER(c_p)]),
    ("gst_buffer_add_meta", c_p, [c_p, c_p, c_p]),
    ("gst_meta_info_is_custom", ctypes.c_int, [c_p]),
    ("gst_custom_meta_get_structure", c_p, [c_p]),
    ("gst_structure_to_string", c_p, [c_p]),
    ("gst_structure_from_string", c_p, [ctypes.c_char_p, c_p]),
    ("gst_structure_free", None, [c_p]),
    ("gst_structure_n_fields", ctypes.c_int, [c_p]),
    ("gst_structure_nth_field_name", ctypes.c_char_p, [c_p, ctypes.c_uint]),
    ("gst_structure_get_value", c_p, [c_p, ctypes.c_char_p]),
    ("gst_structure_set_value", None, [c_p, ctypes.c_char_p, c_p]),
    ("gst_caps_to_string", c_p, [c_p]),
]:
    fn = getattr(_gst, name)
    fn.restype, fn.argtypes = restype, argtypes
_gobject.g_type_name.restype, _gobject.g_type_name.argtypes = ctypes.c_char_p, [ctypes.c_size_t]
_glib.g_free.restype, _glib.g_free.argtypes = None, [c_p]
_gstaudio.gst_buffer_add_audio_meta.restype = c_p
_gstaudio.gst_buffer_add_audio_meta.argtypes = [c_p, c_p, ctypes.c_size_t, c_p]
_gstaudio.gst_audio_format_to_string.restype = ctypes.c_char_p
_gstaudio.gst_audio_format_to_string.argtypes = [ctypes.c_int]

_REPR_ADDRESS = re.compile(r"\((?:\w+) at 0x([0-9a-f]+)\)>$")


def pointer(obj: Any) -> int:
    """The C pointer a gst-python wrapper (boxed or struct) stands for.
    PyGObject hashes such wrappers by their pointer and prints it in repr();
    insisting both agree catches a PyGObject that changed either."""
    address = hash(obj) & ((1 << 64) - 1)
    m = _REPR_ADDRESS.search(repr(obj))
    assert m and int(m.group(1), 16) == address, (repr(obj), hex(address))
    return address


def _take_string(ptr: int | None) -> str:
    s = ctypes.cast(ptr, ctypes.c_char_p).value.decode()
    _glib.g_free(ptr)
    return s


def structure_string(structure_ptr: int) -> str:
    return _take_string(_gst.gst_structure_to_string(structure_ptr))


def set_custom_meta_structure(meta: Gst.CustomMeta, description: str) -> None:
    """Fills a custom meta's own structure (gst-python only hands out a copy)
    with the fields of `description` (a GstStructure string)."""
    parsed = _gst.gst_structure_from_string(description.encode(), None)
    assert parsed, description
    target = _gst.gst_custom_meta_get_structure(pointer(meta))
    for i in range(_gst.gst_structure_n_fields(parsed)):
        field = _gst.gst_structure_nth_field_name(parsed, i)
        _gst.gst_structure_set_value(target, field, _gst.gst_structure_get_value(parsed, field))
    _gst.gst_structure_free(parsed)


def add_crop_meta(buf: Gst.Buffer, x: int, y: int, width: int, height: int) -> None:
    meta = buf.add_meta(GstVideo.video_crop_meta_get_info(), None)
    crop = GstVideoCropMeta.from_address(pointer(meta))
    crop.x, crop.y, crop.width, crop.height = x, y, width, height


def add_audio_meta(buf: Gst.Buffer, info: GstAudio.AudioInfo, samples: int,
                   offsets: list[int] | None) -> None:
    array = (ctypes.c_size_t * len(offsets))(*offsets) if offsets else None
    meta = _gstaudio.gst_buffer_add_audio_meta(pointer(buf), pointer(info), samples,
                                               ctypes.cast(array, c_p) if array else None)
    assert meta, "gst_buffer_add_audio_meta refused the layout"


def dump_metas(buf: Gst.Buffer) -> list[dict[str, Any]]:
    """Every meta of `buf`, in the buffer's order, with the fields that must
    cross: what two processes compare byte for byte."""
    out = []
    state = c_p(None)
    while True:
        meta_ptr = _gst.gst_buffer_iterate_meta(pointer(buf), ctypes.byref(state))
        if not meta_ptr:
            break
        meta = GstMeta.from_address(meta_ptr)
        info = GstMetaInfo.from_address(meta.info)
        api = _gobject.g_type_name(info.api).decode()
        entry: dict[str, Any] = {"api": api}
        if _gst.gst_meta_info_is_custom(meta.info):
            entry["name"] = _gobject.g_type_name(info.type).decode()
            entry["structure"] = structure_string(_gst.gst_custom_meta_get_structure(meta_ptr))
        elif api == "GstVideoMetaAPI":
            m = GstVideoMeta.from_address(meta_ptr)
            entry.update(flags=m.flags, format=GstVideo.VideoFormat(m.format).value_nick,
                         id=m.id, width=m.width, height=m.height, n_planes=m.n_planes,
                         offset=list(m.offset)[:m.n_planes], stride=list(m.stride)[:m.n_planes])
        elif api == "GstVideoCropMetaAPI":
            m = GstVideoCropMeta.from_address(meta_ptr)
            entry.update(x=m.x, y=m.y, width=m.width, height=m.height)
        elif api == "GstReferenceTimestampMetaAPI":
            m = GstReferenceTimestampMeta.from_address(meta_ptr)
            entry.update(reference=_take_string(_gst.gst_caps_to_string(m.reference))
                         if m.reference else None,
                         timestamp=m.timestamp, duration=m.duration)
        elif api == "GstAudioMetaAPI":
            m = GstAudioMeta.from_address(meta_ptr)
            fmt = ctypes.c_int.from_address(m.info.finfo).value if m.info.finfo else 0
            n = m.info.channels
            entry.update(format=_gstaudio.gst_audio_format_to_string(fmt).decode() if fmt else None,
                         flags=m.info.flags, layout=m.info.layout, rate=m.info.rate,
                         channels=n, bpf=m.info.bpf, position=list(m.info.position)[:min(n, 64)],
                         samples=m.samples,
                         offsets=[m.offsets[i] for i in range(n)] if m.offsets else None)
        out.append(entry)
    return out
