#!/usr/bin/env python3
"""A host that holds an address, for the DHCP conflict tests of
tests/dhcp_peer.rs (RFC 5227 probes and DHCPDECLINE).

Runs inside the test's network namespace (started by the test, killed by
PID). Standard library only (an AF_PACKET socket on the TAP's kernel side).

  arp_holder.py --iface tap0 --mac 02:aa:00:00:00:01 --file FILE

Answers ARP requests (probes with sender 0.0.0.0 included) for the first
address it is asked about, and only that one, from then on; writes that
address to FILE when it first answers. FILE.ready appears once it listens.
"""

import argparse
import socket
import struct

ETH_P_ARP = 0x0806


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--iface", required=True)
    p.add_argument("--mac", required=True)
    p.add_argument("--file", required=True)
    a = p.parse_args()
    mac = bytes(int(x, 16) for x in a.mac.split(":"))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    s.bind((a.iface, 0))
    open(a.file + ".ready", "w").close()
    held = None
    while True:
        frame = s.recv(2048)
        if len(frame) < 42 or frame[12:14] != b"\x08\x06":
            continue
        op = struct.unpack("!H", frame[20:22])[0]
        sender_mac, sender_ip = frame[22:28], frame[28:32]
        target_ip = frame[38:42]
        if op != 1 or sender_mac == mac:
            continue
        if held is None:
            held = target_ip
            with open(a.file, "w") as f:
                f.write(socket.inet_ntoa(held) + "\n")
        if target_ip != held:
            continue
        # Reply to the asker (a probe's sender address is 0.0.0.0).
        reply = (
            sender_mac + mac + b"\x08\x06"
            + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2)
            + mac + held + sender_mac + sender_ip
        )
        s.send(reply.ljust(60, b"\0"))


if __name__ == "__main__":
    main()
