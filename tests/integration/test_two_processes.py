# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""zcipcsink -> zcipcsrc across two processes: the foundation's contract."""

from __future__ import annotations

import json
import sys

import pytest

from zcipctest import SOURCE_DIR, checksums, wait_for_path

# Lossless, as fast as the consumer takes frames: what a byte-exact comparison
# needs. (The default is skip: a live producer never waits for anyone.)
LOSSLESS = "min-consumers=1 slow-consumer=wait sync=false"


def in_process_checksums(launcher, head: str, tail: str = "checksumsink sync=false"):
    proc = launcher.launch(f"{head} ! {tail}", name="reference")
    assert proc.wait(60) == 0, proc.describe()
    return checksums(proc.stdout())


def two_process_checksums(launcher, sock, head: str, tail: str = "checksumsink sync=false",
                          producer_opts: str = LOSSLESS):
    producer = launcher.launch(f"{head} ! zcipcsink socket-path={sock} {producer_opts}",
                               name="producer")
    wait_for_path(sock)
    consumer = launcher.launch(f"zcipcsrc socket-path={sock} ! {tail}", name="consumer")
    assert consumer.wait(120) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    return checksums(consumer.stdout()), consumer


def test_1080p_ball_arrives_with_the_same_bytes_and_pts_as_in_one_process(launcher, sock_dir):
    head = ("videotestsrc num-buffers=300 pattern=ball ! "
            "video/x-raw,format=RGBA,width=1920,height=1080,framerate=30/1")
    expected = in_process_checksums(launcher, head)
    got, consumer = two_process_checksums(launcher, sock_dir / "s", head)
    assert len(expected) == 300
    assert got == expected
    assert "EOS" in consumer.stdout() or consumer.popen.returncode == 0


def run_probe(launcher, sock, max_frames=0):
    return launcher.run([sys.executable, str(SOURCE_DIR / "tests/integration/consumer_probe.py"),
                         "--socket-path", str(sock), "--max-frames", str(max_frames)],
                        name="probe")


def test_consumer_buffers_point_into_a_read_only_shared_mapping(launcher, sock_dir):
    sock = sock_dir / "s"
    producer = launcher.launch(
        "videotestsrc num-buffers=60 pattern=smpte ! "
        f"video/x-raw,format=RGBA,width=640,height=480 ! zcipcsink socket-path={sock} {LOSSLESS}",
        name="producer")
    wait_for_path(sock)
    probe = run_probe(launcher, sock)
    assert probe.wait(60) == 0, probe.describe()
    assert producer.wait(30) == 0, producer.describe()
    report = json.loads(probe.stdout())
    assert report["error"] is None
    assert report["frames"] == 60
    assert report["inside_shared_mapping"] == 60
    assert report["mapping_read_only"] == 60
    assert report["memory_read_only"] == 60
    assert report["write_map_refused"] == 60
    assert report["eos"]


def run_probe_env(launcher, sock, env):
    return launcher.run([sys.executable, str(SOURCE_DIR / "tests/integration/consumer_probe.py"),
                         "--socket-path", str(sock)], name="probe", extra_env=env)


@pytest.mark.parametrize("channel", [True, False], ids=["channel", "socket-only"])
def test_frames_cross_by_the_shared_channel_or_without_it_byte_for_byte(launcher, sock_dir,
                                                                      channel):
    """The shared-memory channel is the default path; ZCIPC_CHANNEL=0 keeps a
    consumer on the socket alone. Both deliver the same frames, zero copy."""
    sock = sock_dir / "s"
    head = ("videotestsrc num-buffers=90 pattern=ball ! "
            "video/x-raw,format=RGBA,width=320,height=240,framerate=30/1")
    producer = launcher.launch(f"{head} ! zcipcsink socket-path={sock} {LOSSLESS}",
                               name="producer")
    wait_for_path(sock)
    probe = run_probe_env(launcher, sock, {"ZCIPC_CHANNEL": "1" if channel else "0"})
    assert probe.wait(60) == 0, probe.describe()
    assert producer.wait(30) == 0, producer.describe()
    report = json.loads(probe.stdout())
    assert report["error"] is None and report["eos"]
    assert report["frames"] == 90
    assert report["inside_shared_mapping"] == 90
    assert report.get("frames_by_channel", 0) == (90 if channel else 0)
    assert ("channel=(boolean)true" in report["stats"]) == channel
    expected = in_process_checksums(launcher, head)
    assert [sha for _, sha in expected] == report["sha1"]


def test_producer_buffers_come_from_the_proposed_pool_and_nothing_is_copied(sock_dir, launcher):
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)

    sock = sock_dir / "s"
    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=50 ! video/x-raw,format=RGBA,width=320,height=240 ! "
        f"zcipcsink name=sink socket-path={sock} {LOSSLESS}")
    sink = pipeline.get_by_name("sink")
    seen = {"frames": 0, "from_zcipc_pool": 0, "zcipc_memory": 0, "pools": set()}

    def probe(pad, info):
        buf = info.get_buffer()
        seen["frames"] += 1
        if buf.pool is not None and type(buf.pool).__gtype__.name == "GstZcipcProducerPool":
            seen["from_zcipc_pool"] += 1
            seen["pools"].add(hash(buf.pool))
        if all(buf.peek_memory(i).allocator.mem_type == "ZcipcMemory"
               for i in range(buf.n_memory())):
            seen["zcipc_memory"] += 1
        return Gst.PadProbeReturn.OK

    sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)
    pipeline.set_state(Gst.State.PLAYING)
    consumer = launcher.launch(f"zcipcsrc socket-path={sock} ! fakesink", name="consumer")
    msg = pipeline.get_bus().timed_pop_filtered(60 * Gst.SECOND,
                                                Gst.MessageType.EOS | Gst.MessageType.ERROR)
    assert msg is not None and msg.type == Gst.MessageType.EOS, msg and msg.parse_error()
    stats = sink.get_property("stats")
    pipeline.set_state(Gst.State.NULL)
    assert consumer.wait(30) == 0, consumer.describe()
    assert seen["frames"] == 50
    assert seen["from_zcipc_pool"] == 50
    assert seen["zcipc_memory"] == 50
    assert stats.get_value("frames-copied") == 0
    assert stats.get_value("bytes-copied") == 0
    assert stats.get_value("frames-sent") == 50


