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

The region's fd is found by the inode of zcipcsrc's mapping, among the fds
of this process, and reopened read-only. A cached view stays valid while
zcipcsrc's fd of that region is still open on the same inode (zcipcsrc
closes it when it unmaps the region, so an address reused for a new region
is noticed).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import threading

from . import _writes

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

    __slots__ = ("shared_start", "shared_end", "inode", "device", "fd",
                 "address", "tracked", "_mmap", "__weakref__")

    def __init__(self, shared_start: int, shared_end: int, inode: int,
                 device: int, fd: int, pgoff: int) -> None:
        self.shared_start = shared_start
        self.shared_end = shared_end
        self.inode = inode
        self.device = device
        self.fd = fd  # zcipcsrc's fd of the region: our validity token
        own = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
        try:
            self._mmap = mmap.mmap(own, shared_end - shared_start,
                                   flags=mmap.MAP_PRIVATE,
                                   prot=mmap.PROT_READ | mmap.PROT_WRITE,
                                   offset=pgoff)
        finally:
            os.close(own)
        self.address = _address_of(self._mmap)
        self.tracked = _writes.track(self.address, len(self._mmap))
        try:
            # Read-only page table entries for every page now, so that the
            # first frame does not fault on every page (no copy: reads).
            self._mmap.madvise(MADV_POPULATE_READ)
        except (OSError, ValueError):
            pass

    def still_valid(self) -> bool:
        try:
            st = os.fstat(self.fd)
        except OSError:
            return False
        return st.st_ino == self.inode and st.st_dev == self.device

    def translate(self, pointer: int) -> int:
        return self.address + (pointer - self.shared_start)

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


def _parse_maps_line(line: str) -> tuple[int, int, str, int, int, int, str] | None:
    parts = line.split(maxsplit=5)
    if len(parts) < 5:
        return None
    start, end = (int(x, 16) for x in parts[0].split("-"))
    major, minor = (int(x, 16) for x in parts[3].split(":"))
    name = parts[5].strip() if len(parts) == 6 else ""
    return start, end, parts[1], int(parts[2], 16), os.makedev(major, minor), \
        int(parts[4]), name


class RegionCache:
    """Finds (or makes) the private view of the region a pointer lies in.
    Thread-safe; one per consumer."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._views: list[RegionView] = []
        self.failures = 0

    def close(self) -> None:
        """Forgets the views; those that frames still use stay mapped until
        the frames go."""
        with self._lock:
            self._views = []

    def lookup(self, pointer: int, size: int) -> RegionView | None:
        """The view holding [pointer, pointer+size), or None when the memory
        is not a shared mapping of an fd this process holds."""
        with self._lock:
            for view in self._views:
                if view.shared_start <= pointer and \
                        pointer + size <= view.shared_end:
                    if view.still_valid():
                        return view
                    break
            self._views = [v for v in self._views if v.still_valid()]
            try:
                view = self._map(pointer, size)
            except OSError:
                view = None
            if view is None:
                self.failures += 1
                return None
            self._views.append(view)
            return view

    @staticmethod
    def _map(pointer: int, size: int) -> RegionView | None:
        with open("/proc/self/maps") as f:
            for line in f:
                entry = _parse_maps_line(line)
                if entry and entry[0] <= pointer and pointer + size <= entry[1]:
                    break
            else:
                return None
        start, end, perms, pgoff, device, inode, name = entry
        if perms[3] != "s" or inode == 0:
            return None
        for fd_name in os.listdir("/proc/self/fd"):
            fd = int(fd_name)
            try:
                st = os.fstat(fd)
            except OSError:
                continue
            if st.st_ino == inode and st.st_dev == device:
                return RegionView(start, end, inode, device, fd, pgoff)
        return None
