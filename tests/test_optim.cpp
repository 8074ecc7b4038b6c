// Optimizers on f(θ) = ½·Σ aᵢθᵢ² (∇f = a⊙θ): the first steps against the update formulas
// written out here as scalar recurrences, and against trajectories recorded from PyTorch 1.13
// (torch.optim, float64, same θ₀, a and hyperparameters). Plus state, factory and clipping.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "graphgrad/ops/ops.h"
#include "graphgrad/optim/optim.h"
#include "test_support.h"

using namespace gg;
using namespace gg::optim;

namespace {

const std::vector<double> kA{1.0, 4.0, 0.5};
const std::vector<double> kTheta0{1.0, -2.0, 3.0};
using Traj = std::vector<std::vector<double>>;  // θ after steps 1, 2, 3
using Factory = std::function<std::unique_ptr<Optimizer>(Graph&, const std::vector<Value>&)>;

Initializer theta0() {
    return [](Tensor& t, uint64_t) {
        for (std::size_t i = 0; i < kTheta0.size(); ++i) t.set(static_cast<int64_t>(i), kTheta0[i]);
    };
}

// Runs `steps` optimizer steps with the gradient a⊙θ computed here, no graph involved.
Traj run(DType dt, const Factory& make, int steps = 3) {
    Graph g;
    Value theta = g.parameter("theta", {3}, theta0(), dt);
    auto opt = make(g, {theta});
    Tensor& p = g.store().get("theta");
    Tensor grad(TensorDesc{{3}, dt});
    Traj out;
    for (int s = 0; s < steps; ++s) {
        for (int64_t i = 0; i < 3; ++i) grad.set(i, kA[static_cast<std::size_t>(i)] * p.get(i));
        opt->step({grad});
        out.push_back(p.to_doubles());
    }
    return out;
}

void check_traj(const Traj& got, const Traj& want, double rel) {
    REQUIRE(got.size() == want.size());
    for (std::size_t s = 0; s < got.size(); ++s)
        for (std::size_t i = 0; i < got[s].size(); ++i) {
            INFO("step " << s + 1 << ", θ[" << i << "]");
            CHECK(got[s][i] == Approx(want[s][i]).epsilon(rel).margin(rel * 1e-3));
        }
}

// Both dtypes against the hand-written recurrence; f64 also against PyTorch's numbers.
void check_optimizer(const Factory& make, const Traj& by_hand, const Traj& torch) {
    check_traj(run(DType::F64, make), by_hand, 1e-12);
    check_traj(run(DType::F64, make), torch, 1e-12);
    check_traj(run(DType::F32, make), by_hand, 2e-6);
}

// Scalar recurrence over the three coordinates: `update(i, θᵢ, gᵢ, t)` for t = 1, 2, 3.
template <typename F>
Traj by_hand(F update) {
    std::vector<double> th = kTheta0;
    Traj out;
    for (int t = 1; t <= 3; ++t) {
        for (std::size_t i = 0; i < 3; ++i) th[i] = update(i, th[i], kA[i] * th[i], t);
        out.push_back(th);
    }
    return out;
}

}  // namespace

TEST_CASE("SGD: plain, momentum with dampening, Nesterov, weight decay", "[optim]") {
    SECTION("plain: θ ← θ − η·aθ") {
        Traj hand{{0.9, -1.2, 2.85}, {0.81, -0.72, 2.7075}, {0.729, -0.432, 2.572125}};  // θ·(1 − 0.1a)ᵗ
        check_optimizer([](Graph& g, auto& p) { return std::make_unique<Sgd>(g, p, SgdOptions{.lr = 0.1}); }, hand,
                        {{0.9, -1.2, 2.85}, {0.81, -0.72, 2.7075}, {0.7290000000000001, -0.432, 2.572125}});
    }
    SECTION("momentum 0.9, dampening 0.1, weight decay 0.01") {
        std::vector<double> b(3);
        Traj hand = by_hand([&](std::size_t i, double th, double g, int t) {
            double d = g + 0.01 * th;
            b[i] = t == 1 ? d : 0.9 * b[i] + 0.9 * d;  // the first buffer is g itself, undamped
            return th - 0.1 * b[i];
        });
        check_optimizer(
            [](Graph& g, auto& p) {
                return std::make_unique<Sgd>(g, p, SgdOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .weight_decay = 0.01});
            },
            hand,
            {{0.899, -1.198, 2.847},
             {0.7263809, -0.04384179999999989, 2.5786227},
             {0.50499568619, 1.0107230856200002, 2.21872434807}});
    }
    SECTION("Nesterov") {
        std::vector<double> b(3);
        Traj hand = by_hand([&](std::size_t i, double th, double g, int t) {
            double d = g + 0.01 * th;
            b[i] = t == 1 ? d : 0.9 * b[i] + d;
            return th - 0.1 * (d + 0.9 * b[i]);
        });
        check_optimizer(
            [](Graph& g, auto& p) {
                return std::make_unique<Sgd>(g, p, SgdOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
            },
            hand,
            {{0.8081, -0.47619999999999996, 2.7093},
             {0.57121561, 0.5362367800000001, 2.32283883},
             {0.321859673441, 0.867010499318, 1.874297564373}});
    }
}

