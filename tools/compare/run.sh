#!/usr/bin/env bash
# graphgrad vs PyTorch, one training step of LeNet-5, ResNet-20 and MobileNet v1 on the same
# batch, measured in the same run: `graphgrad bench train-step` and train_step.py.
# PyTorch's speed on this kind of VM depends 2-8x on the allocator and on libgomp's spinning
# (TOOLCHAIN.md), so it runs under three environments and its best is the baseline:
#   plain | GLIBC_TUNABLES=glibc.malloc.hugetlb=1 | the same + OMP_WAIT_POLICY=PASSIVE
# Prints per model the ratio graphgrad / best PyTorch (issue 3's target: <= 0.5) and the
# memory figures: graphgrad's planned training arena vs PyTorch's step peak and saved activations.
#
#   tools/compare/run.sh [--batch 64] [--repeats 20] [--models "lenet5 resnet20 mobilenet_v1"] [--json]
# GG (or GG_BUILD_DIR) chooses the graphgrad binary (default: build/bin/graphgrad).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/common.sh"
batch=64 repeats=20 models="lenet5 resnet20 mobilenet_v1" json=0
while [ $# -gt 0 ]; do
    case "$1" in
        --batch) batch="$2"; shift 2 ;;
        --repeats) repeats="$2"; shift 2 ;;
        --models) models="$2"; shift 2 ;;
        --json) json=1; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

require_pytorch run.sh
if ! dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q "install ok installed"; then
    # Without it torch's Linear layers run on the reference BLAS (~6 GFLOP/s): an unfair baseline.
    echo "run.sh: warning: libopenblas0-pthread is missing; PyTorch's matmuls use the reference BLAS." >&2
    echo "    apt-get install -y --no-install-recommends libopenblas0-pthread" >&2
fi
require_graphgrad run.sh

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for m in $models; do
    [ "$json" = 1 ] || echo "== $m: graphgrad" >&2
    "$gg" bench train-step --model "$m" --batch "$batch" --repeats "$repeats" --json > "$tmp/gg_$m.json"
    for e in plain hugetlb passive; do
        [ "$json" = 1 ] || echo "== $m: PyTorch ($e)" >&2
        # glog's "Logging before InitGoogleLogging" noise goes to stderr; keep stdout pure JSON.
        in_pytorch_env "$e" /usr/bin/python3 "$here/train_step.py" --model "$m" --batch "$batch" --repeats "$repeats" \
            --json > "$tmp/pt_${m}_$e.json" 2>/dev/null
    done
done

/usr/bin/python3 - "$tmp" "$json" $models <<'EOF'
import json, sys
tmp, as_json, names = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
envs = ["plain", "hugetlb", "passive"]
rows = []
for m in names:
    gg = json.load(open(f"{tmp}/gg_{m}.json"))
    pt = {e: json.load(open(f"{tmp}/pt_{m}_{e}.json")) for e in envs}
    best = min(envs, key=lambda e: pt[e]["step_ms"])
    rows.append({"model": m, "batch": gg["batch"], "graphgrad_ms": gg["step_ms"],
                 "pytorch_ms": {e: pt[e]["step_ms"] for e in envs}, "pytorch_best_env": best,
                 "pytorch_best_ms": pt[best]["step_ms"], "ratio": gg["step_ms"] / pt[best]["step_ms"],
                 "graphgrad_train_peak_bytes": gg["train_peak_bytes"],
                 "pytorch_step_peak_bytes": pt[best]["step_peak_bytes"],
                 "pytorch_saved_activation_bytes": pt[best]["activation_bytes"],
                 "graphgrad_reference_kernel_ops": gg.get("reference_kernel_ops", [])})
if as_json:
    print(json.dumps(rows, indent=2))
    sys.exit(0)
mib = lambda b: b / 2**20
print(f"\n{'model':<13} {'graphgrad':>10} {'torch plain':>12} {'hugetlb':>9} {'+passive':>9} {'ratio':>7}  "
      f"{'target':<8} {'gg peak':>9} {'torch peak':>11} {'torch saved':>12}")
for r in rows:
    p = r["pytorch_ms"]
    print(f"{r['model']:<13} {r['graphgrad_ms']:>8.2f}ms {p['plain']:>10.2f}ms {p['hugetlb']:>7.2f}ms "
          f"{p['passive']:>7.2f}ms {r['ratio']:>7.3f}  {'met' if r['ratio'] <= 0.5 else 'NOT met':<8} "
          f"{mib(r['graphgrad_train_peak_bytes']):>6.1f}MiB {mib(r['pytorch_step_peak_bytes']):>8.1f}MiB "
          f"{mib(r['pytorch_saved_activation_bytes']):>9.1f}MiB")
print("\nms: median training step (forward, backward, SGD momentum update), batch "
      f"{rows[0]['batch'] if rows else '?'}, 2 threads; ratio = graphgrad / PyTorch's best environment "
      "(target <= 0.5).\ngg peak: the planner's training arena; torch peak: bytes allocated during one step "
      "(profiler); torch saved: tensors kept for backward.")
EOF
