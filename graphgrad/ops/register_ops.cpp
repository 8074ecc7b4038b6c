#include "graphgrad/ops/internal/register_ops.h"

#include <mutex>

#include "graphgrad/graph/op_registry.h"

namespace gg {

void register_all_ops() {
    static std::once_flag once;
    std::call_once(once, [] {
        OpRegistry& r = op_registry();
        register_elementwise_ops(r);
        register_activation_ops(r);
        register_activation_grad_ops(r);
        register_broadcast_ops(r);
        register_reduction_ops(r);
        register_shape_ops(r);
        register_linalg_ops(r);
        register_softmax_ops(r);
        register_loss_ops(r);
        register_mse_ops(r);
        register_conv_ops(r);
        register_pooling_ops(r);
        register_indexing_ops(r);
        register_normalization_ops(r);
        register_random_ops(r);
        register_rnn_ops(r);
        register_box_ops(r);
        register_roi_ops(r);
    });
}

const OpDef& op_def(std::string_view name) {
    register_all_ops();
    return op_registry().get(name);
}

}  // namespace gg
