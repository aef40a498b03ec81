# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Bad input gets a clear error (or a documented behaviour), never a crash."""

from __future__ import annotations

import json
import os
import socket
import sys
import time

from zcipctest import SOURCE_DIR, wait_for_path

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
