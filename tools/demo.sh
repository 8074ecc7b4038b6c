#!/usr/bin/env bash
# Installs what is missing, builds, then runs the main job: the gradient check of every op,
# LeNet-5 trained for one epoch on Fashion-MNIST (from the dataset-fashion-mnist package), and
# LeNet-5's per-layer summary with the planner's peak bytes, and the lambda-vs-attention
# benchmark at small sizes (table and plot) with the paper's 64 GiB check. Works from any directory.
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

echo
echo "== graphgrad bench lambda-vs-attention   (small sizes; memory vs resolution plot in lambda_vs_attention.png)"
"$gg" bench lambda-vs-attention --sizes 8,16,24 --batch 4 --repeats 3 --plot lambda_vs_attention.png

echo
echo "== the paper's check: 8-head attention maps for 128 images of 64x64 (planned, not allocated)"
"$gg" bench lambda-vs-attention --plan-only --sizes 64 --batch 128 --heads 8
