# Shared by the PyTorch comparison scripts (run.sh, lambda_attention.sh): sourced after they
# set `here` to this folder. Defines root, gg (the graphgrad binary: GG, else
# GG_BUILD_DIR/bin/graphgrad, default build/), the prerequisite checks and the environments
# PyTorch runs under, so both scripts compare against the same baseline.

root="$(cd "$here/../.." && pwd)"
gg="${GG:-$root/${GG_BUILD_DIR:-build}/bin/graphgrad}"

# Exits unless /usr/bin/python3 can import Debian's PyTorch. $1: the calling script's name.
require_pytorch() {
    if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
        echo "$1: PyTorch is not installed. Install Debian's build (CPU, same oneDNN 2.6) with" >&2
        echo "    apt-get install -y --no-install-recommends python3-torch libopenblas0-pthread" >&2
        exit 1
    fi
}

# Exits unless $gg is an executable. $1: the calling script's name.
require_graphgrad() {
    if [ ! -x "$gg" ]; then
        echo "$1: no graphgrad binary at $gg (build with tools/test.sh, or set GG)" >&2
        exit 1
    fi
}

# Runs "${@:2}" under PyTorch environment $1. PyTorch's speed on this kind of VM depends 2-8x
# on the allocator and on libgomp's spinning (TOOLCHAIN.md), so callers try all three and take
# the best: plain | hugetlb (GLIBC_TUNABLES=glibc.malloc.hugetlb=1) | passive (the same +
# OMP_WAIT_POLICY=PASSIVE).
in_pytorch_env() {
    local e="$1" vars=()
    shift
    [ "$e" != plain ] && vars+=(GLIBC_TUNABLES=glibc.malloc.hugetlb=1)
    [ "$e" = passive ] && vars+=(OMP_WAIT_POLICY=PASSIVE)
    env "${vars[@]}" "$@"
}
