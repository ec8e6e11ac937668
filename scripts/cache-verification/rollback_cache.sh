#!/usr/bin/env bash
# Rollback: the cache deployment's rollout rolled back, every read route straight to the origin,
# on every instance (KEEL_ADMIN_TOKEN). --phase=N first checks the deployment is at phase N.
exec "$(dirname "$0")/../keel" deploy --rollback "$@"
