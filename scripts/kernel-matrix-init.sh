#!/bin/busybox sh
# SPDX-License-Identifier: Apache-2.0
#
# PID 1 of a kernel-matrix guest (packed into its initramfs by scripts/kernel-matrix.sh): loads the
# modules that reach the host's root over virtio-9p, mounts it read-only with writable layers only
# where tests write, and hands over to scripts/kernel-matrix-guest.sh from the host's tree.
# Only the writable directories get overlays: a root that is one overlay hides executables' real
# inodes from executable-based targets (docs/KERNELS.md).
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

fail() {
  echo "matrix-init: $*" >/dev/console
  echo o >/proc/sysrq-trigger
  sleep 60
}

for m in $(cat /modules/order); do
  insmod "/modules/$m.ko" || fail "insmod $m failed"
done
# cache=loose: the shared tree does not change under a run, and uncached 9p reads make node's
# start (thousands of small files) several times slower.
nine="trans=virtio,version=9p2000.L,msize=262144"
mount -t 9p -o "$nine,ro,cache=loose" hostroot /newroot || fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 run /newroot/run
mount -t tmpfs -o mode=1777 tmp /newroot/tmp
mkdir -p /newroot/run/matrix-results /newroot/run/layers
# The repository comes as its own share, mounted after the tmpfs mounts above: a clone under /tmp
# (as CI makes) would otherwise be hidden by the guest's empty /tmp.
mkdir -p "/newroot$STELLA_REPO" 2>/dev/null
mount -t 9p -o "$nine,ro,cache=loose" repo "/newroot$STELLA_REPO" || fail "cannot mount the repository share"
mount -t 9p -o "$nine" results /newroot/run/matrix-results || fail "cannot mount the results share"
mount -t tmpfs layers /newroot/run/layers
for dir in /etc /var /root /home "$STELLA_REPO"; do
  layer=/newroot/run/layers/$(echo "$dir" | tr / _)
  mkdir -p "$layer/upper" "$layer/work"
  mount -t overlay overlay -o "lowerdir=/newroot$dir,upperdir=$layer/upper,workdir=$layer/work" "/newroot$dir" \
    || fail "cannot overlay $dir"
done
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
exec switch_root /newroot /bin/sh "$STELLA_REPO/scripts/kernel-matrix-guest.sh"
