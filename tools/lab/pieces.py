#!/usr/bin/env python3
"""tools/lab/pieces.py — a client that writes a byte stream in exactly the pieces it
is given (one send per piece, Nagle off), so tests control how requests fall into
segments: several in one, one split across many.

    pieces.py HOST PORT PIECES_FILE [UNTIL]

PIECES_FILE holds one piece per line, hex-encoded. After the last piece the client
reads until the bytes UNTIL (hex) have arrived, or until the server closes when
UNTIL is absent, then prints the number of bytes it received and exits 0; it exits 1
if the server closed before UNTIL arrived or nothing came within 20 s.
"""
import socket
import sys


def main() -> int:
    host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    until = bytes.fromhex(sys.argv[4]) if len(sys.argv) > 4 else None
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
    s.close()
    print(len(got))
    return 0 if until is None or until in got else 1


if __name__ == "__main__":
    sys.exit(main())
