#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
#
# Checks the slot hand-over model (slots.pml) exhaustively with spin: the
# safety run (assertions, invalid end states) and, with --liveness, the LTL
# property no_slot_lost (acceptance cycles) at a smaller bound. Fails unless
# every run ends with "errors: 0". Extra arguments go to spin as defines,
# e.g. -DBUGGY (which must fail).
#
#   tests/model/check.sh [--liveness] [-DNAME[=VALUE]...]
set -eu

liveness=0
if [ "${1:-}" = --liveness ]; then
  liveness=1
  shift
fi
src=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/zcipc-model.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp "$src/slots.pml" "$work/"
cd "$work"

# Bounds: 2 slots, quota 1 per connection, 3 frames (a slot is reused), two
# consumers (one leaves/crashes/rejoins, one leaves or crashes).
bounds="-DN=2 -DQ=1 -DMAXF=3"

run () {
  label=$1
  shift
  echo "== $label"
  "$@" >pan.out 2>&1 || true
  grep -E "errors:|states, stored|elapsed|violated|invalid end|acceptance cycle" pan.out
  if ! grep -q "errors: 0" pan.out; then
    echo "!! $label: the model check failed; trail:" >&2
    spin -t -p $defines slots.pml 2>&1 | tail -n 60 >&2 || true
    exit 1
  fi
}

defines="$bounds $*"
spin -a $defines slots.pml >/dev/null
gcc -O2 -DSAFETY -DNOCLAIM -o pan pan.c
run "safety ($defines)" ./pan -m200000

if [ $liveness = 1 ]; then
  # The LTL run costs about 6 times the safety run per state: one frame
  # in all. (At the safety run's bounds, that end is its final assertions:
  # every run ends, so "eventually settled" is what holds in its last state.)
  defines="-DN=2 -DQ=1 -DMAXF=1 $*"
  spin -a $defines slots.pml >/dev/null
  gcc -O2 -DCOLLAPSE -o pan pan.c
  run "liveness, no_slot_lost ($defines)" ./pan -a -m200000
fi
