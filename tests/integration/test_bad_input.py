# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Bad input gets a clear error (or a documented behaviour), never a crash."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

import zcipctest
from zcipctest import SOURCE_DIR, context_switches, wait_for_path

PRODUCER = "videotestsrc num-buffers=5 ! video/x-raw,width=64,height=48"


def test_socket_in_a_missing_directory_fails_at_start_with_a_clear_error(launcher, sock_dir):
    p = launcher.launch(f"{PRODUCER} ! zcipcsink socket-path={sock_dir}/nope/s", quiet=False)
    assert p.wait(20) != 0
    assert "its directory does not exist" in p.stderr() + p.stdout()


def test_socket_path_longer_than_sun_path_fails_with_a_clear_error(launcher, sock_dir):
    long_path = sock_dir / ("x" * 120)
    p = launcher.launch(f"{PRODUCER} ! zcipcsink socket-path={long_path}", quiet=False)
    assert p.wait(20) != 0
    assert "is too long" in p.stderr() + p.stdout()
    c = launcher.launch(f"zcipcsrc socket-path={long_path} ! fakesink", quiet=False)
    assert c.wait(20) != 0
    assert "is too long" in c.stderr() + c.stdout()


def test_consumer_with_nobody_listening_errors_after_its_timeout(launcher, sock_dir):
    start = time.monotonic()
    c = launcher.launch(f"zcipcsrc socket-path={sock_dir}/s timeout=500 ! fakesink", quiet=False)
    assert c.wait(20) != 0
    elapsed = time.monotonic() - start
    out = c.stderr() + c.stdout()
    assert "No zcipcsink is publishing on" in out and str(sock_dir / "s") in out
    assert elapsed < 10


def test_consumer_started_first_waits_for_the_producer(launcher, sock_dir):
    sock = sock_dir / "s"
    c = launcher.launch(f"zcipcsrc socket-path={sock} timeout=0 ! checksumsink sync=false")
    # Longer than the 5 s handshake allowance: waiting must not eat into it.
    time.sleep(6.0)
    assert c.popen.poll() is None, c.describe()
    p = launcher.launch(f"{PRODUCER} ! zcipcsink socket-path={sock} min-consumers=1 "
                        "slow-consumer=wait sync=false")
    assert p.wait(30) == 0, p.describe()
    assert c.wait(30) == 0, c.describe()
    assert len([l for l in c.stdout().splitlines() if l.strip()]) == 5


def test_a_regular_file_in_the_way_is_not_replaced(launcher, sock_dir):
    path = sock_dir / "s"
    path.write_text("precious")
    p = launcher.launch(f"{PRODUCER} ! zcipcsink socket-path={path}", quiet=False)
    assert p.wait(20) != 0
    assert "not a socket" in p.stderr() + p.stdout()
    assert "a regular file is in the way" in p.stderr() + p.stdout()
    assert path.read_text() == "precious"


def test_a_stale_socket_is_replaced_and_a_live_one_is_in_use(launcher, sock_dir):
    path = sock_dir / "s"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stale.bind(str(path))
    stale.close()                       # the file stays: a dead producer's
    live = launcher.launch(f"videotestsrc is-live=true ! video/x-raw,width=64,height=48 ! "
                           f"zcipcsink socket-path={path}")
    time.sleep(1.0)
    assert live.popen.poll() is None, live.describe()
    second = launcher.launch(f"{PRODUCER} ! zcipcsink socket-path={path}", quiet=False)
    assert second.wait(20) != 0
    assert "already in use" in second.stderr() + second.stdout()
    assert live.popen.poll() is None


def test_a_buffer_larger_than_a_pool_slot_is_copied_whole(launcher, sock_dir):
    """appsrc pushes buffers bigger than its caps' frame size (so bigger than
    any slot of the proposed pool): each is copied into shared memory,
    counted, and arrives intact."""
    sock = sock_dir / "s"
    code = f"""
import gi, json, hashlib
gi.require_version('Gst', '1.0')
from gi.repository import Gst
Gst.init(None)
p = Gst.parse_launch('appsrc name=src format=time caps=video/x-raw,format=GRAY8,width=64,height=48,framerate=30/1 '
                     '! zcipcsink name=sink socket-path={sock} min-consumers=1 slow-consumer=wait sync=false')
p.set_state(Gst.State.PLAYING)
sums = []
for n in range(5):
    data = bytes((i * 13 + n) & 0xff for i in range(64 * 48 * 3))
    sums.append(hashlib.sha1(data).hexdigest())
    b = Gst.Buffer.new_wrapped(data)
    b.pts = n * Gst.SECOND // 30
    p.get_by_name('src').emit('push-buffer', b)
p.get_by_name('src').emit('end-of-stream')
m = p.get_bus().timed_pop_filtered(30 * Gst.SECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
st = p.get_by_name('sink').get_property('stats')
print(json.dumps({{'eos': m.type == Gst.MessageType.EOS, 'sha1': sums,
                  'copied': st.get_value('frames-copied'), 'bytes': st.get_value('bytes-copied')}}))
p.set_state(Gst.State.NULL)
"""
    producer = launcher.run([sys.executable, "-c", code], name="producer")
    wait_for_path(sock)
    probe = launcher.run([sys.executable, str(SOURCE_DIR / "tests/integration/consumer_probe.py"),
                          "--socket-path", str(sock)], name="probe")
    assert probe.wait(60) == 0, probe.describe()
    assert producer.wait(60) == 0, producer.describe()
    got = json.loads(probe.stdout())
    sent = json.loads(producer.stdout())
    assert sent["eos"]
    assert got["sha1"] == sent["sha1"]
    assert sent["copied"] == 5 and sent["bytes"] == 5 * 64 * 48 * 3


