// The loops behind sum / mean / max (private to ops/reduction.cpp). A ReducePlan is made once,
// at kernel creation; run_reduce() only loops, in parallel, without allocating.
//
//   auto plan = gg::reduce::make_plan({64, 256, 1024}, {0, 2});
//   gg::reduce::run_reduce<gg::reduce::SumOp, float>(plan, /*mean=*/false, x, y, scratch);
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "graphgrad/graph/tensor_desc.h"
#include "graphgrad/ops/kernels/kernel_util.h"

namespace gg::reduce {

// An Op: its accumulator type, identity and combining step. f32 sums accumulate in double;
// max is exact in T.
struct SumOp {
    template <typename T>
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double, T>;
    template <typename A>
    static A init() { return A(0); }
    template <typename A>
    static A step(A a, A b) { return a + b; }
};
struct MaxOp {
    template <typename T>
    using Acc = T;
    template <typename A>
    static A init() {
        if constexpr (std::is_floating_point_v<A>) return -std::numeric_limits<A>::infinity();
        else return std::numeric_limits<A>::lowest();
    }
    // A NaN wins, then sticks (b > NaN is false). Written as two selects GCC 12 vectorises
    // them as blends; a plain `b > a ? b : a` becomes a scalar maxss chain and a single
    // select with `||` a cmov chain (both several times slower).
    template <typename A>
    static A step(A a, A b) {
        a = b > a ? b : a;
        return b != b ? b : a;
    }
};

template <typename Op, typename T>
using AccOf = typename Op::template Acc<T>;

// 32 independent lanes: vectorised, enough chains in flight to hide the latency, and short
// chains are more accurate than one running sum.
template <typename Op, typename T>
AccOf<Op, T> reduce_contiguous(const T* x, int64_t n) {
    using A = AccOf<Op, T>;
    constexpr int kLanes = 32;
    A lane[kLanes];
    for (A& l : lane) l = Op::template init<A>();
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes)
        for (int j = 0; j < kLanes; ++j) lane[j] = Op::step(lane[j], static_cast<A>(x[i + j]));
    for (int w = kLanes / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; ++j) lane[j] = Op::step(lane[j], lane[j + w]);
    A r = lane[0];
    for (; i < n; ++i) r = Op::step(r, static_cast<A>(x[i]));
    return r;
}

// acc[i] ⊕= row_r[i] for cnt rows st apart; four rows per pass over acc.
template <typename Op, typename T, typename A>
void accumulate_rows(A* __restrict acc, int64_t n, const T* row, int64_t cnt, int64_t st) {
    int64_t r = 0;
    for (; r + 4 <= cnt; r += 4, row += 4 * st) {
        const T *a = row, *b = row + st, *c = row + 2 * st, *d = row + 3 * st;
        for (int64_t i = 0; i < n; ++i)
            acc[i] = Op::step(Op::step(Op::step(Op::step(acc[i], static_cast<A>(a[i])), static_cast<A>(b[i])),
                                       static_cast<A>(c[i])),
                              static_cast<A>(d[i]));
    }
    for (; r < cnt; ++r, row += st)
        for (int64_t i = 0; i < n; ++i) acc[i] = Op::step(acc[i], static_cast<A>(row[i]));
}

// The same for narrow, back-to-back rows ([rows, n] contiguous, n < 32): a row of a few
// columns is too short a loop, so whole rows are folded into ~64 lanes first.
template <typename Op, typename T, typename A>
void accumulate_narrow(A* __restrict acc, int64_t n, const T* x, int64_t cnt) {
    constexpr int64_t kWidth = 64;
    const int64_t lanes = n * std::max<int64_t>(1, kWidth / n), total = n * cnt;
    A lane[kWidth];
    for (int64_t j = 0; j < lanes; ++j) lane[j] = Op::template init<A>();
    int64_t i = 0;
    for (; i + lanes <= total; i += lanes)
        for (int64_t j = 0; j < lanes; ++j) lane[j] = Op::step(lane[j], static_cast<A>(x[i + j]));
    for (int64_t j = 0; i + j < total; ++j) lane[j] = Op::step(lane[j], static_cast<A>(x[i + j]));
    for (int64_t j = 0; j < lanes; ++j) acc[j % n] = Op::step(acc[j % n], lane[j]);
}

