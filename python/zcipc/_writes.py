# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Finding the pages this process wrote in a private mapping of shared
memory (see _mapping.py), so that exactly those are dropped.

The fast way (Linux 6.7+): the mapping is registered with a userfaultfd in
asynchronous write-protect mode (UFFD_FEATURE_WP_ASYNC). A write then costs
nothing more than the copy-on-write it causes anyway, and clears the page's
write-protect bit; the PAGEMAP_SCAN ioctl lists the pages whose bit is
clear, protecting them again in the same pass, from the page table bits
alone (about 20 µs for a 1080p RGBA frame).

The portable way: read the frame's /proc/self/pagemap entries; a present
page that is no longer a file page is one this process wrote (copied on
write). That needs the kernel to look at every page's struct page: about
0.1-0.3 ms for a 1080p frame. Without pagemap, every page counts as written.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import mmap
import os
import platform
import threading

import numpy as np

__all__ = ["track", "written", "mode"]

PAGE_SIZE = mmap.PAGESIZE
_u64 = ctypes.c_uint64


def _iowr(kind: int, nr: int, size: int) -> int:
    return (3 << 30) | (size << 16) | (kind << 8) | nr


class _UffdioApi(ctypes.Structure):
    _fields_ = [("api", _u64), ("features", _u64), ("ioctls", _u64)]


class _UffdioRegister(ctypes.Structure):
    _fields_ = [("start", _u64), ("len", _u64), ("mode", _u64), ("ioctls", _u64)]


class _UffdioWriteprotect(ctypes.Structure):
    _fields_ = [("start", _u64), ("len", _u64), ("mode", _u64)]


class _PmScanArg(ctypes.Structure):
    _fields_ = [(name, _u64) for name in (
        "size", "flags", "start", "end", "walk_end", "vec", "vec_len",
        "max_pages", "category_inverted", "category_mask",
        "category_anyof_mask", "return_mask")]


class _PageRegion(ctypes.Structure):
    _fields_ = [("start", _u64), ("end", _u64), ("categories", _u64)]


# linux/userfaultfd.h, linux/fs.h
_SYS_USERFAULTFD = {"x86_64": 323, "aarch64": 282, "riscv64": 282,
                    "ppc64le": 364, "s390x": 355}.get(platform.machine())
_UFFD_USER_MODE_ONLY = 1
_UFFD_API = 0xAA
_UFFD_FEATURE_WP_HUGETLBFS_SHMEM = 1 << 12
_UFFD_FEATURE_WP_UNPOPULATED = 1 << 13
_UFFD_FEATURE_WP_ASYNC = 1 << 15
_UFFDIO_API = _iowr(0xAA, 0x3F, ctypes.sizeof(_UffdioApi))
_UFFDIO_REGISTER = _iowr(0xAA, 0x00, ctypes.sizeof(_UffdioRegister))
_UFFDIO_WRITEPROTECT = _iowr(0xAA, 0x06, ctypes.sizeof(_UffdioWriteprotect))
_UFFDIO_REGISTER_MODE_WP = 1 << 1
_UFFDIO_WRITEPROTECT_MODE_WP = 1 << 0
_PAGEMAP_SCAN = _iowr(ord("f"), 16, ctypes.sizeof(_PmScanArg))
_PM_SCAN_WP_MATCHING = 1 << 0
_PM_SCAN_CHECK_WPASYNC = 1 << 1
_PAGE_IS_WRITTEN = 1 << 1

_PM_FILE_OR_SHARED = np.uint64(1 << 61)
_PM_SWAPPED_OR_PRESENT = np.uint64(3 << 62)
_VEC_LEN = 256

_lock = threading.Lock()
_state: dict[str, int | None] = {}  # "uffd", "pagemap": fds (None: unusable)


def _open_uffd() -> int | None:
    if _SYS_USERFAULTFD is None:
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.syscall(_SYS_USERFAULTFD, os.O_CLOEXEC | _UFFD_USER_MODE_ONLY)
    if fd < 0:
        return None
    want = (_UFFD_FEATURE_WP_ASYNC | _UFFD_FEATURE_WP_UNPOPULATED
            | _UFFD_FEATURE_WP_HUGETLBFS_SHMEM)
    api = _UffdioApi(api=_UFFD_API, features=want)
    try:
        fcntl.ioctl(fd, _UFFDIO_API, api, True)
    except OSError:
        os.close(fd)
        return None
    if api.features & want != want:
        os.close(fd)
        return None
    return fd


