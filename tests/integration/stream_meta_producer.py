#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A producer that attaches metas: `appsrc ! zcipcsink`, each frame written
into memory from zcipcsink's own allocator (found with an ALLOCATION query,
as a C application would), with the metas of --case. Prints, as JSON, every
meta of every frame as zcipcsink received it, and the sink's stats.

Cases: video-crop, reftime, custom, custom-<N>k (a blob of N KiB), twenty, oversize,
unknown, audio, overlimit (a meta past 64 MiB), empty (every third frame a buffer without memory, every
third one's memory resized to 0 bytes, both with a GAP flag and metas);
audiotestsrc (audiotestsrc's own non-interleaved buffers and GstAudioMeta)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import stream_metas as sm  # noqa: E402
from stream_metas import Gst, GstAudio, GstVideo  # noqa: E402

LOSSLESS = "min-consumers=1 slow-consumer=wait sync=false"
FPS = 30
VIDEO_CAPS = "video/x-raw,format=RGBA,width=320,height=240,framerate=30/1"
STRIDE = 320 * 4 + 64           # padded rows: the video meta must say so
AUDIO_CAPS = ("audio/x-raw,format=S16LE,rate=48000,channels=4,channel-mask=(bitmask)0x33,"
              "layout=non-interleaved")
SAMPLES = 480
PLANE = SAMPLES * 2
PADDED_PLANE = PLANE + 32
# Channel planes out of order, with gaps between them: only the meta tells.
AUDIO_OFFSETS = [3 * PADDED_PLANE, 0, PADDED_PLANE, 2 * PADDED_PLANE]

# Registered in the producer only: the consumer must not need to know them.
CUSTOM = "zcipc-detections"
TWENTY = [f"zcipc-meta-{i:02d}" for i in range(17)]


def add_video_meta(buf: Gst.Buffer) -> None:
    GstVideo.buffer_add_video_meta_full(buf, GstVideo.VideoFrameFlags.NONE,
                                        GstVideo.VideoFormat.RGBA, 320, 240, 1,
                                        [0, 0, 0, 0], [STRIDE, 0, 0, 0])


def add_custom(buf: Gst.Buffer, name: str, fields: str) -> None:
    meta = buf.add_custom_meta(name)
    assert meta is not None, name
    sm.set_custom_meta_structure(meta, f"{name}, {fields}")


def detections(n: int) -> str:
    boxes = ", ".join(str((n * 7 + i * 13) % 640) for i in range(8))
    return (f'frame-id=(guint64){n}, source=(string)"cam 0", '
            f'detections=(string)"person:0.{91 - n % 10}@[{n},20,30,40];car:0.5@[1,2,3,4]", '
            f"boxes=(int)<{boxes}>, score=(double){0.125 * n}, valid=(boolean)true")


def decorate(case: str, buf: Gst.Buffer, n: int) -> None:
    if case == "video-crop":
        add_video_meta(buf)
        sm.add_crop_meta(buf, n, 2 * n, 160 + n, 120 + n)
    elif case == "reftime":
        buf.add_reference_timestamp_meta(Gst.Caps.from_string("timestamp/x-unix"),
                                         1_767_225_600_000_000_000 + n * 33_333_333, 33_333_333)
        buf.add_reference_timestamp_meta(
            Gst.Caps.from_string("timestamp/x-ptp, version=(string)IEEE1588-2008, domain=(int)3"),
            37_000_000_000 + n * 33_333_333, Gst.CLOCK_TIME_NONE)
    elif case == "custom":
        add_custom(buf, CUSTOM, detections(n))
    elif case.startswith("custom-") and case.endswith("k"):
        kib = int(case[len("custom-"):-1])
        blob = "".join(f"{(n * 31 + i) % 65536:04x}" for i in range(256 * kib))  # kib KiB
        add_custom(buf, CUSTOM, f'frame-id=(guint64){n}, blob=(string)"{blob}"')
    elif case == "twenty":
        add_video_meta(buf)
        sm.add_crop_meta(buf, 4, 4, 300, 200)
        buf.add_reference_timestamp_meta(Gst.Caps.from_string("timestamp/x-unix"), 1000 + n, 1)
        for i, name in enumerate(TWENTY):
            add_custom(buf, name, f"frame-id=(guint64){n}, index=(int){i}")
    elif case == "oversize":
        # More than a frame's message carries (GST_ZCIPC_MAX_INLINE_META_SIZE,
        # 192 KiB): the metas cross in shared memory of their own.
        add_video_meta(buf)
        blob = "ab" * (100 * 1024)
        add_custom(buf, CUSTOM, f'frame-id=(guint64){n}, blob=(string)"{blob}"')
        add_custom(buf, TWENTY[0], f"frame-id=(guint64){n}")
    elif case == "unknown":
        add_video_meta(buf)
        # No codec for GstVideoRegionOfInterestMeta: skipped and counted.
        GstVideo.buffer_add_video_region_of_interest_meta(buf, "face", 10, 20, 30, 40)
        add_custom(buf, CUSTOM, f"frame-id=(guint64){n}")
    elif case == "overlimit":
        # Past the 64 MiB a frame's metas may take: left out, with a warning.
        add_custom(buf, CUSTOM, f'frame-id=(guint64){n}, blob=(string)"{"ab" * (33 << 20)}"')
        add_custom(buf, TWENTY[0], f"frame-id=(guint64){n}")
    elif case == "empty":
        add_custom(buf, CUSTOM, detections(n))
        if buf.get_size() == 0:
            buf.set_flags(Gst.BufferFlags.GAP)
    elif case == "audio":
        info = GstAudio.AudioInfo.new_from_caps(Gst.Caps.from_string(AUDIO_CAPS))
        sm.add_audio_meta(buf, info, SAMPLES, AUDIO_OFFSETS)
    else:
        raise ValueError(case)


def frame_bytes(case: str, n: int) -> bytes:
    size = 4 * PADDED_PLANE if case == "audio" else STRIDE * 240
    return bytes((i * 7 + n * 13) & 0xFF for i in range(256)) * (size // 256) + bytes(size % 256)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket-path", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--frames", type=int, default=10)
    args = ap.parse_args()
    Gst.init(None)

    if args.case == "audiotestsrc":
        head = (f"audiotestsrc num-buffers={args.frames} samplesperbuffer=441 wave=ticks ! "
                "audio/x-raw,format=F32LE,rate=44100,channels=2,layout=non-interleaved")
    else:
        Gst.meta_register_custom(CUSTOM, [], None)
        for name in TWENTY:
            Gst.meta_register_custom(name, [], None)
        caps = AUDIO_CAPS if args.case == "audio" else VIDEO_CAPS
        head = f'appsrc name=src format=time caps="{caps}"'
    pipeline = Gst.parse_launch(f"{head} ! zcipcsink name=sink socket-path={args.socket_path} "
                                f"{LOSSLESS}")
    sink = pipeline.get_by_name("sink")
    sent = []

    def record(pad, info):
        buf = info.get_buffer()
        metas = sm.dump_metas(buf)
        if args.case == "overlimit":    # not 130 MB of JSON for a meta that stays
            for m in metas:
                if len(m.get("structure", "")) > 4096:
                    m["structure"] = m["structure"][:64]
        sent.append({"pts": buf.pts, "size": buf.get_size(), "metas": metas,
                     "duration": buf.duration, "offset": buf.offset,
                     "gap": bool(buf.get_flags() & Gst.BufferFlags.GAP),
                     "sha1": hashlib.sha1(buf.extract_dup(0, buf.get_size())).hexdigest()})
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, record)
    pipeline.set_state(Gst.State.PLAYING)

    if args.case != "audiotestsrc":
        src = pipeline.get_by_name("src")
        # Memory from zcipcsink's allocator: frames cross without a copy.
        query = Gst.Query.new_allocation(Gst.Caps.from_string(caps), True)
        assert sink.get_static_pad("sink").query(query)
        allocator, params = query.parse_nth_allocation_param(0)
        for n in range(args.frames):
            data = frame_bytes(args.case, n)
            buf = Gst.Buffer.new()
            if args.case != "empty" or n % 3 != 0:
                buf.append_memory(allocator.alloc(len(data), params))
                buf.fill(0, data)
            if args.case == "empty" and n % 3 == 2:
                buf.resize(0, 0)
            buf.pts = n * Gst.SECOND // FPS
            buf.duration = Gst.SECOND // FPS
            buf.offset = n
            decorate(args.case, buf, n)
            assert src.emit("push-buffer", buf) == Gst.FlowReturn.OK
            del buf
        src.emit("end-of-stream")

    warnings = []
    while True:
        msg = pipeline.get_bus().timed_pop_filtered(
            25 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR | Gst.MessageType.WARNING)
        if msg is None or msg.type != Gst.MessageType.WARNING:
            break
        warnings.append(msg.parse_warning()[0].message)
    error = None
    if msg is None or msg.type != Gst.MessageType.EOS:
        error = str(msg.parse_error()) if msg else "timeout"
    stats = sink.get_property("stats")
    pipeline.set_state(Gst.State.NULL)
    print(json.dumps({"frames": sent, "error": error, "warnings": warnings,
                      "metas_skipped": stats.get_value("metas-skipped"),
                      "frames_copied": stats.get_value("frames-copied")}))
    return 0 if error is None else 1


if __name__ == "__main__":
    sys.exit(main())
