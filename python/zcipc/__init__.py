# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""zcipc: zero-copy inter-process video for Python.

Frames published by a ``zcipcsink`` (or :class:`Producer`) in another
process arrive as :class:`Frame` objects whose ``numpy()`` / ``torch()``
views read the producer's shared memory in place. See docs/python.md.
"""

from __future__ import annotations

from .consumer import PIPELINE_HOLD, Consumer
from .errors import (
    ConnectionFailed,
    Error,
    FormatError,
    ProducerError,
    ProducerGone,
    ProducerNotFound,
    StreamError,
)
from .frame import Frame
from .layout import Layout, Plane
from .producer import Producer
from .streams import StreamInfo, streams



def __getattr__(name: str) -> str:
    # One version number: meson's, compiled into the zcipc plugin this
    # package drives. Asked lazily so importing zcipc stays cheap.
    if name == "__version__":
        from . import _gst
        return _gst.plugin_version()
    raise AttributeError(f"module 'zcipc' has no attribute {name!r}")

__all__ = [
    "Consumer",
    "Frame",
    "Producer",
    "StreamInfo",
    "streams",
    "Layout",
    "Plane",
    "PIPELINE_HOLD",
    "Error",
    "ProducerNotFound",
    "ProducerGone",
    "ConnectionFailed",
    "StreamError",
    "FormatError",
    "ProducerError",
    "__version__",
]
