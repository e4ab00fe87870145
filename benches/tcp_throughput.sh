#!/usr/bin/env bash
# TCP throughput over a TAP against the Linux kernel, emberstack vs smoltcp
# (README, "Performance"). Builds the reference device and benches/compare's
# smoltcp-peer in release mode, then runs benches/tcp_throughput.py:
#
#   benches/tcp_throughput.sh [--mb N] [--repeat R] [--limit S] [--only TEXT]... [--json FILE]
#
# For window 1 and 4, with and without `split` (the delayed-ACK mitigation),
# both directions, and smoltcp with the same window: bytes/s, RTT, the
# window/RTT bound and the fraction of it. Every variant runs in its own
# network namespace (es-tput-PID-N), removed at the end. Needs root,
# python3, ping (iputils-ping). A few minutes with the defaults.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
die() { echo "tcp_throughput: $*" >&2; exit 1; }

case "${1:-}" in -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
[[ $(id -u) -eq 0 ]] || die "needs root (network namespaces and TAPs)"
command -v python3 >/dev/null || die "python3 is needed (apt-get install -y python3)"
command -v ping >/dev/null || die "ping is needed (apt-get install -y iputils-ping)"

echo "building the device and smoltcp-peer (release)..." >&2
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release --example device)
(cd "$ROOT/benches/compare" && CARGO_TARGET_DIR="$TARGET/bench-compare" cargo build --quiet --release --bin smoltcp-peer)

exec python3 "$ROOT/benches/tcp_throughput.py" run \
    --device "$TARGET/release/examples/device" \
    --smoltcp "$TARGET/bench-compare/release/smoltcp-peer" "$@"
