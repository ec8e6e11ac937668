#!/usr/bin/env bash
# Health and figures against the thresholds table; exit 1 when high or critical.
exec "$(dirname "$0")/../keel" status "$@"
