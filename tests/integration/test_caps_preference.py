# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""zcipcsink prefers the raw video formats consumers commonly expect (issue
17): a real `gst-launch-1.0 videotestsrc ! zcipcsink` with no capsfilter
publishes one of them, and a consumer in another process receives it; caps
an upstream insists on (Y444, audio, JPEG) still cross."""

from __future__ import annotations

import re

import pytest

from zcipctest import checksums, wait_for_path

# The order zcipcsink documents (docs/design.md, "Caps").
PREFERRED = ["RGBA", "RGB", "BGRx", "I420", "NV12", "GRAY8"]
LOSSLESS = "min-consumers=1 slow-consumer=wait sync=false"
CONSUMER_CAPS = re.compile(r"GstZcipcSrc:zcipcsrc0\.GstPad:src: caps = (.*)$", re.MULTILINE)


def consumer_caps(launcher, sock, head: str, frames: int = 3) -> str:
    """The caps a consumer process receives from `head ! zcipcsink`, after
    checking that all `frames` frames reached it."""
    producer = launcher.launch(f"{head} ! zcipcsink socket-path={sock} {LOSSLESS}",
                               name="producer")
    wait_for_path(sock)
    consumer = launcher.launch(f"-v zcipcsrc socket-path={sock} ! checksumsink sync=false",
                               name="consumer", quiet=False)
    assert consumer.wait(60) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    out = consumer.stdout()
    assert len(checksums(out)) == frames, consumer.describe()
    caps = CONSUMER_CAPS.findall(out)
    assert caps, consumer.describe()
    return caps[0]


def caps_format(caps: str) -> str:
    m = re.search(r"format=\(string\)(\w+)", caps)
    assert m, caps
    return m.group(1)


@pytest.mark.parametrize("head", [
    "videotestsrc num-buffers=3",
    "videotestsrc num-buffers=3 ! videoconvert",
], ids=["videotestsrc", "videoconvert"])
def test_unconstrained_upstream_publishes_a_preferred_format(launcher, sock_dir, head):
    caps = consumer_caps(launcher, sock_dir / "s", head)
    assert caps.startswith("video/x-raw, ")
    assert caps_format(caps) in PREFERRED, caps
    # The first one videotestsrc can make: RGBA, 4 bytes a pixel (not the
    # ABGR64_LE it picks on its own, 8).
    assert caps_format(caps) == "RGBA"


@pytest.mark.parametrize("head,media,fmt", [
    ("videotestsrc num-buffers=3 ! video/x-raw,format=Y444", "video/x-raw", "Y444"),
    ("audiotestsrc num-buffers=3", "audio/x-raw", "S16LE"),
    ("videotestsrc num-buffers=3 ! jpegenc", "image/jpeg", None),
], ids=["Y444", "audio", "jpeg"])
def test_caps_upstream_insists_on_still_cross(launcher, sock_dir, head, media, fmt):
    caps = consumer_caps(launcher, sock_dir / "s", head)
    assert caps.startswith(media + ","), caps
    if fmt:
        assert caps_format(caps) == fmt
