#!/usr/bin/env bash
# Real-socket smoke test of `tandem serve`: train a small model, serve it on loopback, call the API, stop.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=.build/release/tandem
work=$(mktemp -d)
port=${PORT:-18080}
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
$bin train --model mf --dataset ml-100k --epochs 2 --output "$work/model" --quiet >/dev/null
printf 'smoke-token\n' > "$work/token"
$bin serve --model-dir "$work/model" --factory HNSW32 --port "$port" --admin-token-file "$work/token" > "$work/serve.log" 2>&1 &
pid=$!
python3 - "$port" <<'PY'
import json, sys, time, urllib.request, urllib.error
base = f"http://127.0.0.1:{sys.argv[1]}"
def call(path, body=None, method=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token: headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                 headers=headers, method=method or ("GET" if body is None else "POST"))
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
# Admin requests: no token 401, a wrong one 403, the right one 200; a deleted item is never answered again; MF has
# no item tower, so PUT /v1/items is refused with 409.
assert call("/admin/reload", {})[0] == 401 and call("/admin/reload", {}, token="nope")[0] == 403
assert call("/admin/reload", {}, token="smoke-token")[0] == 200
top = call("/v1/recommend", {"user_id": "196", "k": 10})[1]["items"][0]["item_id"]
assert call(f"/v1/items/{top}", method="DELETE", token="smoke-token")[0] == 200
status, body = call("/v1/recommend", {"user_id": "196", "k": 10})
assert status == 200 and top not in [i["item_id"] for i in body["items"]], (top, body)
assert call("/v1/similar-items", {"item_id": top, "k": 5})[0] == 404
status, body = call("/v1/items", {"item_id": "new", "features": {}}, method="PUT", token="smoke-token")
assert status == 409 and "item tower" in body["error"]["message"], (status, body)
print("smoke: serve answered /readyz, /v1/recommend, /v1/similar-items over a real socket; admin requests need the token; a deleted item is gone")
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
