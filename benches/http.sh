#!/usr/bin/env bash
# HTTP request rates with ApacheBench against the reference device, on the
# host TAP and as firmware under QEMU beside smoltcp's firmware (README,
# "Web server performance"). A benchmark, not a test: nothing is asserted.
#
#   benches/http.sh [--runs N] [--requests N] [--host-only] [--firmware-only]
#                   [--device BIN] [--config NAME]... [--cpu N] [--lwip]
#
# For each build it makes a network namespace with a TAP, starts the device
# there (--ip 10.79.0.2/24), and runs `ab` with and without keep-alive
# (-k), with one and four concurrent clients (-c 1 / -c 4), on:
#   /status.json   dynamic, ~250 B (15 tags rendered per request)
#   /              dynamic, the 1.7 KB status page
#   /diag/sequence.txt  dynamic, ~3.6 KB (48 tags, chunked)
#   /favicon.ico   static, 4.3 KB
#   /app.js        static, 854 B
# and prints the median requests/s of N runs (default 3) per cell, with
# "stall" where ab needed more than 20 s (the old TIME-WAIT cap) and the
# kernel's count of SYN retransmissions and delayed ACKs over the cell.
# The firmware rows use the quiet reference firmware (a) of
# benches/footprint.sh --firmware and smoltcp 0.14's firmware built with
# `equal-pages` (benches/smoltcp-firmware): its 3 HTTP responders serve
# /app.js and /status.json with the bytes ours sends (the same file and
# head; a status body of the length ours renders), keep-alive when asked,
# and a chargen socket; and built with `render-status`, which renders
# /status.json for each request from the firmware's own state (the same 15
# fields, strings JSON-escaped, numbers by core::fmt: equal work); and
# with `parse-request` too, which parses each request head with httparse
# (routes the path, 404/405/400, keep-alive from the version and
# `Connection`, `Host` required for HTTP/1.1) as a server must, where the
# other two look only at the byte after `GET /`. Beside
# the request rates: TCP echo (port 7, 1 MiB
# each way) and bulk send (4 MB read from chargen, port 19), with the RAM
# each firmware uses (benches/footprint.sh --firmware).
#
# A headless Chromium cold load of / (benches/page_load.py, Navigation
# Timing) follows each host build and our firmware.
#
# --device BIN measures another build of the host device (e.g. an older
# checkout's target/release/examples/device) under the same conditions;
# --config NAME (repeatable) adds `--config NAME` variants of the host
# device (examples/configs/, e.g. web-w4). --cpu N runs the device (or
# QEMU) and the clients (ab, the echo and bulk clients) on host CPU N only
# (taskset): every hand-off between them is then a context switch on one
# CPU instead of a wake-up across CPUs, whose cost on a virtual machine
# (an inter-processor interrupt, a VM exit) made the firmware rates
# bimodal (README, "Web server performance"); the Chromium load stays
# unpinned. --lwip adds lwIP's httpd on the host TAP after our host rows
# (benches/lwip/build.sh builds it into target/lwip/, from LWIP_SRC if
# set): its / is our index.html as an SSI page whose 15 tags lwIP fills
# on every request (lwIP never keeps an SSI page alive), /favicon.ico and
# /app.js are our files with makefsdata's HTTP/1.1 heads; same cells,
# same pinning. Needs root, ab, qemu-system-arm (and taskset for --cpu,
# gcc and git for --lwip).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
runs=3
requests=2000
host=1
firmware=1
device=
configs=()
pin=()
lwip=0
while (($#)); do
    case "$1" in
        --runs) runs=$2; shift ;;
        --requests) requests=$2; shift ;;
        --host-only) firmware=0 ;;
        --firmware-only) host=0 ;;
        --device) device=$2; shift ;;
        --config) configs+=("$2"); shift ;;
        --cpu) pin=(taskset -c "$2"); shift ;;
        --lwip) lwip=1 ;;
        -h|--help) sed -n '2,54p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "http.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "http.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for t in ab ip nstat python3; do command -v "$t" >/dev/null || die "needs $t"; done
