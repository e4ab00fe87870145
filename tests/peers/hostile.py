#!/usr/bin/env python3
"""Raw frames from a hostile host on the device's LAN, for tests/hostile_peer.rs.

Runs inside the test's network namespace and writes Ethernet frames straight
into the TAP's kernel side (an AF_PACKET socket on tap0), then watches what
the device sends back. Standard library only. Prints one line per finding;
the test reads them.

  hostile.py bad-sources --dev-ip IP --dev-mac MAC --host-ip IP
      ICMP echo, UDP to the echo port and to a closed port, TCP SYN to a
      listening and to a closed port, each from every impossible source
      (RFC 1122 3.2.1.3: broadcast, the subnet's broadcast, multicast,
      0.0.0.0, loopback, the device's own address; a broadcast or multicast
      Ethernet source). Prints `answered CASE: REPLY` for every frame the
      device sent to one of them, then `control ok` when a ping and a UDP
      echo from the real host were answered.

  hostile.py echo-loops --dev-ip IP --dev-mac MAC --host-ip IP
      UDP datagrams to the echo port 7 from well-known service ports and to
      the broadcast addresses. Prints `answered CASE` for every echo that
      came back, then `control ok` when one from an ephemeral port did.

  hostile.py arp-flood --dev-ip IP --dev-mac MAC --host-ip IP --count N
      Listens on HOST:53 (no answer). After the device's first DNS query
      (it has just resolved the host's MAC), sends N ARP requests for the
      device's address from N made-up senders, then waits for the query's
      retry. Prints `flood replies R`, and `rearp` if the device had to ask
      for the host's MAC again before the retry (the flood evicted it),
      then `retry seen`.

  hostile.py dns-capture --host-ip IP --count N
      Listens on HOST:53 (no answer) and prints `query ID PORT` for the
      first N distinct queries (retries share id and port), then exits.
"""

import argparse
import ipaddress
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_IP = 0x0800
ETH_ARP = 0x0806
PACKET_OUTGOING = 4


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def ip_bytes(text):
    return ipaddress.IPv4Address(text).packed


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, proto, payload, ident=1):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0, 64,
                      proto, 0, ip_bytes(src), ip_bytes(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def pseudo(src, dst, proto, length):
    return ip_bytes(src) + ip_bytes(dst) + struct.pack("!BBH", 0, proto, length)


def udp(src, dst, sport, dport, data):
    hdr = struct.pack("!HHHH", sport, dport, 8 + len(data), 0)
    c = csum(pseudo(src, dst, 17, 8 + len(data)) + hdr + data) or 0xFFFF
    return ipv4(src, dst, 17, hdr[:6] + struct.pack("!H", c) + data)


def icmp_echo(src, dst, ident, seq, data):
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    body = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    return ipv4(src, dst, 1, body)


def tcp_syn(src, dst, sport, dport, seq=1000):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 8192, 0, 0)
    c = csum(pseudo(src, dst, 6, len(hdr)) + hdr)
    return ipv4(src, dst, 6, hdr[:16] + struct.pack("!H", c) + hdr[18:])


def ether(dst_mac, src_mac, ethertype, payload):
    return dst_mac + src_mac + struct.pack("!H", ethertype) + payload


def arp(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH6s4s6s4s", 1, ETH_IP, 6, 4, op, sha, ip_bytes(spa),
                       tha, ip_bytes(tpa))


