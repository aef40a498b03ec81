# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Named streams and zcipc:// URIs across real processes: a producer by
name, consumers by name and by URI (gst-launch, playbin, gst-play-1.0,
urisourcebin), the per-user stream directory and the mistakes it refuses."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path

import pytest

import gi

gi.require_version("Gst", "1.0")
from gi.repository import GLib, Gst  # noqa: E402

from zcipctest import GST_LAUNCH, checksums, wait_for_path  # noqa: E402

HERE = Path(__file__).resolve().parent

Gst.init(None)

LOSSLESS = "min-consumers=1 slow-consumer=wait sync=false"
HEAD = ("videotestsrc num-buffers=30 pattern=ball ! "
        "video/x-raw,format=RGBA,width=160,height=120,framerate=30/1")
NAME_RULES = "a stream name is 1 to 64 letters, digits, '.', '_' or '-'"


def env_of(xdg: Path) -> dict[str, str]:
    return {"XDG_RUNTIME_DIR": str(xdg)}


def expected_checksums(launcher) -> list[str]:
    ref = launcher.launch(f"{HEAD} ! checksumsink sync=false", name="reference")
    assert ref.wait(60) == 0, ref.describe()
    sums = [sha for _, sha in checksums(ref.stdout())]
    assert len(sums) == 30
    return sums


def start_producer(launcher, xdg: Path, name: str = "cam0", opts: str = LOSSLESS):
    producer = launcher.launch(f"{HEAD} ! zcipcsink stream-name={name} {opts}",
                               name="producer", extra_env=env_of(xdg))
    wait_for_path(xdg / "zcipc" / name)
    return producer


def failed_with(proc, timeout: float = 30) -> str:
    """Waits for `proc` to fail (gst-launch-1.0 exits with 255 when the
    pipeline cannot start, 1 on an error while running); returns the first
    error it printed, the element's own (basesrc and basesink add a generic
    one after it)."""
    rc = proc.wait(timeout)
    out = proc.stdout() + proc.stderr()
    assert rc in (1, 255), f"exit status {rc}:\n{proc.describe()}"
    errors = [line for line in out.splitlines() if line.startswith("ERROR: from element")]
    assert errors, proc.describe()
    return errors[0]


