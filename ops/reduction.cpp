#include "ops/reduction.h"

#include "graph/op_registry.h"
#include "ops/register_ops.h"

namespace gg {

void register_reduction_ops(OpRegistry& r) { (void)r; }  // TODO: being written

}  // namespace gg
