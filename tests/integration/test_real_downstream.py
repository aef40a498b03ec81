# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Real downstream pipelines that nobody here wrote, with zcipcsrc's default
properties: encoders with a lookahead, muxers, filesink's buffering, queues
with thresholds, wavenc, OpenCV. Downstream keeps buffers; zcipcsrc must
neither starve nor stall behind them. What each writes is checked the way a
user would check it (gst-discoverer-1.0, decode and count, bytes or pixels
compared with the same chain run without zcipc), and zcipcsrc's stats say
whether frames were copied: never where downstream keeps no more than the
quota granted, counted (and said once on the bus) where it keeps more.

The live recording runs against a producer with zcipcsink's defaults, and the
hand-over against the README's producer. The other producers are lossless
(`min-consumers=1 slow-consumer=wait`), because those tests compare every
byte from the first frame on: a default producer starts without waiting for
the consumer (which finds the socket only when it polls, every 20 ms) and
rightly skips frames for a consumer that a busy machine leaves unscheduled
for a few frames. Starving behind downstream still fails them: a consumer
stuck at its quota is dropped after wait-timeout (2 s) and the stream does
not end."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from zcipctest import SOURCE_DIR, wait_for_path

HERE = SOURCE_DIR / "tests/integration"
WIDTH, HEIGHT = 320, 240
I420 = f"video/x-raw,format=I420,width={WIDTH},height={HEIGHT},framerate=30/1"
I420_FRAME = WIDTH * HEIGHT * 3 // 2
# Every frame from the first on, paced at the stream's frame rate (sync=true):
# see the module's docstring. (OpenCV, too, reads its first frame only after
# VideoCapture() has returned.)
LOSSLESS = "min-consumers=1 slow-consumer=wait"
# The README's recipes, verbatim but for the socket and file names.
README_RECORDING = "zcipcsrc socket-path={sock} ! videoconvert ! x264enc ! mp4mux ! filesink location={out}"
README_HANDOVER_PRODUCER = ("filesrc location={src} ! decodebin ! zcipcsink socket-path={sock} "
                            "min-consumers=1 slow-consumer=wait sync=false")
# A decoded frame matches its reference far above this (~75 dB for the ball
# pattern through x264enc at its defaults) and its neighbours far below (< 33 dB).
SAME_FRAME_PSNR = 45.0


# ------------------------------------------------------------------ helpers

def run_gst(launcher, pipeline: str, timeout: float = 60.0, name: str = "direct") -> None:
    """Runs an in-process pipeline (no zcipc) to EOS."""
    proc = launcher.launch(pipeline, name=name)
    assert proc.wait(timeout) == 0, proc.describe()


def start_consumer(launcher, pipeline: str, *, count=(), timeout: float = 20.0):
    """downstream_consumer.py running PIPELINE, which names its zcipcsrc
    elements; it gives up (and says so) after `timeout` s without EOS.
    Returns once the pipeline is PLAYING (its zcipcsrc look for producers)."""
    ready = launcher.log_dir / "consumer.ready"
    argv = [sys.executable, str(HERE / "downstream_consumer.py"), "--pipeline", pipeline,
            "--timeout", str(timeout), "--ready-file", str(ready)]
    for element in count:
        argv += ["--count", element]
    proc = launcher.run(argv, name="consumer")
    deadline = time.monotonic() + 20
    while not ready.exists():
        assert proc.popen.poll() is None, f"the consumer ended before PLAYING:\n{proc.describe()}"
        assert time.monotonic() < deadline, f"the consumer is not PLAYING after 20 s:\n{proc.describe()}"
        time.sleep(0.02)
    return proc


def finish_consumer(proc, timeout: float = 60.0) -> dict:
    """Waits for a consumer started by start_consumer (killing it and failing
    on timeout) and returns its report, which must say it reached EOS."""
    proc.wait(timeout)
    lines = proc.stdout().strip().splitlines()
    assert lines, f"the consumer printed no report:\n{proc.describe()}"
    report = json.loads(lines[-1])
    assert report["error"] is None and report["eos"], (
        f"the consumer did not reach EOS: {report['error']} ({report['debug']})\n"
        f"stats: {report['stats']}\n{proc.describe()}")
    return report


