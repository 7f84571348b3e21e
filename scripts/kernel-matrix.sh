#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Runs the kernel-facing tests (test/kernel-matrix.list) on each kernel users run: Debian's own
# 5.10 (bullseye), 6.1 (bookworm) and 6.12 (bookworm-backports) booted under qemu, plus the host's
# kernel directly. Kernel packages come from Debian's archive through apt only; 5.10 through a
# private apt configuration so the machine's sources never gain bullseye. The guest's root is the
# host's / over virtio-9p, read-only, with overlays only where tests write (see docs/KERNELS.md).
#
#   scripts/kernel-matrix.sh [5.10 6.1 6.12 host]     (as root; default: all four)
#   STELLA_MATRIX_TESTS="bpf/test/features.test.ts"   run these files instead of the list
#   STELLA_MATRIX_SMP / STELLA_MATRIX_MEM / STELLA_MATRIX_CPU / STELLA_MATRIX_ACCEL / STELLA_MATRIX_TIMEOUT
#   guest size, qemu CPU model and accelerator (defaults: default_cpu, default_accel), per-kernel limit
#   STELLA_MATRIX_COMMAND="grep flags /proc/cpuinfo"  run this shell command in the guests instead
#
# Results: .cache/kernel-matrix/results/<kernel>/{rc,junit.xml,vitest.log,console.log}; the
# table at the end is also written to .cache/kernel-matrix/results/summary.txt. Exit status is
# non-zero when any kernel's tests failed or did not finish.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
cache=$repo/.cache/kernel-matrix
results=$cache/results
log() { printf '\033[1m[matrix]\033[0m %s\n' "$*"; }
die() { printf '[matrix] error: %s\n' "$*" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || die "run as root (the guests load BPF; the host run needs CAP_BPF)"
for tool in qemu-system-x86_64 busybox cpio dpkg-deb apt-get xz; do
  command -v "$tool" >/dev/null || die "$tool is missing: run scripts/setup.sh"
done
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || read -r -a kernels <<<"${STELLA_MATRIX_KERNELS:-5.10 6.1 6.12 host}"
if [ -n "${STELLA_MATRIX_TESTS:-}" ]; then
  read -r -a tests <<<"$STELLA_MATRIX_TESTS"
else
  mapfile -t tests < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' test/kernel-matrix.list)
fi
for t in "${tests[@]}"; do [ -f "$t" ] || die "test/kernel-matrix.list names $t, which does not exist"; done

# --- fetching Debian's kernels ------------------------------------------------------------------
# The suite a kernel comes from, and the apt options that reach it.
apt_opts=()
apt_for() {
  case "$1" in
    6.1) apt_opts=(-o APT::Default-Release=bookworm-security) ;;
    6.12) apt_opts=(-o APT::Default-Release=bookworm-backports) ;;
    5.10)
      local dir=$cache/apt-bullseye
      mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/parts"
      cat >"$dir/sources.list" <<'SRC'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bullseye-security main
SRC
      apt_opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o "Dir::Etc::SourceParts=$dir/parts"
        -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir" -o "Dir::Cache::pkgcache=$dir/pkgcache.bin"
        -o "Dir::Cache::srcpkgcache=$dir/srcpkgcache.bin" -o APT::Default-Release=bullseye-security)
      [ -f "$dir/updated" ] || { apt-get "${apt_opts[@]}" update -q >/dev/null && touch "$dir/updated"; }
      ;;
    *) die "unknown kernel $1 (known: 5.10 6.1 6.12 host)" ;;
  esac
}

# Unpacks the newest image of a series: its vmlinuz, config and the few modules the guest needs to
# reach its root (9p over virtio-pci) and build overlays, in load order.
fetch_kernel() {
  local k=$1 dir=$cache/$k
  [ -f "$dir/ready" ] && return 0
  apt_for "$k"
  local meta image
  meta=$(apt-cache "${apt_opts[@]}" policy linux-image-amd64 | awk '/Candidate:/ {print $2}')
  image=$(apt-cache "${apt_opts[@]}" show "linux-image-amd64=$meta" | sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -1)
  case "$image" in linux-image-"$k".*) ;; *) die "apt offers $image for kernel $k, not a $k image" ;; esac
  log "fetching $image from Debian's archive"
  rm -rf "$dir" && mkdir -p "$dir/deb" "$dir/x" "$dir/modules"
  # As root into the cache: apt's _apt user cannot write there, and says so on every fetch.
  (cd "$dir/deb" && apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root download -q "$image" >/dev/null)
  dpkg-deb -x "$dir"/deb/*.deb "$dir/x"
  cp "$dir"/x/boot/vmlinuz-* "$dir/vmlinuz"
  cp "$dir"/x/boot/config-* "$dir/config"
  local moddir
  moddir=$(echo "$dir"/x/lib/modules/*)
  : >"$dir/modules/order"
  add_module() {
    local name=${1//-/_} file deps d
    grep -qx "$name" "$dir/modules/order" && return 0
    file=$(find "$moddir" -regextype posix-extended -regex ".*/${name//_/[-_]}\.ko(\.xz|\.zst)?" | head -1)
    if [ -z "$file" ]; then
      grep -q "/${name//_/[-_]}\.ko" "$moddir/modules.builtin" || die "kernel $k has no module $name"
      return 0
    fi
    case "$file" in
      *.xz) xz -dc "$file" >"$dir/modules/$name.ko" ;;
      *.zst) zstd -qdc "$file" >"$dir/modules/$name.ko" ;;
      *) cp "$file" "$dir/modules/$name.ko" ;;
    esac
    deps=$(strings -a "$dir/modules/$name.ko" | sed -n 's/^depends=//p' | head -1)
    for d in ${deps//,/ }; do add_module "$d"; done
    echo "$name" >>"$dir/modules/order"
  }
  for m in virtio_pci 9pnet_virtio 9p overlay; do add_module "$m"; done
  rm -rf "$dir/x" "$dir/deb"
  echo "$image" >"$dir/image" && touch "$dir/ready"
}