TEST_CASE("AdaGrad: lr_decay, initial accumulator, weight decay", "[optim]") {
    std::vector<double> s(3, 0.1);
    Traj hand = by_hand([&](std::size_t i, double th, double g, int t) {
        double d = g + 0.01 * th;
        s[i] += d * d;
        double clr = 0.1 / (1 + (t - 1) * 0.5);
        return th - clr * d / (std::sqrt(s[i]) + 1e-10);  // ε outside the root
    });
    check_optimizer(
        [](Graph& g, auto& p) {
            return std::make_unique<Adagrad>(
                g, p, AdagradOptions{.lr = 0.1, .lr_decay = 0.5, .weight_decay = 0.01, .initial_accumulator_value = 0.1});
        },
        hand,
        {{0.904568230825933, -1.9000776453105976, 2.9020698460815026},
         {0.8610048728614005, -1.854178777894546, 2.8562210853674554},
         {0.8345971722846101, -1.8262949625206686, 2.8281943801425506}});
}

TEST_CASE("RMSProp: plain, and centered with momentum", "[optim]") {
    SECTION("plain: first step is η·g/(√(1−α)|g| + ε)") {
        std::vector<double> v(3);
        Traj hand = by_hand([&](std::size_t i, double th, double g, int) {
            v[i] = 0.9 * v[i] + 0.1 * g * g;
            return th - 0.01 * g / (std::sqrt(v[i]) + 1e-8);
        });
        check_optimizer([](Graph& g, auto& p) { return std::make_unique<RmsProp>(g, p, RmsPropOptions{.lr = 0.01, .alpha = 0.9}); },
                        hand,
                        {{0.9683772243983162, -1.9683772235233161, 2.968377224064983},
                         {0.9457880262458569, -1.9456096368619424, 2.9455511586396845},
                         {0.9270530996585012, -1.9266336821326007, 2.926496540655573}});
    }
    SECTION("centered, momentum 0.8, weight decay 0.01") {
        std::vector<double> v(3), gm(3), b(3);
        Traj hand = by_hand([&](std::size_t i, double th, double g, int) {
            double d = g + 0.01 * th;
            v[i] = 0.9 * v[i] + 0.1 * d * d;
            gm[i] = 0.9 * gm[i] + 0.1 * d;
            double avg = std::sqrt(v[i] - gm[i] * gm[i]) + 1e-8;
            b[i] = 0.8 * b[i] + d / avg;  // RMSProp's buffer starts at 0
            return th - 0.01 * b[i];
        });
        check_optimizer(
            [](Graph& g, auto& p) {
                return std::make_unique<RmsProp>(
                    g, p, RmsPropOptions{.lr = 0.01, .alpha = 0.9, .weight_decay = 0.01, .momentum = 0.8, .centered = true});
            },
            hand,
            {{0.9666666677667767, -1.9666666668052093, 2.966666667392883},
             {0.9149234784848453, -1.9147134861516981, 2.9146448024719134},
             {0.8520516268429307, -1.85114874146007, 2.8508565894111686}});
    }
}

namespace {
// Adam by hand: m, v with bias correction; `decay` is AdamW's decoupled λ, `l2` Adam's.
Traj adam_by_hand(double lr, double b1, double b2, double l2, double decay, bool amsgrad) {
    std::vector<double> m(3), v(3), vmax(3);
    return by_hand([&](std::size_t i, double th, double g, int t) {
        th *= 1 - lr * decay;
        double d = g + l2 * th;
        m[i] = b1 * m[i] + (1 - b1) * d;
        v[i] = b2 * v[i] + (1 - b2) * d * d;
        vmax[i] = std::max(vmax[i], v[i]);
        double vv = amsgrad ? vmax[i] : v[i];
        return th - lr / (1 - std::pow(b1, t)) * m[i] / (std::sqrt(vv) / std::sqrt(1 - std::pow(b2, t)) + 1e-8);
    });
}
}  // namespace

