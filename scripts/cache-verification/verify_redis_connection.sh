#!/usr/bin/env bash
# Verification step 2: verify the Redis connection (and its latency).
exec "$(dirname "$0")/../keel" cache verify "$@"
