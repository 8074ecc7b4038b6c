// Learning-rate schedules: values at chosen epochs from the formulas, and whole sequences
// recorded from torch.optim.lr_scheduler (PyTorch 1.13, SGD with lr 0.1 unless stated).
#include <catch2/catch.hpp>

#include <cmath>
#include <numbers>

#include "graphgrad/optim/optim.h"

using namespace gg;
using namespace gg::optim;

namespace {

// lr before the first step(), then after each of n steps (what PyTorch's param_groups show).
std::vector<double> sequence(LrSchedule& s, std::size_t n, const std::vector<double>& metrics = {}) {
    std::vector<double> out{s.lr()};
    for (std::size_t i = 0; i < n; ++i) out.push_back(metrics.empty() ? s.step() : s.step(metrics[i]));
    return out;
}

void check_seq(const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("epoch " << i);
        CHECK(got[i] == Approx(want[i]).epsilon(1e-12).margin(1e-15));
    }
}

double cosine(double base, double eta_min, double t_cur, double t_i) {
    return eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * t_cur / t_i)) / 2;
}

}  // namespace

TEST_CASE("StepLR, MultiStepLR and ExponentialLR", "[optim][schedule]") {
    StepLR step(0.1, {.step_size = 3, .gamma = 0.5});
    CHECK(step.lr_at(2) == 0.1);
    CHECK(step.lr_at(3) == 0.05);
    CHECK(step.lr_at(9) == Approx(0.1 * 0.125));
    check_seq(sequence(step, 8), {0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025});

    MultiStepLR multi(0.1, {.milestones = {5, 2, 5}, .gamma = 0.1});  // unsorted, 5 twice: γ² there
    check_seq(sequence(multi, 7), {0.1, 0.1, 0.01, 0.01, 0.01, 1e-4, 1e-4, 1e-4});

    ExponentialLR expo(0.1, {.gamma = 0.9});
    check_seq(sequence(expo, 5), {0.1, 0.09, 0.081, 0.0729, 0.06561, 0.059049});
}

TEST_CASE("CosineAnnealingLR reaches eta_min at T_max and comes back up", "[optim][schedule]") {
    CosineAnnealingLR s(0.1, {.t_max = 10, .eta_min = 0.01});
    CHECK(s.lr_at(5) == Approx(0.055));  // halfway: the mean of base and eta_min
    CHECK(s.lr_at(10) == Approx(0.01));
    check_seq(sequence(s, 12), {0.1, 0.09779754323328192, 0.09140576474687263, 0.08145033635316129,
                                0.06890576474687264, 0.05500000000000001, 0.04109423525312737, 0.028549663646838717,
                                0.01859423525312737, 0.012202456766718092, 0.01, 0.012202456766718092,
                                0.0185942352531274});
}

TEST_CASE("CosineAnnealingWarmRestarts: T_0 = 10, T_mult = 2 restarts at 10, 30 and 70", "[optim][schedule]") {
    CosineAnnealingWarmRestarts s(0.1, {.t_0 = 10, .t_mult = 2, .eta_min = 0.001});
    for (int64_t restart : {0, 10, 30, 70}) CHECK(s.lr_at(restart) == Approx(0.1));
    CHECK(s.lr_at(5) == Approx(cosine(0.1, 0.001, 5, 10)));    // first period, halfway
    CHECK(s.lr_at(9) == Approx(cosine(0.1, 0.001, 9, 10)));    // just before the restart
    CHECK(s.lr_at(20) == Approx(cosine(0.1, 0.001, 10, 20)));  // second period (length 20), halfway
    CHECK(s.lr_at(29) == Approx(cosine(0.1, 0.001, 19, 20)));
    CHECK(s.lr_at(50) == Approx(cosine(0.1, 0.001, 20, 40)));  // third period (length 40)
    CHECK(s.lr_at(29) < s.lr_at(9));                            // later periods anneal lower
    // PyTorch's values around the restarts.
    auto seq = sequence(s, 71);
    CHECK(seq[9] == Approx(0.0034227024433899004).epsilon(1e-12));
    CHECK(seq[10] == 0.1);
    CHECK(seq[29] == Approx(0.001609427140540686).epsilon(1e-12));
    CHECK(seq[30] == 0.1);
    CHECK(seq[31] == Approx(0.09984740801978985).epsilon(1e-12));
    CHECK(seq[69] == Approx(0.0011525919802101658).epsilon(1e-12));
    CHECK(seq[71] == Approx(0.09996183729391579).epsilon(1e-12));

    CosineAnnealingWarmRestarts same(0.1, {.t_0 = 4});  // T_mult = 1: every 4 epochs
    check_seq(sequence(same, 9), {0.1, 0.08535533905932738, 0.05, 0.014644660940672627, 0.1,
                                  0.08535533905932738, 0.05, 0.014644660940672627, 0.1, 0.08535533905932738});
}

