// The oneDNN engine and stream shared by every oneDNN kernel of one CompiledGraph. Kernel
// factories get it from the program's resources (created on first use, destroyed with the
// program after its kernels), so there is no global singleton:
//
//   auto& dnn = ctx.resources.get<gg::dnn::Context>();
//   dnnl::matmul prim(pd);  ...  prim.execute(dnn.stream(), args);  dnn.stream().wait();
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

namespace gg::dnn {

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
