// Workspace values (graph/workspace.h) through a pair of test ops in this file's own
// registry: ws_square (x → y = x², and a workspace holding x in the kernel's own format) and
// ws_square_backward (dy, workspace → dx = 2·x·dy, x read back from the workspace). The fast
// (f32) kernels store x reversed after a magic word, the reference (f64) ones as doubles with
// another magic word and another size, so a backward reading what its forward did not write
// would fail loudly.
#include <catch2/catch.hpp>

#include <cstring>

#include "graphgrad/graph/graph.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/graph/passes/passes.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/ops.h"

using namespace gg;
using Catch::Matchers::Contains;

namespace {

struct WsAttrs {
    std::size_t extra_bytes = 0;  // the fast forward's workspace grows by this much
};

constexpr uint32_t kFastMagic = 0xfa57u;
constexpr double kReferenceMagic = 12345.0;

std::size_t fast_bytes(int64_t n, const WsAttrs& a) { return 64 + static_cast<std::size_t>(n) * 4 + a.extra_bytes; }
std::size_t reference_bytes(int64_t n) { return static_cast<std::size_t>(n + 1) * 8; }

std::unique_ptr<Kernel> square_fast(const KernelContext& c) {
    if (c.inputs[0].dtype != DType::F32) return nullptr;
    const int64_t n = c.inputs[0].numel();
    if (!c.output_read(1)) {
        c.set_workspace(1, 0, "test fast (unused)");  // inference: nothing to keep
        return make_kernel([n](const KernelArgs& a) {
            auto* x = static_cast<const float*>(a.inputs[0]);
            for (int64_t i = 0; i < n; ++i) static_cast<float*>(a.outputs[0])[i] = x[i] * x[i];
        });
    }
    c.set_workspace(1, fast_bytes(n, c.attrs_as<WsAttrs>()), "test fast");
    return make_kernel([n](const KernelArgs& a) {
        auto* x = static_cast<const float*>(a.inputs[0]);
        auto* ws = static_cast<char*>(a.outputs[1]);
        std::memcpy(ws, &kFastMagic, sizeof kFastMagic);
        auto* saved = reinterpret_cast<float*>(ws + 64);
        for (int64_t i = 0; i < n; ++i) {
            static_cast<float*>(a.outputs[0])[i] = x[i] * x[i];
            saved[n - 1 - i] = x[i];
        }
    });
}

std::unique_ptr<Kernel> square_reference(const KernelContext& c) {
    const int64_t n = c.inputs[0].numel();
    c.set_workspace(1, reference_bytes(n), "test reference");
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([n](const KernelArgs& a) {
            auto* x = static_cast<const T*>(a.inputs[0]);
            auto* ws = static_cast<double*>(a.outputs[1]);
            ws[0] = kReferenceMagic;
            for (int64_t i = 0; i < n; ++i) {
                static_cast<T*>(a.outputs[0])[i] = x[i] * x[i];
                ws[i + 1] = static_cast<double>(x[i]);
            }
        });
    });
}

std::unique_ptr<Kernel> square_backward_fast(const KernelContext& c) {
    const WorkspaceLayout* ws = c.workspace_input(1);
    if (c.inputs[0].dtype != DType::F32 || !ws || ws->format() != "test fast") return nullptr;
    const int64_t n = c.inputs[0].numel();
    return make_kernel([n](const KernelArgs& a) {
        auto* dy = static_cast<const float*>(a.inputs[0]);
        auto* w = static_cast<const char*>(a.inputs[1]);
        uint32_t magic = 0;
        std::memcpy(&magic, w, sizeof magic);
        auto* saved = reinterpret_cast<const float*>(w + 64);
        for (int64_t i = 0; i < n; ++i)
            static_cast<float*>(a.outputs[0])[i] = magic == kFastMagic ? 2 * saved[n - 1 - i] * dy[i] : NAN;
    });
}

