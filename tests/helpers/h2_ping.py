#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Minimal HTTP/2 over cleartext (h2c, prior knowledge) peer for tests/integ/monitor_app.sh:
only the connection preface, SETTINGS and PING frames (RFC 9113).

  h2_ping.py server HOST PORT          answer the preface and SETTINGS, each PING with a
                                       PING ACK; prints "ready"
  h2_ping.py client HOST PORT N GAP_S  preface + SETTINGS, then N PINGs GAP_S apart; prints
                                       "acks K" when done and holds the connection
Every frame goes out in its own send() with TCP_NODELAY (one segment each).
"""
import socket
import struct
import sys
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, PING, GOAWAY = 0x4, 0x6, 0x7
ACK = 0x1


def frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", stream) + payload


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise EOFError
        buf += d
    return buf


def read_frame(s):
    h = recv_exact(s, 9)
    ln = int.from_bytes(h[0:3], "big")
    return h[3], h[4], recv_exact(s, ln)


def serve(c):
    try:
        if recv_exact(c, len(PREFACE)) != PREFACE:
            return
        c.send(frame(SETTINGS, 0, 0, b""))
        while True:
            ftype, flags, payload = read_frame(c)
            if ftype == SETTINGS and not flags & ACK:
                c.send(frame(SETTINGS, ACK, 0, b""))
            elif ftype == PING and not flags & ACK:
                c.send(frame(PING, ACK, 0, payload))
            elif ftype == GOAWAY:
                return
    except (EOFError, OSError):
        return


def server(host, port):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(16)
    print("ready", flush=True)
    while True:
        c, _ = ls.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def client(host, port, n, gap):
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.send(PREFACE + frame(SETTINGS, 0, 0, b""))
    acked = False
    while not acked:	# the server's SETTINGS, then its ACK of ours
        ftype, flags, _ = read_frame(s)
        if ftype == SETTINGS and not flags & ACK:
            s.send(frame(SETTINGS, ACK, 0, b""))
        elif ftype == SETTINGS:
            acked = True
    print("ready", flush=True)
    time.sleep(gap)
    acks = 0
    for i in range(n):
        data = struct.pack(">Q", 0x6862000000000000 + i)
        s.send(frame(PING, 0, 0, data))
        ftype, flags, payload = read_frame(s)
        if ftype == PING and flags & ACK and payload == data:
            acks += 1
        time.sleep(gap)
    print("acks %d" % acks, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 6 and sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(__doc__)
