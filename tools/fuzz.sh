#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/: clang, ASan + UBSan, -O1) and runs each one on a copy
# of its checked-in seed corpus. Exits non-zero on any finding (the reproducer is kept in
# build-fuzz/findings/); prints each harness's execution count.
#
#   tools/fuzz.sh                      # each harness for 1,000,000 executions
#   tools/fuzz.sh --seconds 20         # each harness for 20 s (CI)
#   tools/fuzz.sh --only fuzz_idx --runs 5000000
# A finding becomes a regression test: copy the reproducer into tests/data/fuzz/<harness>/
# (tests/test_fuzz_regressions.cpp replays every file there through the same reader).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GG_FUZZ_BUILD_DIR:-$root/build-fuzz}"
limit=(-runs=1000000) only=""
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) limit=(-max_total_time="$2"); shift 2 ;;
        --runs) limit=(-runs="$2"); shift 2 ;;
        --only) only="$2"; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v clang++ >/dev/null || { echo "fuzz.sh: needs clang (apt-get install clang libclang-rt-14-dev)" >&2; exit 2; }

harnesses=(fuzz_idx fuzz_idx_gz fuzz_safetensors fuzz_checkpoint fuzz_text_corpus fuzz_word_vectors)
[ -n "$only" ] && harnesses=("$only")
echo "== fuzz: configure and build ($build)"
CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGG_OPT="-O1" \
    -DGG_SANITIZE=address,undefined,fuzzer-no-link -DGG_FUZZ=ON -DGG_BUILD_TESTS=OFF > "$build.configure.log" 2>&1 ||
    { cat "$build.configure.log" >&2; exit 1; }
cmake --build "$build" -j"$(nproc)" --target "${harnesses[@]}"

mkdir -p "$build/findings"
status=0
for h in "${harnesses[@]}"; do
    seeds="$root/fuzz/corpus/${h#fuzz_}"
    corpus="$build/corpus/$h"
    mkdir -p "$corpus"
    cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    echo "== $h (${limit[*]})"
    # detect_leaks: a reader that throws must not leak either.
    if ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        "$build/bin/$h" "${limit[@]}" -print_final_stats=1 -artifact_prefix="$build/findings/$h-" "$corpus" \
        > "$build/$h.log" 2>&1; then
        echo "$h: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$build/$h.log" | grep -o '[0-9]*$') executions, no finding"
    else
        status=1
        echo "$h: FINDING (log $build/$h.log, reproducer in $build/findings/):" >&2
        grep -E "ERROR|finding|SUMMARY" "$build/$h.log" | head -5 >&2
    fi
done
exit $status
