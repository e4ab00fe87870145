#!/usr/bin/env bash
# Builds and runs the fuzz targets with the stable toolchain: libFuzzer
# (linked by libfuzzer-sys, built from its C++ sources) drives each target,
# and rustc's SanitizerCoverage pass gives it edge counters, comparison
# operands and a PC table, as cargo-fuzz would (cargo-fuzz also adds
# AddressSanitizer, a nightly flag; the runtime has no unsafe parsing code
# for it to watch). No nightly toolchain and no cargo-fuzz needed.
#
#   runtime/fuzz/fuzz.sh build               build every target (release)
#   runtime/fuzz/fuzz.sh smoke [SECONDS]      each target SECONDS (default 8)
#                                             from its committed corpus (CI)
#   runtime/fuzz/fuzz.sh run TARGET [ARGS]    one target, libFuzzer ARGS
#                                             (e.g. -runs=10000000), new
#                                             inputs into target/fuzz-corpus/TARGET
#   runtime/fuzz/fuzz.sh minimize TARGET      set-cover merge of target/fuzz-corpus/TARGET
#                                             into the committed corpus/TARGET
#   runtime/fuzz/fuzz.sh list                 the targets
set -euo pipefail
cd "$(dirname "$0")"

TARGETS=(ingress dhcp names tcp http mail)
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
export CARGO_TARGET_DIR="$PWD/target"
BIN="$CARGO_TARGET_DIR/$TRIPLE/release"
# The flags cargo-fuzz passes (without -Zsanitizer), plus debug assertions
# so arithmetic overflow in the stack fails as it would in tests.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"

build() {
  cargo build --release --locked --quiet --target "$TRIPLE" --bins
}

run_one() { # target, libFuzzer args...
  local t=$1
  shift
  mkdir -p "corpus/$t" "$CARGO_TARGET_DIR/fuzz-corpus/$t" "$CARGO_TARGET_DIR/artifacts/$t"
  "$BIN/$t" -artifact_prefix="$CARGO_TARGET_DIR/artifacts/$t/" -max_len=4096 \
    "$@" "$CARGO_TARGET_DIR/fuzz-corpus/$t" "corpus/$t"
}

case "${1:-}" in
  build) build ;;
  list) printf '%s\n' "${TARGETS[@]}" ;;
  smoke)
    secs=${2:-8}
    build
    log=$(mktemp)
    trap 'rm -f "$log"' EXIT
    for t in "${TARGETS[@]}"; do
      echo "== fuzz $t (${secs}s)"
      rm -rf "$CARGO_TARGET_DIR/artifacts/$t"
      if ! run_one "$t" -max_total_time="$secs" -print_final_stats=1 >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "fuzz: $t failed; input in $CARGO_TARGET_DIR/artifacts/$t/" >&2
        exit 1
      fi
      grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$log" || true
    done
    ;;
  run)
    t=${2:?target}
    shift 2
    build
    run_one "$t" "$@"
    ;;
  minimize)
    t=${2:?target}
    build
    mkdir -p "corpus/$t.min"
    "$BIN/$t" -set_cover_merge=1 -max_len=4096 "corpus/$t.min" "corpus/$t" "$CARGO_TARGET_DIR/fuzz-corpus/$t"
    rm -rf "corpus/$t"
    mv "corpus/$t.min" "corpus/$t"
    ;;
  *) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
