#!/usr/bin/env bash
# Where the host's time goes per HTTP request when the firmware serves it
# under QEMU, ours beside smoltcp's (README, "Web server performance"). A
# benchmark, not a test: nothing is asserted.
#
#   benches/firmware_host_profile.sh [--boots N] [--requests N] [--cpu N]
#                                    [--ab ARGS] [--path PATH] [--ours ELF]
#
# The request rates of benches/http.sh are the whole machine's: QEMU's
# device models, its main loop, the TAP, the kernel and ab as well as the
# firmware. This splits them. For each firmware — the quiet reference
# firmware (a) and smoltcp 0.14's firmware built with `render-status`, as
# benches/http.sh builds them — and for N boots of each (default 4,
# alternating: a boot's host memory layout moves the figures by a few per
# cent), it runs QEMU and ab pinned to one CPU (--cpu, default 1), then
# `perf record -C CPU` over `ab ARGS -n REQUESTS` (default "" and 3000: a
# new connection per request; --ab -k keeps alive) on PATH (default
# /app.js), and prints per boot and on average the CPU time per request
# by part (benches/firmware_host_profile.py: guest code, block lookups,
# MMIO, QEMU other, QEMU's kernel time, the client). Then, with perf
# uprobes on QEMU's `cpu_exec` and `qemu_cpu_kick` (removed at the end),
# how often per request the virtual CPU left its loop and was woken (a
# WFI that slept, an interrupt that woke it), with the context switches
# and system calls of QEMU per request. Needs root, ab, qemu-system-arm,
# perf (linux-perf), dnsmasq.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
boots=4
requests=3000
cpu=1
ab_args=""
path=/app.js
ours_elf=
while (($#)); do
    case "$1" in
        --boots) boots=$2; shift ;;
        --requests) requests=$2; shift ;;
        --cpu) cpu=$2; shift ;;
        --ab) ab_args=$2; shift ;;
        --path) path=$2; shift ;;
        --ours) ours_elf=$(realpath "$2"); shift ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "firmware_host_profile.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "firmware_host_profile.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (network namespaces, perf)"
for t in ab ip qemu-system-arm perf python3 dnsmasq taskset; do
    command -v "$t" >/dev/null || die "needs $t"
done

OUT="$ROOT/target/firmware-host-profile"
mkdir -p "$OUT"
(cd "$ROOT/examples/firmware" && CARGO_TARGET_DIR="$OUT/ours" \
    cargo build --release --quiet --features quiet)
(cd "$ROOT/benches/smoltcp-firmware" && CARGO_TARGET_DIR="$OUT/smoltcp" \
    cargo build --release --quiet --features render-status)
ours="${ours_elf:-$OUT/ours/thumbv7m-none-eabi/release/emberstack-firmware}"
smol="$OUT/smoltcp/thumbv7m-none-eabi/release/smoltcp-firmware"

