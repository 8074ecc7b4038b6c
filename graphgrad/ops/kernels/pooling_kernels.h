// Fast max-pooling forward loop (max_pool2d's registered kernel; the loops of
// ops/reference/pooling.h stay the op's meaning and the registry tests compare them).
// Same results, bit for bit: y = window max, argmax = iy·W + ix of the first maximal element
// in row-major window order, NaN beating numbers.
//
// Forward (f32): the outputs whose window lies inside the input are listed once, at compile
// time, with their window origins; run() takes them 8 at a time with AVX2 gathers and blends
// (no branches: the reference's scalar scan mispredicts about every other comparison on real
// data, ~50 cycles per output). Windows clipped by the padding take the reference's scalar
// scan. Parallel over the N·C planes, in chunks big enough to be worth waking the threads. (The
// backward, a zero fill and a scatter, is the reference loop itself.)
//
//   auto k = gg::fast::make_max_pool2d_kernel(geo);   // inputs (x), outputs (y, argmax)
#pragma once

#include <cstdint>
#include <memory>

#include "graphgrad/graph/kernel.h"

#include "graphgrad/ops/reference/pooling.h"

namespace gg::fast {

// f32 kernel: input x, outputs (y, argmax i64). nullptr when the plane is too large for
// 32-bit gather indices.
std::unique_ptr<Kernel> make_max_pool2d_kernel(const Pool2dGeometry& g);

}  // namespace gg::fast
