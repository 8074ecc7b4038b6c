#include "graphgrad/bench/bench_matmul.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include <omp.h>

#include <oneapi/dnnl/dnnl.hpp>

#include "graphgrad/bench/timing.h"
#include "graphgrad/train/report_format.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/ops/ops.h"

namespace gg {

namespace {

Tensor random_tensor(const Shape& s, uint64_t seed) {
    Tensor t(TensorDesc{s, DType::F32});
    float* p = t.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<float>(2.0 * uniform01(seed, 1, static_cast<uint64_t>(i)) - 1.0);
    return t;
}

// One bare oneDNN matmul: created once, executed on user pointers. Transposed operands are
// strided views, exactly as graphgrad's kernel describes them, so both sides run the same
// oneDNN implementation and the difference is graphgrad's own overhead.
struct BareMatmul {
    dnnl::matmul prim;
    std::unordered_map<int, dnnl::memory> args;

    BareMatmul(const dnnl::engine& eng, int64_t m, int64_t n, int64_t k, bool ta, bool tb, void* a, void* b, void* y) {
        using dt = dnnl::memory::data_type;
        dnnl::memory::desc src({m, k}, dt::f32, ta ? dnnl::memory::dims{1, m} : dnnl::memory::dims{k, 1});
        dnnl::memory::desc wei({k, n}, dt::f32, tb ? dnnl::memory::dims{1, k} : dnnl::memory::dims{n, 1});
        dnnl::memory::desc dst({m, n}, dt::f32, dnnl::memory::dims{n, 1});
        prim = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, dst), eng));
        args = {{DNNL_ARG_SRC, dnnl::memory(src, eng, a)},
                {DNNL_ARG_WEIGHTS, dnnl::memory(wei, eng, b)},
                {DNNL_ARG_DST, dnnl::memory(dst, eng, y)}};
    }
    void execute(dnnl::stream& s) { prim.execute(s, args); }
};

double max_abs_diff(const Tensor& x, const Tensor& y) {
    double d = 0;
    const float *a = x.data<float>(), *b = y.data<float>();
    for (int64_t i = 0; i < x.numel(); ++i) d = std::max(d, static_cast<double>(std::abs(a[i] - b[i])));
    return d;
}

nlohmann::json compare(double flops, const std::vector<double>& gg_ns, const std::vector<double>& dnn_ns) {
    const double g = bench::median(gg_ns), d = bench::median(dnn_ns);
    // Minima too: on a shared 2-core machine the median can carry other processes' load.
    return {{"graphgrad_ms", g * 1e-6},
            {"onednn_ms", d * 1e-6},
            {"graphgrad_min_ms", *std::min_element(gg_ns.begin(), gg_ns.end()) * 1e-6},
            {"onednn_min_ms", *std::min_element(dnn_ns.begin(), dnn_ns.end()) * 1e-6},
            {"graphgrad_gflops", flops / g},
            {"onednn_gflops", flops / d},
            {"ratio", d / g}};
}

}  // namespace

nlohmann::json bench_matmul(int64_t m, int64_t n, int64_t k, int repeats) {
    Graph g;
    Value a = g.input("a", {m, k}), b = g.input("b", {k, n}), dy = g.input("dy", {m, n});
    Value y = matmul(a, b, "mm");
    // Seeding the vector-Jacobian product with an input makes dY arbitrary data, and the
    // backward pass exactly the two GEMMs dA = dY·Bᵀ and dB = Aᵀ·dY.
    std::vector<Value> grads = grad({y}, {a, b}, {dy});
    CompiledGraph forward = compile(g, {y});
    CompiledGraph training = compile(g, {y, grads[0], grads[1]});

    Tensor av = random_tensor({m, k}, 1), bv = random_tensor({k, n}, 2), dyv = random_tensor({m, n}, 3);
    const Feeds fwd_feeds{{a, av}, {b, bv}};
    const Feeds train_feeds{{a, av}, {b, bv}, {dy, dyv}};

    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream stream(eng);
    Tensor yv({{m, n}, DType::F32}), dav({{m, k}, DType::F32}), dbv({{k, n}, DType::F32});
    BareMatmul fwd(eng, m, n, k, false, false, av.raw(), bv.raw(), yv.raw());
    BareMatmul bwd_a(eng, m, k, n, false, true, dyv.raw(), bv.raw(), dav.raw());  // [m,n]·[k,n]ᵀ
    BareMatmul bwd_b(eng, k, n, m, true, false, av.raw(), dyv.raw(), dbv.raw());  // [m,k]ᵀ·[m,n]
    auto bare_forward = [&] {
        fwd.execute(stream);
        stream.wait();
    };
    auto bare_training = [&] {
        fwd.execute(stream);
        bwd_a.execute(stream);
        bwd_b.execute(stream);
        stream.wait();
    };

    // Warm up (JIT, page faults, caches), then check both sides compute the same numbers.
    for (int i = 0; i < 3; ++i) {
        forward.run(fwd_feeds);
        training.run(train_feeds);
        bare_training();
    }
    std::vector<Tensor> out = training.run(train_feeds);
    const double diff = std::max({max_abs_diff(out[0], yv), max_abs_diff(out[1], dav), max_abs_diff(out[2], dbv)});

    // Interleaved so drift (frequency, other load) hits both sides alike, and the order flips
    // every repeat: both sides read the same A, B and dY, so whichever runs second would
    // otherwise always find them in cache.
    std::vector<double> gg_f, dnn_f, gg_t, dnn_t;
    auto time_gg_f = [&] { gg_f.push_back(bench::time_ns([&] { forward.run(fwd_feeds); })); };
    auto time_gg_t = [&] { gg_t.push_back(bench::time_ns([&] { training.run(train_feeds); })); };
    auto time_dnn_f = [&] { dnn_f.push_back(bench::time_ns(bare_forward)); };
    auto time_dnn_t = [&] { dnn_t.push_back(bench::time_ns(bare_training)); };
    for (int r = 0; r < repeats; ++r) {
        if (r % 2 == 0) {
            time_gg_f(), time_dnn_f(), time_gg_t(), time_dnn_t();
        } else {
            time_dnn_f(), time_gg_f(), time_dnn_t(), time_gg_t();
        }
    }

    bool all_fast = true;
    for (const auto& s : training.steps()) all_fast = all_fast && s.fast_kernel;
    const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    return {{"m", m},
            {"n", n},
            {"k", k},
            {"repeats", repeats},
            {"threads", omp_get_max_threads()},
            {"graphgrad_steps_forward_backward", training.num_steps()},
            {"all_steps_onednn", all_fast},
            {"max_abs_diff", diff},
            {"forward", compare(flops, gg_f, dnn_f)},
            {"forward_backward", compare(3 * flops, gg_t, dnn_t)}};
}

}  // namespace gg
