#!/usr/bin/env bash
# graphgrad vs PyTorch on the LambdaNetworks layers: `graphgrad bench lambda-vs-attention
# --json` and tools/compare/lambda_attention.py at the same sizes and settings, in the same run.
# Like run.sh, PyTorch runs under each environment in --envs (its speed here depends on the
# allocator and libgomp's spinning, TOOLCHAIN.md) and its best is the baseline:
#   plain | hugetlb (GLIBC_TUNABLES=glibc.malloc.hugetlb=1) | passive (the same + OMP_WAIT_POLICY=PASSIVE)
# Prints per layer and size: graphgrad ms, PyTorch ms, ratio graphgrad / PyTorch (target
# <= 0.7), graphgrad's planned training peak vs PyTorch's step peak and saved activations.
#
#   tools/compare/lambda_attention.sh [--sizes 8,16,32] [--batch 8] [--repeats 5] [--envs "plain hugetlb passive"] [--json]
# Other options (--dim --heads --k --r --conv-u) go to both sides. GG (or GG_BUILD_DIR)
# chooses the graphgrad binary (default: build/bin/graphgrad).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/common.sh"
sizes=8,16,32 batch=8 repeats=5 envs="plain hugetlb passive" json=0
shared=()  # layer settings both programs take with the same spelling
while [ $# -gt 0 ]; do
    case "$1" in
        --sizes) sizes="$2"; shift 2 ;;
        --batch) batch="$2"; shift 2 ;;
        --repeats) repeats="$2"; shift 2 ;;
        --envs) envs="$2"; shift 2 ;;
        --dim|--heads|--k|--r|--conv-u|--lambda-heads) shared+=("$1" "$2"); shift 2 ;;
        --json) json=1; shift ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "lambda_attention.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

require_pytorch lambda_attention.sh
require_graphgrad lambda_attention.sh

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
common=(--sizes "$sizes" --batch "$batch" --repeats "$repeats" "${shared[@]}")
[ "$json" = 1 ] || echo "== graphgrad" >&2
"$gg" bench lambda-vs-attention "${common[@]}" --json > "$tmp/gg.json"
for e in $envs; do
    [ "$json" = 1 ] || echo "== PyTorch ($e)" >&2
    # glog's "Logging before InitGoogleLogging" noise goes to stderr; keep stdout pure JSON.
    in_pytorch_env "$e" /usr/bin/python3 "$here/lambda_attention.py" "${common[@]}" --json > "$tmp/pt_$e.json" 2>/dev/null
done

/usr/bin/python3 - "$tmp" "$json" $envs <<'EOF'
import json, sys
tmp, as_json, envs = sys.argv[1], sys.argv[2] == "1", sys.argv[3:]
TARGET = 0.7
gg = {(r["layer"], r["size"]): r for r in json.load(open(f"{tmp}/gg.json"))["rows"]}
pt = {e: {(r["layer"], r["size"]): r for r in json.load(open(f"{tmp}/pt_{e}.json"))["rows"]} for e in envs}
rows = []
for key, g in gg.items():
    runs = {e: pt[e][key] for e in envs if key in pt[e] and "ms" in pt[e][key]}
    best = min(runs, key=lambda e: runs[e]["ms"]) if runs else None
    p = runs.get(best, {})
    row = {"layer": key[0], "size": key[1], "batch": g["batch"], "graphgrad_ms": g["ms"],
           "pytorch_ms": {e: r["ms"] for e, r in runs.items()}, "pytorch_best_env": best,
           "pytorch_best_ms": p.get("ms"),
           "ratio": g["ms"] / p["ms"] if g["ms"] is not None and p.get("ms") else None,
           "graphgrad_train_peak_bytes": g["train_peak_bytes"], "graphgrad_rss_bytes": g["rss_bytes"],
           "pytorch_step_peak_bytes": p.get("step_peak_bytes"),
           "pytorch_saved_activation_bytes": p.get("activation_bytes"),
           "skipped": g.get("skipped") or next((pt[e][key].get("skipped") for e in envs
                                                 if key in pt[e] and "skipped" in pt[e][key]), None)}
    rows.append(row)
if as_json:
    print(json.dumps(rows, indent=2))
    sys.exit(0)
mib = lambda b: f"{b / 2**20:.1f}" if b is not None else "—"
ms = lambda v: f"{v:.2f}" if v is not None else "—"
print(f"\n{'size':<6} {'layer':<12} {'graphgrad ms':>12} {'torch ms':>9} {'(env)':<8} {'ratio':>6} {'target':<8} "
      f"{'gg peak MiB':>11} {'gg RSS MiB':>10} {'torch peak MiB':>14} {'torch saved MiB':>15}")
for r in rows:
    ratio = r["ratio"]
    verdict = "—" if ratio is None else ("met" if ratio <= TARGET else "NOT met")
    size = f"{r['size']}x{r['size']}"
    print(f"{size:<6} {r['layer']:<12} {ms(r['graphgrad_ms']):>12} {ms(r['pytorch_best_ms']):>9} "
          f"{r['pytorch_best_env'] or '':<8} {ratio if ratio is None else round(ratio, 3)!s:>6} {verdict:<8} "
          f"{mib(r['graphgrad_train_peak_bytes']):>11} {mib(r['graphgrad_rss_bytes']):>10} "
          f"{mib(r['pytorch_step_peak_bytes']):>14} {mib(r['pytorch_saved_activation_bytes']):>15}")
    if r["skipped"]:
        print(f"       not run: {r['skipped']}")
print(f"\nms: median forward + backward (gradients for x and the parameters), batch {rows[0]['batch'] if rows else '?'}, "
      f"2 threads; ratio = graphgrad / PyTorch's best environment (target <= {TARGET}).\n"
      "gg peak: the planner's training arena; gg RSS: measured peak RSS increase of that step; torch peak: bytes "
      "allocated during one step (profiler); torch saved: tensors kept for backward.")
EOF
