#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: native build, every CUDA test, the CUDA
# conformance on every golden of the CUDA families, and the CUDA benchmarks
# at real sizes. JSON lines go to bench/results/<date>-<device>/ (or $OUT).
# Usage: bash scripts/gpu_check.sh [archs, default 90]
set -euo pipefail
cd "$(dirname "$0")/.."
archs=${1:-90}
jobs=$(nproc)
device=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | tr ' ' '_' || echo unknown)
out=${OUT:-bench/results/$(date +%F)-${device}}
mkdir -p "$out"
cmake -S . -B build/gpu -DCMAKE_BUILD_TYPE=Release -DITR_CUDA_NATIVE=ON -DITR_CUDA_ARCHS="$archs" >/dev/null
cmake --build build/gpu -j"$jobs"
ctest --test-dir build/gpu -R cuda --output-on-failure | tee "$out/ctest_cuda.txt"
for fam in $(cat conformance/families_cuda.txt); do
  for c in fixtures/$fam/*.h5; do build/gpu/bin/itr conform --backend all --json "$c"; done
done > "$out/conform_backend_all.jsonl"
for b in bench_cuda_gru bench_cuda_scan bench_cuda_vseinf bench_retrieval; do
  build/gpu/bin/$b > "$out/$b.jsonl"
done
build/gpu/bin/bench_cuda_sgraf > "$out/bench_cuda_sgraf.jsonl"
build/gpu/bin/bench_cuda_sgraf --full > "$out/bench_cuda_sgraf_full.jsonl"
echo "results in $out"
