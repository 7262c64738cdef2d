#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Test client for tests/integ/monitor.sh and bpf_fallback.sh: one connection to
127.0.0.1:PORT that ends the way MODE says, for the monitor's close causes.

  closer.py linger0 PORT -
      send a byte, then close with SO_LINGER 0 (a reset sent); print "done".
  closer.py plain|uto|ka PORT FLAG
      print "conn LPORT", wait until the file FLAG exists (the test drops the server's
      segments meanwhile), then: plain sends data into the black hole (retransmission
      timeout), uto the same with TCP_USER_TIMEOUT 1500 ms, ka sends nothing and lets
      keepalive 1/1/3 time out; print "error ERRNO" when the connection dies.
Then it sleeps, to be killed by the test.
"""
import os
import socket
import struct
import sys
import time

mode, port = sys.argv[1], int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
if mode == "linger0":
    s.send(b"x")
    time.sleep(0.3)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    print("done", flush=True)
    time.sleep(60)
if mode == "ka":
    for o, v in ((socket.TCP_KEEPIDLE, 1), (socket.TCP_KEEPINTVL, 1), (socket.TCP_KEEPCNT, 3)):
        s.setsockopt(socket.IPPROTO_TCP, o, v)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
if mode == "uto":
    s.setsockopt(socket.IPPROTO_TCP, 18, 1500)  # TCP_USER_TIMEOUT
print("conn %d" % s.getsockname()[1], flush=True)
while not os.path.exists(sys.argv[3]):
    time.sleep(0.05)
if mode != "ka":
    s.send(b"y" * 100)
try:
    s.recv(10)
except OSError as e:
    print("error %d" % e.errno, flush=True)
time.sleep(60)
