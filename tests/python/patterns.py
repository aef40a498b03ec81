# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""The frames the Python test producer writes: frame i, plane p holds
(3*row + 5*column + 7*channel + 11*p + i) mod 256 in every element, so any
frame's expected bytes can be recomputed from its number and shape alone."""

from __future__ import annotations

import numpy as np

__all__ = ["pattern", "frame_number", "FRAME_DURATION"]

#: The producer's frame duration (ns): frame i has pts i * FRAME_DURATION.
FRAME_DURATION = 10_000_000


def pattern(index: int, shape: tuple[int, ...], plane: int = 0) -> np.ndarray:
    rows, cols, chans = shape
    r = np.arange(rows, dtype=np.int64)[:, None, None] * 3
    c = np.arange(cols, dtype=np.int64)[None, :, None] * 5
    k = np.arange(chans, dtype=np.int64)[None, None, :] * 7
    return ((r + c + k + 11 * plane + index) % 256).astype(np.uint8)


def frame_number(pts: int | None) -> int:
    assert pts is not None and pts % FRAME_DURATION == 0, pts
    return pts // FRAME_DURATION
