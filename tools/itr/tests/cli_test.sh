#!/usr/bin/env bash
# End-to-end checks of the `itr` CLI: help texts, exit codes, table and JSON output.
# usage: cli_test.sh ITR_BINARY SOURCE_DIR
set -u
itr=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

expect() { # expect CODE DESCRIPTION -- command...
  local want=$1 what=$2
  shift 3
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $what: exit $got, expected $want"
    head -5 "$tmp/out" "$tmp/err"
  fi
}
contains() { # contains FILE TEXT DESCRIPTION
  if grep -q -- "$2" "$1"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $3: '$2' not in $1"; fi
}

expect 0 "itr --help" -- "$itr" --help
contains "$tmp/out" "conform" "top-level help lists conform"
expect 2 "itr without command" -- "$itr"
expect 2 "unknown command" -- "$itr" frobnicate
for cmd in conform metrics inspect convert; do
  expect 0 "itr $cmd --help" -- "$itr" "$cmd" --help
  contains "$tmp/out" "usage: itr $cmd" "$cmd help"
done

m=$src/fixtures/metrics/metrics_small.h5
v=$src/fixtures/vsepp/vsepp_small.h5
expect 0 "conform metrics" -- "$itr" conform "$m"
contains "$tmp/out" "PASS: 7 passed" "metrics table"
expect 0 "conform vsepp legacy" -- "$itr" conform --checkpoint "$src/fixtures/vsepp/vsepp_small.legacy.pth.tar" "$v"
expect 0 "conform --json" -- "$itr" conform --json "$v"
contains "$tmp/out" '"passed":true' "conform json"
expect 3 "conform missing file" -- "$itr" conform "$tmp/none.h5"
contains "$tmp/err" "none.h5" "missing-file message names the file"
echo "not hdf5" >"$tmp/bad.h5"
expect 3 "conform non-HDF5 file" -- "$itr" conform "$tmp/bad.h5"
expect 3 "conform wrong checkpoint" -- "$itr" conform --checkpoint "$tmp/bad.h5" "$v"
expect 4 "conform unknown backend" -- "$itr" conform --backend tpu "$v"
expect 2 "conform --fast needs a CUDA backend" -- "$itr" conform --fast "$v"
# CUDA rows need the backend to run here (always emulated; natively a GPU)
if "$itr" conform --backend cuda "$v" >/dev/null 2>&1; then
  expect 0 "conform --backend all" -- "$itr" conform --backend all "$v"
  expect 1 "conform --fast (TF32) misses the strict tolerance" -- "$itr" conform --backend cuda --fast "$v"
fi
expect 2 "conform unknown option" -- "$itr" conform --frobnicate "$v"

expect 0 "metrics table" -- "$itr" metrics --bounds "$m"
contains "$tmp/out" "i2t" "metrics table rows"
contains "$tmp/out" "pessimistic" "metrics bounds"
expect 0 "metrics json" -- "$itr" metrics --json "$m"
contains "$tmp/out" '"rsum"' "metrics json"
expect 0 "metrics fold5" -- "$itr" metrics --fold5 "$m"
contains "$tmp/out" "fold 4" "five folds printed"
expect 3 "metrics 3 folds of 20 images" -- "$itr" metrics --folds 3 "$m"
expect 0 "metrics folds 4" -- "$itr" metrics --folds 4 "$m"
expect 3 "metrics missing dataset" -- "$itr" metrics --dataset /nope "$m"
contains "$tmp/err" "/nope" "missing dataset named"
expect 3 "metrics wrong caps per image" -- "$itr" metrics --caps-per-image 3 "$m"
expect 2 "metrics bad tie rule" -- "$itr" metrics --ties random "$m"
expect 0 "metrics on a .npy matrix" -- "$itr" metrics "$src/fixtures/eval/vsepp_f30k_small/sims.npy"
contains "$tmp/out" "100 images x 500 captions" "npy matrix size"

expect 0 "convert" -- "$itr" convert "$src/fixtures/vsepp/vsepp_small.legacy.pth.tar" -o "$tmp/w.h5"
expect 3 "convert bad checkpoint" -- "$itr" convert "$tmp/bad.h5" -o "$tmp/w2.h5"
expect 0 "inspect" -- "$itr" inspect "$src/fixtures/vsepp/vsepp_small.pth.tar"
contains "$tmp/out" "fc.weight" "inspect lists tensors"
expect 0 "inspect --json" -- "$itr" inspect --json "$src/fixtures/vsepp/vsepp_small.pth.tar"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
