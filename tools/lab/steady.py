#!/usr/bin/env python3
"""A long-lived lab caller whose connections predate the collectors, as a service's connection
pool does on a host where Redline is deployed after the services have been running for weeks.

It opens --connections keep-alive HTTP/1.1 connections to --target from --source (a pod address,
so the metadata snapshot can name this caller), sends one warm-up request on each, writes
--ready-file, then waits for --go-file to appear and sends --requests requests on each connection
(no new connection is ever opened: a broken one is an error). Its own count goes to --out as JSON:
{"connections": N, "requests": sent after go, "ok": 2xx answers}. Standard library only.
"""
import argparse
import http.client
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", required=True, help="HOST:PORT/PATH")
    ap.add_argument("--source", required=True, help="source address of the connections")
    ap.add_argument("--connections", type=int, default=2)
    ap.add_argument("--requests", type=int, default=100, help="requests per connection after --go-file appears")
    ap.add_argument("--ready-file", required=True)
    ap.add_argument("--go-file", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--timeout", type=float, default=120, help="seconds to wait for --go-file")
    a = ap.parse_args()
    hp, path = a.target.split("/", 1)
    host, port = hp.rsplit(":", 1)
    conns = [http.client.HTTPConnection(host, int(port), timeout=10, source_address=(a.source, 0))
             for _ in range(a.connections)]

    def call(c):
        c.request("GET", "/" + path)
        r = c.getresponse()
        r.read()
        return r.status

    for c in conns:
        call(c)
    with open(a.ready_file, "w") as f:
        f.write("ready\n")
    deadline = time.monotonic() + a.timeout
    while not os.path.exists(a.go_file):
        if time.monotonic() > deadline:
            sys.exit("steady: no go file within %s s" % a.timeout)
        time.sleep(0.05)
    sent = ok = 0
    for _ in range(a.requests):
        for c in conns:
            status = call(c)
            sent += 1
            ok += 200 <= status < 300
    json.dump({"connections": a.connections, "requests": sent, "ok": ok}, open(a.out, "w"))


if __name__ == "__main__":
    main()
