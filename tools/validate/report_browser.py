#!/usr/bin/env python3
"""Opens an HTML file in headless Chromium (Debian's `chromium`) and reports, as one JSON
document on stdout, what the browser saw. Standard library only: it drives Chromium over the
DevTools protocol on a pipe (--remote-debugging-pipe: commands on fd 3, replies on fd 4,
NUL-terminated JSON), so no port is opened and nothing else is needed.

usage: report_browser.py FILE.html [--screenshot PNG] [--clip-element CSS] [--clip-top PX] [--clip-height PX]
                         [--width PX] [--scale X] [--dark] [--dom-out FILE] [--pdf FILE] [--timeout S]

Reported:
  console       every console message, uncaught exception and browser log entry
                (level, text, source), in order; a clean page has only non-error levels
  requests      URLs the page tried to load other than the file itself (should be none)
  load_ms       navigation start → load event end (Navigation Timing), and
  paint_ms      → the first frame after load (two animation frames), both in ms
  sections      data-section ids in document order
  charts        data-chart names in document order
  tables        {data-table: {"columns": [data-col...], "rows": [[value...]...]}}: a cell's
                data-value, or its text when it has none
  kpis          {data-kpi: data-value}
  metrics       {data-metric: data-value}
  empty         texts of the elements marked data-empty
  screenshot    {"path", "width", "height", "bytes"} when --screenshot was given
  pdf           {"path", "bytes", "pages", "page_sizes_pt"} when --pdf was given
  scheme        the prefers-color-scheme the page was rendered with
Exit status: 0 when the page was loaded and inspected (whatever it contained), 2 when the
browser could not be driven (missing, crashed, timed out).
"""
import argparse
import base64
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

EXTRACT = r"""
(() => {
  const out = {sections: [], charts: [], tables: {}, kpis: {}, metrics: {}, empty: []};
  document.querySelectorAll('[data-section]').forEach(e => out.sections.push(e.dataset.section));
  document.querySelectorAll('[data-chart]').forEach(e => out.charts.push(e.dataset.chart));
  document.querySelectorAll('table[data-table]').forEach(t => {
    const cols = [...t.querySelectorAll('thead th')].map(th => th.dataset.col);
    const rows = [...t.querySelectorAll('tbody tr')].map(tr => [...tr.children].map(td => td.dataset.value ?? td.textContent));
    out.tables[t.dataset.table] = {columns: cols, rows: rows};
  });
  document.querySelectorAll('[data-kpi]').forEach(e => out.kpis[e.dataset.kpi] = e.dataset.value);
  document.querySelectorAll('[data-metric]').forEach(e => out.metrics[e.dataset.metric] = e.dataset.value);
  document.querySelectorAll('[data-empty]').forEach(e => out.empty.push(e.textContent));
  const nav = performance.getEntriesByType('navigation')[0];
  out.load_ms = nav ? nav.loadEventEnd : null;
  out.scroll_height = document.documentElement.scrollHeight;
  return JSON.stringify(out);
})()
"""


class BrowserError(Exception):
    pass


