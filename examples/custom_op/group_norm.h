// Group normalisation (Wu & He, ECCV 2018) as a composite op: graph code over graphgrad's
// builders, so its gradient (and second-order gradient) come from the builders' rules.
//
//   gg::Value y = group_norm(x, /*groups=*/4, gamma, beta);   // x [N, C, H, W], gamma/beta [C]
#pragma once

#include <cstdint>

#include <graphgrad/graphgrad.h>

// y = (x − μ_g) / √(σ²_g + eps) · γ_c + β_c, with μ_g and σ²_g (biased) over each sample's
// channel group and all its positions, like torch.nn.functional.group_norm.
gg::Value group_norm(gg::Value x, int64_t groups, gg::Value gamma, gg::Value beta, double eps = 1e-5);
