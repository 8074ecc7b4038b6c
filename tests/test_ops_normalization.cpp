// Behaviour tests for batch_norm and layer_norm beyond the registry tests: PyTorch-style state
// names, running statistics after k training runs (PyTorch's formula), evaluation programs
// reading the shared store, oneDNN against the reference loops (plain and blocked layouts;
// forward, running-statistics update, backward op), batch_norm in compiled graphs whose x and
// dy arrive in oneDNN's blocked layouts, and layer_norm's values and affine parameters.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/graph/gradcheck.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/graph/rng.h"
#include "op_test_util.h"
#include "graphgrad/ops/dnn/batch_norm.h"
#include "graphgrad/ops/dnn/bound_primitive.h"
#include "test_support.h"
#include "graphgrad/ops/dnn/layout.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/ops.h"

using namespace gg;

namespace {

Tensor random_tensor(const Shape& s, DType dt, uint64_t seed, double scale = 2.0, double offset = 0.0) {
    Tensor t(TensorDesc{s, dt});
    for (int64_t i = 0; i < t.numel(); ++i)
        t.set(i, offset + scale * (2.0 * uniform01(seed, 11, static_cast<uint64_t>(i)) - 1.0));
    return t;
}

// Per-channel mean and biased variance of x [N, C, ...] (the naive meaning).
void channel_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
    const int64_t n = x.shape()[0], c = x.shape()[1], inner = x.numel() / (n * c);
    mean.assign(static_cast<std::size_t>(c), 0.0);
    var.assign(static_cast<std::size_t>(c), 0.0);
    for (int64_t ch = 0; ch < c; ++ch) {
        double s = 0, ss = 0;
        for (int64_t i = 0; i < n; ++i)
            for (int64_t k = 0; k < inner; ++k) s += x.get((i * c + ch) * inner + k);
        const double mu = s / static_cast<double>(n * inner);
        for (int64_t i = 0; i < n; ++i)
            for (int64_t k = 0; k < inner; ++k) ss += std::pow(x.get((i * c + ch) * inner + k) - mu, 2);
        mean[static_cast<std::size_t>(ch)] = mu;
        var[static_cast<std::size_t>(ch)] = ss / static_cast<double>(n * inner);
    }
}

using tag = dnnl::memory::format_tag;

dnnl::memory::desc plain_md(const Shape& s) { return dnn::plain_f32(dnnl::memory::dims(s.begin(), s.end())); }
dnnl::memory::desc blocked_md(const Shape& s, tag t) {
    return {dnnl::memory::dims(s.begin(), s.end()), dnnl::memory::data_type::f32, t};
}

// "test_to_blocked": the identity, but a Native op that writes its output in a oneDNN blocked
// layout whenever it may (and reads any oneDNN layout). Its gradient is itself, so dy of an
// op behind it arrives blocked too. Stands in for a blocked convolution.
// This file's test ops, kept out of the registry the generic tests read.
OpRegistry& test_ops() {
    static OpRegistry r;
    return r;
}

const OpDef& to_blocked_op(tag t, const char* name) {
    OpRegistry& r = test_ops();
    if (const OpDef* d = r.find(name)) return *d;
    OpDef& def = r.define(name);
    def.arity(1)
        .describe("test op: identity writing a oneDNN blocked layout")
        .infer_shape(same_as_input(0))
        .fast_kernel([t](const KernelContext& c) -> std::unique_ptr<Kernel> {  // layout-aware, no reference
            const Shape& s = c.inputs[0].shape;
            const auto* in = dnn::as_dnn(c.input_layout(0));
            const dnnl::memory::desc from = in ? in->desc() : plain_md(s);
            dnnl::memory::desc to = plain_md(s);
            if (c.may_choose_layouts()) {
                to = blocked_md(s, t);
                c.set_output_layout(0, std::make_shared<dnn::DnnLayout>(to, plain_md(s)));
            }
            return dnn::make_reorder_kernel(c.resources, from, to);
        })
        .layout(LayoutUse::Native)
        .gradient([name = std::string(name)](GradContext& g) {
            return InputGrads{g.graph().add_node1(test_ops().get(name), {g.grad_output(0)})};
        });
    return def;
}

