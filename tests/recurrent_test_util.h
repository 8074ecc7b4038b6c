// Helpers for the graph-code recurrent tests: tensors from and to vectors, and a graph's
// recurrent parameters (built with name "rnn") set to a reference case's weights.
//
//   gg::testing::copy_weights(g, case, /*layer=*/0);
#pragma once

#include <string>
#include <vector>

#include <fmt/format.h>

#include "graphgrad/graph/graph.h"
#include "rnn_test_util.h"

namespace gg::testing {

template <typename T>
constexpr DType dtype_for() {
    return sizeof(T) == 8 ? DType::F64 : DType::F32;
}

template <typename T>
Tensor tensor(const std::vector<T>& v, const Shape& s) {
    return Tensor::from_vector<T>(v, s);
}

template <typename T>
std::vector<T> values(const Tensor& t) {
    return {t.data<T>(), t.data<T>() + t.numel()};
}

inline std::string param_name(const std::string& kind, int64_t layer, int64_t d) {
    return fmt::format("rnn.{}_l{}{}", kind, layer, d ? "_reverse" : "");
}

// The parameters of layer l of a graph built with name "rnn", set to a case's weights.
template <typename T>
void copy_weights(Graph& g, const RnnCase<T>& c, int64_t layer) {
    for (int64_t d = 0; d < c.geo.directions(); ++d) {
        const auto u = static_cast<std::size_t>(d);
        g.store().get(param_name("weight_ih", layer, d)).copy_from(tensor(c.w_ih[u], c.geo.weight_ih_shape()));
        g.store().get(param_name("weight_hh", layer, d)).copy_from(tensor(c.w_hh[u], c.geo.weight_hh_shape()));
        g.store().get(param_name("bias_ih", layer, d)).copy_from(tensor(c.b_ih[u], c.geo.bias_shape()));
        g.store().get(param_name("bias_hh", layer, d)).copy_from(tensor(c.b_hh[u], c.geo.bias_shape()));
    }
}

}  // namespace gg::testing
