# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""The stream's meaning crosses two processes intact (issue 8): metas, events
in stream order, caps changes, flushes, clocks, caps and latency queries.

Helper processes (tests/integration/stream_*.py) report what they sent and
what they received as JSON; these tests compare the two."""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

from zcipctest import checksums, wait_for_path

HERE = Path(__file__).resolve().parent
# Lossless, as fast as the consumer takes frames (as in test_two_processes).
LOSSLESS = "min-consumers=1 slow-consumer=wait sync=false"
FRAME_NS = 1_000_000_000 // 30


def helper(script: str, *args: str) -> list[str]:
    return [sys.executable, str(HERE / script), *args]


def read_report(path: Path) -> dict:
    return json.loads(path.read_text())


def start_consumer(launcher, sock, name="consumer", *args: str):
    report = launcher.log_dir / f"{name}.json"
    proc = launcher.run(helper("stream_consumer.py", "--socket-path", str(sock),
                               "--report", str(report), *args), name=name)
    return proc, report


def gst():
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import Gst
    Gst.init(None)
    return Gst


# ------------------------------------------------------------------ metas

def metas_cross(launcher, sock_dir, case: str, frames: int = 10):
    """Runs stream_meta_producer.py --case `case` against a consumer that
    dumps every meta; returns (producer report, consumer frames)."""
    sock = sock_dir / "s"
    producer = launcher.run(helper("stream_meta_producer.py", "--socket-path", str(sock),
                                   "--case", case, "--frames", str(frames)), name="producer")
    wait_for_path(sock)
    consumer, report = start_consumer(launcher, sock, "consumer", "--metas")
    assert consumer.wait(30) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    sent = json.loads(producer.stdout())
    got = read_report(report)
    assert sent["error"] is None and got["error"] is None and got["eos"]
    received = [i for i in got["items"] if i["kind"] == "buffer"]
    assert len(sent["frames"]) == len(received) == frames
    # The bytes too, and zero copy: the producer wrote into the sink's memory.
    assert [f["sha1"] for f in sent["frames"]] == [f["sha1"] for f in received]
    assert [f["pts"] for f in sent["frames"]] == [f["pts"] for f in received]
    if case != "audiotestsrc":
        assert sent["frames_copied"] == 0
    return sent, got, received


def test_video_meta_and_crop_meta_cross_byte_exact(launcher, sock_dir):
    sent, _, received = metas_cross(launcher, sock_dir, "video-crop")
    assert [f["metas"] for f in received] == [f["metas"] for f in sent["frames"]]
    for n, f in enumerate(received):
        video, crop = f["metas"]
        assert video["api"] == "GstVideoMetaAPI" and video["stride"] == [320 * 4 + 64]
        assert crop == {"api": "GstVideoCropMetaAPI", "x": n, "y": 2 * n,
                        "width": 160 + n, "height": 120 + n}


def test_reference_timestamp_metas_cross_with_their_reference_caps(launcher, sock_dir):
    sent, _, received = metas_cross(launcher, sock_dir, "reftime")
    assert [f["metas"] for f in received] == [f["metas"] for f in sent["frames"]]
    for n, f in enumerate(received):
        unix, ptp = f["metas"]
        assert unix["reference"] == "timestamp/x-unix"
        assert unix["timestamp"] == 1_767_225_600_000_000_000 + n * 33_333_333
        assert unix["duration"] == 33_333_333
        assert ptp["reference"] == "timestamp/x-ptp, version=(string)IEEE1588-2008, domain=(int)3"
        assert ptp["duration"] == 2 ** 64 - 1    # GST_CLOCK_TIME_NONE


def test_custom_meta_structure_crosses_to_a_consumer_that_never_registered_it(launcher, sock_dir):
    sent, got, received = metas_cross(launcher, sock_dir, "custom")
    assert [f["metas"] for f in received] == [f["metas"] for f in sent["frames"]]
    for n, f in enumerate(received):
        (meta,) = f["metas"]
        assert meta["name"] == "zcipc-detections"
        assert meta["structure"].startswith(f"zcipc-detections, frame-id=(guint64){n}, ")
        assert "detections=(string)" in meta["structure"] and "boxes=(int)<" in meta["structure"]
    assert "metas-unknown=(guint64)0" in got["stats"]


def test_custom_meta_of_64_kib_crosses_intact(launcher, sock_dir):
    sent, _, received = metas_cross(launcher, sock_dir, "custom-64k", frames=5)
    assert [f["metas"] for f in received] == [f["metas"] for f in sent["frames"]]
    for f in received:
        (meta,) = f["metas"]
        assert len(meta["structure"]) > 64 * 1024


def test_custom_meta_too_large_for_a_frame_message_crosses_with_the_others(
        launcher, sock_dir):
    sent, got, received = metas_cross(launcher, sock_dir, "oversize")
    for s, r in zip(sent["frames"], received):
        assert [m["api"] for m in s["metas"]] == ["GstVideoMetaAPI", "zcipc-detections-api",
                                                  "zcipc-meta-00-api"]
        assert r["metas"] == s["metas"]
    assert sent["metas_skipped"] == 0


def test_buffer_with_twenty_metas_keeps_all_of_them_in_order(launcher, sock_dir):
    sent, _, received = metas_cross(launcher, sock_dir, "twenty")
    assert [f["metas"] for f in received] == [f["metas"] for f in sent["frames"]]
    for f in received:
        metas = f["metas"]
        assert len(metas) == 20
        assert [m["api"] for m in metas[:3]] == ["GstVideoMetaAPI", "GstVideoCropMetaAPI",
                                                 "GstReferenceTimestampMetaAPI"]
        assert [m["name"] for m in metas[3:]] == [f"zcipc-meta-{i:02d}" for i in range(17)]


def test_meta_without_codec_is_skipped_and_counted_and_frames_still_arrive(launcher, sock_dir):
    sent, got, received = metas_cross(launcher, sock_dir, "unknown")
    # GstVideoRegionOfInterestMeta has no codec: it stays behind, counted once
    # per frame; the metas around it cross.
    for s, r in zip(sent["frames"], received):
        apis = [m["api"] for m in s["metas"]]
        assert "GstVideoRegionOfInterestMetaAPI" in apis
        assert r["metas"] == [m for m in s["metas"]
                              if m["api"] != "GstVideoRegionOfInterestMetaAPI"]
        assert [m["api"] for m in r["metas"]] == ["GstVideoMetaAPI", "zcipc-detections-api"]
    assert sent["metas_skipped"] == 10
    assert "metas-unknown=(guint64)0" in got["stats"]


def test_non_interleaved_audio_meta_crosses_with_its_plane_offsets(launcher, sock_dir):
    sent, _, received = metas_cross(launcher, sock_dir, "audio")
    assert [f["metas"] for f in received] == [f["metas"] for f in sent["frames"]]
    for f in received:
        (meta,) = f["metas"]
        assert meta["api"] == "GstAudioMetaAPI" and meta["layout"] == 1
        assert meta["format"] == "S16LE" and meta["channels"] == 4 and meta["rate"] == 48000
        assert meta["position"] == [0, 1, 4, 5]     # FL FR RL RR, from channel-mask 0x33
        assert meta["samples"] == 480
        assert meta["offsets"] == [3 * 992, 0, 992, 2 * 992]


def test_audiotestsrc_non_interleaved_audio_meta_crosses(launcher, sock_dir):
    sent, _, received = metas_cross(launcher, sock_dir, "audiotestsrc")
    assert [f["metas"] for f in received] == [f["metas"] for f in sent["frames"]]
    for f in received:
        (meta,) = f["metas"]
        assert meta["api"] == "GstAudioMetaAPI" and meta["samples"] == 441
        assert meta["offsets"] == [0, 441 * 4]


# ------------------------------------------------------------ caps change

CAPS_640 = "video/x-raw,format=RGBA,width=640,height=480,framerate=30/1"
CAPS_1280 = "video/x-raw,format=RGBA,width=1280,height=720,framerate=30/1"
SCALED_TAIL = ("videoconvert ! videoscale ! video/x-raw,width=320,height=240 ! "
               "checksumsink name=sink sync=false")


def test_resolution_change_at_100_and_back_at_200_is_seamless_and_frees_old_regions(
        launcher, sock_dir):
    head = f"videotestsrc num-buffers=300 pattern=ball ! capsfilter name=cf caps={CAPS_640}"
    changes = ["--caps-at", f"100:{CAPS_1280}", "--caps-at", f"200:{CAPS_640}"]

    ref_report = launcher.log_dir / "reference.json"
    reference = launcher.run(helper("stream_producer.py", "--pipeline", f"{head} ! {SCALED_TAIL}",
                                    "--report", str(ref_report), *changes), name="reference")
    assert reference.wait(30) == 0, reference.describe()
    expected = checksums(reference.stdout())
    assert len(expected) == 300

    sock = sock_dir / "s"
    prod_report = launcher.log_dir / "producer.json"
    producer = launcher.run(helper(
        "stream_producer.py", "--pipeline",
        f"{head} ! zcipcsink name=sink socket-path={sock} {LOSSLESS}",
        "--report", str(prod_report), *changes), name="producer")
    wait_for_path(sock)
    consumer, report = start_consumer(launcher, sock, "consumer", "--tail", SCALED_TAIL)
    assert consumer.wait(30) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()

    # The producer really changed resolution between frames 99/100 and 199/200.
    sent = read_report(prod_report)["items"]
    sizes, size = [], None
    for item in sent:
        if item["kind"] == "event" and item["type"] == "caps":
            size = "1280" if "width=(int)1280" in item["caps"] else "640"
        elif item["kind"] == "buffer":
            sizes.append(size)
    assert sizes == ["640"] * 100 + ["1280"] * 100 + ["640"] * 100

    # Every frame arrives right: the same pictures (and PTS) as in one process.
    assert checksums(consumer.stdout()) == expected

    # Once the old frames are released, only the current pool's region is
    # mapped: the 640x480 and 1280x720 pools' regions are gone.
    got = read_report(report)
    assert got["eos"] and got["error"] is None
    assert got["regions"] == 1, got["stats"]
    assert got["mapped_regions"] == 1
    # Beside them, the one channel the frames came through, mapped once.
    assert got["mapped_channels"] == 1


# ----------------------------------------------------------------- events

EVENTS = [
    ("10", "custom", "zcipc-marker, n=(int)1, label=(string)first"),
    ("20", "tag", 'taglist, title=(string)"chapter two", artist=(string)zcipc'),
    ("30", "custom-sticky", "zcipc-sticky, x=(int)3"),
    ("30", "custom", "zcipc-marker, n=(int)2, boxes=(int)<1,2,3>"),
    ("40", "gap", "0"),
    ("50", "tag", 'taglist, title=(string)"chapter three"'),
]
ORDERED = {"custom-downstream", "custom-downstream-sticky", "tag", "gap"}


def ordered_items(items):
    out = []
    for item in items:
        if item["kind"] == "buffer":
            out.append(("buffer", item["offset"], item["pts"]))
        elif item["kind"] == "event" and item["type"] in ORDERED:
            out.append(("event", json.dumps(item, sort_keys=True)))
    return out


def test_custom_events_and_tags_arrive_between_the_same_frames(launcher, sock_dir):
    sock = sock_dir / "s"
    prod_report = launcher.log_dir / "producer.json"
    args = []
    for n, kind, desc in EVENTS:
        args += ["--event-at", f"{n}:{kind}:{desc}"]
    producer = launcher.run(helper(
        "stream_producer.py", "--pipeline",
        "videotestsrc num-buffers=60 pattern=smpte ! capsfilter name=cf "
        "caps=video/x-raw,format=RGBA,width=320,height=240,framerate=30/1 ! "
        f"zcipcsink name=sink socket-path={sock} {LOSSLESS}",
        "--report", str(prod_report), *args), name="producer")
    wait_for_path(sock)
    consumer, report = start_consumer(launcher, sock)
    assert consumer.wait(30) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    sent = read_report(prod_report)
    got = read_report(report)
    assert got["eos"] and got["error"] is None

    # What the producer's sink saw: each event right before its frame.
    sent_order = ordered_items(sent["items"])
    frames_before = {}
    seen = 0
    for entry in sent_order:
        if entry[0] == "buffer":
            seen += 1
        else:
            frames_before.setdefault(seen, []).append(json.loads(entry[1])["type"])
    assert frames_before == {10: ["custom-downstream"], 20: ["tag"],
                             30: ["custom-downstream-sticky", "custom-downstream"],
                             40: ["gap"], 50: ["tag"]}

    # The consumer gets the same events, with the same content, between the
    # same frames.
    assert ordered_items(got["items"]) == sent_order

    # And the stream-start it ends up with is the producer's (id, group id).
    def last_stream_start(items):
        starts = []
        for item in items:
            if item["kind"] == "buffer":
                break
            if item["kind"] == "event" and item["type"] == "stream-start":
                starts.append(item)
        return starts[-1]
    assert last_stream_start(got["items"]) == last_stream_start(sent["items"])


# ------------------------------------------------------------------ clock

def test_sync_consumer_renders_within_one_frame_interval_of_the_producer_schedule(
        launcher, sock_dir):
    """Both pipelines run on the system monotonic clock. The producer's sink
    renders frame N at base time + running time + latency; the consumer's
    sync=true sink must render it within one frame interval of that clock
    time (not sooner or later, whatever either's start time was)."""
    sock = sock_dir / "s"
    prod_report = launcher.log_dir / "producer.json"
    producer = launcher.run(helper(
        "stream_producer.py", "--pipeline",
        "videotestsrc is-live=true num-buffers=150 pattern=ball ! "
        "video/x-raw,format=RGBA,width=320,height=240,framerate=30/1 ! "
        f"zcipcsink name=sink socket-path={sock} sync=true",
        "--report", str(prod_report)), name="producer")
    wait_for_path(sock)
    consumer, report = start_consumer(
        launcher, sock, "consumer", "--handoffs",
        "--tail", "fakesink name=sink sync=true signal-handoffs=true")
    assert consumer.wait(30) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    sent = read_report(prod_report)
    got = read_report(report)
    assert sent["clock_type"] == got["clock_type"] == "monotonic"

    buffers = [i for i in sent["items"] if i["kind"] == "buffer" and "render_clock" in i]
    scheduled = {i["offset"]: i["render_clock"] for i in buffers}
    # A frame that reached the producer's sink after its schedule (a live
    # source late under load) is rendered, and sent, on arrival: the
    # consumer cannot have it sooner. The transport's share is what counts.
    rendered = {i["offset"]: max(i["render_clock"], i["arrival_clock"]) for i in buffers}
    renders = [r for r in got["renders"] if r["offset"] in scheduled]
    assert len(renders) >= 100, f"only {len(renders)} frames rendered"
    early = [(r["offset"], (r["clock"] - scheduled[r["offset"]]) / 1e6) for r in renders
             if r["clock"] - scheduled[r["offset"]] <= -FRAME_NS]
    assert not early, f"frames rendered a frame interval early (offset, ms): {early[:10]}"
    arrived = {i["offset"]: i["arrival_clock"] for i in got["items"]
               if i["kind"] == "buffer" and "arrival_clock" in i}
    late = [(r["offset"], (r["clock"] - rendered[r["offset"]]) / 1e6,
             (rendered[r["offset"]] - scheduled[r["offset"]]) / 1e6,
             (arrived[r["offset"]] - rendered[r["offset"]]) / 1e6) for r in renders
            if r["clock"] - rendered[r["offset"]] >= FRAME_NS]
    message = ("frames rendered more than a frame interval after the producer "
               "rendered them (offset, ms after, ms the producer was late, ms "
               f"from the producer's render to zcipcsrc's push): {late[:10]}")
    # Under ASan (scripts/test.sh's second pass) a process stalls now and
    # then for 15-40 ms after the frame reached zcipcsrc on time (seen with
    # the push 0.5 ms after the producer's render and the handoff 34-38 ms
    # after it): a deadline of the sanitizer runtime, not of the transport.
    # The pass without sanitizers holds every frame to it.
    if os.environ.get("ZCIPC_SANITIZED") == "1":
        late = [f for f in late if f[3] >= FRAME_NS / 1e6]
    assert not late, message
    # Most frames reach the producer's sink on schedule, so most of the
    # comparisons above are with its schedule itself.
    on_time = [o for o in rendered if rendered[o] == scheduled[o]]
    assert len(on_time) >= len(rendered) // 2, \
        f"only {len(on_time)} of {len(rendered)} frames reached the producer's sink on time"
    # The consumer's own schedule (its base time + running time) is the
    # producer's render time (to a millisecond; it is exact): the clock
    # mapping holds. The consumer renders its own pipeline latency (fakesink's
    # 20 ms processing deadline) after that, within the frame interval.
    off = [(r["offset"], (r["scheduled"] - scheduled[r["offset"]]) / 1e6) for r in renders
           if abs(r["scheduled"] - scheduled[r["offset"]]) >= 1_000_000]
    assert not off, f"consumer schedule off the producer's (offset, ms): {off[:10]}"


# ------------------------------------------------------------------ seeks

def make_media_file(launcher, path: Path) -> None:
    Gst = gst()
    if Gst.ElementFactory.find("x264enc") and Gst.ElementFactory.find("mp4mux"):
        enc = "x264enc ! mp4mux"
    else:
        enc = "jpegenc ! avimux"
    proc = launcher.launch(
        "videotestsrc num-buffers=150 pattern=ball ! "
        f"video/x-raw,width=320,height=240,framerate=30/1 ! {enc} ! filesink location={path}",
        name="encode")
    assert proc.wait(30) == 0, proc.describe()


def test_flushing_seeks_on_the_producer_do_not_deadlock_two_consumers(launcher, sock_dir, tmp_path):
    media = tmp_path / "clip.media"
    make_media_file(launcher, media)
    sock = sock_dir / "s"
    prod_report = launcher.log_dir / "producer.json"
    # Real time (sync=true) and lossless with two consumers: the sink blocks
    # both in the clock and for room when the seeks' flushes come.
    producer = launcher.run(helper(
        "stream_producer.py", "--pipeline",
        f"filesrc location={media} ! decodebin ! videoconvert ! "
        f"zcipcsink name=sink socket-path={sock} min-consumers=2 slow-consumer=wait sync=true",
        "--report", str(prod_report),
        "--seek-after", "30:0", "--seek-after", "75:3000000000"), name="producer")
    wait_for_path(sock)
    # One consumer as fast as it can, one rendering in step (sync=true): its
    # clock mapping must follow the producer's new running time after each
    # flush, or it waits for the wrong clock time.
    consumers = [start_consumer(launcher, sock, "consumer0"),
                 start_consumer(launcher, sock, "consumer1", "--tail", "fakesink name=sink sync=true")]
    for proc, _ in consumers:
        assert proc.wait(25) == 0, proc.describe()
    assert producer.wait(25) == 0, producer.describe()

    sent = read_report(prod_report)
    assert sent["error"] is None and sent["eos"]
    assert [s["ok"] for s in sent["seeks"]] == [True, True]
    assert all(s["seconds"] < 2 for s in sent["seeks"]), sent["seeks"]
    for _, report in consumers:
        got = read_report(report)
        assert got["eos"] and got["error"] is None
        pts = [i["pts"] for i in got["items"] if i["kind"] == "buffer"]
        # Back to the start after the first second, then on to 3 s: each
        # consumer keeps receiving frames after each seek, to the end.
        back = next(k for k in range(1, len(pts)) if pts[k] < pts[k - 1])
        assert pts[back] < 500_000_000 and pts[back - 1] >= 500_000_000
        forward = next(k for k in range(back + 1, len(pts)) if pts[k] >= 3_000_000_000)
        assert forward - back >= 20, "too few frames between the seeks"
        assert len(pts) - forward >= 40, "too few frames after the second seek"
        assert pts[-1] >= 4_800_000_000


# ------------------------------------------------------------ caps/queries

def run_in_process_consumer(Gst, description: str, until_buffers: int = 1, timeout: float = 15):
    """Starts a consumer pipeline here; returns (pipeline, error, eos) once
    `until_buffers` buffers reached the element named sink, or an error or
    EOS message came (popped here: a filtered pop drops the others)."""
    pipeline = Gst.parse_launch(description)
    got = threading.Event()
    count = [0]

    def probe(pad, info):
        count[0] += 1
        if count[0] >= until_buffers:
            got.set()
        return Gst.PadProbeReturn.OK

    pipeline.get_by_name("sink").get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, probe)
    pipeline.set_state(Gst.State.PLAYING)
    error, eos = None, False
    bus = pipeline.get_bus()
    for _ in range(int(timeout * 50)):
        msg = bus.timed_pop_filtered(20 * Gst.MSECOND, Gst.MessageType.ERROR | Gst.MessageType.EOS)
        if msg is not None and msg.type == Gst.MessageType.ERROR:
            error = msg.parse_error()
            break
        if msg is not None:
            eos = True
            break
        if got.is_set():
            break
    return pipeline, error, eos


