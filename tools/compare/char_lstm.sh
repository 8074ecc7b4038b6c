#!/usr/bin/env bash
# The character-level language model trained in graphgrad and PyTorch from the same weights on
# the same windows (char_lstm.py): validation bits per character of both, step times, and the
# round trip of trained weights both ways. Step times on this kind of VM depend several times
# over on the allocator and on libgomp's spinning (TOOLCHAIN.md; spinning costs most when other
# work shares the cores), so by default a short timing probe runs each framework under each of
# common.sh's environments, and the comparison runs each under its fastest.
#
#   tools/compare/char_lstm.sh [--env best|plain|hugetlb|passive] [--if-pytorch] [char_lstm.py options]
#   tools/compare/char_lstm.sh --steps 200                    # the KJV Bible, graphgrad's default char_lstm
#   tools/compare/char_lstm.sh --cell gru --steps 200
#   tools/compare/char_lstm.sh --if-pytorch --env plain --quick --text README.md   # what ctest runs
# --if-pytorch: exit 77 (ctest's "skipped") instead of failing when PyTorch is not installed.
# GG (or GG_BUILD_DIR) chooses the graphgrad binary (default: build/bin/graphgrad).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/common.sh"
env_choice=best if_pytorch=0 args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --env) env_choice="$2"; shift 2 ;;
        --if-pytorch) if_pytorch=1; shift ;;
        -h|--help) sed -n '2,14p' "$0"; /usr/bin/python3 "$here/char_lstm.py" --help 2>/dev/null | sed -n '/^options:/,$p'; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done
case "$env_choice" in best|plain|hugetlb|passive) ;; *) echo "char_lstm.sh: unknown --env $env_choice" >&2; exit 2 ;; esac

if [ "$if_pytorch" = 1 ] && ! { [ -x /usr/bin/python3 ] && /usr/bin/python3 -c "import torch" 2>/dev/null; }; then
    echo "char_lstm.sh: PyTorch is not installed (python3-torch): skipped"
    exit 77
fi
require_pytorch char_lstm.sh
require_graphgrad char_lstm.sh

# The fastest environment for framework $1 (pytorch or graphgrad), by a short probe in each.
fastest_env() {
    local best="" best_ms="" ms e
    for e in plain hugetlb passive; do
        # stderr: glog's "Logging before InitGoogleLogging" noise; stdout is one JSON line.
        ms=$(in_pytorch_env "$e" /usr/bin/python3 "$here/char_lstm.py" --graphgrad "$gg" --graphgrad-env "$e" \
                 --time-only "$1" "${args[@]}" --steps 6 2>/dev/null |
             /usr/bin/python3 -c 'import json, sys; print(round(json.load(sys.stdin)["median_ms"], 1))')
        echo "$1 step time in the $e environment: $ms ms" >&2
        if [ -z "$best" ] || /usr/bin/python3 -c "import sys; sys.exit(not $ms < $best_ms)"; then
            best="$e" best_ms="$ms"
        fi
    done
    echo "$best"
}

torch_env="$env_choice" gg_env="$env_choice"
if [ "$env_choice" = best ]; then
    torch_env=$(fastest_env pytorch)
    gg_env=$(fastest_env graphgrad)
fi
in_pytorch_env "$torch_env" /usr/bin/python3 "$here/char_lstm.py" --graphgrad "$gg" --torch-env "$torch_env" \
    --graphgrad-env "$gg_env" "${args[@]}"
