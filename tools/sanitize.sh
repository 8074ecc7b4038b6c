#!/usr/bin/env bash
# Builds a sanitizer tree (GCC, AddressSanitizer + UndefinedBehaviorSanitizer, -O1 with debug
# info) and runs the whole test suite and `graphgrad gradcheck --all` in it, halting on the
# first report. Exits non-zero on any report or failure.
#
#   tools/sanitize.sh                 # ASan + UBSan (about 25 minutes on 2 cores)
#   tools/sanitize.sh --thread        # ThreadSanitizer over the OpenMP kernels (see below)
#   tools/sanitize.sh -R conv         # only the tests whose names match (ctest -R)
#
# ThreadSanitizer: libgomp is not built with TSan, so its own synchronisation (barriers,
# thread-pool hand-offs) is invisible and reported as races. The TSan tree therefore runs with
# OMP_NUM_THREADS=2 and the suppression file tools/sanitizers/tsan.supp, which names only
# libgomp's frames: races in graphgrad's own loops are still reported.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mode=address,undefined ctest_args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --thread) mode=thread; shift ;;
        -R) ctest_args+=(-R "$2"); shift 2 ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "sanitize.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
build="$root/build-${mode//,/-}"
echo "== sanitize: $mode tree in $build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGG_OPT="-O1" -DGG_SANITIZE="$mode" > /dev/null
cmake --build "$build" -j"$(nproc)" --target gg_tests graphgrad_cli

supp="$root/tools/sanitizers"
# allocator_may_return_null: an allocation the system refuses returns null as glibc's does, so
# the out-of-memory tests (tests/test_faults.cpp) see what a user's process sees.
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:abort_on_error=1:allocator_may_return_null=1:suppressions=$supp/asan.supp"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$supp/ubsan.supp"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$supp/tsan.supp"
threads=1
[ "$mode" = thread ] && threads=2  # races need two threads
echo "== tests ($mode)"
OMP_NUM_THREADS=$threads ctest --test-dir "$build" --output-on-failure -j"$(nproc)" "${ctest_args[@]}"
if [ ${#ctest_args[@]} -eq 0 ]; then
    echo "== gradcheck --all ($mode)"
    OMP_NUM_THREADS=$threads "$build/bin/graphgrad" gradcheck --all --failures-only
fi
echo "== sanitize ($mode): clean"
