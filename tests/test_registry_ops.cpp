// Tests generated from the registry (ARCHITECTURE.md §4): every op is complete, its shape rule
// matches what its kernels write, its error samples are rejected with a clear message, its
// fast kernel matches its reference, and its gradient rule matches central differences. Its
// cost and receptive-field rules are checked in test_registry_rules.cpp.
#include <catch2/catch.hpp>

#include <cmath>

#include "graphgrad/graph/gradcheck_op.h"
#include "graphgrad/graph/op_registry.h"
#include "op_test_util.h"
#include "graphgrad/ops/internal/register_ops.h"

using namespace gg;

namespace {

std::vector<const OpDef*> concrete_ops() { return testing::registered_ops(); }

}  // namespace

TEST_CASE("the ops the core promises are registered", "[ops][registry]") {
    register_all_ops();
    const char* required[] = {"neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "leaky_relu", "gelu", "silu",
                              "add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "equal",
                              "not_equal", "less", "less_equal", "greater", "greater_equal", "broadcast_to",
                              "sum_to", "sum", "mean", "max", "reshape", "permute", "slice", "concat", "pad",
                              "matmul", "softmax", "log_softmax", "cross_entropy", "stop_gradient"};
    for (const char* name : required) {
        INFO(name);
        CHECK(op_registry().find(name) != nullptr);
    }
}

TEST_CASE("every op is a complete bundle", "[ops][registry]") {
    for (const OpDef* op : concrete_ops()) {
        INFO("op " << op->name);
        CHECK(op->min_arity >= 1);
        CHECK(static_cast<bool>(op->infer));
        // Plain loops are the op's meaning; a fast kernel comes with them (f64 and gradcheck run them).
        CHECK(static_cast<bool>(op->reference_factory));
        CHECK(static_cast<bool>(op->cost_rule));
        CHECK(!op->summary.empty());
        // A gradient rule or an explicit, explained opt-out.
        CHECK((op->differentiable() || !op->no_grad_reason.empty()));
        REQUIRE(static_cast<bool>(op->make_samples));
        CHECK(!op->make_samples().empty());
        REQUIRE(static_cast<bool>(op->make_error_samples));
        CHECK(!op->make_error_samples().empty());
    }
}

TEST_CASE("kernels write exactly the inferred outputs, in f32 and f64", "[ops][shapes]") {
    for (const OpDef* op : concrete_ops()) {
        auto samples = op->make_samples();
        for (std::size_t i = 0; i < samples.size(); ++i)
            for (DType dt : {DType::F32, DType::F64})
                for (bool fast : {true, false}) {
                    INFO(testing::sample_name(*op, samples[i], i) << " " << dtype_name(dt) << (fast ? " fast" : " reference"));
                    auto inputs = testing::sample_inputs(samples[i], dt, 99 + i);
                    auto run = testing::run_kernel_directly(*op, samples[i], inputs, fast);
                    CHECK(run.guards_intact);
                    CHECK(run.all_written);
                }
    }
}

TEST_CASE("error samples are rejected when the node is added, naming op and shapes", "[ops][errors]") {
    for (const OpDef* op : concrete_ops()) {
        for (const ErrorSample& e : op->make_error_samples()) {
            INFO("op " << op->name << " error sample " << e.label);
            Graph g;
            std::vector<Value> xs;
            for (std::size_t i = 0; i < e.inputs.size(); ++i)
                xs.push_back(g.input(fmt::format("x{}", i), e.inputs[i].shape, e.inputs[i].dtype));
            try {
                g.add_node(*op, xs, e.attrs, "bad");
                FAIL("no error was raised");
            } catch (const GraphError& err) {
                std::string msg = err.what();
                INFO("message: " << msg);
                CHECK(msg.find(op->name + " \"bad\"") != std::string::npos);
                CHECK(msg.find(e.expected) != std::string::npos);
            }
        }
    }
}

// A fast kernel may decline some samples (oneDNN's RNNs have no per-sequence lengths: the
// reference serves them), but it must take at least one of its op's samples.
TEST_CASE("fast kernels match the reference kernels in f32", "[ops][kernels]") {
    for (const OpDef* op : concrete_ops()) {
        if (!op->has_fast_kernel()) continue;
        auto samples = op->make_samples();
        std::size_t ran_fast = 0;
        for (std::size_t i = 0; i < samples.size(); ++i) {
            INFO(testing::sample_name(*op, samples[i], i));
            auto inputs = testing::sample_inputs(samples[i], DType::F32, 7 + i);
            auto fast = testing::run_kernel_directly(*op, samples[i], inputs, true);
            auto ref = testing::run_kernel_directly(*op, samples[i], inputs, false);
            ran_fast += fast.fast;
            REQUIRE(fast.outputs.size() == ref.outputs.size());
            for (std::size_t o = 0; o < ref.outputs.size(); ++o)
                for (int64_t k = 0; k < ref.outputs[o].numel(); ++k) {
                    double a = fast.outputs[o].get(k), b = ref.outputs[o].get(k);
                    INFO("output " << o << " index " << k);
                    REQUIRE(std::abs(a - b) <= 1e-5 + 1e-4 * std::abs(b));
                }
        }
        INFO("op " << op->name);
        CHECK(ran_fast > 0);
    }
}

TEST_CASE("every gradient rule matches central differences (f64, first and second order)", "[ops][grad]") {
    std::size_t differentiable = 0;
    for (const OpDef* op : concrete_ops()) {
        if (!op->differentiable()) continue;
        ++differentiable;
        INFO(op->name);
        // At least one check per sample: an op whose samples all came back empty checked nothing.
        gg::testing::check_gradcheck_results(gradcheck_op(*op), op->make_samples().size());
    }
    CHECK(differentiable >= 50);  // 54 when written
}