def consume(launcher, consumer: str, producers: list[str], *, count=(),
            timeout: float = 20.0) -> dict:
    """Starts the consumer pipeline, then each producer pipeline (a process
    each), and returns the consumer's report once it reached EOS; then every
    producer must have ended by itself. The consumer's report comes first:
    when it starves, its stats say how."""
    proc = start_consumer(launcher, consumer, count=count, timeout=timeout)
    started = [launcher.launch(p, name=f"producer{i}") for i, p in enumerate(producers)]
    report = finish_consumer(proc, timeout + 10)
    for p in started:
        assert p.wait(10) == 0, p.describe()
    return report


def src_warnings(report: dict, src: str = "src") -> list[dict]:
    return [w for w in report["warnings"] if w["source"] == src]


def assert_zero_copy(report: dict, src: str = "src") -> None:
    stats = report["stats"][src]
    assert "frames-copied" in stats and "bytes-copied" in stats, (
        f"zcipcsrc's stats have no frames-copied / bytes-copied: {stats}")
    assert stats["frames-copied"] == 0 and stats["bytes-copied"] == 0, (
        f"downstream keeps no more than the quota, yet zcipcsrc copied: {stats}")
    assert src_warnings(report, src) == [], report["warnings"]


def assert_copies_counted(report: dict, src: str = "src", frame_size: int | None = None) -> None:
    """Downstream kept more than the quota: zcipcsrc copied (rather than
    starving), counted every copy, and said so on the bus, naming the
    property to raise, once per episode rather than once per frame."""
    stats = report["stats"][src]
    assert "frames-copied" in stats and "bytes-copied" in stats, (
        f"zcipcsrc's stats have no frames-copied / bytes-copied: {stats}")
    copied = stats["frames-copied"]
    assert copied > 0, f"downstream keeps more than the quota, yet nothing was copied: {stats}"
    if frame_size is not None:
        assert stats["bytes-copied"] == copied * frame_size, stats
    else:
        assert stats["bytes-copied"] >= copied, stats
    warnings = src_warnings(report, src)
    assert warnings, f"{copied} frames copied without a WARNING from zcipcsrc: {report['warnings']}"
    assert len(warnings) <= 1 + copied // 10, f"a WARNING per copied frame: {warnings}"
    for w in warnings:
        assert "max-held" in w["message"] or "consumer-quota" in w["message"], (
            f"the copy WARNING does not name what to raise: {w}")


def discover(launcher, path: Path) -> dict:
    """gst-discoverer-1.0's view of a file: its duration (s) and stream kinds."""
    proc = subprocess.run(["gst-discoverer-1.0", str(path)], env=launcher.env,
                          capture_output=True, text=True, timeout=30)
    out = proc.stdout
    assert proc.returncode == 0 and "Done discovering" in out, f"{path}:\n{out}\n{proc.stderr}"
    m = re.search(r"Duration: (\d+):(\d\d):(\d\d\.\d+)", out)
    assert m, out
    duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    return {"duration": duration,
            "video": len(re.findall(r"^\s*video #\d+:", out, re.M)),
            "audio": len(re.findall(r"^\s*audio #\d+:", out, re.M)),
            "text": out}


def decode_luma(launcher, path: Path, tmp: Path) -> np.ndarray:
    """Every frame of a video file, decoded, as (frames, HEIGHT, WIDTH) luma."""
    raw = tmp / (path.name + ".gray")
    run_gst(launcher, f"filesrc location={path} ! decodebin ! videoconvert ! "
            f"video/x-raw,format=GRAY8,width={WIDTH},height={HEIGHT} ! filesink location={raw}",
            name=f"decode-{path.name}")
    data = np.fromfile(raw, np.uint8)
    assert data.size % (WIDTH * HEIGHT) == 0
    return data.reshape(-1, HEIGHT, WIDTH)


