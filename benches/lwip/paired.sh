#!/usr/bin/env bash
# Our reference device and lwIP's httpd measured in alternation, cell by
# cell, so that a busy machine's drift hits both alike (issue 11).
#
#   benches/lwip/paired.sh [--rounds N] [--requests N] [--cpu N] [--device BIN]
#                          [--against BIN] [--paths "/ /favicon.ico /app.js"]
#
# benches/http.sh --lwip measures all of ours, then all of lwIP's: on a
# shared machine whose load changes by the minute its cells move by 2x
# between runs. Here both servers run at once, each in its own network
# namespace with a TAP (10.79.0.2/24 in both), and each round of a cell
# runs `ab` once against each (which one first alternates by round). Per
# cell (the same paths and ab modes as http.sh's lwIP rows) it prints the
# median req/s of each and the median of the per-round ratios ours/lwIP
# with their lowest and highest, and each server's CPU time per request
# (its on-CPU time from /proc/PID/schedstat over all rounds of the cell,
# user and kernel: less moved by other loads than the rates; and of it the
# time in user space, i.e. the stack and server without the TAP's system
# calls, from /proc/PID/stat in clock ticks). --cpu N pins both servers and ab to host
# CPU N, as http.sh --cpu does. Builds the device (cargo) and lwIP
# (benches/lwip/build.sh, LWIP_SRC honoured) unless --device is given /
# target/lwip/lwip-httpd exists. --against BIN puts another build of the
# device (e.g. main's) where lwIP was, to pair a change with its base (the
# "lwIP" columns are then that build's). Needs root, ab, gcc and git.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
rounds=9
requests=2000
device=
against=
paths="/ /favicon.ico /app.js"
pin=()
while (($#)); do
    case "$1" in
        --rounds) rounds=$2; shift ;;
        --requests) requests=$2; shift ;;
        --cpu) pin=(taskset -c "$2"); shift ;;
        --device) device=$2; shift ;;
        --against) against=$2; shift ;;
        --paths) paths=$2; shift ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "paired.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "paired.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for t in ab ip; do command -v "$t" >/dev/null || die "needs $t"; done
((${#pin[@]} == 0)) || command -v taskset >/dev/null || die "needs taskset for --cpu"

# shellcheck source=benches/lwip/servers.sh
. "$ROOT/benches/lwip/servers.sh"
find_servers "$against"
ns_ours="lwpair-ours-$$"
ns_lwip="lwpair-lwip-$$"
trap stop_servers EXIT

serve_device "$ns_ours" "$device"
if [[ -n $against ]]; then
    serve_device "$ns_lwip" "$against"
    echo "against $against in lwIP's place"
else
    serve_lwip "$ns_lwip" "$lwip"
fi

# cpu_ns PID: the process's on-CPU time so far, in ns (its threads' sum).
cpu_ns() {
    awk '{ s += $1 } END { printf "%.0f", s }' /proc/"$1"/task/*/schedstat
}

# user_ticks PID: the process's user time so far, in clock ticks.
user_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 }' /proc/"$1"/stat
}
hz=$(getconf CLK_TCK)

# rate NS ARGS PATH: req/s of one ab run (0 when it failed).
rate() {
    local out
    # shellcheck disable=SC2086
    out=$("${pin[@]}" ip netns exec "$1" timeout 60 ab -q -s 20 $2 -n "$requests" \
        "http://$ip_dev$3" 2>&1 || true)
    out=$(awk '/^Requests per second/ { print $4 }' <<<"$out")
    echo "${out:-0}"
}

# median VALUES...: the middle one (the lower of the two middle ones).
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

((${#pin[@]} == 0)) || echo "servers and clients pinned: ${pin[*]}"
echo "ApacheBench, $requests requests per run, $rounds rounds, ours and lwIP alternating"
printf '%-13s %-9s %10s %10s %8s %16s %12s %12s %10s %10s\n' path ab ours lwIP ours/lwIP \
    "ratio low-high" "ours us/req" "lwIP us/req" "ours user" "lwIP user"
for p in $paths; do
    for m in "-c 1" "-c 4" "-k -c 1" "-k -c 4"; do
        ours=() theirs=() ratios=()
        c0_ours=$(cpu_ns "${pids[0]}")
        c0_lwip=$(cpu_ns "${pids[1]}")
        u0_ours=$(user_ticks "${pids[0]}")
        u0_lwip=$(user_ticks "${pids[1]}")
        for r in $(seq 1 "$rounds"); do
            if ((r % 2)); then
                a=$(rate "$ns_ours" "$m" "$p")
                b=$(rate "$ns_lwip" "$m" "$p")
            else
                b=$(rate "$ns_lwip" "$m" "$p")
                a=$(rate "$ns_ours" "$m" "$p")
            fi
            ours+=("$a") theirs+=("$b")
            ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')")
        done
        low=$(printf '%s\n' "${ratios[@]}" | sort -g | head -1)
        high=$(printf '%s\n' "${ratios[@]}" | sort -g | tail -1)
        us_ours=$(awk -v c="$(($(cpu_ns "${pids[0]}") - c0_ours))" -v n="$((rounds * requests))" \
            'BEGIN { printf "%.1f", c / n / 1000 }')
        us_lwip=$(awk -v c="$(($(cpu_ns "${pids[1]}") - c0_lwip))" -v n="$((rounds * requests))" \
            'BEGIN { printf "%.1f", c / n / 1000 }')
        user_ours=$(awk -v t="$(($(user_ticks "${pids[0]}") - u0_ours))" -v hz="$hz" \
            -v n="$((rounds * requests))" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
        user_lwip=$(awk -v t="$(($(user_ticks "${pids[1]}") - u0_lwip))" -v hz="$hz" \
            -v n="$((rounds * requests))" 'BEGIN { printf "%.1f", t / hz * 1e6 / n }')
        printf '%-13s %-9s %10s %10s %8s %16s %12s %12s %10s %10s\n' "$p" "$m" \
            "$(median "${ours[@]}")" "$(median "${theirs[@]}")" "$(median "${ratios[@]}")" \
            "$low-$high" "$us_ours" "$us_lwip" "$user_ours" "$user_lwip"
    done
done
