#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
# conn_flicker.py HOST PORT N SECONDS: a listener on HOST:PORT that closes what its peer
# closes, and N client connections to it; for SECONDS one of them at random is closed and
# opened again every millisecond, so that connections keep closing between a listing and
# whatever acts on it. Prints "ready" once the N are up, then "replaced M" at the end.
import random, selectors, socket, sys, threading, time
host, port, n, secs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, port)); ls.listen(1024)
def serve():
    sel = selectors.DefaultSelector(); sel.register(ls, selectors.EVENT_READ)
    while True:
        for k, _ in sel.select():
            if k.fileobj is ls:
                c, _ = ls.accept(); sel.register(c, selectors.EVENT_READ)
            else:
                try: d = k.fileobj.recv(64)
                except OSError: d = b""
                if not d: sel.unregister(k.fileobj); k.fileobj.close()
threading.Thread(target=serve, daemon=True).start()
conns = []
for _ in range(n):
    conns.append(socket.create_connection((host, port)))
print("ready", flush=True)
end = time.time() + secs; m = 0
while time.time() < end:
    i = random.randrange(n)
    conns[i].close(); conns[i] = socket.create_connection((host, port)); m += 1
    time.sleep(0.001)
print("replaced", m, flush=True)
