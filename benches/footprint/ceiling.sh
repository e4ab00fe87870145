# Sourced by benches/footprint.sh and benches/footprint/firmware.sh: the
# flash/RAM budget CI enforces (README, Footprint). The ceilings live in
# benches/footprint/ceilings.txt, one "BUILD MEASURE BYTES" per line; a
# measurement above its ceiling fails the run, so size never grows
# silently. Lower a ceiling when the figure shrinks.

CEILINGS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/ceilings.txt"
ceiling_failed=0

# ceiling BUILD MEASURE VALUE: compares VALUE with the recorded ceiling.
ceiling() {
    local build=$1 measure=$2 value=$3 max
    max=$(awk -v b="$build" -v m="$measure" '$1 == b && $2 == m { print $3 }' "$CEILINGS")
    if [[ -z $max ]]; then
        echo "ceiling: $build $measure = $value (no ceiling recorded in $CEILINGS)" >&2
        ceiling_failed=1
    elif ((value > max)); then
        echo "ceiling: $build $measure = $value bytes is above its ceiling of $max (+$((value - max))); make it smaller, or raise the ceiling in $CEILINGS with the reason in the commit" >&2
        ceiling_failed=1
    else
        echo "ceiling: $build $measure = $value (ceiling $max, $((max - value)) to spare)"
    fi
}

# ceiling_verdict: exits 1 when a ceiling was exceeded or missing.
ceiling_verdict() {
    if ((ceiling_failed)); then
        echo "footprint: over budget (see the ceiling lines above)" >&2
        exit 1
    fi
}
