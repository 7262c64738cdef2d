#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Polling against a persistent connection, for tests/integ/monitor_peers.sh.

  poll_peer.py server HOST PORT           answers each line with "ok\\n" (prints "ready")
  poll_peer.py poll HOST PORT N EVERY_S   N requests, each on a new connection, one every
                                          EVERY_S (prints "done N" when all are closed)
  poll_peer.py keep HOST PORT EVERY_S     one connection, a request every EVERY_S until
                                          killed (prints "ready" once connected)
"""
import socket, sys, threading, time


def serve(host, port):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(128)
    print("ready", flush=True)

    def one(c):
        with c:
            f = c.makefile("rb")
            for _ in f:
                c.sendall(b"ok\n")

    while True:
        c, _ = ls.accept()
        threading.Thread(target=one, args=(c,), daemon=True).start()


def request(s, f):
    s.sendall(b"ping\n")
    if f.readline() != b"ok\n":
        raise SystemExit("no answer")


def poll(host, port, n, every):
    for _ in range(n):
        t = time.monotonic()
        s = socket.create_connection((host, port))
        f = s.makefile("rb")
        request(s, f)
        f.close()
        s.close()
        time.sleep(max(0.0, every - (time.monotonic() - t)))
    print("done %d" % n, flush=True)


def keep(host, port, every):
    s = socket.create_connection((host, port))
    f = s.makefile("rb")
    print("ready", flush=True)
    while True:
        request(s, f)
        time.sleep(every)


if __name__ == "__main__":
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "server":
        serve(host, port)
    elif cmd == "poll":
        poll(host, port, int(sys.argv[4]), float(sys.argv[5]))
    else:
        keep(host, port, float(sys.argv[4]))