Value to_blocked(Value x, tag t = tag::nChw16c) {
    return x.graph->add_node1(to_blocked_op(t, t == tag::nChw16c ? "test_to_nChw16c" : "test_to_nChw8c"), {x});
}

// Runs a kernel once on the given buffers with fresh scratch.
void run_kernel(Kernel& k, const std::vector<const void*>& in, const std::vector<void*>& out) {
    Buffer scratch(std::max<std::size_t>(k.scratch_bytes(), 1));
    k.run(KernelArgs{in.data(), out.data(), scratch.data(), 0});
}

void require_close(const Tensor& a, const Tensor& b, double tol = 1e-4) {
    REQUIRE(a.numel() == b.numel());
    REQUIRE(testing::relative_difference(a, b) <= tol);
}

}  // namespace

TEST_CASE("batch_norm creates PyTorch's state_dict entries", "[ops][normalization]") {
    Graph g;
    auto x = g.input("x", {4, 3, 2, 2});
    Value y;
    {
        NameScope s(g, "layer1");
        y = batch_norm(x, "bn1");
    }
    const ParameterStore& st = g.store();
    CHECK(st.entries().size() == 5);
    CHECK(st.entries().at("layer1.bn1.weight").trainable);
    CHECK(st.entries().at("layer1.bn1.bias").trainable);
    CHECK_FALSE(st.entries().at("layer1.bn1.running_mean").trainable);
    CHECK_FALSE(st.entries().at("layer1.bn1.running_var").trainable);
    CHECK_FALSE(st.entries().at("layer1.bn1.num_batches_tracked").trainable);
    CHECK(st.get("layer1.bn1.weight").to_doubles() == std::vector<double>{1, 1, 1});
    CHECK(st.get("layer1.bn1.bias").to_doubles() == std::vector<double>{0, 0, 0});
    CHECK(st.get("layer1.bn1.running_mean").to_doubles() == std::vector<double>{0, 0, 0});
    CHECK(st.get("layer1.bn1.running_var").to_doubles() == std::vector<double>{1, 1, 1});
    CHECK(st.get("layer1.bn1.num_batches_tracked").desc() == TensorDesc{{}, DType::I64});
    CHECK(y.name() == "layer1.bn1");
    CHECK(y.desc() == x.desc());

    Graph h;
    auto z = batch_norm(h.input("x", {2, 3}), "bn", {.affine = false});
    CHECK(h.store().entries().size() == 3);  // no weight or bias without affine
    CHECK(z.shape() == Shape{2, 3});
    CHECK_THROWS_WITH(batch_norm(h.input("v", {3}), "bad"), Catch::Contains("x must be [N, C, ...]"));
}

TEST_CASE("batch_norm running statistics follow PyTorch over k training runs; eval reads them",
          "[ops][normalization]") {
    for (DType dt : {DType::F32, DType::F64})
        for (bool reference : {false, true}) {
            INFO(dtype_name(dt) << (reference ? " reference" : " fast"));
            const Shape shape{4, 3, 2, 5};
            const double momentum = 0.3, eps = 1e-3;
            Graph g;
            auto x = g.input("x", shape, dt);
            auto y = batch_norm(x, "bn", {.momentum = momentum, .eps = eps});
            auto loss = sum(y * y * g.constant(random_tensor(shape, dt, 5)));
            auto params = g.parameters();
            auto grads = grad(loss, params);
            CompileOptions opts;
            opts.reference_kernels = reference;
            auto train = compile(g, {y, grads[0], grads[1]}, opts);
            auto eval = compile(g, {y}, opts);
            REQUIRE(train.training());
            REQUIRE_FALSE(eval.training());

            std::vector<double> rm(3, 0.0), rv(3, 1.0);
            const int k = 3;
            for (int step = 0; step < k; ++step) {
                Tensor xv = random_tensor(shape, dt, 100 + static_cast<uint64_t>(step), 2.0, 0.5 * step);
                auto out = train.run({{x, xv}});
                std::vector<double> mean, var;
                channel_stats(xv, mean, var);
                const double m = 4 * 2 * 5;
                for (std::size_t c = 0; c < 3; ++c) {
                    rm[c] = (1 - momentum) * rm[c] + momentum * mean[c];
                    rv[c] = (1 - momentum) * rv[c] + momentum * var[c] * m / (m - 1);
                }
                // The training output is normalised with the batch statistics (γ = 1, β = 0).
                for (int64_t i = 0; i < xv.numel(); ++i) {
                    const auto c = static_cast<std::size_t>((i / 10) % 3);
                    CHECK(out[0].get(i) == Approx((xv.get(i) - mean[c]) / std::sqrt(var[c] + eps)).margin(1e-4));
                }
            }
            const ParameterStore& st = g.store();
            for (std::size_t c = 0; c < 3; ++c) {
                CHECK(st.get("bn.running_mean").get(static_cast<int64_t>(c)) == Approx(rm[c]).margin(1e-5));
                CHECK(st.get("bn.running_var").get(static_cast<int64_t>(c)) == Approx(rv[c]).margin(1e-5));
            }
            CHECK(st.get("bn.num_batches_tracked").get(0) == k);

            // The evaluation program shares the store: it normalises with the running statistics
            // and updates nothing.
            Tensor xv = random_tensor(shape, dt, 7);
            Tensor ye = eval.run({{x, xv}})[0].clone();
            for (int64_t i = 0; i < xv.numel(); ++i) {
                const auto c = static_cast<std::size_t>((i / 10) % 3);
                CHECK(ye.get(i) == Approx((xv.get(i) - rm[c]) / std::sqrt(rv[c] + eps)).margin(1e-4));
            }
            CHECK(st.get("bn.num_batches_tracked").get(0) == k);
            CHECK(st.get("bn.running_mean").get(0) == Approx(rm[0]).margin(1e-5));
        }
}