def mode_of(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# ------------------------------------------------------------ names


def test_a_stream_published_by_name_is_received_by_name_byte_for_byte(launcher,
                                                                     xdg_runtime_dir):
    expected = expected_checksums(launcher)
    producer = start_producer(launcher, xdg_runtime_dir)
    sock = xdg_runtime_dir / "zcipc" / "cam0"
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    consumer = launcher.launch("zcipcsrc stream-name=cam0 ! checksumsink sync=false",
                               name="consumer", extra_env=env_of(xdg_runtime_dir))
    assert consumer.wait(60) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    assert [sha for _, sha in checksums(consumer.stdout())] == expected


def test_the_stream_directory_is_made_0700_whatever_the_umask(launcher, xdg_runtime_dir):
    producer = launcher.run(["sh", "-c", f"umask 0; exec {GST_LAUNCH} -q {HEAD} ! "
                             f"zcipcsink stream-name=cam0 {LOSSLESS}"],
                            name="producer", extra_env=env_of(xdg_runtime_dir))
    wait_for_path(xdg_runtime_dir / "zcipc" / "cam0")
    directory = xdg_runtime_dir / "zcipc"
    st = os.lstat(directory)
    assert stat.S_ISDIR(st.st_mode)
    assert mode_of(directory) == 0o700
    assert st.st_uid == os.getuid()
    consumer = launcher.launch("zcipcsrc stream-name=cam0 ! fakesink",
                               name="consumer", extra_env=env_of(xdg_runtime_dir))
    assert consumer.wait(60) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()


def test_a_consumer_started_before_the_directory_exists_waits_for_the_producer(
        launcher, xdg_runtime_dir):
    expected = expected_checksums(launcher)
    consumer = launcher.launch("zcipcsrc stream-name=cam0 ! checksumsink sync=false",
                               name="consumer", extra_env=env_of(xdg_runtime_dir))
    time.sleep(1.5)
    assert consumer.popen.poll() is None, consumer.describe()
    assert not (xdg_runtime_dir / "zcipc").exists()
    producer = start_producer(launcher, xdg_runtime_dir)
    assert consumer.wait(60) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    assert [sha for _, sha in checksums(consumer.stdout())] == expected


def test_a_directory_made_badly_while_a_consumer_waits_is_refused_after_connecting(
        launcher, xdg_runtime_dir):
    """Nobody checked a directory missing at start(): the consumer checks it
    once connected, before it takes a frame from whoever listens there."""
    consumer = launcher.launch("zcipcsrc stream-name=cam0 ! fakesink", name="consumer",
                               extra_env=env_of(xdg_runtime_dir))
    time.sleep(1.0)
    directory = xdg_runtime_dir / "zcipc"
    directory.mkdir()
    directory.chmod(0o777)
    # A producer by explicit path takes no look at the directory.
    producer = launcher.launch("videotestsrc is-live=true ! video/x-raw,width=64,height=48 ! "
                               f"zcipcsink socket-path={directory / 'cam0'}", name="squatter")
    out = failed_with(consumer)
    assert (f"The stream directory '{directory}' (the zcipc directory in $XDG_RUNTIME_DIR) "
            "can be written by other users (mode 0777)") in out, out
    producer.kill()


def test_another_users_stream_directory_is_refused_by_both_sides(launcher, xdg_runtime_dir):
    if os.getuid() != 0:
        pytest.skip("making a directory owned by another uid needs root")
    directory = xdg_runtime_dir / "zcipc"
    directory.mkdir(mode=0o700)
    os.chown(directory, 65534, 65534)
    for pipeline in (f"{HEAD} ! zcipcsink stream-name=cam0",
                     "zcipcsrc stream-name=cam0 ! fakesink"):
        out = failed_with(launcher.launch(pipeline, extra_env=env_of(xdg_runtime_dir)))
        assert (f"The stream directory '{directory}' (the zcipc directory in "
                f"$XDG_RUNTIME_DIR) belongs to uid 65534, not to this user (uid 0)") in out, out
        assert f"rm -r '{directory}'" in out, out
    assert os.listdir(directory) == []


@pytest.mark.parametrize("mode", [0o770, 0o707, 0o1777])
def test_a_stream_directory_others_can_write_is_refused_by_both_sides(launcher,
                                                                     xdg_runtime_dir, mode):
    directory = xdg_runtime_dir / "zcipc"
    directory.mkdir()
    directory.chmod(mode)
    for pipeline in (f"{HEAD} ! zcipcsink stream-name=cam0",
                     "zcipcsrc stream-name=cam0 ! fakesink"):
        out = failed_with(launcher.launch(pipeline, extra_env=env_of(xdg_runtime_dir)))
        assert (f"The stream directory '{directory}' (the zcipc directory in "
                f"$XDG_RUNTIME_DIR) can be written by other users (mode {mode:04o})") in out, out
        assert f"run chmod 0700 '{directory}'" in out, out
    # Refused, not repaired.
    assert mode_of(directory) == mode
    assert os.listdir(directory) == []


def test_a_symlink_as_the_stream_directory_is_refused(launcher, xdg_runtime_dir):
    elsewhere = xdg_runtime_dir / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (xdg_runtime_dir / "zcipc").symlink_to(elsewhere)
    for pipeline in (f"{HEAD} ! zcipcsink stream-name=cam0",
                     "zcipcsrc stream-name=cam0 ! fakesink"):
        out = failed_with(launcher.launch(pipeline, extra_env=env_of(xdg_runtime_dir)))
        assert f"'{xdg_runtime_dir / 'zcipc'}' (the zcipc directory in " \
               "$XDG_RUNTIME_DIR) is a symbolic link" in out, out
    assert os.listdir(elsewhere) == []


@pytest.mark.parametrize("name", ["a/b", "..", "../x", ".hidden", "x" * 65, "cam 0"],
                         ids=["slash", "dotdot", "climb", "hidden", "65-bytes", "space"])
def test_a_bad_stream_name_is_refused_by_both_sides(launcher, xdg_runtime_dir, name):
    for element in ("sink", "src"):
        proc = launcher.run(
            [GST_LAUNCH, "-q", *HEAD.split(), "!", "zcipcsink", f"stream-name={name}"]
            if element == "sink" else
            [GST_LAUNCH, "-q", "zcipcsrc", f"stream-name={name}", "!", "fakesink"],
            name=f"{element}-bad-name", extra_env=env_of(xdg_runtime_dir))
        out = failed_with(proc)
        assert f"'{name}' is not a valid stream-name: {NAME_RULES}" in out, out
    # Nothing made, nowhere.
    assert os.listdir(xdg_runtime_dir) == []


def test_setting_both_stream_name_and_socket_path_is_refused(launcher, xdg_runtime_dir,
                                                             sock_dir):
    sock = sock_dir / "s"
    for element, pipeline in (("zcipcsink", f"{HEAD} ! zcipcsink stream-name=cam0 "
                                            f"socket-path={sock}"),
                              ("zcipcsrc", f"zcipcsrc stream-name=cam0 socket-path={sock} "
                                           "! fakesink")):
        out = failed_with(launcher.launch(pipeline, extra_env=env_of(xdg_runtime_dir)))
        assert (f"Both stream-name ('cam0') and socket-path ('{sock}') are set on "
                f"{element}: set only one of them") in out, out
    assert os.listdir(xdg_runtime_dir) == []
    assert not sock.exists()


def test_setting_neither_says_to_set_stream_name(launcher, xdg_runtime_dir):
    out = failed_with(launcher.launch("zcipcsrc ! fakesink", extra_env=env_of(xdg_runtime_dir)))
    assert "No stream set: set zcipcsrc's stream-name (e.g. stream-name=cam0), or " \
           "socket-path for an explicit path" in out, out


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
          "env", "-u", "XDG_RUNTIME_DIR"]
