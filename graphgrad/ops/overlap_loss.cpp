// Soft Dice and Jaccard losses (overlap_loss.h) as composites of registered ops: their
// gradients come from the parts' rules, so gradcheck of the composite checks the whole chain.
#include "graphgrad/ops/overlap_loss.h"

#include <vector>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/loss.h"
#include "graphgrad/ops/reduction.h"
#include "graphgrad/ops/softmax.h"

namespace gg {

namespace {

struct ClassSums {
    Value intersection, predicted, labelled;  // I_c, P_c, Q_c: each [C]
};

ClassSums class_sums(const char* op, Value p, Value labels, double smooth) {
    Shape want = p.shape();
    if (p.rank() >= 2) want.erase(want.begin() + 1);
    if (p.rank() < 2 || labels.dtype() != DType::I64 || labels.shape() != want || !is_floating(p.dtype()))
        throw_graph("{}: expected float scores [N, C, d...] and i64 labels [N, d...], got \"{}\" {} and \"{}\" {}",
                    op, p.name(), p.desc(), labels.name(), labels.desc());
    if (!(smooth >= 0)) throw_graph("{}: smoothing must be >= 0, got {}", op, smooth);
    Value q = one_hot(labels, p.dim(1), 1, p.dtype());
    std::vector<int64_t> axes{0};
    for (int64_t a = 2; a < p.rank(); ++a) axes.push_back(a);
    return {sum(p * q, axes), sum(p, axes), sum(q, axes)};
}

}  // namespace

Value soft_dice_per_class(Value p, Value labels, double smooth) {
    const ClassSums s = class_sums("dice", p, labels, smooth);
    return (2.0 * s.intersection + smooth) / (s.predicted + s.labelled + smooth);
}

Value soft_jaccard_per_class(Value p, Value labels, double smooth) {
    const ClassSums s = class_sums("jaccard", p, labels, smooth);
    return (s.intersection + smooth) / (s.predicted + s.labelled - s.intersection + smooth);
}

Value dice_loss(Value logits, Value labels, double smooth) {
    return 1.0 - mean(soft_dice_per_class(softmax(logits, 1), labels, smooth));
}

Value jaccard_loss(Value logits, Value labels, double smooth) {
    return 1.0 - mean(soft_jaccard_per_class(softmax(logits, 1), labels, smooth));
}

}  // namespace gg
