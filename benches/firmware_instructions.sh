#!/usr/bin/env bash
# Instructions per HTTP request on the firmware, ours beside smoltcp's, from
# QEMU's single-step trace (README, "Web server performance"). A benchmark,
# not a test: nothing is asserted. Unlike the request rates of
# benches/http.sh, these counts do not depend on the host's load or on
# QEMU's translation caches, which is why the README quotes both.
#
#   benches/firmware_instructions.sh [--requests N] [--ours ELF]
#
# Builds the quiet reference firmware (a) and smoltcp 0.14's firmware with
# `equal-pages` (the same /app.js bytes, /status.json as a constant) and
# with `render-status` (/status.json rendered per request; see
# benches/http.sh), and with `render-status,parse-request` (each request
# head parsed with httparse as a server must), then for each case boots it in a network namespace
# under `qemu-system-arm -singlestep -d exec,nochain`, sends N keep-alive
# requests with ab (default 60, after 10 unmeasured ones) and counts with
# benches/firmware_trace.py: request -> answer (from the first instruction
# of the NIC driver's receive code for the request's frame to the last of
# its send code for the answer) and per request. Needs root, ab,
# qemu-system-arm, llvm-symbolizer; about a minute per case. --ours ELF
# measures another build of our firmware (e.g. an older checkout's) in
# place of this tree's.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
requests=60
ours_elf=
while (($#)); do
    case "$1" in
        --requests) requests=$2; shift ;;
        --ours) ours_elf=$(realpath "$2"); shift ;;
        -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "firmware_instructions.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "firmware_instructions.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for t in ab ip qemu-system-arm llvm-symbolizer python3 dnsmasq; do
    command -v "$t" >/dev/null || die "needs $t"
done

OUT="$ROOT/target/firmware-instructions"
mkdir -p "$OUT"
(cd "$ROOT/examples/firmware" && CARGO_TARGET_DIR="$OUT/ours" \
    cargo build --release --quiet --features quiet)
for f in equal-pages render-status render-status,parse-request; do
    (cd "$ROOT/benches/smoltcp-firmware" && CARGO_TARGET_DIR="$OUT/$f" \
        cargo build --release --quiet --features "$f")
done
ours="${ours_elf:-$OUT/ours/thumbv7m-none-eabi/release/emberstack-firmware}"
smol() { echo "$OUT/$1/thumbv7m-none-eabi/release/smoltcp-firmware"; }

# fn_lines FILE NAME: FIRST-LAST source lines of `fn NAME` (up to the
# closing brace at its indentation).
fn_lines() {
    awk -v name="$2" '
        !start && $0 ~ "fn " name "[<(]" {
            start = NR; match($0, /^ */); indent = substr($0, 1, RLENGTH); next
        }
        start && $0 == indent "}" { print start "-" NR; exit }
    ' "$1"
}
lan="$ROOT/runtime/src/nic/lan9118.rs"
smol_src="$ROOT/benches/smoltcp-firmware/src/main.rs"
# Where a received frame is read: our driver's `stage` (FIFO words into its
# staging buffer; it runs only for a frame), smoltcp's `pop` from its
# status read on (its first lines run on every poll). Where a frame is
# written: our `tx_write` .. `tx_send`, smoltcp's `send`.
ours_rx="lan9118.rs:$(fn_lines "$lan" stage)"
ours_tx="lan9118.rs:$(fn_lines "$lan" tx_write | cut -d- -f1)-$(fn_lines "$lan" tx_send | cut -d- -f2)"
pop_status=$(grep -n 'let status = rd(0x40);' "$smol_src" | head -1 | cut -d: -f1)
smol_rx="smoltcp-firmware/src/main.rs:$pop_status-$(fn_lines "$smol_src" pop | cut -d- -f2)"
smol_tx="smoltcp-firmware/src/main.rs:$(fn_lines "$smol_src" send)"
[[ $ours_rx == *-* && $ours_tx == *[0-9]-[0-9]* && -n $pop_status && $smol_tx == *-* ]] ||
    die "driver functions not found ($ours_rx $ours_tx $smol_rx $smol_tx)"

# shellcheck source=benches/firmware_ns.sh
. "$ROOT/benches/firmware_ns.sh"
ns="fwinsn-$$"
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$OUT/run-$$"
}
trap cleanup EXIT

# trace ELF RX_SPEC TX_SPEC AB_ARGS PATH [dhcp]: the counts for one case.
trace() {
    local elf=$1 rxs=$2 txs=$3 ab_args=$4 path=$5 dhcp=${6:-} append=""
    cleanup
    pids=()
    mkdir -p "$OUT/run-$$"
    fw_netns "$ns"
    if [[ -n $dhcp ]]; then
        fw_dnsmasq "$ns" "$OUT/run-$$" &
        pids+=($!)
    else
        append=$fw_append
    fi
    local fifo="$OUT/run-$$/trace"
    mkfifo "$fifo"
    python3 "$ROOT/benches/firmware_trace.py" "$elf" "$fifo" "$rxs" "$txs" >"$OUT/run-$$/result" &
    local counter=$!
    ip netns exec "$ns" "${FW_QEMU[@]}" -kernel "$elf" -append "$append" \
        -singlestep -d exec,nochain -D "$fifo" >/dev/null 2>&1 &
    local qemu=$!
    pids+=($qemu)
    fw_answers "$ns" 90 || die "$(basename "$elf") did not answer"
    ip netns exec "$ns" ab -q $ab_args -n $((requests + 10)) "http://$FW_IP$path" >/dev/null 2>&1 ||
        die "ab failed against $(basename "$elf") $path"
    kill "$qemu"
    wait "$counter"
    cat "$OUT/run-$$/result"
}

printf '%-44s %s\n' "case (keep-alive, ab -k)" "instructions: request -> answer; per request; width and QEMU lookups per request"
printf '%-44s ' "ours (a) quiet, /status.json (15 tags)"
trace "$ours" "$ours_rx" "$ours_tx" -k /status.json
printf '%-44s ' "smoltcp render-status, /status.json"
trace "$(smol render-status)" "$smol_rx" "$smol_tx" -k /status.json dhcp
printf '%-44s ' "smoltcp equal-pages, /status.json (constant)"
trace "$(smol equal-pages)" "$smol_rx" "$smol_tx" -k /status.json dhcp
printf '%-44s ' "smoltcp render-status,parse-request, ditto"
trace "$(smol render-status,parse-request)" "$smol_rx" "$smol_tx" -k /status.json dhcp
printf '%-44s ' "ours (a) quiet, /app.js"
trace "$ours" "$ours_rx" "$ours_tx" -k /app.js
printf '%-44s ' "smoltcp equal-pages, /app.js"
trace "$(smol equal-pages)" "$smol_rx" "$smol_tx" -k /app.js dhcp
printf '%-44s ' "smoltcp render-status,parse-request, ditto"
trace "$(smol render-status,parse-request)" "$smol_rx" "$smol_tx" -k /app.js dhcp
