#include "ops/activation.h"

#include "graph/op_registry.h"
#include "ops/register_ops.h"

namespace gg {

void register_activation_ops(OpRegistry& r) { (void)r; }  // TODO: being written

}  // namespace gg