def test_a_directory_the_producer_cannot_write_fails_with_a_clear_error(launcher, sock_dir,
                                                                         other_uid_env):
    """As an unprivileged user (root may write anywhere)."""
    os.chmod(sock_dir, 0o755)          # root's, not writable by nobody
    p = launcher.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      "gst-launch-1.0", "videotestsrc", "num-buffers=5", "!",
                      "zcipcsink", f"socket-path={sock_dir}/s"],
                     name="nobody", extra_env=other_uid_env)
    assert p.wait(30) != 0
    assert "no permission to write in its directory" in p.stderr() + p.stdout(), p.describe()


# --- Waiting for a producer, and errors that say what to do (issue 14) ------

LIVE = "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=30/1"


def _output(proc) -> str:
    return proc.stderr() + proc.stdout()


def test_consumer_started_first_waits_by_default_and_says_so(launcher, sock_dir):
    """With no timeout set, a consumer waits for a late producer longer than
    the old 10 s default, tells so at INFO level every few seconds (not per
    retry), retries slowly enough to cost nothing, and plays once the
    producer comes."""
    sock = sock_dir / "s"
    c = launcher.launch(f"zcipcsrc socket-path={sock} ! checksumsink sync=false",
                        extra_env={"GST_DEBUG": "zcipcsrc:4"})
    time.sleep(1.0)
    switches = context_switches(c.pid, voluntary_only=True)
    time.sleep(10.0)
    switches = context_switches(c.pid, voluntary_only=True) - switches
    assert c.popen.poll() is None, c.describe()
    waiting = [l for l in c.stderr().splitlines() if "still waiting for a producer on" in l]
    # at 1 s, 6 s, 11 s: reported, but not per retry
    assert 2 <= len(waiting) <= 4, c.describe()
    assert all(str(sock) in l for l in waiting)
    # 10 s of retrying every 20 ms would be ~500 wake-ups; backed off to
    # 100 ms it is ~100 (plus the main loop's few).
    assert switches < 250, f"{switches} wake-ups in 10 s of waiting"
    start = time.monotonic()
    p = launcher.launch(f"{PRODUCER} ! zcipcsink socket-path={sock} min-consumers=1 "
                        "slow-consumer=wait sync=false")
    assert p.wait(30) == 0, p.describe()
    assert c.wait(30) == 0, c.describe()
    assert len(zcipctest.checksums(c.stdout())) == 5, c.describe()
    assert time.monotonic() - start < 10


def test_consumer_of_a_regular_file_fails_at_once(launcher, sock_dir):
    path = sock_dir / "s"
    path.write_text("precious")
    start = time.monotonic()
    c = launcher.launch(f"zcipcsrc socket-path={path} ! fakesink", quiet=False)
    assert c.wait(20) != 0
    assert time.monotonic() - start < 3, "waited for a file that can never be a socket"
    assert f"'{path}' is a file, not a socket" in _output(c), c.describe()
    assert path.read_text() == "precious"


def test_a_directory_at_socket_path_fails_at_once_on_both_sides(launcher, sock_dir):
    path = sock_dir / "s"
    path.mkdir()
    start = time.monotonic()
    c = launcher.launch(f"zcipcsrc socket-path={path} ! fakesink", quiet=False)
    assert c.wait(20) != 0
    assert time.monotonic() - start < 3, "waited for a directory to become a socket"
    assert f"'{path}' is a directory, not a socket" in _output(c), c.describe()
    p = launcher.launch(f"{PRODUCER} ! zcipcsink socket-path={path}", quiet=False)
    assert p.wait(20) != 0
    assert "a directory is in the way" in _output(p), p.describe()
    assert path.is_dir()


def test_consumer_in_a_missing_directory_fails_at_once(launcher, sock_dir):
    path = sock_dir / "nope" / "s"
    start = time.monotonic()
    c = launcher.launch(f"zcipcsrc socket-path={path} ! fakesink", quiet=False)
    assert c.wait(20) != 0
    assert time.monotonic() - start < 3
    assert f"directory '{sock_dir / 'nope'}' does not exist" in _output(c), c.describe()


