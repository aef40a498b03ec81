#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# clang's static analyzer over the plugin, lib/ and tools/: zero findings.
# Builds a scratch copy (tests off: the analyzer looks at what we ship).
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
command -v scan-build >/dev/null ||
  { echo "scan-build not found (Debian package clang-tools)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zcipc-scan.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
scan-build -o "$tmp/report" meson setup "$tmp/build" "$src" -Dtests=false \
  >"$tmp/setup.log" 2>&1 || { cat "$tmp/setup.log"; exit 1; }
# --status-bugs: a finding fails the test; its text is in the output.
scan-build -o "$tmp/report" --status-bugs ninja -C "$tmp/build"
