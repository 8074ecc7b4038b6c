#include "ops/dnn/context.h"

namespace gg::dnn {

Context::Context() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

}  // namespace gg::dnn
