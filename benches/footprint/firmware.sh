#!/usr/bin/env bash
# Footprint of the real firmware (benches/footprint.sh --firmware [--run]).
#
# Builds, for QEMU's mps2-an385 (Cortex-M3, thumbv7m-none-eabi) with
# opt-level "s", LTO, codegen-units 1, panic abort:
#   ours (a)   examples/firmware with the reference stack.toml, logging on
#   ours (a)q  the same, `quiet` (log lines compiled out: no core::fmt)
#   ours (b)q  `quiet`, stack from benches/footprint/everything.toml (the
#              seed's "everything on": 8 TCP sockets, 3 of them the web
#              server's, DHCP, DNS, NetBIOS, SNTP, SMTP, POP3)
#   ours seed  `quiet`, stack from benches/footprint/seed.toml (the C
#              driver's feature set: (b) with every other protocol switch
#              off — no CNAME following, SMTP AUTH, RFC 2047 subjects,
#              POP3 deletion, DHCP host name, INIT-REBOOT, ARP probing)
#   ours base  board support alone (NIC driver, clock, semihosting, faults)
#   smoltcp    benches/smoltcp-firmware: smoltcp 0.14 doing the closest
#              equal work (ICMP/UDP/TCP echo, 2 HTTP-like responders, DHCP,
#              DNS; no NetBIOS/SNTP), no logging, its own LAN9118 phy::Device
#   smol base  its board support alone
# and prints flash (text + rodata + data image) and static RAM (data + bss)
# with the RAM split into the stack's state, the NIC driver's frame
# buffers and the application's buffers, the stack's share (build minus its
# baseline), code per module for (b) and smoltcp (DWARF line tables, needs
# llvm-dwarfdump; llvm-symbolizer puts inlined core code in its caller),
# and the ratios ours/smoltcp.
#
# --run (root, qemu-system-arm, dnsmasq): also boots (b) and smoltcp in a
# network namespace, gets an address from dnsmasq, runs ping (56 and 1472
# bytes, 500 flood), UDP echo, 64 KiB of TCP echo, an HTTP GET of / and
# NetBIOS (ours), and reads the firmware's call-stack high-water mark
# (the main stack below the main loop: stack + application, measured by
# painting).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
OUT="$ROOT/target/footprint-firmware"
ELFSIZE="$ROOT/benches/footprint/elfsize.py"
TARGET=thumbv7m-none-eabi
run=0
for a in "$@"; do
    case "$a" in
        --run) run=1 ;;
        --firmware) ;;
        *) echo "firmware footprint: unknown option $a" >&2; exit 2 ;;
    esac
