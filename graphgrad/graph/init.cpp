#include "graphgrad/graph/init.h"

#include <cmath>

#include "graphgrad/graph/rng.h"

namespace gg::init {

std::pair<double, double> fans(const Shape& s, WeightAxes axes) {
    if (s.empty()) return {1.0, 1.0};
    if (s.size() == 1) return {static_cast<double>(s[0]), static_cast<double>(s[0])};
    if (s.size() == 2) {
        double a = static_cast<double>(s[0]), b = static_cast<double>(s[1]);
        return axes == WeightAxes::InOut ? std::pair{a, b} : std::pair{b, a};
    }
    // [out, in, k...]: receptive field multiplies both fans (PyTorch convention).
    double receptive = 1;
    for (std::size_t i = 2; i < s.size(); ++i) receptive *= static_cast<double>(s[i]);
    return {static_cast<double>(s[1]) * receptive, static_cast<double>(s[0]) * receptive};
}

namespace {
Initializer uniform_with(std::function<double(const Shape&)> bound) {
    return [bound](Tensor& t, uint64_t seed) {
        double b = bound(t.shape());
        for (int64_t i = 0; i < t.numel(); ++i) t.set(i, (2.0 * uniform01(seed, 0, static_cast<uint64_t>(i)) - 1.0) * b);
    };
}
Initializer normal_with(double mean, std::function<double(const Shape&)> stddev) {
    return [mean, stddev](Tensor& t, uint64_t seed) {
        double s = stddev(t.shape());
        for (int64_t i = 0; i < t.numel(); ++i) t.set(i, mean + s * standard_normal(seed, 1, static_cast<uint64_t>(i)));
    };
}
}  // namespace

Initializer zeros() { return constant(0.0); }
Initializer ones() { return constant(1.0); }
Initializer constant(double value) {
    return [value](Tensor& t, uint64_t) { t.fill(value); };
}
Initializer uniform(double low, double high) {
    return [low, high](Tensor& t, uint64_t seed) {
        for (int64_t i = 0; i < t.numel(); ++i) t.set(i, low + (high - low) * uniform01(seed, 0, static_cast<uint64_t>(i)));
    };
}
Initializer normal(double mean, double stddev) {
    return normal_with(mean, [stddev](const Shape&) { return stddev; });
}
Initializer xavier_uniform(double gain, WeightAxes axes) {
    return uniform_with([=](const Shape& s) {
        auto [fi, fo] = fans(s, axes);
        return gain * std::sqrt(6.0 / (fi + fo));
    });
}
Initializer xavier_normal(double gain, WeightAxes axes) {
    return normal_with(0.0, [=](const Shape& s) {
        auto [fi, fo] = fans(s, axes);
        return gain * std::sqrt(2.0 / (fi + fo));
    });
}
Initializer kaiming_uniform(double gain, WeightAxes axes) {
    return uniform_with([=](const Shape& s) { return gain * std::sqrt(3.0 / fans(s, axes).first); });
}
Initializer kaiming_normal(double gain, WeightAxes axes) {
    return normal_with(0.0, [=](const Shape& s) { return gain / std::sqrt(fans(s, axes).first); });
}

}  // namespace gg::init
