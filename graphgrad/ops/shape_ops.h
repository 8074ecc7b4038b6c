// Shape manipulation: reshape, permute/transpose, slice, concat, split, pad.
//
//   auto t = gg::reshape(x, {64, -1});
//   auto xt = gg::transpose(x, 1, 2);             // swap two axes
//   auto gates = gg::split(z, 1, {h, h, h, h});   // four [N, h] pieces of z [N, 4h]
//   auto p = gg::pad(img, {{0,0},{0,0},{1,1},{1,1}}, gg::PadMode::Reflect);
#pragma once

#include <utility>
#include <vector>

#include "graphgrad/graph/node.h"

namespace gg {

Value reshape(Value x, Shape shape);  // one -1 allowed
Value permute(Value x, std::vector<int64_t> perm);
Value transpose(Value x, int64_t axis0 = -2, int64_t axis1 = -1);
// Per axis [start, end) with step > 0; negative indices count from the end, ends clamp.
Value slice(Value x, std::vector<int64_t> starts, std::vector<int64_t> ends, std::vector<int64_t> steps = {});
Value slice_axis(Value x, int64_t axis, int64_t start, int64_t end, int64_t step = 1);
Value concat(const std::vector<Value>& xs, int64_t axis);
// Consecutive pieces along axis with the given sizes (summing to its extent): one value each.
// Its gradient is one concat, where K slices would sum K zero-padded full-size gradients.
std::vector<Value> split(Value x, int64_t axis, std::vector<int64_t> sizes);

enum class PadMode { Constant, Reflect, Replicate };
// pads[i] = {before, after} for axis i, one entry per axis. Reflect needs pad < size.
Value pad(Value x, std::vector<std::pair<int64_t, int64_t>> pads, PadMode mode = PadMode::Constant, double value = 0.0);

}  // namespace gg
