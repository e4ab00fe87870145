#!/usr/bin/env python3
"""Counts a firmware's instructions per HTTP request from QEMU's trace.

    firmware_trace.py ELF TRACE RX_SPEC TX_SPEC

TRACE is the output of `qemu-system-arm -singlestep -d exec,nochain` (a file
or a FIFO): one line per executed instruction. RX_SPEC and TX_SPEC name the
NIC driver's receive and send code as FILE_SUBSTRING:FIRST-LAST (source
lines; an instruction counts as in them when any frame of its inline chain
is, so LTO's inlining does not hide them). A request starts at the first
receive instruction after a send and is answered by the last send
instruction before the next request (its last frame wholly written to the
NIC). Prints the medians of the instructions from the request's frame to
the answer ("request -> answer") and from one request's frame to the next
one's ("per request": everything the firmware did for it, idle polls
included), with how many requests each median is of. For keep-alive
requests (one frame each way); a new connection per request is several
exchanges. Used by benches/firmware_instructions.sh.
"""
import re
import subprocess
import sys


def parse_spec(spec):
    path, lines = spec.rsplit(":", 1)
    first, last = lines.split("-")
    return path, int(first), int(last)


def in_spec(block, spec):
    for line in block.strip().splitlines():
        m = re.match(r"(.*):(\d+):\d+", line)
        if m and spec[0] in m.group(1) and spec[1] <= int(m.group(2)) <= spec[2]:
            return True
    return False


def main():
    elf, trace, rx_spec, tx_spec = sys.argv[1:5]
    rx_spec, tx_spec = parse_spec(rx_spec), parse_spec(tx_spec)
    pc_re = re.compile(r"\[[0-9a-f]+/([0-9a-f]+)/")
    seq = []
    with open(trace) as f:
        for line in f:
            m = pc_re.search(line)
            if m:
                seq.append(int(m.group(1), 16))
    pcs = sorted(set(seq))
    blocks = subprocess.run(
        ["llvm-symbolizer", f"--obj={elf}", "--inlining", "--functions=none"],
        input="".join(f"0x{pc:x}\n" for pc in pcs), capture_output=True,
        text=True, check=True).stdout.split("\n\n")
    rx = {pc for pc, b in zip(pcs, blocks) if in_spec(b, rx_spec)}
    tx = {pc for pc, b in zip(pcs, blocks) if in_spec(b, tx_spec)}
    answer, cycle = [], []
    start = None  # index of the current request's first receive instruction
    last_tx = None  # index of the last send instruction since that start
    for i, pc in enumerate(seq):
        if pc in tx:
            last_tx = i
        elif pc in rx and (start is None or last_tx is not None and last_tx > start):
            # A frame after an answer: the next request.
            if start is not None:
                answer.append(last_tx - start)
                cycle.append(i - start)
            start = i
    def median(v):
        v = sorted(v)
        return v[len(v) // 2] if v else 0

    print(f"request -> answer {median(answer)} (n={len(answer)}); "
          f"per request {median(cycle)} (n={len(cycle)})")


if __name__ == "__main__":
    main()
