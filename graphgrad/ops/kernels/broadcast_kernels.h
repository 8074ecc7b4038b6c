// Private to ops/broadcast.cpp: the kernels of broadcast_to and sum_to and the collapsed
// index plan they share.
//
//   BroadcastPlan p = plan_broadcast({3, 1}, {2, 3, 4});   // dims [2,3,4], strides [0,1,0]
//
// The plan merges adjacent axes of the same kind (kept or repeated) and drops size-1 axes, so
// the kernels loop over few, long, contiguous rows whatever the ranks: [N,C] + [C] becomes
// N rows of C, and [N,C,H,W] vs [C,1,1] becomes [N, C, H·W].
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "graphgrad/graph/kernel.h"
#include "graphgrad/graph/tensor_desc.h"

namespace gg {

struct BroadcastPlan {
    std::vector<int64_t> dims;     // the big shape, collapsed; at least one axis
    std::vector<int64_t> strides;  // the small tensor's stride per collapsed axis, 0 = repeated
    int64_t big_numel = 0;
    int64_t small_numel = 0;
};

// `small` must broadcast to `big` (checked by the shape rules).
BroadcastPlan plan_broadcast(const Shape& small, const Shape& big);

std::unique_ptr<Kernel> broadcast_kernel(const KernelContext& c);  // any dtype
std::unique_ptr<Kernel> sum_to_kernel(const KernelContext& c);     // f32, f64

}  // namespace gg
