#!/usr/bin/env python3
"""Scripted SMTP and POP3 servers for the fault cases of tests/mail_peer.rs.

Runs inside the test's network namespace (started by the test, killed by
PID). Standard library only (asyncio).

  mail_script.py smtp|pop3 --address IP --port N --dir DIR --plan PLAN

PLAN is a comma-separated list, one entry per connection (the last entry
repeats):
  ok               a normal session
  slow             replies dribbled 3 bytes at a time (a message 500), 40 ms
                   apart
  silent:STEP      never answer at STEP (the client must time out)
  fail:STEP:CODE   answer STEP with CODE (SMTP) or -ERR (POP3)
  close:STEP       close the connection at STEP (for `message` / `retr`:
                   in the middle of the transfer)
  flood:STEP       at STEP, 64 KiB without a line end (a reply line has a
                   bound), then silence
  dribble:STEP     at STEP, one byte every 0.5 s and never a line end (bytes
                   are not progress: the step deadline holds)
  drip:STEP        at STEP, a complete line every 0.5 s forever (`220-...`
                   for SMTP; for POP3 `retr`, message lines): only the
                   session's deadline ends it
  zerowin          SMTP: after 354 never read again (a small receive buffer:
                   the client sees a zero window)
  plain            SMTP: EHLO offers only AUTH PLAIN (RFC 4616 initial
                   response checked as alice/secret), otherwise `ok`
  noauth           SMTP: EHLO offers no AUTH at all
SMTP steps: greeting ehlo auth user pass mail rcpt data message quit.
POP3 steps: greeting user pass stat retr dele quit.

Each connection appends one line to DIR/sessions: "N PLAN-ENTRY RESULT";
a message an SMTP session receives is stored as DIR/N.eml. DIR/ready
appears once the server listens.
"""

import argparse
import asyncio
import base64
import os
import socket

POP3_MESSAGES = [
    b"From: Alice <alice@test.lan>\r\nSubject: one\r\n\r\nfirst body\r\n.leading dot\r\n",
    b"From: bob@test.lan\r\nSubject: two\r\n folded\r\n\r\n"
    + b"".join(b"line %05d of the second message\r\n" % i for i in range(800)),
]


def parse_plan(text):
    out = []
    for entry in text.split(","):
        parts = entry.split(":")
        out.append((parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "", entry))
    return out


class Session:
    def __init__(self, reader, writer, plan, args, number):
        self.r = reader
        self.w = writer
        self.mode, self.step, self.code, self.entry = plan
        self.args = args
        self.n = number

    def at(self, mode, step):
        return self.mode == mode and self.step == step

    async def send(self, line):
        data = line.encode() + b"\r\n" if isinstance(line, str) else line
        if self.mode == "slow":
            # Short replies 3 bytes at a time, long ones (a message) in
            # 500-byte pieces: every reply is cut, the test stays short.
            step = 3 if len(data) < 200 else 500
            for i in range(0, len(data), step):
                self.w.write(data[i:i + step])
                await self.w.drain()
                await asyncio.sleep(0.04)
        else:
            self.w.write(data)
            await self.w.drain()

    async def readline(self):
        line = await self.r.readline()
        if not line:
            raise ConnectionError("client closed")
        return line.rstrip(b"\r\n").decode("latin-1")

    async def hostile(self, step):
        """The hostile plans at `step`; returns once the client is gone."""
        if self.at("flood", step):
            self.w.write(b"x" * 65536)
            await self.w.drain()
            await self.gone(3600)
        elif self.at("dribble", step):
            for _ in range(1200):
                self.w.write(b"2")
                await self.w.drain()
                if await self.gone(0.5):
                    break
        elif self.at("drip", step):
            line = b"220-still here\r\n" if isinstance(self, Smtp) else b"line\r\n"
            if not isinstance(self, Smtp):
                self.w.write(b"+OK\r\n")
            for _ in range(1200):
                self.w.write(line)
                await self.w.drain()
                if await self.gone(0.5):
                    break
        self.record("held-until-client-left")

    async def gone(self, seconds):
        """Waits up to `seconds` for the client to close: True if it did."""
        try:
            data = await asyncio.wait_for(self.r.read(4096), seconds)
            return not data
        except asyncio.TimeoutError:
            return False
        except (ConnectionError, OSError):
            return True

    async def gate(self, step, fail_line):
        """Handles the plan at `step`: True when the session must stop."""
        if self.mode in ("flood", "dribble", "drip") and self.step == step:
            await self.hostile(step)
            self.w.close()
            return True
        if self.at("silent", step):
            await asyncio.sleep(3600)
        if self.at("close", step):
            self.w.close()
            return True
        if self.at("fail", step):
            await self.send(fail_line)
            return True
        return False

    def record(self, result):
        with open(os.path.join(self.args.dir, "sessions"), "a") as f:
            f.write("%d %s %s\n" % (self.n, self.entry, result))


