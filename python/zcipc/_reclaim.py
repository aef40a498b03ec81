# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Giving frames back off the consumer's thread.

A frame that had a writable (torch / DLPack) view must have the pages this
process wrote dropped before its slot goes back to the producer (see
_mapping.py). Where the kernel cannot track writes cheaply (_writes.py),
finding them reads the pagemap of the whole frame (0.1-0.3 ms for 1080p
RGBA), so one background thread per process does it, then releases the
frame; the loop that dropped the last view goes on at once. Jobs run in
order; nothing is released before its pages are clean.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable

__all__ = ["submit", "flush"]

_jobs: "queue.SimpleQueue[Callable[[], None]]" = queue.SimpleQueue()
_lock = threading.Condition()
_pending = 0
_thread: threading.Thread | None = None


def _run() -> None:
    global _pending
    while True:
        job = _jobs.get()
        try:
            job()
        except Exception:  # noqa: BLE001 - a job must not kill the thread
            pass
        finally:
            del job
            with _lock:
                _pending -= 1
                if _pending == 0:
                    _lock.notify_all()


def submit(job: Callable[[], None]) -> None:
    """Runs job() on the reclaim thread."""
    global _pending, _thread
    with _lock:
        _pending += 1
        if _thread is None:
            _thread = threading.Thread(target=_run, name="zcipc-reclaim",
                                       daemon=True)
            _thread.start()
    _jobs.put(job)


def flush(timeout: float | None = None) -> bool:
    """Waits until every submitted job ran. Returns False on timeout."""
    with _lock:
        return _lock.wait_for(lambda: _pending == 0, timeout)
