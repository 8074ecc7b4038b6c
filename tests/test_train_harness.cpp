// The training harness (graphgrad/train/): it trains, scores, checkpoints and resumes so that
// an interrupted run continues exactly as an uninterrupted one would, for every optimizer; it
// stops on a non-finite loss without touching the last checkpoint; normalisation and
// augmentations are the caller's choice and recorded.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "graphgrad/graph/rng.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/models/model_zoo.h"
#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optim.h"
#include "graphgrad/train/classification.h"
#include "test_support.h"

using namespace gg;

namespace {

// 3 classes of 8x8 images: a bright row, column or diagonal at a random place, plus noise.
io::ImageDataset synthetic_images(int64_t count, uint64_t seed) {
    io::ImageDataset d;
    d.count = count;
    d.rows = d.cols = 8;
    d.num_classes = 3;
    d.pixels.resize(static_cast<std::size_t>(count * 64));
    d.labels.resize(static_cast<std::size_t>(count));
    for (int64_t i = 0; i < count; ++i) {
        const auto label = static_cast<uint8_t>(random_bits(seed, 1, static_cast<uint64_t>(i)) % 3);
        const auto where = static_cast<int64_t>(random_bits(seed, 2, static_cast<uint64_t>(i)) % 8);
        d.labels[static_cast<std::size_t>(i)] = label;
        for (int64_t r = 0; r < 8; ++r)
            for (int64_t c = 0; c < 8; ++c) {
                const bool on = label == 0 ? r == where : label == 1 ? c == where : (r + where) % 8 == c;
                const double noise = 60 * uniform01(seed, 3, static_cast<uint64_t>(i * 64 + r * 8 + c));
                d.pixels[static_cast<std::size_t>(i * 64 + r * 8 + c)] = static_cast<uint8_t>((on ? 180 : 0) + noise);
            }
    }
    return d;
}

Value small_net(Value x, int64_t classes) {
    return models::linear(relu(models::linear(models::flatten(x), 32, "fc1")), classes, "fc2");
}

struct Run {
    std::unique_ptr<train::ModelProgram> p;
    std::unique_ptr<optim::Optimizer> opt;
    std::unique_ptr<optim::LrSchedule> sched;
};

Run make_run(const std::string& optimizer, int64_t epochs, std::optional<double> lr = std::nullopt) {
    Run r;
    r.p = train::build_classifier_program(small_net, 16, {1, 8, 8}, /*seed=*/3, true, 3);
    optim::OptimizerOptions oo{.lr = lr};
    if (optimizer == "sgd") oo.momentum = 0.9;
    if (optimizer == "rmsprop") oo.momentum = 0.5;
    if (optimizer == "amsgrad") oo.amsgrad = true;
    r.opt = optim::make_optimizer(optimizer == "amsgrad" ? "adam" : optimizer, *r.p->graph, r.p->params, oo);
    r.sched = std::make_unique<optim::CosineAnnealingLR>(*r.opt, optim::CosineAnnealingOptions{.t_max = epochs});
    return r;
}

train::ClassifierTrainOptions quiet(int64_t epochs, const std::string& checkpoint = {}, const std::string& resume = {}) {
    return {.trainer = {.epochs = epochs, .checkpoint = checkpoint, .resume = resume, .progress = false,
                        .metadata = {{"model", "small_net"}}},
            .batch = 16,
            .seed = 5,
            .augment = io::Augmentations::parse("crop:1")};
}

}  // namespace

TEST_CASE("the harness trains a classifier: loss falls, accuracy is counted per sample", "[train]") {
    const io::ImageDataset train = synthetic_images(480, 1), test = synthetic_images(100, 2);
    Run r = make_run("adam", 4, 0.01);
    const train::TrainReport rep = train::train_classifier(*r.p, train, test, *r.opt, r.sched.get(), quiet(4));
    REQUIRE(rep.records.size() == 4);
    CHECK(rep.records.back().train_loss < 0.5 * rep.records.front().train_loss);
    CHECK(rep.final_eval.samples == 100);  // 100 = 6 full batches of 16 + a padded one: padding not counted
    CHECK(rep.final_eval.metric > 0.9);
    CHECK(rep.best_metric >= rep.final_eval.metric);
    CHECK(rep.train_peak_bytes > 0);
}

