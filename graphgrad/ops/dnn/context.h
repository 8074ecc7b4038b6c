// The oneDNN engine and stream shared by every oneDNN kernel of one CompiledGraph. Kernel
// factories get it from the program's resources (created on first use, destroyed with the
// program after its kernels), so there is no global singleton:
//
//   auto& dnn = ctx.resources.get<gg::dnn::Context>();
//   dnnl::matmul prim(pd);  ...  prim.execute(dnn.stream(), args);  dnn.stream().wait();
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace gg::dnn {

// oneDNN generates its sgemm kernels (about 7 MiB of code, shared by the process) on the first
// GEMM call. Kernels run no code generation in run() (graph/kernel.h), so every factory that
// may reach oneDNN's GEMM calls this once first; the program's compile() then pays for it and
// the first step's time and RSS are the steady state's. Idempotent and thread-safe.
void warm_gemm_code();

class Context {
public:
    Context();  // CPU engine 0 and an in-order stream on it
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    const dnnl::engine& engine() const { return engine_; }
    dnnl::stream& stream() { return stream_; }

private:
    dnnl::engine engine_;
    dnnl::stream stream_;
};

}  // namespace gg::dnn
