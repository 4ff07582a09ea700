#!/usr/bin/env bash
# Measures the memory and CPU of andon and of Prometheus 2.42 (Debian's
# package, no Alertmanager) while both scrape the same node_exporter every
# second and evaluate one equivalent alert rule, for DURATION seconds.
#
# Usage: bench/footprint.sh [DURATION]   (default 60; needs a release build:
#        cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
duration="${1:-60}"
andon="${CARGO_TARGET_DIR:-target}/release/andon"
work="$(mktemp -d)"
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
exporter_port=$(port); andon_port=$(port); prometheus_port=$(port)

prometheus-node-exporter --web.listen-address="127.0.0.1:$exporter_port" >/dev/null 2>&1 &
pids+=($!)

cat > "$work/rules.toml" <<RULES
[[rule]]
name = "HighLoad"
expr = 'node_load1'
yellow = { above = 4 }
red = { above = 8 }
RULES
cat > "$work/andon.toml" <<CONFIG
[global]
scrape_interval = "1s"
scrape_timeout = "1s"
listen = "127.0.0.1:$andon_port"
rule_files = ["rules.toml"]

[[target]]
name = "node"
url = "http://127.0.0.1:$exporter_port/metrics"
CONFIG
cat > "$work/prometheus-rules.yml" <<RULES
groups:
  - name: load
    rules:
      - alert: HighLoad
        expr: node_load1 > 4
RULES
cat > "$work/prometheus.yml" <<CONFIG
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$work/prometheus-rules.yml"]
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:$exporter_port"]
CONFIG

"$andon" run --config "$work/andon.toml" 2>/dev/null &
andon_pid=$!; pids+=($andon_pid)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
    --web.listen-address="127.0.0.1:$prometheus_port" >/dev/null 2>&1 &
prometheus_pid=$!; pids+=($prometheus_pid)

sleep "$duration"

# Peak and current resident memory (kB) and CPU seconds (user + system).
report() {
    local name=$1 pid=$2
    local hwm rss ticks
    hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    ticks=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    echo "$name peak_rss_kb=$hwm rss_kb=$rss cpu_seconds=$(echo "scale=2; $ticks / $(getconf CLK_TCK)" | bc)"
}
report andon "$andon_pid"
report prometheus "$prometheus_pid"
