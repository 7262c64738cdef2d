#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Minimal plaintext WebSocket peer (RFC 6455) for tests/integ/monitor_app.sh.

  ws_ping.py server HOST PORT          handshake, answer each ping with a pong; "ready"
  ws_ping.py client HOST PORT N GAP_S  handshake, then N pings GAP_S apart (masked, as
                                       clients must), each in its own segment; prints
                                       "pongs K" when done and holds the connection
Each frame goes out in one send() with TCP_NODELAY, so that it starts its own segment,
which is what the monitor's signature check looks at.
"""
import base64
import hashlib
import os
import socket
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def recv_until(s, marker):
    buf = b""
    while marker not in buf:
        d = s.recv(4096)
        if not d:
            raise EOFError
        buf += d
    return buf


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise EOFError
        buf += d
    return buf


def read_frame(s):
    h = recv_exact(s, 2)
    op, ln = h[0] & 0x0F, h[1] & 0x7F
    masked = h[1] & 0x80
    if ln == 126:
        ln = int.from_bytes(recv_exact(s, 2), "big")
    elif ln == 127:
        ln = int.from_bytes(recv_exact(s, 8), "big")
    mask = recv_exact(s, 4) if masked else b"\0\0\0\0"
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(recv_exact(s, ln)))
    return op, data


def serve(c):
    try:
        req = recv_until(c, b"\r\n\r\n").decode("latin-1")
        key = [l.split(":", 1)[1].strip() for l in req.split("\r\n")
               if l.lower().startswith("sec-websocket-key:")][0]
        acc = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % acc).encode())
        while True:
            op, data = read_frame(c)
            if op == 0x9:
                c.send(bytes([0x8A, len(data)]) + data)
            elif op == 0x8:
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
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(("GET /chat HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n" % (host, port, key)).encode())
    resp = recv_until(s, b"\r\n\r\n")
    if b" 101 " not in resp.split(b"\r\n")[0]:
        sys.exit("ws_ping.py: handshake failed")
    print("ready", flush=True)
    pongs = 0
    for i in range(n):
        payload = b"hb%d" % i
        mask = os.urandom(4)
        s.send(bytes([0x89, 0x80 | len(payload)]) + mask +
               bytes(b ^ mask[k % 4] for k, b in enumerate(payload)))
        op, data = read_frame(s)
        if op == 0xA and data == payload:
            pongs += 1
        time.sleep(gap)
    print("pongs %d" % pongs, flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) >= 6 and sys.argv[1] == "client":
        client(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
    else:
        sys.exit(__doc__)
