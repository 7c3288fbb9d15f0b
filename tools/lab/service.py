#!/usr/bin/env python3
"""A small lab service for Redline's namespace fleet: an HTTP/1.1 server whose
handler calls its downstreams in turn (other HTTP services, Redis servers), so the
lab has real caller -> callee chains (A -> B -> redis) for the collector to observe.

Downstreams: --next-http [NAME=]HOST:PORT/PATH and --next-redis [NAME=]HOST:PORT, each
repeatable; every request calls each HTTP downstream, then each Redis one, in the
order given.

Trace context (W3C traceparent, version 00): a request whose traceparent is missing or
invalid starts a fresh trace. With --trace forward (the default) every downstream HTTP
call carries a child traceparent: the same trace id, this request's own (new, random)
span id as parent id, flags 01 (sampled). With --trace drop (a "legacy" service) the
downstream calls carry none. Redis calls never carry one.

--chain-log FILE appends one JSON line per handled request (the lab's chain truth):
  {"service", "method", "path", "trace_id", "span_id", "parent_span_id" (null without a
   valid incoming traceparent), "trace_forwarded": bool, "callees": [{"service", "kind":
   "http"|"redis", "address", "request": "GET /path" or "INCR", "traceparent": sent header
   or null, "status": HTTP status, 1 = Redis OK, 0 = failed}], "start_unix_ns",
   "end_unix_ns", "status"}

Faults are read from a JSON file named by --fault-file on every SIGHUP:
  {"error_rate": 0.1, "delay_ms": 20, "accept_interval_ms": 50}
error_rate: share of requests answered 503 (decided by a counter, not at random,
so a run's error count is exact: every round(1/error_rate)-th request fails).
accept_interval_ms (a connection-pool squeeze, slow accept; 0 = off): the service accepts
at most one connection per interval and closes each after one response, so every request
needs an accept; callers' connections wait unaccepted in the listen backlog (5), and once
it is full their SYNs are dropped and retransmitted.

Standard library only; runs under any python3 >= 3.9.
"""
import argparse
import http.client
import json
import os
import re
import secrets
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
        self.accept_interval = 0.0
        self.last_accept = 0.0
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
            self.accept_interval = float(cfg.get("accept_interval_ms", 0)) / 1000.0

    def pace_accept(self):
        """Called before each accept (main thread): waits out the squeeze's interval since
        the last accept, in short steps so that a SIGHUP ending the squeeze takes effect."""
        while True:
            wait = self.last_accept + self.accept_interval - time.monotonic()
            if self.accept_interval <= 0 or wait <= 0:
                break
            time.sleep(min(wait, 0.05))
        self.last_accept = time.monotonic()

    def squeezed(self):
        return self.accept_interval > 0

    def decide(self):
        """Returns (fail, delay_seconds) for the next request."""
        with self.lock:
            self.counter += 1
            fail = self.error_every > 0 and self.counter % self.error_every == 0
            return fail, self.delay


class RedisClient:
    """One RESP connection per thread."""

    kind = "redis"

    def __init__(self, name, host, port, source):
        self.name, self.address = name, "%s:%d" % (host, port)
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

    kind = "http"

    def __init__(self, name, host, port, path, source):
        self.name, self.address = name, "%s:%d" % (host, port)
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


TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


def parse_downstream(spec, with_path):
    """[NAME=]HOST:PORT[/PATH] -> (name, host, port, path); NAME defaults to HOST:PORT."""
    name = ""
    if "=" in spec.split("/", 1)[0]:
        name, spec = spec.split("=", 1)
    hp, _, path = spec.partition("/")
    h, p = hp.rsplit(":", 1)
    if with_path and not path:
        raise SystemExit("service: %r needs a /PATH" % spec)
    return name or hp, h, int(p), "/" + path


class ChainLog:
    """Appends one JSON line per request; a line is one write() on an O_APPEND file."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644) if path else None

    def write(self, record):
        if self.fd is not None:
            os.write(self.fd, (json.dumps(record, separators=(",", ":")) + "\n").encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--name", required=True)
    ap.add_argument("--listen", required=True, help="ADDRESS:PORT")
    ap.add_argument("--next-http", action="append", default=[], help="[NAME=]HOST:PORT/PATH of an HTTP downstream (repeatable)")
    ap.add_argument("--next-redis", action="append", default=[], help="[NAME=]HOST:PORT of a Redis downstream (repeatable)")
    ap.add_argument("--source", help="source address for outgoing connections (the pod's IP)")
    ap.add_argument("--trace", choices=("forward", "drop"), default="forward",
                    help="forward a child traceparent downstream, or drop it (a legacy service)")
    ap.add_argument("--chain-log", help="append one JSON line per handled request")
    ap.add_argument("--fault-file")
    ap.add_argument("--ready-file", help="written once the socket listens")
    a = ap.parse_args()

    faults = Faults(a.fault_file)
    signal.signal(signal.SIGHUP, lambda *_: faults.load())
    downstreams = [HTTPNext(n, h, p, path, a.source) for n, h, p, path in (parse_downstream(s, True) for s in a.next_http)]
    downstreams += [RedisClient(n, h, p, a.source) for n, h, p, _ in (parse_downstream(s, False) for s in a.next_redis)]
    forward = a.trace == "forward"
    chains = ChainLog(a.chain_log)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # One segment per response: without this, headers and body go out as two
        # writes and Nagle + delayed ACK add 40 ms to every call.
        disable_nagle_algorithm = True

        def log_message(self, *args):
            pass

        def do_GET(self):
            start = time.time_ns()
            m = TRACEPARENT.match(self.headers.get("traceparent", "").strip().lower())
            trace_id, parent = (m.group(1), m.group(2)) if m and m.group(1) != "0" * 32 else (secrets.token_hex(16), None)
            span_id = secrets.token_hex(8)
            child = "00-%s-%s-01" % (trace_id, span_id) if forward else None
            fail, delay = faults.decide()
            if delay:
                time.sleep(delay)
            status = 200
            callees = []
            for d in downstreams:
                sent = child if d.kind == "http" else None
                try:
                    if d.kind == "http":
                        s = d.call({"traceparent": child} if child else {})
                        if s >= 500:
                            status = 502
                    else:
                        d.incr("hits:" + a.name)
                        s = 1
                except Exception:
                    status, s = 502, 0
                callees.append({"service": d.name, "kind": d.kind, "address": d.address,
                                "request": "GET " + d.path if d.kind == "http" else "INCR", "traceparent": sent, "status": s})
            if fail:
                status = 503
            body = (b'{"service": "%s", "status": %d}\n' % (a.name.encode(), status))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if faults.squeezed():
                # The pool turns over: every connection serves one request, then makes room.
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(body)
            chains.write({"service": a.name, "method": self.command, "path": self.path, "trace_id": trace_id, "span_id": span_id, "parent_span_id": parent,
                          "trace_forwarded": forward, "callees": callees,
                          "start_unix_ns": start, "end_unix_ns": time.time_ns(), "status": status})

    host, port = a.listen.rsplit(":", 1)
    class Server(ThreadingHTTPServer):
        daemon_threads = True
        allow_reuse_address = True

        # Under a squeeze accept() is paced: the waiting connections stay in the backlog.
        def get_request(self):
            faults.pace_accept()
            return super().get_request()

    srv = Server((host, int(port)), Handler)
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write("ready\n")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    srv.serve_forever()


if __name__ == "__main__":
    main()