def ball_luma(launcher, frames: int, tmp: Path) -> np.ndarray:
    """What videotestsrc pattern=ball makes, frame by frame, as luma."""
    raw = tmp / f"ball{frames}.gray"
    run_gst(launcher, f"videotestsrc num-buffers={frames} pattern=ball ! {I420} ! videoconvert ! "
            f"video/x-raw,format=GRAY8 ! filesink location={raw}", name="reference")
    return np.fromfile(raw, np.uint8).reshape(frames, HEIGHT, WIDTH)


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PSNR in dB of a (H, W) frame against each of b's (N, H, W) frames."""
    mse = ((b.astype(np.float64) - a.astype(np.float64)) ** 2).mean(axis=(-2, -1))
    return 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))


def match_frames(decoded: np.ndarray, reference: np.ndarray, first_window: int = 15) -> list[int]:
    """The reference frame each decoded frame shows. The first may be any of
    the first `first_window` (a consumer can join a little late); each next
    one must be the frame right after the previous. Fails on the first frame
    that is not."""
    matched: list[int] = []
    for i, frame in enumerate(decoded):
        lo = matched[-1] + 1 if matched else 0
        hi = lo + 1 if matched else min(first_window, len(reference))
        assert lo < len(reference), f"decoded frame {i} is beyond the {len(reference)} sent"
        scores = psnr(frame, reference[lo:hi])
        best = int(np.argmax(scores))
        if scores[best] < SAME_FRAME_PSNR:
            whole = psnr(frame, reference)
            closest = (f"reference frame {int(np.argmax(whole))} ({whole.max():.1f} dB)"
                       if whole.max() >= SAME_FRAME_PSNR else
                       f"none: at best {whole.max():.1f} dB (decoded without the frames it "
                       "refers to: the recording lost its start?)")
            raise AssertionError(
                f"decoded frame {i} of {len(decoded)} is not reference frame {lo} "
                f"({scores[best]:.1f} dB); it shows {closest}; frames matched before it: "
                f"{len(matched)}")
        matched.append(lo + best)
    return matched


@pytest.fixture(scope="module")
def handover_mp4(tmp_path_factory):
    """in.mp4 of the README's hand-over: 150 frames of the ball, x264enc."""
    d = tmp_path_factory.mktemp("handover")
    path = d / "in.mp4"
    subprocess.run(["gst-launch-1.0", "-q", "videotestsrc", "num-buffers=150", "pattern=ball", "!",
                    I420, "!", "x264enc", "!", "mp4mux", "!", "filesink", f"location={path}"],
                   check=True, timeout=60, capture_output=True)
    return path


# --------------------------------------------- the live recording (README)

def test_live_recording_keeps_every_frame_and_counts_the_copies_for_the_lookahead(
        launcher, sock_dir, tmp_path):
    """x264enc keeps its lookahead (more than consumer-quota's default 8):
    zcipcsrc copies the frames beyond the quota instead of waiting for
    releases that only come with more frames; all 240 are recorded."""
    sock, rec = sock_dir / "s", tmp_path / "rec.mp4"
    report = consume(launcher, f"zcipcsrc name=src socket-path={sock} ! videoconvert ! "
                     f"x264enc name=enc ! mp4mux ! filesink location={rec}",
                     [f"videotestsrc is-live=true num-buffers=240 pattern=ball ! {I420} ! "
                      f"zcipcsink socket-path={sock}"], count=["enc"])
    stats = report["stats"]["src"]
    # The consumer polls for the socket: it may join a frame or two late.
    assert stats["frames-received"] >= 236, stats
    assert stats["frames-dropped"] == 0, stats
    assert report["counts"]["enc"] == stats["frames-received"]
    assert stats["quota"] == 8, f"the quota asked for the lookahead, capped by consumer-quota: {stats}"
    assert_copies_counted(report, frame_size=I420_FRAME)

    info = discover(launcher, rec)
    assert info["video"] == 1, info["text"]
    decoded = decode_luma(launcher, rec, tmp_path)
    assert len(decoded) == stats["frames-received"]
    assert abs(info["duration"] - len(decoded) / 30) < 0.1, info["text"]
    matched = match_frames(decoded, ball_luma(launcher, 240, tmp_path))
    assert matched[-1] == 239


