#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""A long-running consumer for lifecycle tests: `zcipcsrc ! appsink`, that
keeps a JSON status file up to date (frames, frames per connection, caps
seen, its own fd and zcipc mapping counts, errors) until SIGTERM."""

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from zcipctest import fd_count, zcipc_mappings  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket-path", required=True)
    ap.add_argument("--status-file", required=True)
    ap.add_argument("--props", default="reconnect=true timeout=0")
    args = ap.parse_args()
    Gst.init(None)
    pipeline = Gst.parse_launch(f"zcipcsrc name=src socket-path={args.socket_path} {args.props} "
                                "! appsink name=sink sync=false max-buffers=1")
    sink = pipeline.get_by_name("sink")
    lock = threading.Lock()
    status = {"frames": 0, "connections": 0, "frames_per_connection": [], "caps": [],
              "errors": [], "eos": False, "fds": 0, "mappings": 0, "pid": os.getpid()}
    stop = threading.Event()

    def pull():
        while not stop.is_set():
            sample = sink.emit("try-pull-sample", Gst.SECOND // 10)
            if sample is None:
                if sink.get_property("eos"):
                    with lock:
                        status["eos"] = True
                    return
                continue
            caps = sample.get_caps().to_string()
            with lock:
                status["frames"] += 1
                if status["frames_per_connection"]:
                    status["frames_per_connection"][-1] += 1
                if not status["caps"] or status["caps"][-1] != caps:
                    status["caps"].append(caps)

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.ELEMENT and msg.get_structure().get_name() == "zcipc-connected":
            with lock:
                status["connections"] += 1
                status["frames_per_connection"].append(0)
        elif msg.type == Gst.MessageType.ERROR:
            with lock:
                status["errors"].append(msg.parse_error()[0].message)

    bus = pipeline.get_bus()
    bus.enable_sync_message_emission()
    bus.connect("sync-message", on_message)
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    pipeline.set_state(Gst.State.PLAYING)
    puller = threading.Thread(target=pull, daemon=True)
    puller.start()
    tmp = args.status_file + ".tmp"
    while not stop.is_set():
        with lock:
            status["fds"] = fd_count()
            status["mappings"] = len(zcipc_mappings())
            text = json.dumps(status)
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.status_file)
        time.sleep(0.1)
    pipeline.set_state(Gst.State.NULL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
