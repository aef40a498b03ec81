#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
#
# Builds zcipc and runs every test: the check suites of lib/ and the element
# suites (meson test), the multi-process and Python suites (pytest), and a
# bounded fuzzing run. Ends with one line "N passed, N failed".
#
#   ZCIPC_BUILD_DIR     build directory (default: build)
#   ZCIPC_FUZZ_SECONDS  seconds per fuzz target (default: 20; 0 skips)
#   ZCIPC_SANITIZE      1 (default): run every suite again under ASan + UBSan
#                       (build dir "<build>-asan", meson -Db_sanitize=address,undefined)
#   ZCIPC_VALGRIND      1 (default): run the element suites under valgrind memcheck
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD_DIR=${ZCIPC_BUILD_DIR:-build}
RESULTS=$(mktemp -d /tmp/zcipc-results.XXXXXX)
PY=/usr/bin/python3

./scripts/install-deps.sh || { echo "0 passed, 1 failed"; exit 1; }
# Warnings are errors here (not in a user's build, where a newer compiler
# or GStreamer may warn about what it did not before).
if [ -f "$BUILD_DIR/build.ninja" ]; then
  meson configure "$BUILD_DIR" -Dwerror=true >/dev/null
fi
if ! ./scripts/build.sh -Dwerror=true; then
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
$PY -m pytest -q --tb=short -p no:cacheprovider --junitxml="$RESULTS/pytest.xml" \
  tests/integration tests/python 2>&1

if [ "${ZCIPC_SANITIZE:-1}" != 0 ]; then
  echo "=== ASan + UBSan: every suite again ==="
  ASAN_DIR="${BUILD_DIR}-asan"
  if [ ! -f "$ASAN_DIR/build.ninja" ]; then
    meson setup "$ASAN_DIR" -Dtests=true -Dwerror=true -Db_sanitize=address,undefined \
      -Db_lundef=false >"$RESULTS/asan-setup.txt" 2>&1 || cat "$RESULTS/asan-setup.txt"
  fi
  if ninja -C "$ASAN_DIR" >"$RESULTS/asan-build.txt" 2>&1; then
    # UBSan findings abort the process: a finding is a failed test.
    export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
    ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 meson test -C "$ASAN_DIR" \
      --no-rebuild --suite lib --logbase asan-lib >/dev/null 2>&1
    cp "$ASAN_DIR/meson-logs/asan-lib.json" "$RESULTS/meson-asan-lib.json" 2>/dev/null
    # GStreamer and Python keep memory until exit by design: leaks are
    # checked in lib/ (above) and by valgrind in the element suites.
    # GST_REGISTRY_FORK=no: the plugin scanner child would not have the
    # sanitizer runtime loaded first.
    GST_REGISTRY_FORK=no ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 \
      meson test -C "$ASAN_DIR" --no-rebuild --no-suite lib --no-suite bench \
      --no-suite lint --no-suite model \
      --logbase asan-rest >/dev/null 2>&1
    cp "$ASAN_DIR/meson-logs/asan-rest.json" "$RESULTS/meson-asan-rest.json" 2>/dev/null
    # The plugin is instrumented; the processes that load it (gst-launch,
    # python) are not, so the sanitizer runtimes are preloaded.
    LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)" \
    ASAN_OPTIONS=detect_leaks=0:halt_on_error=1 ZCIPC_SANITIZED=1 \
    ZCIPC_BUILD_DIR="$ROOT/$ASAN_DIR" GST_PLUGIN_PATH_1_0="$ROOT/$ASAN_DIR/gst" \
      $PY -m pytest -q --tb=short -p no:cacheprovider --junitxml="$RESULTS/pytest-asan.xml" \
      tests/integration tests/python 2>&1
    unset UBSAN_OPTIONS
  else
    tail -n 30 "$RESULTS/asan-build.txt"
    echo "asan build failed" >"$RESULTS/asan.failed"
  fi
fi

if [ "${ZCIPC_VALGRIND:-1}" != 0 ] && command -v valgrind >/dev/null; then
  echo "=== valgrind memcheck: element suites ==="
  # GstCheck forks each test by default; run them in-process so memcheck
  # sees them. Suppressions: GLib's own (type system, one-time caches).
  CK_FORK=no meson test -C "$BUILD_DIR" --no-rebuild --suite gst --logbase valgrind \
    --timeout-multiplier 10 \
    --wrap "valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
      --suppressions=/usr/share/glib-2.0/valgrind/glib.supp \
      --suppressions=$ROOT/tests/valgrind.supp --num-callers=30" 2>&1 | tail -n 12
  # meson names the log after the wrapper too: valgrind-valgrind.json
  cp "$BUILD_DIR"/meson-logs/valgrind*.json "$RESULTS/meson-valgrind.json" 2>/dev/null
fi

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