((${#pin[@]} == 0)) || command -v taskset >/dev/null || die "needs taskset for --cpu"

if ((host)) && [[ -z $device ]]; then
    (cd "$ROOT" && cargo build --release --quiet --example device)
    device="$ROOT/target/release/examples/device"
fi
if ((host && lwip)); then
    "$ROOT/benches/lwip/build.sh" >/dev/null
fi
ELF="$ROOT/target/footprint-firmware/elf"
if ((firmware)); then
    [[ -f $ELF/a-q.elf ]] || "$ROOT/benches/footprint/firmware.sh" >/dev/null
    (cd "$ROOT/benches/smoltcp-firmware" &&
        CARGO_TARGET_DIR="$ROOT/target/footprint-firmware/smoltcp-firmware" \
            cargo build --release --quiet --features equal-pages)
    cp "$ROOT/target/footprint-firmware/smoltcp-firmware/thumbv7m-none-eabi/release/smoltcp-firmware" \
        "$ELF/smol-eq.elf"
    (cd "$ROOT/benches/smoltcp-firmware" &&
        CARGO_TARGET_DIR="$ROOT/target/footprint-firmware/smoltcp-render" \
            cargo build --release --quiet --features render-status)
    cp "$ROOT/target/footprint-firmware/smoltcp-render/thumbv7m-none-eabi/release/smoltcp-firmware" \
        "$ELF/smol-render.elf"
    (cd "$ROOT/benches/smoltcp-firmware" &&
        CARGO_TARGET_DIR="$ROOT/target/footprint-firmware/smoltcp-parse" \
            cargo build --release --quiet --features render-status,parse-request)
    cp "$ROOT/target/footprint-firmware/smoltcp-parse/thumbv7m-none-eabi/release/smoltcp-firmware" \
        "$ELF/smol-parse.elf"
fi

ns="httpbench-$$"
ip_dev=10.79.0.2
pid=
teardown() {
    [[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    pid=
    ip netns del "$ns" 2>/dev/null || true
}

trap teardown EXIT

# A fresh namespace with the TAP (the host side 10.79.0.1/24).
fresh_ns() {
    teardown
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" tuntap add dev tap0 mode tap
    ip -n "$ns" addr add 10.79.0.1/24 dev tap0
    ip -n "$ns" link set tap0 up
}

# launch CMD... : the device running in the namespace, answering pings.
launch() {
    "${pin[@]}" ip netns exec "$ns" "$@" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        if ip netns exec "$ns" ping -c 1 -W 1 "$ip_dev" >/dev/null 2>&1; then return 0; fi
    done
    die "device did not answer: $*"
}

# start CMD... : a fresh namespace with the device running in it.
start() {
    fresh_ns
    launch "$@"
}

# smoltcp ELF: its firmware in a fresh namespace; it takes its address
# from DHCP (dnsmasq in the namespace, stopped by smoltcp_done).
smoltcp() {
    fresh_ns
    lease=$(mktemp -d)
    ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
        --no-hosts --port=0 --bind-interfaces --interface=tap0 --listen-address=10.79.0.1 \
        --dhcp-range=$ip_dev,$ip_dev,255.255.255.0,2m --dhcp-authoritative --no-ping \
        --dhcp-leasefile="$lease/leases" --pid-file="$lease/pid" &
    dns=$!
    launch qemu-system-arm -machine mps2-an385 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$1" \
        -nic tap,ifname=tap0,script=no,downscript=no,model=lan9118,mac=02:00:00:00:00:02
}
smoltcp_done() {
    kill "$dns" 2>/dev/null || true
    rm -rf "$lease"
}

counter() { ip netns exec "$ns" nstat -asz "$1" | awk -v n="$1" '$1 == n { print $2 }'; }

# median VALUES...: the middle one (the lower of the two middle ones).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# cell ARGS PATH: median req/s of $runs ab runs, plus SYN retries and
# delayed ACKs summed over them.
cell() {
    local args=$1 path=$2 rates=() syn0 dack0 out rate
    syn0=$(counter TcpExtTCPSynRetrans)
    dack0=$(counter TcpExtDelayedACKs)
    for _ in $(seq 1 "$runs"); do
        # shellcheck disable=SC2086
        out=$("${pin[@]}" ip netns exec "$ns" timeout 60 ab -q -s 20 $args -n "$requests" \
            "http://$ip_dev$path" 2>&1 || true)
        rate=$(awk '/^Requests per second/ { print $4 }' <<<"$out")
        rates+=("${rate:-0}")
    done
    local med
    med=$(median "${rates[@]}")
    printf '%s/%s/%s' "$med" "$(($(counter TcpExtTCPSynRetrans) - syn0))" \
        "$(($(counter TcpExtDelayedACKs) - dack0))"
}

# echo_rate: bytes/s of 1 MiB sent to the device's TCP echo (port 7) and
# read back at once (the device sends as much as it receives): median of
# $runs runs.
echo_rate() {
    local rates=()
    for _ in $(seq 1 "$runs"); do
        rates+=("$("${pin[@]}" ip netns exec "$ns" timeout 120 python3 -c '
import socket, sys, threading, time
data = bytes((i * 7) % 251 for i in range(1 << 20))
s = socket.create_connection((sys.argv[1], 7), timeout=30)
t0 = time.monotonic()
threading.Thread(target=lambda: s.sendall(data), daemon=True).start()
got = 0
while got < len(data):
    n = len(s.recv(65536))
    if n == 0:
        break
    got += n
dt = time.monotonic() - t0
print(f"{got / dt / 1e6:.2f}" if got == len(data) else "0")
' "$ip_dev" 2>/dev/null || echo 0)")
    done
    printf '%s MB/s' "$(median "${rates[@]}")"
}

# bulk_rate: bytes/s of 4 MB read from the device's chargen (port 19):
# median of $runs runs.
bulk_rate() {
    local rates=()
    for _ in $(seq 1 "$runs"); do
        rates+=("$("${pin[@]}" ip netns exec "$ns" timeout 120 python3 -c '
import socket, sys, time
s = socket.create_connection((sys.argv[1], 19), timeout=30)
want, got = 4_000_000, 0
t0 = time.monotonic()
while got < want:
    n = len(s.recv(65536))
    if n == 0:
        break
    got += n
dt = time.monotonic() - t0
print(f"{got / dt / 1e6:.2f}" if got >= want else "0")
' "$ip_dev" 2>/dev/null || echo 0)")
    done
    printf '%s MB/s' "$(median "${rates[@]}")"
}

# page_load LABEL: a headless Chromium cold load of / (fresh profile each
# run), Navigation Timing's loadEventEnd: median of $runs runs.
loads=()
page_load() {
    command -v chromium >/dev/null || return 0
    loads+=("$1: $(ip netns exec "$ns" timeout 300 python3 "$ROOT/benches/page_load.py" \
        --url "http://$ip_dev/" --runs "$runs" 2>&1 | tail -1)")
}

PATHS=(/status.json / /diag/sequence.txt /favicon.ico /app.js)
MODES=("-c 1" "-c 4" "-k -c 1" "-k -c 4")
header() {
    printf '%-34s %-9s' "build" "ab"
    for p in "${PATHS[@]}"; do printf ' %22s' "$p"; done
    echo
}
# matrix LABEL PATHS...: every mode on the given paths.
matrix() {
    local label=$1; shift
    for m in "${MODES[@]}"; do
        printf '%-34s %-9s' "$label" "$m"
        for p in "${PATHS[@]}"; do
            if [[ " $* " == *" $p "* ]]; then
                printf ' %22s' "$(cell "$m" "$p")"
            else
                printf ' %22s' "-"
            fi
        done
        echo
    done
}

((${#pin[@]} == 0)) || echo "device and clients pinned: ${pin[*]}"
echo "ApacheBench, $requests requests per run, median of $runs runs; each cell: req/s/SYN retransmissions/delayed ACKs (client kernel, all runs)"
header
if ((host)); then
    start "$device" --tap tap0 --ip "$ip_dev/24" --gateway 10.79.0.1
    # target/PROFILE/examples/device as PROFILE/device, another path as it is.
    label=$device
    [[ $device != */examples/device ]] || label="$(basename "$(dirname "$(dirname "$device")")")/device"
    matrix "host: $label" "${PATHS[@]}"
    page_load "host $device"
    for c in "${configs[@]}"; do
        start "$device" --tap tap0 --ip "$ip_dev/24" --gateway 10.79.0.1 --config "$c"
        matrix "host: --config $c" "${PATHS[@]}"
    done
    if ((lwip)); then
        start env PRECONFIGURED_TAPIF=tap0 "$ROOT/target/lwip/lwip-httpd" "$ip_dev" \
            255.255.255.0 10.79.0.1
        matrix "host: lwIP httpd (SSI /)" / /favicon.ico /app.js
    fi
fi
if ((firmware)); then
    qemu() {
        start qemu-system-arm -machine mps2-an385 -nographic -monitor none -serial none \
            -semihosting-config enable=on,target=native -kernel "$1" \
            -nic tap,ifname=tap0,script=no,downscript=no,model=lan9118,mac=02:00:00:00:00:02 \
            -append "${2:-}"
    }
    qemu "$ELF/a-q.elf" "--ip $ip_dev/24 --gateway 10.79.0.1"
    matrix "QEMU: ours (a) quiet" "${PATHS[@]}"
    page_load "QEMU ours (a) quiet"
    ours_echo=$(echo_rate)
    ours_bulk=$(bulk_rate)
    smoltcp "$ELF/smol-eq.elf"
    matrix "QEMU: smoltcp 0.14, equal pages" /status.json /app.js
    smol_echo=$(echo_rate)
    smol_bulk=$(bulk_rate)
    smoltcp_done
    smoltcp "$ELF/smol-render.elf"
    matrix "QEMU: smoltcp 0.14, status rendered" /status.json
    smoltcp_done
    smoltcp "$ELF/smol-parse.elf"
    matrix "QEMU: smoltcp 0.14, rendered, parsed" /status.json /app.js
    smoltcp_done
    echo
    echo "TCP echo (port 7), 1 MiB each way, median of $runs: ours $ours_echo, smoltcp $smol_echo"
    echo "bulk send (chargen, port 19, 4 MB), median of $runs: ours $ours_bulk, smoltcp $smol_bulk"
fi
if ((${#loads[@]})); then
    echo
    echo "Chromium cold load of / (Navigation Timing), median of $runs:"
    printf '  %s\n' "${loads[@]}"
fi