def test_odd_width_i420_strides_survive_and_videoconvert_renders_the_same_picture(launcher, sock_dir):
    head = "videotestsrc num-buffers=20 pattern=smpte ! video/x-raw,format=I420,width=641,height=481"
    tail = "videoconvert ! video/x-raw,format=RGBA ! checksumsink sync=false"
    expected = in_process_checksums(launcher, head, tail)
    got, _ = two_process_checksums(launcher, sock_dir / "s", head, tail)
    assert len(expected) == 20
    assert got == expected


def test_padded_stride_from_the_producer_reaches_the_consumer(launcher, sock_dir):
    """A producer buffer whose rows are padded beyond the default stride: the
    consumer sees the producer's GstVideoMeta, and videoconvert uses it."""
    sock = sock_dir / "s"
    producer = launcher.run([sys.executable, str(SOURCE_DIR / "tests/integration/padded_producer.py"),
                             "--socket-path", str(sock)], name="producer")
    wait_for_path(sock)
    probe = run_probe(launcher, sock)
    assert probe.wait(60) == 0, probe.describe()
    assert producer.wait(30) == 0, producer.describe()
    report = json.loads(probe.stdout())
    produced = json.loads(producer.stdout())
    assert report["frames"] == produced["frames"] == 10
    assert report["video_meta"]["stride"] == [produced["stride"]]
    assert report["sha1"] == produced["sha1"]
    # And the picture: a consumer videoconvert gives what an in-process one does.
    producer = launcher.run([sys.executable, str(SOURCE_DIR / "tests/integration/padded_producer.py"),
                             "--socket-path", str(sock), "--convert-reference"], name="producer2")
    wait_for_path(sock)
    consumer = launcher.launch(
        f"zcipcsrc socket-path={sock} ! videoconvert ! video/x-raw,format=BGRx ! checksumsink sync=false",
        name="consumer")
    assert consumer.wait(60) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    reference = json.loads(producer.stdout())["converted_sha1"]
    assert [c[1] for c in checksums(consumer.stdout())] == reference


def test_jpeg_frames_round_trip_byte_exact_and_decode(launcher, sock_dir):
    head = "videotestsrc num-buffers=30 pattern=smpte ! video/x-raw,width=320,height=240 ! jpegenc"
    expected = in_process_checksums(launcher, head)
    got, _ = two_process_checksums(launcher, sock_dir / "s", head)
    assert len(expected) == 30 and got == expected
    got, _ = two_process_checksums(launcher, sock_dir / "t", head,
                                   tail="jpegdec ! video/x-raw,format=I420 ! checksumsink sync=false")
    decoded = in_process_checksums(launcher, head, "jpegdec ! video/x-raw,format=I420 ! checksumsink sync=false")
    assert got == decoded


def test_audio_round_trips_byte_exact(launcher, sock_dir):
    head = "audiotestsrc num-buffers=100 wave=sine ! audio/x-raw,format=S16LE,rate=48000,channels=2"
    expected = in_process_checksums(launcher, head)
    got, _ = two_process_checksums(launcher, sock_dir / "s", head)
    assert len(expected) == 100 and got == expected


def test_octet_stream_round_trips_byte_exact(launcher, sock_dir, tmp_path):
    data = tmp_path / "blob.bin"
    data.write_bytes(bytes(range(256)) * 4000)
    head = f"filesrc location={data} blocksize=65536 ! application/octet-stream"
    expected = in_process_checksums(launcher, head)
    got, _ = two_process_checksums(launcher, sock_dir / "s", head)
    # Bytes only: filesrc's first buffer has DTS 0 and no PTS, and GstBaseSrc
    # fills a live source's missing PTS from its DTS (documented).
    assert len(expected) == 16
    assert [c[1] for c in got] == [c[1] for c in expected]


def test_consumer_caps_are_exactly_the_producers(launcher, sock_dir):
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)

    sock = sock_dir / "s"
    pipeline = Gst.parse_launch(
        "videotestsrc num-buffers=5 ! video/x-raw,format=NV12,width=320,height=240,framerate=25/1 ! "
        f"zcipcsink name=sink socket-path={sock} {LOSSLESS}")
    pipeline.set_state(Gst.State.PLAYING)
    probe = run_probe(launcher, sock)
    msg = pipeline.get_bus().timed_pop_filtered(60 * Gst.SECOND,
                                                Gst.MessageType.EOS | Gst.MessageType.ERROR)
    assert msg is not None and msg.type == Gst.MessageType.EOS
    producer_caps = pipeline.get_by_name("sink").get_static_pad("sink").get_current_caps()
    pipeline.set_state(Gst.State.NULL)
    assert probe.wait(60) == 0, probe.describe()
    report = json.loads(probe.stdout())
    assert report["frames"] == 5
    assert Gst.Caps.from_string(report["caps"]).is_equal(producer_caps)
