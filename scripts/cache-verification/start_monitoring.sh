#!/usr/bin/env bash
# Start monitoring: Prometheus and Alertmanager from the Debian packages
# (prometheus, prometheus-alertmanager), on loopback, with the configuration `keel monitoring
# setup` writes into MONITORING_DIR (written first when it is not there). Prints where they answer
# and how to import the Grafana dashboards. Stop them with: kill $(cat "$MONITORING_DIR"/*.pid)
set -euo pipefail
dir="${MONITORING_DIR:-monitoring}"
prometheus_port="${PROMETHEUS_PORT:-9090}"
alertmanager_port="${ALERTMANAGER_PORT:-9093}"
keel="$(dirname "$0")/../keel"
alertmanager=$(command -v prometheus-alertmanager || command -v alertmanager || true)
if ! command -v prometheus >/dev/null || [ -z "$alertmanager" ]; then
  echo "Prometheus and Alertmanager are not installed: apt-get install prometheus prometheus-alertmanager" >&2
  exit 2
fi
if [ ! -f "$dir/prometheus.yml" ]; then
  "$keel" monitoring setup "$dir" --alertmanager "127.0.0.1:$alertmanager_port" "$@"
fi
mkdir -p "$dir/prometheus-data" "$dir/alertmanager-data"
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/prometheus-data" \
  --web.listen-address="127.0.0.1:$prometheus_port" > "$dir/prometheus.log" 2>&1 &
echo $! > "$dir/prometheus.pid"
"$alertmanager" --config.file="$dir/alertmanager.yml" --storage.path="$dir/alertmanager-data" \
  --web.listen-address="127.0.0.1:$alertmanager_port" --cluster.listen-address= \
  > "$dir/alertmanager.log" 2>&1 &
echo $! > "$dir/alertmanager.pid"
for url in "http://127.0.0.1:$prometheus_port/-/ready" "http://127.0.0.1:$alertmanager_port/-/ready"; do
  for _ in $(seq 1 50); do
    if curl -fsS "$url" >/dev/null 2>&1; then break; fi
    sleep 0.2
  done
  curl -fsS "$url" >/dev/null 2>&1 || { echo "not ready: $url (see $dir/*.log)" >&2; exit 1; }
done
cat <<TEXT
Prometheus    http://127.0.0.1:$prometheus_port   (rules: $dir/keel-rules.yml; log: $dir/prometheus.log)
Alertmanager  http://127.0.0.1:$alertmanager_port   (routing: $dir/alertmanager.yml)
Grafana       import $dir/grafana/*.json (Dashboards → New → Import), data source: this Prometheus
Stop them     kill \$(cat $dir/prometheus.pid $dir/alertmanager.pid)
TEXT
