#include "graphgrad/ops/dnn/context.h"

#include <mutex>

namespace gg::dnn {

void warm_gemm_code() {
    static std::once_flag once;
    std::call_once(once, [] {
        // Every transposition and both beta cases: each pair of layouts has its own copy kernels.
        float a[4] = {}, b[4] = {}, c[4] = {};
        for (char ta : {'N', 'T'})
            for (char tb : {'N', 'T'})
                for (float beta : {0.0f, 1.0f}) dnnl::sgemm(ta, tb, 2, 2, 2, 1.0f, a, 2, b, 2, beta, c, 2);
    });
}

Context::Context() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) { warm_gemm_code(); }

}  // namespace gg::dnn
