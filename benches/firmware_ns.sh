# Sourced by the firmware benchmarks (benches/firmware_instructions.sh,
# benches/firmware_host_profile.sh): one firmware under QEMU in a network
# namespace of its own, on a TAP whose host side is 10.79.0.1/24 and the
# firmware 10.79.0.2. Ours takes that address from its command line
# (fw_append); smoltcp's firmware takes it from dnsmasq (fw_dnsmasq).

# The firmware's address and the host side's.
FW_IP=10.79.0.2
FW_HOST=10.79.0.1

# The QEMU command line up to -kernel: the mps2-an385 board, no serial or
# monitor, semihosting for the firmware's report lines, the LAN9118 on tap0.
FW_QEMU=(qemu-system-arm -machine mps2-an385 -nographic -monitor none -serial none
    -semihosting-config enable=on,target=native
    -nic tap,ifname=tap0,script=no,downscript=no,model=lan9118,mac=02:00:00:00:00:02)

# The command line our firmware takes its address from.
fw_append="--ip $FW_IP/24 --gateway $FW_HOST"

# fw_netns NS: a new namespace NS with loopback up and tap0 at FW_HOST.
fw_netns() {
    ip netns add "$1"
    ip -n "$1" link set lo up
    ip -n "$1" tuntap add dev tap0 mode tap
    ip -n "$1" addr add "$FW_HOST/24" dev tap0
    ip -n "$1" link set tap0 up
}

# fw_dnsmasq NS DIR: dnsmasq in NS leasing FW_IP on tap0 (its lease and PID
# files in DIR), in the foreground: start it with `&` and stop it by PID.
fw_dnsmasq() {
    exec ip netns exec "$1" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv \
        --no-hosts --port=0 --bind-interfaces --interface=tap0 --listen-address="$FW_HOST" \
        --dhcp-range="$FW_IP,$FW_IP,255.255.255.0,2m" --dhcp-authoritative --no-ping \
        --dhcp-leasefile="$2/leases" --pid-file="$2/pid"
}

# fw_answers NS TRIES: true once FW_IP answers a ping from NS (one second
# a try at most), false after TRIES tries.
fw_answers() {
    local _
    for _ in $(seq 1 "$2"); do
        if ip netns exec "$1" ping -c 1 -W 1 "$FW_IP" >/dev/null 2>&1; then return 0; fi
    done
    return 1
}