TEST_CASE("resuming from a checkpoint continues exactly like an uninterrupted run, for every optimizer", "[train]") {
    const io::ImageDataset train = synthetic_images(96, 1), test = synthetic_images(32, 2);
    for (const std::string name : {"sgd", "rmsprop", "adagrad", "adam", "amsgrad", "adamw"}) {
        DYNAMIC_SECTION(name) {
            testing::TempDir dir;
            Run whole = make_run(name, 3);
            train::train_classifier(*whole.p, train, test, *whole.opt, whole.sched.get(), quiet(3));

            Run first = make_run(name, 3);
            train::train_classifier(*first.p, train, test, *first.opt, first.sched.get(), quiet(2, dir.file("c.st")));
            Run second = make_run(name, 3);  // a fresh process: new graph, new optimizer
            const train::TrainReport rep = train::train_classifier(*second.p, train, test, *second.opt,
                                                                   second.sched.get(), quiet(3, {}, dir.file("c.st")));
            CHECK(rep.start_epoch == 2);
            CHECK(rep.records.size() == 1);
            CHECK(second.opt->lr() == whole.opt->lr());
            // Bitwise: same draws, same order of updates, optimizer state restored exactly.
            for (const auto& [key, entry] : whole.p->graph->store().entries()) {
                const Tensor& a = entry.value;
                const Tensor& b = second.p->graph->store().get(key);
                REQUIRE(a.desc() == b.desc());
                CHECK(std::memcmp(a.raw(), b.raw(), a.bytes()) == 0);
            }
        }
    }
}

TEST_CASE("init starts a new run from a checkpoint's weights (or a bare state_dict) and refuses another model",
          "[train]") {
    const io::ImageDataset train = synthetic_images(96, 1), test = synthetic_images(32, 2);
    testing::TempDir dir;
    Run a = make_run("adam", 1);
    train::train_classifier(*a.p, train, test, *a.opt, a.sched.get(), quiet(1, dir.file("a.st")));

    // b starts from a's checkpoint; c from a's weights copied by hand, with a fresh optimizer.
    Run b = make_run("adam", 2);
    train::ClassifierTrainOptions from_a = quiet(2);
    from_a.trainer.init = dir.file("a.st");
    const train::TrainReport rb = train::train_classifier(*b.p, train, test, *b.opt, b.sched.get(), from_a);
    Run c = make_run("adam", 2);
    for (const Value& v : a.p->params) c.p->graph->store().get(v.name()).copy_from(a.p->graph->store().get(v.name()));
    train::train_classifier(*c.p, train, test, *c.opt, c.sched.get(), quiet(2));
    CHECK(rb.start_epoch == 0);  // the checkpoint's epoch 1 is not this run's
    CHECK(rb.records.size() == 2);
    // Bitwise, Adam's moments included: a's moments or step count would change b's updates. (b
    // and c share a seed, so had init been ignored, b would be a fresh run, not c.)
    for (const auto& [key, entry] : c.p->graph->store().entries()) {
        const Tensor& x = entry.value;
        const Tensor& y = b.p->graph->store().get(key);
        REQUIRE(x.desc() == y.desc());
        CHECK(std::memcmp(x.raw(), y.raw(), x.bytes()) == 0);
    }

    // Weights without metadata (what PyTorch's state_dict becomes): accepted.
    io::save_checkpoint(a.p->graph->store(), dir.file("bare.st"), {}, /*include_optimizer_state=*/false);
    Run d = make_run("sgd", 1);
    train::ClassifierTrainOptions bare = quiet(1);
    bare.trainer.init = dir.file("bare.st");
    CHECK_NOTHROW(train::train_classifier(*d.p, train, test, *d.opt, d.sched.get(), bare));

    Run e = make_run("adam", 1);
    from_a.trainer.metadata["model"] = "another_net";
    CHECK_THROWS_WITH(train::train_classifier(*e.p, train, test, *e.opt, e.sched.get(), from_a),
                      Catch::Contains("model is \"small_net\", this run's is \"another_net\""));
}

