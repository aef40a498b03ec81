#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""zcipc benchmark: zcipc side by side with the in-process pipeline,
shmsink/shmsrc and a bare Unix-socket wake-up, in one interleaved run.

    /usr/bin/python3 tests/bench/zcipc_bench.py --build-dir build          # full
    /usr/bin/python3 tests/bench/zcipc_bench.py --build-dir build --quick  # CI smoke

Every process measures itself: zcipcstamp (before the producer's sink) and
zcipclatency (after each consumer's source) take CLOCK_MONOTONIC and
getrusage(RUSAGE_SELF) when the steady-state window opens (after the warm-up
frames) and when the stream ends, and write JSON; zcipclatency also records
sink-render -> source-push latencies and counts lost frames. This script starts
the processes, gates the producer until every consumer is up, collects the
files, and writes results/latest.json, a markdown table and the plots that
docs/benchmarks.md shows. See docs/benchmarks.md for what each figure means.

The full run takes about 15 minutes on 2 cores; --quick takes well under a
minute and exits non-zero unless zcipc took the zero-copy path (frames-copied
== 0 in zcipcsink and in every consumer's zcipcsrc, page faults per frame ~0
in both processes, no frame lost), and one more consumer that keeps frames
downstream within its grant copied nothing. It never checks a wall-clock
figure.

    /usr/bin/python3 tests/bench/zcipc_bench.py --build-dir build --pressure-only

measures copies under pressure (issue 14, about 2.5 minutes): a consumer
whose downstream keeps more frames than it is granted copies them; its CPU
per frame against the same consumer granted what it keeps, the in-process
pipeline, shmsink/shmsrc and a plain memcpy. --pressure adds it to a full run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DOCS_DIR = SOURCE_DIR / "docs"
PLOTS_DIR = DOCS_DIR / "bench"

# Design targets (docs/design.md §7), checked in the report, never in --quick.
TARGET_FPS_RATIO = 0.95
TARGET_CPU_US = 15.0
TARGET_P50_X_FLOOR = 1.3
TARGET_P99_X_FLOOR = 2.0
# --quick: "about zero" page faults per frame in steady state. A fault per
# frame (what per-frame mmap/munmap or first-touch would cost) is 1.0.
QUICK_MAX_FAULTS_PER_FRAME = 0.05
# A consumer that falls behind under load (a busy CI machine) makes the
# producer's pool grow, once, inside the window: a default zcipcsink pool
# grows by a region of half its 8 first slots, each slot first touched
# once. Those faults are the growth's, not a per-frame cost, and are told
# apart by the sink's regions-announced.
QUICK_GROWTH_SLOTS = 4

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

TRANSPORTS = ("inproc", "zcipc", "shm")


@dataclass(frozen=True)
class Config:
    width: int
    height: int
    fmt: str
    consumers: int

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height} {self.fmt} ×{self.consumers}"

    @property
    def key(self) -> str:
        return f"{self.width}x{self.height}-{self.fmt}-c{self.consumers}"

    @property
    def frame_size(self) -> int:
        if self.fmt == "NV12":
            return self.width * self.height * 3 // 2
        return self.width * self.height * 4

    def caps(self, fps: int = 30) -> str:
        return (f"video/x-raw,format={self.fmt},width={self.width},"
                f"height={self.height},framerate={fps}/1")


FULL_CONFIGS = [
    Config(640, 480, "RGBA", 1), Config(1920, 1080, "RGBA", 1),
    Config(3840, 2160, "RGBA", 1), Config(1920, 1080, "NV12", 1),
    Config(640, 480, "RGBA", 4), Config(1920, 1080, "RGBA", 4),
    Config(3840, 2160, "RGBA", 4), Config(1920, 1080, "NV12", 4),
    Config(1920, 1080, "RGBA", 16),
]
QUICK_CONFIGS = [Config(640, 480, "RGBA", 1), Config(1920, 1080, "RGBA", 1)]


# Three kinds of run per configuration and transport:
#  ratio:   videotestsrc pattern=black at max rate. The producer writes every
#           frame with the CPU (videotestsrc copies its cached black frame into
#           each buffer), like a software producer; fps / in-process fps.
#  cost:    zcipcframesrc paced at COST_FPS: frames cost no CPU to produce
#           (each pool buffer is painted once), so the CPU left is the
#           transport's. Paced rather than flat out because shmsink wedges for
#           good once a producer outruns its consumer (it did in every such
#           run here), and so that every transport pays per frame at the same
#           rate; COST_FPS is above what a camera does and below what every
#           transport sustains here.
#  latency: zcipcframesrc is-live=true at 30 fps, like a camera whose frames
#           arrive by DMA: render -> push latency with an idle producer.
KINDS = ("ratio", "cost", "latency")
LATENCY_COOLDOWN = 2
COST_FPS = 1000


def run_frames(cfg: Config, kind: str, scale: float) -> tuple[int, int]:
    """(total, warm-up) frames of a max-rate run: about half a second of the
    in-process pipeline (ratio) or a few thousand frames (cost), and a
    warm-up long enough that every pool slot has been written and sent once
    or more (pool sizes are in the tens)."""
    if kind == "cost":
        total = int(COST_FPS * scale)
    else:
        mpix = cfg.width * cfg.height / 1e6
        total = int(max(150, min(10000, 3000 / mpix)) * scale)
    warmup = max(50, total // 5)
    return total + warmup, warmup


# ----------------------------------------------------------------- helpers

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def agg(values: list[float]) -> dict | None:
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals),
            "max": max(vals), "n": len(vals)}


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gst = subprocess.run(["gst-launch-1.0", "--version"], capture_output=True,
                         text=True).stdout.splitlines()
    commit = subprocess.run(["git", "-C", str(SOURCE_DIR), "rev-parse", "--short",
                             "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(SOURCE_DIR), "status", "--porcelain",
                            "--", "gst", "lib"], capture_output=True,
                           text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "gstreamer": gst[1] if len(gst) > 1 else "unknown",
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit + ("+dirty(gst/lib)" if dirty else ""),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


# ------------------------------------------------------- pipeline runner
#
# `zcipc_bench.py _run STATS_FILE [--gate] PIPELINE`: runs one pipeline in
# this (python) process. With --gate it goes to PAUSED (sockets are open),
# prints "paused" and waits for a line on stdin before PLAYING, so that the
# producer's clock starts when every consumer is connected. At EOS it writes
# the stats of zcipcsink/zcipcsrc/shmsink elements and /proc/self/status
# memory figures to STATS_FILE. The producer and the in-process baseline both
# run here, so both pay the same (idle) python main loop.

STATS_FIELDS = ("frames-sent", "frames-unsent", "frames-dropped", "frames-copied",
                "bytes-copied", "frames-held", "consumers", "consumers-joined",
                "consumers-dropped", "metas-skipped", "frames-received", "rendered",
                "dropped", "regions-announced")


def run_pipeline(argv: list[str]) -> int:
    import threading
    import gi
    gi.require_version("Gst", "1.0")
    from gi.repository import GLib, Gst

    ap = argparse.ArgumentParser(prog="zcipc_bench.py _run")
    ap.add_argument("stats_file")
    ap.add_argument("--gate", action="store_true")
    ap.add_argument("pipeline")
    args = ap.parse_args(argv)

    Gst.init(None)
    pipeline = Gst.parse_launch(args.pipeline)
    loop = GLib.MainLoop()
    result = {"ok": False, "error": None}

    def collect() -> None:
        elements = {}
        it = pipeline.iterate_recurse()
        while True:
            ok, el = it.next()
            if ok != Gst.IteratorResult.OK:
                break
            factory = el.get_factory()
            fname = factory.get_name() if factory else ""
            if fname in ("zcipcsink", "zcipcsrc", "shmsink"):
                entry = {"factory": fname}
                try:
                    s = el.get_property("stats")
                except TypeError:
                    s = None
                if s is not None:
                    for f in STATS_FIELDS:
                        if s.has_field(f):
                            entry[f] = s.get_value(f)
                    entry["text"] = s.to_string()
                elements[el.get_name()] = entry
        status = {}
        for line in Path("/proc/self/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads"):
                status[k] = v.strip()
        result["elements"] = elements
        result["status"] = status

    def on_message(bus, msg) -> None:
        if msg.type == Gst.MessageType.EOS:
            result["ok"] = True
            collect()
            loop.quit()
        elif msg.type == Gst.MessageType.ERROR:
            err, dbg = msg.parse_error()
            result["error"] = f"{msg.src.get_name()}: {err.message} ({dbg})"
            collect()
            loop.quit()

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)

    if args.gate:
        pipeline.set_state(Gst.State.PAUSED)
        ret, _, _ = pipeline.get_state(30 * Gst.SECOND)
        if ret == Gst.StateChangeReturn.FAILURE:
            print("failed", flush=True)
        else:
            print("paused", flush=True)

        def wait_stdin() -> None:
            sys.stdin.readline()
            GLib.idle_add(lambda: pipeline.set_state(Gst.State.PLAYING) and False)

        threading.Thread(target=wait_stdin, name="gate", daemon=True).start()
    else:
        pipeline.set_state(Gst.State.PLAYING)
    loop.run()
    pipeline.set_state(Gst.State.NULL)
    Path(args.stats_file).write_text(json.dumps(result, default=str))
    if result["error"]:
        print(result["error"], file=sys.stderr)
    return 0 if result["ok"] else 1


