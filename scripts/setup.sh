#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# Sets up a Debian 12 machine (as root) for Stella runtime linkage: apt packages (libbpf >= 1.4,
# bpftool and valkey from bookworm-backports; clang for CO-RE objects; the workloads and servers
# the demo and tests use), npm packages, BPF objects, the N-API addon and the TypeScript build.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (the agent needs CAP_BPF/CAP_PERFMON; apt needs root)"
. /etc/os-release
[ "${ID:-}" = debian ] && [ "${VERSION_CODENAME:-}" = bookworm ] || log "warning: tested on Debian 12 (bookworm); this is ${PRETTY_NAME:-unknown}"
command -v node >/dev/null || die "Node.js 20 or newer is required (node not found)"
node -e 'const [M,m]=process.versions.node.split(".").map(Number); process.exit(M>20||(M===20&&m>=6)?0:1)' \
  || die "Node.js >= 20.6 is required (found $(node --version))"

# --- apt -------------------------------------------------------------------------------------
BACKPORTS=/etc/apt/sources.list.d/stella-bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  log "enabling bookworm-backports (libbpf 1.4, bpftool 7.5, valkey 8)"
  cat > "$BACKPORTS" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  rm -f /var/lib/apt/stella-updated
fi

APT_BACKPORTS=(libbpf-dev libbpf1 bpftool valkey-server)
APT_MAIN=(
  clang llvm make g++ python3 pkg-config libelf-dev zlib1g-dev   # CO-RE objects and the addon
  bpftrace                                                       # baseline in benchmarks/tests
  openssl curl ca-certificates python3-nacl gnutls-bin libsodium23 # TLS/crypto workloads
  pamtester slapd ldap-utils sasl2-bin libsasl2-modules          # auth workloads
  postgresql prometheus jq procps iproute2 util-linux libcap2-bin # stores, alerts, tooling
  qemu-system-x86 busybox-static cpio xz-utils zstd binutils    # scripts/kernel-matrix.sh guests
)
need=()
for p in "${APT_MAIN[@]}" "${APT_BACKPORTS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
libbpf_ok() { dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libbpf-dev 2>/dev/null || echo 0)" ge 1:1.4; }
if [ ${#need[@]} -gt 0 ] || ! libbpf_ok; then
  log "installing apt packages: ${need[*]:-libbpf upgrade}"
  export DEBIAN_FRONTEND=noninteractive
  # slapd asks questions on install; the tests run their own slapd with their own config.
  echo 'slapd slapd/no_configuration boolean true' | debconf-set-selections
  apt-get update -q
  apt-get install -y -q --no-install-recommends -t bookworm-backports "${APT_BACKPORTS[@]}"
  apt-get install -y -q --no-install-recommends "${APT_MAIN[@]}"
fi
libbpf_ok || die "libbpf >= 1.4 is required (found $(dpkg-query -W -f='${Version}' libbpf-dev))"
# Debian starts these on install where systemd runs; the project starts its own instances.
for svc in valkey-server prometheus postgresql slapd; do
  command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null && systemctl disable --now -q "$svc" || true
done

# --- kernel interfaces -------------------------------------------------------------------------
if [ ! -d /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null && log "mounted tracefs at /sys/kernel/tracing" \
    || log "warning: could not mount tracefs; syscall tracepoints will be unavailable"
fi
[ -r /sys/kernel/btf/vmlinux ] || log "warning: /sys/kernel/btf/vmlinux missing: CO-RE objects cannot be built or loaded"

# --- npm and build -----------------------------------------------------------------------------
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund
fi
log "building BPF objects, the libbpf addon and TypeScript"
npm run build --silent

ln -sf "$PWD/core/bin/stella.js" /usr/local/bin/stella
ln -sf "$PWD/core/bin/stella-runtime-agent.js" /usr/local/bin/stella-runtime-agent
log "ready: $(command -v stella) ($(node --version), libbpf $(pkg-config --modversion libbpf))"