TEST_CASE("the oneDNN batch-norm kernels (for blocked layouts) match the loops", "[ops][normalization][kernels]") {
    // Registered for blocked x only (plain x runs the loops), so here they run directly.
    for (const Shape& shape : {Shape{8, 16, 7, 7}, Shape{32, 10}, Shape{4, 6, 3, 2, 5}})
        for (bool training : {true, false}) {
            INFO(shape_str(shape) << (training ? " training" : " evaluation"));
            const BatchNormGeometry g = batch_norm_geometry(shape);
            const Shape c{shape[1]};
            const double eps = 1e-4, momentum = 0.2;
            Tensor x = random_tensor(shape, DType::F32, 9, 3.0, 1.0), w = random_tensor(c, DType::F32, 1, 0.5, 1.0),
                   b = random_tensor(c, DType::F32, 2), rm = random_tensor(c, DType::F32, 3),
                   rv = random_tensor(c, DType::F32, 4, 0.5, 1.0), nbt = Tensor::zeros({}, DType::I64);
            Tensor rm2 = rm.clone(), rv2 = rv.clone();
            Tensor y(x.desc()), mean(rm.desc()), invstd(rm.desc());
            KernelResources res;
            // Any rank as [N, C, 1, inner]: one descriptor serves every rank, and 4-D gets oneDNN's
            // optimised ncsp implementation (3-D ncw falls back to its slow reference one in 2.6).
            const auto nchw = dnn::plain_f32({g.n, g.c, 1, g.inner});
            auto k = dnn::make_batch_norm_forward_kernel(res, g, eps, momentum, training, nchw);
            REQUIRE(k);
            run_kernel(*k, {x.raw(), w.raw(), b.raw(), rm.raw(), rv.raw(), nbt.raw()}, {y.raw(), mean.raw(), invstd.raw()});

            Tensor y2(x.desc()), mean2(rm.desc()), invstd2(rm.desc()), var(rm.desc());
            const float* xp = x.data<float>();
            if (training) {
                reference::batch_norm_train<float>(g, eps, xp, w.data<float>(), b.data<float>(), y2.data<float>(),
                                                   mean2.data<float>(), invstd2.data<float>(), var.data<float>());
                update_running_stats<float>(g, momentum, mean2.data<float>(), var.data<float>(), rm2.data<float>(),
                                            rv2.data<float>(), nullptr);
                CHECK(nbt.get(0) == 1);
            } else {
                reference::batch_norm_eval<float>(g, eps, xp, w.data<float>(), b.data<float>(), rm2.data<float>(),
                                                  rv2.data<float>(), y2.data<float>(), mean2.data<float>(),
                                                  invstd2.data<float>());
            }
            for (auto [a, e] : {std::pair{y, y2}, {mean, mean2}, {invstd, invstd2}, {rm, rm2}, {rv, rv2}}) require_close(a, e);

            // Backward from the saved statistics.
            Tensor dy = random_tensor(shape, DType::F32, 5), dx(x.desc()), dw(rm.desc()), db(rm.desc());
            Tensor dx2(x.desc()), dw2(rm.desc()), db2(rm.desc());
            auto kb = dnn::make_batch_norm_backward_kernel(res, g, eps, true, nchw);
            REQUIRE(kb);
            run_kernel(*kb, {x.raw(), dy.raw(), w.raw(), mean2.raw(), invstd2.raw()}, {dx.raw(), dw.raw(), db.raw()});
            reference::batch_norm_backward<float>(g, xp, dy.data<float>(), w.data<float>(), mean2.data<float>(),
                                                  invstd2.data<float>(), dx2.data<float>(), dw2.data<float>(),
                                                  db2.data<float>());
            for (auto [a, e] : {std::pair{dx, dx2}, {dw, dw2}, {db, db2}}) require_close(a, e);
        }
}