TEST_CASE("Adam: bias correction, L2 weight decay, AMSGrad", "[optim]") {
    SECTION("first step moves every coordinate by ≈ η: θ₁ = θ₀ − η·g/(|g| + ε)") {
        auto t = run(DType::F64, [](Graph& g, auto& p) { return std::make_unique<Adam>(g, p, AdamOptions{.lr = 0.1}); }, 1);
        for (std::size_t i = 0; i < 3; ++i) {
            double g = kA[i] * kTheta0[i];
            CHECK(t[0][i] == Approx(kTheta0[i] - 0.1 * g / (std::abs(g) + 1e-8)).epsilon(1e-14));
        }
    }
    SECTION("weight decay 0.01 as L2") {
        check_optimizer(
            [](Graph& g, auto& p) { return std::make_unique<Adam>(g, p, AdamOptions{.lr = 0.1, .weight_decay = 0.01}); },
            adam_by_hand(0.1, 0.9, 0.999, 0.01, 0, false),
            {{0.900000000990099, -1.9000000001246882, 2.900000000653595},
             {0.8004122296921293, -1.800166485862375, 2.8001027083957433},
             {0.7015862744735559, -1.700623391662686, 2.7003815249322076}});
    }
    SECTION("AMSGrad divides by max v: differs from Adam once v falls (step 3, θ₀)") {
        Traj torch_ams{{0.900000001, -1.900000000125, 2.9000000006666666},
                       {0.7986254645971879, -1.7993039764148975, 2.7995345049513336},
                       {0.6954722654500891, -1.697444831153612, 2.6983095656864737}};
        check_optimizer(
            [](Graph& g, auto& p) { return std::make_unique<Adam>(g, p, AdamOptions{.lr = 0.1, .beta2 = 0.5, .amsgrad = true}); },
            adam_by_hand(0.1, 0.9, 0.5, 0, 0, true), torch_ams);
        auto plain = run(DType::F64, [](Graph& g, auto& p) { return std::make_unique<Adam>(g, p, AdamOptions{.lr = 0.1, .beta2 = 0.5}); });
        CHECK(plain[2][0] == Approx(0.6947884398971987).epsilon(1e-12));  // PyTorch, amsgrad=False
        CHECK(plain[2][0] != Approx(torch_ams[2][0]).epsilon(1e-6));
    }
}

TEST_CASE("AdamW: decoupled decay θ ← θ − η·λ·θ before the Adam step", "[optim]") {
    check_optimizer([](Graph& g, auto& p) { return std::make_unique<AdamW>(g, p, AdamWOptions{.lr = 0.1, .weight_decay = 0.1}); },
                    adam_by_hand(0.1, 0.9, 0.999, 0, 0.1, false),
                    {{0.890000001, -1.880000000125, 2.8700000006666664},
                     {0.781571856954161, -1.7614089503325472, 2.7414399419121342},
                     {0.6751012231892006, -1.6443686831798792, 2.614405618794088}});
    // Step 1 by hand: θ₀(1 − ηλ) − η·sign(g).
    auto t = run(DType::F64, [](Graph& g, auto& p) { return std::make_unique<AdamW>(g, p, AdamWOptions{.lr = 0.1, .weight_decay = 0.1}); }, 1);
    CHECK(t[0][1] == Approx(-2.0 * 0.99 + 0.1).epsilon(1e-9));
    CHECK(AdamWOptions{}.weight_decay == 1e-2);  // PyTorch's default
}

TEST_CASE("optimizer state lives in the store, is made once, and resumes", "[optim]") {
    Graph g;
    Value theta = g.parameter("theta", {3}, theta0(), DType::F64);
    auto count = g.store().entries().size();
    Adam opt(g, {theta}, {.lr = 0.1, .amsgrad = true});
    for (const char* slot : {"optim.theta.exp_avg", "optim.theta.exp_avg_sq", "optim.theta.max_exp_avg_sq", "optim.theta.step"})
        CHECK(g.store().contains(slot));
    CHECK_FALSE(g.store().entries().at("optim.theta.exp_avg").trainable);
    count = g.store().entries().size();
    const void* m_data = g.store().get("optim.theta.exp_avg").raw();
    Tensor grad = Tensor::from_vector<double>({1, -8, 1.5}, {3});
    opt.step({grad});
    opt.step({grad});
    CHECK(g.store().entries().size() == count);  // steps create nothing
    CHECK(g.store().get("optim.theta.exp_avg").raw() == m_data);
    CHECK(opt.steps() == 2);
    CHECK(g.store().get("optim.theta.step").get(0) == 2);

    SECTION("a new optimizer over the same store continues the trajectory") {
        auto whole = run(DType::F64, [](Graph& gr, auto& p) { return std::make_unique<Adam>(gr, p, AdamOptions{.lr = 0.1}); });
        Graph h;
        Value th = h.parameter("theta", {3}, theta0(), DType::F64);
        auto step_h = [&](Optimizer& o) {
            Tensor& p = h.store().get("theta");
            Tensor gr(TensorDesc{{3}, DType::F64});
            for (int64_t i = 0; i < 3; ++i) gr.set(i, kA[static_cast<std::size_t>(i)] * p.get(i));
            o.step({gr});
        };
        { Adam first(h, {th}, {.lr = 0.1}); step_h(first); }
        Adam resumed(h, {th}, {.lr = 0.1});  // adopts exp_avg, exp_avg_sq and step = 1
        CHECK(resumed.steps() == 1);
        step_h(resumed);
        step_h(resumed);
        check_traj({h.store().get("theta").to_doubles()}, {whole[2]}, 1e-14);
    }
    SECTION("reset_state zeroes moments and step counts") {
        opt.reset_state();
        CHECK(opt.steps() == 0);
        CHECK(g.store().get("optim.theta.exp_avg").get(1) == 0);
    }
}

