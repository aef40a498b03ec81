#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The plugin exports its GStreamer entry points and nothing else: lib/ is
# linked in statically and must not leak into every process that loads it.
set -eu
plugin=$1
extra=$(nm -D --defined-only "$plugin" | awk '{print $3}' |
  grep -v -x -e gst_plugin_zcipc_get_desc -e gst_plugin_zcipc_register || true)
if [ -n "$extra" ]; then
  echo "$plugin exports more than its entry points:"
  echo "$extra"
  exit 1
fi
nm -D --defined-only "$plugin" | grep -q ' gst_plugin_zcipc_register$' || {
  echo "$plugin does not export gst_plugin_zcipc_register"; exit 1; }
echo "only the plugin entry points are exported"
