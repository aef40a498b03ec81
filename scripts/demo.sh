#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
#
# The demo: installs what is missing, builds, starts a producer process (the
# camera at /dev/video0 if there is one, else a test pattern) and a consumer
# process, shows live figures for about ten seconds, and stops both cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
./scripts/install-deps.sh
./scripts/build.sh >/dev/null
BUILD_DIR=${ZCIPC_BUILD_DIR:-build}
export GST_PLUGIN_PATH_1_0="$ROOT/$BUILD_DIR/gst"
# A name of its own, so two demos at once do not meet.
STREAM=${ZCIPC_DEMO_STREAM:-zcipc-demo-$$}

/usr/bin/python3 examples/demo/demo.py producer --stream-name "$STREAM" &
PRODUCER=$!
trap 'kill -INT $PRODUCER 2>/dev/null || true' EXIT
/usr/bin/python3 examples/demo/demo.py consumer --stream-name "$STREAM" --duration 10
kill -INT $PRODUCER
wait $PRODUCER
trap - EXIT
echo "demo: both processes stopped cleanly"
