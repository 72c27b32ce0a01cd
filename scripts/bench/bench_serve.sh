#!/usr/bin/env bash
# Serving benchmark with wrk on loopback (a benchmark, not a test; CI does not run it):
#   1. paced load at ~1,000 requests/s, 5 runs of 20 s (12 connections): POST /v1/recommend, random known users, k = 100,
#      exact index. Arrivals spread out: each connection waits a random 0–20 ms (mean 10) after its answer, so the
#      aggregate is close to Poisson. Then 3 runs in step: every connection waits exactly 10 ms, so the 12 stay
#      synchronised and arrive as bursts of 12 at once (the same mean rate, queueing inside each burst);
#   2. 60 s at saturation: zero non-2xx responses, RSS before and after;
#   3. hot reload under load: 20 s of wrk while the model is reloaded 10 times (5 SIGHUP, 5 POST /admin/reload).
# Usage: bash scripts/bench/bench_serve.sh [model-dir]   (without one, trains MF on ml-100k first)
#   SERVE_FLAGS="--executor default" compares another server setting; FACTORY=HNSW32 serves an ANN index (the one
#   `tandem index build` saved in the model directory, if any); BIN picks the binary.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo; $sudo apt-get install -y -qq wrk >/dev/null; }
bin=${BIN:-.build/release/tandem}
[ -x $bin ] || swift build -c release
work=$(mktemp -d)
port=${PORT:-18090}
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
model=${1:-}
if [ -z "$model" ]; then
  model=$work/model
  $bin train --model mf --dataset ml-100k --output "$model" --quiet >/dev/null
fi
head -c 24 /dev/urandom | base64 > "$work/token"
$bin serve --model-dir "$model" --factory "${FACTORY:-Flat}" --port "$port" --admin-token-file "$work/token" ${SERVE_FLAGS:-} > "$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 3000); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.2; done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { echo "the server did not become ready"; cat "$work/serve.log"; exit 1; }
echo "serving: $(head -1 "$work/serve.log"); RSS $(awk '/VmRSS/ {print $2}' /proc/$pid/status) kB"
# 4,096 known user ids drawn at random (seed 1), written as a Lua table.
python3 - "$model/user_ids.json" > "$work/ids.lua" <<'PY'
import json, random, sys
ids = json.load(open(sys.argv[1]))
random.seed(1)
print("ids = {" + ", ".join(json.dumps(random.choice(ids)) for _ in range(4096)) + "}")
PY

# Each request asks for a random known user's top 100. The bodies are built once (wrk's guide: building a request
# in every `request()` call costs the client time that shows up as latency). `delay()` paces each connection.
cat > "$work/recommend.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local pace_ms = tonumber(os.getenv("PACE_MS") or "0")
local pool, next_request = {}, 0
dofile("$work/ids.lua")
for i = 1, #ids do
  pool[i] = wrk.format(nil, "/v1/recommend", nil, string.format('{"user_id": "%s", "k": 100}', ids[i]))
end
request = function()
  next_request = next_request % #pool + 1
  return pool[next_request]
end
local spread = os.getenv("PACING") ~= "bursts"
math.randomseed(os.time())
function delay() if spread then return math.random() * 2 * pace_ms end return pace_ms end
LUA
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
url=http://127.0.0.1:$port
echo "== warm-up 5 s"; wrk -t1 -c8 -d5s -s "$work/recommend.lua" $url > /dev/null
# The VM is noisy (wrk shares the 2 cores with the server), so the paced run is repeated and every p99 printed.
paced() {
  PACING=$1 PACE_MS=10 wrk -t1 -c12 -d20s --latency -s "$work/recommend.lua" $url > "$work/paced.txt"
  echo "run $2: $(grep -E 'Requests/sec' "$work/paced.txt" | awk '{print $2}') req/s, p50 $(awk '$1=="50%" {print $2}' "$work/paced.txt"), p90 $(awk '$1=="90%" {print $2}' "$work/paced.txt"), p99 $(awk '$1=="99%" {print $2}' "$work/paced.txt"), non-2xx $(grep -c 'Non-2xx' "$work/paced.txt")"
}
echo "== paced, arrivals spread: 12 connections, each waits a random 0–20 ms after its answer (~1,000/s), 5 runs of 20 s"
for run in 1 2 3 4 5; do paced spread $run; done
echo "== paced, in bursts: 12 connections, each waits exactly 10 ms after its answer (bursts of 12), 3 runs of 20 s"
for run in 1 2 3; do paced bursts $run; done
echo "== saturation: 2 threads, 32 connections, 60 s"
before=$(rss)
wrk -t2 -c32 -d60s --latency -s "$work/recommend.lua" $url
after=$(rss)
echo "RSS before ${before} kB, after ${after} kB"
echo "== hot reload under load: 20 s of wrk, 10 reloads"
wrk -t2 -c16 -d20s -s "$work/recommend.lua" $url > "$work/reload.txt" &
wrkpid=$!
sleep 2
for i in 1 2 3 4 5; do
  kill -HUP $pid; sleep 0.8
  code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $(cat "$work/token")" "$url/admin/reload")
  [ "$code" = 200 ] || echo "reload answered $code"
  sleep 0.8
done
wait $wrkpid
cat "$work/reload.txt"
echo "reloads logged by the server (SIGHUP): $(grep -c 'SIGHUP: reloaded' "$work/serve.log")"
curl -s "$url/metrics" | grep -E '^tandem_reloads_total|^tandem_requests_total' | sort
echo "peak RSS of the server over the whole run (VmHWM, reloads included): $(awk '/VmHWM/ {print $2}' /proc/$pid/status) kB"
