// What an op bundle states about a node besides its kernels and gradient (ARCHITECTURE.md §3):
// its cost, how far its outputs reach into its input's spatial grid, and roles of inputs and
// outputs other code needs. Summaries and tools ask the bundle; they never switch on op names.
//
//   const gg::AxisReach k3s2{.kernel = 3, .stride = 2};     // a 3x3 stride-2 window
//   r.define("my_pool")
//       .cost([](const gg::RuleContext& c) { return gg::OpCost{.flops = 9 * c.output(0).numel()}; })
//       .receptive_field([k3s2](const gg::RuleContext&) { return gg::SpatialReach::window(k3s2, k3s2); });
//   gg::OpCost cost = gg::node_cost(node);                  // what `graphgrad summary` adds up
#pragma once

#include <any>
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "graphgrad/graph/node.h"

namespace gg {

// The descriptors and attributes of one node (or of one sample, in tests).
struct RuleContext {
    std::vector<TensorDesc> inputs, outputs;
    const std::any* attrs = nullptr;
    const char* op_name = "";

    static RuleContext of(const Node& n);
    const TensorDesc& input(std::size_t i) const { return inputs.at(i); }
    const TensorDesc& output(std::size_t i = 0) const { return outputs.at(i); }
    template <typename T>
    const T& attrs_as() const { return gg::attrs_as<T>(*attrs, op_name); }
    int64_t input_bytes() const;   // every input, once
    int64_t output_bytes() const;  // every output, once
};

// ---- cost --------------------------------------------------------------------------------
// What one execution of a node does. macs are the multiply-accumulates of contractions
// (matmul, convolution) counted densely as model tables do (a convolution's taps over padding
// count); flops are the other arithmetic, one per evaluation of an elementwise function or per
// reduced element. Total floating-point work is 2·macs + flops. Bytes are the compulsory
// traffic: every byte the op must read and write once (no cache effects).
struct OpCost {
    int64_t macs = 0;
    int64_t flops = 0;
    int64_t bytes_read = 0;
    int64_t bytes_written = 0;

    OpCost& operator+=(const OpCost& o);
    bool operator==(const OpCost&) const = default;
};
using CostFn = std::function<OpCost(const RuleContext&)>;

// Common cost rules. Elementwise: `per_element` flops per element of output 0. Reduction:
// `per_element` flops per element of input 0. Data movement: no arithmetic. All read every
// input and write every output once.
CostFn elementwise_cost(int64_t per_element = 1);
CostFn reduction_cost(int64_t per_element = 1);
CostFn data_movement_cost();
// No arithmetic, reads as many bytes as it writes (a slice reads only what it keeps).
CostFn copy_cost();

// ---- receptive field ---------------------------------------------------------------------
// How one spatial axis of the output reaches the same axis of the input. A window: output
// index o reads input indices o·stride − padding + t·dilation, t in [0, kernel) (inside the
// input). Transposed: input index i feeds output indices i·stride − padding + t·dilation.
// Global: every output index reads every input index. padding is the leading one (top or
// left); a negative padding is an offset (a crop).
struct AxisReach {
    int64_t kernel = 1, stride = 1, dilation = 1, padding = 0;
    bool transposed = false;
    bool global = false;

    static AxisReach identity() { return {}; }
    static AxisReach everywhere() { return AxisReach{.global = true}; }
    int64_t extent() const { return dilation * (kernel - 1) + 1; }  // the dilated kernel
    // Whether output index `out` reads input index `in` (both in range).
    bool reads(int64_t out, int64_t in) const;
    // How many neighbouring input indices one output index spans, in input steps: the
    // dilated kernel for a window, ⌊(extent − 1)/stride⌋ + 1 for a transposed one.
    int64_t span() const;
};

// The reach of a node whose input `input` and output 0 are [N, C, H, W] grids (axes 2 and 3);
// a global reach also describes outputs that are no grid (a mean over H and W). Dependence
// through batch statistics (batch norm in training) is left out, as receptive fields
// conventionally are; the generic tests run kernels in evaluation mode.
struct SpatialReach {
    std::array<AxisReach, 2> axes;
    int input = 0;

    static SpatialReach pointwise() { return {}; }
    static SpatialReach global() { return SpatialReach{{AxisReach::everywhere(), AxisReach::everywhere()}}; }
    static SpatialReach window(AxisReach h, AxisReach w, int input = 0) { return SpatialReach{{h, w}, input}; }
    bool is_global() const { return axes[0].global && axes[1].global; }
};
// nullopt: this node's outputs are no function of positions of one grid (a reshape that
// flattens H and W, a matmul); summaries then assume an output sees the whole input.
using ReachFn = std::function<std::optional<SpatialReach>(const RuleContext&)>;

// Every output element reads the input element at its own position (elementwise ops).
ReachFn pointwise_reach();

// ---- roles ---------------------------------------------------------------------------------
// Names of inputs and outputs that code outside ops/ looks up (OpDef::input_role/output_role)
// instead of counting positions.
namespace roles {
inline constexpr std::string_view kRunningMean = "running_mean";  // input: state updated in training
inline constexpr std::string_view kRunningVar = "running_var";    // input: state, unbiased variance
inline constexpr std::string_view kBatchMean = "batch_mean";      // output: this batch's mean per channel
inline constexpr std::string_view kBatchInvStd = "batch_invstd";  // output: 1/√(var + eps) per channel
}  // namespace roles

// ---- asking a node's bundle ----------------------------------------------------------------
// Throws GraphError naming the op when its bundle has no cost rule.
OpCost node_cost(const Node& n);
// nullopt for source nodes and ops without a reach rule.
std::optional<SpatialReach> node_reach(const Node& n);

}  // namespace gg