std::unique_ptr<Kernel> square_backward_reference(const KernelContext& c) {
    const WorkspaceLayout* ws = c.workspace_input(1);
    if (!ws || ws->format() != "test reference")
        throw_graph("ws_square_backward \"{}\": the workspace was written as \"{}\"", c.node.name,
                    ws ? ws->format() : "nothing");
    const int64_t n = c.inputs[0].numel();
    return dispatch_float(c.inputs[0].dtype, [&](auto zero) -> std::unique_ptr<Kernel> {
        using T = decltype(zero);
        return make_kernel([n](const KernelArgs& a) {
            auto* dy = static_cast<const T*>(a.inputs[0]);
            auto* w = static_cast<const double*>(a.inputs[1]);
            for (int64_t i = 0; i < n; ++i)
                static_cast<T*>(a.outputs[0])[i] = w[0] == kReferenceMagic ? static_cast<T>(2 * w[i + 1] * dy[i]) : NAN;
        });
    });
}

const OpRegistry& test_ops();

Value square_backward(Value dy, Value ws) {
    return dy.graph->add_node1(test_ops().get("ws_square_backward"), {dy, ws}, {}, "square_bwd");
}

const OpRegistry& test_ops() {
    static const OpRegistry registry = [] {
        register_all_ops();
        OpRegistry r;
        r.define("ws_square")
            .arity(1)
            .describe("test: x² and a workspace holding x")
            .attributes<WsAttrs>()
            .infer_shape([](const InferContext& c) { return std::vector<TensorDesc>{c.input(0), workspace_placeholder()}; })
            .fast_kernel(square_fast)
            .reference(square_reference)
            .workspace_output(1)
            .gradient([](GradContext& g) { return InputGrads{square_backward(g.grad_output(0), g.output(1))}; });
        r.define("ws_square_backward")
            .arity(2)
            .describe("test: dx = 2·x·dy with x from the workspace")
            .infer_shape([](const InferContext& c) {
                if (!is_workspace_placeholder(c.input(1))) throw_shape("input 1 must be a workspace");
                return std::vector<TensorDesc>{c.input(0)};
            })
            .fast_kernel(square_backward_fast)
            .reference(square_backward_reference)
            .workspace_input(1)
            .not_differentiable("test op");
        r.define("ws_unsized")
            .arity(1)
            .describe("test: a workspace its kernel forgets to size")
            .infer_shape([](const InferContext& c) { return std::vector<TensorDesc>{c.input(0), workspace_placeholder()}; })
            .fast_kernel([](const KernelContext&) { return make_kernel([](const KernelArgs&) {}); })
            .workspace_output(1)
            .not_differentiable("test op");
        return r;
    }();
    return registry;
}

struct Net {
    Graph g;
    Value x, dy, y, ws, dx;
    Net(DType dt, int64_t n, WsAttrs attrs = {}) {
        x = g.input("x", {n}, dt);
        dy = g.input("dy", {n}, dt);
        auto outs = g.add_node(test_ops().get("ws_square"), {x}, attrs, "square");
        y = outs[0];
        ws = outs[1];
        dx = grad({tanh(y)}, {x}, {dy})[0];  // tanh between: the workspace outlives a step
    }
    Feeds feeds(DType dt) const {
        Tensor xv = Tensor::zeros(x.shape(), dt), dv = Tensor::zeros(x.shape(), dt);
        for (int64_t i = 0; i < x.numel(); ++i) {
            xv.set(i, 0.04 * static_cast<double>(i) - 0.7);
            dv.set(i, 1.0 + 0.01 * static_cast<double>(i));
        }
        return {{x, xv}, {dy, dv}};
    }
    // dx = 2·x·(1 − tanh²(x²))·dy
    void check(const Tensor& got, DType dt) const {
        const Feeds f = feeds(dt);
        for (int64_t i = 0; i < x.numel(); ++i) {
            const double xv = f[0].second.get(i), t = std::tanh(xv * xv);
            CHECK(got.get(i) == Approx(2 * xv * (1 - t * t) * f[1].second.get(i)).epsilon(1e-5).margin(1e-6));
        }
    }
};

const ProgramValue* workspace_value(const Program& p) {
    const ProgramValue* found = nullptr;
    for (const ProgramValue& v : p.values)
        if (v.workspace) {
            CHECK(found == nullptr);
            found = &v;
        }
    return found;
}

}  // namespace

