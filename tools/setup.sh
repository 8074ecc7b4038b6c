# shellcheck shell=bash
# Shared by tools/demo.sh and tools/test.sh (sourced, not run): install the Debian packages
# graphgrad needs when any is missing, then configure and build with every core.
#
#   source "$(dirname "$0")/setup.sh"; gg_setup   # leaves you in the repo root, built
#
# GG_BUILD_DIR overrides the build directory (default: build), e.g. to keep a second tree.

# Installed with --no-install-recommends, so everything configure needs is listed, including
# what a package only recommends: Debian's oneDNN CMake config calls find_package(OpenCL),
# which needs ocl-icd-opencl-dev although libdnnl-dev merely recommends it.
# tools/fresh-check.sh proves this list on a fresh Debian 12 root.
GG_PACKAGES=(cmake ninja-build g++ pkg-config libdnnl-dev ocl-icd-opencl-dev libboost-graph-dev libfmt-dev
             catch2 libcli11-dev nlohmann-json3-dev zlib1g-dev dataset-fashion-mnist
             gnuplot-nox  # gnuplot-nox: `graphgrad bench lambda-vs-attention --plot`
             # `graphgrad train text_cnn|fasttext_classifier --corpus ...`: labelled text; fasttext:
             # the comparator of tools/compare/text_classify.sh
             fortunes fortunes-min fortunes-de fortunes-br fortunes-it fortunes-es fasttext)
GG_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GG_BUILD_DIR="${GG_BUILD_DIR:-build}"

gg_install_packages() {
    local missing=() p
    for p in "${GG_PACKAGES[@]}"; do
        # dpkg -s alone also succeeds for removed packages that left config files behind.
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "== packages: all present"
        return
    fi
    echo "== packages: installing ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

gg_build() {
    cd "$GG_ROOT" || return
    echo "== configure ($GG_BUILD_DIR)"
    cmake -S . -B "$GG_BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
    echo "== build"
    cmake --build "$GG_BUILD_DIR" -j"$(nproc)"
}

gg_setup() {
    gg_install_packages
    gg_build
}
