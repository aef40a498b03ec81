# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""One version number: meson's project version is what Python reports."""

from __future__ import annotations

import json
import os
from pathlib import Path

import zcipc


def test_python_reports_the_version_meson_builds():
    info = Path(os.environ["ZCIPC_BUILD_DIR"]) / "meson-info" / "intro-projectinfo.json"
    expected = json.loads(info.read_text())["version"]
    assert zcipc.__version__ == expected
    namespace: dict = {}
    exec("from zcipc import *", namespace)
    assert namespace["__version__"] == expected
