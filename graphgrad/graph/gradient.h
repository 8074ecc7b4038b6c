// Gradients as grad() hands them out: dense values, or row-sparse parts (indices + rows) for
// tables whose gradient rules emit them (embedding with sparse_grad).
//
//   auto gs = gg::gradients(loss, {table, w});       // graph/autodiff.h
//   if (gs[0].is_sparse()) fetch(gs[0].values());   // {indices₀, rows₀, ...}
//
// Sparse gradients, the design:
// - A gradient rule may return a row-sparse gradient (InputGrad::row_sparse: indices i64 [K],
//   rows [K, D...]) instead of a dense [V, D...] one; embedding(table, ids, padding_idx,
//   {.sparse_grad = true}) does (rows of padding ids are zeroed in the graph).
// - grad() keeps the contributions to one value as a list of parts (no concatenation, no
//   copy) and densifies them, with the densifier the rule gave, only where a dense gradient
//   is needed: the value's own producer is differentiated through, or a dense contribution
//   arrives too (then all of it becomes one dense sum). gradients() returns what is left
//   sparse as parts; grad() always returns dense values.
// - The parts are ordinary values, so the memory planner sees K×D for them, never V×D.
// - Repeated rows are not merged in the graph (the number of distinct rows is only known at
//   run time): Optimizer::step coalesces all parts of a parameter (sums the rows of equal
//   indices, in order of appearance) before the update (optim/optimizer.h).
#pragma once

#include <vector>

#include "graphgrad/graph/node.h"

namespace gg {

// A row-sparse gradient of a [V, ...] value: rows[k] is the gradient of its row indices[k];
// repeated indices add.
struct RowSparse {
    Value indices;  // i64 [K]
    Value rows;     // [K, ...]: the value's shape with K rows
};

struct Gradient {
    Value dense;                    // valid when the gradient is dense
    std::vector<RowSparse> sparse;  // otherwise the row-sparse parts; all of them add
    bool is_sparse() const { return !dense.valid(); }
    // What to fetch: {dense}, or {indices₀, rows₀, indices₁, rows₁, ...}.
    std::vector<Value> values() const;
};

}  // namespace gg
