#!/usr/bin/env python3
"""TCP throughput over a TAP against the Linux kernel: emberstack (the
reference device, examples/device.rs) and smoltcp (benches/compare,
`smoltcp-peer`) with the same window, both directions, in one run.

Run it through benches/tcp_throughput.sh, which builds both programs in
release mode; `--help` lists the options. Needs root (network namespaces).

Each stack variant gets its own network namespace (`es-tput-PID-N`, tap0 at
10.A.B.1/24, the stack at 10.A.B.2), started and deleted here; every wait
is bounded and every process is stopped by its PID. Nothing leaves the
namespace.

  in   kernel -> stack: a Python client in the namespace sends N bytes to the
       discard port (9) and closes; the time runs from connect() to the
       stack's FIN (all data taken). The stack's log line
       `tcp: discard N bytes crc32=X` is checked against the data.
  out  stack -> kernel: a Python sink in the namespace accepts one
       connection; the stack is started with `--tcp-send` and sends the
       pattern `i mod 251`; the time runs from accept() to the stack's FIN.
       The sink checks length and CRC-32.

RTT is the kernel's smoothed RTT (TCP_INFO tcpi_rtt) sampled every 10 ms
during the `in` runs with that stack and window: the time from a full-size
segment leaving the kernel to its ACK, with the stack's loop busy. The
bound is window bytes / RTT; the idle ping RTT (1472-byte payload) is shown
for context. Kernel delayed ACKs (TcpExt DelayedACKs of the namespace)
during `out` runs show what the delayed-ACK mitigation (`split`) is about.

The same file is also the kernel-side peer (`peer-send`, `peer-sink`), run
inside the namespace by the driver.
"""

import argparse
import json
import os
import re
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import zlib

MSS = 1460
PREFIX = "es-tput"

# ---------------------------------------------------------------- the peer

TCP_INFO_LEN = 232


def tcp_info(sock):
    """Selected TCP_INFO fields (linux/tcp.h offsets)."""
    raw = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, TCP_INFO_LEN)
    raw = raw.ljust(TCP_INFO_LEN, b"\0")
    return {
        "rtt_us": struct.unpack_from("I", raw, 68)[0],
        "rcv_rtt_us": struct.unpack_from("I", raw, 92)[0],
        "total_retrans": struct.unpack_from("I", raw, 100)[0],
        "bytes_acked": struct.unpack_from("Q", raw, 120)[0],
        "bytes_received": struct.unpack_from("Q", raw, 128)[0],
        "min_rtt_us": struct.unpack_from("I", raw, 148)[0],
        "data_segs_in": struct.unpack_from("I", raw, 152)[0],
        "data_segs_out": struct.unpack_from("I", raw, 156)[0],
    }


