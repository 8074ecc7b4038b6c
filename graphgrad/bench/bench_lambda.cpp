#include "graphgrad/bench/bench_lambda.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <string>

#include "graphgrad/bench/child_process.h"
#include "graphgrad/bench/timing.h"
#include "graphgrad/train/report_format.h"
#include "graphgrad/graph/op_def.h"
#include "graphgrad/graph/rng.h"
#include "graphgrad/models/attention_layers.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/ops.h"

namespace gg {

namespace {

const std::vector<const char*> kLayers{"conv3x3", "attention", "lambda", "lambda_conv"};

// One layer on one input size, differentiated: y = layer(x), and the vector-Jacobian product
// seeded with the input dy, i.e. the gradient of the loss <y, dy> with respect to every
// trainable parameter and to x. Seeding with an input keeps the backward pass exactly the
// layer's own (no loss op), like `bench conv`.
struct LayerProgram {
    std::unique_ptr<Graph> graph;  // Graph is immovable (values point at it)
    Value x, y, dy;
    std::vector<Value> training_fetches;  // y, then the gradients
    int64_t graph_parameters = 0;         // trainable elements, counted from the graph
};

LayerProgram build(const std::string& layer, int64_t s, const LambdaBenchOptions& o) {
    LayerProgram p;
    p.graph = std::make_unique<Graph>(/*seed=*/1);
    Graph& g = *p.graph;
    p.x = g.input("x", {o.batch, o.dim, s, s});
    if (layer == "conv3x3")
        p.y = models::conv(p.x, o.dim, 3, 1, 1, "conv");
    else if (layer == "attention")
        p.y = models::self_attention(p.x, {.dim = o.dim, .heads = o.heads}, "attn");
    else if (layer == "lambda")
        p.y = models::lambda_layer(p.x, {.dim = o.dim, .k = o.k, .heads = o.lambda_heads, .u = 1, .r = 0}, "lam");
    else
        p.y = models::lambda_layer(p.x, {.dim = o.dim, .k = o.k, .heads = o.lambda_heads, .u = o.conv_u, .r = o.r},
                                   "lamc");
    p.dy = g.input("dy", p.y.shape());
    std::vector<Value> wrt = g.parameters(/*trainable_only=*/true);
    for (const Value& w : wrt) p.graph_parameters += w.numel();
    wrt.push_back(p.x);
    std::vector<Value> grads = grad({p.y}, wrt, {p.dy});
    p.training_fetches = {p.y};
    p.training_fetches.insert(p.training_fetches.end(), grads.begin(), grads.end());
    return p;
}

// A tensor the paper's space complexity counts (§3.2 and Table 2 of the paper): its element
// count, and which forward op may produce it (empty: any op).
struct DominantTensor {
    std::string name;
    int64_t elements;
    std::string op;  // substring of the producing op's name
};

// Analytic counts per layer. b batch, n = m = s² positions (global context), d width,
// h attention heads (d_h = d/h), |k| key depth, |h|λ lambda heads with v = d/|h|λ, |u|.
struct Analytic {
    int64_t params = 0;
    int64_t macs = 0;  // forward multiply-adds; softmax, batch norm and additions not counted
    std::vector<DominantTensor> dominant;
};

Analytic analytic(const std::string& layer, int64_t s, const LambdaBenchOptions& o) {
    const int64_t b = o.batch, n = s * s, m = n, d = o.dim;
    Analytic a;
    if (layer == "conv3x3") {
        // W [d, d, 3, 3] + bias; each output element is a 9·d dot product.
        a.params = 9 * d * d + d;
        a.macs = b * n * 9 * d * d;
        return a;
    }
    if (layer == "attention") {
        // 1x1 projections q, k, v without bias and the output projection with bias: 4d² + d.
        // Logits q·kᵀ cost b·h·n·m·d_h = b·n·m·d, the weighted sum of values as much again.
        a.params = 4 * d * d + d;
        a.macs = 4 * b * n * d * d + 2 * b * n * m * d;
        a.dominant = {{"attention maps", b * o.heads * n * m, "softmax"}};  // [b, h, n, m]
        return a;
    }
    const int64_t k = o.k, hl = o.lambda_heads, v = d / hl, u = layer == "lambda" ? 1 : o.conv_u;
    // Projections: queries d→k·|h| (then batch norm: 2·k·|h| affine parameters), keys d→k·u,
    // values d→v·u (batch norm: 2·v·u), all 1x1 without bias.
    a.params = d * k * hl + d * k * u + d * v * u + 2 * k * hl + 2 * v * u;
    const int64_t projections = b * n * d * (k * hl + k * u + v * u);
    const int64_t content = b * m * k * u * v;  // λc = σ(K)ᵀV: [k, v] per image, summed over m, u
    // y_n = λcᵀq_n + λp_nᵀq_n for every head: two applications as models/lambda_layer.cpp
    // computes it (the paper adds the lambdas first: one).
    const int64_t apply = 2 * b * n * hl * k * v;
    if (layer == "lambda") {
        // Global context with relative positions: the table [(2s−1)², k, u]; λp_n = E_nᵀ V over
        // all m context positions: b·n·m·k·v·u — the Θ(bnmkv) time of Table 2.
        a.params += (2 * s - 1) * (2 * s - 1) * k * u;
        a.macs = projections + content + b * n * m * k * v * u + apply;
        // Space Θ(knm + bnkv): E [n, m, k, u] (shared by the batch) and λp [b, n, k, v].
        a.dominant = {{"E", n * m * k * u, ""}, {"lambda_p", b * n * k * v, ""}};
    } else {
        // Lambda convolution: λp from an r×r convolution of the values, kernel [k, u, r, r]
        // (dense, zero padding included): b·n·k·v·u·r². E is never materialised.
        a.params += k * u * o.r * o.r;
        a.macs = projections + content + b * n * k * v * u * o.r * o.r + apply;
        a.dominant = {{"lambda_p", b * n * k * v, ""}};  // space Θ(bnkv)
    }
    return a;
}

// The planner's buffers for a dominant tensor: forward steps (not grad()'s) whose output has
// exactly that many elements, and layout conversions of them. Copies (reshape and permute
// copy) are planned buffers of the same size and count too, so the ratio shows them; a
// value that took over a counted input's block in place (MemoryPlan::reused_inplace) does not.
nlohmann::json planned(const Graph& g, const CompiledGraph& cg, const DominantTensor& t, std::size_t paper_bytes) {
    // compile() makes plan requests step by step: one per output (a conversion has one), then
    // one for the step's scratch. Rebuild that numbering to read reused_inplace.
    const MemoryPlan& plan = cg.memory_plan();
    std::vector<std::size_t> first_request;
    std::size_t next = 0;
    for (const StepInfo& st : cg.steps()) {
        first_request.push_back(next);
        next += (st.conversion ? 1 : g.node(st.node).outputs.size()) + (st.scratch_bytes > 0 ? 1 : 0);
    }
    const bool numbering_ok = next == plan.offsets.size() && plan.reused_inplace.size() == next;

    std::size_t bytes = 0;
    std::set<std::size_t> offsets;  // of the buffers counted, to skip in-place successors
    nlohmann::json nodes = nlohmann::json::array();
    for (std::size_t i = 0; i < cg.steps().size(); ++i) {
        const StepInfo& st = cg.steps()[i];
        const Node& node = g.node(st.node);
        if (node.is_gradient || node.outputs.size() != 1 || node.outputs[0].numel() != t.elements) continue;
        if (!t.op.empty() && node.op_name().find(t.op) == std::string::npos) continue;
        if (numbering_ok) {
            // An in-place value shares its input's block: count the block once. (softmax takes
            // over the dying scores' block: the scores are not attention-map values, so the
            // maps are still counted.)
            const std::size_t req = first_request[i];
            if (plan.reused_inplace[req] && offsets.count(plan.offsets[req])) continue;
            offsets.insert(plan.offsets[req]);
        }
        bytes += st.output_bytes;
        nodes.push_back((st.conversion ? "(layout conversion) " : node.op_name() + " ") + node.name);
    }
    return {{"tensor", t.name},
            {"elements", t.elements},
            {"paper_bytes", paper_bytes},
            {"planned_bytes", bytes},
            {"buffers", nodes.size()},
            {"nodes", nodes},
            {"ratio", paper_bytes ? static_cast<double>(bytes) / static_cast<double>(paper_bytes) : 0.0}};
}

Tensor random_tensor(const TensorDesc& d, uint64_t seed) {
    Tensor t(d);
    init::uniform(-1.0, 1.0)(t, seed);
    return t;
}

// In the child: compile the training program for real, run it (1 warm-up + repeats), and
// report the median time and two memory figures over the child's start:
// - rss_bytes: the peak of anonymous memory over the timed (steady-state) steps, i.e. VmHWM
//   of those steps less the file-backed pages. A forked child maps the shared library code it
//   executes (libdnnl's is ~50 MiB) page by page as it first runs it: several MiB of RSS that
//   are neither tensors nor allocated. It stops growing after the warm-up step, so over the
//   timed steps it is a constant that can be subtracted exactly. What is left is the arena,
//   the fed tensors and anything a kernel allocates behind the planner's back.
// - rss_total_bytes: VmHWM over everything (compile, warm-up and timed steps), code included.
nlohmann::json measure(const LayerProgram& p, int repeats) {
    bench::reset_peak_rss();  // fork already did, but be explicit
    const std::size_t base_kib = bench::status_kib("VmHWM:"), anon_base_kib = bench::status_kib("RssAnon:");
    CompiledGraph step = compile(*p.graph, p.training_fetches, {.training = true});
    const Tensor xv = random_tensor(p.x.desc(), 1), dyv = random_tensor(p.dy.desc(), 2);
    const Feeds feeds{{p.x, xv}, {p.dy, dyv}};
    step.run(feeds);  // first touch of library code and oneDNN's own state
    const std::size_t warm_peak_kib = bench::status_kib("VmHWM:");
    bench::reset_peak_rss();
    std::vector<double> ms;
    for (int r = 0; r < repeats; ++r) ms.push_back(bench::time_ns([&] { step.run(feeds); }) / 1e6);
    const std::size_t peak_kib = bench::status_kib("VmHWM:");
    const std::size_t mapped_kib = bench::status_kib("RssFile:") + bench::status_kib("RssShmem:");
    const std::size_t anon_peak_kib = peak_kib - std::min(peak_kib, mapped_kib);
    return {{"ms", bench::median(ms)},
            {"ms_min", *std::min_element(ms.begin(), ms.end())},
            {"rss_bytes", (anon_peak_kib - std::min(anon_peak_kib, anon_base_kib)) * 1024},
            {"rss_total_bytes", (std::max(peak_kib, warm_peak_kib) - std::min(peak_kib, base_kib)) * 1024}};
}

nlohmann::json bench_one(const std::string& layer, int64_t s, const LambdaBenchOptions& o) {
    const LayerProgram p = build(layer, s, o);
    const Analytic a = analytic(layer, s, o);
    // Plan both programs without allocating: the figures exist at any size, and the decision
    // to run comes from the training plan.
    const CompiledGraph infer = compile(*p.graph, {p.y}, {.training = false, .allocate = false});
    const CompiledGraph train = compile(*p.graph, p.training_fetches, {.training = true, .allocate = false});
    const std::size_t feed_bytes = p.x.desc().bytes() + p.dy.desc().bytes();  // outside the arena

    nlohmann::json dominant = nlohmann::json::array();
    std::size_t paper_total = 0, planned_total = 0;
    for (const DominantTensor& t : a.dominant) {
        const std::size_t paper_bytes = static_cast<std::size_t>(t.elements) * sizeof(float);
        dominant.push_back(planned(*p.graph, train, t, paper_bytes));
        paper_total += paper_bytes;
        planned_total += dominant.back()["planned_bytes"].get<std::size_t>();
    }
    std::vector<std::string> reference_ops;  // ops that fell back to plain loops: slow
    for (const StepInfo& st : train.steps()) {
        if (st.conversion || st.fast_kernel) continue;
        const OpDef& op = *p.graph->node(st.node).op;
        // Only ops with both kernels can fall back; a plain-loop-only op is never "fast".
        if (op.has_fast_kernel() &&
            std::find(reference_ops.begin(), reference_ops.end(), op.name) == reference_ops.end())
            reference_ops.push_back(op.name);
    }

    nlohmann::json row = {{"layer", layer},
                          {"size", s},
                          {"n", s * s},
                          {"batch", o.batch},
                          {"params", a.params},
                          {"params_graph", p.graph_parameters},
                          {"macs", a.macs},
                          {"inference_peak_bytes", infer.peak_bytes()},
                          {"train_peak_bytes", train.peak_bytes()},
                          {"train_unplanned_bytes", train.memory_plan().total_bytes},
                          {"train_steps", train.num_steps()},
                          {"feed_bytes", feed_bytes},
                          {"dominant", dominant},
                          {"paper_bytes", paper_total},
                          {"planned_dominant_bytes", planned_total},
                          {"dominant_ratio", paper_total ? static_cast<double>(planned_total) / static_cast<double>(paper_total)
                                                         : 0.0},
                          {"reference_kernel_ops", reference_ops},
                          {"ms", nullptr},
                          {"rss_bytes", nullptr}};
    if (o.plan_only) {
        row["skipped"] = "--plan-only";
        return row;
    }
    const std::size_t available = bench::meminfo_kib("MemAvailable:") * 1024;
    const auto budget = static_cast<std::size_t>(o.budget_fraction * static_cast<double>(available));
    const std::size_t need = train.peak_bytes() + feed_bytes;
    if (need > budget) {
        row["skipped"] = fmt::format("needs {} > budget {} ({:.3g}% of MemAvailable {})", train::human_bytes(need),
                                     train::human_bytes(budget), 100 * o.budget_fraction, train::human_bytes(available));
        return row;
    }
    nlohmann::json m = bench::in_child([&] { return measure(p, o.repeats); });
    if (m.contains("error")) {
        row["skipped"] = m["error"];
        return row;
    }
    row["ms"] = m["ms"];
    row["ms_min"] = m["ms_min"];
    row["rss_bytes"] = m["rss_bytes"];
    row["rss_total_bytes"] = m["rss_total_bytes"];
    // The child's anonymous memory holds the arena and the two fed tensors (x, dy), plus
    // compile()'s own small allocations and oneDNN's JIT code for this program's primitives.
    row["rss_ratio"] = static_cast<double>(m["rss_bytes"].get<std::size_t>()) / static_cast<double>(need);
    return row;
}

}  // namespace

const std::vector<const char*>& lambda_bench_layers() { return kLayers; }

nlohmann::json bench_lambda(const LambdaBenchOptions& o) {
    const std::string load_before = bench::loadavg();
    nlohmann::json rows = nlohmann::json::array();
    for (int64_t s : o.sizes) {
        double conv_ms = 0;
        for (const char* layer : kLayers) {
            nlohmann::json row = bench_one(layer, s, o);
            // Ratios against the conv baseline measured in this run, at this size.
            if (std::string(layer) == "conv3x3" && row["ms"].is_number()) conv_ms = row["ms"].get<double>();
            row["time_vs_conv"] = row["ms"].is_number() && conv_ms > 0 ? nlohmann::json(row["ms"].get<double>() / conv_ms)
                                                                        : nlohmann::json(nullptr);
            rows.push_back(row);
        }
    }
    return {{"rows", rows},
            {"loadavg_before", load_before},
            {"loadavg_after", bench::loadavg()},
            {"options",
             {{"sizes", o.sizes},
              {"batch", o.batch},
              {"dim", o.dim},
              {"heads", o.heads},
              {"k", o.k},
              {"lambda_heads", o.lambda_heads},
              {"r", o.r},
              {"conv_u", o.conv_u},
              {"repeats", o.repeats},
              {"plan_only", o.plan_only},
              {"budget_fraction", o.budget_fraction}}}};
}

}  // namespace gg
