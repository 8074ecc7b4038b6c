// YOLO v1 backbone and loss (yolo.h).
#include "graphgrad/models/yolo.h"

#include <string>
#include <vector>

#include <fmt/format.h>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/graph.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/activation.h"
#include "graphgrad/ops/elementwise.h"
#include "graphgrad/ops/loss.h"
#include "graphgrad/ops/normalization.h"
#include "graphgrad/ops/pooling.h"
#include "graphgrad/ops/reduction.h"
#include "graphgrad/ops/shape_ops.h"

namespace gg::models {

namespace {

Value conv_leaky(Value x, int64_t channels, int64_t kernel, const std::string& name) {
    return leaky_relu(conv_bn(x, channels, kernel, 1, name, 1, /*relu=*/false), 0.1);
}

// Box corners (x0, y0, x1, y1) in image units from cell-relative x, y and √w, √h.
struct Corners {
    Value x0, y0, x1, y1;
};

Corners corners(Value x, Value y, Value sw, Value sh, Value col, Value row, double grid) {
    Value cx = (x + col) / grid, cy = (y + row) / grid;
    Value hw = 0.5 * (sw * sw), hh = 0.5 * (sh * sh);
    return {cx - hw, cy - hh, cx + hw, cy + hh};
}

Value iou(const Corners& a, const Corners& b) {
    Value zero = scalar_like(a.x0, 0.0);
    Value w = maximum(minimum(a.x1, b.x1) - maximum(a.x0, b.x0), zero);
    Value h = maximum(minimum(a.y1, b.y1) - maximum(a.y0, b.y0), zero);
    Value inter = w * h;
    Value uni = (a.x1 - a.x0) * (a.y1 - a.y0) + (b.x1 - b.x0) * (b.y1 - b.y0) - inter;
    return inter / (uni + 1e-9);  // no box on either side: 0, not 0/0
}

// A [1, 1, S, S] constant holding each cell's column (or row) index.
Value cell_index(Graph& g, int64_t s, DType dtype, bool column) {
    Tensor t = Tensor::zeros({1, 1, s, s}, DType::F64);
    for (int64_t i = 0; i < s; ++i)
        for (int64_t j = 0; j < s; ++j) t.data<double>()[i * s + j] = static_cast<double>(column ? j : i);
    return g.constant(t.cast(dtype), column ? "yolo_col" : "yolo_row");
}

Value square(Value v) { return v * v; }

}  // namespace

Value yolo_v1(Value x, const YoloV1Options& o) {
    if (x.rank() != 4 || x.dim(2) != 8 * o.grid || x.dim(3) != 8 * o.grid)
        throw_graph("yolo_v1: input must be [N, C, {0}, {0}] (8 pixels per cell of a {1}x{1} grid), got {2}",
                    8 * o.grid, o.grid, x.desc());
    NameScope scope(*x.graph, "yolo");
    const int64_t w = o.width;
    Value h = max_pool2d(conv_leaky(x, w, 3, "conv1"));
    h = max_pool2d(conv_leaky(h, 2 * w, 3, "conv2"));
    h = conv_leaky(h, 4 * w, 3, "conv3");
    h = conv_leaky(h, 2 * w, 1, "conv4");
    h = max_pool2d(conv_leaky(h, 4 * w, 3, "conv5"));
    h = conv_leaky(h, 8 * w, 3, "conv6");
    h = conv_leaky(h, 4 * w, 1, "conv7");
    h = conv_leaky(h, 8 * w, 3, "conv8");
    return conv(h, o.boxes * 5 + o.classes, 1, 1, 0, "head");
}

YoloV1Loss yolo_v1_loss(Value pred, Value target_boxes, Value object, Value target_classes, const YoloV1Options& o) {
    const int64_t s = o.grid, nb = o.boxes, nc = o.classes;
    const int64_t n = pred.rank() == 4 ? pred.dim(0) : 0;
    const Shape want{n, nb * 5 + nc, s, s};
    if (pred.shape() != want || target_boxes.shape() != Shape{n, 4, s, s} || object.shape() != Shape{n, 1, s, s} ||
        target_classes.shape() != Shape{n, nc, s, s})
        throw_graph("yolo_v1_loss: expected pred [N, {}, {}, {}], boxes [N, 4, ...], object [N, 1, ...], classes [N, {}, "
                    "...]; got {}, {}, {}, {}", nb * 5 + nc, s, s, nc, pred.desc(), target_boxes.desc(), object.desc(),
                    target_classes.desc());
    Graph& g = *pred.graph;
    auto channel = [](Value v, int64_t c) { return slice_axis(v, 1, c, c + 1); };
    const Value col = cell_index(g, s, pred.dtype(), true), row = cell_index(g, s, pred.dtype(), false);
    const Value tx = channel(target_boxes, 0), ty = channel(target_boxes, 1);
    const Value tsw = channel(target_boxes, 2), tsh = channel(target_boxes, 3);
    const Corners truth = corners(tx, ty, tsw, tsh, col, row, static_cast<double>(s));

    std::vector<Value> ious;
    for (int64_t b = 0; b < nb; ++b) {
        auto k = [&](int64_t j) { return stop_gradient(channel(pred, 5 * b + j)); };
        ious.push_back(iou(corners(k(0), k(1), k(2), k(3), col, row, static_cast<double>(s)), truth));
    }
    std::vector<Value> coord, obj, noobj;
    for (int64_t b = 0; b < nb; ++b) {
        Value responsible = object;  // 1_ij^obj: highest IoU in an object cell, the first of equals
        for (int64_t other = 0; other < nb; ++other)
            if (other != b)
                responsible = responsible * (other < b ? greater(ious[b], ious[other]) : greater_equal(ious[b], ious[other]));
        auto k = [&](int64_t j) { return channel(pred, 5 * b + j); };
        coord.push_back(sum(responsible * (square(k(0) - tx) + square(k(1) - ty) + square(k(2) - tsw) +
                                           square(k(3) - tsh))));
        obj.push_back(sum(responsible * square(k(4) - ious[b])));
        noobj.push_back(sum((1.0 - responsible) * square(k(4))));
    }
    auto total_of = [](const std::vector<Value>& v) {
        Value t = v[0];
        for (std::size_t i = 1; i < v.size(); ++i) t = t + v[i];
        return t;
    };
    const double inv_n = 1.0 / static_cast<double>(n);
    YoloV1Loss l;
    l.coord = total_of(coord) * (o.lambda_coord * inv_n);
    l.object = total_of(obj) * inv_n;
    l.no_object = total_of(noobj) * (o.lambda_noobj * inv_n);
    l.classes = sum(object * square(slice_axis(pred, 1, 5 * nb, 5 * nb + nc) - target_classes)) * inv_n;
    l.total = l.coord + l.object + l.no_object + l.classes;
    return l;
}

}  // namespace gg::models