class Tap:
    """The kernel side of tap0 as a raw socket."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.bind(("tap0", 0))
        self.mac = self.sock.getsockname()[4]

    def send(self, frame):
        self.sock.send(frame)

    def frames_from(self, mac, seconds):
        """Frames sent by `mac` within `seconds` (bounded)."""
        out = []
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            self.sock.settimeout(left)
            try:
                frame, addr = self.sock.recvfrom(2048)
            except socket.timeout:
                return out
            if addr[2] != PACKET_OUTGOING and frame[6:12] == mac:
                out.append(frame)


def describe(frame):
    """A short text for a frame the device sent."""
    dst = ":".join("%02x" % b for b in frame[:6])
    etype = struct.unpack("!H", frame[12:14])[0]
    if etype != ETH_IP:
        return "ethertype %04x to %s" % (etype, dst)
    ip = frame[14:]
    proto = ip[9]
    src_ip = str(ipaddress.IPv4Address(ip[12:16]))
    dst_ip = str(ipaddress.IPv4Address(ip[16:20]))
    l4 = ip[(ip[0] & 15) * 4:]
    name = {1: "icmp", 6: "tcp", 17: "udp"}.get(proto, str(proto))
    detail = ""
    if proto == 1:
        detail = " type %d" % l4[0]
    elif proto in (6, 17):
        sport, dport = struct.unpack("!HH", l4[:4])
        detail = " %d->%d" % (sport, dport)
        if proto == 6:
            detail += " flags %02x" % l4[13]
    return "%s %s->%s mac %s%s" % (name, src_ip, dst_ip, dst, detail)


def is_answer(frame):
    """An IP frame that could answer a probe: not the device's own
    announcements to an IPv4 multicast group (mDNS probes and
    announcements, IGMP reports go to 01:00:5e:...), which it sends
    unasked at start."""
    group = frame[0] == 0x01 and frame[1] == 0x00 and frame[2] == 0x5E
    return struct.unpack("!H", frame[12:14])[0] == ETH_IP and not group


def bad_sources(a):
    tap = Tap()
    dev_mac = mac_bytes(a.dev_mac)
    net = ipaddress.IPv4Network(a.host_ip + "/24", strict=False)
    sources = [
        ("limited-broadcast", "255.255.255.255", tap.mac),
        ("subnet-broadcast", str(net.broadcast_address), tap.mac),
        ("multicast", "224.0.0.5", tap.mac),
        ("unspecified", "0.0.0.0", tap.mac),
        ("loopback", "127.0.0.1", tap.mac),
        ("own-address", a.dev_ip, tap.mac),
        ("broadcast-mac", a.host_ip, b"\xff" * 6),
        ("multicast-mac", a.host_ip, b"\x01\x00\x5e\x00\x00\x05"),
    ]
    answered = []
    for i, (label, src, smac) in enumerate(sources):
        probes = [
            ("icmp-echo", icmp_echo(src, a.dev_ip, 0x4000 + i, 1, b"hostile")),
            ("udp-echo", udp(src, a.dev_ip, 40000 + i, 7, b"hostile")),
            ("udp-closed", udp(src, a.dev_ip, 40000 + i, 9999, b"hostile")),
            ("tcp-listening", tcp_syn(src, a.dev_ip, 41000 + i, 80)),
            ("tcp-closed", tcp_syn(src, a.dev_ip, 42000 + i, 1)),
        ]
        for kind, packet in probes:
            tap.send(ether(dev_mac, smac, ETH_IP, packet))
            for f in tap.frames_from(dev_mac, 0.15):
                if is_answer(f):
                    answered.append("%s/%s: %s" % (label, kind, describe(f)))
    # Late answers (a SYN-ACK resent) count too.
    for f in tap.frames_from(dev_mac, 1.5):
        if is_answer(f):
            answered.append("late: %s" % describe(f))
    for line in answered:
        print("answered", line, flush=True)
    control(tap, a, dev_mac)


def control(tap, a, dev_mac):
    """A real host is still answered: the captures above can see replies."""
    tap.send(ether(dev_mac, tap.mac, ETH_IP,
                   icmp_echo(a.host_ip, a.dev_ip, 0x7777, 1, b"control")))
    tap.send(ether(dev_mac, tap.mac, ETH_IP,
                   udp(a.host_ip, a.dev_ip, 45000, 7, b"control")))
    got = [describe(f) for f in tap.frames_from(dev_mac, 1.0)]
    ping = any(g.startswith("icmp %s->%s" % (a.dev_ip, a.host_ip)) and "type 0" in g for g in got)
    echo = any(g.startswith("udp %s->%s" % (a.dev_ip, a.host_ip)) and "7->45000" in g for g in got)
    print("control", "ok" if ping and echo else "missing %r" % got, flush=True)


def echo_loops(a):
    tap = Tap()
    dev_mac = mac_bytes(a.dev_mac)
    net = ipaddress.IPv4Network(a.host_ip + "/24", strict=False)
    cases = []
    # Echo, discard, daytime, qotd, chargen, time, DNS, NTP, NetBIOS, SNMP,
    # and the highest well-known port.
    for port in (7, 9, 13, 17, 19, 37, 53, 123, 137, 161, 1023):
        cases.append(("from-port-%d" % port, a.dev_ip, b"", port))
    cases.append(("to-limited-broadcast", "255.255.255.255", b"\xff" * 6, 43000))
    cases.append(("to-subnet-broadcast", str(net.broadcast_address), b"\xff" * 6, 43001))
    answered = []
    for label, dst, dst_mac, sport in cases:
        tap.send(ether(dst_mac or dev_mac, tap.mac, ETH_IP,
                       udp(a.host_ip, dst, sport, 7, label.encode())))
        for f in tap.frames_from(dev_mac, 0.2):
            d = describe(f)
            if d.startswith("udp ") and " 7->" in d:
                answered.append("%s: %s" % (label, d))
    for line in answered:
        print("answered", line, flush=True)
    control(tap, a, dev_mac)


def arp_flood(a):
    tap = Tap()
    dev_mac = mac_bytes(a.dev_mac)
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind((a.host_ip, 53))
    dns.settimeout(10)
    try:
        dns.recvfrom(512)
    except socket.timeout:
        print("no query", flush=True)
        return
    # Drain what the device sent so far (its ARP request for us).
    tap.frames_from(dev_mac, 0.05)
    net = ipaddress.IPv4Network(a.host_ip + "/24", strict=False)
    hosts = [str(h) for h in net.hosts()][99:99 + a.count]
    for i, h in enumerate(hosts):
        sha = bytes([0x02, 0x66, 0, 0, (i >> 8) & 255, i & 255])
        tap.send(ether(b"\xff" * 6, sha, ETH_ARP,
                       arp(1, sha, h, b"\0" * 6, a.dev_ip)))
    replies = 0
    rearp = False
    retry = False
    end = time.monotonic() + 5
    while not retry and time.monotonic() < end:
        for f in tap.frames_from(dev_mac, 0.1):
            if struct.unpack("!H", f[12:14])[0] == ETH_ARP:
                op = struct.unpack("!H", f[20:22])[0]
                if op == 2:
                    replies += 1
                elif op == 1 and f[38:42] == ip_bytes(a.host_ip):
                    rearp = True
            elif describe(f).endswith("->53"):
                retry = True
    print("flood replies", replies, flush=True)
    if rearp:
        print("rearp", flush=True)
    if retry:
        print("retry seen", flush=True)


def dns_capture(a):
    dns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dns.bind((a.host_ip, 53))
    dns.settimeout(10)
    print("ready", flush=True)
    seen = []
    while len(seen) < a.count:
        try:
            msg, (_, port) = dns.recvfrom(512)
        except socket.timeout:
            break
        key = (struct.unpack("!H", msg[:2])[0], port)
        if key not in seen:
            seen.append(key)
            print("query", key[0], key[1], flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["bad-sources", "echo-loops", "arp-flood", "dns-capture"])
    p.add_argument("--dev-ip")
    p.add_argument("--dev-mac")
    p.add_argument("--host-ip", required=True)
    p.add_argument("--count", type=int, default=50)
    a = p.parse_args()
    modes = {"bad-sources": bad_sources, "echo-loops": echo_loops, "arp-flood": arp_flood,
             "dns-capture": dns_capture}
    modes[a.mode](a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