TEST_CASE("optimizers on graph parameters, gradients from grad()", "[optim]") {
    // The same quadratic as a graph: the fetched gradient must drive Adam exactly like a⊙θ.
    Graph g;
    Value theta = g.parameter("theta", {3}, theta0(), DType::F64);
    Value a = g.constant(Tensor::from_vector<double>(kA, {3}));
    Value loss = sum(a * theta * theta) * 0.5;
    auto grads = grad(loss, {theta});
    auto prog = compile(g, {loss, grads[0]});
    auto opt = make_optimizer("adam", g, {theta}, {.lr = 0.1, .weight_decay = 0.01});
    for (int s = 0; s < 3; ++s) opt->step({prog.run()[1]});
    check_traj({g.store().get("theta").to_doubles()}, {adam_by_hand(0.1, 0.9, 0.999, 0.01, 0, false)[2]}, 1e-12);
    CHECK(prog.run()[0].get(0) < 0.5 * (1 * 1 + 4 * 4 + 0.5 * 9));  // the loss fell
}

TEST_CASE("optimizers reject bad input", "[optim]") {
    Graph g;
    Value theta = g.parameter("theta", {3}, theta0());
    Value x = g.input("x", {3});
    CHECK_THROWS_WITH(Sgd(g, {x}), Catch::Contains("not a trainable parameter"));
    CHECK_THROWS_WITH(Sgd(g, {theta, theta}), Catch::Contains("listed twice"));
    CHECK_THROWS_WITH(Sgd(g, {theta}, {.lr = -1}), Catch::Contains("learning rate"));
    CHECK_THROWS_WITH(Sgd(g, {theta}, {.nesterov = true}), Catch::Contains("Nesterov"));
    CHECK_THROWS_WITH(Adam(g, {theta}, {.beta1 = 1.0}), Catch::Contains("beta1"));
    CHECK_THROWS_WITH(RmsProp(g, {theta}, {.alpha = -0.1}), Catch::Contains("alpha"));
    CHECK_THROWS_WITH(Adagrad(g, {theta}, {.initial_accumulator_value = -1}), Catch::Contains("initial_accumulator"));
    Sgd opt(g, {theta});
    CHECK_THROWS_WITH(opt.step({}), Catch::Contains("0 gradients for 1 parameters"));
    CHECK_THROWS_WITH(opt.step({Tensor::zeros({3}, DType::F64)}), Catch::Contains("f64[3]"));
    CHECK_THROWS_WITH(opt.step({Tensor::zeros({4})}), Catch::Contains("\"theta\""));
    // A slot of the wrong desc (a corrupt checkpoint) is refused, not reinterpreted.
    g.store().add("optim.theta.exp_avg", Tensor::zeros({2}), false);
    CHECK_THROWS_WITH(Adam(g, {theta}), Catch::Contains("optim.theta.exp_avg"));
}

