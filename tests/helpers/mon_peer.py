#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Test peer for tests/integ/monitor*.sh: TCP connections with scripted traffic.

  mon_peer.py server HOST PORT [--echo]
      listen, print "ready", accept and hold every connection (--echo: send back what
      arrives); runs until killed.
  mon_peer.py client HOST PORT [--ka IDLE,INTVL,CNT] [--busy MS] [--gaps S,S,...]
                              [--hold S] [--n N] [--uto MS]
      open N connections (keepalive set before connect when --ka), print "conn LPORT" for
      each and "ready"; then --busy: one byte every MS; --gaps: one byte, then after each
      gap (seconds) one more byte (the idle histogram's scripted gaps); print "done" and
      hold the connections for --hold seconds (default: until killed), then close them.
Output is line-buffered, so that the shell can poll the file.
"""
import socket
import sys
import time
import threading


def server(host, port, echo):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(128)
    print("ready", flush=True)
    held = []

    def pump(c):
        while True:
            try:
                d = c.recv(65536)
            except OSError:
                return
            if not d:
                return
            if echo:
                try:
                    c.sendall(d)
                except OSError:
                    return

    while True:
        c, _ = ls.accept()
        held.append(c)
        threading.Thread(target=pump, args=(c,), daemon=True).start()


def client(host, port, args):
    ka = None
    busy = gaps = hold = uto = None
    n = 1
    i = 0
    while i < len(args):
        a = args[i]
        v = args[i + 1]
        i += 2
        if a == "--ka":
            ka = [int(x) for x in v.split(",")]
        elif a == "--busy":
            busy = float(v) / 1000
        elif a == "--gaps":
            gaps = [float(x) for x in v.split(",")]
        elif a == "--hold":
            hold = float(v)
        elif a == "--n":
            n = int(v)
        elif a == "--uto":
            uto = int(v)
        else:
            sys.exit("mon_peer.py: unknown option " + a)
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    conns = []
    for _ in range(n):
        s = socket.socket(fam, socket.SOCK_STREAM)
        if ka:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, ka[0])
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, ka[1])
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, ka[2])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if uto is not None:
            s.setsockopt(socket.IPPROTO_TCP, 18, uto)  # TCP_USER_TIMEOUT
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect((host, port))
        conns.append(s)
        print("conn %d" % s.getsockname()[1], flush=True)
    print("ready", flush=True)
    if gaps is not None:
        for s in conns:
            s.send(b"g")
        for g in gaps:
            time.sleep(g)
            for s in conns:
                s.send(b"g")
    if busy is not None:
        end = time.monotonic() + (hold if hold is not None else 1e9)
        while time.monotonic() < end:
            for s in conns:
                s.send(b"b")
            time.sleep(busy)
        print("done", flush=True)
        return
    print("done", flush=True)
    if hold is None:
        while True:
            time.sleep(3600)
    time.sleep(hold)
    for s in conns:
        s.close()


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "server":
        server(host, port, "--echo" in sys.argv[4:])
    elif mode == "client":
        client(host, port, sys.argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