# shellcheck source=benches/firmware_ns.sh
. "$ROOT/benches/firmware_ns.sh"
ns="fwprof-$$"
run="$OUT/run-$$"
pids=()
probes=0
stop() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
    ip netns del "$ns" 2>/dev/null || true
}
cleanup() {
    stop
    ((probes)) && perf probe -q -d 'probe_qemu:*' 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT

# boot ELF [dhcp]: the firmware in a fresh namespace, answering pings;
# sets $qemu to QEMU's PID. smoltcp's firmware takes its address from
# dnsmasq, ours from the command line.
boot() {
    local elf=$1 dhcp=${2:-} append=$fw_append
    stop
    mkdir -p "$run"
    fw_netns "$ns"
    if [[ -n $dhcp ]]; then
        fw_dnsmasq "$ns" "$run" &
        pids+=($!)
        append=""
    fi
    taskset -c "$cpu" ip netns exec "$ns" "${FW_QEMU[@]}" -kernel "$elf" -append "$append" \
        >/dev/null 2>&1 &
    pids+=($!)
    fw_answers "$ns" 90 || die "$(basename "$elf") did not answer"
    qemu=$(pgrep -n -f "qemu-system-arm .*-kernel $elf") || die "no QEMU process"
    # shellcheck disable=SC2086
    taskset -c "$cpu" ip netns exec "$ns" timeout 60 ab -q $ab_args -n 500 \
        "http://$FW_IP$path" >/dev/null 2>&1 || die "ab failed (warm-up)"
}

# profile: the parts of one boot, per request.
profile() {
    # shellcheck disable=SC2086
    perf record -q -C "$cpu" -F 4999 -o "$run/perf.data" -- \
        taskset -c "$cpu" ip netns exec "$ns" timeout 120 ab -q $ab_args -n "$requests" \
        "http://$FW_IP$path" >"$run/ab" 2>&1 || die "ab failed"
    grep -q "^Complete requests: *$requests" "$run/ab" || die "ab did not complete"
    python3 "$ROOT/benches/firmware_host_profile.py" "$run/perf.data" "$requests"
}

# counts: QEMU's vCPU loop entries and kicks, context switches and
# system calls, per request.
counts() {
    # shellcheck disable=SC2086
    taskset -c "$cpu" ip netns exec "$ns" timeout 120 ab -q $ab_args -n "$requests" \
        "http://$FW_IP$path" >"$run/ab" 2>&1 &
    local client=$!
    perf stat -x, -e probe_qemu:cpu_exec -e probe_qemu:qemu_cpu_kick \
        -e context-switches -e raw_syscalls:sys_enter -p "$qemu" -o "$run/stat" -- \
        sh -c "while kill -0 $client 2>/dev/null; do sleep 0.05; done"
    wait "$client" || die "ab failed"
    awk -F, -v n="$requests" '$1 ~ /^[0-9]/ { sub(/^probe_qemu:/, "", $3); printf "%s=%.2f ", $3, $1 / n }' \
        "$run/stat"
    echo
}

declare -A sums
parts=() # in the order firmware_host_profile.py prints them
echo "host CPU µs per request, ab $ab_args -n $requests $path, QEMU and ab on CPU $cpu"
for b in $(seq 1 "$boots"); do
    for who in ours smoltcp; do
        if [[ $who == ours ]]; then boot "$ours"; else boot "$smol" dhcp; fi
        line=$(profile) || exit 1
        echo "boot $b $who: $line"
        for kv in $line; do
            ((b == 1)) && [[ $who == ours ]] && parts+=("${kv%%=*}")
            sums["$who ${kv%%=*}"]=$(awk -v a="${sums["$who ${kv%%=*}"]:-0}" -v b="${kv#*=}" 'BEGIN { print a + b }')
        done
    done
done
for who in ours smoltcp; do
    printf 'mean %s:' "$who"
    total=0
    for p in "${parts[@]}"; do
        v=$(awk -v s="${sums["$who $p"]:-0}" -v n="$boots" 'BEGIN { printf "%.2f", s / n }')
        total=$(awk -v a="$total" -v b="$v" 'BEGIN { print a + b }')
        printf ' %s=%s' "$p" "$v"
    done
    printf ' total=%.1f\n' "$total"
done

qemu_bin=$(command -v qemu-system-arm)
perf probe -q -x "$qemu_bin" --add cpu_exec >/dev/null 2>&1 &&
    perf probe -q -x "$qemu_bin" --add qemu_cpu_kick >/dev/null 2>&1 && probes=1
if ((probes)); then
    echo "per request (perf stat, uprobes): vCPU loop entries (cpu_exec), wake-ups (qemu_cpu_kick)"
    boot "$ours"
    echo "ours: $(counts)"
    boot "$smol" dhcp
    echo "smoltcp: $(counts)"
else
    echo "(perf probe on $qemu_bin failed: no counts)"
fi
