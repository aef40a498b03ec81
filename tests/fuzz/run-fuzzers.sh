#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
#
# Builds the libFuzzer targets with clang in a separate build directory and
# runs each for SECONDS (default 30) over a scratch copy of its seed corpus.
# Exits non-zero if a target crashes (its reproducer is kept under
# BUILD/fuzz-artifacts/TARGET/) or the build fails.
#
#   tests/fuzz/run-fuzzers.sh [SECONDS]
#
# Environment: BUILD_DIR (default build-fuzz in the source tree),
# FUZZ_ARGS (extra libFuzzer options, e.g. "-jobs=2").
set -eu

seconds=${1:-30}
case $seconds in
  '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;;
esac
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$src/build-fuzz}
targets="fuzz_wire_parse fuzz_client_receive fuzz_channel_pop fuzz_ring_scribble"

command -v clang >/dev/null || { echo "$0: clang not found" >&2; exit 1; }
# tests/ (and so tests/fuzz/) is only configured with tests=true; only the
# fuzz targets are built, though.
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$src" -Dfuzzing=true -Dtests=true \
    -Dwerror=true --buildtype=debugoptimized
else
  meson configure "$build" -Dfuzzing=true -Dtests=true -Dwerror=true
fi
for target in $targets; do
  ninja -C "$build" "tests/fuzz/$target"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/zcipc-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
status=0
for target in $targets; do
  corpus=$work/$target/corpus
  artifacts=$build/fuzz-artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  cp "$src/tests/fuzz/corpus/$target/"* "$corpus/"
  echo "== $target: ${seconds}s over $(ls "$corpus" | wc -l) seeds"
  # shellcheck disable=SC2086 # FUZZ_ARGS is a list of options
  if ! "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 \
      -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$corpus"; then
    echo "!! $target failed; reproducers in $artifacts:" >&2
    ls -l "$artifacts" >&2
    status=1
  fi
done
exit $status
