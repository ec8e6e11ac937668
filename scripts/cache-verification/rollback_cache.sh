#!/usr/bin/env bash
# Rollback: every read route back to 0 % (all requests pass straight to the origin). Needs KEEL_ADMIN_TOKEN.
exec "$(dirname "$0")/../keel" routes enable 0 "$@"