class Chromium:
    """One headless Chromium process driven over --remote-debugging-pipe."""

    def __init__(self, timeout):
        exe = shutil.which("chromium")
        if not exe:
            raise BrowserError("chromium not on PATH (tools/setup installs Debian's chromium)")
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="redline-chromium-")
        cmd_r, cmd_w = os.pipe()   # we write commands; Chromium reads fd 3
        ev_r, ev_w = os.pipe()     # Chromium writes fd 4; we read

        def child_fds():
            # Move the pipe ends to 3 and 4 without clobbering each other.
            a, b = os.dup(cmd_r), os.dup(ev_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio",
                "--disable-dev-shm-usage",
                "--remote-debugging-pipe", f"--user-data-dir={self.profile}", "about:blank"]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, preexec_fn=child_fds, pass_fds=(3, 4))
        os.close(cmd_r)
        os.close(ev_w)
        self.w = os.fdopen(cmd_w, "wb", buffering=0)
        self.r = ev_r
        self.buf = b""
        self.next_id = 0
        self.events = []

    def _read_message(self, deadline):
        import select
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("timed out waiting for Chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed the DevTools pipe (crashed or exited)")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None):
        self.next_id += 1
        mid = self.next_id
        m = {"id": mid, "method": method, "params": params or {}}
        if session:
            m["sessionId"] = session
        self.w.write(json.dumps(m).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            msg = self._read_message(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method, session):
        deadline = time.monotonic() + self.timeout
        for i, e in enumerate(self.events):
            if e.get("method") == method and e.get("sessionId") == session:
                return self.events.pop(i)
        while True:
            msg = self._read_message(deadline)
            if msg.get("method") == method and msg.get("sessionId") == session:
                return msg
            self.events.append(msg)

    def close(self):
        try:
            self.send("Browser.close")
        except BrowserError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.w.close()
        os.close(self.r)
        shutil.rmtree(self.profile, ignore_errors=True)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def inspect(path, args):
    url = "file://" + os.path.abspath(path)
    b = Chromium(args.timeout)
    try:
        target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = b.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            b.send(f"{domain}.enable", session=s)
        b.send("Emulation.setDeviceMetricsOverride",
               {"width": args.width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=s)
        scheme = "dark" if args.dark else "light"
        b.send("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}, session=s)
        b.send("Page.navigate", {"url": url}, session=s)
        b.wait_event("Page.loadEventFired", s)
        # Two animation frames after load: the first frame with the page laid out and painted.
        painted = b.send("Runtime.evaluate", {
            "expression": "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))",
            "awaitPromise": True, "returnByValue": True}, session=s)
        out = json.loads(b.send("Runtime.evaluate", {"expression": EXTRACT, "returnByValue": True}, session=s)["result"]["value"])
        out["paint_ms"] = painted["result"]["value"]
        out["scheme"] = scheme
        if args.dom_out:
            dom = b.send("Runtime.evaluate", {"expression": "'<!DOCTYPE html>\\n' + document.documentElement.outerHTML",
                                              "returnByValue": True}, session=s)["result"]["value"]
            with open(args.dom_out, "w", encoding="utf-8") as f:
                f.write(dom)
        if args.screenshot:
            if args.clip_element:
                box = json.loads(b.send("Runtime.evaluate", {"expression":
                    "JSON.stringify((r => ({top: r.top + window.scrollY, height: r.height}))"
                    f"(document.querySelector({json.dumps(args.clip_element)}).getBoundingClientRect()))",
                    "returnByValue": True}, session=s)["result"]["value"])
                args.clip_top = int(box["top"])
                args.clip_height = int(box["height"]) + 1 if args.clip_height <= 0 else min(args.clip_height, int(box["height"]) + 1)
            top = min(max(args.clip_top, 0), out["scroll_height"] - 1)
            rest = out["scroll_height"] - top
            height = rest if args.clip_height <= 0 else min(args.clip_height, rest)
            shot = b.send("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": top, "width": args.width, "height": height, "scale": args.scale}}, session=s)
            with open(args.screenshot, "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            size = png_size(args.screenshot)
            out["screenshot"] = {"path": args.screenshot, "width": size[0] if size else 0,
                                 "height": size[1] if size else 0, "bytes": os.path.getsize(args.screenshot)}
        if args.pdf:
            # Print as the browser's print dialog would, with the page's own @page size (A4).
            pdf = b.send("Page.printToPDF", {"preferCSSPageSize": True, "printBackground": True}, session=s)
            data = base64.b64decode(pdf["data"])
            with open(args.pdf, "wb") as f:
                f.write(data)
            boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", data)
            out["pdf"] = {"path": args.pdf, "bytes": len(data), "pages": len(boxes),
                          "page_sizes_pt": sorted({(round(float(w), 1), round(float(h), 1)) for w, h in boxes})}
        console, requests = [], []
        for e in b.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                console.append({"level": p.get("type"), "text": text, "source": "console"})
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                console.append({"level": "error", "text": d.get("exception", {}).get("description", d.get("text", "")),
                                "source": "exception"})
            elif m == "Log.entryAdded":
                en = p.get("entry", {})
                console.append({"level": en.get("level"), "text": en.get("text", ""), "source": en.get("source", "log")})
            elif m == "Network.requestWillBeSent":
                u = p.get("request", {}).get("url", "")
                if u != url and not u.startswith("data:"):
                    requests.append(u)
        out["console"] = console
        out["requests"] = requests
        return out
    finally:
        b.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file")
    ap.add_argument("--screenshot")
    ap.add_argument("--clip-element", help="screenshot only the element this CSS selector finds")
    ap.add_argument("--clip-top", type=int, default=0, help="screenshot from this page offset (PX)")
    ap.add_argument("--clip-height", type=int, default=0, help="screenshot only PX of height (0: to the end of the page)")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--dark", action="store_true", help="emulate prefers-color-scheme: dark")
    ap.add_argument("--dom-out", help="write the rendered DOM (outerHTML) here")
    ap.add_argument("--pdf", help="print the page to this PDF (its @page size) and report pages and sizes")
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()
    try:
        out = inspect(args.file, args)
    except (BrowserError, OSError) as e:
        print(f"report_browser.py: {e}", file=sys.stderr)
        sys.exit(2)
    json.dump(out, sys.stdout, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