TEST_CASE("the oneDNN batch-norm kernels on blocked layouts match the loops and keep the padding zero",
          "[ops][normalization][kernels][layout]") {
    struct Case {
        Shape shape;
        tag t;
    };
    // C = 6 and 20 leave padded channels in the last block of 16 (or 8).
    for (const Case& cs : {Case{{8, 16, 7, 7}, tag::nChw16c}, Case{{4, 6, 5, 3}, tag::nChw16c},
                           Case{{3, 20, 4, 4}, tag::nChw8c}, Case{{2, 20, 3, 5}, tag::nChw16c}})
        for (bool training : {true, false}) {
            const Shape& shape = cs.shape;
            INFO(shape_str(shape) << (cs.t == tag::nChw16c ? " nChw16c" : " nChw8c")
                                  << (training ? " training" : " evaluation"));
            const BatchNormGeometry g = batch_norm_geometry(shape);
            const Shape c{shape[1]};
            const double eps = 1e-4, momentum = 0.2;
            const auto blocked = blocked_md(shape, cs.t), plain = plain_md(shape);
            const std::size_t bbytes = blocked.get_size();
            Tensor x = random_tensor(shape, DType::F32, 9, 3.0, 1.0), w = random_tensor(c, DType::F32, 1, 0.5, 1.0),
                   b = random_tensor(c, DType::F32, 2), rm = random_tensor(c, DType::F32, 3),
                   rv = random_tensor(c, DType::F32, 4, 0.5, 1.0), nbt = Tensor::zeros({}, DType::I64);
            Tensor dy = random_tensor(shape, DType::F32, 5);
            KernelResources res;
            // Blocked copies of x and dy; y and dx start as garbage (the arena is reused).
            Buffer xb(bbytes), dyb(bbytes), yb(bbytes), dxb(bbytes);
            auto to_blocked_k = dnn::make_reorder_kernel(res, plain, blocked);
            auto to_plain_k = dnn::make_reorder_kernel(res, blocked, plain);
            run_kernel(*to_blocked_k, {x.raw()}, {xb.data()});
            run_kernel(*to_blocked_k, {dy.raw()}, {dyb.data()});
            for (Buffer* buf : {&yb, &dxb}) std::fill_n(static_cast<float*>(buf->data()), bbytes / 4, std::nanf(""));

            // The loops on plain memory define the results.
            Tensor rm2 = rm.clone(), rv2 = rv.clone();
            Tensor y2(x.desc()), mean2(rm.desc()), invstd2(rm.desc()), var(rm.desc());
            if (training) {
                reference::batch_norm_train<float>(g, eps, x.data<float>(), w.data<float>(), b.data<float>(),
                                                   y2.data<float>(), mean2.data<float>(), invstd2.data<float>(),
                                                   var.data<float>());
                update_running_stats<float>(g, momentum, mean2.data<float>(), var.data<float>(), rm2.data<float>(),
                                            rv2.data<float>(), nullptr);
            } else {
                reference::batch_norm_eval<float>(g, eps, x.data<float>(), w.data<float>(), b.data<float>(),
                                                  rm2.data<float>(), rv2.data<float>(), y2.data<float>(),
                                                  mean2.data<float>(), invstd2.data<float>());
            }
            Tensor dx2(x.desc()), dw2(rm.desc()), db2(rm.desc());
            reference::batch_norm_backward<float>(g, x.data<float>(), dy.data<float>(), w.data<float>(),
                                                  mean2.data<float>(), invstd2.data<float>(), dx2.data<float>(),
                                                  dw2.data<float>(), db2.data<float>(), training);

            Tensor y(x.desc()), mean(rm.desc()), invstd(rm.desc());
            auto k = dnn::make_batch_norm_forward_kernel(res, g, eps, momentum, training, blocked);
            REQUIRE(k);
            run_kernel(*k, {xb.data(), w.raw(), b.raw(), rm.raw(), rv.raw(), nbt.raw()},
                       {yb.data(), mean.raw(), invstd.raw()});
            run_kernel(*to_plain_k, {yb.data()}, {y.raw()});
            CHECK(nbt.get(0) == (training ? 1 : 0));
            for (auto [a, e] : {std::pair{y, y2}, {mean, mean2}, {invstd, invstd2}, {rm, rm2}, {rv, rv2}})
                require_close(a, e);

            // Backward: x, dy and dx blocked.
            Tensor dx(x.desc()), dw(rm.desc()), db(rm.desc());
            auto kb = dnn::make_batch_norm_backward_kernel(res, g, eps, training, blocked);
            REQUIRE(kb);
            run_kernel(*kb, {xb.data(), dyb.data(), w.raw(), mean2.raw(), invstd2.raw()}, {dxb.data(), dw.raw(), db.raw()});
            run_kernel(*to_plain_k, {dxb.data()}, {dx.raw()});
            for (auto [a, e] : {std::pair{dx, dx2}, {dw, dw2}, {db, db2}}) require_close(a, e);

            // Padded channels of the blocked outputs must be zero: elementwise ops after batch
            // norm apply f(0) = 0 to them, and a convolution reads them.
            {
                const int64_t blk = cs.t == tag::nChw16c ? 16 : 8, cb = (shape[1] + blk - 1) / blk;
                const int64_t hw = shape[2] * shape[3];
                for (const Buffer* buf : {&yb, &dxb}) {
                    const auto* f = static_cast<const float*>(buf->data());
                    int64_t bad = 0;
                    for (int64_t i = 0; i < static_cast<int64_t>(bbytes / 4); ++i) {
                        const int64_t ch = ((i / (blk * hw)) % cb) * blk + i % blk;
                        if (ch >= shape[1] && f[i] != 0.0f) ++bad;
                    }
                    CHECK(bad == 0);
                }
            }
        }
}

