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

Per request it also prints the path's *width* and what it costs QEMU
(README, "Web server performance": QEMU charges for width, not only for
instructions): the median of the distinct instructions executed, and, from
a model of QEMU 7.2's translation (system mode, 1 KiB pages), the
translation-block lookups (an indirect branch, a return, a jump table, or
a direct branch to another page than its block's start: each a call into
QEMU rather than a chained jump) and the misses of QEMU's 4,096-entry
jump cache among them (each a hash-table search). The model is an
estimate: it forms blocks from the trace's instructions (a block ends at a
branch or at a page boundary) and replays the jump cache's hash
(`tb_jmp_cache_hash_func`) over the lookups in order.

Below that it lists the lookups that cross a page boundary at least
STRADDLE_PER_REQUEST times per request, with the function they are in: a
loop that linking placed across a 1 KiB page pays one per turn (the tenth
session found the LAN9118's transmit word loop across 0xe800, one lookup
per word sent, a quarter of the keep-alive rate; the per-word loops are in
`.text.hot` since, examples/firmware/memory.x). An empty list is the
expected output.
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


# QEMU 7.2's jump cache: TB_JMP_CACHE_BITS 12 with 1 KiB target pages
# (include/exec/tb-hash.h): 64 buckets of 64 entries.
PAGE_BITS = 10


def jump_cache_slot(pc):
    tmp = pc ^ (pc >> (PAGE_BITS - 6))
    return ((tmp >> (PAGE_BITS - 6)) & 0xFC0) | (tmp & 0x3F)


def disassemble(elf):
    """Address -> (mnemonic, operands, size) of every Thumb instruction."""
    out = subprocess.run(["llvm-objdump", "-d", "--triple=thumbv7m", elf],
                         capture_output=True, text=True, check=True).stdout
    insns = {}
    for line in out.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)\s*\t(\S+)\s*(.*)", line)
        if m:
            insns[int(m.group(1), 16)] = (m.group(3), m.group(4), len(m.group(2).split()))
    return insns


def is_branch(mn, ops):
    """True when the instruction ends a translation block by a jump."""
    if mn.startswith(("b", "cb", "tb")) and not mn.startswith(("bic", "bfi", "bfc", "bkpt")):
        return True
    if mn.startswith("pop") and "pc" in ops:
        return True
    return mn.startswith(("ldr", "ldm", "mov")) and re.search(r"\bpc\b", ops.split(",")[0]) is not None


def is_direct(mn):
    return mn.startswith(("b", "cb")) and not mn.startswith(("bx", "blx", "bic", "bfi", "bfc", "bkpt"))


def qemu_model(seq, insns):
    """Per trace index where a lookup happens: 1, and 2 when it misses."""
    cache, events, block = {}, {}, None
    for i in range(len(seq) - 1):
        pc, nxt = seq[i], seq[i + 1]
        if block is None:
            block = pc
        mn, ops, size = insns.get(pc, ("?", "", 2))
        sequential = 0 < nxt - pc <= 4
        branch = is_branch(mn, ops)
        page_end = (nxt >> PAGE_BITS) != (block >> PAGE_BITS) or \
            ((pc + size - 1) >> PAGE_BITS) != (pc >> PAGE_BITS)
        if sequential and not branch and not page_end:
            continue
        chainable = is_direct(mn) or (sequential and not branch)
        if not (chainable and (nxt >> PAGE_BITS) == (block >> PAGE_BITS)):
            slot = jump_cache_slot(nxt)
            events[i] = 1 if cache.get(slot) == nxt else 2
            cache[slot] = nxt
        block = None
    return events


# Page-crossing lookups per request worth naming (a loop's turns, not a
# call's one crossing).
STRADDLE_PER_REQUEST = 10


def straddles(elf, seq, events, first, last, requests):
    """(per request, from, to, function) of the page-crossing lookups in
    seq[first:last] that happen at least STRADDLE_PER_REQUEST times per
    request, most first."""
    count = {}
    for k in range(first, last):
        if k in events and k + 1 < len(seq):
            a, b = seq[k], seq[k + 1]
            if (a >> PAGE_BITS) != (b >> PAGE_BITS):
                count[(a, b)] = count.get((a, b), 0) + 1
    hot = sorted(((n / requests, a, b) for (a, b), n in count.items()
                  if n >= STRADDLE_PER_REQUEST * requests), reverse=True)
    if not hot:
        return []
    names = subprocess.run(
        ["llvm-symbolizer", f"--obj={elf}", "--functions=linkage", "--demangle",
         "--inlining=false"],
        input="".join(f"0x{a:x}\n" for _, a, _ in hot), capture_output=True,
        text=True, check=True).stdout.split("\n\n")
    return [(n, a, b, re.sub(r"::h[0-9a-f]{16}$", "", name.split("\n")[0]))
            for (n, a, b), name in zip(hot, names)]


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
    events = qemu_model(seq, disassemble(elf))
    answer, cycle, width, lookups, misses = [], [], [], [], []
    start = None  # index of the current request's first receive instruction
    first = None  # index of the first request's start
    last_tx = None  # index of the last send instruction since that start
    for i, pc in enumerate(seq):
        if pc in tx:
            last_tx = i
        elif pc in rx and (start is None or last_tx is not None and last_tx > start):
            # A frame after an answer: the next request.
            if start is not None:
                answer.append(last_tx - start)
                cycle.append(i - start)
                width.append(len(set(seq[start:i])))
                ev = [events[k] for k in range(start, i) if k in events]
                lookups.append(len(ev))
                misses.append(sum(1 for e in ev if e == 2))
            if first is None:
                first = i
            start = i
    def median(v):
        v = sorted(v)
        return v[len(v) // 2] if v else 0

    print(f"request -> answer {median(answer)} (n={len(answer)}); "
          f"per request {median(cycle)} (n={len(cycle)}); "
          f"distinct {median(width)}, TB lookups {median(lookups)}, "
          f"jump-cache misses {median(misses)}")
    if cycle:
        for n, a, b, name in straddles(elf, seq, events, first, start, len(cycle)):
            print(f"    page-crossing lookups: {n:.0f} per request, "
                  f"0x{a:x} -> 0x{b:x} in {name}")


if __name__ == "__main__":
    main()
