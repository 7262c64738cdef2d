#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Minimal MQTT 3.1.1 client for tests/integ/monitor_app.sh: CONNECT with a keepalive of
KEEPALIVE_S seconds, then, as a client library does when it has nothing else to send, a
PINGREQ every KEEPALIVE_S seconds, each answered by the broker's PINGRESP. (mosquitto_sub
refuses keepalives under 5 s.)

  mqtt_ping.py HOST PORT CLIENT_ID KEEPALIVE_S     prints "connected", then "pong N"
"""
import socket
import sys
import time


def main():
    host, port, cid, ka = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), int(sys.argv[4])
    s = socket.create_connection((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    var = b"\x00\x04MQTT\x04\x02" + ka.to_bytes(2, "big")
    payload = len(cid).to_bytes(2, "big") + cid
    body = var + payload
    s.sendall(bytes([0x10, len(body)]) + body)
    if s.recv(4)[:1] != b"\x20":
        sys.exit("mqtt_ping.py: no CONNACK")
    print("connected", flush=True)
    n = 0
    while True:
        time.sleep(ka)
        s.send(b"\xc0\x00")
        if s.recv(2) != b"\xd0\x00":
            sys.exit("mqtt_ping.py: no PINGRESP")
        n += 1
        print("pong %d" % n, flush=True)


if __name__ == "__main__":
    main()
