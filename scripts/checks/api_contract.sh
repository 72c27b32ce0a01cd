#!/usr/bin/env bash
# The HTTP API against its own published schema: train a small model, serve it on loopback, and let Schemathesis (a
# property-based client that reads /openapi.json) send bounded generated requests with every check on. Exits non-zero
# on any failure. Schemathesis is installed into .build/schemathesis-venv from PyPI the first time.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=.build/release/tandem
venv=.build/schemathesis-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "schemathesis>=4,<5"
fi
work=$(mktemp -d)
port=${PORT:-18081}
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
$bin train --model two-tower --dataset synthetic:users=200,items=80,interactions=3000,clusters=4 --epochs 2 \
  --embedding-dim 8 --ks 10,20 --output "$work/model" --quiet >/dev/null
# Admin requests (reload, PUT/DELETE /v1/items) carry the bearer token; Schemathesis also checks they refuse requests
# without it (ignored_auth).
token=$(python3 -c "import secrets; print(secrets.token_hex(16))")
printf '%s\n' "$token" > "$work/token"
$bin serve --model-dir "$work/model" --port "$port" --admin-token-file "$work/token" > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 100); do
  python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/readyz', timeout=1)" 2>/dev/null && break
  sleep 0.2
done
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" --checks all --max-examples "${EXAMPLES:-100}" \
  --seed 1 --request-timeout 5 --header "Authorization: Bearer $token"