TEST_CASE("make_optimizer builds each optimizer by name with PyTorch defaults", "[optim]") {
    Graph g;
    Value theta = g.parameter("theta", {3}, theta0(), DType::F64);
    for (const auto& name : optimizer_names()) CHECK(make_optimizer(name, g, {theta})->name() == name);
    CHECK(make_optimizer("AdamW", g, {theta})->lr() == 1e-3);
    CHECK(make_optimizer("rmsprop", g, {theta})->lr() == 0.01);
    // Options reach the optimizer: the factory's SGD walks the hand-computed trajectory.
    auto t = run(DType::F64, [](Graph& gr, auto& p) {
        OptimizerOptions o{.lr = 0.1};
        o.set("momentum", "0.9");
        o.set("nesterov", "true");
        o.set("weight_decay", "0.01");
        return make_optimizer("sgd", gr, p, o);
    });
    CHECK(t[2][1] == Approx(0.867010499318).epsilon(1e-12));
    OptimizerOptions betas;
    betas.set("betas", "0.8,0.99");
    CHECK((betas.beta1 == 0.8 && betas.beta2 == 0.99));
    CHECK_THROWS_WITH(make_optimizer("lbfgs", g, {theta}), Catch::Contains("adamw"));
    CHECK_THROWS_WITH(make_optimizer("adam", g, {theta}, {.momentum = 0.9}), Catch::Contains("no option \"momentum\""));
    CHECK_THROWS_WITH(betas.set("momentun", "0.9"), Catch::Contains("momentun"));
    CHECK_THROWS_WITH(betas.set("lr", "0.1x"), Catch::Contains("not a number"));
}

TEST_CASE("clip_grad_norm scales all gradients by one factor and returns the old norm", "[optim]") {
    auto dt = GENERATE(DType::F32, DType::F64);
    auto make = [&] {
        return std::vector<Tensor>{Tensor::from_vector<double>({3, -4}, {2}).cast(dt), Tensor::from_vector<double>({12}, {1}).cast(dt)};
    };
    SECTION("2-norm above the limit") {
        auto g = make();
        CHECK(clip_grad_norm(g, 6.5) == Approx(13.0));  // √(9 + 16 + 144)
        double c = 6.5 / (13.0 + 1e-6);                 // PyTorch's coefficient
        CHECK(g[0].get(1) == Approx(-4 * c));
        CHECK(g[1].get(0) == Approx(12 * c));
        CHECK(global_norm(g) == Approx(6.5).epsilon(1e-6));
    }
    SECTION("below the limit: untouched") {
        auto g = make();
        CHECK(clip_grad_norm(g, 100) == Approx(13.0));
        CHECK(g[1].get(0) == 12);
    }
    SECTION("∞-norm and 1-norm") {
        auto g = make();
        CHECK(global_norm(g, 1.0) == Approx(19.0));
        CHECK(clip_grad_norm(g, 6.0, kInfNorm) == Approx(12.0));
        CHECK(g[1].get(0) == Approx(6.0).epsilon(1e-6));
        CHECK(g[0].get(0) == Approx(1.5).epsilon(1e-6));
    }
    SECTION("non-finite norms") {
        auto g = make();
        g[0].set(0, std::nan(""));
        CHECK(std::isnan(global_norm(g, kInfNorm)));
        CHECK_THROWS_WITH(clip_grad_norm(g, 1.0, 2.0, true), Catch::Contains("nan"));
    }
}

TEST_CASE("clip_grad_norm on a large tensor matches the serial sum", "[optim]") {
    // Above the parallel threshold; the fixed-block reduction must still be the exact norm.
    const int64_t n = 300001;
    Tensor t(TensorDesc{{n}, DType::F64});
    double ss = 0;
    for (int64_t i = 0; i < n; ++i) {
        double v = std::sin(0.001 * static_cast<double>(i));
        t.set(i, v);
        ss += v * v;
    }
    CHECK(global_norm({t}) == Approx(std::sqrt(ss)).epsilon(1e-12));
    double before = clip_grad_norm({t}, 1.0);
    CHECK(global_norm({t}) == Approx(before / (before + 1e-6)).epsilon(1e-12));
}

TEST_CASE("updates of large parameters run in parallel and stay elementwise exact", "[optim]") {
    gg::testing::ScopedThreads threads(2);
    REQUIRE(threads.is_parallel());
    // Above the parallel threshold: every element must see exactly its own formula.
    const int64_t n = 100003;
    Graph g;
    Value w = g.parameter("w", {n}, init::constant(1.0));
    AdamW opt(g, {w}, {.lr = 0.01, .weight_decay = 0.5});
    Tensor grad(TensorDesc{{n}, DType::F32});
    for (int64_t i = 0; i < n; ++i) grad.set(i, (i % 7) - 3.0);
    opt.step({grad});
    const Tensor& p = g.store().get("w");
    for (int64_t i = 0; i < n; ++i) {
        double gi = grad.get(i), want = 1.0 * (1 - 0.01 * 0.5) - (gi == 0 ? 0.0 : 0.01 * gi / (std::abs(gi) + 1e-8));
        if (std::abs(p.get(i) - want) > 1e-6) FAIL("element " << i << ": " << p.get(i) << " != " << want);
    }
    SUCCEED();
}