TEST_CASE("checkpoints record normalisation and augmentation; resume refuses another model", "[train]") {
    const io::ImageDataset train = synthetic_images(64, 1), test = synthetic_images(16, 2);
    testing::TempDir dir;
    Run r = make_run("sgd", 1);
    train::train_classifier(*r.p, train, test, *r.opt, r.sched.get(), quiet(1, dir.file("c.st")));
    const io::Metadata meta = io::SafetensorsFile::open(dir.file("c.st")).metadata();
    const io::PixelStats stats = io::pixel_statistics(train);
    const auto recorded = train::recorded_normalization(meta);
    REQUIRE(recorded);
    CHECK(recorded->mean == stats.mean);
    CHECK(recorded->std == stats.std);
    CHECK(meta.at("augment") == "crop:1");
    CHECK(meta.at("epoch") == "1");
    CHECK(meta.at("optimizer") == "sgd");

    Run other = make_run("sgd", 2);
    train::ClassifierTrainOptions o = quiet(2, {}, dir.file("c.st"));
    o.trainer.metadata["model"] = "another_net";
    CHECK_THROWS_WITH(train::train_classifier(*other.p, train, test, *other.opt, other.sched.get(), o),
                      Catch::Contains("model is \"small_net\", this run's is \"another_net\""));
    Run adam = make_run("adam", 2);
    CHECK_THROWS_WITH(
        train::train_classifier(*adam.p, train, test, *adam.opt, adam.sched.get(), quiet(2, {}, dir.file("c.st"))),
        Catch::Contains("optimizer is \"sgd\", this run's is \"adam\""));
}

TEST_CASE("a non-finite loss stops training with a clear error and keeps the last checkpoint", "[train]") {
    const io::ImageDataset train = synthetic_images(64, 1), test = synthetic_images(16, 2);
    testing::TempDir dir;
    Run r = make_run("sgd", 3);
    train::train_classifier(*r.p, train, test, *r.opt, r.sched.get(), quiet(1, dir.file("c.st")));
    const auto saved = std::filesystem::last_write_time(dir.file("c.st"));
    r.opt->set_lr(1e30);  // diverges within a few steps
    CHECK_THROWS_WITH(
        train::train_classifier(*r.p, train, test, *r.opt, nullptr, quiet(3, dir.file("c.st"), dir.file("c.st"))),
        Catch::Contains("training diverged") && Catch::Contains("epoch 2"));
    CHECK(std::filesystem::last_write_time(dir.file("c.st")) == saved);
    CHECK(io::SafetensorsFile::open(dir.file("c.st")).metadata().at("epoch") == "1");
}

TEST_CASE("check_numerics names the first node producing a non-finite value and keeps the checkpoint", "[train]") {
    const io::ImageDataset train = synthetic_images(64, 1), test = synthetic_images(16, 2);
    testing::TempDir dir;
    Run r = make_run("sgd", 3);
    train::train_classifier(*r.p, train, test, *r.opt, r.sched.get(), quiet(1, dir.file("c.st")));
    r.opt->set_lr(1e30);
    train::ClassifierTrainOptions o = quiet(3, dir.file("c.st"), dir.file("c.st"));
    o.trainer.check_numerics = true;
    // A new trainer over the same graph: the step is compiled again, now with the checks.
    try {
        train::train_classifier(*r.p, train, test, *r.opt, nullptr, o);
        FAIL("training went on through non-finite values");
    } catch (const RuntimeError& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK(what.find("check_numerics: ") == 0);
        CHECK(what.find("produced") != std::string::npos);
        // Named by node: one of the small net's, which the message quotes.
        CHECK((what.find("fc1") != std::string::npos || what.find("fc2") != std::string::npos ||
               what.find("relu") != std::string::npos || what.find("cross_entropy") != std::string::npos));
    }
    CHECK(io::SafetensorsFile::open(dir.file("c.st")).metadata().at("epoch") == "1");
}