# --- the guest's initramfs ----------------------------------------------------------------------
build_initramfs() {
  local k=$1 dir=$cache/$k
  [ "$dir/initrd.gz" -nt scripts/kernel-matrix-init.sh ] && [ "$dir/initrd.gz" -nt "$dir/ready" ] && return 0
  local root=$dir/initramfs
  rm -rf "$root" && mkdir -p "$root"/{bin,dev,proc,sys,newroot,modules}
  cp "$(command -v busybox)" "$root/bin/busybox"
  cp "$dir"/modules/*.ko "$dir/modules/order" "$root/modules/"
  install -m 0755 scripts/kernel-matrix-init.sh "$root/init"
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$dir/initrd.gz.tmp"
  mv "$dir/initrd.gz.tmp" "$dir/initrd.gz" && rm -rf "$root"
}

# --- running ----------------------------------------------------------------------------------
# One host thread runs both vCPUs (thread=single): qemu 7.2's multi-threaded TCG made node in
# the guests execute stale or wrong code (SIGILL, SIGSEGV on a truncated %rsp, wasm bounds faults)
# at a rate that depends on the CPU model and the kernel, up to every run (docs/KERNELS.md, "Why
# single-threaded TCG"). `max` is every feature TCG emulates.
default_accel='tcg,thread=single'
default_cpu=max
run_guest() {
  local k=$1 out=$results/$1
  rm -rf "$out" && mkdir -p "$out"
  # What the guest runs: read by scripts/kernel-matrix-guest.sh through the results share.
  {
    printf 'STELLA_REPO=%q\n' "$repo"
    printf 'STELLA_TESTS=%q\n' "${tests[*]}"
    printf 'STELLA_COMMAND=%q\n' "${STELLA_MATRIX_COMMAND:-}"
  } >"$out/job"
  log "kernel $k ($(cat "$cache/$k/image")): ${#tests[@]} test files under qemu (TCG)"
  local start=$SECONDS
  # qemu exits 0 whatever the guest did: the verdict is the rc file the guest writes.
  flock /tmp/stella-qemu.lock timeout "${STELLA_MATRIX_TIMEOUT:-900}" nice -n 10 qemu-system-x86_64 \
    -machine q35 -accel "${STELLA_MATRIX_ACCEL:-$default_accel}" -cpu "${STELLA_MATRIX_CPU:-$default_cpu}" -smp "${STELLA_MATRIX_SMP:-2}" -m "${STELLA_MATRIX_MEM:-4096}" \
    -kernel "$cache/$k/vmlinuz" -initrd "$cache/$k/initrd.gz" \
    -append "console=ttyS0 panic=-1 quiet mitigations=off print-fatal-signals=1 STELLA_REPO=$repo" \
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$repo,mount_tag=repo,security_model=none,readonly=on,multidevs=remap" \
    -virtfs "local,path=$out,mount_tag=results,security_model=none" \
    -display none -monitor none -serial "file:$out/console.log" -nic none -no-reboot \
    || log "kernel $k: qemu ended with status $? (timeout is 124)"
  echo $((SECONDS - start)) >"$out/seconds"
}

run_host() {
  local out=$results/host start=$SECONDS rc=0
  rm -rf "$out" && mkdir -p "$out"
  log "kernel host ($(uname -r)): ${#tests[@]} test files"
  flock /tmp/stella-kernel.lock node node_modules/vitest/vitest.mjs run --reporter=default \
    --reporter=junit --outputFile.junit="$out/junit.xml" "${tests[@]}" >"$out/vitest.log" 2>&1 || rc=$?
  echo "$rc" >"$out/rc"
  echo $((SECONDS - start)) >"$out/seconds"
}

# The guests run what the host built (CO-RE objects load on every kernel): building inside a TCG
# guest would take minutes per kernel for a no-op.
node bpf/scripts/build.mjs --quiet
node node_modules/typescript/bin/tsc -b tsconfig.build.json
for k in "${kernels[@]}"; do
  if [ "$k" = host ]; then
    run_host
  else
    fetch_kernel "$k"
    build_initramfs "$k"
    run_guest "$k"
  fi
done
node scripts/kernel-matrix-summary.mjs "$results" "${kernels[@]}" | tee "$results/summary.txt"
