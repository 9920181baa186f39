#!/usr/bin/env python3
"""Times GET /metrics on one keep-alive connection: scrape_timing.py PORT COUNT [INTERVAL [PATH]].

INTERVAL (seconds, default 0): the pause after each scrape, to scrape alongside a load test.
PATH (default /metrics): another admin page instead, for a control run (/healthz).

Prints "SERIES BYTES MIN_MS P50_MS P99_MS MAX_MS": the samples of the last scrape (lines that
are not comments), its size, and the wall time of each request from send to last body byte.
"""
import http.client
import sys
import time


def main() -> int:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    path = sys.argv[4] if len(sys.argv) > 4 else "/metrics"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    body = b""
    for _ in range(count):
        start = time.perf_counter()
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        times.append((time.perf_counter() - start) * 1000)
        if response.status != 200:
            print(f"GET {path} answered {response.status}", file=sys.stderr)
            return 1
        if interval > 0:
            time.sleep(interval)
    times.sort()
    series = sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))
    p50 = times[len(times) // 2]
    p99 = times[min(len(times) - 1, (len(times) * 99) // 100)]
    print(f"{series} {len(body)} {times[0]:.3f} {p50:.3f} {p99:.3f} {times[-1]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
