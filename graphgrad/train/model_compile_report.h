// What compile()'s passes did for a zoo model's program, for `graphgrad compile-report MODEL`:
// the per-pass report (graph/compile_report.h) of the training step (loss, logits and every
// gradient) or of inference (logits), with a human-readable rendering.
//
//   auto r = gg::train::model_compile_report("resnet20", {1, 28, 28}, 64, /*training=*/true);
//   fmt::print("{}", gg::train::format_compile_report(r));
//   r.report.lower.conversions;  r.report.plan.arena_bytes;
#pragma once

#include <cstdint>
#include <string>

#include "graphgrad/graph/compile_options.h"
#include "graphgrad/graph/compile_report.h"
#include "graphgrad/graph/tensor_desc.h"

namespace gg::train {

struct ModelCompileReport {
    std::string model;
    Shape input;        // [N, C, H, W] as fed
    bool training = true;
    std::size_t fetches = 0;
    CompileReport report;
};

// Builds the model (OptionError for an unknown name) and compiles its program with `options`.
ModelCompileReport model_compile_report(const std::string& model, const Shape& chw, int64_t batch, bool training,
                                        const CompileOptions& options = {});

// One line per pass (time and what it did), then the kernels chosen per op.
std::string format_compile_report(const ModelCompileReport& r);

}  // namespace gg::train
