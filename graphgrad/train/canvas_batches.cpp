#include "graphgrad/train/canvas_batches.h"

#include <cmath>

#include <fmt/format.h>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/rng.h"

namespace gg::train {

io::PixelStats canvas_statistics(const io::CanvasSet& data) {
    double sum = 0, sq = 0;
    for (uint8_t v : data.pixels) {
        const double x = v / 255.0;
        sum += x, sq += x * x;
    }
    const auto n = static_cast<double>(std::max<std::size_t>(data.pixels.size(), 1));
    const double mean = sum / n;
    return {static_cast<float>(mean), static_cast<float>(std::sqrt(std::max(sq / n - mean * mean, 1e-12)))};
}

CanvasBatches::CanvasBatches(const io::CanvasSet& data, CanvasBatchOptions options) : data_(data), o_(options) {
    if (o_.batch < 1) throw OptionError(fmt::format("canvas batches: batch {} must be positive", o_.batch));
    if (o_.last_batch == io::LastBatch::Drop && data.count < o_.batch)
        throw OptionError(fmt::format("the batch size {} is larger than the {} canvases", o_.batch, data.count));
    if (o_.last_batch == io::LastBatch::Partial)
        throw OptionError("canvas batches: partial batches would change the compiled shape; use Drop or Pad");
    start_epoch(0);
}

int64_t CanvasBatches::num_batches() const {
    return o_.last_batch == io::LastBatch::Drop ? data_.count / o_.batch : (data_.count + o_.batch - 1) / o_.batch;
}

void CanvasBatches::start_epoch(int64_t epoch) {
    order_.resize(static_cast<std::size_t>(data_.count));
    for (int64_t i = 0; i < data_.count; ++i) order_[static_cast<std::size_t>(i)] = i;
    if (!o_.shuffle) return;
    for (int64_t i = data_.count - 1; i > 0; --i) {  // Fisher-Yates keyed by (seed, epoch)
        const auto j = static_cast<int64_t>(random_bits(o_.seed, static_cast<uint64_t>(epoch) + 0x5eedc0ull,
                                                        static_cast<uint64_t>(i)) % static_cast<uint64_t>(i + 1));
        std::swap(order_[static_cast<std::size_t>(i)], order_[static_cast<std::size_t>(j)]);
    }
}

int64_t CanvasBatches::sample(int64_t b, int64_t row) const {
    const int64_t at = b * o_.batch + row;
    return at < data_.count ? order_[static_cast<std::size_t>(at)] : -1;
}

int64_t CanvasBatches::fill_images(int64_t b, Tensor& images) const {
    const int64_t s = data_.size, area = s * s;
    if (images.shape() != Shape{o_.batch, 1, s, s} || images.dtype() != DType::F32)
        throw OptionError(fmt::format("canvas batches: images must be f32[{},1,{},{}], got {}", o_.batch, s, s,
                                      images.desc()));
    float lut[256];
    for (int v = 0; v < 256; ++v) lut[v] = (static_cast<float>(v) / 255.0f - o_.normalization.mean) / o_.normalization.std;
    float* out = images.data<float>();
    int64_t valid = 0;
    for (int64_t r = 0; r < o_.batch; ++r) {
        const int64_t c = sample(b, r);
        const uint8_t* px = c >= 0 ? data_.image(c) : nullptr;
        for (int64_t i = 0; i < area; ++i) out[r * area + i] = lut[px ? px[i] : 0];
        valid += c >= 0;
    }
    return valid;
}

int64_t CanvasBatches::fill(int64_t b, std::vector<Tensor>& feeds) {
    if (feeds.empty()) throw OptionError("canvas batches: no feed for the images");
    const int64_t valid = fill_images(b, feeds[0]);
    if (feeds.size() < 2) return valid;
    const int64_t s = data_.size, area = s * s;
    Tensor& labels = feeds[1];
    if (labels.shape() != Shape{o_.batch, s, s} || labels.dtype() != DType::I64)
        throw OptionError(fmt::format("canvas batches: labels must be i64[{},{},{}], got {}", o_.batch, s, s,
                                      labels.desc()));
    int64_t* out = labels.data<int64_t>();
    for (int64_t r = 0; r < o_.batch; ++r) {
        const int64_t c = sample(b, r);
        for (int64_t i = 0; i < area; ++i) out[r * area + i] = c >= 0 ? data_.label_map(c)[i] : 0;
    }
    return valid;
}

}  // namespace gg::train
