#!/usr/bin/env python3
"""Cold page loads in headless Chromium, timed by the page itself.

  page_load.py --url URL [--runs N] [--profile-root DIR]

Each run starts a fresh Chromium (a new profile: no cache, no open
connections), opens URL over the DevTools protocol (the pipe driver of
tests/peers/browser_click.py), waits for the load event and reads the
page's Navigation Timing and Resource Timing entries (W3C Navigation
Timing Level 2): the time from navigation start to the end of the load
event, to DOMContentLoaded, and the slowest sub-resource, in
milliseconds. Prints one line per run and the medians. Standard library
only; every wait is bounded. A benchmark (benches/http.sh), not a test.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "peers"))
from browser_click import Browser  # noqa: E402

TIMING = """JSON.stringify((() => {
  const n = performance.getEntriesByType('navigation')[0];
  const r = performance.getEntriesByType('resource');
  return {
    load: n.loadEventEnd,
    dom: n.domContentLoadedEventEnd,
    doc: n.responseEnd,
    resources: r.length,
    slowest: r.reduce((m, e) => Math.max(m, e.responseEnd), 0),
  };
})())"""


def one_load(url, profile):
    b = Browser(profile)
    try:
        target = b.call("Target.createTarget", {"url": url})["targetId"]
        b.session = b.call("Target.attachToTarget",
                           {"targetId": target, "flatten": True})["sessionId"]
        b.wait_loaded(timeout=30)
        # loadEventEnd is set just after readyState turns complete.
        for _ in range(50):
            t = json.loads(b.eval(TIMING))
            if t["load"] > 0:
                return t
        raise RuntimeError("no load event end")
    finally:
        b.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--profile-root", default=None)
    a = p.parse_args()
    loads = []
    # Chromium's helper processes may still write as the profile goes.
    with tempfile.TemporaryDirectory(dir=a.profile_root, ignore_cleanup_errors=True) as root:
        for i in range(a.runs):
            t = one_load(a.url, os.path.join(root, "profile%d" % i))
            loads.append(t)
            print("run %d: load %.0f ms, DOMContentLoaded %.0f ms, document %.0f ms, "
                  "%d resources, slowest ends at %.0f ms"
                  % (i + 1, t["load"], t["dom"], t["doc"], t["resources"], t["slowest"]))
    print("median: load %.0f ms, DOMContentLoaded %.0f ms, slowest resource %.0f ms"
          % (statistics.median(t["load"] for t in loads),
             statistics.median(t["dom"] for t in loads),
             statistics.median(t["slowest"] for t in loads)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