def test_readme_live_recording_stopped_with_ctrl_c_keeps_what_it_received(
        launcher, sock_dir, tmp_path):
    """`gst-launch-1.0 zcipcsrc ... ! x264enc ! mp4mux ! filesink ... -e`,
    stopped with Ctrl-C while the producer still runs: a playable mp4 with
    every frame up to then, not the 2 that fit in max-held."""
    sock, rec = sock_dir / "s", tmp_path / "rec.mp4"
    consumer = launcher.launch(README_RECORDING.format(sock=sock, out=rec), name="consumer",
                               eos_on_shutdown=True)
    producer = launcher.launch(f"videotestsrc is-live=true num-buffers=600 pattern=ball ! {I420} ! "
                               f"zcipcsink socket-path={sock}", name="producer")
    wait_for_path(sock)
    started = time.monotonic()
    time.sleep(4.0)
    consumer.kill(signal.SIGINT)
    ran = time.monotonic() - started
    assert consumer.wait(20) == 0, consumer.describe()
    producer.kill(signal.SIGINT)
    producer.wait(20)

    info = discover(launcher, rec)
    assert info["video"] == 1, info["text"]
    decoded = decode_luma(launcher, rec, tmp_path)
    # ~30 frames a second while both ran; the producer's start-up and the
    # EOS's way through the pipeline take some of the 4 s.
    assert len(decoded) >= 30 * (ran - 1.5), f"{len(decoded)} frames recorded in {ran:.1f} s"
    assert abs(info["duration"] - len(decoded) / 30) < 0.1, info["text"]
    match_frames(decoded, ball_luma(launcher, 600, tmp_path))


# ----------------------------------------- the lossless hand-over (README)

def test_readme_lossless_handover_records_every_frame_and_both_exit(
        launcher, sock_dir, tmp_path, handover_mp4):
    """The README's two lines, as a user types them (the consumer in another
    terminal, a moment after the producer): both processes end by themselves
    and out.mp4 has the 150 frames of in.mp4, from the first."""
    sock, out = sock_dir / "v", tmp_path / "out.mp4"
    producer = launcher.launch(README_HANDOVER_PRODUCER.format(src=handover_mp4, sock=sock),
                               name="producer")
    wait_for_path(sock)
    time.sleep(1.0)
    consumer = launcher.launch(README_RECORDING.format(sock=sock, out=out), name="consumer")
    assert consumer.wait(30) == 0, consumer.describe() + "\n" + producer.describe()
    assert producer.wait(10) == 0, producer.describe()

    decoded = decode_luma(launcher, out, tmp_path)
    matched = match_frames(decoded, decode_luma(launcher, handover_mp4, tmp_path), first_window=1)
    assert matched == list(range(150))
    info = discover(launcher, out)
    assert abs(info["duration"] - 5.0) < 0.1, info["text"]


def test_lossless_handover_consumer_is_never_cut_off(launcher, sock_dir, tmp_path, handover_mp4):
    """slow-consumer=wait drops a consumer that holds its quota for
    wait-timeout (2 s): x264enc's lookahead must not make zcipcsrc that
    consumer. It connects once, receives all 150 frames, copies the ones
    beyond its quota."""
    sock, out = sock_dir / "v", tmp_path / "out.mp4"
    producer = launcher.launch(README_HANDOVER_PRODUCER.format(src=handover_mp4, sock=sock),
                               name="producer")
    wait_for_path(sock)
    consumer = start_consumer(launcher, f"zcipcsrc name=src socket-path={sock} ! videoconvert ! "
                              f"x264enc ! mp4mux ! filesink location={out}", timeout=20)
    report = finish_consumer(consumer, 30)
    assert producer.wait(10) == 0, producer.describe()
    stats = report["stats"]["src"]
    assert report["connected"]["src"] == 1, report
    assert stats["reconnects"] == 0, stats
    assert stats["frames-received"] == 150 and stats["frames-dropped"] == 0, stats
    # avdec_h264's frames come padded (149760 bytes for 115200 of picture):
    # a copy takes at least the picture.
    assert_copies_counted(report)
    assert stats["bytes-copied"] >= stats["frames-copied"] * I420_FRAME, stats
    decoded = decode_luma(launcher, out, tmp_path)
    matched = match_frames(decoded, decode_luma(launcher, handover_mp4, tmp_path), first_window=1)
    assert matched == list(range(150))


# ------------------------------------------------- filesink, wavenc, queue

