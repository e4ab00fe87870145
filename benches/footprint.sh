#!/usr/bin/env bash
# Flash and static RAM of an emberstack configuration on Cortex-M4F.
#
#   benches/footprint.sh [--rewrite] [--mail] [--top N] [STACK_TOML...]
#   benches/footprint.sh --firmware [--run]
#
# --firmware measures the real firmware instead (examples/firmware on QEMU's
# mps2-an385, reference and "everything on" configurations, side by side
# with smoltcp 0.14 on the same board): see benches/footprint/firmware.sh.
#
# Builds benches/footprint/ (a firmware-shaped binary: the configured stack in
# a static, polled forever over a minimal MMIO NIC, UDP echo on port 7) for
# thumbv7em-none-eabihf with opt-level "s", LTO, codegen-units 1, panic abort,
# once per STACK_TOML (default: the reference device's stack.toml) plus once
# as a baseline without the stack, and prints bytes per section:
#
#   flash = text (.vector_table + .text) + rodata + data (its load image)
#   RAM   = data + bss (+ .uninit): static RAM only, not the call stack
#   stack = this config minus the baseline: the stack's own share, without
#           cortex-m-rt's vector table and start-up, the NIC or the clock;
#           (mem*) = how much of it is compiler_builtins' mem* routines
#   RAM_BYTES = size of the stack state (the generated constant; here the
#           size of the `EMBERSTACK_STATE` static in .bss)
#
# --rewrite: the fake NIC declares TxMode::Rewrite (ENC28J60-like) instead of
# TxMode::LengthFirst (LAN9118-like FIFO). --mail: the firmware also embeds
# the SMTP and POP3 clients (each config needs [smtp] and [pop3]) and uses
# them. --top N: the N largest symbols.
# --drivers: instead, builds the first STACK_TOML (default
# benches/footprint/everything.toml, "everything on") once per NIC — the
# fake MMIO NIC, the LAN9118 driver (nic::lan9118) and the ENC28J60 driver
# over an SPI port (nic::enc28j60) — each with its own baseline, and prints
# flash, static RAM and the driver's RAM (the NIC_DRIVER static).
# Sizes come from the ELF section headers (benches/footprint/elfsize.py, plain
# python3): no binutils or llvm-tools needed.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [[ " $* " == *" --firmware "* ]]; then
    exec "$ROOT/benches/footprint/firmware.sh" "$@"
fi
CRATE="$ROOT/benches/footprint"
TARGET=thumbv7em-none-eabihf
export CARGO_TARGET_DIR="$ROOT/target/footprint"
ELF_DIR="$CARGO_TARGET_DIR/$TARGET/release"
OUT="$CARGO_TARGET_DIR/elf"
ELFSIZE="$CRATE/elfsize.py"

die() { echo "footprint: $*" >&2; exit 1; }

features=()
drivers=0
mode=LengthFirst
top=0
configs=()
while (($#)); do
    case "$1" in
        --rewrite) features+=(tx-rewrite); mode=Rewrite ;;
        --mail) features+=(mail) ;;
        --drivers) drivers=1 ;;
        --top) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ ]] || die "--top needs a number"; top=$2; shift ;;
        -h|--help) sed -n '2,34p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) configs+=("$1") ;;
    esac
    shift
