# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""The exceptions zcipc raises. Every one is a :class:`Error`."""

from __future__ import annotations

__all__ = [
    "Error",
    "ProducerNotFound",
    "ProducerGone",
    "ConnectionFailed",
    "StreamError",
    "FormatError",
    "ProducerError",
]


class Error(Exception):
    """Base class of every zcipc error.

    ``str()`` of it is the message, written for the user (what is wrong
    and what to do). ``debug`` holds GStreamer's debug text (the C source
    location, the failing call and errno) when the error came from an
    element, else an empty string: for bug reports, not for the user.
    """

    def __init__(self, message: str, debug: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.debug = debug

    def __str__(self) -> str:
        return self.message


class ProducerNotFound(Error):
    """No zcipcsink published on the socket path within the timeout (nothing
    runs there, or the path is wrong); at once when the path's directory
    does not exist."""


class ProducerGone(Error):
    """The producer went away (exited, crashed, or dropped this consumer)
    while the consumer was receiving."""


class ConnectionFailed(Error):
    """The consumer could not connect: bad socket path (too long, or a file
    or a directory in the way), permission denied, refused by the
    producer's allow-list, protocol version mismatch, too many consumers.
    Raised at once, whatever the timeout: waiting would not help."""


class StreamError(Error):
    """The stream broke: a protocol violation or a negotiation failure."""


class FormatError(Error):
    """The frame's format has no array layout of the kind asked for (e.g.
    ``numpy()`` of a planar format, or a tiled/complex format)."""


class ProducerError(Error):
    """The producer's pipeline failed (socket in use, pool unavailable, a
    consumer-side wait timed out...)."""
