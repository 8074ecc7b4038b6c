// Layout propagation in compile(): a value produced in an opaque layout flows through
// layout-aware ops untouched and is converted to plain exactly where a plain op reads it or it
// is fetched. A fake layout (elements reversed, then zero padding) stands in for oneDNN's
// blocked formats so the executor is tested on its own.
#include <catch2/catch.hpp>

#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/ops.h"

using namespace gg;

namespace {

constexpr int64_t kPad = 16;

class ReversedLayout final : public Layout {
public:
    explicit ReversedLayout(int64_t n) : n_(n) {}
    std::size_t bytes() const override { return static_cast<std::size_t>(n_ + kPad) * sizeof(float); }
    bool equals(const Layout& o) const override {
        auto* r = dynamic_cast<const ReversedLayout*>(&o);
        return r && r->n_ == n_;
    }
    std::string describe() const override { return "reversed+pad"; }
    std::unique_ptr<Kernel> make_to_plain(KernelResources&) const override {
        return make_kernel([n = n_](const KernelArgs& a) {
            auto* in = static_cast<const float*>(a.inputs[0]);
            auto* out = static_cast<float*>(a.outputs[0]);
            for (int64_t i = 0; i < n; ++i) out[i] = in[n - 1 - i];
        });
    }
    std::unique_ptr<Kernel> make_from_plain(KernelResources&) const override {
        return make_kernel([n = n_](const KernelArgs& a) {
            auto* in = static_cast<const float*>(a.inputs[0]);
            auto* out = static_cast<float*>(a.outputs[0]);
            for (int64_t i = 0; i < n; ++i) out[n - 1 - i] = in[i];
            for (int64_t i = n; i < n + kPad; ++i) out[i] = 0;
        });
    }

private:
    int64_t n_;
};

// Reads x in any layout; writes y = scale·x, in the reversed layout when it may choose one.
KernelFactory scaled_copy(float scale) {
    return [scale](const KernelContext& c) {
        const int64_t n = c.outputs[0].numel();
        bool in_rev = c.input_layout(0) != nullptr;
        bool out_rev = c.output_layout_free.size() && c.output_layout_free[0];
        if (out_rev) (*c.output_layouts)[0] = std::make_shared<ReversedLayout>(n);
        return make_kernel([=](const KernelArgs& a) {
            auto* x = static_cast<const float*>(a.inputs[0]);
            auto* y = static_cast<float*>(a.outputs[0]);
            for (int64_t i = 0; i < n; ++i) {
                float v = in_rev ? x[n - 1 - i] : x[i];  // logical element i
                (out_rev ? y[n - 1 - i] : y[i]) = scale * v;
            }
            if (out_rev)
                for (int64_t i = n; i < n + kPad; ++i) y[i] = 0;
        });
    };
}

// This file's test ops, kept out of the registry the generic tests read. Their one kernel
// handles the opaque layout, as a fast (oneDNN) kernel does; they have no reference.
const OpDef& native_op(const char* name, float scale) {
    static OpRegistry r;
    if (const OpDef* d = r.find(name)) return *d;
    return r.define(name)
        .arity(1)
        .describe("test op with an opaque output layout")
        .infer_shape(same_as_input(0))
        .fast_kernel(scaled_copy(scale))
        .layout(LayoutUse::Native);
}

Value to_reversed(Value x) { return x.graph->add_node1(native_op("test_layout_copy", 1.0f), {x}); }
Value native_double(Value x) { return x.graph->add_node1(native_op("test_layout_double", 2.0f), {x}); }

std::size_t conversions(const CompiledGraph& p) {
    std::size_t n = 0;
    for (const auto& s : p.steps()) n += s.conversion;
    return n;
}

Tensor ramp(int64_t n) {
    Tensor t = Tensor::zeros({n});
    for (int64_t i = 0; i < n; ++i) t.set(i, static_cast<double>(i) - 3.5);
    return t;
}

}  // namespace

TEST_CASE("an opaque layout flows through elementwise and native ops without conversions", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto y = native_double(relu(to_reversed(x)));  // native → elementwise → native
    auto p = compile(g, {y});
    CHECK(conversions(p) == 0);
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) CHECK(out[0].get(i) == Approx(2 * std::max(0.0, static_cast<double>(i) - 3.5)));
    // The opaque value is stored with its padding: the planner sees the padded size.
    CHECK(p.steps()[0].output_bytes == (8 + kPad) * sizeof(float));
}

TEST_CASE("a plain op reading an opaque value gets one conversion, shared by later readers", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto r = to_reversed(x);
    auto a = exp(r) + sigmoid(r);  // exp and sigmoid need plain memory: one conversion serves both
    auto p = compile(g, {a});
    CHECK(conversions(p) == 1);
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) {
        double v = static_cast<double>(i) - 3.5;
        CHECK(out[0].get(i) == Approx(std::exp(v) + 1 / (1 + std::exp(-v))));
    }
}

TEST_CASE("fetching an opaque value converts it to plain", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto r = relu(to_reversed(x));  // elementwise keeps the layout; the fetch needs plain
    auto p = compile(g, {r});
    CHECK(conversions(p) == 1);
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) CHECK(out[0].get(i) == Approx(std::max(0.0, static_cast<double>(i) - 3.5)));
}

TEST_CASE("elementwise ops with mixed layouts read plain copies", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto s = to_reversed(x) + x;  // one opaque, one plain input
    auto p = compile(g, {s});
    CHECK(conversions(p) == 1);
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) CHECK(out[0].get(i) == Approx(2 * (static_cast<double>(i) - 3.5)));
}

TEST_CASE("mixed operands join the opaque chain when only layout-aware ops read the result", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto s = relu(to_reversed(x)) + x;  // x is brought into the reversed layout, once
    auto y = native_double(s);          // reads s as it is; its fetched output is plain
    auto p = compile(g, {y});
    CHECK(conversions(p) == 1);
    bool add_opaque = false;
    for (const StepInfo& st : p.steps())
        if (!st.conversion && g.node(st.node).op->name == "add") add_opaque = st.output_layout == "reversed+pad";
    CHECK(add_opaque);
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) {
        double v = static_cast<double>(i) - 3.5;
        CHECK(out[0].get(i) == Approx(2 * (std::max(0.0, v) + v)));
    }
}

TEST_CASE("a native op never chooses a layout for a fetched output", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto y = to_reversed(x);
    auto p = compile(g, {y});
    CHECK(conversions(p) == 0);
    CHECK(p.steps()[0].output_bytes == 8 * sizeof(float));
    CHECK(p.run({{x, ramp(8)}})[0].get(7) == Approx(3.5));
}
