# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Python finds streams by name and by URI, and zcipc.streams() lists what
the device monitor lists: real producer processes, a real stream directory."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

import pyhelpers
import zcipc

CAPS = "video/x-raw,format=RGBA,width=64,height=48,framerate=100/1"
RED = bytes([255, 0, 0, 255])  # videotestsrc pattern=red in RGBA


@pytest.fixture
def stream_env(xdg_runtime_dir, monkeypatch):
    """This process and the producers it starts share a fresh stream
    directory."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg_runtime_dir))
    return {"XDG_RUNTIME_DIR": str(xdg_runtime_dir)}


def named_producer(launcher, env, name, source="videotestsrc is-live=true pattern=red",
                   caps=CAPS):
    proc = launcher.launch(f"{source} ! {caps} ! zcipcsink stream-name={name}",
                           name=f"producer-{name}", extra_env=env)
    socket = os.path.join(env["XDG_RUNTIME_DIR"], "zcipc", name)
    pyhelpers.wait_for_socket(proc, Path(socket))
    return proc, socket


def first_frames(stream, n=3):
    with zcipc.Consumer(stream, timeout=10) as consumer:
        frames = []
        for frame in consumer:
            image = frame.numpy()
            assert image.shape == (48, 64, 4)
            assert np.array_equal(image[0, 0], np.frombuffer(RED, np.uint8))
            frames.append(frame.pts)
            del image, frame
            if len(frames) == n:
                return consumer.socket_path, frames
    raise AssertionError("the stream ended early")


@pytest.mark.parametrize("form", ["name", "uri", "path-uri", "path", "socket_path="])
def test_a_consumer_finds_a_named_stream_every_way(launcher, stream_env, form):
    _, socket = named_producer(launcher, stream_env, "cam0")
    stream = {"name": "cam0", "uri": "zcipc://cam0", "path-uri": f"zcipc://{socket}",
              "path": socket, "socket_path=": None}[form]
    if form == "socket_path=":
        with zcipc.Consumer(socket_path=socket, timeout=10) as consumer:
            frame = next(iter(consumer))
            assert frame.numpy().shape == (48, 64, 4)
            return
    resolved, pts = first_frames(stream)
    # zcipcsrc says which socket a name or URI led to.
    assert resolved == socket
    assert pts == sorted(pts)


def test_a_python_producer_publishes_under_a_name(launcher, stream_env):
    caps = "video/x-raw,format=GRAY8,width=32,height=16,framerate=30/1"
    with zcipc.Producer("pycam", caps, min_consumers=1) as producer:
        socket = os.path.join(stream_env["XDG_RUNTIME_DIR"], "zcipc", "pycam")
        assert os.path.exists(socket)
        assert oct(os.stat(os.path.dirname(socket)).st_mode & 0o777) == "0o700"
        with zcipc.Consumer("zcipc://pycam", timeout=10) as consumer:
            with producer.frame() as image:
                image[:] = 7
            frame = consumer.pull(timeout=10)
            assert frame is not None and (frame.numpy() == 7).all()


@pytest.mark.parametrize("bad", ["cam:0", "cam 0", ".hidden", "zcipc://a/b",
                                 "zcipc://cam0?x=1", "zcipc:relative"])
def test_a_bad_name_or_uri_is_refused_with_a_reason(stream_env, bad):
    with pytest.raises((ValueError, zcipc.Error)) as info:
        with zcipc.Consumer(bad, timeout=1) as consumer:
            next(iter(consumer))
    assert str(info.value)


def test_stream_and_socket_path_together_is_a_type_error():
    with pytest.raises(TypeError):
        zcipc.Consumer("cam0", socket_path="/tmp/x")
    with pytest.raises(TypeError):
        zcipc.Consumer()


def test_streams_lists_live_producers_with_name_path_caps_pid(launcher, stream_env):
    assert zcipc.streams() == []
    video, video_socket = named_producer(launcher, stream_env, "cam0")
    audio, audio_socket = named_producer(
        launcher, stream_env, "mic0", source="audiotestsrc is-live=true",
        caps="audio/x-raw,format=S16LE,rate=48000,channels=2")
    deadline = time.monotonic() + 10
    while True:
        found = {s.name: s for s in zcipc.streams()}
        if len(found) == 2 and all(s.caps.is_fixed() for s in found.values()):
            break
        assert time.monotonic() < deadline, found
        time.sleep(0.1)
    cam = found["cam0"]
    assert cam.path == video_socket
    assert cam.pid == video.popen.pid
    assert cam.uri == "zcipc://cam0"
    assert cam.caps.get_structure(0).get_value("format") == "RGBA"
    mic = found["mic0"]
    assert mic.path == audio_socket and mic.pid == audio.popen.pid
    assert mic.caps.get_structure(0).get_name() == "audio/x-raw"
    # What streams() gives is what a Consumer takes.
    resolved, _ = first_frames(cam.uri, n=1)
    assert resolved == cam.path
    # A producer killed leaves a stale socket behind: not a stream.
    video.popen.kill()
    video.popen.wait(10)
    assert os.path.exists(video_socket)
    assert [s.name for s in zcipc.streams()] == ["mic0"]
