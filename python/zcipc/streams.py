# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""The streams this user can open: what ``gst-device-monitor-1.0`` lists."""

from __future__ import annotations

from dataclasses import dataclass

from . import _gst
from ._gst import Gst
from .errors import Error

__all__ = ["StreamInfo", "streams"]

#: zcipc's GstDeviceProvider (gst/gstzcipcdeviceprovider.c).
PROVIDER = "zcipcdeviceprovider"


@dataclass(frozen=True)
class StreamInfo:
    """One live stream, as its producer describes it."""

    #: The stream name (None for a socket outside the stream directory).
    name: str | None
    #: The producer's socket.
    path: str
    #: What it publishes (empty caps before the producer has caps).
    caps: Gst.Caps
    #: The producer's process id.
    pid: int
    #: ``zcipc://NAME`` (or ``zcipc:///path``): what Consumer() takes.
    uri: str

    def __str__(self) -> str:
        return f"{self.name or self.path} (pid {self.pid}): {self.caps.to_string()}"


def streams() -> list[StreamInfo]:
    """The live streams in this user's stream directory whose producers
    answer, sorted by name: the devices zcipc's device provider lists
    (``gst-device-monitor-1.0 Video/Source Audio/Source``). A stale socket
    left by a producer that died is not listed."""
    _gst.init()
    factory = Gst.DeviceProviderFactory.find(PROVIDER)
    if factory is None:
        raise Error(f"zcipc's device provider ({PROVIDER}) is not available "
                    "(set GST_PLUGIN_PATH to the build's gst/ directory, run "
                    "inside `meson devenv`, or `meson install`)")
    provider = factory.get()
    found = []
    for device in provider.get_devices():
        props = device.get_properties()
        if props is None or props.get_string("device.api") != "zcipc":
            continue
        ok, pid = props.get_int("zcipc.pid")
        found.append(StreamInfo(
            name=props.get_string("zcipc.stream-name"),
            path=props.get_string("zcipc.socket-path"),
            caps=device.get_caps() or Gst.Caps.new_empty(),
            pid=pid if ok else 0,
            uri=props.get_string("zcipc.uri")))
    found.sort(key=lambda s: (s.name is None, s.name or s.path))
    return found
