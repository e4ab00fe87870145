# Sourced by benches/lwip/count.sh and paired.sh: the servers found or
# built, and each run in a network namespace of its own with a TAP (the
# kernel's side 10.79.0.1/24, the server at $ip_dev), started and torn
# down alike. The sourcing script sets `ROOT`, `pin` (an array: taskset,
# or empty) and `die` first.

# find_servers [NO_LWIP]: sets `device` (built with cargo unless given)
# and `lwip` (benches/lwip/build.sh's httpd, built unless there or unless
# NO_LWIP is non-empty: the device is paired with another build of itself).
find_servers() {
    if [[ -z $device ]]; then
        (cd "$ROOT" && cargo build --release --quiet --example device)
        device="$ROOT/target/release/examples/device"
    fi
    lwip="$ROOT/target/lwip/lwip-httpd"
    [[ -n ${1:-} || -x $lwip ]] || "$ROOT/benches/lwip/build.sh" >/dev/null
}

ip_dev=10.79.0.2
# The servers' PIDs in start order (`ip netns exec` and `env` exec the
# server, so each is the server's own), and their namespaces.
pids=()
server_namespaces=()

# stop_servers: kills the servers, waits for them, deletes their
# namespaces (the scripts' EXIT trap).
stop_servers() {
    local p ns
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    for ns in "${server_namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}

# serve NS CMD...: a namespace with the TAP and CMD running in it,
# answering pings (bounded: 100 pings of at most 1 s).
serve() {
    local ns=$1; shift
    ip netns add "$ns"
    server_namespaces+=("$ns")
    ip -n "$ns" link set lo up
    ip -n "$ns" tuntap add dev tap0 mode tap
    ip -n "$ns" addr add 10.79.0.1/24 dev tap0
    ip -n "$ns" link set tap0 up
    "${pin[@]}" ip netns exec "$ns" "$@" >/dev/null 2>&1 &
    pids+=($!)
    for _ in $(seq 1 100); do
        if ip netns exec "$ns" ping -c 1 -W 1 "$ip_dev" >/dev/null 2>&1; then return 0; fi
    done
    die "no answer in $ns: $*"
}

# serve_device NS BIN: our reference device at $ip_dev.
serve_device() {
    serve "$1" "$2" --tap tap0 --ip "$ip_dev/24" --gateway 10.79.0.1
}

# serve_lwip NS BIN: lwIP's httpd (benches/lwip/build.sh) at $ip_dev.
serve_lwip() {
    serve "$1" env PRECONFIGURED_TAPIF=tap0 "$2" "$ip_dev" 255.255.255.0 10.79.0.1
}
