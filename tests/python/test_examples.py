# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""examples/python/torch_consumer.py on real streams, in each pixel order it
accepts."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

import pyhelpers
import zcipc

EXAMPLE = pyhelpers.HERE.parents[1] / "examples" / "python" / "torch_consumer.py"
LOSSLESS_GST = "min-consumers=1 slow-consumer=wait sync=false"
FORMATS = ["RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "GRAY8"]


def _example():
    spec = importlib.util.spec_from_file_location("torch_consumer", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("fmt", FORMATS)
def test_torch_consumer_runs_on_a_live_stream(launcher, sock_dir, fmt):
    sock = sock_dir / "s"
    pyhelpers.gst_producer(launcher, sock, "videotestsrc is-live=true",
                           f"video/x-raw,format={fmt},width=160,height=120,framerate=30/1")
    proc = launcher.run([sys.executable, str(EXAMPLE), "--socket-path", str(sock),
                         "--frames", "20"], name="example")
    assert proc.wait(60) == 0, proc.describe()
    assert proc.stdout().splitlines()[-1] == "20 frames", proc.describe()


def _model_input(launcher, sock, fmt: str, source: str) -> torch.Tensor:
    to_input = _example().to_input
    pyhelpers.gst_producer(launcher, sock, f"{source} num-buffers=1",
                           f"video/x-raw,format={fmt},width=64,height=48", LOSSLESS_GST,
                           name=f"producer-{fmt}")
    with zcipc.Consumer(str(sock)) as consumer:
        frame = next(iter(consumer))
        return to_input(frame.torch(), frame.format)


@pytest.mark.parametrize("fmt", ["RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx"])
def test_torch_consumer_gives_the_model_red_green_blue_in_every_pixel_order(
        launcher, sock_dir, fmt):
    # ARGB 0xff204080: red 0x20, green 0x40, blue 0x80, whatever the byte order.
    got = _model_input(launcher, sock_dir / fmt, fmt,
                       "videotestsrc pattern=solid-color foreground-color=0xff204080")
    assert got.shape == (1, 3, 48, 64)
    for channel, value in enumerate((0x20, 0x40, 0x80)):
        assert torch.all(got[0, channel] == value / 255.0), (channel, got[0, channel, 0, :4])
    reference = _model_input(launcher, sock_dir / f"{fmt}-rgb", "RGB", "videotestsrc pattern=smpte")
    assert torch.equal(_model_input(launcher, sock_dir / f"{fmt}-smpte", fmt,
                                    "videotestsrc pattern=smpte"), reference)
