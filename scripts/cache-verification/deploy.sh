#!/usr/bin/env bash
# Staged enablement of a running gateway (KEEL_ADMIN_TOKEN): --phase=1 caches 10 % of read traffic, --phase=2 all of it; writes always invalidate.
case "${1:-}" in --phase=1) p=10 ;; --phase=2|--phase=3) p=100 ;; *) echo "usage: $0 --phase=1|2|3 [--base-url URL]" >&2; exit 2 ;; esac; shift; exec "$(dirname "$0")/../keel" routes enable "$p" "$@"
