// Global-context layers over a feature map x [N, C, H, W] (n = H·W positions): multi-head
// self-attention and the lambda layer of LambdaNetworks (Bello, ICLR 2021), in both of the
// paper's position variants. Graph code with the public API only; parameter names follow the
// equivalent PyTorch module (tools/compare/ builds the same layers in PyTorch).
//
//   auto y = gg::models::self_attention(x, {.dim = 64, .heads = 8}, "attn");
//   auto z = gg::models::lambda_layer(x, {.dim = 64, .k = 16, .heads = 4, .u = 1}, "lam");
//   auto w = gg::models::lambda_layer(x, {.dim = 64, .k = 16, .heads = 4, .u = 4, .r = 23}, "lamc");
//
// Every layer returns [N, dim, H, W], so they are interchangeable in a block and in
// `graphgrad bench lambda-vs-attention`.
#pragma once

#include <functional>
#include <string>

#include "graphgrad/graph/graph.h"

namespace gg::models {

// Where self_attention and lambda_layer get their weights. Empty (the default): they create
// parameters in x's graph under the current NameScope, in x's dtype, initialised like PyTorch.
// Otherwise it is called with the full parameter name ("lam.q.weight", "lam.norm_q.bias", ...),
// its shape and the default initialiser, and returns a value of that shape and x's dtype: e.g.
// a fed input, so that gradcheck can differentiate with respect to every weight. (Batch-norm
// running statistics are state, not weights: they are always created in x's graph.)
using ParamSource = std::function<Value(const std::string& name, const Shape& shape, const Initializer& init)>;

struct AttentionOptions {
    int64_t dim = 64;          // output channels d; also the Q/K/V width (d_head = dim / heads)
    int64_t heads = 8;
    bool relative_bias = false;  // learnable bias per head and offset: table [heads, (2H-1)(2W-1)]
    bool out_proj = true;        // 1x1 output projection "<name>.out" (with bias)
    ParamSource params = {};     // see ParamSource
};

// Multi-head self-attention over the n = H·W tokens of x: 1x1 projections "<name>.q", ".k",
// ".v" (no bias; channels ordered (head, d_head)), softmax(q·kᵀ/√d_head [+ bias]) · v, then the
// output projection. The relative bias table "<name>.rel_pos_bias" [heads, (2H−1)(2W−1)] is
// indexed by the offset n − m like relative_embeddings. The attention maps [N, heads, n, n] are
// the only quadratic tensors: the memory the benchmark measures.
Value self_attention(Value x, const AttentionOptions& o, const std::string& name);

struct LambdaOptions {
    int64_t dim = 64;   // output channels d = heads · v (v = dim / heads)
    int64_t k = 16;     // query / key depth |k|
    int64_t heads = 4;  // |h|: queries per position; keys and values are shared (multi-query)
    int64_t u = 1;      // intra-depth |u|
    int64_t r = 0;      // 0: global context with relative position embeddings; > 0 (odd): the
                        // lambda convolution over an r×r local context
    ParamSource params = {};  // see ParamSource
};

// The lambda layer. Queries [N, k·heads] ("<name>.q", 1x1 conv, no bias, then batch norm
// "<name>.norm_q"), keys [N, k·u] ("<name>.k", softmax over the n context positions), values
// [N, v·u] ("<name>.v", then batch norm "<name>.norm_v"). Content lambda λc = softmax(K)ᵀV
// [k, v]; position lambdas λp_n = E_nᵀV from
//   r == 0: E[n, m, k, u] gathered from the learnable table "<name>.rel_pos_emb"
//           [(2H−1)(2W−1), k, u] at offset n − m (scatter-add gradient), or
//   r > 0:  a convolution of the values with the kernel "<name>.pos_conv" [k, u, r, r]
//           (E is never materialised);
// y_n = (λc + λp_n)ᵀ q_n per head, heads concatenated: [N, dim, H, W].
// Channel orders follow lucidrains/lambda-networks: queries (h, k), keys (u, k), values (u, v),
// output (h, v). Batch norm is the op's: batch statistics in training programs, running ones in
// evaluation programs. Memory: the global variant's only quadratic tensor is E (one per layer,
// shared by the batch); the local one has none.
Value lambda_layer(Value x, const LambdaOptions& o, const std::string& name);

// The relative-position embedding tensor E [n, n, k, u] built from a table of shape
// [(2H−1)(2W−1), ...]: E[n, m] = table[offset(n − m)] with, for positions n = (y, x) row-major,
// offset(dy, dx) = (dy + H − 1)·(2W − 1) + (dx + W − 1). One index_select with a constant i64
// [n, n] index, so the table's gradient is a scatter-add (index_add). Exposed for tests.
Value relative_embeddings(Value table, int64_t h, int64_t w);

// Building blocks the layers share (public, so other graph code can reuse them):
// the weight `name` (scoped) from src, or a new parameter in g with dtype `dt` when src is empty;
Value layer_param(Graph& g, const ParamSource& src, const std::string& name, const Shape& shape, const Initializer& init,
                  DType dt);
// a 1x1 convolution "<name>.weight" [out, C, 1, 1] (+ "<name>.bias") initialised like nn.Conv2d;
Value conv1x1(Value x, int64_t out_channels, const std::string& name, const ParamSource& src, bool bias = false);
// batch_norm(x, name) with weight and bias from src (running statistics always in x's graph);
Value batch_norm2d(Value x, const std::string& name, const ParamSource& src);
// the constant i64 [n, n] index of relative_embeddings: idx[n][m] = offset(n − m).
Tensor relative_position_index(int64_t h, int64_t w);

// Transformer encoder block on tokens x [N, T, D] (pre-norm): x + MHSA(LN(x)), then
// x + MLP(LN(x)) with GELU and hidden width mlp_ratio·D. Names "<name>.norm1", ".attn.qkv",
// ".attn.proj", ".norm2", ".mlp.fc1", ".mlp.fc2" (timm's ViT Block).
Value transformer_block(Value x, int64_t heads, int64_t mlp_ratio, const std::string& name);

// A small ViT (Dosovitskiy et al.): patch embedding by a strided conv "patch_embed.proj",
// class token "cls_token", learned positions "pos_embed", `depth` blocks "blocks.i", final
// "norm" and classifier "head". Input [N, C, H, W] with H, W divisible by `patch`.
Value vit(Value x, int64_t num_classes = 10, int64_t patch = 4, int64_t dim = 64, int64_t depth = 4,
          int64_t heads = 4);

// LambdaResNet block (bottleneck: 1x1 conv-BN-ReLU, lambda layer-BN-ReLU, 1x1 conv-BN, plus
// the shortcut, ReLU) and the attention counterpart (the same block with self_attention).
// Torchvision Bottleneck names: "conv1", "bn1", "conv2" (the global layer, o.dim := planes),
// "bn2", "conv3" (planes → 4·planes), "bn3", and where the shape changes a ResNet-D shortcut
// "downsample.1" (1x1 conv) + "downsample.2" (BN) after a 2x2 average pooling when stride 2.
// With stride 2 the block pools its input (2x2 average, shared with the shortcut) before
// conv1, so conv1 and the quadratic layer run at the output resolution (LambdaResNets pool
// after the global layer, at 4x the cost).
Value lambda_bottleneck(Value x, int64_t planes, int64_t stride, const LambdaOptions& o, const std::string& name);
Value attention_bottleneck(Value x, int64_t planes, int64_t stride, const AttentionOptions& o,
                           const std::string& name);
// Small classifiers for Fashion-MNIST (zoo names "lambda_resnet" and "attention_resnet"): a
// conv stem, a ResNet stage, then bottlenecks with the global layer at 14x14 and 7x7.
Value lambda_resnet(Value x, int64_t num_classes = 10);
Value attention_resnet(Value x, int64_t num_classes = 10);

}  // namespace gg::models
