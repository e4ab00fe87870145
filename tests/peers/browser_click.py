#!/usr/bin/env python3
"""Headless Chromium clicks a button on a page, as a person would.

  browser_click.py --url URL --click SELECTOR --profile DIR [--fill NAME=VALUE ...]

Opens URL in headless Chromium (driven over the DevTools protocol on a pipe,
--remote-debugging-pipe: fds 3 and 4, NUL-separated JSON), waits for the
page to load, sets the form fields given with --fill, clicks the element
matching SELECTOR, waits for the next page to load and prints its text. So a
form is posted from the device's own page: same origin, with the Origin
and Referer a browser sends. Standard library only; every wait is bounded.
"""

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time


class Browser:
    def __init__(self, profile):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def fds():
            # Move both ends clear of 3 and 4 first (a pipe may already
            # sit there), then onto them; dup2 makes them inheritable.
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-dev-shm-usage",
             "--no-first-run", "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + profile, "--remote-debugging-pipe", "about:blank"],
            # dup2 clears close-on-exec on 3 and 4; close_fds would close them.
            preexec_fn=fds, close_fds=False,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buf = b""
        self.next_id = 0
        self.session = None

    def call(self, method, params=None, timeout=20):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            msg["sessionId"] = self.session
        os.write(self.to_chrome, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError("%s: %s" % (method, reply["error"]))
                    return reply.get("result", {})
            chunk = os.read(self.from_chrome, 65536)
            if not chunk:
                raise RuntimeError("chromium exited")
            self.buf += chunk
        raise RuntimeError("no answer to " + method)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True})
        return r.get("result", {}).get("value")

    def wait_loaded(self, timeout=15):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            # The new target shows about:blank (complete) first.
            if self.eval("location.protocol != 'about:' && document.readyState") == "complete":
                return
            time.sleep(0.1)
        raise RuntimeError("page did not load")

    def close(self):
        self.proc.kill()
        self.proc.wait()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--click", required=True)
    p.add_argument("--profile", required=True)
    p.add_argument("--fill", action="append", default=[])
    a = p.parse_args()
    b = Browser(a.profile)
    try:
        target = b.call("Target.createTarget", {"url": a.url})["targetId"]
        b.session = b.call("Target.attachToTarget",
                           {"targetId": target, "flatten": True})["sessionId"]
        b.wait_loaded()
        for f in a.fill:
            name, value = f.split("=", 1)
            b.eval("document.querySelector(%s).value = %s"
                   % (json.dumps("[name=%s]" % name), json.dumps(value)))
        # A mark on this document: the form's answer is a new document.
        b.eval("window.__clicked = true")
        if not b.eval("!!document.querySelector(%s)" % json.dumps(a.click)):
            print("nothing matches %s" % a.click)
            return 1
        b.eval("document.querySelector(%s).click()" % json.dumps(a.click))
        end = time.monotonic() + 15
        while time.monotonic() < end:
            time.sleep(0.2)
            try:
                text = b.eval("window.__clicked ? null : document.readyState == 'complete'"
                              " ? document.body.innerText : null")
            except RuntimeError:
                continue  # the old document went away mid-call
            if text is not None:
                print(text)
                return 0
        print("no answer page after the click")
        return 1
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
