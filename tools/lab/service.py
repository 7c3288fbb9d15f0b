#!/usr/bin/env python3
"""A small lab service for Redline's namespace fleet: an HTTP/1.1 server whose
handler calls the next hop (another HTTP service or Redis), so the lab has real
caller -> callee chains (A -> B -> redis) for the collector to observe.

Faults are read from a JSON file named by --fault-file on every SIGHUP:
  {"error_rate": 0.1, "delay_ms": 20}
error_rate: share of requests answered 503 (decided by a counter, not at random,
so a run's error count is exact: every round(1/error_rate)-th request fails).

Standard library only; runs under any python3 >= 3.9.
"""
import argparse
import http.client
import json
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Faults:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.error_every = 0
        self.delay = 0.0
        self.counter = 0
        self.load()

    def load(self):
        if not self.path:
            return
        try:
            with open(self.path) as f:
                cfg = json.load(f)
        except FileNotFoundError:
            cfg = {}
        rate = float(cfg.get("error_rate", 0))
        with self.lock:
            self.error_every = round(1 / rate) if rate > 0 else 0
            self.delay = float(cfg.get("delay_ms", 0)) / 1000.0

    def decide(self):
        """Returns (fail, delay_seconds) for the next request."""
        with self.lock:
            self.counter += 1
            fail = self.error_every > 0 and self.counter % self.error_every == 0
            return fail, self.delay


class RedisClient:
    """One RESP connection per thread."""

    def __init__(self, host, port, source):
        self.addr = (host, port)
        self.source = source
        self.local = threading.local()

    def _conn(self):
        c = getattr(self.local, "conn", None)
        if c is None:
            c = socket.create_connection(self.addr, timeout=5, source_address=(self.source, 0) if self.source else None)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.local.conn = c
            self.local.buf = b""
        return c

    def incr(self, key):
        c = self._conn()
        k = key.encode()
        c.sendall(b"*2\r\n$4\r\nINCR\r\n$%d\r\n%s\r\n" % (len(k), k))
        while b"\r\n" not in self.local.buf:
            chunk = c.recv(4096)
            if not chunk:
                self.local.conn = None
                raise ConnectionError("redis closed the connection")
            self.local.buf += chunk
        line, self.local.buf = self.local.buf.split(b"\r\n", 1)
        if not line.startswith(b":"):
            raise RuntimeError("redis: " + line.decode(errors="replace"))
        return int(line[1:])


class HTTPNext:
    """One keep-alive HTTP connection per thread to the next hop."""

    def __init__(self, host, port, path, source):
        self.host, self.port, self.path, self.source = host, port, path, source
        self.local = threading.local()

    def call(self, headers):
        for attempt in range(2):
            c = getattr(self.local, "conn", None)
            if c is None:
                c = http.client.HTTPConnection(self.host, self.port, timeout=5,
                                               source_address=(self.source, 0) if self.source else None)
                self.local.conn = c
            try:
                c.request("GET", self.path, headers=headers)
                r = c.getresponse()
                r.read()
                return r.status
            except (ConnectionError, http.client.HTTPException, OSError):
                c.close()
                self.local.conn = None
                if attempt == 1:
                    raise
        return 599


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--listen", required=True, help="ADDRESS:PORT")
    ap.add_argument("--next-http", help="HOST:PORT/PATH of the next HTTP hop")
    ap.add_argument("--next-redis", help="HOST:PORT of a Redis server")
    ap.add_argument("--source", help="source address for outgoing connections (the pod's IP)")
    ap.add_argument("--fault-file")
    ap.add_argument("--ready-file", help="written once the socket listens")
    a = ap.parse_args()

    faults = Faults(a.fault_file)
    signal.signal(signal.SIGHUP, lambda *_: faults.load())
    nxt = None
    if a.next_http:
        hp, path = a.next_http.split("/", 1)
        h, p = hp.rsplit(":", 1)
        nxt = HTTPNext(h, int(p), "/" + path, a.source)
    redis = None
    if a.next_redis:
        h, p = a.next_redis.rsplit(":", 1)
        redis = RedisClient(h, int(p), a.source)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One segment per response: without this, headers and body go out as two
        # writes and Nagle + delayed ACK add 40 ms to every call.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_GET(self):
            fail, delay = faults.decide()
            if delay:
                time.sleep(delay)
            status = 200
            try:
                if nxt is not None:
                    tp = self.headers.get("traceparent")
                    s = nxt.call({"traceparent": tp} if tp else {})
                    if s >= 500:
                        status = 502
                if redis is not None:
                    redis.incr("hits:" + a.name)
            except Exception:
                status = 502
            if fail:
                status = 503
            body = (b'{"service": "%s", "status": %d}\n' % (a.name.encode(), status))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    host, port = a.listen.rsplit(":", 1)
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.allow_reuse_address = True
    srv = ThreadingHTTPServer((host, int(port)), Handler)
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write("ready\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()


if __name__ == "__main__":
    main()