// y = to_blocked(batch_norm(to_blocked(x))), loss = Σ relu(y)·c: x of batch_norm and dy of its
// backward arrive blocked. The same graph is built twice (each has its own running statistics)
// and compiled with the fast kernels and with the reference ones.
TEST_CASE("batch_norm and its backward read and write blocked layouts in compiled graphs",
          "[ops][normalization][layout]") {
    for (bool training : {true, false})
        for (tag t : {tag::nChw16c, tag::nChw8c})
            for (const Shape& shape : {Shape{4, 6, 5, 3}, Shape{2, 32, 6, 6}})
                for (bool fetch_y : {false, true}) {
                    INFO(shape_str(shape) << (t == tag::nChw16c ? " nChw16c" : " nChw8c")
                                          << (training ? " training" : " evaluation") << (fetch_y ? " fetch y" : ""));
                    std::vector<std::vector<Tensor>> results;
                    std::vector<std::size_t> bn_bytes;
                    for (bool reference : {false, true}) {
                        Graph g;
                        auto x = g.input("x", shape);
                        auto bn = batch_norm(to_blocked(x, t), "bn", {.momentum = 0.3, .eps = 1e-3});
                        auto y = to_blocked(bn, t);
                        auto loss = sum(relu(y) * g.constant(random_tensor(shape, DType::F32, 5)));
                        auto grads = grad(loss, {x, g.find("bn.weight"), g.find("bn.bias")});
                        std::vector<Value> fetches{loss, grads[0], grads[1], grads[2]};
                        if (fetch_y) fetches.push_back(bn);
                        CompileOptions o;
                        o.reference_kernels = reference;
                        o.training = training;
                        auto prog = compile(g, fetches, o);
                        const auto& steps = prog.steps();
                        for (std::size_t i = 0; i < steps.size(); ++i) {
                            if (steps[i].conversion || g.node(steps[i].node).op_name() != "batch_norm") continue;
                            bn_bytes.push_back(steps[i].output_bytes);
                            // A fetched y is converted to plain right after the step writing it.
                            if (fetch_y && !reference)
                                CHECK((i + 1 < steps.size() && steps[i + 1].conversion && steps[i + 1].node == bn.node));
                        }
                        std::vector<Tensor> r;
                        for (int step = 0; step < 2; ++step) {
                            auto out = prog.run({{x, random_tensor(shape, DType::F32, 40 + static_cast<uint64_t>(step), 2.0, 1.0)}});
                            if (step == 1)
                                for (auto& v : out) r.push_back(v.clone());
                        }
                        r.push_back(g.store().get("bn.running_mean").clone());
                        r.push_back(g.store().get("bn.running_var").clone());
                        CHECK(g.store().get("bn.num_batches_tracked").get(0) == (training ? 2 : 0));
                        results.push_back(std::move(r));
                    }
                    REQUIRE(results[0].size() == results[1].size());
                    for (std::size_t i = 0; i < results[0].size(); ++i) {
                        INFO("result " << i);
                        require_close(results[0][i], results[1][i], 2e-4);
                    }
                    // The fast program keeps y blocked (padded when C is not a multiple of the
                    // block), fetched or not; the reference one is plain.
                    REQUIRE(bn_bytes.size() == 2);
                    const std::size_t plain_bytes = static_cast<std::size_t>(numel(shape) + 2 * shape[1]) * sizeof(float);
                    CHECK(bn_bytes[1] == plain_bytes);
                    const int64_t blk = t == tag::nChw16c ? 16 : 8;
                    if (shape[1] % blk != 0) CHECK(bn_bytes[0] > plain_bytes);
                }
}

