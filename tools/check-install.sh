#!/usr/bin/env bash
# Proves graphgrad works as an installed package: installs the build tree into a temporary
# prefix, compiles every installed header on its own against that prefix alone (so a public
# header that reaches an internal, uninstalled one fails), checks no installed header names
# oneDNN, OpenMP, CLI11, JSON or zlib, then builds the examples/ projects with
# find_package(graphgrad) and a pkg-config program, and runs them with small step counts.
#
#   tools/check-install.sh [BUILD_DIR]      # default: $GG_BUILD_DIR or build
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(cd "${1:-${GG_BUILD_DIR:-$root/build}}" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/gg-install.XXXXXX")"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
jobs="$(nproc)"

echo "== install into a temporary prefix"
cmake --install "$build" --prefix "$prefix" > "$work/install.log"
[ -x "$prefix/bin/graphgrad" ] || { echo "check-install: no bin/graphgrad installed" >&2; exit 1; }
"$prefix/bin/graphgrad" --version >/dev/null

echo "== installed headers: self-contained, nothing internal reachable"
headers=$(cd "$prefix/include" && find graphgrad -name '*.h' | sort)
if grep -nE '#include *[<"](oneapi/|dnnl|omp\.h|CLI/|nlohmann/|zlib\.h|boost/)' $(printf "$prefix/include/%s " $headers); then
    echo "check-install: an installed header includes a private dependency (above)" >&2
    exit 1
fi
printf '%s\n' $headers | xargs -P "$jobs" -I{} sh -c \
    'echo "#include <{}>" | g++ -std=c++20 -fsyntax-only -I"$1/include" -x c++ - 2> "$2/$(echo {} | tr / _).err" ||
     { echo "check-install: {} does not compile on its own against the installed prefix:" >&2; cat "$2/$(echo {} | tr / _).err" >&2; exit 255; }' \
    _ "$prefix" "$work"
echo "$(printf '%s\n' $headers | wc -l) headers compile on their own"

echo "== examples/ built against the installed package (find_package(graphgrad))"
for ex in train_custom_model custom_op; do
    cmake -S "$root/examples/$ex" -B "$work/$ex" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
        > "$work/$ex.configure.log" || { cat "$work/$ex.configure.log" >&2; exit 1; }
    cmake --build "$work/$ex" -j"$jobs" > "$work/$ex.build.log" || { cat "$work/$ex.build.log" >&2; exit 1; }
done
(cd "$work" && "$work/custom_op/custom_op")
(cd "$work" && "$work/train_custom_model/train_custom_model" --epochs 1 --limit-train 2048 --limit-test 2000 | grep -v "batch/s")

echo "== pkg-config"
cat > "$work/pc.cpp" <<'CPP'
#include <graphgrad/graphgrad.h>
#include <fmt/format.h>
int main() {
    gg::Graph g;
    auto x = g.input("x", {2, 3});
    auto y = gg::sum(gg::tanh(x) * 2.0);
    auto dx = gg::grad(y, {x})[0];
    auto out = gg::compile(g, {y, dx}).run({{x, gg::Tensor::zeros({2, 3})}});
    fmt::print("pkg-config build: graphgrad {}, y = {}, dy/dx[0] = {}\n", gg::version(), out[0].get(0), out[1].get(0));
    return out[1].get(0) == 2.0 ? 0 : 1;
}
CPP
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --exists graphgrad
g++ "$work/pc.cpp" -o "$work/pc" $(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs graphgrad)
"$work/pc"
echo "== check-install: passed"