TEST_CASE("pixel statistics and augmentation lists", "[train][io]") {
    io::ImageDataset d;
    d.count = 2;
    d.rows = 1;
    d.cols = 2;
    d.pixels = {0, 255, 255, 255};  // pixel/255: 0, 1, 1, 1 → mean 0.75, std √(0.75·0.25)
    d.labels = {0, 1};
    const io::PixelStats s = io::pixel_statistics(d);
    CHECK(s.mean == Approx(0.75));
    CHECK(s.std == Approx(std::sqrt(0.1875)));

    CHECK(io::Augmentations::parse("crop,flip").crop_padding == 2);
    CHECK(io::Augmentations::parse("crop,flip").hflip);
    CHECK(io::Augmentations::parse("crop:4").crop_padding == 4);
    CHECK_FALSE(io::Augmentations::parse("crop:4").hflip);
    CHECK(io::Augmentations::parse("flip").str() == "flip");
    CHECK(io::Augmentations::parse("none").str() == "none");
    CHECK(io::Augmentations::parse("").str() == "none");
    CHECK_THROWS_WITH(io::Augmentations::parse("crop,rotate"), Catch::Contains("unknown augmentation \"rotate\""));
    CHECK_THROWS_WITH(io::Augmentations::parse("crop:0"), Catch::Contains("positive integer"));
}

namespace {

// x = 1 in every batch of 3.
class Ones final : public train::BatchSource {
public:
    int64_t num_batches() const override { return 3; }
    void start_epoch(int64_t) override {}
    int64_t fill(int64_t, std::vector<Tensor>& feeds) override {
        feeds[0].fill(1.0);
        return 1;
    }
};

// Records the watched value of every step.
class Recorder final : public train::Metric {
public:
    std::string name() const override { return "state"; }
    void reset() override {}
    void add(const std::vector<Tensor>& watched, const std::vector<Tensor>&, int64_t) override {
        seen.push_back(watched[0].get(0));
    }
    double value() const override { return seen.empty() ? 0 : seen.back(); }
    std::vector<double> seen;
};

}  // namespace

TEST_CASE("carried state flows from one step into the next and restarts each epoch", "[train]") {
    Graph g;
    Value x = g.input("x", {1}), s0 = g.input("s0", {1});
    Value w = g.parameter("w", {1}, init::ones());
    Value s1 = s0 + x;  // the "recurrent" state after this chunk
    Value loss = sum(s1 * w);
    optim::Sgd opt(g, {w}, {.lr = 0.0});
    train::Trainer t({.graph = &g, .inputs = {x}, .loss = loss, .params = {w}, .grads = grad(loss, {w}),
                      .watch = {s1}, .carry = {{s1, s0}}},
                     opt, nullptr, {.epochs = 2, .progress = false});
    Recorder r;
    Ones ones;
    t.fit(ones, [] { return train::EvalResult{}; }, &r);
    CHECK(r.seen == std::vector<double>{1, 2, 3, 1, 2, 3});

    CHECK_THROWS_WITH(train::Trainer({.graph = &g, .inputs = {x}, .loss = loss, .params = {w}, .grads = grad(loss, {w}),
                                      .carry = {{s1, w}}},
                                     opt, nullptr, {.progress = false}),
                      Catch::Contains("not an input"));
}
