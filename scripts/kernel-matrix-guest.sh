#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Runs inside a kernel-matrix guest after scripts/kernel-matrix-init.sh switched to the host's
# root: prepares what a booted Debian would have (tracefs, bpffs, cgroup2, lo...), runs the job the
# host wrote to the results share, and leaves its exit status there, since qemu's own status says
# nothing about the guest.
out=/run/matrix-results
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8
mount -t tracefs nodev /sys/kernel/tracing
mount -t debugfs nodev /sys/kernel/debug
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 nodev /sys/fs/cgroup
mkdir -p /dev/shm /dev/pts
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t devpts devpts /dev/pts
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
ip link set lo up
hostname stella-matrix
ulimit -l unlimited

. "$out/job"
cd "$STELLA_REPO" || exit 1
{
  echo "kernel $(uname -r)"
  if [ -n "${STELLA_COMMAND:-}" ]; then
    sh -c "$STELLA_COMMAND"
  else
    # The host built everything before booting us (scripts/kernel-matrix.sh).
    # shellcheck disable=SC2086 # the job's test list is a space-separated list of paths
    STELLA_PREBUILT=1 node node_modules/vitest/vitest.mjs run --reporter=default --reporter=junit \
      --outputFile.junit="$out/junit.xml" $STELLA_TESTS
  fi
  echo $? >"$out/rc.tmp"
} >"$out/vitest.log" 2>&1
# What the kernel saw (print-fatal-signals=1 on the command line: a process killed by a signal
# leaves its registers and code bytes here).
dmesg >"$out/dmesg.log" 2>&1
mv "$out/rc.tmp" "$out/rc"
sync
echo o >/proc/sysrq-trigger
sleep 60