def test_consumer_without_capsfilter_negotiates_the_producers_caps(launcher, sock_dir):
    Gst = gst()
    sock = sock_dir / "s"
    prod_report = launcher.log_dir / "producer.json"
    producer = launcher.run(helper(
        "stream_producer.py", "--pipeline",
        "videotestsrc num-buffers=30 ! "
        "video/x-raw,format=NV12,width=352,height=288,framerate=15/1,pixel-aspect-ratio=4/3 ! "
        f"zcipcsink name=sink socket-path={sock} {LOSSLESS}",
        "--report", str(prod_report)), name="producer")
    wait_for_path(sock)
    pipeline, error, eos = run_in_process_consumer(
        Gst, f"zcipcsrc name=src socket-path={sock} ! fakesink name=sink sync=false")
    try:
        assert error is None, error
        negotiated = pipeline.get_by_name("sink").get_static_pad("sink").get_current_caps()
        answered = pipeline.get_by_name("src").get_static_pad("src").query_caps(None)
        if not eos:
            msg = pipeline.get_bus().timed_pop_filtered(
                20 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
            assert msg is not None and msg.type == Gst.MessageType.EOS
    finally:
        pipeline.set_state(Gst.State.NULL)
    assert producer.wait(20) == 0, producer.describe()
    sent_caps = [i["caps"] for i in read_report(prod_report)["items"]
                 if i["kind"] == "event" and i["type"] == "caps"]
    producer_caps = Gst.Caps.from_string(sent_caps[-1])
    assert negotiated.is_equal(producer_caps), (negotiated.to_string(), sent_caps)
    assert answered.is_equal(producer_caps), (answered.to_string(), sent_caps)


def test_consumer_that_cannot_accept_the_caps_fails_not_negotiated_naming_both(launcher, sock_dir):
    """The first error the consumer posts says why: a negotiation error whose
    message names the producer's caps and what downstream accepts.

    FAILS (bug in gst/gstzcipcsrc.c, handle_event(), GST_EVENT_CAPS): it
    detects a refusal by gst_base_src_set_caps() returning FALSE, but that
    pushes a sticky caps event, and gst_pad_push_event() returns TRUE for
    sticky events whatever downstream said ("errors in sticky event pushing
    are ignored ... they will cause more meaningful errors during data
    flow"). So the clear error is never posted; the first buffer then fails
    in basesrc with the generic "Internal data stream error ... reason
    not-negotiated" that names no caps. Asking downstream first
    (gst_pad_peer_query_accept_caps) would catch it."""
    Gst = gst()
    sock = sock_dir / "s"
    launcher.launch("videotestsrc is-live=true ! video/x-raw,format=RGBA,width=320,height=240 ! "
                    f"zcipcsink socket-path={sock}", name="producer")
    wait_for_path(sock)
    pipeline, error, _ = run_in_process_consumer(
        Gst, f"zcipcsrc socket-path={sock} ! video/x-raw,format=I420 ! fakesink name=sink")
    pipeline.set_state(Gst.State.NULL)
    assert error is not None, "the consumer did not fail"
    err, debug = error
    assert (err.matches(Gst.CoreError.quark(), Gst.CoreError.NEGOTIATION) or
            err.matches(Gst.StreamError.quark(), Gst.StreamError.FORMAT)), (err.message, debug)
    assert "format=(string)RGBA" in err.message, err.message
    assert "format=(string)I420" in err.message, err.message


def test_latency_query_on_a_consumer_pipeline_answers_live(launcher, sock_dir):
    Gst = gst()
    sock = sock_dir / "s"
    launcher.launch("videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=30/1 ! "
                    f"zcipcsink socket-path={sock}", name="producer")
    wait_for_path(sock)
    pipeline, error, _ = run_in_process_consumer(
        Gst, f"zcipcsrc name=src socket-path={sock} ! fakesink name=sink sync=true",
        until_buffers=3)
    try:
        assert error is None, error
        query = Gst.Query.new_latency()
        assert pipeline.query(query)
        live, min_latency, max_latency = query.parse_latency()
        src_query = Gst.Query.new_latency()
        assert pipeline.get_by_name("src").get_static_pad("src").query(src_query)
        src_live, _, _ = src_query.parse_latency()
    finally:
        pipeline.set_state(Gst.State.NULL)
    assert live is True
    assert src_live is True
    assert min_latency != Gst.CLOCK_TIME_NONE