TEST_CASE("ReduceLROnPlateau reduces after patience bad epochs", "[optim][schedule]") {
    const std::vector<double> loss{1.0, 0.9, 0.95, 0.95, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85};
    SECTION("min mode, patience 2: the third bad epoch in a row halves the rate") {
        ReduceLROnPlateau s(0.1, {.factor = 0.5, .patience = 2});
        auto seq = sequence(s, loss.size(), loss);
        CHECK(seq[4] == 0.1);   // two bad epochs (0.95 twice) are tolerated
        CHECK(seq[5] == 0.05);  // the third one is not
        check_seq(seq, {0.1, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.0125, 0.0125});
        CHECK(s.best() == 0.8);
    }
    SECTION("cooldown and min_lr") {
        ReduceLROnPlateau s(0.1, {.factor = 0.5, .patience = 1, .cooldown = 2, .min_lr = 0.02});
        check_seq(sequence(s, loss.size(), loss),
                  {0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.02, 0.02});
    }
    SECTION("max mode, absolute and relative thresholds") {
        const std::vector<double> acc{0.5, 0.55, 0.56, 0.6, 0.6, 0.6};
        ReduceLROnPlateau abs(0.1, {.mode = PlateauMode::Max, .patience = 0, .threshold = 0.02,
                                    .threshold_mode = ThresholdMode::Abs});
        check_seq(sequence(abs, acc.size(), acc), {0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.0001});  // 0.56 < 0.55 + 0.02
        ReduceLROnPlateau rel(0.1, {.mode = PlateauMode::Max, .patience = 0, .threshold = 0.1});
        check_seq(sequence(rel, acc.size(), acc), {0.1, 0.1, 0.01, 0.01, 0.001, 0.0001, 1e-5});  // 0.55 ≯ 0.5·1.1
    }
    SECTION("NaN counts as a bad epoch; step() without the metric throws; state round trip") {
        ReduceLROnPlateau s(0.1, {.patience = 0});
        s.step(1.0);
        CHECK(s.step(std::nan("")) == Approx(0.01));
        CHECK_THROWS_WITH(s.step(), Catch::Contains("metric"));
        CHECK_THROWS(s.lr_at(3));
        ReduceLROnPlateau t(0.1, {.patience = 0});
        t.restore(s.state());
        CHECK(t.lr() == s.lr());
        CHECK(t.step(2.0) == s.step(2.0));
    }
}

TEST_CASE("CyclicLR: triangular peaks at step_size_up, triangular2 and exp_range", "[optim][schedule]") {
    CyclicLR tri(0.001, {.max_lr = 0.006, .step_size_up = 4});
    CHECK(tri.lr_at(4) == Approx(0.006));   // the peak
    CHECK(tri.lr_at(2) == Approx(0.0035));  // halfway up
    CHECK(tri.lr_at(8) == Approx(0.001));   // back at the trough
    CHECK(tri.lr_at(12) == Approx(0.006));  // second cycle: same peak
    check_seq(sequence(tri, 17), {0.001, 0.00225, 0.0035, 0.00475, 0.006, 0.00475, 0.0035, 0.00225, 0.001, 0.00225,
                                  0.0035, 0.00475, 0.006, 0.00475, 0.0035, 0.00225, 0.001, 0.00225});

    CyclicLR tri2(0.001, {.max_lr = 0.006, .step_size_up = 4, .mode = CyclicMode::Triangular2});
    CHECK(tri2.lr_at(12) == Approx(0.001 + 0.005 / 2));  // amplitude halves each cycle
    CHECK(tri2.lr_at(20) == Approx(0.001 + 0.005 / 4));
    check_seq(sequence(tri2, 17), {0.001, 0.00225, 0.0035, 0.00475, 0.006, 0.00475, 0.0035, 0.00225, 0.001,
                                   0.001625, 0.00225, 0.002875, 0.0035, 0.002875, 0.00225, 0.001625, 0.001, 0.0013125});

    CyclicLR expr(0.001, {.max_lr = 0.006, .step_size_up = 3, .step_size_down = 5, .mode = CyclicMode::ExpRange,
                          .gamma = 0.9});
    CHECK(expr.lr_at(3) == Approx(0.001 + 0.005 * std::pow(0.9, 3)));  // asymmetric: the peak at 3, scaled γ³
    check_seq(sequence(expr, 17),
              {0.001, 0.0025, 0.0037, 0.004645000000000001, 0.0036244000000000003, 0.0027714700000000003,
               0.0020628820000000003, 0.0014782969000000001, 0.001, 0.0016457008150000002, 0.0021622614670000003,
               0.0025690529804500003, 0.0021297181459240004, 0.0017625597484987002, 0.0014575358490992202,
               0.0012058911320946492, 0.001, 0.0012779530283277764});
}

