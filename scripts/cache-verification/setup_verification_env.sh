#!/usr/bin/env bash
# Verification step 1, "prepare the environment": checks what the next steps need and says what
# to do for each missing piece. Node.js 20.19+, the dependencies (npm ci when missing), Redis at
# REDIS_URL (default redis://127.0.0.1:6379), and a gateway at BASE_URL (default
# http://127.0.0.1:8080). Exits 1 when something is missing.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
redis_url="${REDIS_URL:-redis://127.0.0.1:6379}"
base_url="${BASE_URL:-http://127.0.0.1:8080}"
missing=0
ok() { printf '  ok       %s\n' "$1"; }
todo() { printf '  missing  %s\n           %s\n' "$1" "$2"; missing=1; }

node_version=$(node -p 'process.versions.node' 2>/dev/null || echo none)
if node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; then
  ok "Node.js $node_version"
else
  todo "Node.js 20.19 or later (found: $node_version)" "install Node.js 20.19+"
fi
if [ ! -d "$root/node_modules" ]; then
  (cd "$root" && npm ci --no-audit --no-fund >/dev/null) && ok "dependencies (npm ci)" || todo "dependencies" "run npm ci in $root"
else
  ok "dependencies"
fi
redis_hostport="${redis_url#*://}"; redis_hostport="${redis_hostport#*@}"; redis_hostport="${redis_hostport%%/*}"
if (exec 3<>"/dev/tcp/${redis_hostport%%:*}/${redis_hostport##*:}") 2>/dev/null; then
  ok "Redis at ${redis_hostport}"
else
  todo "Redis at ${redis_hostport} (REDIS_URL)" "start it (redis-server --daemonize yes), or set REDIS_URL; without it the gateway runs L1 only"
fi
if curl -fsS "$base_url/health/live" >/dev/null 2>&1; then
  ok "a gateway at $base_url"
else
  todo "a gateway at $base_url (BASE_URL)" "start one: npm start (the bundled sample API), or keel serve --origin … --routes …"
fi
[ "$missing" -eq 0 ] && echo "ready for verify_redis_connection.sh" || exit 1
