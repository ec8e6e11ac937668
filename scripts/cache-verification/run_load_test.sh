#!/usr/bin/env bash
# Verification step 5: sustained load on the gateway (DURATION, PATHS_FILE).
exec "$(dirname "$0")/../keel" loadtest --paths "${PATHS_FILE:-/products/1,/products/2,/products,/products/3/inventory}" --duration "${DURATION:-60s}" "$@"
