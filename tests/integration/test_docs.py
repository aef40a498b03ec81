# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""The element reference in README.md and docs/elements.md is generated from
the registry; it must match what the built plugin says."""

import subprocess

from zcipctest import BUILD_DIR, SOURCE_DIR


def test_element_reference_matches_the_registry():
    res = subprocess.run(["/usr/bin/python3", str(SOURCE_DIR / "scripts/gen-docs.py"), "--check",
                          "--build-dir", str(BUILD_DIR)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
