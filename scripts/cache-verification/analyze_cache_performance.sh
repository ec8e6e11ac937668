#!/usr/bin/env bash
# Verification step 6: figures, charts and recommendations as an HTML report (REPORT).
exec "$(dirname "$0")/../keel" analyze --report "${REPORT:-cache-report.html}" "$@"
