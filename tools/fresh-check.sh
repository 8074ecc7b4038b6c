#!/usr/bin/env bash
# Proves the README's quick start on a machine that has never seen the project: builds a
# minimal Debian 12 root with mmdebstrap (from this machine's own apt sources), clones the
# committed state of this repository into it, and runs exactly the README's two commands
# there, as root, in a chroot. Exits non-zero when either command fails.
#
# A CI run on a developer machine cannot see a missing install step (the machine already has
# the package); this can. Run it before submitting any change to packages, CMake or scripts.
#
#   tools/fresh-check.sh                        # the README's commands on a fresh root
#   tools/fresh-check.sh --drop-package ocl-icd-opencl-dev   # must fail: shows the check bites
#   tools/fresh-check.sh --keep --root /tmp/fresh            # keep the root for inspection
#
# Needs root (chroot, mounts) and mmdebstrap (installed when missing). Uses ~3 GB under
# $TMPDIR (or --root) while it runs; the root is deleted afterwards unless --keep.
set -euo pipefail

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="" keep=0 drop=()
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root="$2"; shift 2 ;;
        --keep) keep=1; shift ;;
        --drop-package) drop+=("$2"); shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "fresh-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$(id -u)" -ne 0 ]; then
    echo "fresh-check: needs root (mmdebstrap, chroot and mounts)" >&2
    exit 2
fi
if ! command -v mmdebstrap >/dev/null; then
    echo "== fresh-check: installing mmdebstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi
if [ -n "$(git -C "$repo" status --porcelain --untracked-files=no)" ]; then
    echo "fresh-check: warning: uncommitted changes are not checked (the clone holds HEAD only)" >&2
fi

if [ -z "$root" ]; then
    root="$(mktemp -d "${TMPDIR:-/tmp}/gg-fresh.XXXXXX")"
    rmdir "$root"  # mmdebstrap wants to create it
fi
[ -e "$root" ] && { echo "fresh-check: $root exists; give a new --root" >&2; exit 2; }

mounted=()
cleanup() {
    local i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -R -l "${mounted[i]}" 2>/dev/null || true; done
    if [ "$keep" = 1 ]; then echo "== fresh-check: kept $root"; return; fi
    # Never delete through a mount that is still there (the host's /dev, /sys).
    if grep -q " $root/" /proc/mounts; then
        echo "fresh-check: mounts remain under $root; not deleting it" >&2
        return
    fi
    rm -rf --one-file-system "$root"
}
trap cleanup EXIT

seconds() { date +%s; }
t0=$(seconds)
echo "== fresh-check: mmdebstrap --variant=apt bookworm $root"
# --variant=apt: essential packages and apt only, what `debootstrap --variant=minbase` gives
# and less than any real Debian 12 installation has. ca-certificates for apt over https.
mmdebstrap --quiet --variant=apt --include=ca-certificates bookworm "$root"
t_root=$(( $(seconds) - t0 ))

# The clone is made from the host (the root has no git: a new user may not either), of the
# committed state: what would land.
clone="$root/root/graphgrad"
git clone --quiet --no-hardlinks "$repo" "$clone"
git -C "$clone" checkout --quiet "$(git -C "$repo" rev-parse HEAD)"
for p in "${drop[@]}"; do
    echo "== fresh-check: dropping $p from tools/setup.sh's package list (negative check)"
    sed -i "s/\\b$p\\b//" "$clone/tools/setup.sh"
done

cp /etc/resolv.conf "$root/etc/resolv.conf"
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
for fs in sys dev; do  # rbind: /dev/pts and /dev/shm (OpenMP) come along
    mount --rbind "/$fs" "$root/$fs" && mounted+=("$root/$fs")
done

# A clean environment, as a login on the new machine would have.
in_root() {
    chroot "$root" /usr/bin/env -i HOME=/root USER=root LANG=C.UTF-8 TERM=dumb \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c "cd /root/graphgrad && $1"
}

status=0
declare -A took
for cmd in tools/demo.sh tools/test.sh; do
    echo "== fresh-check: $cmd (in the fresh root)"
    t=$(seconds)
    if in_root "$cmd"; then r=passed; else r=FAILED; status=1; fi
    took[$cmd]="$r in $(( $(seconds) - t )) s"
    [ "$status" = 0 ] || break  # test.sh after a failed demo.sh would only repeat the failure
done

echo
echo "== fresh-check summary ($(git -C "$repo" rev-parse --short HEAD))"
echo "root (mmdebstrap --variant=apt): $t_root s"
for cmd in tools/demo.sh tools/test.sh; do echo "$cmd: ${took[$cmd]:-not run}"; done
echo "total: $(( $(seconds) - t0 )) s"
exit $status
