// Layout negotiation in the lower pass: a value produced in an opaque layout flows through
// layout-aware ops untouched and is converted exactly where a plain op reads it, a kernel asks
// for another layout, or it is fetched; every conversion is a step of its own. A fake layout
// (elements reversed, then zero padding) stands in for oneDNN's blocked formats, so lowering
// is tested on its own. The test ops live in this file's own registry.
#include <catch2/catch.hpp>

#include "graphgrad/graph/op_registry.h"
#include "graphgrad/ops/internal/register_ops.h"
#include "graphgrad/ops/ops.h"

using namespace gg;
using Catch::Matchers::Contains;

namespace {

constexpr int64_t kPad = 16;

class ReversedLayout final : public Layout {
public:
    explicit ReversedLayout(int64_t n, std::string tag = "reversed+pad") : n_(n), tag_(std::move(tag)) {}
    std::size_t bytes() const override { return static_cast<std::size_t>(n_ + kPad) * sizeof(float); }
    bool equals(const Layout& o) const override {
        auto* r = dynamic_cast<const ReversedLayout*>(&o);
        return r && r->n_ == n_ && r->tag_ == tag_;
    }
    std::string describe() const override { return tag_; }
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
    std::string tag_;  // two tags: two opaque layouts without a direct conversion
};

enum class Choice { Always, WhenFree };

// Reads x in any layout (asking for `wanted` when given); writes y = scale·x, in the reversed
// layout when it may choose one (Always) or when that costs no conversion (WhenFree).
KernelFactory scaled_copy(float scale, Choice choice, bool want_reversed_input) {
    return [=](const KernelContext& c) {
        const int64_t n = c.outputs[0].numel();
        if (want_reversed_input && c.may_choose_layouts() && !c.input_layout(0))
            c.require_input_layout(0, std::make_shared<ReversedLayout>(n));
        const bool in_rev = c.input_layout(0) != nullptr;
        const bool out_rev =
            c.may_choose_layouts() && (choice == Choice::Always || c.output_conversion_free(0));
        if (out_rev) c.set_output_layout(0, std::make_shared<ReversedLayout>(n));
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

// Plain loops: y = scale·x.
KernelFactory plain_scaled_copy(float scale) {
    return [scale](const KernelContext& c) {
        const int64_t n = c.outputs[0].numel();
        return make_kernel([=](const KernelArgs& a) {
            for (int64_t i = 0; i < n; ++i)
                static_cast<float*>(a.outputs[0])[i] = scale * static_cast<const float*>(a.inputs[0])[i];
        });
    };
}

const OpRegistry& test_ops() {
    static const OpRegistry registry = [] {
        register_all_ops();  // the builders used below (relu, exp, ...) need the global ops
        OpRegistry r;
        auto native = [&r](const char* name, float scale, Choice choice, bool want_input) {
            r.define(name)
                .arity(1)
                .describe("test op with an opaque output layout")
                .infer_shape(same_as_input(0))
                .fast_kernel(scaled_copy(scale, choice, want_input))
                .reference(plain_scaled_copy(scale))
                .layout(LayoutUse::Native);
        };
        native("to_reversed", 1.0f, Choice::WhenFree, false);
        native("always_reversed", 1.0f, Choice::Always, false);
        native("native_double", 2.0f, Choice::WhenFree, false);
        native("reads_reversed", 3.0f, Choice::WhenFree, true);
        return r;
    }();
    return registry;
}

Value apply(const char* op, Value x) { return x.graph->add_node1(test_ops().get(op), {x}); }

std::size_t conversions(const CompiledGraph& p) {
    std::size_t n = 0;
    for (const auto& s : p.steps()) n += s.conversion;
    CHECK(p.compile_report().lower.conversions == n);
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
    auto y = apply("native_double", relu(apply("to_reversed", x)));  // native → elementwise → native
    auto p = compile(g, {y});
    CHECK(conversions(p) == 0);
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) CHECK(out[0].get(i) == Approx(2 * std::max(0.0, static_cast<double>(i) - 3.5)));
    // The opaque value is stored with its padding: the planner sees the padded size.
    CHECK(p.steps()[0].output_bytes == (8 + kPad) * sizeof(float));
    CHECK(p.compile_report().lower.opaque_values == 2);
}

TEST_CASE("a plain op reading an opaque value gets one conversion, shared by later readers", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto r = apply("always_reversed", x);
    auto a = exp(r) + sigmoid(r);  // exp and sigmoid need plain memory: one conversion serves both
    auto p = compile(g, {a});
    CHECK(conversions(p) == 1);
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) {
        double v = static_cast<double>(i) - 3.5;
        CHECK(out[0].get(i) == Approx(std::exp(v) + 1 / (1 + std::exp(-v))));
    }
}

TEST_CASE("fetching an opaque value converts it right after the step that writes it", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto r = relu(apply("to_reversed", x));  // elementwise keeps the layout; the fetch needs plain
    auto h = exp(x);                         // scheduled after relu
    auto p = compile(g, {r, h});
    REQUIRE(conversions(p) == 1);
    REQUIRE(p.steps().size() == 4);
    CHECK(p.steps()[2].conversion);  // to_reversed, relu, (conversion), exp
    CHECK(p.steps()[2].node == r.node);
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) CHECK(out[0].get(i) == Approx(std::max(0.0, static_cast<double>(i) - 3.5)));
}