// One reduction, analysed at compile time. The input coalesces into alternating groups of
// kept and reduced dims. The trailing group is walked contiguously — a reduced `run`, or
// `inner` output columns accumulated row by row — and the groups before it by index: kept
// ones pick the output row (`outer`), reduced ones are enumerated. Rows ([outer, R]),
// columns ([R, inner]) and non-adjacent axis sets (NCHW bias: [N, C, HW] → C) are all this.
struct ReducePlan {
    std::vector<int64_t> kshape, kstride;  // kept groups before the trailing group
    std::vector<int64_t> rshape, rstride;  // reduced groups before the trailing group
    int64_t outer = 1, rcount = 1;         // Π kshape, Π rshape
    int64_t run = 1;                       // trailing reduced group (then inner == 1)
    int64_t inner = 1;                     // trailing kept group (then run == 1)
    double scale = 1.0;                    // 1/count, for mean
    int64_t splits = 0;  // > 0: a single output row over a long range, split this many ways
};

constexpr int64_t kChunk = 1024;  // output columns one task accumulates (on the stack)
constexpr int64_t kSplits = 64;   // fixed, so results do not depend on the thread count

// `axes` sorted, non-negative.
inline ReducePlan make_plan(const Shape& x, const std::vector<int64_t>& axes) {
    ReducePlan p;
    struct Group { int64_t size; bool reduced; };
    std::vector<Group> groups;
    for (std::size_t k = 0; k < x.size(); ++k) {
        if (x[k] == 1) continue;  // size-1 dims change nothing, kept or reduced
        const bool r = std::binary_search(axes.begin(), axes.end(), static_cast<int64_t>(k));
        if (!groups.empty() && groups.back().reduced == r) groups.back().size *= x[k];
        else groups.push_back({x[k], r});
    }
    int64_t count = 1;
    for (int64_t a : axes) count *= x[static_cast<std::size_t>(a)];
    p.scale = count > 0 ? 1.0 / static_cast<double>(count) : std::numeric_limits<double>::quiet_NaN();  // 0/0
    if (groups.empty()) return p;
    (groups.back().reduced ? p.run : p.inner) = groups.back().size;
    int64_t stride = groups.back().size;
    for (int i = static_cast<int>(groups.size()) - 2; i >= 0; --i) {
        const Group& g = groups[static_cast<std::size_t>(i)];
        (g.reduced ? p.rshape : p.kshape).insert((g.reduced ? p.rshape : p.kshape).begin(), g.size);
        (g.reduced ? p.rstride : p.kstride).insert((g.reduced ? p.rstride : p.kstride).begin(), stride);
        stride *= g.size;
    }
    p.outer = numel(p.kshape);
    p.rcount = numel(p.rshape);
    if (p.outer == 1 && p.rcount * p.run * p.inner > kParallelGrain) {
        if (p.inner == 1) p.splits = kSplits;  // the whole input is one run: split it
        else if (p.rcount >= kSplits && p.inner < 8 * kChunk) p.splits = kSplits;
    }
    return p;
}

// Calls f(offset, count, stride) for the reduced positions [b, e) (flat, row-major over
// rshape) as runs along the last reduced group: count offsets offset + k·stride.
template <typename F>
void for_runs(const ReducePlan& p, int64_t b, int64_t e, F&& f) {
    const std::size_t n = p.rshape.size();
    if (n == 0) {
        if (b < e) f(int64_t{0}, e - b, int64_t{0});
        return;
    }
    const int64_t last = p.rshape[n - 1], st = p.rstride[n - 1];
    for (int64_t r = b; r < e;) {
        int64_t rem = r / last, off = (r % last) * st;
        for (std::size_t k = n - 1; k-- > 0;) {
            off += (rem % p.rshape[k]) * p.rstride[k];
            rem /= p.rshape[k];
        }
        const int64_t cnt = std::min(e - r, last - r % last);
        f(off, cnt, st);
        r += cnt;
    }
}

inline int64_t outer_base(const ReducePlan& p, int64_t o) {
    int64_t base = 0;
    for (std::size_t k = p.kshape.size(); k-- > 0;) {
        base += (o % p.kshape[k]) * p.kstride[k];
        o /= p.kshape[k];
    }
    return base;
}