def test_wavenc_to_filesink_keeps_every_sample(launcher, sock_dir, tmp_path):
    """`zcipcsrc ! audioconvert ! wavenc ! filesink`: filesink gathers 64 KiB
    (32 buffers of 1024 samples) before it writes. The wav file is the one
    the same chain writes without zcipc, byte for byte."""
    sock, out, direct = sock_dir / "a", tmp_path / "out.wav", tmp_path / "direct.wav"
    audio = ("audiotestsrc num-buffers=100 samplesperbuffer=1024 ! "
             "audio/x-raw,format=S16LE,rate=48000,channels=1")
    run_gst(launcher, f"{audio} ! audioconvert ! wavenc ! filesink location={direct}")
    report = consume(launcher, f"zcipcsrc name=src socket-path={sock} ! audioconvert ! "
                     f"wavenc ! filesink location={out}",
                     [f"{audio} ! zcipcsink socket-path={sock} {LOSSLESS}"])
    stats = report["stats"]["src"]
    assert stats["frames-received"] == 100 and stats["frames-dropped"] == 0, stats
    assert direct.stat().st_size > 102400 * 2  # a header, then every sample
    assert out.stat().st_size == direct.stat().st_size
    assert out.read_bytes() == direct.read_bytes()
    assert_copies_counted(report, frame_size=2048)


def test_filesink_of_an_h264_byte_stream_writes_every_frame(launcher, sock_dir, tmp_path):
    """`zcipcsrc ! filesink` of small encoded frames, in filesink's default
    buffer mode (it keeps the buffers of 64 KiB): the file is byte for byte
    what the producer's chain writes to filesink directly. (The producer
    sends an encoded file, one access unit a buffer: x264enc's output can
    differ from run to run.)"""
    sock, src, out = sock_dir / "h", tmp_path / "in.264", tmp_path / "out.264"
    run_gst(launcher, f"videotestsrc num-buffers=150 ! video/x-raw,width={WIDTH},height={HEIGHT},"
            f"framerate=60/1 ! x264enc ! video/x-h264,stream-format=byte-stream ! "
            f"filesink location={src}", name="encode")
    direct = tmp_path / "direct.264"
    parsed = (f"filesrc location={src} ! h264parse ! "
              "video/x-h264,stream-format=byte-stream,alignment=au")
    run_gst(launcher, f"{parsed} ! filesink location={direct}")
    report = consume(launcher, f"zcipcsrc name=src socket-path={sock} ! "
                     f"filesink name=sink location={out}",
                     [f"{parsed} ! zcipcsink socket-path={sock} {LOSSLESS}"], count=["sink"])
    stats = report["stats"]["src"]
    assert stats["frames-received"] == 150 and stats["frames-dropped"] == 0, stats
    assert report["counts"]["sink"] == 150
    assert out.read_bytes() == direct.read_bytes(), (
        f"{out.stat().st_size} bytes written, {direct.stat().st_size} expected")
    assert_copies_counted(report)


@pytest.mark.parametrize("width,height,copies", [(320, 240, False), (80, 60, True)],
                         ids=["frames-above-64KiB-zero-copy", "small-frames-copied"])
