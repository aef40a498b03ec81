#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Runs a small PyTorch model on every frame a zcipc producer publishes, and
prints the frame rate.

The camera (or any producer), in one process:

    gst-launch-1.0 v4l2src ! videoconvert ! video/x-raw,format=RGBA ! \\
        zcipcsink stream-name=cam0
    # or, without a camera:
    gst-launch-1.0 videotestsrc is-live=true ! \\
        video/x-raw,format=RGBA,width=640,height=480,framerate=30/1 ! \\
        zcipcsink stream-name=cam0

this, in another, from the checkout (or, after `meson install`, without
`meson devenv ...`):

    meson devenv -C build --workdir . /usr/bin/python3 \\
        examples/python/torch_consumer.py cam0

The stream is a name, a zcipc:// URI or a socket path (--socket-path PATH
says the same for a path).

Each frame arrives as a uint8 tensor over the producer's shared memory (no
copy); the only copy is the model's own conversion to float (and, for BGR
frames, the flip to RGB before it).
"""

from __future__ import annotations

import argparse
import sys
import time

import torch
from torch import nn

import zcipc


def make_model(channels: int) -> nn.Module:
    """A few convolutions: enough to cost something per pixel."""
    return nn.Sequential(
        nn.Conv2d(channels, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    ).eval()


def to_input(image: torch.Tensor, fmt: str) -> torch.Tensor:
    """(H, W, C) uint8 → (1, 3, H, W) float in [0, 1]: the only copy."""
    if fmt in ("RGBA", "RGBx", "RGB"):
        rgb = image[..., :3]
    elif fmt in ("BGRA", "BGRx", "BGR"):
        # torch tensors have no negative strides (no [..., ::-1]): flip copies.
        rgb = image[..., :3].flip(-1)
    elif fmt == "GRAY8":
        rgb = image.expand(-1, -1, 3)
    else:
        raise SystemExit(f"{fmt} frames: publish RGBA (add videoconvert before "
                         "zcipcsink)")
    return rgb.permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("stream", nargs="?",
                    help="the stream: a name (zcipcsink stream-name=NAME), a "
                         "zcipc:// URI or a socket path")
    ap.add_argument("--socket-path", help="the zcipcsink's socket (instead of STREAM)")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="seconds to wait for the producer (default 10)")
    ap.add_argument("--frames", type=int, default=0,
                    help="stop after this many frames (default: end of stream)")
    args = ap.parse_args()
    if (args.stream is None) == (args.socket_path is None):
        ap.error("give the stream (a name, a zcipc:// URI or a path) or --socket-path")

    model = make_model(3)
    count = 0
    window_start = time.monotonic()
    window_frames = 0
    try:
        with zcipc.Consumer(args.stream, socket_path=args.socket_path,
                            timeout=args.timeout) as consumer, \
                torch.inference_mode():
            for frame in consumer:
                scores = model(to_input(frame.torch(), frame.format or ""))
                count += 1
                window_frames += 1
                now = time.monotonic()
                if now - window_start >= 1.0:
                    print(f"{window_frames / (now - window_start):7.1f} fps  "
                          f"{frame.width}x{frame.height} {frame.format}  "
                          f"class {int(scores.argmax())}  "
                          f"missed {consumer.stats['frames-dropped']}", flush=True)
                    window_start, window_frames = now, 0
                if args.frames and count >= args.frames:
                    break
    except zcipc.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{count} frames", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
