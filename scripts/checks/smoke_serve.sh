#!/usr/bin/env bash
# Real-socket smoke test of `tandem serve`: train a small model, serve it on loopback, call the API, stop.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=.build/release/tandem
work=$(mktemp -d)
port=${PORT:-18080}
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
$bin train --model mf --dataset ml-100k --epochs 2 --output "$work/model" --quiet >/dev/null
$bin serve --model-dir "$work/model" --factory HNSW32 --port "$port" > "$work/serve.log" 2>&1 &
pid=$!
python3 - "$port" <<'PY'
import json, sys, time, urllib.request, urllib.error
base = f"http://127.0.0.1:{sys.argv[1]}"
def call(path, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
for _ in range(100):
    try:
        if call("/readyz")[0] == 200: break
    except Exception:
        pass
    time.sleep(0.2)
else:
    sys.exit("server never became ready")
status, body = call("/v1/recommend", {"user_id": "196", "k": 10})
assert status == 200 and len(body["items"]) == 10 and body["source"] == "model", (status, body)
status, body = call("/v1/recommend", {"user_id": "196", "k": 0})
assert status == 400 and body["error"]["message"], (status, body)
status, body = call("/v1/similar-items", {"item_id": "242", "k": 5})
assert status == 200 and len(body["items"]) == 5, (status, body)
print("smoke: serve answered /readyz, /v1/recommend, /v1/similar-items over a real socket")
PY
# SIGHUP reloads: the model version (it carries the load time) changes.
before=$(python3 -c "import json,urllib.request;print(json.load(urllib.request.urlopen('http://127.0.0.1:$port/readyz'))['model_version'])")
sleep 1.1
kill -HUP $pid
for _ in $(seq 50); do
  after=$(python3 -c "import json,urllib.request;print(json.load(urllib.request.urlopen('http://127.0.0.1:$port/readyz'))['model_version'])")
  [ "$after" != "$before" ] && break
  sleep 0.2
done
[ "$after" != "$before" ] || { echo "smoke: SIGHUP did not reload the model" >&2; exit 1; }
echo "smoke: SIGHUP reloaded the model ($before -> $after)"