def pattern(n):
    """The device's `--tcp-send` bytes: i mod 251."""
    block = bytes(range(251))
    return (block * (n // 251 + 1))[:n]


def sampler(sock, stop, samples):
    """Collects TCP_INFO every 10 ms until `stop` is set."""
    while not stop.wait(0.01):
        try:
            samples.append(tcp_info(sock))
        except OSError:
            return


def peer_send(args):
    """Sends N bytes to ADDR:PORT, closes, waits for the peer's FIN."""
    data = pattern(args.bytes)[::-1]  # not the device's own pattern
    s = socket.socket()
    s.settimeout(args.limit)
    samples, stop = [], threading.Event()
    t0 = time.monotonic()
    complete = True
    try:
        s.connect((args.addr, args.port))
        th = threading.Thread(target=sampler, args=(s, stop, samples), daemon=True)
        th.start()
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except (socket.timeout, OSError):
        complete = False
    elapsed = time.monotonic() - t0
    stop.set()
    info = tcp_info(s)
    s.close()
    # Samples from when data was flowing (past the first window).
    rtts = [x["rtt_us"] for x in samples if x["bytes_acked"] > 16 * MSS and x["rtt_us"]]
    print(json.dumps({
        "complete": complete,
        "bytes": info["bytes_acked"] - 1 if not complete else args.bytes,
        "seconds": elapsed,
        "crc32": zlib.crc32(data),
        "rtt_us": statistics.median(rtts) if rtts else info["rtt_us"],
        "min_rtt_us": info["min_rtt_us"],
        "kernel_retrans": info["total_retrans"],
        "samples": len(rtts),
    }), flush=True)


def peer_sink(args):
    """Accepts one connection on ADDR:PORT and reads until FIN (or the limit)."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((args.addr, args.port))
    ls.listen(1)
    ls.settimeout(args.limit)
    print("listening", flush=True)
    try:
        c, _ = ls.accept()
    except socket.timeout:
        print(json.dumps({"complete": False, "bytes": 0, "seconds": args.limit}), flush=True)
        return
    t0 = time.monotonic()
    deadline = t0 + args.limit
    crc, n, complete = 0, 0, True
    buf = bytearray(1 << 16)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            complete = False
            break
        c.settimeout(left)
        try:
            k = c.recv_into(buf)
        except (socket.timeout, OSError):
            complete = False
            break
        if k == 0:
            break
        crc = zlib.crc32(memoryview(buf)[:k], crc)
        n += k
    elapsed = time.monotonic() - t0
    info = tcp_info(c)
    c.close()
    ls.close()
    print(json.dumps({
        "complete": complete,
        "bytes": n,
        "seconds": elapsed,
        "crc32": crc,
        "data_segs_in": info["data_segs_in"],
        "rcv_rtt_us": info["rcv_rtt_us"],
    }), flush=True)


# -------------------------------------------------------------- the driver


def run(cmd, limit=10, check=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=limit)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    return r


def reap_stale():
    """Deletes namespaces of earlier runs whose driver is gone."""
    out = run(["ip", "netns", "list"], check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(PREFIX + r"-(\d+)-\d+", name)
        if m and int(m.group(1)) != os.getpid() and not os.path.exists(f"/proc/{m.group(1)}"):
            run(["ip", "netns", "del", name], check=False)


class Proc:
    """A child started inside the namespace, its stdout lines collected."""

    def __init__(self, ns, argv):
        self.p = subprocess.Popen(["ip", "netns", "exec", ns.name] + argv, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.lines = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append(line.rstrip("\n"))
                self.cv.notify_all()
        with self.cv:
            self.cv.notify_all()

    def mark(self):
        """Where the log is now, for `wait_for(..., since=)`."""
        with self.cv:
            return len(self.lines)

    def wait_for(self, pattern, limit, since=0):
        """The first line from `since` on matching the regex, or None after
        `limit` seconds."""
        deadline = time.monotonic() + limit
        rx = re.compile(pattern)
        with self.cv:
            while True:
                for l in self.lines[since:]:
                    if rx.search(l):
                        return l
                left = deadline - time.monotonic()
                if left <= 0 or (self.p.poll() is not None and not self.t.is_alive()):
                    return None
                self.cv.wait(min(left, 0.5))

    def stop(self):
        """SIGTERM (the stacks exit cleanly on it), SIGKILL after 5 s."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait(5)
        self.t.join(5)
        return self.lines


class Netns:
    counter = 0

    def __init__(self):
        Netns.counter += 1
        pid = os.getpid()
        self.name = f"{PREFIX}-{pid}-{Netns.counter}"
        h = (pid * 2654435761 + Netns.counter * 40503) & 0xFFFFFFFF
        self.net = (64 + h % 128, (h >> 8) & 0xFF)
        self.procs = []
        run(["ip", "netns", "add", self.name])
        try:
            run(["ip", "-n", self.name, "link", "set", "lo", "up"])
            run(["ip", "-n", self.name, "tuntap", "add", "dev", "tap0", "mode", "tap"])
            run(["ip", "-n", self.name, "addr", "add", f"{self.host}/24", "dev", "tap0"])
            run(["ip", "-n", self.name, "link", "set", "tap0", "up"])
        except Exception:
            self.close()
            raise

    @property
    def host(self):
        return f"10.{self.net[0]}.{self.net[1]}.1"

    @property
    def device(self):
        return f"10.{self.net[0]}.{self.net[1]}.2"

    def spawn(self, argv):
        p = Proc(self, argv)
        self.procs.append(p)
        return p

    def tcp_ext(self, key):
        """A TcpExt counter of this namespace (/proc/net/netstat)."""
        lines = run(["ip", "netns", "exec", self.name, "cat", "/proc/net/netstat"]).stdout.splitlines()
        for names, values in zip(lines[::2], lines[1::2]):
            if names.startswith("TcpExt:"):
                return int(dict(zip(names.split()[1:], values.split()[1:])).get(key, 0))
        return 0

    def ping_rtt_us(self):
        r = run(["ip", "netns", "exec", self.name, "ping", "-c", "20", "-i", "0.01", "-s", "1472",
                 "-W", "1", "-q", self.device], limit=15, check=False)
        m = re.search(r"= [\d.]+/([\d.]+)/", r.stdout)
        return float(m.group(1)) * 1000 if m else None

    def close(self):
        for p in self.procs:
            p.stop()
        run(["ip", "netns", "del", self.name], check=False)


class Variant:
    def __init__(self, stack, label, window, split, args):
        self.stack, self.label, self.window, self.split, self.args = stack, label, window, split, args


def variants(device, smoltcp, selected):
    v = []
    for w in (1, 4):
        for split in (False, True):
            name = f"regenerate-w{w}" + ("-split" if split else "")
            v.append(Variant("emberstack", name, w, split, [device, "--config", name]))
    for w in (1, 4):
        v.append(Variant("emberstack", f"buffer-w{w}", w, False, [device, "--config", f"buffer-w{w}"]))
    for w in (1, 4):
        v.append(Variant("smoltcp", f"window {w}", w, False, [smoltcp, "--window", str(w)]))
    if selected:
        v = [x for x in v if any(s in f"{x.stack} {x.label}" for s in selected)]
    return v


def measure(v, args):
    """Both directions for one variant; returns rows."""
    me = os.path.abspath(__file__)
    ns = Netns()
    rows = []
    try:
        stack_args = v.args + ["--tap", "tap0", "--ip", f"{ns.device}/24"]
        if v.stack == "emberstack":
            stack_args += ["--gateway", ns.host]
        ready = r"arp: announced" if v.stack == "emberstack" else r"^smoltcp: tap"

        # in: kernel -> stack, one stack process for all repeats.
        st = ns.spawn(stack_args)
        if st.wait_for(ready, 10) is None:
            raise RuntimeError(f"{v.stack} {v.label} did not start:\n" + "\n".join(st.lines))
        ping = ns.ping_rtt_us()
        res_in = []
        for r in range(args.repeat):
            mark = st.mark()
            out = run(["ip", "netns", "exec", ns.name, sys.executable, me, "peer-send", ns.device, "9",
                       str(args.bytes), "--limit", str(args.limit)], limit=args.limit + 15)
            res = json.loads(out.stdout.strip().splitlines()[-1])
            if res["complete"]:
                line = st.wait_for(rf"tcp: discard {args.bytes} bytes crc32=", 10, mark)
                crc = int(line.rsplit("=", 1)[1], 16) if line else None
                if crc != res["crc32"]:
                    raise RuntimeError(f"{v.label} in: stack logged {line!r}, data crc {res['crc32']:08x}")
                # The next connection must find the socket listening again.
                st.wait_for(r"tcp: closed", 5, mark)
                time.sleep(0.05)
            res_in.append(res)
        st.stop()
        rtt = statistics.median(x["rtt_us"] for x in res_in)
        rows.append(row(v, "in", res_in, rtt, ping))

        # out: stack -> kernel, one stack process per repeat.
        res_out = []
        for r in range(args.repeat):
            port = 5001 + r
            sink = ns.spawn([sys.executable, me, "peer-sink", ns.host, str(port), "--limit", str(args.limit)])
            if sink.wait_for(r"^listening", 10) is None:
                raise RuntimeError("sink did not start: " + "\n".join(sink.lines))
            delayed0 = ns.tcp_ext("DelayedACKs")
            st = ns.spawn(stack_args + ["--tcp-send", f"{ns.host}:{port}", "--bytes", str(args.bytes)])
            line = sink.wait_for(r"^\{", args.limit + 15)
            if line is None:
                raise RuntimeError(f"{v.label} out: no result from the sink")
            res = json.loads(line)
            if res["complete"]:
                sent = st.wait_for(rf"tcp: sent {args.bytes}", 10)
                if res["bytes"] != args.bytes or res["crc32"] != zlib.crc32(pattern(args.bytes)) or not sent:
                    raise RuntimeError(f"{v.label} out: got {res}, stack said {sent!r}")
            log = st.stop()
            sink.stop()
            res["delayed_acks"] = ns.tcp_ext("DelayedACKs") - delayed0
            if v.stack == "emberstack":
                res["resent"] = sum(1 for l in log if l.startswith("tcp: retransmit"))
            else:
                m = [re.search(r"sent again (\d+)", l) for l in log]
                res["resent"] = next((int(x.group(1)) for x in m if x), 0)
            res_out.append(res)
        rows.append(row(v, "out", res_out, rtt, ping))
    finally:
        ns.close()
    return rows


def row(v, direction, results, rtt_us, ping_us):
    rates = [x["bytes"] / x["seconds"] for x in results if x["seconds"] > 0]
    rate = statistics.median(rates)
    window = v.window * MSS
    bound = window / (rtt_us / 1e6) if rtt_us else None
    return {
        "stack": v.stack,
        "variant": v.label,
        "split": v.split,
        "window": window,
        "direction": direction,
        "rate": rate,
        "rates": rates,
        "rtt_us": rtt_us,
        "ping_us": ping_us,
        "bound": bound,
        "fraction": rate / bound if bound else None,
        "complete": all(x["complete"] for x in results),
        "resent": [x.get("resent") for x in results] if direction == "out" else None,
        "delayed_acks": [x.get("delayed_acks") for x in results] if direction == "out" else None,
        "segs": [x.get("data_segs_in") for x in results] if direction == "out" else None,
    }


def table(rows, args):
    out = []
    out.append(f"{args.bytes} bytes per transfer, median of {args.repeat}; MB/s = 10^6 bytes/s; "
               f"bound = window / RTT (RTT: kernel srtt during the `in` runs)")
    out.append("")
    out.append("| stack | variant | window B | direction | bytes/s (min–max) | RTT µs (ping) | bound bytes/s | of bound | sent again (all runs) | kernel delayed ACKs (all runs) |")
    out.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        d = "kernel→stack" if r["direction"] == "in" else "stack→kernel"
        ping = f" ({r['ping_us']:.0f})" if r["ping_us"] else ""
        rate = (f"{r['rate'] / 1e6:.1f} M ({min(r['rates']) / 1e6:.0f}–{max(r['rates']) / 1e6:.0f})"
                + ("" if r["complete"] else " (cut at limit)"))
        dacks = "–" if r["delayed_acks"] is None else str(sum(r["delayed_acks"]))
        sent = "–" if r["resent"] is None else str(sum(r["resent"]))
        out.append(f"| {r['stack']} | {r['variant']} | {r['window']} | {d} | {rate} | {r['rtt_us']:.0f}{ping} | "
                   f"{r['bound'] / 1e6:.1f} M | {r['fraction']:.2f} | {sent} | {dacks} |")
    return "\n".join(out)


def read_psi():
    """Total microseconds some task waited for a CPU (PSI), if available."""
    try:
        line = open("/proc/pressure/cpu").readline()
        return int(line.split("total=")[1])
    except (OSError, IndexError, ValueError):
        return None


def cpu_pressure(since, seconds):
    """Share of the run during which some task waited for a CPU (this
    benchmark's own processes included): other load on the machine shows
    up as noise in the rates."""
    now = read_psi()
    if since is None or now is None or seconds <= 0:
        return "n/a"
    return f"some task waited for a CPU {100 * (now - since) / 1e6 / seconds:.0f}% of the time (PSI)"


def driver(args):
    if os.geteuid() != 0:
        sys.exit("tcp_throughput: needs root (network namespaces and TAPs)")
    for exe in (args.device, args.smoltcp):
        if not os.access(exe, os.X_OK):
            sys.exit(f"tcp_throughput: {exe} is not built (run benches/tcp_throughput.sh)")
    reap_stale()
    rows = []

    def on_term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    t0 = time.monotonic()
    psi0 = read_psi()
    for v in variants(args.device, args.smoltcp, args.only):
        print(f"# {v.stack} {v.label} ...", file=sys.stderr, flush=True)
        rows.extend(measure(v, args))
        for r in rows[-2:]:
            print(f"#   {r['direction']}: {r['rate'] / 1e6:.2f} MB/s, {r['fraction']:.2f} of bound "
                  f"(runs {', '.join(f'{x / 1e6:.2f}' for x in r['rates'])})", file=sys.stderr, flush=True)
    load = open("/proc/loadavg").read().split()[:3]
    elapsed = time.monotonic() - t0
    print(table(rows, args))
    print(f"\n{elapsed:.0f} s; {os.cpu_count()} CPUs; kernel {os.uname().release}; "
          f"load average {' '.join(load)}; {cpu_pressure(psi0, elapsed)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    d = sub.add_parser("run", help="the benchmark (default)")
    d.add_argument("--device", required=True, help="the release-built examples/device")
    d.add_argument("--smoltcp", required=True, help="the release-built smoltcp-peer")
    d.add_argument("--mb", type=float, default=32, help="MB (2^20 bytes) per transfer (32)")
    d.add_argument("--repeat", type=int, default=7, help="transfers per direction and variant (7)")
    d.add_argument("--limit", type=float, default=30, help="seconds a transfer may take (30)")
    d.add_argument("--only", action="append", help="variants whose 'stack label' contains this (repeatable)")
    d.add_argument("--json", help="also write the rows here")
    s = sub.add_parser("peer-send")
    s.add_argument("addr")
    s.add_argument("port", type=int)
    s.add_argument("bytes", type=int)
    s.add_argument("--limit", type=float, default=30)
    k = sub.add_parser("peer-sink")
    k.add_argument("addr")
    k.add_argument("port", type=int)
    k.add_argument("--limit", type=float, default=30)
    args = ap.parse_args()
    if args.cmd == "peer-send":
        peer_send(args)
    elif args.cmd == "peer-sink":
        peer_sink(args)
    elif args.cmd == "run":
        args.bytes = int(args.mb * (1 << 20))
        driver(args)
    else:
        ap.print_help()


if __name__ == "__main__":
    main()
