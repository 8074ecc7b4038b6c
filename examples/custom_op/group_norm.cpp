#include "group_norm.h"

#include <fmt/format.h>

gg::Value group_norm(gg::Value x, int64_t groups, gg::Value gamma, gg::Value beta, double eps) {
    if (x.rank() != 4) throw gg::ShapeError(fmt::format("group_norm: x must be [N, C, H, W], got {}", gg::desc_str(x.desc())));
    const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
    if (groups < 1 || c % groups != 0)
        throw gg::ShapeError(fmt::format("group_norm: {} channels do not split into {} groups", c, groups));
    if (gamma.shape() != gg::Shape{c} || beta.shape() != gg::Shape{c})
        throw gg::ShapeError(fmt::format("group_norm: gamma and beta must be [{}], got {} and {}", c,
                                         gg::desc_str(gamma.desc()), gg::desc_str(beta.desc())));
    gg::Value g = gg::reshape(x, {n, groups, (c / groups) * h * w});
    gg::Value centred = g - gg::mean(g, {2}, /*keepdims=*/true);
    gg::Value var = gg::mean(centred * centred, {2}, true);
    gg::Value normalised = gg::reshape(centred / gg::sqrt(var + eps), {n, c, h, w});
    return normalised * gg::reshape(gamma, {1, c, 1, 1}) + gg::reshape(beta, {1, c, 1, 1});
}
