# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""GStreamer plumbing shared by the consumer and the producer: initialisation,
element creation, statistics and bus errors turned into zcipc exceptions."""

from __future__ import annotations

from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstAllocators", "1.0")
gi.require_version("GstApp", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import GLib, Gst, GstAllocators, GstApp, GstVideo  # noqa: E402

from .errors import (  # noqa: E402
    ConnectionFailed,
    Error,
    ProducerError,
    ProducerGone,
    ProducerNotFound,
    StreamError,
)

__all__ = [
    "Gst",
    "GstAllocators",
    "GstApp",
    "GstVideo",
    "init",
    "plugin_version",
    "make_element",
    "set_properties",
    "set_stream",
    "one_stream",
    "structure_to_dict",
    "consumer_error",
    "producer_error",
    "CLOCK_TIME_NONE",
]

CLOCK_TIME_NONE = Gst.CLOCK_TIME_NONE


def init() -> None:
    """Initialises GStreamer once per process."""
    if not Gst.is_initialized():
        Gst.init(None)


def plugin_version() -> str:
    """The version of the zcipc GStreamer plugin (meson's project version)."""
    init()
    plugin = Gst.Registry.get().find_plugin("zcipc")
    if plugin is None:
        raise Error("the zcipc GStreamer plugin is not available (set "
                    "GST_PLUGIN_PATH to the build's gst/ directory, run inside "
                    "`meson devenv`, or `meson install`)")
    return plugin.get_version()


def make_element(factory: str, name: str) -> Gst.Element:
    """Creates an element, or says why the zcipc plugin is missing."""
    element = Gst.ElementFactory.make(factory, name)
    if element is None:
        hint = (" (set GST_PLUGIN_PATH to the build's gst/ directory, run "
                "inside `meson devenv`, or `meson install`)"
                if factory.startswith("zcipc") else "")
        raise Error(f"GStreamer element '{factory}' is not available{hint}")
    return element


def set_properties(element: Gst.Element, properties: dict[str, Any]) -> None:
    """Sets properties given as Python keywords (``slow_consumer="wait"``);
    strings go through gst_util_set_object_arg so enum nicks work."""
    for key, value in properties.items():
        name = key.replace("_", "-")
        if element.find_property(name) is None:
            raise TypeError(f"{element.get_factory().get_name()} has no "
                            f"property '{name}'")
        if isinstance(value, str):
            Gst.util_set_object_arg(element, name, value)
        else:
            element.set_property(name, value)


def one_stream(stream: str | None, socket_path: str | None) -> str:
    """The stream of a Consumer or Producer, given either way."""
    if (stream is None) == (socket_path is None):
        raise TypeError("give the stream (a name, a zcipc:// URI or a path) "
                        "or socket_path=, exactly one")
    if socket_path is not None:
        if "/" not in socket_path and not socket_path.startswith("@"):
            # A bare word would be read as a stream name.
            socket_path = "./" + socket_path
        return socket_path
    return stream


def set_stream(element: Gst.Element, stream: str) -> None:
    """Points zcipcsrc or zcipcsink at STREAM: a ``zcipc://`` URI, a socket
    path (it has a '/', or starts with '@' for an abstract socket) or a
    stream name. The element checks it (the name rules, the URI grammar)."""
    if not isinstance(stream, str) or not stream:
        raise ValueError("the stream must be a name, a zcipc:// URI or a "
                         f"socket path, got {stream!r}")
    if stream.startswith("zcipc:"):
        try:
            ok = element.set_uri(stream)
        except GLib.Error as error:
            raise ValueError(error.message) from None
        if not ok:
            raise ValueError(f"not a zcipc URI: {stream!r}")
    elif "/" in stream or stream.startswith("@"):
        element.set_property("socket-path", stream)
    else:
        element.set_property("stream-name", stream)


def structure_to_dict(structure: Gst.Structure | None) -> dict[str, Any]:
    """A GstStructure's fields as a dict (value arrays become lists of
    dicts)."""
    if structure is None:
        return {}
    out: dict[str, Any] = {}
    for i in range(structure.n_fields()):
        name = structure.nth_field_name(i)
        value = structure.get_value(name)
        if isinstance(value, Gst.ValueArray):
            value = [structure_to_dict(v) if isinstance(v, Gst.Structure) else v
                     for v in value]
        out[name] = value
    return out


def _parse(message: Gst.Message) -> tuple[GLib.Error, str]:
    err, debug = message.parse_error()
    return err, debug or ""


def consumer_error(message: Gst.Message, connected: bool) -> Error:
    """The exception for an ERROR message from the consumer's pipeline.

    zcipcsrc reports a producer that never showed up as RESOURCE/OPEN_READ
    ("No zcipcsink is publishing on ..."), one that went away as
    RESOURCE/READ, a bad path as RESOURCE/SETTINGS or NOT_FOUND, and a
    protocol violation as STREAM/DECODE.
    """
    err, debug = _parse(message)
    text = err.message
    if err.matches(Gst.ResourceError.quark(), Gst.ResourceError.READ):
        return ProducerGone(text, debug)
    if err.matches(Gst.ResourceError.quark(), Gst.ResourceError.OPEN_READ):
        if not connected and "No zcipcsink is publishing" in text:
            return ProducerNotFound(text, debug)
        return ConnectionFailed(text, debug)
    if (err.matches(Gst.ResourceError.quark(), Gst.ResourceError.SETTINGS)
            or err.matches(Gst.ResourceError.quark(), Gst.ResourceError.NOT_FOUND)):
        return ConnectionFailed(text, debug)
    return StreamError(text, debug)


def producer_error(message: Gst.Message) -> ProducerError:
    err, debug = _parse(message)
    return ProducerError(err.message, debug)
