// Multi-head self-attention over feature maps, the pre-norm transformer block and a small ViT.
// Attention is built from primitives (matmul with transpose flags and broadcast batch dims,
// softmax); the scale 1/√d_head is applied to q, which is linear in n, rather than to the
// [N, heads, n, n] scores, so the attention maps stay the only quadratic tensors.
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "graphgrad/models/attention_layers.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/broadcast.h"
#include "graphgrad/ops/conv.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/indexing.h"
#include "graphgrad/ops/linalg.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/shape_ops.h"
#include "graphgrad/ops/softmax.h"

namespace gg::models {

Value self_attention(Value x, const AttentionOptions& o, const std::string& name) {
    Graph& g = *x.graph;
    const std::string full = g.scoped(name);
    auto fail = [&](const std::string& what) {
        throw std::invalid_argument(
            fmt::format("self_attention \"{}\": {} (x {}, dim {}, heads {})", full, what, x.desc(), o.dim, o.heads));
    };
    if (x.rank() != 4) fail("x must be [N, C, H, W]");
    if (!is_floating(x.dtype())) fail("x must be floating point");
    if (o.dim < 1 || o.heads < 1) fail("dim and heads must be positive");
    if (o.dim % o.heads != 0) fail(fmt::format("dim {} is not divisible by heads {}", o.dim, o.heads));

    const int64_t b = x.dim(0), H = x.dim(2), W = x.dim(3), n = H * W;
    const int64_t heads = o.heads, dh = o.dim / o.heads;
    NameScope scope(g, name);
    // [b, heads·d_head, H, W] → [b, heads, d_head, n]: tokens are columns, no permutation needed.
    auto project = [&](const char* which) { return reshape(conv1x1(x, o.dim, which, o.params), {b, heads, dh, n}); };
    Value q = project("q") * (1.0 / std::sqrt(static_cast<double>(dh)));
    Value k = project("k");
    Value v = project("v");

    Value scores = matmul(q, k, true, false);  // [b, heads, n, m] = qᵀk
    if (o.relative_bias) {
        const int64_t rows = (2 * H - 1) * (2 * W - 1);
        Value table = layer_param(g, o.params, "rel_pos_bias", {heads, rows}, init::normal(0.0, 0.02), x.dtype());
        Value idx = g.constant(relative_position_index(H, W), "rel_pos_index");
        scores = scores + index_select(table, 1, idx);  // bias [heads, n, m], shared by the batch
    }
    Value attn = softmax(scores, -1);
    Value y = matmul(v, attn, false, true);  // [b, heads, d_head, n] = v·attnᵀ
    y = reshape(y, {b, o.dim, H, W});
    return o.out_proj ? conv1x1(y, o.dim, "out", o.params, true) : y;
}

Value transformer_block(Value x, int64_t heads, int64_t mlp_ratio, const std::string& name) {
    Graph& g = *x.graph;
    if (x.rank() != 3 || heads < 1 || mlp_ratio < 1 || x.dim(2) % heads != 0)
        throw std::invalid_argument(fmt::format("transformer_block \"{}\": needs tokens [N, T, D] with D divisible by "
                                                "heads and mlp_ratio >= 1, got x {}, heads {}, mlp_ratio {}",
                                                g.scoped(name), x.desc(), heads, mlp_ratio));
    const int64_t b = x.dim(0), t = x.dim(1), d = x.dim(2), dh = d / heads;
    NameScope scope(g, name);
    // timm's Attention: qkv features ordered (3, heads, d_head).
    Value qkv = linear(layer_norm(x, {d}, "norm1"), 3 * d, "attn.qkv");          // [b, t, 3·d]
    qkv = permute(reshape(qkv, {b, t, 3, heads, dh}), {2, 0, 3, 1, 4});           // [3, b, heads, t, d_head]
    auto part = [&](int64_t i) { return reshape(slice_axis(qkv, 0, i, i + 1), {b, heads, t, dh}); };
    Value q = part(0) * (1.0 / std::sqrt(static_cast<double>(dh)));
    Value attn = softmax(matmul(q, part(1), false, true), -1);                    // [b, heads, t, t]
    Value o = reshape(permute(matmul(attn, part(2)), {0, 2, 1, 3}), {b, t, d});    // heads concatenated
    x = x + linear(o, d, "attn.proj");
    // Mlp: fc1 → GELU (the exact erf form, as timm's nn.GELU; it used the tanh approximation
    // before graphgrad had erf) → fc2.
    Value m = linear(gelu(linear(layer_norm(x, {d}, "norm2"), mlp_ratio * d, "mlp.fc1")), d, "mlp.fc2");
    return x + m;
}

Value vit(Value x, int64_t num_classes, int64_t patch, int64_t dim, int64_t depth, int64_t heads) {
    Graph& g = *x.graph;
    if (x.rank() != 4 || patch < 1 || dim < 1 || depth < 0 || heads < 1 || x.dim(2) % patch != 0 ||
        x.dim(3) % patch != 0 || dim % heads != 0)
        throw std::invalid_argument(fmt::format("vit: needs x [N, C, H, W] with H and W divisible by patch and dim "
                                                "divisible by heads, got x {}, patch {}, dim {}, depth {}, heads {}",
                                                x.desc(), patch, dim, depth, heads));
    const int64_t b = x.dim(0), t = (x.dim(2) / patch) * (x.dim(3) / patch);
    Value h = conv(x, dim, patch, patch, 0, "patch_embed.proj");  // [b, dim, H/p, W/p]
    h = transpose(reshape(h, {b, dim, t}), 1, 2);                 // [b, t, dim]
    Value cls = g.parameter("cls_token", {1, 1, dim}, init::normal(0.0, 0.02), x.dtype());
    Value pos = g.parameter("pos_embed", {1, t + 1, dim}, init::normal(0.0, 0.02), x.dtype());
    h = concat({broadcast_to(cls, {b, 1, dim}), h}, 1) + pos;     // [b, 1 + t, dim]
    for (int64_t i = 0; i < depth; ++i) h = transformer_block(h, heads, 4, fmt::format("blocks.{}", i));
    h = layer_norm(h, {dim}, "norm");
    return linear(reshape(slice_axis(h, 1, 0, 1), {b, dim}), num_classes, "head");  // the class token
}

}  // namespace gg::models
