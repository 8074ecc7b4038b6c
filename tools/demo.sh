#!/usr/bin/env bash
# Installs what is missing, builds, then runs the main job: the gradient check of every op,
# a small MLP trained on generated data (with the planner's peak bytes), and the executor
# overhead benchmark. Works from any directory.
set -euo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
gg_setup
gg="$GG_BUILD_DIR/bin/graphgrad"

echo
echo "== graphgrad gradcheck --all   (central differences in f64; failures and the summary)"
"$gg" gradcheck --all --failures-only

echo
echo "== graphgrad train-mlp   (MLP on generated data, SGD)"
"$gg" train-mlp

echo
echo "== graphgrad bench overhead   (1000 tiny nodes; target < 300 ns per node)"
"$gg" bench overhead --repeats 100
