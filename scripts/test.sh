#!/usr/bin/env bash
# The test command: set-up, fetch MovieLens-100k (the data tests read it), the whole test suite, then a real-socket
# smoke test of `tandem serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product tandem
.build/release/tandem data fetch ml-100k
swift test
bash scripts/smoke_serve.sh
