// `graphgrad train unet_seg|yolo_v1`: segmentation and detection on canvases of several
// Fashion-MNIST items (graphgrad/io/canvas.h): training canvases from the training images,
// held-out canvases from the test images. A thin caller of graphgrad/train/segmentation.h and
// graphgrad/train/yolo.h; defaults: Adam lr 1e-3, cosine schedule, batch 32, 5 epochs.
//
//   graphgrad train unet_seg --epochs 5 --loss ce+dice
//   graphgrad train yolo_v1 --epochs 10 --canvases 6000
#include <chrono>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/io/canvas.h"
#include "graphgrad/optim/optim.h"
#include "graphgrad/train/report_format.h"
#include "graphgrad/train/segmentation.h"
#include "graphgrad/train/yolo.h"
#include "train_options.h"

namespace gg::cli {

namespace {

std::unique_ptr<optim::Optimizer> canvas_optimizer(const TrainOptions& o, Graph& g, const std::vector<Value>& params) {
    optim::OptimizerOptions oo;
    oo.lr = o.lr ? o.lr : std::optional<double>(1e-3);
    oo.momentum = o.momentum;
    oo.weight_decay = o.weight_decay;
    try {
        return optim::make_optimizer(o.given_optimizer ? o.optimizer : "adam", g, params, oo);
    } catch (const GraphError& e) {
        throw UsageError(e.what());
    }
}

TrainerOptions trainer_options(const TrainOptions& o, int64_t epochs, int64_t batch) {
    TrainerOptions t{.epochs = epochs,
                     .clip = o.clip,
                     .checkpoint = o.checkpoint,
                     .resume = o.resume,
                     .init = o.init,
                     .progress = !o.json,
                     .metadata = {{"model", o.model}, {"seed", std::to_string(o.seed)}, {"batch", std::to_string(batch)}},
                     .resume_must_match = {"model", "optimizer"}};
    t.compile.check_numerics = o.check_numerics;
    return t;
}

nlohmann::json records_json(const TrainReport& r) {
    nlohmann::json epochs = nlohmann::json::array();
    for (const auto& e : r.records)
        epochs.push_back({{"epoch", e.epoch}, {"lr", e.lr}, {"train_loss", e.train_loss}, {"test_metric", e.eval.metric},
                          {"seconds", e.seconds}, {"ms_per_step", e.ms_per_step}});
    return epochs;
}

}  // namespace

bool is_canvas_model(const std::string& model) { return model == "unet_seg" || model == "yolo_v1"; }

void add_canvas_options(CLI::App* sub, CanvasCliOptions& o) {
    sub->add_option("--canvases", o.train, "unet_seg, yolo_v1: training canvases (from the training images)")
        ->capture_default_str();
    sub->add_option("--test-canvases", o.test, "unet_seg, yolo_v1: held-out canvases (from the test images)")
        ->capture_default_str();
    sub->add_option("--min-items", o.min_items, "unet_seg, yolo_v1: fewest items per canvas")->capture_default_str();
    sub->add_option("--max-items", o.max_items, "unet_seg, yolo_v1: most items per canvas")->capture_default_str();
    sub->add_option("--smooth", o.smooth, "unet_seg: smoothing of the Dice and Jaccard losses")->capture_default_str();
    sub->add_option("--width", o.width, "unet_seg: U-Net base channels (default 16); yolo_v1: first conv's (default 32)");
}

int run_train_canvas(const TrainOptions& o) {
    const auto t_setup = std::chrono::steady_clock::now();
    const bool seg = o.model == "unet_seg";
    if (o.given_loss && !seg) throw UsageError("--loss is a unet_seg option here (yolo_v1 has the paper's loss)");
    // Image-classifier options these two commands do not honour: refused, never ignored.
    const std::vector<std::pair<const char*, bool>> foreign = {
        {"--augment", o.augment != "none"},        {"--limit-train", o.limit_train > 0},
        {"--limit-test", o.limit_test > 0},        {"--precise-bn", o.precise_bn > 0},
        {"--memory-budget", !o.memory_budget.empty()}, {"--freeze", !o.freeze.empty()},
        {"--new-head", o.new_head > 0},            {"--class-subset", !o.class_subset.empty()},
        {"--train-per-class", o.train_per_class > 0}};
    for (const auto& [name, given] : foreign)
        if (given)
            throw UsageError(fmt::format("train {}: {} is an image-classifier option (use --canvases and "
                                         "--test-canvases to size the data)", o.model, name));
    const int64_t epochs = o.given_epochs ? o.epochs : 5, batch = o.given_batch ? o.batch : 32;
    const io::ImageFolder folder = io::load_image_folder(o.data);
    const io::CanvasOptions co{.count = o.canvas.train, .size = 56, .min_items = o.canvas.min_items,
                               .max_items = o.canvas.max_items, .seed = o.seed};
    io::CanvasSet train = io::compose_canvases(folder.train, co);
    io::CanvasOptions test_co = co;
    test_co.count = o.canvas.test;
    test_co.seed = o.seed + 1000003;  // other draws than training's, from other images
    io::CanvasSet test = io::compose_canvases(folder.test, test_co);
    int64_t train_boxes = 0, test_boxes = 0;
    for (const auto& b : train.boxes) train_boxes += static_cast<int64_t>(b.size());
    for (const auto& b : test.boxes) test_boxes += static_cast<int64_t>(b.size());
    if (!o.json)
        fmt::print("canvases {}x{} with {}-{} items from {}: {} for training ({} boxes), {} held out ({} boxes)\n",
                   co.size, co.size, co.min_items, co.max_items, o.data, train.count, train_boxes, test.count, test_boxes);
    auto sched_for = [&](optim::Optimizer& opt) {
        return make_schedule(o.given_schedule ? o.schedule : train::ScheduleOptions{.name = "cosine"}, opt, epochs);
    };
    if (seg) {
        const std::string loss = o.given_loss ? o.loss : "ce";
        auto p = train::build_segmentation_program({.batch = batch, .loss = loss, .smooth = o.canvas.smooth,
                                                    .base = o.canvas.width ? o.canvas.width : 16, .seed = o.seed},
                                                   co.size, train.num_classes + 1);
        auto opt = canvas_optimizer(o, *p->graph, p->params);
        auto sched = sched_for(*opt);
        const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
        if (!o.json)
            fmt::print("unet_seg: U-Net base {} depth 3, {} parameters, 11 classes (background + 10); loss {}; {} lr {:g}, "
                       "batch {}, {} epochs\n", p->options.base, train::with_commas(p->num_parameters()), loss, opt->name(),
                       sched ? sched->base_lr() : opt->lr(), batch, epochs);
        std::fflush(stdout);
        train::SegmentationReport r = train::train_segmentation(*p, train, test, *opt, sched.get(),
                                                                {.trainer = trainer_options(o, epochs, batch), .seed = o.seed});
        std::vector<double> per_class;
        for (int64_t c = 0; c < r.test.num_classes(); ++c) per_class.push_back(r.test.iou(c));
        if (o.json) {
            print_json({{"model", o.model}, {"loss", loss}, {"parameters", p->num_parameters()}, {"train_canvases", train.count},
                        {"test_canvases", test.count}, {"records", records_json(r.train)},
                        {"mean_iou", r.test.mean_iou()}, {"mean_iou_foreground", r.test.mean_iou(false)},
                        {"mean_dice", r.test.mean_dice()}, {"pixel_accuracy", r.test.pixel_accuracy()},
                        {"iou_per_class", per_class}, {"wall_seconds", r.train.wall_seconds}, {"setup_seconds", setup},
                        {"ms_per_step", r.train.ms_per_step}});
            return 0;
        }
        std::string classes;
        for (double v : per_class) classes += fmt::format(" {:.3f}", v);
        fmt::print("unet_seg ({}): held-out mean IoU {:.4f} (background included; {:.4f} over the 10 item classes), mean "
                   "Dice {:.4f}, pixel accuracy {:.2f}%\nIoU per class (background, then items 0-9):{}\nwall time {:.1f} s "
                   "(setup {:.1f} s), {:.2f} ms/step\n", loss, r.test.mean_iou(), r.test.mean_iou(false),
                   r.test.mean_dice(), 100 * r.test.pixel_accuracy(), classes, r.train.wall_seconds, setup,
                   r.train.ms_per_step);
        return 0;
    }
    models::YoloV1Options mo{.grid = co.size / 8, .classes = train.num_classes};
    if (o.canvas.width) mo.width = o.canvas.width;
    auto p = train::build_yolo_program(mo, batch, o.seed);
    auto opt = canvas_optimizer(o, *p->graph, p->params);
    auto sched = sched_for(*opt);
    const double setup = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
    if (!o.json)
        fmt::print("yolo_v1: {}x{} grid, {} boxes per cell, {} classes, width {}, {} parameters; {} lr {:g}, batch {}, {} "
                   "epochs\n", mo.grid, mo.grid, mo.boxes, mo.classes, mo.width, train::with_commas(p->num_parameters()),
                   opt->name(), sched ? sched->base_lr() : opt->lr(), batch, epochs);
    std::fflush(stdout);
    train::YoloReport r = train::train_yolo(*p, train, test, *opt, sched.get(),
                                            {.trainer = trainer_options(o, epochs, batch), .seed = o.seed});
    if (o.json) {
        print_json({{"model", o.model}, {"parameters", p->num_parameters()}, {"train_canvases", train.count},
                    {"test_canvases", test.count}, {"records", records_json(r.train)}, {"map50", r.test.mean_ap},
                    {"ap_per_class", r.test.ap}, {"detections", r.detections}, {"wall_seconds", r.train.wall_seconds},
                    {"setup_seconds", setup}, {"ms_per_step", r.train.ms_per_step}});
        return 0;
    }
    std::string classes;
    for (double v : r.test.ap) classes += fmt::format(" {:.3f}", v);
    fmt::print("yolo_v1: held-out mAP@0.5 {:.4f} ({} detections after NMS on {} canvases, {} boxes)\nAP per class:{}\n"
               "wall time {:.1f} s (setup {:.1f} s), {:.2f} ms/step\n", r.test.mean_ap, r.detections, test.count,
               test_boxes, classes, r.train.wall_seconds, setup, r.train.ms_per_step);
    return 0;
}

}  // namespace gg::cli
