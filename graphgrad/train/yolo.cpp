#include "graphgrad/train/yolo.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include <fmt/format.h>

#include "graphgrad/graph/autodiff.h"
#include "graphgrad/graph/errors.h"

namespace gg::train {

int64_t YoloProgram::num_parameters() const {
    int64_t n = 0;
    for (const Value& v : params) n += v.numel();
    return n;
}

std::unique_ptr<YoloProgram> build_yolo_program(const models::YoloV1Options& o, int64_t batch, uint64_t seed) {
    if (o.grid < 1 || o.boxes < 1 || o.classes < 1 || o.width < 1 || batch < 1)
        throw OptionError(fmt::format("yolo_v1: grid {}, boxes {}, classes {}, width {} and batch {} must be positive",
                                      o.grid, o.boxes, o.classes, o.width, batch));
    auto p = std::make_unique<YoloProgram>();
    p->graph = std::make_unique<Graph>(seed);
    p->options = o;
    Graph& g = *p->graph;
    const int64_t s = o.grid, size = 8 * s;
    p->x = g.input("x", {batch, 1, size, size});
    p->target_boxes = g.input("target_boxes", {batch, 4, s, s});
    p->object = g.input("object", {batch, 1, s, s});
    p->target_classes = g.input("target_classes", {batch, o.classes, s, s});
    p->pred = models::yolo_v1(p->x, o);
    p->loss = models::yolo_v1_loss(p->pred, p->target_boxes, p->object, p->target_classes, o);
    p->params = g.parameters();
    p->grads = grad(p->loss.total, p->params);
    return p;
}

void encode_yolo_targets(const std::vector<io::CanvasBox>& boxes, int64_t size, const models::YoloV1Options& o,
                         int64_t row, Tensor& target_boxes, Tensor& object, Tensor& target_classes) {
    const int64_t s = o.grid, cells = s * s;
    float* tb = target_boxes.data<float>() + row * 4 * cells;
    float* ob = object.data<float>() + row * cells;
    float* tc = target_classes.data<float>() + row * o.classes * cells;
    std::vector<double> area(static_cast<std::size_t>(cells), -1.0);  // of the box a cell holds
    const double scale = 1.0 / static_cast<double>(size);
    for (const io::CanvasBox& b : boxes) {
        if (b.cls < 0 || b.cls >= o.classes)
            throw OptionError(fmt::format("yolo targets: box class {} outside [0, {})", b.cls, o.classes));
        const double cx = 0.5 * (b.x0 + b.x1) * scale * s, cy = 0.5 * (b.y0 + b.y1) * scale * s;
        const int64_t col = std::clamp<int64_t>(static_cast<int64_t>(cx), 0, s - 1);
        const int64_t r = std::clamp<int64_t>(static_cast<int64_t>(cy), 0, s - 1);
        const int64_t cell = r * s + col;
        const double w = (b.x1 - b.x0) * scale, h = (b.y1 - b.y0) * scale;
        if (w * h <= area[static_cast<std::size_t>(cell)]) continue;  // one box per cell: the larger
        area[static_cast<std::size_t>(cell)] = w * h;
        const double values[4] = {cx - col, cy - r, std::sqrt(w), std::sqrt(h)};
        for (int k = 0; k < 4; ++k) tb[k * cells + cell] = static_cast<float>(values[k]);
        ob[cell] = 1.0f;
        for (int64_t c = 0; c < o.classes; ++c) tc[c * cells + cell] = c == b.cls ? 1.0f : 0.0f;
    }
}

std::vector<Detection> decode_yolo(const Tensor& pred, int64_t row, int64_t image, int64_t size,
                                   const models::YoloV1Options& o, double score_threshold) {
    const int64_t s = o.grid, cells = s * s, channels = 5 * o.boxes + o.classes;
    if (pred.dtype() != DType::F32 || pred.shape().size() != 4 || pred.shape()[1] != channels || pred.shape()[2] != s ||
        pred.shape()[3] != s || row < 0 || row >= pred.shape()[0])
        throw OptionError(fmt::format("decode_yolo: expected f32 predictions [B, {}, {}, {}] and a row below B, got {} "
                                      "(row {})", channels, s, s, pred.desc(), row));
    const float* p = pred.data<float>() + row * channels * cells;
    std::vector<Detection> out;
    for (int64_t cell = 0; cell < cells; ++cell) {
        const double col = static_cast<double>(cell % s), r = static_cast<double>(cell / s);
        for (int64_t b = 0; b < o.boxes; ++b) {
            auto at = [&](int64_t k) { return static_cast<double>(p[(5 * b + k) * cells + cell]); };
            const double cx = (at(0) + col) / s * size, cy = (at(1) + r) / s * size;
            const double w = at(2) * at(2) * size, h = at(3) * at(3) * size;
            const Box box{static_cast<float>(cx - w / 2), static_cast<float>(cy - h / 2), static_cast<float>(cx + w / 2),
                          static_cast<float>(cy + h / 2)};
            for (int64_t c = 0; c < o.classes; ++c) {
                const double score = at(4) * static_cast<double>(p[(5 * o.boxes + c) * cells + cell]);
                if (score >= score_threshold) out.push_back({image, c, static_cast<float>(score), box});
            }
        }
    }
    return out;
}

int64_t YoloBatches::fill(int64_t b, std::vector<Tensor>& feeds) {
    if (feeds.size() != 4) throw OptionError(fmt::format("yolo batches feed 4 values, the task has {}", feeds.size()));
    const int64_t valid = canvases_.fill_images(b, feeds[0]);
    for (std::size_t i = 1; i < 4; ++i) std::fill_n(feeds[i].data<float>(), feeds[i].numel(), 0.0f);
    for (int64_t r = 0; r < canvases_.batch(); ++r) {
        const int64_t c = canvases_.sample(b, r);
        if (c >= 0)
            encode_yolo_targets(canvases_.data().boxes[static_cast<std::size_t>(c)], canvases_.data().size, model_, r,
                                feeds[1], feeds[2], feeds[3]);
    }
    return valid;
}

ApReport evaluate_yolo(CompiledGraph& eval, const YoloProgram& p, const io::CanvasSet& data,
                       const io::PixelStats& normalization, const DetectionEvalOptions& o, int64_t* detections) {
    CanvasBatches batches(data, {.batch = p.x.dim(0), .shuffle = false, .last_batch = io::LastBatch::Pad,
                                 .normalization = normalization});
    Tensor images(p.x.desc());
    std::vector<Detection> found;
    std::vector<GroundTruth> truth;
    for (int64_t b = 0; b < batches.num_batches(); ++b) {
        batches.fill_images(b, images);
        const Tensor pred = eval.run({{p.x, images}})[0];
        for (int64_t r = 0; r < batches.batch(); ++r) {
            const int64_t c = batches.sample(b, r);
            if (c < 0) continue;
            std::vector<Detection> d = nms(decode_yolo(pred, r, c, data.size, p.options, o.score_threshold), o.nms_iou);
            found.insert(found.end(), d.begin(), d.end());
            for (const io::CanvasBox& t : data.boxes[static_cast<std::size_t>(c)])
                truth.push_back({c, t.cls, {t.x0, t.y0, t.x1, t.y1}});
        }
    }
    if (detections) *detections = static_cast<int64_t>(found.size());
    return mean_average_precision(found, truth, p.options.classes, o.ap_iou);
}

YoloReport train_yolo(YoloProgram& p, const io::CanvasSet& train, const io::CanvasSet& test, optim::Optimizer& optimizer,
                      optim::LrSchedule* schedule, YoloTrainOptions o) {
    const int64_t size = 8 * p.options.grid;
    if (train.size != size || test.size != size || train.num_classes != p.options.classes)
        throw OptionError(fmt::format("train_yolo: a {0}x{0} grid with {1} classes needs {2}x{2} canvases of {1} "
                                      "classes, got {3}x{3} with {4}", p.options.grid, p.options.classes, size,
                                      train.size, train.num_classes));
    YoloReport report;
    report.normalization = canvas_statistics(train);
    o.trainer.metadata["normalize_mean"] = fmt::format("{:.9g}", report.normalization.mean);
    o.trainer.metadata["normalize_std"] = fmt::format("{:.9g}", report.normalization.std);
    YoloBatches batches(train, p.options, {.batch = p.x.dim(0), .seed = o.seed, .normalization = report.normalization});
    CompiledGraph eval = compile(*p.graph, {p.pred});  // no gradient nodes: evaluation mode
    Trainer trainer({.graph = p.graph.get(),
                     .inputs = {p.x, p.target_boxes, p.object, p.target_classes},
                     .loss = p.loss.total,
                     .params = p.params,
                     .grads = p.grads,
                     .watch = {}},
                    optimizer, schedule, o.trainer);
    report.train = trainer.fit(batches, [&] {
        const auto t0 = std::chrono::steady_clock::now();
        report.test = evaluate_yolo(eval, p, test, report.normalization, o.eval, &report.detections);
        return EvalResult{.loss = 1.0 - report.test.mean_ap,  // the Trainer's "test loss": 1 − mAP
                          .metric = report.test.mean_ap,
                          .samples = test.count,
                          .seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
    });
    return report;
}

}  // namespace gg::train