TEST_CASE("elementwise ops with mixed layouts read plain copies", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto s = apply("always_reversed", x) + x;  // one opaque, one plain input
    auto p = compile(g, {s});
    CHECK(conversions(p) == 1);
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) CHECK(out[0].get(i) == Approx(2 * (static_cast<double>(i) - 3.5)));
}

TEST_CASE("mixed operands join the opaque chain when only layout-aware ops read the result", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto s = relu(apply("to_reversed", x)) + x;  // x is brought into the reversed layout, once
    auto y = apply("native_double", s);          // reads s as it is; its fetched output is plain
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

TEST_CASE("a native op told that a layout would cost a conversion keeps its fetched output plain",
          "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto y = apply("to_reversed", x);
    auto p = compile(g, {y});
    CHECK(conversions(p) == 0);
    CHECK(p.steps()[0].output_bytes == 8 * sizeof(float));
    CHECK(p.run({{x, ramp(8)}})[0].get(7) == Approx(3.5));
}

TEST_CASE("a kernel asking for an input layout gets a conversion step before it, per reader", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto a = apply("reads_reversed", x);
    auto b = apply("reads_reversed", exp(a));  // exp: a is fetched-free and read plain
    auto c = apply("reads_reversed", x);       // x again: its own conversion, just before
    auto p = compile(g, {b, c});
    CHECK(conversions(p) == 3);
    // Every conversion is right before the step that asked for it.
    for (std::size_t i = 0; i + 1 < p.steps().size(); ++i)
        if (p.steps()[i].conversion) CHECK(g.node(p.steps()[i + 1].node).op->name == "reads_reversed");
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) {
        const double v = static_cast<double>(i) - 3.5;
        CHECK(out[0].get(i) == Approx(3 * std::exp(3 * v)));
        CHECK(out[1].get(i) == Approx(3 * v));
    }
}

TEST_CASE("the plain layout policy keeps every value row-major", "[graph][layout]") {
    Graph g;
    auto x = g.input("x", {8});
    auto y = apply("native_double", relu(apply("always_reversed", x)));
    CompileOptions o;
    o.layout_policy = LayoutPolicy::Plain;
    auto p = compile(g, {y}, o);
    CHECK(conversions(p) == 0);
    CHECK(p.compile_report().lower.opaque_values == 0);
    for (const StepInfo& s : p.steps()) CHECK(s.output_layout.empty());
    auto out = p.run({{x, ramp(8)}});
    for (int64_t i = 0; i < 8; ++i) CHECK(out[0].get(i) == Approx(2 * std::max(0.0, static_cast<double>(i) - 3.5)));
}

TEST_CASE("only a native op's fast kernel may choose layouts", "[graph][layout]") {
    static const OpRegistry registry = [] {
        OpRegistry r;
        r.define("plain_chooser")
            .arity(1)
            .describe("test op: a plain op that tries to choose a layout")
            .infer_shape(same_as_input(0))
            .fast_kernel([](const KernelContext& c) -> std::unique_ptr<Kernel> {
                c.set_output_layout(0, std::make_shared<ReversedLayout>(c.outputs[0].numel()));
                return nullptr;
            });
        return r;
    }();
    register_all_ops();
    Graph g;
    auto x = g.input("x", {8});
    auto y = g.add_node1(registry.get("plain_chooser"), {x}, {}, "chooser");
    CHECK_THROWS_WITH(compile(g, {y}), Contains("plain_chooser \"chooser\"") && Contains("may not choose"));
}
