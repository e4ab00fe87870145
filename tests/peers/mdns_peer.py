#!/usr/bin/env python3
"""mDNS peers for tests/mdns_peer.rs, run inside the test's namespace.

  mdns_peer.py resolve HOST_IP NAME
      python-zeroconf (pip `zeroconf`) resolves NAME.local's A record;
      prints `resolved NAME ADDR` or `unresolved NAME`.
  mdns_peer.py fields HOST_IP DEVICE_IP NAME
      standard-library queries checking the packet fields: a multicast
      (QM) question from port 5353 answered to the group (IP TTL 255,
      id 0, QR|AA, one A record with the cache-flush bit and TTL 120), a
      legacy question from another port answered by unicast with its id,
      its question and a TTL of at most 10 s, and a question in another
      case; prints `ok WHAT` per check, exits 1 on a mismatch.
  mdns_peer.py claim HOST_IP NAME ADDR
      another host's unsolicited response: NAME.local is at ADDR.
"""

import socket
import struct
import sys
import time

GROUP = "224.0.0.251"
PORT = 5353
# Linux <netinet/in.h> values Python's socket module does not always name.
IP_TTL = getattr(socket, "IP_TTL", 2)
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)


def name_wire(name):
    out = b""
    for label in name.split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def read_name(msg, at):
    labels, jumped, end = [], False, None
    for _ in range(64):
        n = msg[at]
        if n == 0:
            return ".".join(labels), (end if jumped else at + 1)
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = at + 2
            jumped = True
            at = ((n & 0x3F) << 8) | msg[at + 1]
            continue
        labels.append(msg[at + 1:at + 1 + n].decode())
        at += 1 + n
    raise ValueError("name loop")


def group_socket(host_ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", port))
    mreq = socket.inet_aton(GROUP) + socket.inet_aton(host_ip)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(host_ip))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
    s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
    s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    return s


def receive_from(s, device_ip, timeout=3.0):
    """(message, ttl, destination address) of the next packet from the device."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        s.settimeout(max(0.01, deadline - time.time()))
        try:
            msg, anc, _, (src, _) = s.recvmsg(4096, 256)
        except socket.timeout:
            break
        if src != device_ip:
            continue
        ttl, dst = None, None
        for level, kind, data in anc:
            if level == socket.IPPROTO_IP and kind == IP_TTL:
                ttl = struct.unpack("i", data[:4])[0]
            if level == socket.IPPROTO_IP and kind == IP_PKTINFO:
                dst = socket.inet_ntoa(data[8:12])
        return msg, ttl, dst
    return None, None, None


def fail(why):
    print("bad:", why)
    sys.exit(1)


def check_answer(msg, at, name, device_ip, cls, max_ttl):
    rname, at = read_name(msg, at)
    rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", msg[at:at + 10])
    addr = socket.inet_ntoa(msg[at + 10:at + 14])
    if rname.lower() != (name + ".local").lower():
        fail("answer name %s" % rname)
    if (rtype, rclass, rdlen) != (1, cls, 4):
        fail("answer type/class/len %d %x %d" % (rtype, rclass, rdlen))
    if ttl > max_ttl or ttl == 0:
        fail("answer TTL %d" % ttl)
    if addr != device_ip:
        fail("address %s" % addr)
    return ttl


def fields(host_ip, device_ip, name):
    s = group_socket(host_ip, PORT)
    # Past the announcements (two, a second apart) and the one-second
    # multicast rate limit, so what comes is the answer to this question.
    while receive_from(s, device_ip, 2.2)[0] is not None:
        pass
    q = struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 0) + name_wire(name + ".local") + struct.pack("!HH", 1, 1)
    s.sendto(q, (GROUP, PORT))
    msg, ttl, dst = receive_from(s, device_ip)
    if msg is None:
        fail("no answer to a multicast question")
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    if (ident, flags, qd, an) != (0, 0x8400, 0, 1):
        fail("header %04x %04x %d %d" % (ident, flags, qd, an))
    if ttl != 255:
        fail("IP TTL %s" % ttl)
    if dst != GROUP:
        fail("sent to %s, not the group" % dst)
    check_answer(msg, 12, name, device_ip, 0x8001, 120)
    print("ok multicast")
    # Legacy unicast: another port, an id; answered to us with both.
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((host_ip, 0))
    u.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(host_ip))
    upper = name.upper() + ".LOCAL"
    q = struct.pack("!HHHHHH", 0x4242, 0, 1, 0, 0, 0) + name_wire(upper) + struct.pack("!HH", 1, 1)
    u.sendto(q, (GROUP, PORT))
    u.settimeout(3)
    msg, (src, sport) = u.recvfrom(4096)
    if src != device_ip or sport != PORT:
        fail("legacy answer from %s:%d" % (src, sport))
    ident, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    if (ident, flags, qd, an) != (0x4242, 0x8400, 1, 1):
        fail("legacy header %04x %04x %d %d" % (ident, flags, qd, an))
    qname, at = read_name(msg, 12)
    if qname != upper:
        fail("question not echoed: %s" % qname)
    at += 4
    check_answer(msg, at, name, device_ip, 1, 10)
    print("ok legacy")
    # Another name: no answer.
    q = struct.pack("!HHHHHH", 0, 0, 1, 0, 0, 0) + name_wire("nobody.local") + struct.pack("!HH", 1, 1)
    s.sendto(q, (GROUP, PORT))
    msg, _, _ = receive_from(s, device_ip, 1.2)
    if msg is not None:
        fail("answered another name")
    print("ok other-name")


def claim(host_ip, name, addr):
    s = group_socket(host_ip, PORT)
    r = (struct.pack("!HHHHHH", 0, 0x8400, 0, 1, 0, 0) + name_wire(name + ".local")
         + struct.pack("!HHIH", 1, 0x8001, 120, 4) + socket.inet_aton(addr))
    s.sendto(r, (GROUP, PORT))
    print("claimed", name, addr)


def resolve(host_ip, name):
    from zeroconf import AddressResolverIPv4, Zeroconf

    zc = Zeroconf(interfaces=[host_ip])
    try:
        r = AddressResolverIPv4(name + ".local.")
        if r.request(zc, 3000):
            print("resolved", name, " ".join(r.parsed_addresses()))
        else:
            print("unresolved", name)
    finally:
        zc.close()


def main():
    mode = sys.argv[1]
    if mode == "resolve":
        resolve(sys.argv[2], sys.argv[3])
    elif mode == "fields":
        fields(sys.argv[2], sys.argv[3], sys.argv[4])
    elif mode == "claim":
        claim(sys.argv[2], sys.argv[3], sys.argv[4])


if __name__ == "__main__":
    main()
