#!/usr/bin/env bash
# prometheus.yml, alert rules, alertmanager.yml and Grafana dashboards in MONITORING_DIR.
exec "$(dirname "$0")/../keel" monitoring setup "${MONITORING_DIR:-monitoring}" "$@"