# ------------------------------------------------------------- processes

class Proc:
    """A process of one run, in its own session, output kept in files."""

    def __init__(self, argv: list[str], env: dict, workdir: Path, name: str,
                 stdin: bool = False):
        self.name = name
        self.out_path = workdir / f"{name}.out"
        self.err_path = workdir / f"{name}.err"
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.popen = subprocess.Popen(
            argv, env=env, stdout=self._out, stderr=self._err,
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            start_new_session=True)

    def output(self) -> str:
        self._out.flush()
        return self.out_path.read_text(errors="replace")

    def wait_for(self, marker: str, deadline: float) -> bool:
        while time.monotonic() < deadline:
            if marker in self.output():
                return True
            if self.popen.poll() is not None:
                return marker in self.output()
            time.sleep(0.01)
        return False

    def kill(self) -> None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        self._out.close()
        self._err.close()

    def tail(self) -> str:
        return (self.output()[-600:] + self.err_path.read_text(errors="replace")[-1500:])


class StallWatch:
    """Notices a max-rate producer that stopped working (wedged): its CPU
    time (from /proc/PID/stat, all threads) has not moved for LIMIT s."""

    LIMIT = 4.0

    def __init__(self, pid: int):
        self.path = f"/proc/{pid}/stat"
        self.last = None
        self.since = time.monotonic()

    def stalled(self) -> bool:
        try:
            fields = Path(self.path).read_text().rsplit(")", 1)[1].split()
            cpu = int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return False
        now = time.monotonic()
        if cpu != self.last:
            self.last, self.since = cpu, now
            return False
        return now - self.since > self.LIMIT


class Bench:
    def __init__(self, build_dir: Path, workdir: Path, src_props: str = "",
                 sink_props: str = ""):
        self.build_dir = build_dir
        self.src_props = src_props
        self.sink_props = sink_props
        self.workdir = workdir
        self.floor_exe = build_dir / "tests" / "bench" / "zcipc-wakeup-floor"
        plugin_path = os.pathsep.join([str(build_dir / "gst"),
                                       str(build_dir / "tests" / "bench")])
        env = dict(os.environ)
        env["GST_PLUGIN_PATH_1_0"] = plugin_path
        env["GST_PLUGIN_PATH"] = plugin_path
        env["GST_REGISTRY_1_0"] = str(workdir / "registry.bin")
        env.pop("GST_DEBUG", None)
        self.env = env
        self.seq = 0
        for exe, what in ((build_dir / "gst" / "libgstzcipc.so", "the zcipc plugin"),
                          (build_dir / "tests" / "bench" / "libgstzcipcbench.so",
                           "the zcipcbench plugin"),
                          (self.floor_exe, "zcipc-wakeup-floor")):
            if not exe.exists():
                raise SystemExit(f"{what} is not built: {exe} is missing. "
                                 f"Run: ninja -C {build_dir}")
        # Build the private registry once, outside every measurement.
        r = subprocess.run(["gst-inspect-1.0", "zcipcstamp"], env=env,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("gst-inspect-1.0 zcipcstamp failed:\n" + r.stderr)
        for el in ("zcipcsink", "shmsink"):
            if subprocess.run(["gst-inspect-1.0", el], env=env,
                              capture_output=True).returncode != 0:
                raise SystemExit(f"GStreamer element {el} not found "
                                 "(shmsink: gstreamer1.0-plugins-bad)")

    def _runner(self, stats: Path, pipeline: str, gate: bool) -> list[str]:
        argv = [sys.executable, str(Path(__file__).resolve()), "_run", str(stats)]
        if gate:
            argv.append("--gate")
        return argv + [pipeline]

    def run(self, transport: str, cfg: Config, kind: str, total: int, warmup: int,
            timeout: float, touch: bool = False, fps: int | None = None,
            live_src: bool = True,
            kept: int = 0, src_props: str = "", sink_props: str = "",
            variant: str | None = None) -> dict:
        """One run of @transport: returns the parsed measurements. @kept:
        every consumer keeps that many frames downstream (a queue that lets
        none go before it holds them), with the extra zcipcsrc/zcipcsink
        properties @src_props/@sink_props (the pressure runs)."""
        self.seq += 1
        live = kind == "latency"
        d = self.workdir / f"run{self.seq:04d}-{kind}-{variant or transport}-{cfg.key}"
        d.mkdir()
        sock = d / "sock"
        if fps is None:
            fps = COST_FPS if kind == "cost" else 30
        if kind == "ratio":
            gen = f"videotestsrc pattern=black num-buffers={total}"
        else:
            gen = (f"zcipcframesrc num-buffers={total} "
                   f"is-live={'true' if live_src else 'false'}")
            if kept:
                # Our own pool (in process, shmsink) must outlast what the
                # consumer keeps, or the stream stalls for want of buffers.
                gen += f" max-buffers={kept + 8}"
        src = (f"{gen} ! {cfg.caps(fps)} ! "
               f"zcipcstamp warmup={warmup} location={d / 'producer.json'}")
        n = cfg.consumers
        # async=false: the in-process tee branches have no queues, so a sink
        # waiting for preroll would block the others' preroll for good.
        # A queue that keeps @kept frames: it lets none go before it holds
        # that many, and takes no more (the byte and time limits off: 1080p
        # frames would fill its default 10 MB first and it would wait for
        # good).
        keep = (f"queue min-threshold-buffers={kept} max-size-buffers={kept} "
                "max-size-bytes=0 max-size-time=0 ! " if kept else "")
        consumer_tail = ("zcipclatency warmup={w} location={loc} last-index={last} "
                         f"touch={'true' if touch else 'false'} ! {keep}"
                         "fakesink sync=false async=false")

        def tail(i: int) -> str:
            return consumer_tail.format(w=warmup, loc=d / f"consumer{i}.json",
                                        last=total - 1)

        procs: list[Proc] = []
        t0 = time.monotonic()
        out = {"transport": transport, "config": cfg.key, "kind": kind, "live": live,
               "total": total, "warmup": warmup, "touch": touch, "ok": False}
        if variant:
            out.update({"variant": variant, "fps_paced": fps, "kept": kept,
                        "src_props": src_props, "sink_props": sink_props})
        try:
            if transport == "inproc":
                if n == 1:
                    pipe = f"{src} ! {tail(0)}"
                else:
                    pipe = f"{src} ! tee name=t " + " ".join(
                        f"t. ! {tail(i)}" for i in range(n))
                prod = Proc(self._runner(d / "stats.json", pipe, False), self.env, d,
                            "producer")
                procs.append(prod)
            else:
                if transport == "zcipc":
                    sink = (f"zcipcsink socket-path={sock} min-consumers={n} "
                            f"slow-consumer=wait wait-timeout=20000 sync=false "
                            f"{self.sink_props} {sink_props}").strip()
                    csrc = (f"zcipcsrc socket-path={sock} {self.src_props} "
                            f"{src_props}").strip()
                else:
                    # Room for every frame in flight: when the area is full,
                    # shmsink copies into system memory and, in our tests,
                    # could wedge for good (64 MiB: its default).
                    shm_size = max(64 << 20,
                                   cfg.frame_size * (20 + kept) + (8 << 20))
                    sink = (f"shmsink socket-path={sock} shm-size={shm_size} "
                            f"wait-for-connection=true sync=false")
                    csrc = f"shmsrc socket-path={sock} is-live=true ! {cfg.caps(fps)}"
                prod = Proc(self._runner(d / "stats.json", f"{src} ! {sink}", True),
                            self.env, d, "producer", stdin=True)
                procs.append(prod)
                if not prod.wait_for("paused", time.monotonic() + 30):
                    raise RuntimeError("producer did not reach PAUSED:\n" + prod.tail())
                for i in range(n):
                    # gst-launch-1.0 escapes spaces inside an argument: one
                    # word per argument.
                    procs.append(Proc(["gst-launch-1.0"] + shlex.split(f"{csrc} ! {tail(i)}"),
                                      self.env, d, f"consumer{i}"))
                for c in procs[1:]:
                    if not c.wait_for("Setting pipeline to PLAYING",
                                      time.monotonic() + 30):
                        raise RuntimeError(f"{c.name} did not start:\n" + c.tail())
                prod.popen.stdin.write(b"play\n")
                prod.popen.stdin.flush()
            deadline = time.monotonic() + timeout
            stall = StallWatch(procs[0].popen.pid) if not live else None
            for p in procs:
                while p.popen.poll() is None:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{p.name} did not finish in {timeout:.0f} s:\n"
                                           + p.tail())
                    if stall and stall.stalled():
                        out["stalled"] = True
                        raise RuntimeError(f"the producer stalled (no CPU time for "
                                           f"{StallWatch.LIMIT:.0f} s): wedged\n" + p.tail())
                    time.sleep(0.05)
            out.update(self._parse(d, transport, n))
        except (RuntimeError, OSError, ValueError, KeyError) as e:
            out["error"] = str(e)
            log(f"  !! {transport} {cfg.label}: {str(e)[:2000]}")
        finally:
            for p in procs:
                p.kill()
                p.close()
            out["wall_s"] = round(time.monotonic() - t0, 2)
        return out

    def _parse(self, d: Path, transport: str, n: int) -> dict:
        def load(name: str) -> dict:
            p = d / name
            if not p.exists():
                raise RuntimeError(f"{name} was not written")
            return json.loads(p.read_text())

        prod = load("producer.json")
        stats = load("stats.json")
        if stats.get("error"):
            raise RuntimeError("producer: " + stats["error"])
        cons = [load(f"consumer{i}.json") for i in range(n)]
        if not prod["window"] or not all(c["window"] for c in cons):
            raise RuntimeError("a steady-state window never opened")
        pw = prod["window"]
        res = {
            "ok": True,
            "producer": {k: pw[k] for k in pw},
            "consumers": [{k: c["window"][k] for k in c["window"]} |
                          {"received": c["received"], "lost": c["lost"],
                           "first_index": c["first_index"],
                           "complete": c["complete"],
                           "source_stats": c.get("source_stats")} for c in cons],
            "elements": stats.get("elements", {}),
            "producer_status": stats.get("status", {}),
        }
        # The last frames are not steady state: right behind them the
        # producer handles EOS (and writes its report) on the CPU the
        # consumer is about to be woken on; they were the maximum of every
        # 30 fps run. They still count for lost frames and the CPU window.
        lat = [x / 1000.0 for c in cons for x in c["latency_ns"][:-LATENCY_COOLDOWN]]
        res["latency_us"] = lat
        return res