TEST_CASE("conv2d -> batch_norm -> relu trains the same with fast and reference kernels",
          "[ops][normalization][layout]") {
    // Once conv2d writes blocked layouts, batch_norm reads them natively here.
    for (bool training : {true, false}) {
        INFO((training ? "training" : "evaluation"));
        std::vector<std::vector<Tensor>> results;
        for (bool reference : {false, true}) {
            Graph g;
            auto x = g.input("x", {4, 8, 10, 10});
            auto w = g.parameter("conv.weight", {24, 8, 3, 3}, init::normal(0.0, 0.2));
            auto h = relu(batch_norm(conv2d(x, w, std::nullopt, {.padding = {1, 1, 1, 1}}), "bn"));
            auto w2 = g.parameter("conv2.weight", {16, 24, 3, 3}, init::normal(0.0, 0.2));
            auto h2 = relu(batch_norm(conv2d(h, w2, std::nullopt, {.stride = {2, 2}, .padding = {1, 1, 1, 1}}), "bn2"));
            auto loss = sum(h2 * g.constant(random_tensor(h2.shape(), DType::F32, 5)));
            auto grads = grad(loss, {x, w, w2, g.find("bn.weight"), g.find("bn2.bias")});
            std::vector<Value> fetches{loss};
            fetches.insert(fetches.end(), grads.begin(), grads.end());
            CompileOptions o;
            o.reference_kernels = reference;
            o.training = training;
            auto prog = compile(g, fetches, o);
            auto out = prog.run({{x, random_tensor({4, 8, 10, 10}, DType::F32, 77)}});
            std::vector<Tensor> r;
            for (auto& v : out) r.push_back(v.clone());
            r.push_back(g.store().get("bn2.running_var").clone());
            results.push_back(std::move(r));
        }
        REQUIRE(results[0].size() == results[1].size());
        for (std::size_t i = 0; i < results[0].size(); ++i) {
            INFO("result " << i);
            require_close(results[0][i], results[1][i], 1e-3);
        }
    }
}

