#!/usr/bin/env bash
# What each server does per request on the host TAP, by count rather than
# rate (issue 11): our reference device and lwIP's httpd, each in its own
# network namespace with a TAP (as benches/lwip/paired.sh starts them).
#
#   benches/lwip/count.sh [--requests N] [--cpu-requests N] [--cpu N]
#                         [--device BIN] [--base BIN] [--paths "/favicon.ico /app.js"]
#
# Per server, path and ab mode (-c 1 and -k -c 1): its user and system
# CPU per request (/proc/PID/stat over an ab run of --cpu-requests,
# default 20,000, nothing attached), the TCP flags of its frames
# (tcpdump over a run of 300 requests, per request it saw), its system
# calls by kind (perf stat counting the kernel's syscall tracepoints over
# a run of N requests, default 2,000: all, read, failed reads (EAGAIN),
# write, writes to stdout/stderr (the log), poll, pselect6,
# clock_gettime) and its sleeps and preemptions (voluntary and
# involuntary context switches), per request. Frames in and out are its
# successful reads and its writes to the TAP. The counts do not depend
# on the machine's load; the CPU figures do (a little). --cpu N pins the
# servers and ab as paired.sh does. --base BIN adds another build of the
# device (e.g. main's) in a third namespace, measured the same way after
# ours. Needs root, ab, perf, tcpdump.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
requests=2000
cpu_requests=20000
device=
base=
pin=()
paths="/favicon.ico /app.js"
while (($#)); do
    case "$1" in
        --requests) requests=$2; shift ;;
        --cpu-requests) cpu_requests=$2; shift ;;
        --cpu) pin=(taskset -c "$2"); shift ;;
        --device) device=$2; shift ;;
        --base) base=$2; shift ;;
        --paths) paths=$2; shift ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "count.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "count.sh: $*" >&2; exit 1; }
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for t in ab ip perf tcpdump; do command -v "$t" >/dev/null || die "needs $t"; done

# shellcheck source=benches/lwip/servers.sh
. "$ROOT/benches/lwip/servers.sh"
find_servers
ns_ours="lwcount-ours-$$"
ns_lwip="lwcount-lwip-$$"
ns_base="lwcount-base-$$"
tmp=$(mktemp -d)
trap 'stop_servers; rm -rf "$tmp"' EXIT

serve_device "$ns_ours" "$device"
serve_lwip "$ns_lwip" "$lwip"
who_all="ours lwip"
if [[ -n $base ]]; then
    serve_device "$ns_base" "$base"
    who_all="ours base lwip"
fi
# `ip netns exec` execs the command: the pid is the server's (env execs too).

ab_run() { # NS MODE PATH N
    # shellcheck disable=SC2086
    "${pin[@]}" ip netns exec "$1" timeout 120 ab -q -s 20 $2 -n "$4" \
        "http://$ip_dev$3" 2>&1 | awk '/^(Failed|Requests per)/'
}
stat_field() { awk -v f="$2" '{ sub(/^.*\) /, ""); print $(f - 2) }' /proc/"$1"/stat; }
hz=$(getconf CLK_TCK)

for p in $paths; do
    for m in "-c 1" "-k -c 1"; do
        for who in $who_all; do
            case $who in
                ours) ns=$ns_ours pid=${pids[0]} ;;
                lwip) ns=$ns_lwip pid=${pids[1]} ;;
                base) ns=$ns_base pid=${pids[2]} ;;
            esac
            ab_run "$ns" "$m" "$p" 200 >/dev/null # warm: ARP, caches
            # CPU, no tracer.
            u0=$(stat_field "$pid" 14) s0=$(stat_field "$pid" 15)
            rate=$(ab_run "$ns" "$m" "$p" "$cpu_requests" | awk '/^Requests/ { print $4 }')
            u1=$(stat_field "$pid" 14) s1=$(stat_field "$pid" 15)
            cpu=$(awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$hz" -v n="$cpu_requests" \
                'BEGIN { printf "user %.1f sys %.1f us/req", u / hz * 1e6 / n, s / hz * 1e6 / n }')
            # Frames and flags.
            ip netns exec "$ns" tcpdump -i tap0 -nn -w "$tmp/cap" -B 16384 -s 96 2>"$tmp/td" &
            td=$!
            for _ in $(seq 1 50); do grep -q listening "$tmp/td" && break; sleep 0.1; done
            ab_run "$ns" "$m" "$p" 300 >/dev/null
            sleep 0.3
            kill -INT "$td"; wait "$td" 2>/dev/null || true
            frames=$(tcpdump -nn -r "$tmp/cap" 2>/dev/null | awk -v dev="$ip_dev" '
                / > / { dir = (index($3, dev ".") == 1) ? "out" : "in"
                        f = "-"; if (match($0, /Flags \[[^]]*\]/)) f = substr($0, RSTART + 7, RLENGTH - 8)
                        len = 0; if (match($0, /length [0-9]+/)) len = substr($0, RSTART + 7, RLENGTH - 7) + 0
                        k = dir " [" f "]" (len > 0 ? "+data" : ""); c[k]++; t[dir]++ }
                END { n = c["in [P.]+data"]; if (!n) n = 1
                      printf "frames per request (tcpdump, %d requests):", n
                      for (k in c) printf " %s %.2f;", k, c[k] / n }')
            # System calls, counted by the kernel's tracepoints (perf stat:
            # counting only, far less intrusive than strace), and wake-ups.
            read -r v0 i0 < <(awk '/ctxt_switches/ { printf "%s ", $2 } END { print "" }' /proc/"$pid"/status)
            perf stat -x, -o "$tmp/sc" -p "$pid" -e raw_syscalls:sys_enter \
                -e syscalls:sys_enter_read -e syscalls:sys_exit_read --filter 'ret < 0' \
                -e syscalls:sys_enter_write -e syscalls:sys_enter_write --filter 'fd < 3' \
                -e syscalls:sys_enter_poll -e syscalls:sys_enter_pselect6 \
                -e syscalls:sys_enter_clock_gettime 2>/dev/null &
            st=$!
            sleep 0.5
            ab_run "$ns" "$m" "$p" "$requests" >/dev/null
            kill -INT "$st"; wait "$st" 2>/dev/null || true
            read -r v1 i1 < <(awk '/ctxt_switches/ { printf "%s ", $2 } END { print "" }' /proc/"$pid"/status)
            calls=$(awk -F, -v n="$requests" '
                $3 ~ /sys_/ { k = $3
                    if (k == "raw_syscalls:sys_enter") k = "all"
                    else if (k == "syscalls:sys_exit_read") k = "read-failed"
                    else if (k == "syscalls:sys_enter_write" && w++) k = "write-stdout"
                    else sub(/^syscalls:sys_enter_/, "", k)
                    printf " %s %.2f", k, $1 / n }' "$tmp/sc")
            calls="$calls; sleeps $(awk -v d=$((v1 - v0)) -v i=$((i1 - i0)) -v n="$requests" \
                'BEGIN { printf "%.2f, preempted %.2f", d / n, i / n }')"
            printf '%-12s %-8s %-5s %s req/s; %s\n    per request:%s\n    %s\n' \
                "$p" "$m" "$who" "$rate" "$cpu" "$calls" "$frames"
        done
    done
done