def test_filesink_of_raw_video_writes_every_frame(launcher, sock_dir, tmp_path,
                                                  width, height, copies):
    """`zcipcsrc ! filesink` of raw video. A frame larger than filesink's
    64 KiB is written at once (nothing kept: zero copy); small ones are
    gathered (more than the quota: copied). Either way the file is the
    frames, byte for byte."""
    sock, out, direct = sock_dir / "r", tmp_path / "out.raw", tmp_path / "direct.raw"
    raw = (f"videotestsrc num-buffers=90 pattern=ball ! "
           f"video/x-raw,format=I420,width={width},height={height},framerate=60/1")
    run_gst(launcher, f"{raw} ! filesink location={direct}")
    report = consume(launcher, f"zcipcsrc name=src socket-path={sock} ! filesink location={out}",
                     [f"{raw} ! zcipcsink socket-path={sock} {LOSSLESS}"])
    stats = report["stats"]["src"]
    assert stats["frames-received"] == 90 and stats["frames-dropped"] == 0, stats
    assert out.read_bytes() == direct.read_bytes()
    if copies:
        assert_copies_counted(report, frame_size=width * height * 3 // 2)
    else:
        assert_zero_copy(report)


@pytest.mark.parametrize("threshold", [3, 20])
def test_queue_with_a_threshold_passes_every_frame(launcher, sock_dir, threshold):
    """`zcipcsrc ! queue min-threshold-buffers=N ! fakesink`: the queue lets
    nothing out before it holds N buffers. Every frame arrives; beyond the
    default quota (2 + 1) the frames are copied and counted."""
    sock = sock_dir / "q"
    report = consume(launcher, f"zcipcsrc name=src socket-path={sock} ! "
                     f"queue min-threshold-buffers={threshold} ! fakesink name=sink",
                     [f"videotestsrc num-buffers=60 ! {I420} ! zcipcsink socket-path={sock} "
                      f"{LOSSLESS}"], count=["sink"])
    stats = report["stats"]["src"]
    assert report["counts"]["sink"] == 60, report
    assert stats["frames-received"] == 60 and stats["frames-dropped"] == 0, stats
    if threshold > stats["quota"]:
        assert_copies_counted(report, frame_size=I420_FRAME)
    else:
        # Whether the last frame of the quota is lent or copied is zcipcsrc's
        # call; what it copies is counted exactly.
        assert "frames-copied" in stats, stats
        assert stats["bytes-copied"] == stats["frames-copied"] * I420_FRAME, stats


# --------------------------------------------- an aggregator, two producers

def test_matroskamux_of_audio_and_video_from_two_producers_finishes(launcher, sock_dir, tmp_path):
    """matroskamux waits for both inputs before it writes either (audio
    waits in its queue for the video that x264enc's lookahead keeps back),
    filesink gathers small blocks: with two zcipcsrc (video and audio from
    two producer processes) it finishes, and the mkv holds both streams
    whole: every video frame, the audio byte for byte."""
    vsock, asock, out = sock_dir / "v", sock_dir / "a", tmp_path / "out.mkv"
    video = f"videotestsrc num-buffers=90 pattern=ball ! {I420}"
    audio = ("audiotestsrc num-buffers=90 samplesperbuffer=1600 ! "
             "audio/x-raw,format=S16LE,rate=48000,channels=1")
    report = consume(launcher, f"matroskamux name=mux ! filesink location={out} "
                     f"zcipcsrc name=vsrc socket-path={vsock} ! videoconvert ! x264enc ! queue ! mux. "
                     f"zcipcsrc name=asrc socket-path={asock} ! audioconvert ! queue ! mux.",
                     [f"{video} ! zcipcsink socket-path={vsock} {LOSSLESS}",
                      f"{audio} ! zcipcsink socket-path={asock} {LOSSLESS}"])
    for src in ("vsrc", "asrc"):
        stats = report["stats"][src]
        assert stats["frames-received"] == 90 and stats["frames-dropped"] == 0, (src, report)
    assert_copies_counted(report, "vsrc", frame_size=I420_FRAME)
    astats = report["stats"]["asrc"]
    assert "frames-copied" in astats, astats
    assert astats["bytes-copied"] == astats["frames-copied"] * 3200, astats

    info = discover(launcher, out)
    assert info["video"] == 1 and info["audio"] == 1, info["text"]
    assert abs(info["duration"] - 3.0) < 0.1, info["text"]
    araw, adirect = tmp_path / "a.raw", tmp_path / "adirect.raw"
    run_gst(launcher, f"filesrc location={out} ! matroskademux ! audio/x-raw ! "
            f"filesink location={araw}", name="demux-audio")
    run_gst(launcher, f"{audio} ! filesink location={adirect}")
    assert araw.stat().st_size == 90 * 1600 * 2
    assert araw.read_bytes() == adirect.read_bytes()
    decoded = decode_luma(launcher, out, tmp_path)
    assert len(decoded) == 90
    assert match_frames(decoded, ball_luma(launcher, 90, tmp_path), first_window=1) == list(range(90))


# ------------------------------------------------------------------ OpenCV

def test_opencv_videocapture_reads_every_frame_with_its_pixels(launcher, sock_dir, tmp_path):
    """cv2.VideoCapture('zcipcsrc ... ! videoconvert ! video/x-raw,format=BGR
    ! appsink', cv2.CAP_GSTREAMER): every frame, the pixels the producer made
    (compared with the same capture of the producer's chain, no zcipc)."""
    sock, got, ref = sock_dir / "cv", tmp_path / "got.npy", tmp_path / "ref.npy"
    head = ("videotestsrc num-buffers=60 pattern=ball ! "
            f"video/x-raw,format=RGBA,width={WIDTH},height={HEIGHT},framerate=30/1")
    tail = "videoconvert ! video/x-raw,format=BGR ! appsink"
    reference = launcher.run([sys.executable, str(HERE / "opencv_capture.py"),
                              "--pipeline", f"{head} ! {tail}", "--out", str(ref)], name="reference")
    assert reference.wait(60) == 0, reference.describe()
    producer = launcher.launch(f"{head} ! zcipcsink socket-path={sock} {LOSSLESS}",
                               name="producer")
    capture = launcher.run([sys.executable, str(HERE / "opencv_capture.py"),
                            "--pipeline", f"zcipcsrc socket-path={sock} ! {tail}",
                            "--out", str(got)], name="capture")
    assert capture.wait(30) == 0, capture.describe()
    assert producer.wait(10) == 0, producer.describe()
    expected, frames = np.load(ref), np.load(got)
    assert expected.shape == (60, HEIGHT, WIDTH, 3)
    assert frames.shape == expected.shape, capture.describe()
    for i in range(60):
        assert np.array_equal(frames[i], expected[i]), f"frame {i} differs"


def test_opencv_videowriter_publishes_frames_a_consumer_reads_pixel_for_pixel(
        launcher, sock_dir, tmp_path):
    """cv2.VideoWriter('appsrc ! videoconvert ! zcipcsink ...',
    cv2.CAP_GSTREAMER, 0, fps, size) as the producer, a zcipcsrc consumer
    (OpenCV too): every frame written arrives with its pixels."""
    sys.path.insert(0, str(HERE))
    from opencv_writer import frame
    sock, got = sock_dir / "cvw", tmp_path / "got.npy"
    capture = launcher.run([sys.executable, str(HERE / "opencv_capture.py"), "--pipeline",
                            f"zcipcsrc socket-path={sock} ! videoconvert ! "
                            "video/x-raw,format=BGR ! appsink", "--out", str(got)], name="capture")
    writer = launcher.run([sys.executable, str(HERE / "opencv_writer.py"), "--pipeline",
                           f"appsrc ! videoconvert ! zcipcsink socket-path={sock} {LOSSLESS}",
                           "--frames", "60", "--width", str(WIDTH), "--height", str(HEIGHT)],
                          name="writer")
    assert writer.wait(30) == 0, writer.describe()
    assert json.loads(writer.stdout().strip().splitlines()[-1])["frames"] == 60
    assert capture.wait(20) == 0, capture.describe()
    frames = np.load(got)
    assert frames.shape == (60, HEIGHT, WIDTH, 3), capture.describe()
    for i in range(60):
        assert np.array_equal(frames[i], frame(i, WIDTH, HEIGHT)), f"frame {i} differs"


# ------------------------------------------------------------- zero copy

@pytest.mark.parametrize("tail", [
    "fakesink name=sink",
    "videoconvert ! video/x-raw,format=RGBA ! fakesink name=sink",
], ids=["fakesink", "videoconvert-to-RGBA"])
def test_downstream_that_keeps_no_more_than_the_quota_gets_every_frame_zero_copy(
        launcher, sock_dir, tail):
    """fakesink keeps its last sample and the one it renders; videoconvert
    lets go of its input once converted: within the default quota, so every
    frame arrives from shared memory, none copied, nothing said."""
    sock = sock_dir / "z"
    report = consume(launcher, f"zcipcsrc name=src socket-path={sock} ! {tail}",
                     [f"videotestsrc num-buffers=60 pattern=ball ! {I420} ! "
                      f"zcipcsink socket-path={sock} {LOSSLESS}"], count=["sink"])
    stats = report["stats"]["src"]
    assert report["counts"]["sink"] == 60, report
    assert stats["frames-received"] == 60 and stats["frames-dropped"] == 0, stats
    assert_zero_copy(report)
