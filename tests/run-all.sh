#!/usr/bin/env bash
# Runs every check emberstack has: installs the peers the tests need (when
# missing; idempotent), then format, lints, docs, the no_std build for
# Cortex-M, and all tests (unit, simulated wire, real peers in network
# namespaces). Run as root: peer tests create namespaces and TAPs.
#
#   tests/run-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n== %s\n' "$*"; }

need_apt=()
want() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }
want ip iproute2
want ping iputils-ping
want socat socat
want tcpdump tcpdump
# Name services (tests/names_peer.rs).
want dnsmasq dnsmasq-base
want chronyd chrony
want ntpdig ntpsec-ntpdig
want nmblookup samba-common-bin
want ss iproute2
want kea-dhcp4 kea-dhcp4-server
# The firmware under QEMU (tests/firmware_peer.rs).
want qemu-system-arm qemu-system-arm
# The firmware footprint's code-per-module table (DWARF line tables).
want llvm-dwarfdump llvm
# Mail (tests/mail_peer.rs): dovecot as the POP3 server.
want dovecot dovecot-core
[ -x /usr/lib/dovecot/pop3 ] || need_apt+=(dovecot-pop3d)
# HTTP (tests/http_peer.rs): curl, ApacheBench, headless Chromium and a font
# for its screenshot.
want curl curl
want ab apache2-utils
want chromium chromium
# The fuzz targets (runtime/fuzz): libfuzzer-sys builds libFuzzer's C++.
want c++ g++
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || need_apt+=(fonts-dejavu-core)
if [ ${#need_apt[@]} -gt 0 ]; then
  log "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# Python peers in a venv (PEERS.md): dnslib for tests/names_peer.rs,
# aiosmtpd for tests/mail_peer.rs, zeroconf for tests/mdns_peer.rs.
if ! /opt/peers/bin/python -c 'import dnslib, aiosmtpd, zeroconf' >/dev/null 2>&1; then
  log "installing the Python peers in /opt/peers"
  [ -x /opt/peers/bin/python ] || python3 -m venv /opt/peers
  /opt/peers/bin/pip install -q dnslib aiosmtpd zeroconf
fi

for target in thumbv7em-none-eabihf thumbv7m-none-eabi; do
  if ! rustup target list --installed | grep -qx "$target"; then
    log "adding target $target"
    rustup target add "$target"
  fi
done
# The firmware (examples/firmware, its own workspace) builds into its own
# target directory; tests/firmware_peer.rs runs it from there via run.sh.
export FIRMWARE_TARGET_DIR="${FIRMWARE_TARGET_DIR:-$PWD/target/firmware}"

log "cargo fmt"
cargo fmt --all -- --check
cargo fmt --manifest-path examples/firmware/Cargo.toml -- --check
cargo fmt --manifest-path benches/smoltcp-firmware/Cargo.toml -- --check
cargo fmt --manifest-path examples/boards/stm32f411-enc28j60/Cargo.toml -- --check
cargo fmt --manifest-path runtime/fuzz/Cargo.toml -- --check

log "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy -p emberstack --no-default-features --features lan9118 --target thumbv7m-none-eabi -- -D warnings
cargo clippy -p emberstack --no-default-features --features enc28j60 --target thumbv7m-none-eabi -- -D warnings
cargo clippy -p emberstack --no-default-features --features enc28j60 --target thumbv7em-none-eabihf -- -D warnings
# The ENC28J60 board example (STM32F411, stm32f4xx-hal): built, not run.
(cd examples/boards/stm32f411-enc28j60 && export CARGO_TARGET_DIR="$PWD/../../../target/boards" \
  && cargo clippy --release --quiet -- -D warnings && cargo build --release --quiet)
for features in "" quiet baseline; do
  (cd examples/firmware && CARGO_TARGET_DIR="$FIRMWARE_TARGET_DIR" \
    cargo clippy --release --quiet ${features:+--features $features} -- -D warnings)
  (cd benches/smoltcp-firmware && CARGO_TARGET_DIR="$PWD/../../target/footprint-firmware/smoltcp-firmware" \
    cargo clippy --release --quiet ${features:+--features ${features/quiet/log}} -- -D warnings)
done

log "layers (runtime imports only run down: runtime/tests/layers.rs)"
cargo test -p emberstack --test layers --quiet

log "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
RUSTDOCFLAGS="-D warnings" cargo doc -p emberstack --features std,lan9118,enc28j60 --no-deps --quiet

log "no_std build for Cortex-M"
cargo build -p emberstack --no-default-features --target thumbv7em-none-eabihf --quiet

log "firmware (QEMU mps2-an385, thumbv7m)"
examples/firmware/run.sh --build-only

log "footprint (firmware-shaped build, thumbv7em)"
benches/footprint.sh stack.toml benches/footprint/minimal.toml
benches/footprint.sh --drivers

log "footprint (the real firmware on mps2-an385, beside smoltcp 0.14)"
benches/footprint.sh --firmware

log "fuzz targets (stable toolchain; each target 8 s from its corpus)"
runtime/fuzz/fuzz.sh smoke 8

log "tests"
# Examples are built first: the peer tests run the reference device binary.
cargo build --workspace --examples --quiet
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo test --workspace 2>&1 | tee "$out"
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "\nall tests: %d passed, %d failed\n", p, f }' "$out"
