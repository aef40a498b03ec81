#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
"""Adds up the results of every test runner into one line, "N passed, N
failed", and exits non-zero when anything failed or nothing ran.

Check suites count their individual test cases (from check's "Checks: N,
Failures: F, Errors: E" line); other meson tests count as one each."""

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

CHECK_LINE = re.compile(r"(\d+)%: Checks: (\d+), Failures: (\d+), Errors: (\d+)")


def meson_counts(path: Path):
    passed = failed = 0
    if not path.exists():
        return 0, 1                       # meson test did not even run
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        t = json.loads(line)
        ok = t["result"] in ("OK", "EXPECTEDFAIL", "SKIP")
        m = CHECK_LINE.search(t.get("stdout") or "")
        if m and ok:
            checks, failures, errors = map(int, m.groups()[1:])
            passed += checks - failures - errors
            failed += failures + errors
        elif m and not ok:
            checks, failures, errors = map(int, m.groups()[1:])
            passed += checks - failures - errors
            failed += max(1, failures + errors)
        elif ok:
            passed += t["result"] != "SKIP"
        else:
            failed += 1
            print(f"FAILED: meson test {t['name']} ({t['result']})")
    return passed, failed


def pytest_counts(path: Path):
    if not path.exists():
        return 0, 1
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    passed = failed = 0
    for s in suites:
        tests = int(s.get("tests", 0))
        bad = int(s.get("failures", 0)) + int(s.get("errors", 0))
        skipped = int(s.get("skipped", 0))
        passed += tests - bad - skipped
        failed += bad
        for case in s.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                print(f"FAILED: {case.get('classname')}::{case.get('name')}")
    return passed, failed


def main() -> int:
    results = Path(sys.argv[1])
    passed = failed = 0
    runs = [meson_counts(results / "meson.json"), pytest_counts(results / "pytest.xml")]
    # Optional second passes: sanitizers, valgrind.
    runs += [meson_counts(p) for p in sorted(results.glob("meson-*.json"))]
    runs += [pytest_counts(p) for p in sorted(results.glob("pytest-*.xml"))]
    for p, f in runs:
        passed += p
        failed += f
    if (results / "asan.failed").exists():
        failed += 1
        print("FAILED: the ASan/UBSan build")
    fuzz = results / "fuzz.result"
    if fuzz.exists():
        if "ok" in fuzz.read_text():
            passed += 1
        else:
            failed += 1
            print("FAILED: fuzzing found a crash (see fuzz output above)")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
