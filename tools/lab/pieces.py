#!/usr/bin/env python3
"""tools/lab/pieces.py — a client that writes a byte stream in exactly the pieces it
is given (one send per piece, Nagle off), so tests control how requests fall into
segments: several in one, one split across many.

    pieces.py HOST PORT PIECES_FILE [UNTIL] [--linger SECONDS]

PIECES_FILE holds one piece per line, hex-encoded. After the last piece the client
reads until the bytes UNTIL (hex) have arrived, or until the server closes when
UNTIL is absent (or empty), then prints the number of bytes it received and exits 0;
it exits 1 if the server closed before UNTIL arrived or nothing came within 20 s.
--linger keeps the socket open that long before closing it: the server's FIN is then
acknowledged on its own and the client's FIN comes later (a traffic shape: a server
that closes first becomes a timewait socket before the client's FIN arrives).
"""
import socket
import sys
import time


def main() -> int:
    args = sys.argv[1:]
    linger = 0.0
    if "--linger" in args:
        i = args.index("--linger")
        linger = float(args[i + 1])
        del args[i:i + 2]
    host, port, path = args[0], int(args[1]), args[2]
    until = bytes.fromhex(args[3]) if len(args) > 3 and args[3] else None
    with open(path) as f:
        pieces = [bytes.fromhex(line.strip()) for line in f if line.strip()]
    s = socket.create_connection((host, port), timeout=20)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for p in pieces:
        s.sendall(p)
    got = bytearray()
    while until is None or until not in got:
        d = s.recv(1 << 16)
        if not d:
            break
        got += d
    time.sleep(linger)
    s.close()
    print(len(got))
    return 0 if until is None or until in got else 1


if __name__ == "__main__":
    sys.exit(main())
