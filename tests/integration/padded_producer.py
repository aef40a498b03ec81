#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A producer whose RGBA rows are padded well beyond the default stride, with
a GstVideoMeta saying so: `appsrc ! zcipcsink`. Prints a JSON summary (and,
with --convert-reference, the checksums an in-process videoconvert gives)."""

import argparse
import hashlib
import json
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstVideo", "1.0")
from gi.repository import Gst, GstVideo  # noqa: E402

WIDTH, HEIGHT, FRAMES = 640, 120, 10
STRIDE = WIDTH * 4 + 256
CAPS = f"video/x-raw,format=RGBA,width={WIDTH},height={HEIGHT},framerate=30/1"


def make_frames():
    frames = []
    for n in range(FRAMES):
        data = bytearray(STRIDE * HEIGHT)
        for y in range(HEIGHT):
            row = bytes(((x * 7 + y * 3 + n * 11) & 0xFF) for x in range(WIDTH * 4))
            data[y * STRIDE:y * STRIDE + WIDTH * 4] = row
            # Padding bytes a consumer that ignores the stride would show.
            data[y * STRIDE + WIDTH * 4:(y + 1) * STRIDE] = b"\xEE" * (STRIDE - WIDTH * 4)
        frames.append(bytes(data))
    return frames


def make_buffer(data: bytes, n: int) -> Gst.Buffer:
    buf = Gst.Buffer.new_wrapped(data)
    buf.pts = n * Gst.SECOND // 30
    buf.duration = Gst.SECOND // 30
    GstVideo.buffer_add_video_meta_full(buf, GstVideo.VideoFrameFlags.NONE,
                                        GstVideo.VideoFormat.RGBA, WIDTH, HEIGHT, 1,
                                        [0, 0, 0, 0], [STRIDE, 0, 0, 0])
    return buf


def run(pipeline_desc: str, frames, pull: bool = False):
    pipeline = Gst.parse_launch(pipeline_desc)
    src = pipeline.get_by_name("src")
    pipeline.set_state(Gst.State.PLAYING)
    for n, data in enumerate(frames):
        assert src.emit("push-buffer", make_buffer(data, n)) == Gst.FlowReturn.OK
    src.emit("end-of-stream")
    out = []
    if pull:
        sink = pipeline.get_by_name("sink")
        while (sample := sink.emit("try-pull-sample", 10 * Gst.SECOND)) is not None:
            buf = sample.get_buffer()
            out.append(hashlib.sha1(buf.extract_dup(0, buf.get_size())).hexdigest())
    msg = pipeline.get_bus().timed_pop_filtered(60 * Gst.SECOND,
                                                Gst.MessageType.EOS | Gst.MessageType.ERROR)
    assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()
    pipeline.set_state(Gst.State.NULL)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket-path", required=True)
    ap.add_argument("--convert-reference", action="store_true")
    args = ap.parse_args()
    Gst.init(None)
    frames = make_frames()
    report = {"frames": FRAMES, "stride": STRIDE,
              "sha1": [hashlib.sha1(f).hexdigest() for f in frames]}
    if args.convert_reference:
        report["converted_sha1"] = run(
            f"appsrc name=src format=time caps={CAPS} ! videoconvert ! "
            "video/x-raw,format=BGRx ! appsink name=sink sync=false", frames, pull=True)
    run(f"appsrc name=src format=time caps={CAPS} ! zcipcsink socket-path={args.socket_path} "
        "min-consumers=1 slow-consumer=wait sync=false", frames)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
