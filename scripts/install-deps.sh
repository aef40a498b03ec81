#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Copyright (C) 2026 The zcipc authors
#
# Installs what zcipc needs to build, test, fuzz and benchmark, from Debian 12
# packages only, and only what is missing. Run as root (or with sudo).
set -euo pipefail

PACKAGES=(
  # build
  meson ninja-build pkg-config gcc libc6-dev libglib2.0-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev check
  # run and test
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad python3 python3-gi python3-gst-1.0
  gir1.2-gstreamer-1.0 gir1.2-gst-plugins-base-1.0 python3-numpy python3-pytest
  python3-torch
  # the README's recipes as the doc tests run them and real downstream in
  # the tests: x264enc, avdec_h264, gst-discoverer-1.0, OpenCV, and
  # autovideosink on a private X server; docs/network.md's bridges take
  # udpsrc/udpsink and the RTP elements from plugins-good, srtsrc/srtsink,
  # mpegtsmux, tsdemux, h264parse and fpsdisplaysink from plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-plugins-base-apps
  python3-opencv gstreamer1.0-x xvfb
  # fuzzing, sanitizers, memcheck, lint
  clang libclang-rt-14-dev valgrind pyflakes3 indent clang-tools
  # the slot hand-over model (tests/model): spin, and gcc for its verifier
  spin
  # benchmark plots
  python3-matplotlib
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