TEST_CASE("batch_norm gradients in an evaluation program use the frozen statistics", "[ops][normalization]") {
    // Fine-tuning with frozen statistics: y = γ·(x − rm)/√(rv + eps) + β, so dx = γ/√(rv + eps)·dy.
    Graph g;
    auto x = g.input("x", {4, 2, 3}, DType::F64);
    auto y = batch_norm(x, "bn", {.eps = 1e-3});
    g.store().get("bn.weight").fill(3.0);
    g.store().get("bn.running_var").fill(0.5);
    auto dx = grad(sum(y * y), {x})[0];
    auto prog = compile(g, {y, dx}, CompileOptions{.training = false});
    Tensor xv = random_tensor({4, 2, 3}, DType::F64, 8);
    auto r = prog.run({{x, xv}});
    for (int64_t i = 0; i < xv.numel(); ++i) {
        CHECK(r[0].get(i) == Approx(3.0 * xv.get(i) / std::sqrt(0.5 + 1e-3)));
        CHECK(r[1].get(i) == Approx(2 * r[0].get(i) * 3.0 / std::sqrt(0.5 + 1e-3)));
    }
    CHECK(g.store().get("bn.num_batches_tracked").get(0) == 0);
}

TEST_CASE("batch_norm refuses training with one value per channel", "[ops][normalization][errors]") {
    Graph g;
    auto x = g.input("x", {1, 3});
    auto y = batch_norm(x, "bn");
    CHECK_THROWS_WITH(compile(g, {y}, CompileOptions{.training = true}), Catch::Contains("more than one value per channel"));
    CHECK_NOTHROW(compile(g, {y}));  // evaluation is fine
}

TEST_CASE("layer_norm normalises trailing dims and applies its affine parameters", "[ops][normalization]") {
    Graph g;
    const Shape shape{3, 4, 5};
    auto x = g.input("x", shape, DType::F64);
    auto y = layer_norm(x, {4, 5}, "ln", {.eps = 1e-5});
    CHECK(g.store().get("ln.weight").shape() == Shape{4, 5});
    CHECK(g.store().get("ln.bias").shape() == Shape{4, 5});
    // γ = 2, β = 1 everywhere: every row then has mean 1 and variance 4·var/(var + eps).
    g.store().get("ln.weight").fill(2.0);
    g.store().get("ln.bias").fill(1.0);
    Tensor xv = random_tensor(shape, DType::F64, 21, 3.0, 2.0);
    Tensor yv = compile(g, {y}).run({{x, xv}})[0].clone();
    for (int64_t r = 0; r < 3; ++r) {
        double s = 0, ss = 0, xs = 0, xss = 0;
        for (int64_t i = 0; i < 20; ++i) xs += xv.get(r * 20 + i);
        for (int64_t i = 0; i < 20; ++i) xss += std::pow(xv.get(r * 20 + i) - xs / 20, 2);
        const double var = xss / 20;
        for (int64_t i = 0; i < 20; ++i) s += yv.get(r * 20 + i);
        for (int64_t i = 0; i < 20; ++i) ss += std::pow(yv.get(r * 20 + i) - s / 20, 2);
        CHECK(s / 20 == Approx(1.0));
        CHECK(ss / 20 == Approx(4 * var / (var + 1e-5)));
        CHECK(yv.get(r * 20 + 7) == Approx(2 * (xv.get(r * 20 + 7) - xs / 20) / std::sqrt(var + 1e-5) + 1));
    }
    CHECK_THROWS_WITH(layer_norm(x, {5, 4}, "bad"), Catch::Contains("normalized_shape [5,4] is not a suffix"));

    // Gradients reach the affine parameters; without affine there are none.
    auto grads = grad(sum(y * y), {g.find("ln.weight"), g.find("ln.bias")});
    CHECK(grads[0].shape() == Shape{4, 5});
    Graph h;
    layer_norm(h.input("x", {2, 8}), {8}, "ln", {.affine = false});
    CHECK(h.store().entries().empty());
}

TEST_CASE("layer_norm through its affine builder passes gradcheck", "[ops][normalization][grad]") {
    auto f = [](Graph&, const std::vector<Value>& in) {
        return std::vector<Value>{layer_norm(in[0], {4}, in[1], in[2])};
    };
    auto results = gradcheck_function("layer_norm_affine", "[2,3,4]", f,
                                      {random_tensor({2, 3, 4}, DType::F64, 1), random_tensor({4}, DType::F64, 2),
                                       random_tensor({4}, DType::F64, 3)},
                                      {true, true, true});
    gg::testing::check_gradcheck_results(results);
}