done
if ((drivers)) && ((${#configs[@]} == 0)); then
    configs=("$ROOT/benches/footprint/everything.toml")
fi
((${#configs[@]})) || configs=("$ROOT/stack.toml")

command -v python3 >/dev/null || die "python3 is needed to read the ELF"
command -v cargo >/dev/null || die "cargo is not on PATH"
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET"; then
    rustup target add "$TARGET" >/dev/null 2>&1 || die "cannot add the $TARGET target (rustup target add $TARGET)"
fi
mkdir -p "$OUT"

# build NAME TOML [FEATURE...]: builds and copies the ELF to $OUT/NAME.elf.
build() {
    local name=$1 toml=$2; shift 2
    local feats; feats=$(IFS=,; echo "$*")
    local log="$OUT/$name.log"
    if ! (cd "$CRATE" && EMBERSTACK_TOML="$toml" \
            cargo build --release --quiet ${feats:+--features "$feats"}) >"$log" 2>&1; then
        cat "$log" >&2
        die "cargo build failed for $toml ($name build); full log: $log"
    fi
    cp "$ELF_DIR/emberstack-footprint" "$OUT/$name.elf"
}

# sizes ELF: prints "text rodata data bss" in bytes.
sizes() {
    python3 "$ELFSIZE" sections "$1" | awk '
        $4 == "nobits" { bss += $2; next }
        $3 ~ /x/ || $1 == ".vector_table" { text += $2; next }
        $3 ~ /^w/ || $1 == ".data" { data += $2; next }
        { rodata += $2 }
        END { printf "%d %d %d %d\n", text, rodata, data, bss }'
}

abs() { (cd "$(dirname "$1")" 2>/dev/null && echo "$(pwd)/$(basename "$1")") || die "no such file: $1"; }

first=$(abs "${configs[0]}")
[[ -f "$first" ]] || die "no such file: ${configs[0]}"

if ((drivers)); then
    budget=()
    printf 'emberstack footprint by NIC driver: %s, %s, opt-level "s", LTO, codegen-units 1, panic abort\n' \
        "${first#"$ROOT/"}" "$TARGET"
    fmt='%-40s %7s %7s %11s %9s %9s %11s\n'
    printf "$fmt" NIC flash RAM "stack flash" "stack RAM" RAM_BYTES "NIC driver RAM"
    for nic in mmio lan9118 enc28j60; do
        feat=(); [[ $nic == mmio ]] || feat=("$nic")
        build "base-$nic" "$first" baseline "${feat[@]}" "${features[@]}"
        build "full-$nic" "$first" "${feat[@]}" "${features[@]}"
        read -r t r d b < <(sizes "$OUT/base-$nic.elf")
        bflash=$((t + r + d)); bram=$((d + b))
        read -r t r d b < <(sizes "$OUT/full-$nic.elf")
        flash=$((t + r + d)); ram=$((d + b))
        state=$(python3 "$ELFSIZE" symbol "$OUT/full-$nic.elf" EMBERSTACK_STATE)
        drv=$(python3 "$ELFSIZE" symbol "$OUT/full-$nic.elf" NIC_DRIVER 2>/dev/null || echo 0)
        case $nic in
            mmio) label="fake MMIO NIC (TxMode::$mode, a local)"; drv="-" ;;
            lan9118) label="LAN9118 (nic::lan9118, MMIO)" ;;
            enc28j60) label="ENC28J60 (nic::enc28j60, SPI)" ;;
        esac
        printf "$fmt" "$label" "$flash" "$ram" $((flash - bflash)) $((ram - bram)) "$state" "$drv"
        budget+=("$nic stack-flash $((flash - bflash))" "$nic ram $ram")
    done
    # The budget per NIC (benches/footprint/ceilings.txt).
    . "$CRATE/ceiling.sh"
    for entry in "${budget[@]}"; do
        # shellcheck disable=SC2086
        ceiling $entry
    done
    echo "Bytes. flash = text + rodata + data image; RAM = data + bss (static). stack = full - the"
    echo "same NIC's baseline (driver, SPI port, clock, no stack). NIC driver RAM = the NIC_DRIVER"
    echo "static: the LAN9118's includes its 1,516-byte receive staging buffer; the ENC28J60's is"
    echo "pointers and counters only (no frame bytes in MCU RAM)."
    ceiling_verdict
    exit 0
fi
build baseline "$first" baseline "${features[@]}"
read -r b_text b_rodata b_data b_bss < <(sizes "$OUT/baseline.elf")
b_flash=$((b_text + b_rodata + b_data))
b_ram=$((b_data + b_bss))
nic=$(python3 "$ELFSIZE" match "$OUT/baseline.elf" MmioNic)

printf 'emberstack footprint: %s, opt-level "s", LTO, codegen-units 1, panic abort; NIC TxMode::%s\n' "$TARGET" "$mode"
MEMFNS='mem(cpy|set|clr|move)'
b_mem=$(python3 "$ELFSIZE" match "$OUT/baseline.elf" "$MEMFNS")
fmt='%-34s %6s %6s %5s %5s %6s %5s %11s %6s %9s %9s\n'
printf "$fmt" config text rodata data bss flash RAM "stack flash" "(mem*)" "stack RAM" RAM_BYTES
printf "$fmt" "(baseline: no stack)" "$b_text" "$b_rodata" "$b_data" "$b_bss" "$b_flash" "$b_ram" - - - -

i=0
for c in "${configs[@]}"; do
    toml=$(abs "$c")
    [[ -f "$toml" ]] || die "no such file: $c"
    name="config$i"; i=$((i + 1))
    build "$name" "$toml" "${features[@]}"
    elf="$OUT/$name.elf"
    read -r text rodata data bss < <(sizes "$elf")
    flash=$((text + rodata + data))
    ram=$((data + bss))
    ram_bytes=$(python3 "$ELFSIZE" symbol "$elf" EMBERSTACK_STATE)
    mem=$(python3 "$ELFSIZE" match "$elf" "$MEMFNS")
    label=${toml#"$ROOT/"}
    printf "$fmt" "$label" "$text" "$rodata" "$data" "$bss" "$flash" "$ram" \
        $((flash - b_flash)) $((mem - b_mem)) $((ram - b_ram)) "$ram_bytes"
    if ((top)); then
        echo "  largest symbols ($label):"
        python3 "$ELFSIZE" top "$elf" "$top" | sed 's/^/  /'
    fi
done
echo "Bytes. flash = text (.vector_table + .text) + .rodata + .data image; RAM = .data + .bss, static only"
echo "(not the call stack). stack = config - baseline; (mem*) = its part that is compiler_builtins"
echo "memcpy/memset/memclr variants, which most firmware links anyway. The MMIO NIC's methods"
echo "($nic bytes) are in every build. RAM_BYTES = size of the EMBERSTACK_STATE static in .bss."
