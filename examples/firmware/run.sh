#!/usr/bin/env bash
# Builds the reference device firmware and runs it under QEMU's mps2-an385
# board, in the foreground, with its LAN9118 on a TAP of the current network
# namespace. Log lines (semihosting) go to stdout; a panic or hard fault ends
# QEMU with status 1. Ctrl-C stops it.
#
#   examples/firmware/run.sh --tap NAME [--ip A.B.C.D/N --gateway G] [--dns D]
#       [--no-dhcp] [--mac M] [--tcp-send A.B.C.D:PORT --bytes N]
#       [--sntp-server S] [--resolve NAME]... [--resolve-mx DOMAIN]...
#       [--smtp-server S] [--smtp-mx] [--pop3-server S] [--mail-user U]
#       [--mail-password P] [--mail-to A] [--mail-from A] [--check-mail]
#       [--mail-delete SUBJECT] [--panic]
#   examples/firmware/run.sh --build-only      # prints the ELF's path
#
# Without --ip the firmware gets its address from DHCP. Every option but
# --tap reaches the firmware through QEMU's -append (the semihosting command
# line), so it takes the same options as the host device (examples/device.rs).
# The TAP must exist and be up (ip tuntap add dev NAME mode tap; ip link set
# NAME up); QEMU opens it, so run this in the TAP's namespace, as root or as
# the TAP's owner.
#
# Environment: FIRMWARE_TARGET_DIR (cargo target dir, default
# target/firmware), FIRMWARE_FEATURES (e.g. quiet), QEMU (default
# qemu-system-arm).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
TARGET_DIR="${FIRMWARE_TARGET_DIR:-$ROOT/target/firmware}"
ELF="$TARGET_DIR/thumbv7m-none-eabi/release/emberstack-firmware"
QEMU="${QEMU:-qemu-system-arm}"

die() { echo "run.sh: $*" >&2; exit 2; }

tap=
mac=02:00:00:00:00:02
build_only=0
args=()
while (($#)); do
    case "$1" in
        --tap) [[ $# -ge 2 ]] || die "--tap needs a name"; tap=$2; shift ;;
        --mac) [[ $# -ge 2 ]] || die "--mac needs an address"; mac=$2; args+=("$1" "$2"); shift ;;
        --build-only) build_only=1 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        --no-dhcp|--panic|--smtp-mx|--check-mail) args+=("$1") ;;
        --*) [[ $# -ge 2 ]] || die "$1 needs a value"; args+=("$1" "$2"); shift ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
    shift
done

command -v cargo >/dev/null || die "cargo is not on PATH"
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx thumbv7m-none-eabi; then
    rustup target add thumbv7m-none-eabi >&2 || die "cannot add the target: rustup target add thumbv7m-none-eabi"
fi
(cd "$HERE" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet \
    ${FIRMWARE_FEATURES:+--features "$FIRMWARE_FEATURES"}) >&2 || die "firmware build failed"
if ((build_only)); then
    echo "$ELF"
    exit 0
fi
[[ -n "$tap" ]] || die "--tap NAME is required (see --help)"
command -v "$QEMU" >/dev/null || die "$QEMU not found: apt-get install -y qemu-system-arm"
[[ -e "/sys/class/net/$tap" ]] || die "no interface $tap in this namespace: ip tuntap add dev $tap mode tap && ip link set $tap up"

exec "$QEMU" -machine mps2-an385 -nographic -monitor none -serial none \
    -semihosting-config enable=on,target=native \
    -kernel "$ELF" -append "${args[*]:-}" \
    -nic "tap,ifname=$tap,script=no,downscript=no,model=lan9118,mac=$mac"
