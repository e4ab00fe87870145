#!/usr/bin/env python3
"""Sorts a `perf record -C CPU` of QEMU serving ab into host time per request.

    firmware_host_profile.py PERF_DATA REQUESTS

Used by benches/firmware_host_profile.sh (README, "Web server
performance"). PERF_DATA holds samples of one CPU on which QEMU (the
firmware) and ab (the client) both ran, REQUESTS is how many requests ab
completed while perf sampled, so the CPU time of each part, in
microseconds per request, is its samples over the sampling rate over
REQUESTS. The parts:

- guest_code: QEMU's translated code (perf's `[JIT]` map), the one part
  whose length is the firmware's instruction count;
- lookups (block lookups): `cpu_get_tb_cpu_state` and `qht_lookup_custom`, the named
  parts of QEMU's lookup of the next translated block after an indirect
  jump, a return or a jump to another 1 KiB page (its hash probe itself
  is in a function Debian's binary does not name, so it is under
  qemu_other);
- mmio: QEMU's memory-region dispatch to the LAN9118 and system
  registers (`memory_region_*`, `flatview_*`, `address_space_*`,
  `iotlb_to_section`);
- qemu_other: the rest of QEMU's user space (device models, the main
  loop, locks, the TAP, glib, libc);
- qemu_kernel: the kernel on QEMU's behalf (the TAP's reads and writes,
  futexes, ppoll, the network stack's delivery to the client's socket);
- client: ab, user space and kernel;
- other: anything else that ran on the CPU.

Prints `part=µs` for each part, on one line.
"""
import re
import subprocess
import sys

LOOKUP = re.compile(r"^(cpu_get_tb_cpu_state|qht_lookup_custom|tb_htable_lookup)")
MMIO = re.compile(r"^(memory_region_|flatview_|address_space_|iotlb_to_section|io_readx|io_writex)")
PARTS = ["guest_code", "lookups", "mmio", "qemu_other", "qemu_kernel", "client", "other"]


def part(comm, dso, sym):
    if comm.startswith("ab"):
        return "client"
    if not comm.startswith(("qemu", "CPU", "IO")):
        return "other"
    if dso.startswith("[JIT]") or dso.startswith("perf-"):
        return "guest_code"
    if "kernel" in dso:
        return "qemu_kernel"
    if LOOKUP.match(sym):
        return "lookups"
    if MMIO.match(sym):
        return "mmio"
    return "qemu_other"


def main():
    data, requests = sys.argv[1], int(sys.argv[2])
    header = subprocess.run(["perf", "report", "-i", data, "--header-only"],
                            capture_output=True, text=True, check=True).stdout
    freq = re.search(r"sample_freq = (\d+)", header)
    hz = int(freq.group(1)) if freq else 4999
    out = subprocess.run(
        ["perf", "report", "-i", data, "--no-children", "-q", "-g", "none",
         "--sort", "comm,dso,sym", "-F", "sample,comm,dso,sym"],
        capture_output=True, text=True, check=True).stdout
    samples = dict.fromkeys(PARTS, 0)
    for line in out.splitlines():
        fields = line.split(None, 3)
        if len(fields) < 4 or not fields[0].isdigit():
            continue
        sym = re.sub(r"^\[[.k]\]\s+", "", fields[3].strip())
        samples[part(fields[1], fields[2], sym)] += int(fields[0])
    per_request = 1e6 / hz / max(requests, 1)
    print(" ".join(f"{p}={samples[p] * per_request:.2f}" for p in PARTS))


if __name__ == "__main__":
    main()