// scratch: splits · inner accumulators when plan.splits, else unused.
template <typename Op, typename T>
void run_reduce(const ReducePlan& p, bool mean, const T* x, T* y, AccOf<Op, T>* scratch) {
    using A = AccOf<Op, T>;
    auto finish = [&](A v) { return mean ? static_cast<T>(static_cast<double>(v) * p.scale) : static_cast<T>(v); };
    // acc[0, n) = ⊕ over reduced offsets [rb, re) of the row x[base + off + c0 ...].
    auto columns = [&](A* acc, int64_t n, int64_t base, int64_t c0, int64_t rb, int64_t re) {
        for (int64_t i = 0; i < n; ++i) acc[i] = Op::template init<A>();
        for_runs(p, rb, re, [&](int64_t off, int64_t cnt, int64_t st) {
            const T* row = x + base + off + c0;
            if (st == n && n < 32) accumulate_narrow<Op>(acc, n, row, cnt);  // rows back to back
            else accumulate_rows<Op>(acc, n, row, cnt, st);
        });
    };
    // ⊕ over reduced offsets [rb, re) of the contiguous runs at xo + off.
    auto runs = [&](const T* xo, int64_t rb, int64_t re) {
        A acc = Op::template init<A>();
        for_runs(p, rb, re, [&](int64_t off, int64_t cnt, int64_t st) {
            for (int64_t k = 0; k < cnt; ++k) acc = Op::step(acc, reduce_contiguous<Op>(xo + off + k * st, p.run));
        });
        return acc;
    };
    const int64_t per_task = std::max<int64_t>(1, p.rcount * p.run * std::min(p.inner, kChunk));
    const int64_t grain = grain_for(per_task);

    if (p.splits) {
        // One output row over a long range: each piece reduces its share into scratch, then
        // the partials combine in piece order. With one output (inner == 1) there is no kept
        // group, so no reduced group before the run either: the run is the whole input.
        const int64_t len = p.inner == 1 ? p.run : p.rcount, per = (len + p.splits - 1) / p.splits;
        parallel_range(
            p.splits,
            [&](int64_t b, int64_t e) {
                A acc[kChunk];
                for (int64_t s = b; s < e; ++s) {
                    const int64_t lo = std::min(len, s * per), hi = std::min(len, lo + per);
                    A* part = scratch + s * p.inner;
                    if (p.inner == 1) {
                        part[0] = reduce_contiguous<Op>(x + lo, hi - lo);
                        continue;
                    }
                    for (int64_t c0 = 0; c0 < p.inner; c0 += kChunk) {
                        const int64_t n = std::min(kChunk, p.inner - c0);
                        columns(acc, n, 0, c0, lo, hi);
                        std::copy_n(acc, n, part + c0);
                    }
                }
            },
            1);
        for (int64_t s = 1; s < p.splits; ++s)  // piece by piece: contiguous, vectorised
            for (int64_t i = 0; i < p.inner; ++i) scratch[i] = Op::step(scratch[i], scratch[s * p.inner + i]);
        for (int64_t i = 0; i < p.inner; ++i) y[i] = finish(scratch[i]);
        return;
    }
    if (p.inner == 1) {  // each output reduces contiguous runs
        parallel_range(
            p.outer,
            [&](int64_t b, int64_t e) {
                for (int64_t o = b; o < e; ++o) y[o] = finish(runs(x + outer_base(p, o), 0, p.rcount));
            },
            grain);
        return;
    }
    // Output columns: a task accumulates up to kChunk of them over every reduced row.
    const int64_t chunks = (p.inner + kChunk - 1) / kChunk;
    parallel_range(
        p.outer * chunks,
        [&](int64_t b, int64_t e) {
            A acc[kChunk];
            for (int64_t t = b; t < e; ++t) {
                const int64_t o = t / chunks, c0 = (t % chunks) * kChunk, n = std::min(kChunk, p.inner - c0);
                columns(acc, n, outer_base(p, o), c0, 0, p.rcount);
                for (int64_t i = 0; i < n; ++i) y[o * p.inner + c0 + i] = finish(acc[i]);
            }
        },
        grain);
}

}  // namespace gg::reduce
