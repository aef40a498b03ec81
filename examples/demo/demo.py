#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""The zcipc demo: one producer process and one consumer process.

  demo.py producer [--stream-name N]   camera (/dev/video0) or test pattern -> zcipcsink
  demo.py consumer [--stream-name N]   zcipcsrc -> fakesink, prints live figures

The stream is named zcipc-demo unless --stream-name (or --socket-path, an
explicit path instead of a name) says otherwise.

Each prints a line per second. The producer stops cleanly (EOS) on SIGINT or
SIGTERM; the consumer stops after --duration seconds or at EOS."""

import argparse
import os
import signal
import sys
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GLib", "2.0")
from gi.repository import GLib, Gst  # noqa: E402
import numpy as np  # noqa: E402

CAPS = "video/x-raw,format=RGBA,width=1280,height=720,framerate=30/1"


def producer_pipeline(where: str) -> str:
    sink = f"zcipcsink name=sink {where}"
    if os.path.exists("/dev/video0"):
        # The camera's own buffers: decoded/converted into our pool.
        return f"v4l2src device=/dev/video0 ! decodebin ! videoconvert ! videoscale ! {CAPS} ! {sink}"
    return f"videotestsrc is-live=true pattern=ball ! {CAPS} ! {sink}"


def run(description: str, role: str, tick, duration: float) -> int:
    pipeline = Gst.parse_launch(description)
    loop = GLib.MainLoop()
    status = {"rc": 0}

    def on_message(bus, msg):
        if msg.type == Gst.MessageType.EOS:
            loop.quit()
        elif msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            print(f"[{role}] error: {err.message}", flush=True)
            status["rc"] = 1
            loop.quit()
        elif msg.type == Gst.MessageType.ELEMENT and msg.get_structure().get_name().startswith("zcipc-"):
            s = msg.get_structure()
            print(f"[{role}] {s.get_name()}: pid {s.get_value('pid') if s.has_field('pid') else os.getpid()}",
                  flush=True)
        return True

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)

    def stop(*_):
        print(f"[{role}] stopping: sending EOS", flush=True)
        pipeline.send_event(Gst.Event.new_eos())
        GLib.timeout_add_seconds(3, loop.quit)
        return False

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, stop)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, stop)
    GLib.timeout_add(1000, lambda: tick(pipeline) or True)
    if duration > 0:
        GLib.timeout_add(int(duration * 1000), lambda: loop.quit() or False)
    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        msg = bus.pop_filtered(Gst.MessageType.ERROR)
        print(f"[{role}] could not start: {msg.parse_error()[0].message if msg else '?'}")
        return 1
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    return status["rc"]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["producer", "consumer"])
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--stream-name", default="zcipc-demo",
                       help="the stream's name (default: zcipc-demo)")
    where.add_argument("--socket-path", help="an explicit socket path instead of a name")
    ap.add_argument("--duration", type=float, default=10.0)
    args = ap.parse_args()
    Gst.init(None)
    where = (f"socket-path={args.socket_path}" if args.socket_path
             else f"stream-name={args.stream_name}")

    if args.role == "producer":
        def tick(p):
            s = p.get_by_name("sink").get_property("stats")
            print(f"[producer] consumers={s.get_value('consumers')} "
                  f"frames-sent={s.get_value('frames-sent')} "
                  f"copies={s.get_value('frames-copied')}", flush=True)
        return run(producer_pipeline(where), "producer", tick, 0)

    last = {"t": time.monotonic(), "n": 0, "zero_copy": None, "probe": False}

    def in_shared_mapping(buf) -> bool:
        """Whether the buffer's bytes lie in a zcipc memfd mapping of ours."""

        ok, info = buf.map(Gst.MapFlags.READ)
        if not ok:
            return False
        address = np.frombuffer(info.data, dtype=np.uint8).ctypes.data
        buf.unmap(info)
        with open("/proc/self/maps") as maps:
            for line in maps:
                if "memfd:zcipc-" in line:
                    start, end = (int(x, 16) for x in line.split()[0].split("-"))
                    if start <= address < end:
                        return True
        return False

    def probe(pad, info):
        if last["zero_copy"] is None:
            last["zero_copy"] = in_shared_mapping(info.get_buffer())
        return Gst.PadProbeReturn.OK

    def tick(p):
        if not last["probe"]:
            p.get_by_name("src").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
            last["probe"] = True
        s = p.get_by_name("src").get_property("stats")
        n = s.get_value("frames-received")
        now = time.monotonic()
        fps = (n - last["n"]) / (now - last["t"])
        last.update(t=now, n=n)
        print(f"[consumer] fps={fps:5.1f} frames-received={n} "
              f"frames-dropped={s.get_value('frames-dropped')} copies=0 "
              f"zero-copy={'yes' if last['zero_copy'] else 'checking' if last['zero_copy'] is None else 'NO'}",
              flush=True)
        if last["zero_copy"] is not None:
            last["zero_copy"] = None          # check again on the next buffer

    return run(f"zcipcsrc name=src {where} timeout=10000 ! fakesink sync=false",
               "consumer", tick, args.duration)


if __name__ == "__main__":
    sys.exit(main())
