#!/usr/bin/env python3
"""aiosmtpd as the SMTP server of tests/mail_peer.rs (PEERS.md).

Runs inside the test's network namespace (started by the test, killed by
PID) from the /opt/peers venv:

  smtp_server.py --address IP --port 25 --dir DIR [--user U --password P]
                 [--auth-optional] [--mechanism PLAIN|LOGIN]

AUTH LOGIN/PLAIN with the one account (only the one named by --mechanism
when given); auth is required unless --auth-optional. Each successful
AUTH appends its mechanism to DIR/auth. Each message is stored as DIR/N.eml (the DATA content as
received, dot-unstuffed by aiosmtpd) with DIR/N.env holding the envelope
(MAIL FROM, then one RCPT TO per line); DIR/ready appears once the server
listens.
"""

import argparse
import os
import signal
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, directory):
        self.dir = directory
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        base = os.path.join(self.dir, str(n))
        with open(base + ".tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(base + ".env", "w") as f:
            f.write(envelope.mail_from + "\n")
            for r in envelope.rcpt_tos:
                f.write(r + "\n")
        os.rename(base + ".tmp", base + ".eml")
        return "250 OK stored as %d" % n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--address", required=True)
    p.add_argument("--port", type=int, default=25)
    p.add_argument("--dir", required=True)
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="secret")
    p.add_argument("--auth-optional", action="store_true")
    p.add_argument("--mechanism", choices=["PLAIN", "LOGIN"])
    a = p.parse_args()

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == a.user.encode()
            and auth_data.password == a.password.encode()
        )
        if ok:
            with open(os.path.join(a.dir, "auth"), "a") as f:
                f.write(mechanism + "\n")
        # handled=False: aiosmtpd answers 535 itself (its default, True,
        # means "already answered" and would leave the client waiting).
        return AuthResult(success=ok, handled=False)

    controller = Controller(
        Store(a.dir),
        hostname=a.address,
        port=a.port,
        authenticator=authenticator,
        auth_required=not a.auth_optional,
        auth_require_tls=False,
        auth_exclude_mechanism=[m for m in ("PLAIN", "LOGIN") if a.mechanism not in (None, m)],
        data_size_limit=8 * 1024 * 1024,
    )
    controller.start()
    open(os.path.join(a.dir, "ready"), "w").close()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
