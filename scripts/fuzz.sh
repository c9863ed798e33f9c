#!/bin/sh
# scripts/fuzz.sh - build and run the libFuzzer targets of formats/fuzz
# (pickle VM + joblib, checkpoints, .npy) with clang, ASan and UBSan.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#     SECONDS_PER_TARGET  default 200; targets: pickle checkpoint npy (default all)
#   env: FUZZ_OUT (default build-fuzz), CC (default clang), FUZZ_EXTRA_FLAGS (added to the
#        compile flags, e.g. -fno-sanitize=float-cast-overflow to step over a known report)
#
# Seeds come from fixtures/formats; crashes are written to $FUZZ_OUT/crash-<target>-*.
# Exit status is non-zero when a target finds a crash, leak or sanitizer report.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${FUZZ_OUT:-$ROOT/build-fuzz}
SECS=${1:-200}
[ $# -gt 0 ] && shift
TARGETS=${*:-pickle checkpoint npy}
CC=${CC:-clang}
FLAGS="-std=c99 -g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined ${FUZZ_EXTRA_FLAGS:-}"
mkdir -p "$OUT"
status=0

# The library sources (core, torch, numpy) compiled straight into each target.
LIBSRC="$ROOT/formats/core/*.c $ROOT/formats/torch/*.c $ROOT/formats/numpy/*.c"
FX=$ROOT/fixtures/formats

for t in $TARGETS; do
    exe=$OUT/fuzz_$t
    corpus=$OUT/corpus_$t
    mkdir -p "$corpus"
    case $t in
        pickle)     seeds="$FX/vocab_py27_vsepp_style.pkl $FX/joblib_*.joblib $FX/ckpt_legacy_torch113.pth.tar" ;;
        checkpoint) seeds="$FX/*.pth.tar $FX/*.pt" ;;
        npy)        seeds="$FX/npy_*.npy" ;;
        *) echo "unknown target $t" >&2; exit 2 ;;
    esac
    # shellcheck disable=SC2086
    cp $seeds "$corpus/"
    # shellcheck disable=SC2086
    $CC $FLAGS -I"$ROOT/include" -I"$ROOT/formats/torch" "$ROOT/formats/fuzz/fuzz_$t.c" $LIBSRC \
        -lzip -lz -lm -o "$exe"
    echo "== fuzz_$t: $SECS s (log $OUT/fuzz_$t.log)"
    if "$exe" "$corpus" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$OUT/crash-$t-" -print_final_stats=1 >"$OUT/fuzz_$t.log" 2>&1; then
        grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)' \
            "$OUT/fuzz_$t.log" || true
    else
        echo "fuzz_$t FAILED:"; tail -n 40 "$OUT/fuzz_$t.log"; status=1
    fi
done
exit $status
