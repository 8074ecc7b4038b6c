// Counter-based random numbers: every draw is a pure function of (seed, stream, index), so
// results never depend on thread count or call order (dropout masks, initialisers, samples).
//
//   double u = gg::uniform01(seed, node_id, i);
#pragma once

#include <cmath>
#include <cstdint>

namespace gg {

// SplitMix64 finaliser: a strong 64-bit mixing function.
inline uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

inline uint64_t hash_combine(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b)); }

inline uint64_t random_bits(uint64_t seed, uint64_t stream, uint64_t index) {
    return mix64(hash_combine(seed, stream) + index * 0xD1B54A32D192ED03ull);
}

// Uniform in [0, 1) with 53 random bits.
inline double uniform01(uint64_t seed, uint64_t stream, uint64_t index) {
    return static_cast<double>(random_bits(seed, stream, index) >> 11) * 0x1.0p-53;
}

// Standard normal by Box-Muller over two counter draws.
inline double standard_normal(uint64_t seed, uint64_t stream, uint64_t index) {
    double u1 = uniform01(seed, stream, 2 * index);
    double u2 = uniform01(seed, stream, 2 * index + 1);
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

inline uint64_t hash_string(const char* s, std::size_t n) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a, then mixed
    for (std::size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(s[i])) * 1099511628211ull;
    return mix64(h);
}

}  // namespace gg
