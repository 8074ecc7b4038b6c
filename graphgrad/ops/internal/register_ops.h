// Explicit registration of every op family (no self-registering statics). Builders call
// op_def(), which registers everything once, so user code never has to.
//
//   gg::register_all_ops();                      // idempotent
//   const gg::OpDef& d = gg::op_def("matmul");
#pragma once

#include <string_view>

#include "graphgrad/graph/op_def.h"

namespace gg {

void register_all_ops();
const OpDef& op_def(std::string_view name);

// One per family file.
class OpRegistry;
void register_elementwise_ops(OpRegistry& r);
void register_activation_ops(OpRegistry& r);
void register_activation_grad_ops(OpRegistry& r);
void register_broadcast_ops(OpRegistry& r);
void register_reduction_ops(OpRegistry& r);
void register_shape_ops(OpRegistry& r);
void register_linalg_ops(OpRegistry& r);
void register_softmax_ops(OpRegistry& r);
void register_loss_ops(OpRegistry& r);
void register_mse_ops(OpRegistry& r);
void register_conv_ops(OpRegistry& r);
void register_pooling_ops(OpRegistry& r);
void register_indexing_ops(OpRegistry& r);
void register_normalization_ops(OpRegistry& r);
void register_random_ops(OpRegistry& r);
void register_rnn_ops(OpRegistry& r);
void register_box_ops(OpRegistry& r);
void register_roi_ops(OpRegistry& r);

}  // namespace gg