NOBODY_DIR = Path("/tmp/zcipc-65534")


@pytest.fixture
def no_nobody_dir():
    """uid 65534's fallback stream directory, absent before and after."""
    if os.getuid() != 0:
        pytest.skip("running as uid 65534 needs root")
    shutil.rmtree(NOBODY_DIR, ignore_errors=True)
    if NOBODY_DIR.is_symlink():
        NOBODY_DIR.unlink()
    yield NOBODY_DIR
    shutil.rmtree(NOBODY_DIR, ignore_errors=True)


def test_without_xdg_runtime_dir_a_user_publishes_in_tmp_zcipc_uid(launcher, other_uid_env,
                                                                  no_nobody_dir):
    producer = launcher.run([*NOBODY, GST_LAUNCH, "-q", *HEAD.split(), "!", "zcipcsink",
                             "stream-name=cam0", *LOSSLESS.split()],
                            name="producer", extra_env=other_uid_env)
    wait_for_path(no_nobody_dir / "cam0")
    st = os.lstat(no_nobody_dir)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (65534, 0o700)
    consumer = launcher.run([*NOBODY, GST_LAUNCH, "-q", "zcipcsrc", "stream-name=cam0", "!",
                             "checksumsink", "sync=false"],
                            name="consumer", extra_env=other_uid_env)
    assert consumer.wait(60) == 0, consumer.describe()
    assert producer.wait(30) == 0, producer.describe()
    assert len(checksums(consumer.stdout())) == 30


