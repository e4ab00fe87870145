#!/usr/bin/env python3
"""Scripted DNS and SNTP responders for tests/names_peer.rs.

Runs inside the test's network namespace (started by the test, killed by
PID). Standard library only.

  names_responder.py dns-hostile --address IP --spoof IP2 --answer A
      UDP 53 on IP. Each A query is answered by a burst of hostile replies
      (one per NAME:WRECK class, spoofed source address and port, wrong id
      and question, truncation), then by the real answer A. The device must
      reject each and take the last.

  names_responder.py sntp-MODE --address IP
      UDP 123 on IP, one reply per request:
        sntp-kod         stratum 0, reference id "RATE" (kiss-o'-death)
        sntp-li3         leap indicator 3 (unsynchronised), stratum 2
        sntp-bad-origin  originate timestamp off by one (never accepted)
        sntp-era1        a transmit time in NTP era 1 (2040-01-01T00:00:00Z)
"""

import argparse
import socket
import struct
import sys

NTP_UNIX_OFFSET = 2208988800


def question_end(msg):
    at = 12
    while msg[at] != 0:
        at += 1 + msg[at]
    return at + 1 + 4


def header(query, flags=0x8180, an=1, qd=1):
    return query[:2] + struct.pack(">HHHHH", flags, qd, an, 0, 0)


def rr(owner, rtype, data):
    return owner + struct.pack(">HHIH", rtype, 1, 60, len(data)) + data


def ptr(at):
    return struct.pack(">H", 0xC000 | at)


def hostile(query, answer):
    """(label, payload, sender) for each bad reply, sender in
    {"server", "spoof-address", "spoof-port"}."""
    qend = question_end(query)
    q = query[12:qend]
    a = socket.inet_aton(answer)
    good = header(query) + q + rr(ptr(12), 1, a)
    out = []
    # Two names pointing at each other through a TXT record's data.
    p1 = qend + 12
    txt_len = 2 + 10 + 4
    p2 = qend + txt_len
    loop = header(query, an=2) + q + rr(ptr(12), 16, b"\x01a" + ptr(p2))
    loop += rr(b"\x01b" + ptr(p1), 1, a)
    out.append(("pointer-loop", loop, "server"))
    out.append(("self-pointer", header(query) + q + rr(ptr(qend), 1, a), "server"))
    out.append(("forward-pointer", header(query) + q + rr(ptr(qend + 4), 1, a), "server"))
    out.append(("pointer-past-end", header(query) + q + rr(b"\xff\xff", 1, a), "server"))
    out.append(("label-64", header(query) + q + rr(b"\x40" + b"x" * 64 + b"\x00", 1, a), "server"))
    long_name = (b"\x3f" + b"x" * 63) * 4 + b"\x00"
    out.append(("name-257", header(query) + q + rr(long_name, 1, a), "server"))
    out.append(("truncated", good[:-3], "server"))
    wrong_id = struct.pack(">H", (struct.unpack(">H", query[:2])[0] ^ 0x5555)) + good[2:]
    out.append(("wrong-id", wrong_id, "server"))
    other_q = q[:1] + bytes([q[1] ^ 0x01]) + q[2:]
    out.append(("wrong-question", header(query) + other_q + rr(ptr(12), 1, a), "server"))
    out.append(("wrong-source-address", good, "spoof-address"))
    out.append(("wrong-source-port", good, "spoof-port"))
    return out, good


def dns_hostile(args):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((args.address, 53))
    spoof_addr = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spoof_addr.bind((args.spoof, 53))
    spoof_port = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    spoof_port.bind((args.address, 5353))
    senders = {"server": server, "spoof-address": spoof_addr, "spoof-port": spoof_port}
    print("listening", flush=True)
    while True:
        query, peer = server.recvfrom(2048)
        if len(query) < 17 or query[2] & 0x80:
            continue
        bad, good = hostile(query, args.answer)
        for label, payload, sender in bad:
            senders[sender].sendto(payload, peer)
            print("sent", label, flush=True)
        server.sendto(good, peer)
        print("sent good", flush=True)


def ntp_time(unix):
    secs = int(unix) + NTP_UNIX_OFFSET
    frac = int((unix - int(unix)) * (1 << 32))
    return ((secs & 0xFFFFFFFF) << 32) | frac


def sntp(args):
    import time

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.address, 123))
    print("listening", flush=True)
    while True:
        req, peer = sock.recvfrom(512)
        if len(req) < 48:
            continue
        origin = req[40:48]
        li, stratum, ref = 0, 2, b"GPS\x00"
        now = time.time()
        if args.mode == "sntp-kod":
            stratum, ref = 0, b"RATE"
        elif args.mode == "sntp-li3":
            li = 3
        elif args.mode == "sntp-bad-origin":
            origin = struct.pack(">Q", struct.unpack(">Q", origin)[0] ^ 1)
        elif args.mode == "sntp-era1":
            now = 2208988800.25  # 2040-01-01T00:00:00.25Z
        ts = struct.pack(">Q", ntp_time(now))
        first = (li << 6) | (4 << 3) | 4
        reply = struct.pack(">BBbbII", first, stratum, 6, -20, 0, 0) + ref
        reply += ts + origin + ts + ts
        sock.sendto(reply, peer)
        print("answered", args.mode, flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["dns-hostile", "sntp-kod", "sntp-li3", "sntp-bad-origin", "sntp-era1"])
    p.add_argument("--address", required=True)
    p.add_argument("--spoof")
    p.add_argument("--answer")
    args = p.parse_args()
    if args.mode == "dns-hostile":
        dns_hostile(args)
    else:
        sntp(args)


if __name__ == "__main__":
    sys.exit(main())
