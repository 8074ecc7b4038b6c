#include "ops/linalg.h"

#include "graph/op_registry.h"
#include "ops/register_ops.h"

namespace gg {

void register_linalg_ops(OpRegistry& r) { (void)r; }  // TODO: being written

}  // namespace gg
