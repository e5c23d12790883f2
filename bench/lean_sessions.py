#!/usr/bin/env python3
"""Holds N idle SMTP sessions open, for bench/lean.sh.

lean_sessions.py PORT N: opens N connections to 127.0.0.1:PORT, reads each greeting, prints
"ready GREETED N" on stdout, then holds every session silent until stdin reaches end of file,
and closes them all (QUIT not sent: the server sees the connections close).
"""

import socket
import sys


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    conns, greeted = [], 0
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=15)
        conns.append(s)
        try:
            if s.recv(512).startswith(b"220"):
                greeted += 1
        except OSError:
            pass
    print(f"ready {greeted} {n}", flush=True)
    sys.stdin.read()
    for s in conns:
        s.close()


if __name__ == "__main__":
    main()
