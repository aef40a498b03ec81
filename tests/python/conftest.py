# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Test setup for the Python package: the same environment and fixtures as
the multi-process tests (tests/integration/conftest.py, loaded from there),
plus the package itself from the source tree."""

from __future__ import annotations

import importlib.util
import os
import signal
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SOURCE_DIR = HERE.parents[1]
INTEGRATION = SOURCE_DIR / "tests" / "integration"

# Run as `GST_PLUGIN_PATH=<build>/gst pytest tests/python`: use that build
# (zcipctest otherwise assumes <source>/build, or $ZCIPC_BUILD_DIR).
if "ZCIPC_BUILD_DIR" not in os.environ:
    for entry in os.environ.get("GST_PLUGIN_PATH", "").split(os.pathsep):
        if entry and (Path(entry) / "libgstzcipc.so").exists():
            os.environ["ZCIPC_BUILD_DIR"] = str(Path(entry).resolve().parent)
            break

sys.path.insert(0, str(HERE))
sys.path.insert(0, str(INTEGRATION))
sys.path.insert(0, str(SOURCE_DIR / "python"))

# Loading the integration conftest sets the GStreamer environment of this
# process (plugin path, private registry) before anything initialises Gst,
# and gives us its fixtures.
_spec = importlib.util.spec_from_file_location("zcipc_integration_conftest",
                                               INTEGRATION / "conftest.py")
assert _spec is not None and _spec.loader is not None
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)

sock_dir = _integration.sock_dir
launcher = _integration.launcher
other_uid_env = _integration.other_uid_env
xdg_runtime_dir = _integration.xdg_runtime_dir


# Every test is bounded: a consumer loop waiting for a frame that never comes
# wakes every 50 ms, so SIGALRM's exception ends it in time.
TEST_TIME_LIMIT_S = 30


@pytest.fixture(autouse=True)
def _time_limit(request):
    def expired(signum, frame):
        raise TimeoutError(f"{request.node.name} ran past {TEST_TIME_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, TEST_TIME_LIMIT_S)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)