TEST_CASE("a workspace is sized at compile time by its forward kernel and read by the backward", "[graph][workspace]") {
    for (DType dt : {DType::F32, DType::F64}) {
        INFO(dtype_name(dt));
        Net net(dt, 37);
        CompiledGraph cg = compile(net.g, {net.dx});
        const CompileReport& r = cg.compile_report();
        CHECK(r.lower.workspace_values == 1);
        // The fast f32 kernel and the f64 reference one size it differently.
        CHECK(r.plan.workspace_bytes == (dt == DType::F32 ? fast_bytes(37, {}) : reference_bytes(37)));
        auto out = cg.run(net.feeds(dt));
        net.check(out[0], dt);
        CHECK(out[0].shape() == Shape{37});
    }
}

TEST_CASE("a workspace lives exactly from its forward step to its backward step", "[graph][workspace]") {
    Net net(DType::F32, 16);
    Program p = passes::plan_memory(passes::lower(passes::schedule(passes::prune(net.g, {net.dx}, {}))));
    const ProgramValue* ws = workspace_value(p);
    REQUIRE(ws);
    CHECK(ws->bytes == fast_bytes(16, {}));
    CHECK(as_workspace(ws->layout)->format() == "test fast");
    const auto v = static_cast<std::size_t>(ws - p.values.data());
    const PlanRequest& req = p.requests.at(static_cast<std::size_t>(p.value_request.at(v)));
    int forward = -1, backward = -1;
    for (std::size_t s = 0; s < p.steps.size(); ++s) {
        const std::string& op = p.graph->node(p.steps[s].node).op->name;
        if (op == "ws_square") forward = static_cast<int>(s);
        if (op == "ws_square_backward") backward = static_cast<int>(s);
    }
    CHECK(req.first_step == forward);
    CHECK(req.last_step == backward);
    CHECK(backward > forward + 1);
    CHECK_FALSE(req.pinned);
}

TEST_CASE("workspace bytes count in the planned peak", "[graph][workspace]") {
    const std::size_t extra = 1 << 20;
    Net small(DType::F32, 16), big(DType::F32, 16, WsAttrs{extra});
    CompiledGraph a = compile(small.g, {small.dx}), b = compile(big.g, {big.dx});
    CHECK(b.peak_bytes() - a.peak_bytes() == extra);
    big.check(b.run(big.feeds(DType::F32))[0], DType::F32);
}

TEST_CASE("an inference program that reads no workspace gets an empty one", "[graph][workspace]") {
    Net net(DType::F32, 16, WsAttrs{1 << 20});
    CompiledGraph cg = compile(net.g, {net.y});
    CHECK(cg.compile_report().plan.workspace_bytes == 0);
    CHECK(cg.peak_bytes() < 4096);
    CHECK(cg.run(net.feeds(DType::F32))[0].get(3) == Approx(0.3364));
}

TEST_CASE("reference kernels write and read their own workspace format", "[graph][workspace]") {
    Net net(DType::F32, 16);
    CompileOptions o;
    o.reference_kernels = true;
    CompiledGraph cg = compile(net.g, {net.dx}, o);
    CHECK(cg.compile_report().plan.workspace_bytes == reference_bytes(16));
    net.check(cg.run(net.feeds(DType::F32))[0], DType::F32);
}

TEST_CASE("workspaces cannot be fetched, converted or read by other inputs", "[graph][workspace]") {
    Net net(DType::F32, 8);
    CHECK_THROWS_WITH(compile(net.g, {net.ws}),
                      Contains("fetch 0") && Contains("ws_square \"square\"") && Contains("workspace") &&
                          Contains("cannot be fetched"));
    // A plain op reading the workspace: the graph allows it (a [0] placeholder), compile does not.
    Value wrong = exp(net.ws);
    CHECK_THROWS_WITH(compile(net.g, {wrong}), Contains("exp") && Contains("not a workspace input"));
    // A workspace input fed something else of the placeholder's shape.
    Value fake = net.g.input("fake", {0});
    CHECK_THROWS_WITH(compile(net.g, {square_backward(net.y, fake)}),
                      Contains("ws_square_backward \"square_bwd") && Contains("\"fake\"") && Contains("is not one"));
}

TEST_CASE("a kernel that does not size its workspace is an error naming the node", "[graph][workspace]") {
    Graph g;
    auto x = g.input("x", {4});
    auto outs = g.add_node(test_ops().get("ws_unsized"), {x}, {}, "forgetful");
    CHECK_THROWS_WITH(compile(g, {outs[0]}), Contains("ws_unsized \"forgetful\"") && Contains("did not size"));
}