def test_a_directory_squatted_in_tmp_by_another_user_is_refused(launcher, other_uid_env,
                                                               no_nobody_dir):
    # Root plays the squatter who made /tmp/zcipc-65534 before its user did.
    no_nobody_dir.mkdir(mode=0o755)
    producer = launcher.run([*NOBODY, GST_LAUNCH, "-q", *HEAD.split(), "!", "zcipcsink",
                             "stream-name=cam0"], name="producer", extra_env=other_uid_env)
    out = failed_with(producer)
    assert ("The stream directory '/tmp/zcipc-65534' belongs to uid 0, not to this user "
            "(uid 65534)") in out, out
    assert os.listdir(no_nobody_dir) == []


def test_a_stream_shared_through_a_group_directory_reaches_members_only(launcher,
                                                                       other_uid_env):
    """docs/uri.md's recipe for sharing with other users: socket-path in a
    setgid directory of a group, socket-mode=0660. A member (by a
    supplementary group) receives; a non-member is shut out."""
    if os.getuid() != 0:
        pytest.skip("running as uid 65534 needs root")
    group = 44  # Debian's "video"; any gid works
    with tempfile.TemporaryDirectory(prefix="zs-", dir="/tmp") as d:
        shared = Path(d)
        os.chown(shared, 0, group)
        shared.chmod(0o2770)
        sock = shared / "cam0"
        producer = launcher.launch(f"{HEAD} ! zcipcsink socket-path={sock} socket-mode=0660 "
                                   f"{LOSSLESS}", name="producer")
        wait_for_path(sock)
        # zcipcsink chmods the socket just after bind(): wait for its mode.
        deadline = time.monotonic() + 10
        while mode_of(sock) != 0o660 and time.monotonic() < deadline:
            time.sleep(0.01)
        st = os.lstat(sock)
        assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (group, 0o660)
        outsider = launcher.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                 GST_LAUNCH, "-q", "zcipcsrc", f"socket-path={sock}", "!",
                                 "fakesink"], name="outsider", extra_env=other_uid_env)
        assert outsider.wait(60) != 0, outsider.describe()
        assert "Could not receive from" in outsider.stdout() + outsider.stderr(), \
            outsider.describe()
        member = launcher.run(["setpriv", "--reuid=65534", "--regid=65534", f"--groups={group}",
                               GST_LAUNCH, "-q", "zcipcsrc", f"socket-path={sock}", "!",
                               "checksumsink", "sync=false"], name="member",
                              extra_env=other_uid_env)
        assert member.wait(60) == 0, member.describe()
        assert producer.wait(30) == 0, producer.describe()
        assert len(checksums(member.stdout())) == 30


# ------------------------------------------------------------- URIs


def consumer_checksums(proc, timeout: float = 60) -> list[str]:
    assert proc.wait(timeout) == 0, proc.describe()
    return [sha for _, sha in checksums(proc.stdout())]


def test_playbin_plays_a_named_stream_by_uri(launcher, xdg_runtime_dir):
    expected = expected_checksums(launcher)
    producer = start_producer(launcher, xdg_runtime_dir)
    player = launcher.run([GST_LAUNCH, "-q", "playbin", "uri=zcipc://cam0",
                           "video-sink=checksumsink sync=false", "audio-sink=fakesink"],
                          name="playbin", extra_env=env_of(xdg_runtime_dir))
    assert consumer_checksums(player) == expected
    assert producer.wait(30) == 0, producer.describe()


def test_gst_play_plays_a_named_stream_by_uri(launcher, xdg_runtime_dir):
    expected = expected_checksums(launcher)
    producer = start_producer(launcher, xdg_runtime_dir)
    player = launcher.run(["gst-play-1.0", "-q", "--no-interactive",
                           "--videosink=checksumsink sync=false", "zcipc://cam0"],
                          name="gst-play", extra_env=env_of(xdg_runtime_dir))
    assert consumer_checksums(player) == expected
    assert producer.wait(30) == 0, producer.describe()


