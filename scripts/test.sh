#!/usr/bin/env bash
# The test command: set-up, fetch MovieLens-100k, MovieLens-1M and Book-Crossing (the data tests read them), the whole
# test suite, the claims report checked in headless Chromium, data-parallel training on 2 MPI ranks against one process, then a real-socket smoke test of `tandem serve` and the API
# checked against its own schema by Schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product tandem
.build/release/tandem data fetch ml-100k
.build/release/tandem data fetch ml-1m
.build/release/tandem data fetch book-crossing
# The CLI tests run the release binary just built (plain `swift test` runs .build/debug/tandem).
TANDEM_BIN="$PWD/.build/release/tandem" swift test
bash scripts/checks/check_report.sh
bash scripts/checks/check_mpi.sh
bash scripts/checks/smoke_serve.sh
bash scripts/checks/api_contract.sh