done
die() { echo "firmware footprint: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is needed to read the ELF"
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET" >/dev/null 2>&1 || die "rustup target add $TARGET failed"
fi
mkdir -p "$OUT/elf"

# build NAME CRATE_DIR FEATURES [TOML]
build() {
    local name=$1 dir=$2 feats=$3 toml=${4:-}
    local log="$OUT/elf/$name.log" bin
    bin=$(sed -n 's/^name = "\(.*\)"/\1/p' "$dir/Cargo.toml" | head -1)
    if ! (cd "$dir" && EMBER_FIRMWARE_TOML="$toml" CARGO_TARGET_DIR="$OUT/$bin" \
            cargo build --release --quiet ${feats:+--features "$feats"}) >"$log" 2>&1; then
        cat "$log" >&2
        die "build $name failed (log: $log)"
    fi
    cp "$OUT/$bin/$TARGET/release/$bin" "$OUT/elf/$name.elf"
}

FW="$ROOT/examples/firmware"
SMOL="$ROOT/benches/smoltcp-firmware"
EVERYTHING="$ROOT/benches/footprint/everything.toml"
SEED="$ROOT/benches/footprint/seed.toml"
build a     "$FW" ""
build a-q   "$FW" quiet
build b-q   "$FW" quiet "$EVERYTHING"
build s-q   "$FW" quiet "$SEED"
build base  "$FW" baseline,quiet
build smol  "$SMOL" ""
build smol-base "$SMOL" baseline

py() { python3 "$ELFSIZE" "$@"; }
# sizes ELF -> "flash ram"
sizes() {
    py sections "$1" | awk '
        $4 == "nobits" { bss += $2; next }
        $3 ~ /^w/ || $1 == ".data" { data += $2; next }
        { flash += $2 }
        END { printf "%d %d\n", flash + data, data + bss }'
}
sym() { py match "$1" "$2"; }

read -r base_flash base_ram < <(sizes "$OUT/elf/base.elf")
read -r sbase_flash sbase_ram < <(sizes "$OUT/elf/smol-base.elf")

declare -A FLASH RAM STATE PROTO WEB NICB APPB
for n in a a-q b-q s-q; do
    e="$OUT/elf/$n.elf"
    read -r FLASH[$n] RAM[$n] < <(sizes "$e")
    STATE[$n]=$(py value "$e" EMBERSTACK_RAM_BYTES)
    PROTO[$n]=$(py value "$e" EMBERSTACK_APP_PROTOCOL_RAM_BYTES)
    WEB[$n]=$(py value "$e" EMBERSTACK_WEB_ROM_BYTES)
    NICB[$n]=$(sym "$e" 'emberstack_firmware3NIC')
    APPB[$n]=$(( $(sym "$e" 'emberstack_firmware6DEVICE') - STATE[$n] - PROTO[$n] ))
done
e="$OUT/elf/smol.elf"
read -r FLASH[smol] RAM[smol] < <(sizes "$e")
STATE[smol]=$(( $(py value "$e" SMOLTCP_IFACE_BYTES) + $(sym "$e" '(SOCKET_STORAGE|UDP_RX_META|UDP_TX_META|DNS_QUERIES)') ))
PROTO[smol]=0
WEB[smol]=0
NICB[smol]=$(sym "$e" 'smoltcp_firmware3NIC')
APPB[smol]=$(sym "$e" '(TCP_RX|TCP_TX|UDP_RX|UDP_TX)[0-9]')

printf 'Firmware footprint, QEMU mps2-an385 (Cortex-M3, %s), opt-level "s", LTO, codegen-units 1, panic abort\n' "$TARGET"
fmt='%-36s %7s %7s %7s %7s %7s %7s %7s %7s %8s %8s\n'
printf "$fmt" build flash "(stack)" "web" "(code)" RAM "state" "+proto" "NIC buf" "app buf" "RAM-app"
row() {
    local label=$1 n=$2 bflash=$3 bram=$4
    printf "$fmt" "$label" "${FLASH[$n]}" $((FLASH[$n] - bflash)) "${WEB[$n]}" \
        $((FLASH[$n] - bflash - WEB[$n])) "${RAM[$n]}" "${STATE[$n]}" \
        $((STATE[$n] + PROTO[$n])) "${NICB[$n]}" "${APPB[$n]}" $((RAM[$n] - APPB[$n] - bram))
}
printf "$fmt" "ours: board baseline (no stack)" "$base_flash" - - - "$base_ram" - - - - -
row "ours (a) reference, logging" a "$base_flash" "$base_ram"
row "ours (a) reference, quiet" a-q "$base_flash" "$base_ram"
row "ours (b) everything on, quiet" b-q "$base_flash" "$base_ram"
row "ours seed (C driver's set), quiet" s-q "$base_flash" "$base_ram"
printf "$fmt" "smoltcp: board baseline" "$sbase_flash" - - - "$sbase_ram" - - - - -
row "smoltcp 0.14 (b)-like, no log" smol "$sbase_flash" "$sbase_ram"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo "ours (b) / smoltcp: flash $(ratio "${FLASH[b-q]}" "${FLASH[smol]}"), stack flash $(ratio $((FLASH[b-q] - base_flash)) $((FLASH[smol] - sbase_flash))), stack code without the site $(ratio $((FLASH[b-q] - base_flash - WEB[b-q])) $((FLASH[smol] - sbase_flash))), state + NIC RAM $(ratio $((STATE[b-q] + NICB[b-q])) $((STATE[smol] + NICB[smol])))"
echo "Bytes. flash = text + rodata + data image; (stack) = flash minus the same firmware's board"
echo "baseline (stack + application code + web site); web = the site's content (web::ROM_BYTES:"
echo "paths, heads, bodies, gzip twins, ETags); (code) = (stack) - web. RAM = data + bss (static)."
echo "state = the stack's own state (ours: RAM_BYTES; smoltcp: Interface + socket storage + UDP"
echo "metadata + DNS slots); +proto = state plus the protocol state the application embeds (the"
echo "mail clients, MAIL_RAM_BYTES, and the HTTP server's connections, web::RAM_BYTES)."
echo "NIC buf = the driver's frame buffers (ours: 1 staged RX frame; smoltcp: RX + TX)."
echo "app buf = application buffers (ours: echo rings etc.; smoltcp: socket payload buffers,"
echo "1460 B rx + tx per TCP socket). RAM-app = RAM - app buf - baseline RAM."

echo
# The budget (benches/footprint/ceilings.txt): (b)'s code without the site
# (stack + the demo application) and the stack's state, and the seed's.
. "$ROOT/benches/footprint/ceiling.sh"
ceiling b-q code $((FLASH[b-q] - base_flash - WEB[b-q]))
ceiling b-q state "${STATE[b-q]}"
# The seed (the C driver's feature set, its HTTP extras off) likewise.
ceiling s-q code $((FLASH[s-q] - base_flash - WEB[s-q]))
ceiling s-q state "${STATE[s-q]}"

for n in b-q smol; do
    echo
    echo "code per module, $n (bytes of .text):"
    if command -v llvm-dwarfdump >/dev/null; then
        py modules "$OUT/elf/$n.elf" | sed 's/^/  /'
    else
        echo "  (needs llvm-dwarfdump: apt-get install -y llvm)"
    fi
done

ceiling_verdict
((run)) || exit 0
[[ $(id -u) == 0 ]] || die "--run needs root (network namespaces)"
for t in qemu-system-arm dnsmasq ping socat; do
    command -v "$t" >/dev/null || die "--run needs $t"
done
echo
echo "call stack high-water (main stack below the main loop, after a DHCP lease,"
echo "ping 56/1472 B + 500 flood, UDP echo, 64 KiB TCP echo, HTTP GET, NetBIOS):"
runone() {
    local name=$1 label=$2 elf=$3 ns="fwfoot-$$-$1" log="$OUT/elf/$1.run.log" dir
    dir=$(mktemp -d)
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$ns" tuntap add dev tap0 mode tap
    ip -n "$ns" addr add 10.77.0.1/24 dev tap0
    ip -n "$ns" link set tap0 up
    ip netns exec "$ns" dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts \
        --port=0 --bind-interfaces --interface=tap0 --listen-address=10.77.0.1 \
        --dhcp-range=10.77.0.2,10.77.0.2,255.255.255.0,2m --dhcp-authoritative --no-ping \
        --dhcp-option=option:router,10.77.0.1 --dhcp-leasefile="$dir/leases" --pid-file="$dir/pid" &
    local dns_pid=$!
    ip netns exec "$ns" qemu-system-arm -machine mps2-an385 -nographic -monitor none -serial none \
        -semihosting-config enable=on,target=native -kernel "$elf" \
        -nic tap,ifname=tap0,script=no,downscript=no,model=lan9118,mac=02:00:00:00:00:02 >"$log" 2>&1 &
    local qemu_pid=$!
    local x ok=0
    for _ in $(seq 1 100); do
        if ip netns exec "$ns" ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1; then ok=1; break; fi
    done
    if ((ok)); then
        x() { ip netns exec "$ns" "$@" >/dev/null 2>&1 || echo "  ($name: $1 failed)"; }
        x ping -c 2 -s 1472 10.77.0.2
        x ping -f -c 500 10.77.0.2
        echo hello | x socat -T 2 - UDP:10.77.0.2:7
        x timeout 20 python3 -c '
import socket, sys
s = socket.create_connection(("10.77.0.2", 7), timeout=5)
for i in range(64):
    b = bytes((i * 7 + k) % 256 for k in range(1024)); s.sendall(b)
    got = b""
    while len(got) < len(b): got += s.recv(len(b) - len(got))
    assert got == b
s.close()'
        x timeout 10 curl -s -o /dev/null http://10.77.0.2/
        if [[ $name != smol ]] && command -v nmblookup >/dev/null; then
            x nmblookup -U 10.77.0.2 EMBER
        fi
        sleep 1.3
    else
        echo "  $name: no DHCP lease / no ping answer; log: $log"
    fi
    kill "$qemu_pid" "$dns_pid" 2>/dev/null || true
    wait "$qemu_pid" "$dns_pid" 2>/dev/null || true
    ip netns del "$ns"
    rm -rf "$dir"
    local hw
    hw=$(grep -o 'stack high-water [0-9]* bytes' "$log" | tail -1 || true)
    printf '  %-34s %s\n' "$label" "${hw:-no report (log: $log)}"
}
runone b-q "ours (b) everything on, quiet" "$OUT/elf/b-q.elf"
runone smol "smoltcp 0.14 (b)-like" "$OUT/elf/smol.elf"
