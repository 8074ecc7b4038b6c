#!/usr/bin/env bash
# Installs what is missing, builds, runs every test, the gradient check of every op, then
# installs graphgrad into a temporary prefix and builds and runs examples/ against it.
# Works from any directory; exits non-zero on the first failure.
set -euo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
gg_setup

echo "== tests"
# ctest runs two test processes at once; with oneDNN's OpenMP pool at its default (one
# thread per core) each would spin on both cores and the two would starve each other.
# One thread per process keeps the run fast and its timings stable.
OMP_NUM_THREADS=1 ctest --test-dir "$GG_BUILD_DIR" --output-on-failure -j2

echo "== gradcheck --all"
"$GG_BUILD_DIR"/bin/graphgrad gradcheck --all --failures-only

echo "== installed package: headers, examples/, pkg-config"
"$GG_ROOT"/tools/check-install.sh "$GG_BUILD_DIR"
