// The compile report (CompiledGraph::compile_report(), train/model_compile_report.h): what
// each pass did, consistent with the compiled program it describes.
#include <catch2/catch.hpp>

#include "graphgrad/graph/executor.h"
#include "graphgrad/train/model_compile_report.h"
#include "graphgrad/train/model_program.h"

using namespace gg;

TEST_CASE("a model's compile report matches the program it describes", "[graph][report]") {
    auto p = train::build_model_program("lenet5", 4, {1, 28, 28}, 1, true);
    CompiledGraph step = compile(*p->graph, p->train_fetches());
    const CompileReport& r = step.compile_report();

    CHECK(r.prune.graph_nodes == p->graph->num_nodes());
    CHECK(r.prune.kept_nodes <= r.prune.graph_nodes);
    CHECK(r.schedule.scheduled_nodes == static_cast<std::size_t>(r.prune.kept_nodes - r.prune.source_nodes));
    CHECK(r.lower.steps == step.num_steps());
    CHECK(r.lower.steps == r.lower.fast_kernels + r.lower.reference_kernels + r.lower.loop_kernels + r.lower.conversions);
    std::size_t conversions = 0, listed = 0;
    for (const StepInfo& s : step.steps()) conversions += s.conversion;
    for (const auto& k : r.lower.kernels) listed += k.steps;
    CHECK(r.lower.conversions == conversions);
    CHECK(listed == r.lower.steps);
    bool conv_fast = false;
    for (const auto& k : r.lower.kernels)
        if (k.op == "conv2d" && k.kind == "fast") conv_fast = !k.impl.empty();
    CHECK(conv_fast);  // oneDNN's implementation name is reported
    CHECK(r.plan.arena_bytes == step.peak_bytes());
    CHECK(r.plan.total_bytes == step.memory_plan().total_bytes);
    CHECK(r.bind.fetches == p->train_fetches().size());
}

TEST_CASE("the model compile report of inference prunes the loss and formats every pass", "[graph][report]") {
    const train::ModelCompileReport r = train::model_compile_report("lenet5", {1, 28, 28}, 2, /*training=*/false);
    CHECK_FALSE(r.training);
    CHECK(r.input == Shape{2, 1, 28, 28});
    CHECK(r.fetches == 1);
    CHECK(r.report.prune.pruned_nodes() > 0);  // labels and the loss are not needed for logits
    const std::string text = train::format_compile_report(r);
    for (const char* pass : {"prune", "schedule", "lower", "plan memory", "allocate and bind", "conv2d"}) {
        INFO(pass);
        CHECK(text.find(pass) != std::string::npos);
    }
}