def test_a_bare_uri_in_a_launch_line_is_a_zcipcsrc(launcher, xdg_runtime_dir):
    expected = expected_checksums(launcher)
    producer = start_producer(launcher, xdg_runtime_dir)
    consumer = launcher.launch("zcipc://cam0 ! checksumsink sync=false", name="consumer",
                               extra_env=env_of(xdg_runtime_dir))
    assert consumer_checksums(consumer) == expected
    assert producer.wait(30) == 0, producer.describe()


def test_urisourcebin_receives_a_socket_path_uri(launcher, sock_dir):
    expected = expected_checksums(launcher)
    sock = sock_dir / "with space"
    producer = launcher.run([GST_LAUNCH, "-q", *HEAD.split(), "!", "zcipcsink",
                             f"socket-path={sock}", *LOSSLESS.split()], name="producer")
    wait_for_path(sock)
    uri = "zcipc://" + str(sock).replace(" ", "%20")
    consumer = launcher.run([GST_LAUNCH, "-q", "urisourcebin", f"uri={uri}", "!",
                             "checksumsink", "sync=false"], name="urisourcebin")
    assert consumer_checksums(consumer) == expected
    assert producer.wait(30) == 0, producer.describe()


def test_a_sink_made_from_a_uri_publishes_the_named_stream(launcher, xdg_runtime_dir,
                                                          monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg_runtime_dir))
    sink = Gst.Element.make_from_uri(Gst.URIType.SINK, "zcipc://cam0", None)
    assert sink.get_factory().get_name() == "zcipcsink"
    assert sink.get_property("stream-name") == "cam0"
    assert sink.get_property("socket-path") is None
    for prop, value in (("min-consumers", 1), ("slow-consumer", "wait"), ("sync", False)):
        Gst.util_set_object_arg(sink, prop, str(value).lower())
    expected = expected_checksums(launcher)
    pipeline = Gst.Pipeline()
    # A description may not end in caps: identity ends it.
    head = Gst.parse_bin_from_description(f"{HEAD} ! identity", True)
    pipeline.add(head)
    pipeline.add(sink)
    assert head.link(sink)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        wait_for_path(xdg_runtime_dir / "zcipc" / "cam0")
        consumer = launcher.launch("zcipcsrc stream-name=cam0 ! checksumsink sync=false",
                                   name="consumer", extra_env=env_of(xdg_runtime_dir))
        assert consumer_checksums(consumer) == expected
        msg = pipeline.get_bus().timed_pop_filtered(
            30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
        assert msg is not None and msg.type == Gst.MessageType.EOS, msg
    finally:
        pipeline.set_state(Gst.State.NULL)


@pytest.mark.parametrize("uri_type", [Gst.URIType.SRC, Gst.URIType.SINK], ids=["src", "sink"])
def test_uris_set_the_name_or_the_path_and_come_back_the_same(uri_type):
    el = Gst.Element.make_from_uri(uri_type, "zcipc://Front-door_2.left", None)
    assert el.get_property("stream-name") == "Front-door_2.left"
    assert el.get_uri() == "zcipc://Front-door_2.left"

    assert el.set_uri("zcipc:///run/cams/a%20b.sock")
    assert el.get_property("socket-path") == "/run/cams/a b.sock"
    assert el.get_property("stream-name") is None
    assert el.get_uri() == "zcipc:///run/cams/a%20b.sock"

    el.set_property("socket-path", None)
    el.set_property("stream-name", "cam1")
    assert el.get_uri() == "zcipc://cam1"
    # An abstract socket has no URI form.
    el.set_property("stream-name", None)
    el.set_property("socket-path", "@abstract")
    assert el.get_uri() is None


BAD_URIS = {
    "zcipc://": "names no stream",
    "zcipc://a%2Fb": "is not a valid stream name: " + NAME_RULES,
    "zcipc://..": "is not a valid stream name",
    "zcipc://.hidden": "is not a valid stream name",
    "zcipc://" + "x" * 65: "is not a valid stream name",
    "zcipc://user@cam0": "is not a valid stream name",
    "zcipc://cam0:5": "is not a valid stream name",
    "zcipc://relative/path.sock": "a socket path must be absolute, after three slashes",
    "zcipc://cam0?timeout=5": "a zcipc URI has no query or fragment",
    "zcipc:///tmp/s#frag": "a zcipc URI has no query or fragment",
    "zcipc:///tmp/dir/": "names a directory",
    "zcipc:///tmp/%zz": "bad %-escape",
}


@pytest.mark.parametrize("uri", list(BAD_URIS))
@pytest.mark.parametrize("uri_type", [Gst.URIType.SRC, Gst.URIType.SINK], ids=["src", "sink"])
def test_bad_uris_are_refused_with_the_grammar(uri_type, uri):
    with pytest.raises(GLib.Error) as err:
        Gst.Element.make_from_uri(uri_type, uri, None)
    assert err.value.matches(Gst.URIError.quark(), Gst.URIError.BAD_URI), err.value
    assert BAD_URIS[uri] in err.value.message, err.value.message
    if "names no stream" in BAD_URIS[uri] or "query" in BAD_URIS[uri]:
        assert "write zcipc://NAME for a named stream or zcipc:///path/to/socket" \
               in err.value.message


def test_a_running_source_keeps_its_uri(launcher, xdg_runtime_dir, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(xdg_runtime_dir))
    src = Gst.Element.make_from_uri(Gst.URIType.SRC, "zcipc://cam0", None)
    pipeline = Gst.Pipeline()
    sink = Gst.ElementFactory.make("fakesink")
    pipeline.add(src)
    pipeline.add(sink)
    src.link(sink)
    pipeline.set_state(Gst.State.PLAYING)
    try:
        with pytest.raises(GLib.Error) as err:
            src.set_uri("zcipc://cam1")
        assert err.value.matches(Gst.URIError.quark(), Gst.URIError.BAD_STATE)
        assert src.get_uri() == "zcipc://cam0"
    finally:
        pipeline.set_state(Gst.State.NULL)


def test_zcipcsrc_is_the_marginal_rank_zcipc_source():
    factory = Gst.ElementFactory.find("zcipcsrc")
    assert factory.get_rank() == Gst.Rank.MARGINAL
    assert Gst.uri_protocol_is_supported(Gst.URIType.SRC, "zcipc")
    assert Gst.uri_protocol_is_supported(Gst.URIType.SINK, "zcipc")


def test_opencv_captures_a_named_stream_by_uri_pixel_for_pixel(launcher, xdg_runtime_dir,
                                                              tmp_path):
    """cv2.VideoCapture("zcipc://cam0", cv2.CAP_GSTREAMER): OpenCV plays a
    URI through uridecodebin, so a name is all an OpenCV user types."""
    import numpy as np
    got, ref = tmp_path / "got.npy", tmp_path / "ref.npy"
    reference = launcher.run([sys.executable, str(HERE / "opencv_capture.py"), "--pipeline",
                              f"{HEAD} ! videoconvert ! video/x-raw,format=BGR ! appsink",
                              "--out", str(ref)], name="reference")
    assert reference.wait(60) == 0, reference.describe()
    producer = start_producer(launcher, xdg_runtime_dir)
    capture = launcher.run([sys.executable, str(HERE / "opencv_capture.py"), "--pipeline",
                            "zcipc://cam0", "--out", str(got)], name="capture",
                           extra_env=env_of(xdg_runtime_dir))
    assert capture.wait(60) == 0, capture.describe()
    assert producer.wait(30) == 0, producer.describe()
    expected, frames = np.load(ref), np.load(got)
    assert expected.shape == (30, 120, 160, 3)
    assert frames.shape == expected.shape, capture.describe()
    for i in range(30):
        assert np.array_equal(frames[i], expected[i]), f"frame {i} differs"
