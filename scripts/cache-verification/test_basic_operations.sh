#!/usr/bin/env bash
# Verification step 3: basic cache operations (set/get/delete/tags/patterns) across two instances.
exec "$(dirname "$0")/../keel" cache verify "$@"