def _fds() -> tuple[int | None, int | None]:
    with _lock:
        if not _state:
            try:
                _state["pagemap"] = os.open("/proc/self/pagemap",
                                            os.O_RDONLY | os.O_CLOEXEC)
            except OSError:
                _state["pagemap"] = None
            _state["uffd"] = _open_uffd() if _state["pagemap"] is not None else None
        return _state["uffd"], _state["pagemap"]


def mode() -> str:
    """How written pages are found here: "uffd-wp", "pagemap" or "none"."""
    uffd, pagemap = _fds()
    return "uffd-wp" if uffd is not None else "pagemap" if pagemap is not None \
        else "none"


def track(address: int, length: int) -> bool:
    """Starts tracking writes to a new mapping [address, address+length)
    (page aligned), before anything reads or writes it. Returns whether the
    fast way works for it."""
    uffd, _ = _fds()
    if uffd is None:
        return False
    try:
        fcntl.ioctl(uffd, _UFFDIO_REGISTER, _UffdioRegister(
            start=address, len=length, mode=_UFFDIO_REGISTER_MODE_WP), True)
        fcntl.ioctl(uffd, _UFFDIO_WRITEPROTECT, _UffdioWriteprotect(
            start=address, len=length, mode=_UFFDIO_WRITEPROTECT_MODE_WP), True)
    except OSError:
        return False
    return True


_scan_lock = threading.Lock()
_scan_vec = (_PageRegion * _VEC_LEN)()
_scan_arg = _PmScanArg(size=ctypes.sizeof(_PmScanArg),
                       flags=_PM_SCAN_WP_MATCHING | _PM_SCAN_CHECK_WPASYNC,
                       vec=ctypes.addressof(_scan_vec), vec_len=_VEC_LEN,
                       category_mask=_PAGE_IS_WRITTEN,
                       return_mask=_PAGE_IS_WRITTEN)


def _scan(pagemap: int, start: int, end: int) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    with _scan_lock:  # one preallocated argument and result vector
        while start < end:
            _scan_arg.start, _scan_arg.end, _scan_arg.walk_end = start, end, 0
            n = fcntl.ioctl(pagemap, _PAGEMAP_SCAN, _scan_arg, True)
            out.extend((_scan_vec[i].start, _scan_vec[i].end) for i in range(n))
            if n < _VEC_LEN or _scan_arg.walk_end <= start:
                break
            start = _scan_arg.walk_end
    return out


def _pagemap_pages(pagemap: int, start: int, end: int) -> list[tuple[int, int]]:
    n = (end - start) // PAGE_SIZE
    raw = os.pread(pagemap, n * 8, start // PAGE_SIZE * 8)
    entries = np.frombuffer(raw, dtype="<u8")
    hit = ((entries & _PM_SWAPPED_OR_PRESENT) != 0) & \
          ((entries & _PM_FILE_OR_SHARED) == 0)
    pages = np.flatnonzero(hit)
    if pages.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(pages) != 1)
    firsts = np.concatenate(([pages[0]], pages[breaks + 1]))
    lasts = np.concatenate((pages[breaks], [pages[-1]]))
    return [(start + int(a) * PAGE_SIZE, start + (int(b) + 1) * PAGE_SIZE)
            for a, b in zip(firsts, lasts)]


def written(start: int, end: int, tracked: bool) -> list[tuple[int, int]]:
    """The page ranges of [start, end) (page aligned) written since the last
    call for them (or since track()), protected again. ``tracked``: what
    track() returned for the mapping."""
    uffd, pagemap = _fds()
    if pagemap is None:
        return [(start, end)]
    if tracked:
        try:
            return _scan(pagemap, start, end)
        except OSError as e:
            if e.errno not in (errno.EINVAL, errno.ENOTTY, errno.EPERM):
                raise
            # No PAGEMAP_SCAN after all: fall through.
    return _pagemap_pages(pagemap, start, end)
