#!/usr/bin/env bash
# The main job: set-up, then Pop, ItemKNN, EASE, iALS, MF and the two-tower model on MovieLens-100k (80/10/10 random split, full ranking,
# 3 training seeds on one split), printing the table of test metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product tandem
.build/release/tandem compare --models pop,itemknn,ease,ials,mf,two-tower --seeds 3 "$@"
