#!/usr/bin/env python3
"""Time from a value crossing a threshold to the webhook, andon against
Prometheus 2.42 + Alertmanager (Debian's packages), in the same run.

Both scrape the same prometheus-node-exporter every second. The gauge comes
from node_exporter's textfile collector. Each round writes a value above the
threshold, records when each webhook receives its firing notification, then
writes a value below it and waits for both resolutions. Everything listens on
127.0.0.1 and stops at the end.

Usage: cargo build --release && bench/latency.py [ROUNDS]   (default 15)
"""

import http.server
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 15
ANDON = os.path.join(os.environ.get("CARGO_TARGET_DIR", "target"), "release", "andon")
WAIT_SECONDS = 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Received:
    """Webhook arrivals: (path, status, time)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.events = []

    def add(self, path, status):
        with self.lock:
            self.events.append((path, status, time.monotonic()))

    def first_after(self, path, status, since):
        with self.lock:
            for p, s, t in self.events:
                if p == path and s == status and t >= since:
                    return t
        return None


def start_receiver(received):
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.add(self.path, body.get("status"))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.server_address[1]


def write_gauge(folder, value):
    staging = os.path.join(folder, "g.prom.tmp")
    with open(staging, "w") as f:
        f.write(f"bench_gauge {value}\n")
    os.rename(staging, os.path.join(folder, "g.prom"))


def wait_for(received, path, status, since):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        arrived = received.first_after(path, status, since)
        if arrived is not None:
            return arrived
        time.sleep(0.005)
    return None


def write_configs(work, ports):
    with open(os.path.join(work, "rules.toml"), "w") as f:
        f.write('[[rule]]\nname = "BenchGauge"\nexpr = "bench_gauge"\nclear_for = "0s"\nred = { above = 0.5 }\n')
    with open(os.path.join(work, "andon.toml"), "w") as f:
        f.write(
            f'[global]\nscrape_interval = "1s"\nscrape_timeout = "1s"\n'
            f'listen = "127.0.0.1:{ports["andon"]}"\nrule_files = ["rules.toml"]\n\n'
            f'[[target]]\nname = "node"\nurl = "http://127.0.0.1:{ports["exporter"]}/metrics"\n\n'
            f'[[receiver]]\nname = "hook"\nkind = "webhook"\nurl = "http://127.0.0.1:{ports["receiver"]}/andon"\n'
        )
    with open(os.path.join(work, "alerts.yml"), "w") as f:
        f.write("groups:\n  - name: bench\n    rules:\n      - alert: BenchGauge\n        expr: bench_gauge > 0.5\n")
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files: ['{work}/alerts.yml']\n"
            f"alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{ports['alertmanager']}']\n"
            f"scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{ports['exporter']}']\n"
        )
    with open(os.path.join(work, "alertmanager.yml"), "w") as f:
        f.write(
            "route:\n  receiver: hook\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n"
            f"receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://127.0.0.1:{ports['receiver']}/am\n        send_resolved: true\n"
        )


def start_processes(work, ports):
    textfiles = os.path.join(work, "textfiles")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    return [
        subprocess.Popen(["prometheus-node-exporter", f"--web.listen-address=127.0.0.1:{ports['exporter']}",
                          "--collector.disable-defaults", "--collector.textfile",
                          f"--collector.textfile.directory={textfiles}"], **quiet),
        subprocess.Popen(["prometheus-alertmanager", f"--config.file={work}/alertmanager.yml",
                          f"--storage.path={work}/am", f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                          "--cluster.listen-address="], **quiet),
        subprocess.Popen(["prometheus", f"--config.file={work}/prometheus.yml", f"--storage.tsdb.path={work}/tsdb",
                          f"--web.listen-address=127.0.0.1:{ports['prometheus']}"], **quiet),
        subprocess.Popen([ANDON, "run", "--config", f"{work}/andon.toml"], **quiet),
    ]


def measure(received, textfiles):
    andon, peer = [], []
    for _ in range(ROUNDS):
        # A random pause, so a write lands anywhere within the scrape
        # interval instead of at the same phase every round.
        time.sleep(random.uniform(0, 1))
        since = time.monotonic()
        write_gauge(textfiles, 1)
        got_andon = wait_for(received, "/andon", "firing", since)
        got_peer = wait_for(received, "/am", "firing", since)
        if got_andon is not None:
            andon.append(got_andon - since)
        if got_peer is not None:
            peer.append(got_peer - since)
        since = time.monotonic()
        write_gauge(textfiles, 0)
        wait_for(received, "/andon", "resolved", since)
        wait_for(received, "/am", "resolved", since)
    return andon, peer


def describe(name, values):
    if not values:
        return f"{name}: no notification arrived"
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    return f"{name}: n={len(values)} median={statistics.median(values):.3f}s p90={p90:.3f}s max={values[-1]:.3f}s"


def main():
    received = Received()
    ports = {name: free_port() for name in ("exporter", "andon", "prometheus", "alertmanager")}
    ports["receiver"] = start_receiver(received)
    with tempfile.TemporaryDirectory() as work:
        textfiles = os.path.join(work, "textfiles")
        os.mkdir(textfiles)
        write_gauge(textfiles, 0)
        write_configs(work, ports)
        processes = start_processes(work, ports)
        try:
            time.sleep(5)
            andon, peer = measure(received, textfiles)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=10)
    print(describe("andon", andon))
    print(describe("prometheus+alertmanager", peer))
    if andon and peer:
        print(f"ratio of medians (andon / peer): {statistics.median(andon) / statistics.median(peer):.2f}")


if __name__ == "__main__":
    main()
