#!/usr/bin/env bash
# Installs what is missing, builds, then runs the main job: the gradient check of every op,
# LeNet-5 trained for one epoch on Fashion-MNIST (from the dataset-fashion-mnist package), and
# LeNet-5's per-layer summary with the planner's peak bytes. Works from any directory.
set -euo pipefail
# shellcheck source=tools/setup.sh
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
gg_setup
gg="$GG_BUILD_DIR/bin/graphgrad"

echo
echo "== graphgrad gradcheck --all   (central differences in f64; failures and the summary)"
"$gg" gradcheck --all --failures-only

echo
echo "== graphgrad train lenet5 --epochs 1   (Fashion-MNIST, SGD momentum, test accuracy after the epoch)"
"$gg" train lenet5 --epochs 1

echo
echo "== graphgrad summary lenet5   (per layer: shape, parameters, MACs, activations, receptive field)"
"$gg" summary lenet5
