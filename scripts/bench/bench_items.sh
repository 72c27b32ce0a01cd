#!/usr/bin/env bash
# Items changed while serving: PUT /v1/items latency, and /v1/recommend latency as added items grow the delta segment
# (0, 1,000, 10,000 added), one client on loopback (latencies include Python's client; compare within one run).
# Usage: bash scripts/bench/bench_items.sh      (a two-tower model on ml-100k, 5 epochs, served with HNSW32)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=.build/release/tandem
[ -x "$bin" ] || swift build -c release --product tandem
work=$(mktemp -d)
port=${PORT:-18090}
trap 'kill $pid 2>/dev/null || true; rm -rf "$work"' EXIT
$bin train --model two-tower --dataset ml-100k --epochs 5 --output "$work/model" --quiet > /dev/null
printf 'bench-token\n' > "$work/token"
$bin serve --model-dir "$work/model" --factory HNSW32 --port "$port" --admin-token-file "$work/token" > "$work/serve.log" 2>&1 &
pid=$!
python3 - "$port" <<'PY'
import http.client, json, sys, time
conn = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
def call(method, path, body, admin=False):
    headers = {"Content-Type": "application/json"}
    if admin: headers["Authorization"] = "Bearer bench-token"
    t0 = time.perf_counter()
    conn.request(method, path, json.dumps(body), headers)
    r = conn.getresponse(); r.read()
    return r.status, (time.perf_counter() - t0) * 1000
for _ in range(100):
    try:
        if call("GET", "/readyz", None)[0] == 200: break
    except Exception:
        conn.close(); time.sleep(0.2)
def pct(xs, p): xs = sorted(xs); return xs[min(len(xs) - 1, int(p / 100 * len(xs)))]
def recommend(n=2000):
    lat = [call("POST", "/v1/recommend", {"user_id": str(1 + i % 900), "k": 10})[1] for i in range(n)]
    return pct(lat, 50), pct(lat, 99)
added = 0
for target in [0, 1000, 10000]:
    puts = []
    while added < target:
        s, ms = call("PUT", "/v1/items", {"item_id": f"new-{added}", "features": {"class": ["Comedy", "Drama"][added % 2:added % 2 + 1], "release_year": str(1950 + added % 50)}}, admin=True)
        assert s == 201, s
        puts.append(ms); added += 1
    p50, p99 = recommend()
    put = f"; PUT p50 {pct(puts, 50):.2f} ms, p99 {pct(puts, 99):.2f} ms" if puts else ""
    print(f"{added:6d} added: /v1/recommend p50 {p50:.2f} ms, p99 {p99:.2f} ms{put}")
PY
