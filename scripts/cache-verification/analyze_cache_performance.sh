#!/usr/bin/env bash
# Verification step 6, "collect and analyse": figures, charts and recommendations. --collect reads
# the recent history (the gateway's own, or Prometheus's when PROMETHEUS_URL is set); --report
# writes the HTML report (REPORT, default cache-report.html). Without either it does both. Other
# arguments go to `keel analyze`.
set -euo pipefail
report="${REPORT:-cache-report.html}"
args=()
write_report=yes
for arg in "$@"; do
  case "$arg" in
    --collect) write_report="${explicit_report:-no}" ;;
    --report) explicit_report=yes; write_report=yes ;;
    *) args+=("$arg") ;;
  esac
done
[ "$write_report" = yes ] && args+=(--report "$report")
[ -n "${PROMETHEUS_URL:-}" ] && args+=(--prometheus "$PROMETHEUS_URL")
exec "$(dirname "$0")/../keel" analyze "${args[@]}"