TEST_CASE("LinearWarmup ramps linearly, then hands over to the wrapped schedule", "[optim][schedule]") {
    // PyTorch: SequentialLR([LinearLR(start_factor=0.25, total_iters=4), StepLR(3, 0.5)], milestones=[4]).
    LinearWarmup s(std::make_unique<StepLR>(0.1, StepLROptions{.step_size = 3, .gamma = 0.5}),
                   {.warmup_steps = 4, .start_factor = 0.25});
    CHECK(s.lr_at(0) == Approx(0.025));
    CHECK(s.lr_at(2) == Approx(0.0625));  // 0.1·(0.25 + 0.75·2/4)
    CHECK(s.lr_at(4) == Approx(0.1));     // the wrapped schedule's epoch 0
    CHECK(s.lr_at(7) == Approx(0.05));    // its epoch 3
    check_seq(sequence(s, 12), {0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025});

    LinearWarmup constant(0.2, {.warmup_steps = 2, .start_factor = 0.0});
    check_seq(sequence(constant, 4), {0.0, 0.1, 0.2, 0.2, 0.2});

    SECTION("wrapping ReduceLROnPlateau: metrics count only after warm-up") {
        LinearWarmup w(std::make_unique<ReduceLROnPlateau>(0.1, ReduceLROnPlateauOptions{.patience = 0}),
                       {.warmup_steps = 2, .start_factor = 0.5});
        CHECK(w.step(5.0) == Approx(0.075));
        CHECK(w.step(6.0) == Approx(0.1));   // epoch 2: the plateau schedule's start
        CHECK(w.step(1.0) == Approx(0.1));   // its first metric: an improvement
        CHECK(w.step(2.0) == Approx(0.01));  // worse, patience 0
    }
}

TEST_CASE("schedules drive the optimizer they are built with", "[optim][schedule]") {
    Graph g;
    Value w = g.parameter("w", {2});
    Sgd opt(g, {w}, {.lr = 0.1, .momentum = 0.9});
    {
        LinearWarmup s(std::make_unique<CosineAnnealingLR>(opt, CosineAnnealingOptions{.t_max = 10}),
                       {.warmup_steps = 5, .start_factor = 0.1});
        CHECK(opt.lr() == Approx(0.01));  // warm-up starts at construction, as in PyTorch
        s.step();
        CHECK(opt.lr() == Approx(0.1 * (0.1 + 0.9 / 5)));
        s.seek(10);  // resume at epoch 10: five epochs into the cosine
        CHECK(opt.lr() == Approx(0.05));
        CHECK(s.inner()->epoch() == 5);
        s.attach(nullptr);
        s.step();
        CHECK(opt.lr() == Approx(0.05));  // detached
    }
    ExponentialLR e(opt, {.gamma = 0.5});
    CHECK(e.base_lr() == Approx(0.05));  // the optimizer's rate when the schedule was made
    e.step();
    CHECK(opt.lr() == Approx(0.025));
}

TEST_CASE("schedules reject bad options", "[optim][schedule]") {
    CHECK_THROWS_WITH(StepLR(0.1, {}), Catch::Contains("step_size"));
    CHECK_THROWS_WITH(CosineAnnealingWarmRestarts(0.1, {.t_0 = 10, .t_mult = 0}), Catch::Contains("t_mult"));
    CHECK_THROWS_WITH(ReduceLROnPlateau(0.1, {.factor = 1.0}), Catch::Contains("factor"));
    CHECK_THROWS_WITH(CyclicLR(0.1, {.max_lr = 1, .step_size_up = 0}), Catch::Contains("step_size_up"));
    CHECK_THROWS_WITH(LinearWarmup(nullptr, {}), Catch::Contains("no schedule to wrap"));
    CHECK_THROWS_WITH(ExponentialLR(-0.1, {.gamma = 0.5}), Catch::Contains("base learning rate"));
    CHECK_THROWS(StepLR(0.1, {.step_size = 1}).lr_at(-1));
}
