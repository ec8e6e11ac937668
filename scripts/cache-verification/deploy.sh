#!/usr/bin/env bash
# Staged cache deployment on every instance, as the cache-enable rollout plan (KEEL_ADMIN_TOKEN):
#   --phase=1  read-only routes cached for 10 % of requests
#   --phase=2  read-only routes 100 %, write-affected routes 10 %
#   --phase=3  every route 100 %
# --env=staging|production picks the gateway at STAGING_URL or PRODUCTION_URL (or pass --base-url).
exec "$(dirname "$0")/../keel" deploy "$@"
