#!/usr/bin/env bash
# Instructions per TCP data segment, emberstack vs smoltcp on the same frames
# (README, "Performance"). Builds benches/compare's `instructions` harness in
# release mode (the reference device's profile: opt-level "s", LTO) and runs
# it under callgrind:
#
#   benches/instructions.sh [--steps K]
#
# For each direction (rx: the stack receives full-size segments and the
# application copies them out; tx: the stack sends an endless stream and
# the peer ACKs every segment), window 1 and 4, emberstack (regenerate; tx
# also buffer mode) and smoltcp (buffers of window x 1460 bytes each way):
# only `bench_step_*` is counted (--toggle-collect), each case runs K and 2K
# steps and the difference is divided by the difference in segments, so
# set-up, handshake and warm-up cancel out. Also shows the share of the
# checksum routine (emberstack `Checksum::add_bytes`, smoltcp
# `checksum::data`) and the ACKs sent per received segment. Needs valgrind.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}/bench-compare"
die() { echo "instructions: $*" >&2; exit 1; }

steps=1000
while (($#)); do
    case "$1" in
        --steps) [[ $# -ge 2 && "$2" =~ ^[0-9]+$ && "$2" -gt 0 ]] || die "--steps needs a positive number"; steps=$2; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
command -v valgrind >/dev/null || die "valgrind is needed (apt-get install -y valgrind)"
command -v callgrind_annotate >/dev/null || die "callgrind_annotate is needed (apt-get install -y valgrind)"
command -v python3 >/dev/null || die "python3 is needed"

echo "building the instruction harness (release)..." >&2
(cd "$ROOT/benches/compare" && CARGO_TARGET_DIR="$TARGET" cargo build --quiet --release --bin instructions)
BIN="$TARGET/release/instructions"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/es-instructions.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

python3 - "$BIN" "$WORK" "$steps" <<'EOF'
import re, subprocess, sys

binary, work, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])
CHECKSUM = {"ember": "emberstack::wire::checksum::Checksum::add_bytes",
            "smoltcp": "smoltcp::wire::ip::checksum::data"}

def measure(stack, mode, window, rtx, k):
    out = f"{work}/cg.out"
    r = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                        "--toggle-collect=*bench_step_*", binary, "--stack", stack, "--mode", mode,
                        "--window", str(window), "--retransmission", rtx, "--steps", str(k)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"instructions: {stack} {mode} w{window} failed:\n{r.stdout}{r.stderr}")
    fields = dict(x.split("=", 1) for x in r.stdout.split())
    total = int(re.search(r"^totals: (\d+)", open(out).read(), re.M).group(1))
    ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                         capture_output=True, text=True, timeout=120).stdout
    fn = re.escape(CHECKSUM[stack])
    sums = [int(m.group(1).replace(",", "")) for m in re.finditer(rf"^\s*([\d,]+) .*:{fn}\b", ann, re.M)]
    segs = int(fields["data_segments_out"]) if mode == "tx" else k * window
    return {"ir": total, "checksum": max(sums, default=0), "segs": segs,
            "acks": int(fields["acks_out"]), "ram": int(fields["ram"])}

cases = []
for mode in ("rx", "tx"):
    for window in (1, 4):
        stacks = [("ember", "regenerate")] + ([("ember", "buffer")] if mode == "tx" else []) + [("smoltcp", "-")]
        for stack, rtx in stacks:
            a = measure(stack, mode, window, rtx, steps)
            b = measure(stack, mode, window, rtx, 2 * steps)
            segs = b["segs"] - a["segs"]
            cases.append({
                "mode": mode, "window": window, "stack": stack, "rtx": rtx,
                "ir": (b["ir"] - a["ir"]) / segs,
                "checksum": (b["checksum"] - a["checksum"]) / segs,
                "acks": (b["acks"] - a["acks"]) / segs,
                "ram": a["ram"],
            })
            print(f"# {mode} w{window} {stack} {rtx}: {cases[-1]['ir']:.0f} Ir/segment", file=sys.stderr, flush=True)

print(f"callgrind, {steps} vs {2 * steps} steps; Ir = instructions executed per data segment")
print()
print("| direction | window | stack | Ir/segment | of which checksum | rest | ACKs/segment | state + buffers B | vs smoltcp |")
print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
for c in cases:
    ref = next(x for x in cases if x["mode"] == c["mode"] and x["window"] == c["window"] and x["stack"] == "smoltcp")
    name = "smoltcp" if c["stack"] == "smoltcp" else f"emberstack ({c['rtx']})"
    d = "receive" if c["mode"] == "rx" else "send"
    acks = f"{c['acks']:.2f}" if c["mode"] == "rx" else "–"
    ratio = "1" if c["stack"] == "smoltcp" else f"{c['ir'] / ref['ir']:.2f}× (rest {(c['ir'] - c['checksum']) / (ref['ir'] - ref['checksum']):.2f}×)"
    print(f"| {d} | {c['window']} | {name} | {c['ir']:.0f} | {c['checksum']:.0f} | {c['ir'] - c['checksum']:.0f} | {acks} | {c['ram']} | {ratio} |")
EOF
