#include "ops/loss.h"

#include "graph/op_registry.h"
#include "ops/register_ops.h"

namespace gg {

void register_loss_ops(OpRegistry& r) { (void)r; }  // TODO: being written

}  // namespace gg