def test_permission_denied_names_the_mode_the_group_and_socket_mode(launcher, sock_dir,
                                                                   other_uid_env):
    """A consumer the socket's mode shuts out is told at once which mode,
    owner and group the socket has, who it runs as, and what to change."""
    os.chmod(sock_dir, 0o755)          # nobody may enter, not write
    sock = sock_dir / "s"
    p = launcher.launch(f"{LIVE} ! zcipcsink socket-path={sock} socket-mode=0660")
    wait_for_path(sock)
    start = time.monotonic()
    c = launcher.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                      "gst-launch-1.0", "zcipcsrc", f"socket-path={sock}", "!", "fakesink"],
                     name="nobody", extra_env=other_uid_env)
    assert c.wait(30) != 0
    out = _output(c)
    assert "mode 0660, owner root, group root" in out, c.describe()
    assert "uid 65534" in out and "socket-mode" in out, c.describe()
    # the registry of a fresh user takes its time; the connect itself is at once
    assert time.monotonic() - start < 8
    assert p.popen.poll() is None


def test_allow_list_refusal_names_the_refused_uid_and_gid(launcher, sock_dir):
    sock = sock_dir / "s"
    p = launcher.launch(f"{LIVE} ! zcipcsink socket-path={sock} allowed-uids=12345")
    wait_for_path(sock)
    start = time.monotonic()
    c = launcher.launch(f"zcipcsrc socket-path={sock} ! fakesink", quiet=False)
    assert c.wait(20) != 0
    assert time.monotonic() - start < 3
    out = _output(c)
    assert f"uid {os.geteuid()} gid {os.getegid()} not allowed" in out, c.describe()
    assert "allowed-uids/allowed-gids" in out
    assert p.popen.poll() is None


def test_an_abstract_name_not_found_says_abstract_sockets_are_per_network_namespace(
        launcher, sock_dir):
    start = time.monotonic()
    c = launcher.launch(f"zcipcsrc socket-path=@zcipc-nobody-{os.getpid()} timeout=500 "
                        "! fakesink", quiet=False)
    assert c.wait(20) != 0
    assert 0.5 <= time.monotonic() - start < 5
    out = _output(c)
    assert "No zcipcsink is publishing on" in out
    assert "per network namespace" in out, c.describe()


def test_socket_mode_without_the_leading_zero_means_octal(launcher, sock_dir):
    """gst-launch reads socket-mode=666 as decimal 666: it means 0666, with
    no GLib warning."""
    sock = sock_dir / "s"
    p = launcher.launch(f"{LIVE} ! zcipcsink socket-path={sock} socket-mode=666", quiet=False)
    wait_for_path(sock)
    assert os.stat(sock).st_mode & 0o777 == 0o666
    p.kill(signal.SIGTERM)
    assert "WARNING" not in p.stderr() and "CRITICAL" not in p.stderr(), p.describe()


def test_a_socket_mode_that_is_no_mode_fails_the_start(launcher, sock_dir):
    sock = sock_dir / "s"
    for value in ("999", "1000", "0x1000"):
        p = launcher.launch(f"{PRODUCER} ! zcipcsink socket-path={sock} socket-mode={value}",
                            quiet=False)
        assert p.wait(20) != 0, p.describe()
        out = _output(p)
        assert f"socket-mode {int(value, 0)} is not a file mode" in out, p.describe()
        assert "socket-mode=0660" in out
        assert "GLib-GObject" not in out, p.describe()
        assert not sock.exists()


def test_reconnect_waits_for_a_producer_whose_directory_went_with_it(launcher, sock_dir):
    """A missing directory fails a consumer's start at once, but one whose
    producer went away waits for it even while its directory is gone (as
    systemd's RuntimeDirectory does on a restart)."""
    run = sock_dir / "run"
    run.mkdir()
    sock = run / "s"
    first = launcher.launch(f"{LIVE} ! zcipcsink socket-path={sock}")
    wait_for_path(sock)
    c = launcher.launch(f"zcipcsrc socket-path={sock} ! checksumsink sync=false")
    deadline = time.monotonic() + 10
    while len(zcipctest.checksums(c.stdout())) < 3:
        assert time.monotonic() < deadline, c.describe()
        time.sleep(0.05)
    first.kill(signal.SIGKILL)
    for entry in run.iterdir():
        entry.unlink()
    run.rmdir()
    time.sleep(1.5)
    assert c.popen.poll() is None, c.describe()
    before = len(zcipctest.checksums(c.stdout()))
    run.mkdir()
    second = launcher.launch(f"{PRODUCER} ! zcipcsink socket-path={sock} min-consumers=1 "
                             "slow-consumer=wait sync=false")
    assert second.wait(30) == 0, second.describe()
    assert c.wait(30) == 0, c.describe()
    assert len(zcipctest.checksums(c.stdout())) == before + 5
