#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
#
# Builds zcipc and runs every test: the check suites of lib/ and the element
# suites (meson test), the multi-process and Python suites (pytest), and a
# bounded fuzzing run. Ends with one line "N passed, N failed".
#
#   ZCIPC_BUILD_DIR   build directory (default: build)
#   ZCIPC_FUZZ_SECONDS  seconds per fuzz target (default: 20; 0 skips)
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${ZCIPC_BUILD_DIR:-build}
RESULTS=$(mktemp -d /tmp/zcipc-results.XXXXXX)
PY=/usr/bin/python3

./scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
if ! ./scripts/build.sh; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

echo "=== meson test (check suites) ==="
meson test -C "$BUILD_DIR" --print-errorlogs --no-rebuild \
  --logbase zcipc-tests >"$RESULTS/meson.txt" 2>&1
tail -n 40 "$RESULTS/meson.txt"
cp "$BUILD_DIR/meson-logs/zcipc-tests.json" "$RESULTS/meson.json" 2>/dev/null || true

echo "=== pytest (multi-process and Python suites) ==="
export ZCIPC_BUILD_DIR="$ROOT/$BUILD_DIR"
export GST_PLUGIN_PATH_1_0="$ROOT/$BUILD_DIR/gst"
export PYTHONPATH="$ROOT/python${PYTHONPATH:+:$PYTHONPATH}"
$PY -m pytest -q -p no:cacheprovider --junitxml="$RESULTS/pytest.xml" \
  tests/integration tests/python 2>&1 | tail -n 60

FUZZ_SECONDS=${ZCIPC_FUZZ_SECONDS:-20}
if [ "$FUZZ_SECONDS" != 0 ] && [ -x tests/fuzz/run-fuzzers.sh ]; then
  echo "=== fuzzing (${FUZZ_SECONDS}s per target) ==="
  if tests/fuzz/run-fuzzers.sh "$FUZZ_SECONDS" >"$RESULTS/fuzz.txt" 2>&1; then
    echo "fuzz: ok" >"$RESULTS/fuzz.result"
  else
    echo "fuzz: FAILED" >"$RESULTS/fuzz.result"
    tail -n 40 "$RESULTS/fuzz.txt"
  fi
  tail -n 5 "$RESULTS/fuzz.txt"
fi

$PY scripts/summarize-tests.py "$RESULTS"
