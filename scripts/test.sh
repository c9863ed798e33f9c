#!/usr/bin/env bash
# Sets up and runs every test: a -Werror build + CTest (CUDA code through its
# CPU emulation), the same without BLAS, a native nvcc build of cuda/ (CUDA
# tests run where a GPU exists), an ASan/UBSan build + CTest, a short libFuzzer run of the file readers, and a
# coverage build + CTest + the gcovr gate (ref/ + formats/ >= 85%).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
min_cov=${ITR_MIN_COVERAGE:-85}

echo "== build (RelWithDebInfo, -Werror)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DITR_WERROR=ON >/dev/null
cmake --build build/release -j"$jobs"
ctest --test-dir build/release -j"$jobs" --output-on-failure

echo "== build (ITR_BLAS=OFF: the reference with no BLAS at all)"
cmake -S . -B build/noblas -DCMAKE_BUILD_TYPE=RelWithDebInfo -DITR_WERROR=ON -DITR_BLAS=OFF >/dev/null
cmake --build build/noblas -j"$jobs"
ctest --test-dir build/noblas -j"$jobs" --output-on-failure

echo "== build (native CUDA: nvcc for sm_80 and sm_90, warnings as errors)"
# The same cuda/ sources the emulated builds test, compiled for real GPUs.
# Without a GPU the CUDA tests exit 77 (skipped); with one they run.
nvcc=${CUDACXX:-/usr/local/cuda/bin/nvcc}
if [ -x "$nvcc" ] || command -v nvcc >/dev/null 2>&1; then
  cmake -S . -B build/native -DCMAKE_BUILD_TYPE=RelWithDebInfo -DITR_WERROR=ON -DITR_CUDA_NATIVE=ON \
        -DITR_CUDA_ARCHS="80;90" >/dev/null
  cmake --build build/native -j"$jobs"
  ctest --test-dir build/native -j"$jobs" --output-on-failure -R 'cuda'
else
  echo "no nvcc on this machine: native CUDA build NOT done"
fi

echo "== build (ASan + UBSan)"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DITR_WERROR=ON -DITR_SANITIZE=ON >/dev/null
cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build/asan -j"$jobs" --output-on-failure

echo "== fuzz (libFuzzer + ASan/UBSan, ${ITR_FUZZ_SECONDS:-20} s per target)"
FUZZ_OUT=build/fuzz sh scripts/fuzz.sh "${ITR_FUZZ_SECONDS:-20}"

echo "== build (coverage)"
cmake -S . -B build/coverage -DCMAKE_BUILD_TYPE=Debug -DITR_COVERAGE=ON -DITR_BLAS=ON >/dev/null
cmake --build build/coverage -j"$jobs"
ctest --test-dir build/coverage -j"$jobs" --output-on-failure
gcovr --root . --object-directory build/coverage \
      --filter 'ref/' --filter 'formats/' --exclude '.*/tests/.*' \
      --print-summary --fail-under-line "$min_cov" -o build/coverage/coverage.txt build/coverage
tail -n 25 build/coverage/coverage.txt
