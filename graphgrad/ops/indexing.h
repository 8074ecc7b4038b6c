// Indexing: gather along an axis with i64 indices, embedding lookup, and scatter-add (the
// gradient of both, also what relative position embeddings and word embeddings need).
//
//   auto e = gg::embedding(table, ids);            // table [V, D], ids i64 [B, T] → [B, T, D]
//   auto p = gg::embedding(table, ids, 0);         // row 0 is padding: it gets no gradient
//   auto s = gg::embedding(table, ids, {}, {.sparse_grad = true});  // gradient: ids + rows
//   auto g = gg::gather(x, 1, idx);                // out[i][j][k] = x[i][idx[i][j][k]][k]
#pragma once

#include <optional>

#include "graphgrad/graph/node.h"

namespace gg {

// torch.gather semantics: index has x's rank; out has index's shape.
Value gather(Value x, int64_t axis, Value index);
// torch.index_select generalised: picks whole slices; index may have any shape, which replaces
// the axis: x [A, B, C], axis 1, index [K, L] → [A, K, L, C] (embedding is index_select on axis 0).
Value index_select(Value x, int64_t axis, Value index);
// Rows of table [V, D] picked by ids; with padding_idx (negative counts from V, as PyTorch)
// that row gets no gradient. Its forward value is read as any other row (nn.Embedding zeroes
// it at initialisation; initialise it so).
// sparse_grad (PyTorch's nn.Embedding(sparse=True)): the table's gradient is row-sparse, the
// ids and the rows of dy (graph/gradient.h); take it with gg::gradients() and update with an
// optimizer (they coalesce repeated ids). grad() still returns it dense.
struct EmbeddingOptions {
    bool sparse_grad = false;
};
Value embedding(Value table, Value ids, std::optional<int64_t> padding_idx = std::nullopt, EmbeddingOptions o = {});
// Adds src into zeros of `shape` at index along axis (torch.scatter_add on zeros).
Value scatter_add(const Shape& shape, int64_t axis, Value index, Value src);
// Adds whole slices of src into zeros of `shape` at index along axis (index_select's gradient;
// src has index_select's output shape).
Value index_add(const Shape& shape, int64_t axis, Value index, Value src);

}  // namespace gg
