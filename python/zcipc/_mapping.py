# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Private copy-on-write views of the shared regions zcipcsrc mapped.

zcipcsrc maps each shared region once, read-only (MAP_SHARED, PROT_READ): a
write through it kills the process with SIGSEGV, and torch has no read-only
tensors. So the frames' arrays point into a second mapping of the same
memfd, made here once per region: MAP_PRIVATE, readable and writable. It
reads the very same pages (no copy, no page faults once populated); a write
copies just the page written into memory private to this process, which
nobody else sees (the memfd is sealed against shared writes). When a frame
is released, the pages of its range that were written (found by
_writes.py) are dropped (MADV_DONTNEED) before the frame goes back to the
producer, so the slot shows the shared bytes again when it comes back with a
later frame.

The region's fd and the frame's place in it come from zcipcsrc's public
memory contract (docs/elements.md, "Memory zcipcsrc pushes"): every memory
of a frame read in place is a GstFdMemory, whose fd is the region's and
whose byte 0 lies at file offset ``memory.offset``. Views are keyed by the
file (device, inode): while a view exists its mapping keeps that file, so
the key cannot name another one. A view is forgotten once zcipcsrc's fd it
was made from no longer refers to its file (zcipcsrc closed the region).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import threading

from . import _writes
from ._gst import Gst, GstAllocators

__all__ = ["RegionView", "RegionCache"]

PAGE_SIZE = mmap.PAGESIZE
MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux 5.14


def _address_of(m: mmap.mmap) -> int:
    anchor = ctypes.c_char.from_buffer(m)
    try:
        return ctypes.addressof(anchor)
    finally:
        del anchor  # releases the buffer export so the mmap can close


class RegionView:
    """One private copy-on-write mapping of one shared region."""

    __slots__ = ("inode", "device", "fd", "address", "tracked", "_mmap",
                 "__weakref__")

    def __init__(self, fd: int, st: os.stat_result) -> None:
        self.inode = st.st_ino
        self.device = st.st_dev
        self.fd = fd  # zcipcsrc's fd of the region: our validity token
        self._mmap = mmap.mmap(fd, st.st_size, flags=mmap.MAP_PRIVATE,
                               prot=mmap.PROT_READ | mmap.PROT_WRITE)
        self.address = _address_of(self._mmap)
        self.tracked = _writes.track(self.address, len(self._mmap))
        try:
            # Read-only page table entries for every page now, so that the
            # first frame does not fault on every page (no copy: reads).
            self._mmap.madvise(MADV_POPULATE_READ)
        except (OSError, ValueError):
            pass

    @property
    def size(self) -> int:
        return len(self._mmap)

    def still_valid(self) -> bool:
        try:
            st = os.fstat(self.fd)
        except OSError:
            return False
        return st.st_ino == self.inode and st.st_dev == self.device

    def revert(self, address: int, size: int) -> bool:
        """Drops this process's private copies of the pages of
        [address, address+size) so they show the shared bytes again.
        Returns whether any page had been written."""
        first = (address - self.address) // PAGE_SIZE * PAGE_SIZE
        end = min(address - self.address + size + PAGE_SIZE - 1,
                  len(self._mmap)) // PAGE_SIZE * PAGE_SIZE
        if end <= first:
            return False
        ranges = _writes.written(self.address + first, self.address + end,
                                 self.tracked)
        for start, stop in ranges:
            offset, length = start - self.address, stop - start
            self._mmap.madvise(mmap.MADV_DONTNEED, offset, length)
            try:
                self._mmap.madvise(MADV_POPULATE_READ, offset, length)
            except (OSError, ValueError):
                pass
        return bool(ranges)


class RegionCache:
    """Finds (or makes) the private view of the region a memory lies in.
    Thread-safe; one per consumer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._views: dict[tuple[int, int], RegionView] = {}

    def close(self) -> None:
        """Forgets the views; those that frames still use stay mapped until
        the frames go."""
        with self._lock:
            self._views = {}

    def lookup(self, memory: Gst.Memory, size: int) -> tuple[RegionView, int] | None:
        """The view of the region `memory` lies in, and the address of the
        memory's first byte in that view; None when the memory is not an
        fd memory whose [offset, offset+size) lies in its file."""
        if not GstAllocators.is_fd_memory(memory):
            return None
        fd = GstAllocators.fd_memory_get_fd(memory)
        offset = memory.offset
        try:
            st = os.fstat(fd)
        except OSError:
            return None
        if offset + size > st.st_size:
            return None
        with self._lock:
            view = self._views.get((st.st_dev, st.st_ino))
            if view is None:
                self._views = {key: v for key, v in self._views.items()
                               if v.still_valid()}
                try:
                    view = RegionView(fd, st)
                except (OSError, ValueError):
                    return None
                self._views[(st.st_dev, st.st_ino)] = view
            return view, view.address + offset

