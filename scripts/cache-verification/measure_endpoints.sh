#!/usr/bin/env bash
# Verification step 4: each endpoint without and with the cache (PATHS_FILE: a file of paths, or a comma list).
exec "$(dirname "$0")/../keel" measure --paths "${PATHS_FILE:-/products/1,/products,/products/1/inventory,/customers/1}" "$@"