class Smtp(Session):
    async def run(self):
        fail = lambda: "%s scripted failure" % (self.code or "554")
        if await self.gate("greeting", fail()):
            return await self.drain_quit()
        await self.send("220 script ESMTP")
        while True:
            line = await self.readline()
            verb = line.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                if await self.gate("ehlo", fail()):
                    return await self.drain_quit()
                if self.mode == "noauth":
                    await self.send(b"250-script\r\n250 8BITMIME\r\n")
                elif self.mode == "plain":
                    await self.send(b"250-script\r\n250-8BITMIME\r\n250 AUTH PLAIN\r\n")
                else:
                    await self.send(b"250-script\r\n250-8BITMIME\r\n250 AUTH LOGIN\r\n")
            elif verb == "AUTH" and self.mode == "plain":
                words = line.split(" ")
                ok = len(words) == 3 and words[1].upper() == "PLAIN" and \
                    base64.b64decode(words[2]) == b"\0alice\0secret"
                self.record("plain-ok" if ok else "plain-bad:" + line)
                await self.send("235 2.7.0 ok" if ok else "535 5.7.8 bad")
            elif verb == "AUTH":
                if await self.gate("auth", fail()):
                    return await self.drain_quit()
                await self.send("334 VXNlcm5hbWU6")
                await self.readline()
                if await self.gate("user", fail()):
                    return await self.drain_quit()
                await self.send("334 UGFzc3dvcmQ6")
                await self.readline()
                if await self.gate("pass", fail()):
                    return await self.drain_quit()
                await self.send("235 2.7.0 ok")
            elif verb == "MAIL":
                if await self.gate("mail", fail()):
                    return await self.drain_quit()
                await self.send("250 ok")
            elif verb == "RCPT":
                if await self.gate("rcpt", fail()):
                    return await self.drain_quit()
                await self.send("250 ok")
            elif verb == "DATA":
                if await self.gate("data", fail()):
                    return await self.drain_quit()
                await self.send("354 go ahead")
                if self.mode == "zerowin":
                    # Never read again: our receive buffer fills, the
                    # client's sends meet a zero window (asyncio would
                    # otherwise keep reading into its own buffer).
                    self.w.transport.pause_reading()
                    self.record("zero-window")
                    await asyncio.sleep(3600)
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = await self.r.read(4096)
                    if not chunk:
                        raise ConnectionError("client closed in DATA")
                    data += chunk
                    if self.at("close", "message") and len(data) > 2000:
                        # FIN (not RST: unread data would make close() reset).
                        self.w.write_eof()
                        self.record("closed-in-data")
                        while await self.r.read(4096):
                            pass
                        self.w.close()
                        return
                if await self.gate("message", fail()):
                    return await self.drain_quit()
                with open(os.path.join(self.args.dir, "%d.eml" % self.n), "wb") as f:
                    f.write(data)
                await self.send("250 stored")
            elif verb == "QUIT":
                if await self.gate("quit", fail()):
                    self.record("failed-quit")
                    return
                await self.send("221 bye")
                self.w.close()
                self.record("done")
                return
            else:
                await self.send("502 unknown")

    async def drain_quit(self):
        """After a failure the client should say QUIT (or just close)."""
        try:
            line = await asyncio.wait_for(self.readline(), 5)
            if line.upper() == "QUIT":
                await self.send("221 bye")
                self.record("failed-then-quit")
            else:
                self.record("failed-then-" + line.split(" ")[0])
        except (ConnectionError, asyncio.TimeoutError):
            self.record("failed-then-closed")
        self.w.close()


class Pop3(Session):
    async def run(self):
        fail = "-ERR scripted failure"
        if await self.gate("greeting", fail):
            return await self.drain()
        await self.send("+OK script POP3")
        while True:
            line = await self.readline()
            parts = line.split(" ")
            verb = parts[0].upper()
            if verb == "USER":
                if await self.gate("user", fail):
                    return await self.drain()
                await self.send("+OK")
            elif verb == "PASS":
                if await self.gate("pass", fail):
                    return await self.drain()
                await self.send("+OK logged in")
            elif verb == "STAT":
                if await self.gate("stat", fail):
                    return await self.drain()
                size = sum(len(m) for m in POP3_MESSAGES)
                await self.send("+OK %d %d" % (len(POP3_MESSAGES), size))
            elif verb == "RETR":
                if await self.gate("retr", fail):
                    return await self.drain()
                msg = POP3_MESSAGES[int(parts[1]) - 1]
                body = b"".join(
                    (b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in msg[:-2].split(b"\r\n")
                )
                if self.at("close", "retr"):
                    await self.send(b"+OK\r\n" + body[: len(body) // 2])
                    self.w.close()
                    self.record("closed-in-retr")
                    return
                await self.send(b"+OK %d octets\r\n" % len(msg) + body + b".\r\n")
            elif verb == "DELE":
                if await self.gate("dele", fail):
                    return await self.drain()
                await self.send("+OK marked")
            elif verb == "QUIT":
                if await self.gate("quit", fail):
                    return await self.drain()
                await self.send("+OK bye")
                self.w.close()
                self.record("done")
                return
            else:
                await self.send("-ERR unknown")

    async def drain(self):
        """After -ERR the client closes without QUIT."""
        try:
            line = await asyncio.wait_for(self.readline(), 5)
            self.record("failed-then-" + line.split(" ")[0])
        except (ConnectionError, asyncio.TimeoutError):
            self.record("failed-then-closed")
        self.w.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("protocol", choices=["smtp", "pop3"])
    p.add_argument("--address", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--plan", default="ok")
    args = p.parse_args()
    plan = parse_plan(args.plan)
    count = [0]
    cls = Smtp if args.protocol == "smtp" else Pop3

    async def handle(reader, writer):
        count[0] += 1
        n = count[0]
        s = cls(reader, writer, plan[min(n - 1, len(plan) - 1)], args, n)
        try:
            await s.run()
        except (ConnectionError, OSError) as e:
            s.record("error-" + str(e).replace(" ", "-"))
            writer.close()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if any(entry[0] == "zerowin" for entry in plan):
        # Before listen(): the window scale and the buffer the accepted
        # sockets inherit.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    sock.bind((args.address, args.port))
    sock.listen(16)
    server = await asyncio.start_server(handle, sock=sock)
    open(os.path.join(args.dir, "ready"), "w").close()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