# ------------------------------------------------------------- analysis

def cpu_us_per_frame(w: dict) -> float:
    return (w["utime_us"] + w["stime_us"]) / max(1, w["frames"])


def summarize_throughput(run: dict) -> dict:
    """Per-run figures of a max-rate run."""
    p = run["producer"]
    s = {"producer_fps": p["frames"] / (p["ns"] / 1e9),
         "producer_cpu_us": cpu_us_per_frame(p),
         "producer_faults": p["minflt"] / max(1, p["frames"])}
    if run["transport"] == "inproc":
        s["fps"] = s["producer_fps"]
        s["total_cpu_us"] = s["producer_cpu_us"]
        s["consumer_cpu_us"] = 0.0
        s["consumer_faults"] = 0.0
        s["consumer_faults_max"] = 0.0
    else:
        cs = run["consumers"]
        s["fps"] = min(c["frames"] / (c["ns"] / 1e9) for c in cs)
        s["consumer_cpu_us"] = sum(cpu_us_per_frame(c) for c in cs)
        s["consumer_cpu_us_each"] = s["consumer_cpu_us"] / len(cs)
        s["total_cpu_us"] = s["producer_cpu_us"] + s["consumer_cpu_us"]
        s["consumer_faults"] = sum(c["minflt"] / max(1, c["frames"]) for c in cs)
        s["consumer_faults_max"] = max(c["minflt"] / max(1, c["frames"]) for c in cs)
    s["faults"] = s["producer_faults"] + s["consumer_faults"]
    s["lost"] = sum(c["lost"] for c in run["consumers"])
    st = run.get("producer_status", {})
    for k, f in (("VmHWM", "producer_hwm_mib"), ("RssShmem", "producer_shmem_mib")):
        if k in st:
            s[f] = int(st[k].split()[0]) / 1024.0
    s["copied"] = None
    for e in run.get("elements", {}).values():
        if e.get("factory") == "zcipcsink":
            s["copied"] = e.get("frames-copied")
    # The consumers' zcipcsrc copies (under pressure: downstream keeps more
    # than the producer lends), from zcipclatency's report; None when a
    # consumer's stats are missing (results from before they were recorded).
    s["consumer_copied"] = s["consumer_bytes_copied"] = None
    if run["transport"] == "zcipc":
        st = [c.get("source_stats") or {} for c in run["consumers"]]
        if all("frames-copied" in x for x in st):
            s["consumer_copied"] = sum(x["frames-copied"] for x in st)
            s["consumer_bytes_copied"] = sum(x["bytes-copied"] for x in st)
            s["consumer_received"] = sum(x["frames-received"] for x in st)
            s["quota"] = min(x["quota"] for x in st)
            s["quota_asked"] = max(x["quota-asked"] for x in st)
    return s


def summarize_latency(run: dict) -> dict:
    lat = run["latency_us"]
    return {"p50": percentile(lat, 50), "p99": percentile(lat, 99), "max": max(lat),
            "n": len(lat), "lost": sum(c["lost"] for c in run["consumers"])}


def summarize_floor(run: dict) -> dict:
    lat = run["latency_us"]
    return {"p50": percentile(lat, 50), "p99": percentile(lat, 99), "max": max(lat),
            "n": len(lat), "lost": 0}


THROUGHPUT_FIELDS = ("fps", "producer_fps", "ratio", "total_cpu_us", "transport_cpu_us",
                     "producer_transport_cpu_us", "producer_cpu_us", "consumer_cpu_us",
                     "consumer_cpu_us_each", "producer_faults", "consumer_faults",
                     "consumer_faults_max", "faults", "lost", "copied", "consumer_copied",
                     "producer_hwm_mib", "producer_shmem_mib")


def analyze(configs: list[Config], tp_runs: list[dict], lat_runs: list[dict],
            floor_runs: list[dict]) -> dict:
    by = {}
    for r in tp_runs:
        if r.get("ok"):
            by.setdefault((r["kind"], r["config"], r["transport"], r["rep"]), r)
    reps = sorted({r["rep"] for r in tp_runs})
    table = []
    for cfg in configs:
        row = {"config": cfg.key, "label": cfg.label, "consumers": cfg.consumers,
               "size": f"{cfg.width}x{cfg.height}", "format": cfg.fmt}
        for t in TRANSPORTS:
            row[t] = {}
        for kind in ("ratio", "cost"):
            per = {t: [] for t in TRANSPORTS}
            for rep in reps:
                base = by.get((kind, cfg.key, "inproc", rep))
                bs = summarize_throughput(base) if base else None
                for t in TRANSPORTS:
                    r = by.get((kind, cfg.key, t, rep))
                    if not r:
                        continue
                    s = summarize_throughput(r)
                    if bs:
                        s["ratio"] = s["fps"] / bs["fps"]
                        s["transport_cpu_us"] = s["total_cpu_us"] - bs["total_cpu_us"]
                        s["producer_transport_cpu_us"] = (s["producer_cpu_us"]
                                                          - bs["producer_cpu_us"])
                    per[t].append(s)
            for t in TRANSPORTS:
                row[t][kind] = {f: agg([s.get(f) for s in per[t]])
                                for f in THROUGHPUT_FIELDS}
        # Latency.
        for t in ("zcipc", "shm"):
            runs = [r for r in lat_runs if r.get("ok") and r["config"] == cfg.key
                    and r["transport"] == t]
            sums = [summarize_latency(r) for r in runs]
            pooled = [x for r in runs for x in r["latency_us"]]
            row[t]["latency"] = {f: agg([s[f] for s in sums])
                                 for f in ("p50", "p99", "max", "lost")}
            row[t]["latency"]["pooled"] = ({"p50": percentile(pooled, 50),
                                            "p99": percentile(pooled, 99),
                                            "max": max(pooled), "n": len(pooled)}
                                           if pooled else None)
        table.append(row)
    fsums = [summarize_floor(r) for r in floor_runs if r.get("ok")]
    fpooled = [x for r in floor_runs if r.get("ok") for x in r["latency_us"]]
    floor = {f: agg([s[f] for s in fsums]) for f in ("p50", "p99", "max")}
    floor["pooled"] = ({"p50": percentile(fpooled, 50), "p99": percentile(fpooled, 99),
                        "max": max(fpooled), "n": len(fpooled)} if fpooled else None)
    # Scale: transport CPU of N consumers over one consumer's, same size.
    scale = []
    for cfg in configs:
        if cfg.consumers == 1:
            continue
        one = next((r for r in table if r["config"] == Config(
            cfg.width, cfg.height, cfg.fmt, 1).key), None)
        many = next(r for r in table if r["config"] == cfg.key)
        for t in ("zcipc", "shm"):
            a = one and one[t]["cost"]["transport_cpu_us"]
            b = many[t]["cost"]["transport_cpu_us"]
            if a and b and a["median"] > 0:
                scale.append({"config": cfg.key, "transport": t,
                              "consumers": cfg.consumers,
                              "x_one_consumer": b["median"] / a["median"]})
    return {"rows": table, "floor": floor, "scale": scale}


def fmt(a: dict | None, spec: str = ".0f", rng: bool = True) -> str:
    if not a:
        return "–"
    m = format(a["median"], spec)
    if rng and a["n"] > 1:
        return f"{m} ({format(a['min'], spec)}–{format(a['max'], spec)})"
    return m


def consumer_copies(row: dict) -> str:
    """The most frames any zcipc max-rate run's consumers copied."""
    vals = [row["zcipc"][k]["consumer_copied"] for k in ("ratio", "cost")]
    vals = [v["max"] for v in vals if v]
    return f"{max(vals):.0f}" if vals else "–"


