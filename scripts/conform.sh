#!/usr/bin/env bash
# Sets up, builds, and runs the conformance suite over the bundled golden
# fixtures, printing the per-output table of every case.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target itr
status=0
for fam in $(cat conformance/families.txt); do
  for case in fixtures/$fam/*.h5; do
    build/release/bin/itr conform "$case" || status=1
    legacy="${case%.h5}.legacy.pth.tar"
    if [ -f "$legacy" ]; then
      build/release/bin/itr conform --checkpoint "$legacy" "$case" || status=1
    fi
  done
done
exit $status
