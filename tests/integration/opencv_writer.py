#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Writes frames with OpenCV's GStreamer backend, as an OpenCV user would:
cv2.VideoWriter(PIPELINE, cv2.CAP_GSTREAMER, 0, fps, (width, height)),
write() --frames frames made by frame() below, release(). Prints one JSON
line: whether the writer opened and how many frames it wrote."""

from __future__ import annotations

import argparse
import json
import sys

import cv2
import numpy as np


def frame(index: int, width: int, height: int) -> np.ndarray:
    """A BGR frame whose every pixel depends on its position and on the
    frame index, so that a lost, repeated or shifted frame shows."""
    y = np.arange(height, dtype=np.int64)[:, None, None]
    x = np.arange(width, dtype=np.int64)[None, :, None]
    channel = np.array([0, 85, 170], dtype=np.int64)[None, None, :]
    return ((3 * y + x + 7 * index + channel) % 256).astype(np.uint8)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--frames", type=int, required=True)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--fps", type=float, default=30.0)
    args = ap.parse_args()

    writer = cv2.VideoWriter(args.pipeline, cv2.CAP_GSTREAMER, 0, args.fps,
                             (args.width, args.height), True)
    report = {"opened": writer.isOpened(), "frames": 0}
    if report["opened"]:
        for i in range(args.frames):
            writer.write(frame(i, args.width, args.height))
            report["frames"] += 1
    writer.release()  # sends EOS and waits for it: every frame is out
    print(json.dumps(report), flush=True)
    return 0 if report["opened"] else 1


if __name__ == "__main__":
    sys.exit(main())