def markdown(result: dict) -> str:
    an = result["analysis"]
    floor = an["floor"]
    lines = []
    lines.append("### Throughput: videotestsrc at max rate, sync=false\n")
    lines.append("Medians over the repetitions, (min–max) in brackets. *ratio*: "
                 "delivered fps (slowest consumer) / in-process fps of the same "
                 "repetition; *faults*: minor page faults per frame in the steady "
                 "state, producer / sum of consumers; *lost*: frames missing at the "
                 "consumers (sum over repetitions' medians); *copies P / C*: zcipcsink's "
                 "frames-copied / the sum of the consumers' zcipcsrc frames-copied "
                 "(the cost runs' too: a copy in any run shows).\n")
    lines.append("| configuration | in-process fps | zcipc ratio | shm ratio | "
                 "zcipc faults P / C | shm faults P / C | lost z / s | "
                 "zcipc copies P / C |")
    lines.append("|---|---|---|---|---|---|---|---|")
    for row in an["rows"]:
        z, s, i = row["zcipc"]["ratio"], row["shm"]["ratio"], row["inproc"]["ratio"]
        lines.append(
            f"| {row['label']} | {fmt(i['fps'])} | {fmt(z['ratio'], '.2f')} | "
            f"{fmt(s['ratio'], '.2f')} | "
            f"{fmt(z['producer_faults'], '.2f', False)} / "
            f"{fmt(z['consumer_faults'], '.2f', False)} | "
            f"{fmt(s['producer_faults'], '.2f', False)} / "
            f"{fmt(s['consumer_faults'], '.2f', False)} | "
            f"{fmt(z['lost'], '.0f', False)} / {fmt(s['lost'], '.0f', False)} | "
            f"{fmt(z['copied'], '.0f', False)} / {consumer_copies(row)} |")
    lines.append("")
    lines.append(f"### Cost: zcipcframesrc (frames cost nothing to produce) at "
                 f"{COST_FPS} fps\n")
    lines.append("*CPU*: transport CPU µs per frame, producer + all consumers, minus "
                 "the in-process pipeline's (whose own CPU per frame is in the second "
                 "column), median (min–max); *P / C*: the producer's part and the "
                 "consumers' (summed); *faults*: per frame, producer / sum of "
                 "consumers.\n")
    fm = an.get("floor_max_rate") or {}
    if fm.get("both_cpu_us"):
        lines.append(f"For scale: one bare socket sleep/wake-up cycle each way, back to "
                     f"back ({fmt(fm['rate_hz'])} per second), costs "
                     f"{fmt(fm['both_cpu_us'], '.1f')} µs of CPU (both processes; "
                     f"sender {fmt(fm['sender_cpu_us'], '.1f', False)}, receiver "
                     f"{fmt(fm['receiver_cpu_us'], '.1f', False)}), one-way p50 "
                     f"{fmt(fm['latency_p50_us'], '.1f', False)} µs.\n")
    lines.append("| configuration | in-process µs | zcipc CPU µs | zcipc P / C | shm CPU µs "
                 "| shm P / C | zcipc faults P / C | shm faults P / C | producer peak RSS "
                 "(shared) MiB z / s |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for row in an["rows"]:
        z, s, i = row["zcipc"]["cost"], row["shm"]["cost"], row["inproc"]["cost"]
        lines.append(
            f"| {row['label']} | {fmt(i['total_cpu_us'], '.1f', False)} | "
            f"{fmt(z['transport_cpu_us'], '.1f')} | "
            f"{fmt(z['producer_transport_cpu_us'], '.1f', False)} / "
            f"{fmt(z['consumer_cpu_us'], '.1f', False)} | "
            f"{fmt(s['transport_cpu_us'], '.1f')} | "
            f"{fmt(s['producer_transport_cpu_us'], '.1f', False)} / "
            f"{fmt(s['consumer_cpu_us'], '.1f', False)} | "
            f"{fmt(z['producer_faults'], '.2f', False)} / "
            f"{fmt(z['consumer_faults'], '.2f', False)} | "
            f"{fmt(s['producer_faults'], '.2f', False)} / "
            f"{fmt(s['consumer_faults'], '.2f', False)} | "
            f"{fmt(z['producer_hwm_mib'], '.0f', False)} ({fmt(z['producer_shmem_mib'], '.0f', False)})"
            f" / {fmt(s['producer_hwm_mib'], '.0f', False)} "
            f"({fmt(s['producer_shmem_mib'], '.0f', False)}) |")
    slow = [f"{t} {row['label']}" for row in an["rows"] for t in TRANSPORTS
            if row[t]["cost"].get("producer_fps") and
            row[t]["cost"]["producer_fps"]["median"] < 0.95 * COST_FPS]
    if slow:
        lines.append("")
        lines.append(f"Could not keep up with {COST_FPS} fps: " + ", ".join(slow) + ".")
    if an.get("scale"):
        lines.append("")
        lines.append("Transport CPU of N consumers / one consumer's (same frame size; "
                     "target ≤ N): " + "; ".join(
                         f"{x['transport']} {x['config']}: {x['x_one_consumer']:.1f}×"
                         for x in an["scale"]) + ".")
    fails = result.get("failures", [])
    if fails:
        counts = {}
        for f in fails:
            k = (f["transport"], f["config"], f["kind"], f.get("stalled", False))
            counts[k] = counts.get(k, 0) + 1
        lines.append("")
        lines.append("Failed runs (each retried once; the retry is what the tables "
                     "show): " + "; ".join(
                         f"{t} {c} {kind}: {n}×"
                         f"{' (wedged: no CPU progress)' if st else ''}"
                         for (t, c, kind, st), n in sorted(counts.items())) + ".")
    lines.append("")
    lines.append("### Latency at 30 fps, sink render → source push (µs)\n")
    fl = floor
    fp = fl.get("pooled") or {}
    lines.append((f"Bare Unix-socket wake-up floor (same run): p50 {fmt(fl['p50'])}, "
                  f"p99 {fp['p99']:.0f}, max {fp['max']:.0f} µs. " if fp else "")
                 + f"Targets: zcipc p50 ≤ {TARGET_P50_X_FLOOR}× and p99 ≤ "
                 f"{TARGET_P99_X_FLOOR}× the floor. *p50*: median over repetitions of each repetition's p50 (all "
                 "consumers of the run), (min–max); *p99* and *max*: over every frame of "
                 "every repetition (a repetition alone has too few frames for a p99); "
                 "*×floor*: the same statistic divided by the floor's.\n")
    lines.append("| configuration | zcipc p50 | zcipc p99 | zcipc max | zcipc ×floor p50 / p99 | "
                 "shm p50 | shm p99 | shm max | shm ×floor p50 / p99 | lost z / s |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    f50 = fl["p50"]["median"] if fl.get("p50") else None
    f99 = fp.get("p99")

    def pooled(lat, k):
        p = lat.get("pooled")
        return f"{p[k]:.0f}" if p else "–"

    def ratio(v, f):
        return f"{v / f:.1f}" if v is not None and f else "–"

    for row in an["rows"]:
        cells = [row["label"]]
        for t in ("zcipc", "shm"):
            lat = row[t]["latency"]
            p = lat.get("pooled") or {}
            cells += [fmt(lat["p50"]), pooled(lat, "p99"), pooled(lat, "max"),
                      f"{ratio(lat['p50']['median'] if lat['p50'] else None, f50)} / "
                      f"{ratio(p.get('p99'), f99)}"]
        cells.append(f"{fmt(row['zcipc']['latency']['lost'], '.0f', False)} / "
                     f"{fmt(row['shm']['latency']['lost'], '.0f', False)}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- plots

def plots(result: dict, outdir: Path) -> list[Path]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    an = result["analysis"]
    rows = an["rows"]
    labels = [r["label"].replace(" ", "\n", 1).replace(" ×", " ×") for r in rows]
    xs = list(range(len(rows)))
    made = []
    colors = {"zcipc": "#1f77b4", "shm": "#ff7f0e", "inproc": "#7f7f7f"}

    def bars(ax, field, transports, getter=None, width=0.38):
        for j, t in enumerate(transports):
            med, lo, hi = [], [], []
            for r in rows:
                a = getter(r[t]) if getter else r[t][field]
                if a:
                    med.append(a["median"])
                    lo.append(a["median"] - a["min"])
                    hi.append(a["max"] - a["median"])
                else:
                    med.append(0)
                    lo.append(0)
                    hi.append(0)
            off = (j - (len(transports) - 1) / 2) * width
            ax.bar([x + off for x in xs], med, width, yerr=[lo, hi], capsize=3,
                   label={"zcipc": "zcipc", "shm": "shmsink/shmsrc",
                          "inproc": "in-process"}[t], color=colors[t])
        ax.set_xticks(xs)
        ax.set_xticklabels(labels, fontsize=7)

    def save(fig, name):
        p = outdir / name
        fig.tight_layout()
        fig.savefig(p, dpi=110)
        plt.close(fig)
        made.append(p)

    fig, ax = plt.subplots(figsize=(10, 4))
    bars(ax, None, ("zcipc", "shm"), getter=lambda t: t["ratio"]["ratio"])
    ax.axhline(TARGET_FPS_RATIO, color="green", ls="--", lw=1,
               label=f"target ≥ {TARGET_FPS_RATIO}")
    ax.set_ylabel("fps / in-process fps")
    ax.set_title("Throughput relative to the same pipeline in one process "
                 "(videotestsrc pattern=black)", fontsize=10)
    ax.legend(fontsize=8)
    save(fig, "fps_ratio.png")

    # Transport CPU, stacked producer / consumers, from the cost runs.
    fig, ax = plt.subplots(figsize=(10, 4))
    width = 0.38
    for j, t in enumerate(("zcipc", "shm")):
        off = (j - 0.5) * width
        prod = [(r[t]["cost"]["producer_transport_cpu_us"] or {}).get("median", 0)
                for r in rows]
        cons = [(r[t]["cost"]["consumer_cpu_us"] or {}).get("median", 0) for r in rows]
        ax.bar([x + off for x in xs], prod, width, color=colors[t],
               label=f"{'zcipc' if t == 'zcipc' else 'shmsink/shmsrc'}: producer")
        ax.bar([x + off for x in xs], cons, width, bottom=prod, color=colors[t],
               alpha=0.45, label=f"{'zcipc' if t == 'zcipc' else 'shmsink/shmsrc'}: "
               "consumers")
    ax.axhline(TARGET_CPU_US, color="green", ls="--", lw=1,
               label=f"target ≤ {TARGET_CPU_US:.0f} µs")
    fm = an.get("floor_max_rate") or {}
    if fm.get("both_cpu_us"):
        ax.axhline(fm["both_cpu_us"]["median"], color="black", lw=1,
                   label="bare socket wake-up, both sides")
    ax.set_xticks(xs)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_ylabel("transport CPU µs / frame")
    ax.set_title(f"Transport CPU per frame, all processes (zcipcframesrc, {COST_FPS} fps)",
                 fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    save(fig, "cpu_per_frame.png")

    fig, ax = plt.subplots(figsize=(10, 4))
    bars(ax, None, ("zcipc", "shm"), getter=lambda t: t["ratio"]["faults"])
    ax.set_ylabel("minor page faults / frame (all processes)")
    ax.set_title("Page faults per frame in steady state (videotestsrc, max rate)",
                 fontsize=10)
    ax.legend(fontsize=8)
    save(fig, "faults_per_frame.png")

    fig, axes = plt.subplots(1, 2, figsize=(15, 4.5))
    floor = an["floor"]
    for ax, q, tx in ((axes[0], "p50", TARGET_P50_X_FLOOR), (axes[1], "p99", TARGET_P99_X_FLOOR)):
        def get(t, q=q):
            if q == "p50":
                return t["latency"]["p50"]
            p = t["latency"].get("pooled")
            return {"median": p[q], "min": p[q], "max": p[q], "n": 1} if p else None

        bars(ax, None, ("zcipc", "shm"), getter=get)
        fv = (floor[q]["median"] if q == "p50" and floor.get(q) else
              (floor.get("pooled") or {}).get(q))
        if fv:
            ax.axhline(fv, color="black", lw=1, label=f"socket floor {q}")
            ax.axhline(fv * tx, color="green", ls="--", lw=1,
                       label=f"target {tx}× floor")
        ax.set_yscale("log")
        ax.set_ylabel(f"latency {q} µs")
        ax.set_title(f"Sink render → source push at 30 fps, {q}"
                     + (" (all frames of all repetitions)" if q == "p99" else ""),
                     fontsize=9)
        ax.legend(fontsize=7)
    save(fig, "latency.png")

    # CDF of the pooled latencies for single-consumer 1080p RGBA.
    cdf = result.get("latency_samples", {})
    if cdf:
        fig, ax = plt.subplots(figsize=(7, 4))
        for name, vals in cdf.items():
            if not vals:
                continue
            s = sorted(vals)
            ax.plot(s, [(i + 1) / len(s) for i in range(len(s))], label=name)
        ax.set_xscale("log")
        ax.set_xlabel("latency µs (log)")
        ax.set_ylabel("fraction of frames")
        ax.set_title("Latency distribution, 1920x1080 RGBA, 1 consumer, 30 fps")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        save(fig, "latency_cdf.png")
    return made


# ------------------------------------------------- copies under pressure
#
# Issue 14. Every consumer keeps PRESSURE_KEPT frames downstream (a queue
# that lets none go before it holds them, like an encoder's lookahead), more
# than zcipcsrc's default grant (max-held 4 + 1) and than zcipcsink's default
# consumer-quota (8). Same stream, same pipelines, side by side:
#   zcipc-granted: zcipcsrc max-held covers what downstream keeps (and the
#                  producer's consumer-quota allows it): zero copy, the
#                  consumer's frames-copied must stay 0;
#   zcipc-copied:  zcipcsrc max-held=2: it is lent 3 frames, so it copies
#                  (almost) every frame into private memory and releases the
#                  slot at once;
#   inproc:        the same pipeline in one process (no transport, no copy);
#   shm:           shmsink/shmsrc with the same consumer (its area holds
#                  what the consumer keeps).
# zcipcframesrc paced at a rate a copy sustains on 2 cores, so that every
# variant pays per frame at the same rate; the consumer's CPU per frame of
# zcipc-copied minus zcipc-granted's (same repetition) is what the copies
# cost. For reference, a plain memcpy of the frame size in this process.

PRESSURE_KEPT = 10
PRESSURE_CONFIGS = [Config(640, 480, "RGBA", 1), Config(1920, 1080, "RGBA", 1)]
PRESSURE_FPS = {"640x480-RGBA-c1": 1000, "1920x1080-RGBA-c1": 300}
PRESSURE_SECONDS = 2.0
# Flat out: zcipcframesrc not live, PRESSURE_MAX_FRAMES frames as fast as
# the slowest part allows (the lossless producer waits for its consumer):
# how many frames per second a consumer that copies sustains. shmsink is
# left out flat out (it wedged in such runs; see "Limits of this
# benchmark").
PRESSURE_MAX_FRAMES = 4000
PRESSURE_MAX_VARIANTS = ("inproc", "zcipc-granted", "zcipc-copied")
PRESSURE_SINK_QUOTA = 16
# What the granted consumer holds at most: the queue's frames, the one
# fakesink renders, the one it keeps as its last sample, and one spare
# (quota = max-held + 1; a frame arriving at quota - 1 held is copied).
PRESSURE_GRANTED_HELD = PRESSURE_KEPT + 4
# (variant, transport, zcipcsrc properties, zcipcsink properties)
PRESSURE_VARIANTS = (
    ("inproc", "inproc", "", ""),
    ("zcipc-granted", "zcipc", f"max-held={PRESSURE_GRANTED_HELD}",
     f"consumer-quota={PRESSURE_SINK_QUOTA}"),
    # max-held=2 as it was measured (the default is now 4; a queue of 10
    # is beyond either).
    ("zcipc-copied", "zcipc", "max-held=2", f"consumer-quota={PRESSURE_SINK_QUOTA}"),
    ("shm", "shm", "", ""),
)


def pressure_frames(cfg: Config, seconds: float) -> tuple[int, int, int]:
    """(fps, total frames, warm-up frames) of a paced pressure run (a
    flat-out run sends as many frames)."""
    fps = PRESSURE_FPS.get(cfg.key, 300)
    frames = int(fps * seconds)
    warmup = max(50, frames // 5)
    return fps, frames + warmup, warmup


def measure_memcpy(size: int, copies: int) -> dict:
    """CPU (this thread) and wall µs of one memcpy of @size bytes, from
    sources that together hold 64 MiB or more (beyond the caches: a
    consumer's copy reads a frame the producer wrote a while ago, among the
    pool's others) into a few destinations (a small pool)."""
    import ctypes
    n_src = max(8, -(-(64 << 20) // size))
    srcs = [ctypes.create_string_buffer(b"\x5a" * size, size) for _ in range(n_src)]
    dsts = [ctypes.create_string_buffer(size) for _ in range(4)]
    for i in range(n_src):      # every page touched before timing
        ctypes.memmove(dsts[i % 4], srcs[i], size)
    t0, w0 = time.thread_time_ns(), time.perf_counter_ns()
    for i in range(copies):
        ctypes.memmove(dsts[i % 4], srcs[i % n_src], size)
    t1, w1 = time.thread_time_ns(), time.perf_counter_ns()
    return {"size": size, "copies": copies, "cpu_us": (t1 - t0) / copies / 1000,
            "wall_us": (w1 - w0) / copies / 1000}


def run_pressure(bench: Bench, configs: list[Config], reps: int, seconds: float,
                 variants=PRESSURE_VARIANTS, touch: bool = False,
                 flat_out: bool = False) -> tuple[list, list]:
    """Every variant of every configuration (paced, then flat out), per
    repetition; the variants' order rotates and the granted/copied pair
    alternates its order."""
    runs, memcpys = [], []
    modes = ("paced", "max") if flat_out else ("paced",)
    for rep in range(reps):
        for cfg, mode in [(c, m) for c in configs for m in modes]:
            vs = [v for v in variants if mode == "paced" or v[0] in PRESSURE_MAX_VARIANTS]
            rot = rep % len(vs)
            vs = vs[rot:] + vs[:rot]
            names = [v[0] for v in vs]
            if ("zcipc-granted" in names and "zcipc-copied" in names and
                    (names.index("zcipc-granted") < names.index("zcipc-copied"))
                    != (rep % 2 == 0)):
                i, j = names.index("zcipc-granted"), names.index("zcipc-copied")
                vs[i], vs[j] = vs[j], vs[i]
            fps, total, warmup = pressure_frames(cfg, seconds)
            if mode == "max":
                total = int(PRESSURE_MAX_FRAMES * seconds / PRESSURE_SECONDS)
                warmup = max(50, total // 5)
            for variant, transport, sp, kp in vs:
                def once():
                    return bench.run(transport, cfg, "pressure", total, warmup,
                                     timeout=20 + total / min(fps, 300) * 3, touch=touch,
                                     fps=fps, live_src=mode == "paced",
                                     kept=PRESSURE_KEPT, src_props=sp,
                                     sink_props=kp, variant=variant)
                r = once()
                if not r.get("ok"):
                    log("  retrying once")
                    r = once()
                r["rep"], r["mode"] = rep, mode
                runs.append(r)
                if r.get("ok"):
                    x = summarize_throughput(r)
                    cc = x.get("consumer_copied")
                    log(f"  rep {rep} pressure {mode:5s} {variant:13s} {cfg.label:22s} "
                        f"{x['fps']:6.0f} fps consumer {x['consumer_cpu_us']:7.1f} µs/f "
                        f"total {x['total_cpu_us']:7.1f} µs/f copied "
                        f"{'–' if cc is None else cc}")
            if len(variants) > 1 and mode == "paced":
                m = measure_memcpy(cfg.frame_size, 400 if cfg.frame_size < 4 << 20 else 100)
                m["config"], m["rep"] = cfg.key, rep
                memcpys.append(m)
    return runs, memcpys


def analyze_pressure(runs: list[dict], memcpys: list[dict]) -> list[dict]:
    rows = []
    for key, mode in dict.fromkeys((r["config"], r.get("mode", "paced")) for r in runs):
        cfg = config_from_key(key)
        row = {"config": key, "mode": mode, "label": cfg.label,
               "frame_size": cfg.frame_size, "fps_paced": None, "variants": {}}
        per = {}
        for r in runs:
            if (r["config"] != key or r.get("mode", "paced") != mode
                    or not r.get("ok")):
                continue
            row["fps_paced"] = r.get("fps_paced")
            s = summarize_throughput(r)
            s["copied_per_frame"] = (s["consumer_copied"] / s["consumer_received"]
                                     if s.get("consumer_received") else None)
            s["mb_copied_per_frame"] = (s["consumer_bytes_copied"] / 1e6 /
                                        s["consumer_received"]
                                        if s.get("consumer_received") else None)
            per.setdefault(r["variant"], {})[r["rep"]] = s
        fields = ("fps", "consumer_cpu_us", "producer_cpu_us", "total_cpu_us",
                  "consumer_copied", "consumer_bytes_copied", "copied_per_frame",
                  "mb_copied_per_frame", "quota", "quota_asked", "consumer_faults",
                  "lost")
        for v, byrep in per.items():
            row["variants"][v] = {f: agg([s.get(f) for s in byrep.values()])
                                  for f in fields}
        # The copies' cost, paired per repetition: consumer CPU per frame
        # copied minus granted, and per frame actually copied.
        g, c = per.get("zcipc-granted", {}), per.get("zcipc-copied", {})
        diffs = [c[k]["consumer_cpu_us"] - g[k]["consumer_cpu_us"] for k in c if k in g]
        per_copy = [(c[k]["consumer_cpu_us"] - g[k]["consumer_cpu_us"])
                    / c[k]["copied_per_frame"] for k in c
                    if k in g and c[k].get("copied_per_frame")]
        row["copy_cost_us"] = agg(diffs)
        row["copy_cost_per_copy_us"] = agg(per_copy)
        ms = [m for m in memcpys if m["config"] == key]
        row["memcpy_cpu_us"] = agg([m["cpu_us"] for m in ms])
        row["memcpy_wall_us"] = agg([m["wall_us"] for m in ms])
        rows.append(row)
    return rows


def markdown_pressure(result: dict) -> str:
    rows = result["analysis"].get("pressure") or []
    if not rows:
        return ""
    st = result.get("settings", {}).get("pressure", {})
    kept = st.get("kept", PRESSURE_KEPT)
    lines = ["### Copies under pressure: a consumer that keeps "
             f"{kept} frames downstream\n"]
    lines.append(
        f"Every consumer is `zcipcsrc ! zcipclatency ! queue min-threshold-buffers={kept} "
        "! fakesink` (shmsrc likewise; in process, the same elements after the source), "
        "zcipcframesrc paced at the fps shown, or *flat out* (as fast as the slowest "
        "part allows: the lossless producer waits for its consumer). *granted*: zcipcsrc "
        f"max-held={PRESSURE_GRANTED_HELD} with zcipcsink consumer-quota={PRESSURE_SINK_QUOTA} "
        "(zero copy); *copied*: zcipcsrc max-held=2 (quota 3), so the consumer copies "
        "what arrives while downstream keeps the rest. *CPU*: µs per frame in "
        "the steady state, consumer process / all processes; *copied*: the "
        "consumer's frames-copied per frame received and MB per frame; medians over "
        "the repetitions, (min–max).\n")
    lines.append("| configuration | variant | fps | consumer CPU µs | total CPU µs | "
                 "copied / frame | MB copied / frame | quota (asked) | consumer faults / frame |")
    lines.append("|---|---|---|---|---|---|---|---|---|")
    def rate(row):
        return "flat out" if row.get("mode") == "max" else f"{row['fps_paced']} fps"

    names = {"inproc": "in-process", "zcipc-granted": "zcipc granted",
             "zcipc-copied": "zcipc copied", "shm": "shmsink/shmsrc"}
    for row in rows:
        for v in ("inproc", "zcipc-granted", "zcipc-copied", "shm"):
            x = row["variants"].get(v)
            if not x:
                continue
            lines.append(
                f"| {row['label']} @ {rate(row)} | {names[v]} | "
                f"{fmt(x['fps'])} | "
                f"{fmt(x['consumer_cpu_us'], '.1f') if v != 'inproc' else '–'} | "
                f"{fmt(x['total_cpu_us'], '.1f')} | "
                f"{fmt(x['copied_per_frame'], '.2f', False)} | "
                f"{fmt(x['mb_copied_per_frame'], '.2f', False)} | "
                f"{fmt(x['quota'], '.0f', False)} ({fmt(x['quota_asked'], '.0f', False)}) | "
                f"{fmt(x['consumer_faults'], '.2f', False) if v != 'inproc' else '–'} |")
    lines.append("")
    lines.append("| configuration | frame | copy's cost: consumer CPU µs / frame, copied − "
                 "granted | per frame copied | plain memcpy CPU µs (wall) |")
    lines.append("|---|---|---|---|---|")
    for row in rows:
        lines.append(
            f"| {row['label']} @ {rate(row)} | {row['frame_size'] / 1e6:.2f} MB | "
            f"{fmt(row['copy_cost_us'], '.1f')} | "
            f"{fmt(row['copy_cost_per_copy_us'], '.1f')} | "
            f"{fmt(row['memcpy_cpu_us'], '.1f')} ({fmt(row['memcpy_wall_us'], '.1f', False)}) |")
    granted = [x for row in rows for v, x in row["variants"].items()
               if v == "zcipc-granted" and x["consumer_copied"]]
    if granted:
        top = max(x["consumer_copied"]["max"] for x in granted)
        lines.append("")
        lines.append(f"Granted consumers copied {top:.0f} frames in every repetition "
                     "(at most)." if top else
                     "Granted consumers (no pressure) copied 0 frames in every "
                     "repetition.")
    lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------- main

def replace_block(text: str, name: str, body: str) -> str:
    begin, end = f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"
    pat = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pat.search(text):
        return text
    return pat.sub(lambda _: f"{begin}\n{body}\n{end}", text)


def pool_growth_faults(run: dict) -> int:
    """The most page faults the producer's pool growth explains in `run`:
    for each region the sink announced beyond its first pool region (per
    consumer), QUICK_GROWTH_SLOTS frames first touched. 0 when the pool did
    not grow (or results from before regions-announced was recorded)."""
    cfg = config_from_key(run["config"])
    for e in run.get("elements", {}).values():
        if e.get("factory") == "zcipcsink" and "regions-announced" in e:
            grown = e["regions-announced"] // max(1, cfg.consumers) - 1
            pages = -(-cfg.frame_size // PAGE_SIZE)
            return max(0, grown) * QUICK_GROWTH_SLOTS * pages
    return 0


def quick_check(result: dict) -> list[str]:
    problems = []
    for r in (result["runs"]["throughput"] + result["runs"]["latency"]
              + result["runs"].get("pressure", [])):
        if r["transport"] != "zcipc" or r.get("variant") == "zcipc-copied":
            continue
        what = f"zcipc {r['config']} {r.get('variant') or r['kind']}"
        if not r.get("ok"):
            problems.append(f"{what}: run failed: {r.get('error', '?')[:500]}")
            continue
        s = summarize_throughput(r)
        if s["copied"] != 0:
            problems.append(f"{what}: zcipcsink frames-copied = {s['copied']} (want 0)")
        if s["consumer_copied"] is None:
            problems.append(f"{what}: the consumers' zcipcsrc stats are missing "
                            "(zcipclatency's source_stats)")
        elif s["consumer_copied"] != 0:
            problems.append(f"{what}: the consumers' zcipcsrc frames-copied = "
                            f"{s['consumer_copied']} (want 0: under no pressure a "
                            "consumer copies nothing)")
        if s["lost"] != 0:
            problems.append(f"{what}: {s['lost']} frames lost (want 0)")
        if r.get("variant"):
            # A consumer that keeps frames downstream: what the check is for
            # is its copies. The producer's pool grows to the most frames
            # ever in flight, which that consumer reaches at its own pace (a
            # late queue thread), so its faults are no per-frame cost.
            continue
        growth = pool_growth_faults(r)
        if s["producer_faults"] > QUICK_MAX_FAULTS_PER_FRAME + \
                growth / max(1, r["producer"]["frames"]):
            problems.append(f"{what}: producer {s['producer_faults']:.3f} page faults "
                            f"per frame in steady state (want ~0"
                            + (f", {growth} of them allowed for the pool's growth"
                               if growth else "") + ")")
        if s["consumer_faults_max"] > QUICK_MAX_FAULTS_PER_FRAME:
            problems.append(f"{what}: consumer {s['consumer_faults_max']:.3f} page "
                            f"faults per frame in steady state (want ~0)")
    return problems


def main(argv: list[str]) -> int:
    if argv and argv[0] == "_run":
        return run_pipeline(argv[1:])

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build-dir", default=str(SOURCE_DIR / "build"),
                    help="meson build directory (default: ./build)")
    ap.add_argument("--quick", action="store_true",
                    help="CI smoke run (< 60 s): zcipc only, checks the zero-copy path")
    ap.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="scale the max-rate frame counts")
    ap.add_argument("--latency-frames", type=int, default=75,
                    help="recorded frames per 30 fps latency run (default 75)")
    ap.add_argument("--floor-count", type=int, default=200,
                    help="wake-ups per floor run (default 200)")
    ap.add_argument("--only", default=None,
                    help="comma-separated config keys, e.g. 1920x1080-RGBA-c1")
    ap.add_argument("--transports", default=None,
                    help="comma-separated subset of inproc,zcipc,shm")
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--pressure", action="store_true",
                    help="also measure copies under pressure (issue 14; ~3 min)")
    ap.add_argument("--pressure-only", action="store_true",
                    help="measure only copies under pressure (default output "
                    "tests/bench/results/pressure.json)")
    ap.add_argument("--pressure-reps", type=int, default=3,
                    help="repetitions of the pressure section (default 3)")
    ap.add_argument("--pressure-seconds", type=float, default=PRESSURE_SECONDS,
                    help=f"steady-state seconds per pressure run (default "
                    f"{PRESSURE_SECONDS:g})")
    ap.add_argument("--sink-props", default="", metavar="PROPS",
                    help="extra zcipcsink properties, e.g. 'yield-after-send=false'")
    ap.add_argument("--src-props", default="", metavar="PROPS",
                    help="extra zcipcsrc properties, e.g. 'spin-time=100'")
    ap.add_argument("--output", default=None, help="JSON output (default "
                    "tests/bench/results/latest.json; with --quick, "
                    "BUILD/tests/bench/bench-quick.json)")
    ap.add_argument("--plots-dir", default=None, help="default: docs/bench for a "
                    "full run, next to --output for a partial one")
    ap.add_argument("--no-docs", action="store_true",
                    help="do not refresh the generated tables in docs/benchmarks.md")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--from-json", default=None, metavar="JSON",
                    help="measure nothing: redo the tables, plots and docs from a "
                    "results file (its raw measurements)")
    args = ap.parse_args(argv)

    if args.from_json:
        src = Path(args.from_json)
        result = json.loads(src.read_text())
        configs = [config_from_key(k) for k in result["configs"]]
        for k in ("only", "transports", "no_latency"):
            setattr(args, k, result.get("partial", {}).get(k) or getattr(args, k))
        return finish(result, configs, args, Path(args.output) if args.output else src)

    build_dir = Path(args.build_dir).resolve()
    configs = QUICK_CONFIGS if args.quick else FULL_CONFIGS
    if args.only:
        keys = set(args.only.split(","))
        configs = [c for c in FULL_CONFIGS + QUICK_CONFIGS if c.key in keys]
        configs = list(dict.fromkeys(configs))
    reps = 1 if args.quick else args.reps
    scale = 0.3 if args.quick else args.scale
    lat_frames = 45 if args.quick else args.latency_frames
    lat_warmup = 15
    transports = ("inproc", "zcipc") if args.quick else TRANSPORTS
    if args.transports:
        transports = tuple(t for t in TRANSPORTS if t in args.transports.split(","))
    # The smoke run (CI, meson test) writes into the build tree, never the
    # source tree.
    if args.pressure_only:
        configs, reps = [], 0
    output = Path(args.output) if args.output else (
        build_dir / "tests" / "bench" / "bench-quick.json" if args.quick
        else RESULTS_DIR / "pressure.json" if args.pressure_only
        else RESULTS_DIR / "latest.json")

    workdir = Path(tempfile.mkdtemp(prefix="zcipc-bench-"))
    started = time.monotonic()
    bench = Bench(build_dir, workdir, args.src_props, args.sink_props)
    info = machine_info()
    log(f"zcipc bench: {len(configs)} configurations × {reps} repetitions, "
        f"work dir {workdir}")
    log(f"machine: {info['nproc']} × {info['cpu']}, Linux {info['kernel']}, "
        f"{info['gstreamer']}")

    tp_runs, lat_runs, floor_runs, failures = [], [], [], []
    floor_cpu_runs, pressure_runs, memcpy_runs = [], [], []
    rng = random.Random(1234)
    try:
        for rep in range(reps):
            # Max-rate runs: configurations in an order that changes per
            # repetition; a configuration's transports back to back (so a
            # ratio compares runs that saw the same background load), first
            # one rotating so that none always runs first.
            corder = list(configs)
            rng.shuffle(corder)
            order = []
            for k, c in enumerate(corder):
                rot = (k + rep) % len(transports)
                ts = transports[rot:] + transports[:rot]
                order += [(c, kind, t) for kind in ("ratio", "cost") for t in ts]
            for cfg, kind, t in order:
                total, warmup = run_frames(cfg, kind, scale)
                r = bench.run(t, cfg, kind, total, warmup, timeout=20 + total / 100,
                              touch=args.quick)
                if not r.get("ok"):
                    failures.append({"rep": rep, "config": cfg.key, "transport": t,
                                     "kind": kind, "stalled": r.get("stalled", False),
                                     "error": r.get("error", "")[:300]})
                    log("  retrying once")
                    r = bench.run(t, cfg, kind, total, warmup, timeout=20 + total / 100,
                                  touch=args.quick)
                r["rep"] = rep
                tp_runs.append(r)
                if r.get("ok"):
                    s = summarize_throughput(r)
                    log(f"  rep {rep} {kind:5s} {t:6s} {cfg.label:22s} {s['fps']:8.0f} fps "
                        f"cpu {s['total_cpu_us']:8.1f} µs/f faults {s['faults']:.3f}/f")
            # The CPU a bare sleep/wake-up cycle costs at the highest rate.
            if not args.quick:
                r = run_floor(bench, 20000, hz=0)
                r["rep"] = rep
                floor_cpu_runs.append(r)
                if r.get("ok"):
                    log(f"  rep {rep} floor  back to back {r['rate_hz']:8.0f} /s cpu "
                        f"{r['sender_cpu_us_per_ping'] + r['receiver_cpu_us_per_ping']:.1f} "
                        f"µs per ping (both sides)")
            if args.no_latency:
                continue
            # 30 fps latency runs, with the floor in among them.
            lorder = [(c, t) for c in configs for t in transports if t != "inproc"]
            if not args.quick:
                lorder.append((None, "floor"))
            rng.shuffle(lorder)
            for cfg, t in lorder:
                if t == "floor":
                    r = run_floor(bench, args.floor_count)
                    r["rep"] = rep
                    floor_runs.append(r)
                    if r.get("ok"):
                        s = summarize_floor(r)
                        log(f"  rep {rep} floor  {'':24s} p50 {s['p50']:7.0f} µs "
                            f"p99 {s['p99']:7.0f} µs")
                    continue
                r = bench.run(t, cfg, "latency", lat_frames + lat_warmup, lat_warmup,
                              timeout=20 + lat_frames / 30, touch=args.quick)
                if not r.get("ok"):
                    failures.append({"rep": rep, "config": cfg.key, "transport": t,
                                     "kind": "latency", "error": r.get("error", "")[:300]})
                    log("  retrying once")
                    r = bench.run(t, cfg, "latency", lat_frames + lat_warmup, lat_warmup,
                                  timeout=20 + lat_frames / 30, touch=args.quick)
                r["rep"] = rep
                lat_runs.append(r)
                if r.get("ok"):
                    s = summarize_latency(r)
                    log(f"  rep {rep} {t:6s} {cfg.label:24s} p50 {s['p50']:7.0f} µs "
                        f"p99 {s['p99']:7.0f} µs max {s['max']:7.0f} µs lost {s['lost']}")
        if args.quick:
            # Under no pressure a consumer copies nothing, even one whose
            # downstream keeps frames, as long as it is granted them.
            granted = [v for v in PRESSURE_VARIANTS if v[0] == "zcipc-granted"]
            pressure_runs, _ = run_pressure(bench, PRESSURE_CONFIGS[:1], 1, 0.3,
                                            variants=granted, touch=True)
        elif args.pressure or args.pressure_only:
            pressure_runs, memcpy_runs = run_pressure(
                bench, PRESSURE_CONFIGS, args.pressure_reps, args.pressure_seconds,
                flat_out=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.monotonic() - started
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    cmd = "/usr/bin/python3 tests/bench/zcipc_bench.py " + " ".join(argv)
    result = {
        "command": cmd.strip(),
        "machine": info,
        "elapsed_s": round(elapsed, 1),
        "quick": args.quick,
        "reps": reps,
        "settings": {"scale": scale, "latency_frames": lat_frames,
                     "src_props": args.src_props, "sink_props": args.sink_props,
                     "latency_warmup": lat_warmup, "floor_count": args.floor_count,
                     "frames": {c.key: {k: run_frames(c, k, scale) for k in ("ratio", "cost")}
                                for c in configs},
                     "pressure": {"kept": PRESSURE_KEPT, "reps": args.pressure_reps,
                                  "seconds": args.pressure_seconds,
                                  "sink_quota": PRESSURE_SINK_QUOTA,
                                  "frames": {c.key: pressure_frames(c, args.pressure_seconds)
                                             for c in PRESSURE_CONFIGS}}
                     if pressure_runs else None},
        "targets": {"fps_ratio": TARGET_FPS_RATIO, "cpu_us": TARGET_CPU_US,
                    "p50_x_floor": TARGET_P50_X_FLOOR, "p99_x_floor": TARGET_P99_X_FLOOR},
        "runs": {"throughput": tp_runs, "latency": lat_runs, "floor": floor_runs,
                 "floor_max_rate": floor_cpu_runs, "pressure": pressure_runs,
                 "memcpy": memcpy_runs},
        "pressure_only": args.pressure_only,
        "failures": failures,
        "configs": [c.key for c in configs],
        "partial": {"only": args.only, "transports": args.transports,
                    "no_latency": args.no_latency},
    }
    return finish(result, configs, args, output)


def config_from_key(key: str) -> Config:
    size, fmt_, consumers = key.split("-")
    w, h = size.split("x")
    return Config(int(w), int(h), fmt_, int(consumers[1:]))


def finish(result: dict, configs: list[Config], args, output: Path) -> int:
    """Analysis, tables, JSON, plots and the docs, from a run's raw results
    (after a run, or again later with --from-json)."""
    runs = result["runs"]
    tp_runs, lat_runs, floor_runs = runs["throughput"], runs["latency"], runs["floor"]
    if "latency_cooldown" not in result:
        # Results from before the cool-down existed: every consumer's list
        # is latency_frames long, in consumer order.
        n_frames = result["settings"]["latency_frames"]
        for r in lat_runs:
            lat = r.get("latency_us") or []
            n = len(lat) // n_frames if n_frames else 0
            if n and len(lat) == n * n_frames:
                r["latency_us"] = [x for i in range(n) for x in
                                   lat[i * n_frames:(i + 1) * n_frames - LATENCY_COOLDOWN]]
    result["latency_cooldown"] = LATENCY_COOLDOWN
    floor_cpu_runs = runs.get("floor_max_rate", [])
    info, elapsed, reps = result["machine"], result["elapsed_s"], result["reps"]
    result["configs"] = [c.key for c in configs]
    result["analysis"] = analyze(configs, tp_runs, lat_runs, floor_runs)
    ok_fc = [r for r in floor_cpu_runs if r.get("ok")]
    result["analysis"]["floor_max_rate"] = {
        "rate_hz": agg([r["rate_hz"] for r in ok_fc]),
        "sender_cpu_us": agg([r["sender_cpu_us_per_ping"] for r in ok_fc]),
        "receiver_cpu_us": agg([r["receiver_cpu_us_per_ping"] for r in ok_fc]),
        "both_cpu_us": agg([r["sender_cpu_us_per_ping"] + r["receiver_cpu_us_per_ping"]
                            for r in ok_fc]),
        "latency_p50_us": agg([r["latency_p50_us"] for r in ok_fc]),
    }
    key = "1920x1080-RGBA-c1"
    samples = {
        "zcipc": [x for r in lat_runs if r.get("ok") and r["config"] == key
                  and r["transport"] == "zcipc" for x in r["latency_us"]],
        "shmsink/shmsrc": [x for r in lat_runs if r.get("ok") and r["config"] == key
                           and r["transport"] == "shm" for x in r["latency_us"]],
        "socket wake-up floor": [x for r in floor_runs if r.get("ok")
                                 for x in r["latency_us"]],
    }
    pressure_runs = runs.get("pressure", [])
    result["analysis"]["pressure"] = analyze_pressure(pressure_runs, runs.get("memcpy", []))
    pressure_table = markdown_pressure(result) if pressure_runs else ""
    if result.get("pressure_only"):
        table = pressure_table
    else:
        table = markdown(result) + ("\n" + pressure_table if pressure_table else "")
    print(table)

    # Raw latencies stay (rounded to 0.1 µs) so that --from-json can redo
    # every figure; the max-rate runs' lists mean nothing and go.
    for r in tp_runs + floor_cpu_runs + pressure_runs:
        r.pop("latency_us", None)
        for e in r.get("elements", {}).values():
            e.pop("text", None)     # the parsed fields stay
    for r in lat_runs + floor_runs:
        if r.get("latency_us"):
            r["latency_us"] = [round(x, 1) for x in r["latency_us"]]
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=None, default=str) + "\n")
    output.with_suffix(".md").write_text(
        f"Command: `{result['command']}`  \nMachine: {info['nproc']} × {info['cpu']}, "
        f"Linux {info['kernel']}, {info['gstreamer']}, {info['date']}, "
        f"commit {info['commit']}, {elapsed:.0f} s\n\n" + table)
    log(f"wrote {output} and {output.with_suffix('.md')} ({elapsed:.0f} s)")

    if result["quick"]:
        problems = quick_check(result)
        for p in problems:
            log("FAIL: " + p)
        if problems:
            return 1
        log(f"PASS: zero-copy path taken (0 copies in zcipcsink and in every consumer's "
            f"zcipcsrc, ~0 faults/frame), {elapsed:.0f} s")
        return 0

    doc = DOCS_DIR / "benchmarks.md"
    pressure_meta = (f"Measured {info['date']} on {info['nproc']} × {info['cpu']}, "
                     f"Linux {info['kernel']}, {info['gstreamer']}, commit "
                     f"{info['commit']}; {result['settings']['pressure']['reps'] if pressure_runs else 0} "
                     f"repetitions, {elapsed:.0f} s, with `{result['command']}`"
                     + (f"; load average {info['loadavg'][0]:.2f} before, "
                        f"{info['loadavg_end'][0]:.2f} after" if "loadavg_end" in info else "")
                     + ".\n")
    if result.get("pressure_only"):
        if not args.no_docs and doc.exists() and not args.output:
            doc.write_text(replace_block(doc.read_text(), "pressure",
                                         pressure_meta + "\n" + pressure_table))
            log(f"refreshed the pressure tables in {doc}")
        return 0

    result["latency_samples"] = samples
    partial = bool(args.only or args.transports or args.output or args.no_latency)
    plots_dir = Path(args.plots_dir) if args.plots_dir else (
        output.parent / "plots" if partial else PLOTS_DIR)
    made = plots(result, plots_dir)
    log("plots: " + ", ".join(str(p) for p in made))
    if not args.no_docs and doc.exists() and not partial:
        text = doc.read_text()
        meta = (f"Measured {info['date']} on {info['nproc']} × {info['cpu']}, Linux "
                f"{info['kernel']}, {info['gstreamer']}, commit {info['commit']}; "
                f"{reps} repetitions, {elapsed / 60:.1f} minutes, with "
                f"`{result['command']}`.\n")
        text = replace_block(text, "table", meta + "\n" + markdown(result))
        if pressure_table:
            text = replace_block(text, "pressure", pressure_meta + "\n" + pressure_table)
        doc.write_text(text)
        log(f"refreshed the tables in {doc}")
    return 0


def run_floor(bench: Bench, count: int, hz: int = 30) -> dict:
    """The bare socket wake-up: at 30 Hz for latency, or back to back
    (hz=0) for the CPU one sleep/wake-up cycle costs each side."""
    warm = 15 if hz else 100
    out = {"transport": "floor", "config": "floor", "live": bool(hz), "hz": hz,
           "ok": False}
    try:
        r = subprocess.run([str(bench.floor_exe), str(count + warm), str(hz), str(warm)],
                           capture_output=True, text=True,
                           timeout=(count / hz if hz else 0) + 30)
        if r.returncode != 0:
            raise RuntimeError(r.stderr)
        data = json.loads(r.stdout)
        out["latency_us"] = [x / 1000.0 for x in data["latency_ns"]]
        out["latency_p50_us"] = percentile(out["latency_us"], 50)
        for k in ("rate_hz", "sender_cpu_us_per_ping", "receiver_cpu_us_per_ping"):
            out[k] = data[k]
        out["ok"] = True
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
        out["error"] = str(e)
        log(f"  !! floor: {e}")
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
