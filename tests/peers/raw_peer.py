#!/usr/bin/env python3
"""A raw-socket peer for tests/raw_peer.rs (IP protocol 253, RFC 3692).

Runs inside the test's network namespace. Standard library only.

  raw_peer.py DEVICE_IP BROADCAST

Sends the device packets of protocol 253 (sizes 0, 1, 100, 1480, each with
its own pattern) and checks each echo: IP version/IHL, total length,
header checksum, protocol, source, and the payload byte for byte. Then
one packet of protocol 254 (no socket on the device: dropped) and one of
253 to the broadcast address (not echoed: no reflection). Prints `ok N`
per echo and `none PROTO` when no answer came as expected; exits 1 on
any mismatch.
"""

import socket
import struct
import sys


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def expect_none(sock, dev, what):
    """No packet from the device within 0.7 s (the kernel's own copy of a
    broadcast comes back to a raw socket too: not from the device)."""
    sock.settimeout(0.7)
    try:
        while True:
            data, (src, _) = sock.recvfrom(65535)
            if src == dev:
                print("unexpected answer to", what, data[:40].hex())
                sys.exit(1)
    except socket.timeout:
        print("none", what)


def main():
    dev, bcast = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 253)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    for i, size in enumerate([0, 1, 100, 1480]):
        payload = bytes((j * (i + 3) + i) % 256 for j in range(size))
        s.sendto(payload, (dev, 0))
        s.settimeout(3)
        while True:
            data, (src, _) = s.recvfrom(65535)
            if src == dev:
                break
        ihl = (data[0] & 15) * 4
        total = struct.unpack("!H", data[2:4])[0]
        problems = []
        if data[0] >> 4 != 4 or ihl != 20:
            problems.append("version/IHL %02x" % data[0])
        if total != 20 + size or len(data) != total:
            problems.append("total length %d for %d bytes" % (total, size))
        if checksum(data[:ihl]) != 0xFFFF:
            problems.append("header checksum")
        if data[9] != 253:
            problems.append("protocol %d" % data[9])
        if socket.inet_ntoa(data[12:16]) != dev:
            problems.append("source")
        if data[ihl:] != payload:
            problems.append("payload")
        if problems:
            print("bad echo of %d bytes: %s" % (size, ", ".join(problems)))
            sys.exit(1)
        print("ok", size)
    # Protocol 254: nobody listens on the device.
    s254 = socket.socket(socket.AF_INET, socket.SOCK_RAW, 254)
    s254.sendto(b"nobody", (dev, 0))
    expect_none(s254, dev, "254")
    # Broadcast: the device does not reflect it.
    s.sendto(b"to everyone", (bcast, 0))
    expect_none(s, dev, "broadcast")


if __name__ == "__main__":
    main()
