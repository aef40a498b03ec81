# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zcipctest  # noqa: E402

# In-process GStreamer (gst-python) in the test runner itself sees the same
# plugins as the processes it starts. Must happen before Gst.init().
_registry_dir = tempfile.mkdtemp(prefix="zcipc-registry-")
os.environ.update(zcipctest.gst_environment(Path(_registry_dir) / "registry.bin"))


# The tests stop processes with Ctrl-C (SIGINT), as a reader would. A shell
# that starts the suite in the background without job control (`cmd &` in a
# script) ignores SIGINT, and every child would inherit that: restore the
# default, which the children then get at exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture
def sock_dir():
    """A private directory for this test's sockets (short, to fit sun_path)."""
    with tempfile.TemporaryDirectory(prefix="zc-", dir="/tmp") as d:
        yield Path(d)


@pytest.fixture
def launcher(tmp_path):
    lau = zcipctest.Launcher(tmp_path, Path(_registry_dir) / "registry.bin")
    yield lau
    lau.close()


@pytest.fixture
def other_uid_env():
    """extra_env for a process run as another uid: the plugin staged in a
    world-readable directory under /tmp (removed after the test), since that
    uid may not be able to enter the checkout."""
    d = Path(tempfile.mkdtemp(prefix="zcipc-other-uid-", dir="/tmp"))
    try:
        yield zcipctest.stage_for_other_uids(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def xdg_runtime_dir():
    """A fresh $XDG_RUNTIME_DIR (0700, short to fit sun_path) for processes
    that use stream names: pass {"XDG_RUNTIME_DIR": str(it)} as extra_env.
    Their stream directory is <it>/zcipc."""
    with tempfile.TemporaryDirectory(prefix="zx-", dir="/tmp") as d:
        os.chmod(d, 0o700)
        yield Path(d)
