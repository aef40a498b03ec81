#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Reads frames with OpenCV's GStreamer backend, as an OpenCV user would:
cv2.VideoCapture(PIPELINE, cv2.CAP_GSTREAMER) and read() until it returns
no frame (the stream ended) or --max-frames were read. Saves the frames as
one uint8 array (frames, height, width, channels) to --out (.npy) and
prints one JSON line: whether the capture opened and how many frames it
read."""

from __future__ import annotations

import argparse
import json
import sys

import cv2
import numpy as np


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--max-frames", type=int, default=1000)
    args = ap.parse_args()

    capture = cv2.VideoCapture(args.pipeline, cv2.CAP_GSTREAMER)
    report = {"opened": capture.isOpened(), "frames": 0}
    frames = []
    while report["opened"] and len(frames) < args.max_frames:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame.copy())
    capture.release()
    report["frames"] = len(frames)
    np.save(args.out, np.stack(frames) if frames else np.zeros((0,), np.uint8))
    print(json.dumps(report), flush=True)
    return 0 if report["opened"] else 1


if __name__ == "__main__":
    sys.exit(main())
