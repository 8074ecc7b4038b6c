// `graphgrad dot MODEL`: Graphviz DOT of a zoo model's forward graph (input to logits), or
// with --backward the whole training step (loss and every parameter gradient), gradient nodes
// drawn in their own colour by gg::write_dot. Render with Graphviz:
//
//   graphgrad dot lenet5 | dot -Tsvg > lenet5.svg
//   graphgrad dot lenet5 --backward --output lenet5_train.dot
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/graph/graph_algorithms.h"
#include "graphgrad/train/model_program.h"

namespace gg::cli {
namespace {

struct DotOptions {
    std::string model;
    std::string input;  // CxHxW; empty: the model's default
    int64_t batch = 1;
    bool backward = false;
    std::string output;  // empty: stdout
    bool json = false;
};

int run_dot(const DotOptions& o) {
    const models::ModelEntry& entry = find_zoo_model(o.model);
    const Shape chw = o.input.empty() ? entry.default_input : parse_chw(o.input);
    auto p = build_model_program(o.model, o.batch, chw, /*seed=*/1, /*with_grads=*/o.backward);
    // The loss depends on the logits, so the training fetches reach the forward graph too.
    const std::vector<int32_t> nodes =
        reachable_nodes(*p->graph, o.backward ? p->train_fetches() : std::vector<Value>{p->logits});
    if (o.json) {  // the DOT text as a string field, with counts a script can check
        std::ostringstream dot;
        write_dot(*p->graph, nodes, dot);
        int64_t gradient_nodes = 0;
        for (int32_t id : nodes) gradient_nodes += p->graph->node(id).is_gradient;
        print_json({{"model", o.model},
                    {"backward", o.backward},
                    {"nodes", nodes.size()},
                    {"gradient_nodes", gradient_nodes},
                    {"dot", dot.str()}});
        return 0;
    }
    if (o.output.empty()) {
        write_dot(*p->graph, nodes, std::cout);
        return 0;
    }
    std::ofstream out(o.output);
    if (!out) throw UsageError(fmt::format("--output {}: cannot open for writing", o.output));
    write_dot(*p->graph, nodes, out);
    out.close();
    if (!out) throw_runtime("--output {}: write failed", o.output);
    fmt::print("{}: {} nodes ({}) written to {}\n", o.model, nodes.size(),
               o.backward ? "forward and backward" : "forward", o.output);
    return 0;
}

}  // namespace

Command add_dot_command(CLI::App& app) {
    auto o = std::make_shared<DotOptions>();
    CLI::App* sub = app.add_subcommand("dot", "Graphviz DOT of a model's forward (and backward) graph");
    sub->add_option("model", o->model, "Model name, e.g. lenet5")->required();
    sub->add_flag("--backward", o->backward, "Include the loss and the backward pass (gradient nodes coloured)");
    sub->add_option("--output", o->output, "Write to this file instead of stdout");
    sub->add_option("--input", o->input, "Input size CxHxW (default: the model's)");
    sub->add_option("--batch", o->batch, "Batch size shown in the shapes")->capture_default_str();
    sub->add_flag("--json", o->json, "Print JSON (node counts and the DOT text)");
    return {sub, [o] { return run_dot(*o); }};
}

}  // namespace gg::cli
