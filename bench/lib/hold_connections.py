#!/usr/bin/env python3
"""Opens COUNT keep-alive connections and keeps them idle: hold_connections.py PORT COUNT [PATH].

Each connection to 127.0.0.1:PORT sends one `GET PATH` (default /hello) and reads the whole
response (status 200 and Content-Length required), then stays open with nothing more to say.
At most PARALLEL connections (environment HOLD_PARALLEL, default 256) are being set up at a
time: a burst of thousands of SYNs would overflow the server's accept backlog, and the
retransmissions a second later would be measured as slowness that is not the server's.

Prints "ready held=H failed=F seconds=S" on stdout once every connection is set up or has
failed (the first few failures are described on stderr), then holds them until stdin reaches
end of file or SIGTERM arrives, and prints "done held=H closed_by_server=C" before closing
them: C counts connections the server closed while they were held, which an idle timeout or a
connection limit would do and which makes a memory figure taken meanwhile worthless.
Exits 1 when the setup did not finish within HOLD_TIMEOUT seconds (default 120).
"""
import errno
import os
import selectors
import signal
import socket
import sys
import time

MAX_REPORTED_FAILURES = 5


class Stop(Exception):
    pass


def on_term(_signum, _frame):
    raise Stop()


class Conn:
    __slots__ = ("sock", "state", "request", "sent", "received")

    def __init__(self, sock, request):
        self.sock = sock
        self.state = "connecting"
        self.request = request
        self.sent = 0
        self.received = b""


def response_complete(data):
    """None while more bytes are needed, else "" for a good response or the reason it is not."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None if len(data) < 65536 else "response head over 64 KiB"
    lines = data[:head_end].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        return "not an HTTP/1.x response: %r" % lines[0][:80]
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value == b"close":
            return "the server answered Connection: close"
    if length is None:
        return "no Content-Length in the response"
    if len(data) < head_end + 4 + length:
        return None
    if parts[1] != b"200":
        return "status %s" % parts[1].decode(errors="replace")
    if len(data) > head_end + 4 + length:
        return "more bytes than one response"
    return ""


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    port, count = int(sys.argv[1]), int(sys.argv[2])
    path = sys.argv[3] if len(sys.argv) > 3 else "/hello"
    parallel = int(os.environ.get("HOLD_PARALLEL", "256"))
    timeout = float(os.environ.get("HOLD_TIMEOUT", "120"))
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % (path, port)).encode()
    signal.signal(signal.SIGTERM, on_term)

    sel = selectors.DefaultSelector()
    stdin_fd = sys.stdin.fileno()
    sel.register(stdin_fd, selectors.EVENT_READ, None)
    held = {}  # fd -> socket, the connections set up and idle
    failed = 0
    closed_by_server = 0
    failures = []
    started = 0
    in_setup = 0
    stdin_open = True
    begin = time.monotonic()

    def fail(conn, reason):
        nonlocal failed, in_setup
        failed += 1
        in_setup -= 1
        if len(failures) < MAX_REPORTED_FAILURES:
            failures.append(reason)
        sel.unregister(conn.sock)
        conn.sock.close()

    def step(conn, mask):
        nonlocal in_setup, closed_by_server
        sock = conn.sock
        if conn.state == "held":
            # An idle connection only becomes readable when the server closes it (or writes
            # something it should not): either way it is no longer a held connection.
            sel.unregister(sock)
            del held[sock.fileno()]
            sock.close()
            closed_by_server += 1
            return
        if conn.state == "connecting":
            error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                fail(conn, "connect: " + os.strerror(error))
                return
            conn.state = "sending"
        if conn.state == "sending":
            try:
                conn.sent += sock.send(conn.request[conn.sent:])
            except BlockingIOError:
                return
            except OSError as e:
                fail(conn, "send: " + e.strerror)
                return
            if conn.sent == len(conn.request):
                conn.state = "reading"
                sel.modify(sock, selectors.EVENT_READ, conn)
            return
        try:
            chunk = sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            fail(conn, "recv: " + e.strerror)
            return
        if not chunk:
            fail(conn, "the server closed the connection before answering")
            return
        conn.received += chunk
        verdict = response_complete(conn.received)
        if verdict is None:
            return
        if verdict:
            fail(conn, verdict)
            return
        conn.state = "held"
        conn.received = b""
        held[sock.fileno()] = sock
        in_setup -= 1

    def read_stdin():
        nonlocal stdin_open
        try:
            data = os.read(stdin_fd, 4096)
        except OSError:
            data = b""
        if not data:
            stdin_open = False
            sel.unregister(stdin_fd)

    try:
        while started < count or in_setup > 0:
            if not stdin_open:
                raise Stop()
            if time.monotonic() - begin > timeout:
                print("setup did not finish within %g s: %d held, %d failed, %d pending"
                      % (timeout, len(held), failed, in_setup), file=sys.stderr)
                return 1
            while started < count and in_setup < parallel:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setblocking(False)
                started += 1
                in_setup += 1
                conn = Conn(sock, request)
                sel.register(sock, selectors.EVENT_WRITE, conn)
                code = sock.connect_ex(("127.0.0.1", port))
                if code not in (0, errno.EINPROGRESS):
                    fail(conn, "connect: " + os.strerror(code))
            for key, mask in sel.select(timeout=1.0):
                if key.data is None:
                    read_stdin()
                else:
                    step(key.data, mask)
        for reason in failures:
            print("failed: " + reason, file=sys.stderr)
        print("ready held=%d failed=%d seconds=%.2f"
              % (len(held), failed, time.monotonic() - begin), flush=True)
        while stdin_open:
            for key, mask in sel.select(timeout=None):
                if key.data is None:
                    read_stdin()
                else:
                    step(key.data, mask)
    except Stop:
        pass
    print("done held=%d closed_by_server=%d" % (len(held), closed_by_server), flush=True)
    for sock in held.values():
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
