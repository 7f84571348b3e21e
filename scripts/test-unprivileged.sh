#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Proves the unit project needs no privilege and no BPF toolchain: runs it as the `nobody` user
# (uid/gid 65534, no groups) with a PATH from which clang, LLVM, bpftool and bpftrace are taken
# out, on a checkout that user cannot write to. A unit test that needs any of these fails here
# instead of on a contributor's laptop; it belongs under a kernel-project path (vitest.config.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then
  exec npx vitest run --project unit --configLoader runner
fi
bin=$(mktemp -d /tmp/stella-unit-path.XXXXXX)
trap 'rm -rf "$bin"' EXIT
for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
  [ -d "$dir" ] || continue
  for tool in "$dir"/*; do
    name=${tool##*/}
    case $name in clang* | llc* | llvm-* | bpftool | bpftrace* | ld.lld | lld) continue ;; esac
    [ -e "$bin/$name" ] || ln -s "$tool" "$bin/$name"
  done
done
chmod 755 "$bin"
if PATH=$bin command -v clang >/dev/null; then
  echo "test-unprivileged: clang still on the restricted PATH" >&2
  exit 1
fi
# --configLoader runner: the config is evaluated in memory, not bundled into node_modules/.vite-temp
# (which nobody cannot write). safe.directory: git reads this root-owned checkout for nobody as it
# would a contributor's own.
exec setpriv --reuid=65534 --regid=65534 --clear-groups \
  env -i PATH="$bin" HOME=/tmp TMPDIR=/tmp LANG=C.UTF-8 \
  GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*' \
  node node_modules/vitest/vitest.mjs run --project unit --configLoader runner
