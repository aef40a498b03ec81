#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# C sources follow GStreamer's gst-indent style: GNU indent with
# gst-indent's options, run twice as gst-indent does (the second pass settles
# what the first leaves). With --fix, rewrites the files; otherwise fails and
# shows the difference for each file that is not formatted.
#
#   tests/lint/indent-check.sh [--fix] [FILE.c...]
#
# Without files: every C source of the checkout (gst/, lib/, tools/,
# tests/, examples/). Headers are left alone, as gst-indent leaves them.
set -u
fix=0
if [ "${1:-}" = --fix ]; then fix=1; shift; fi
if [ $# = 0 ]; then
  root=$(cd "$(dirname "$0")/../.." && pwd)
  set -- $(find "$root/gst" "$root/lib" "$root/tools" "$root/tests" "$root/examples" \
    -name '*.c' -type f | sort)
fi
command -v indent >/dev/null || { echo "indent not found (Debian package indent)"; exit 1; }
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
status=0
for file in "$@"; do
  for pass in 1 2; do
    [ $pass = 1 ] && in=$file || in=$tmp/pass1.c
    indent --braces-on-if-line --case-brace-indentation0 --case-indentation2 \
      --braces-after-struct-decl-line --line-length80 --no-tabs --cuddle-else \
      --dont-line-up-parentheses --continuation-indentation4 --honour-newlines \
      --tab-size8 --indent-level2 --leave-preprocessor-space \
      "$in" -o "$tmp/pass$pass.c" 2>/dev/null
  done
  if ! cmp -s "$file" "$tmp/pass2.c"; then
    if [ $fix = 1 ]; then
      cp "$tmp/pass2.c" "$file"
    else
      diff -u "$file" "$tmp/pass2.c" | head -n 40
      status=1
    fi
  fi
done
[ $status = 0 ] && echo "$# files formatted as gst-indent does" ||
  echo "run tests/lint/indent-check.sh --fix on the files above"
exit $status
