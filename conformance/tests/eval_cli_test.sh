#!/usr/bin/env bash
# End-to-end `itr eval` on fixtures/eval/vsepp_f30k_small, run from the case
# folder with expected.json's itr_eval.args; the table and --json must show
# upstream's numbers; exit codes of the error paths.
# usage: eval_cli_test.sh ITR_BINARY SOURCE_DIR
set -u
itr=$1
cd "$2/fixtures/eval/vsepp_f30k_small" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
args=(--checkpoint model_best.pth.tar --data data --split test)

expect() { # expect CODE DESCRIPTION -- args...
  local want=$1 what=$2
  shift 3
  "$itr" eval "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  if [ "$got" -eq "$want" ]; then pass=$((pass + 1)); else
    fail=$((fail + 1)); echo "FAIL: $what: exit $got, expected $want"; head -5 "$tmp/out" "$tmp/err"; fi
}
contains() { # contains FILE TEXT DESCRIPTION
  if grep -q -- "$2" "$1"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $3: '$2' not in $1"; cat "$1"; fi
}

expect 0 "eval --help" -- --help
contains "$tmp/out" "--save-sims" "help lists --save-sims"
contains "$tmp/out" "--backend ref|cuda" "help lists --backend"
expect 0 "eval table" -- "${args[@]}"
contains "$tmp/out" "300 images, 1500 captions" "table header"
contains "$tmp/out" "i2t    32.00   64.67   76.00     3.0     8.80" "i2t row"
contains "$tmp/out" "t2i    21.53   43.73   53.87     8.0    28.40" "t2i row"
contains "$tmp/out" "rsum 291.80" "rsum"
if [ -s "$tmp/err" ]; then fail=$((fail + 1)); echo "FAIL: stderr not empty off a TTY"; cat "$tmp/err"; fi
expect 0 "eval --json" -- "${args[@]}" --json
contains "$tmp/out" '"r5": 64.666666666666671' "json i2t r5 (17 digits)"
contains "$tmp/out" '"meanr": 28.398666666666667' "json t2i meanr"
contains "$tmp/out" '"n_unk_tokens": 289' "json unk count"
expect 0 "eval --fold5 --save-sims" -- "${args[@]}" --fold5 --save-sims "$tmp/sims.h5"
contains "$tmp/out" "5-fold mean" "fold5 table"
"$itr" metrics "$tmp/sims.h5" >"$tmp/out" 2>&1 || { fail=$((fail + 1)); echo "FAIL: itr metrics on saved sims"; }
contains "$tmp/out" "rsum 291.80" "saved sims give the same rsum"
expect 0 "eval --shard-rows 7 (streamed in 43 blocks)" -- "${args[@]}" --shard-rows 7
contains "$tmp/out" "t2i    21.53   43.73   53.87     8.0    28.40" "shard size does not change t2i"
contains "$tmp/out" "rsum 291.80" "shard size does not change rsum"
expect 2 "bad --shard-rows" -- "${args[@]}" --shard-rows 0
expect 2 "bad --backend" -- "${args[@]}" --backend gpu
contains "$tmp/err" "ref or cuda" "bad --backend names the choices"
# --backend cuda: the same numbers where this build has a CUDA VSE++, else exit 4
"$itr" eval "${args[@]}" --backend cuda >"$tmp/out" 2>"$tmp/err"
got=$?
if [ "$got" -eq 0 ]; then
  contains "$tmp/out" "CUDA backend" "cuda run says so"
  contains "$tmp/out" "i2t    32.00   64.67   76.00     3.0     8.80" "cuda i2t row"
  contains "$tmp/out" "rsum 291.80" "cuda rsum"
elif [ "$got" -eq 4 ]; then
  contains "$tmp/err" "no CUDA implementation of vsepp" "no cuda twin: clear message"
  pass=$((pass + 1))
else
  fail=$((fail + 1)); echo "FAIL: --backend cuda: exit $got"; cat "$tmp/err"
fi
expect 2 "no checkpoint" -- --data data
expect 2 "unknown option" -- "${args[@]}" --bogus
expect 3 "missing split" -- --checkpoint model_best.pth.tar --data data --split dev
contains "$tmp/err" "dev_caps.txt" "missing split names the file"
expect 3 "missing vocab" -- "${args[@]}" --vocab nowhere.pkl
contains "$tmp/err" "nowhere.pkl" "missing vocab names the file"
expect 4 "unknown family" -- "${args[@]}" --model nosuch
expect 4 "undetected family" -- --checkpoint ../../semscene/semscene_triplet_small.pth.tar --data data
contains "$tmp/err" "try --model" "undetected family hints at --model"
expect 3 "missing checkpoint" -- --checkpoint nothere.pth.tar --data data

echo "eval cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
