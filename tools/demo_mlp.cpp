#include "demo_mlp.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "graphgrad/graph/rng.h"
#include "graphgrad/optim/make_optimizer.h"

namespace gg::cli {
namespace {

int64_t round_up(int64_t n, int64_t multiple) { return (n + multiple - 1) / multiple * multiple; }

// x ~ N(0, 1) per feature; label = argmax of a fixed random teacher tanh(x·T1)·T2. The
// teacher depends only on the seed, so train and test sets share it. T1's scale keeps the
// tanh in its bend rather than saturated: a saturated teacher's labels are so jagged that
// 4096 samples cannot pin them down (held-out accuracy ~75% instead of ~89%).
Dataset make_teacher_data(const MlpConfig& c, int64_t n, uint64_t stream) {
    constexpr int64_t kTeacherHidden = 32;
    std::vector<double> t1(static_cast<std::size_t>(c.inputs * kTeacherHidden));
    std::vector<double> t2(static_cast<std::size_t>(kTeacherHidden * c.classes));
    for (std::size_t i = 0; i < t1.size(); ++i)
        t1[i] = standard_normal(c.seed, 1, i) * 0.5 / std::sqrt(static_cast<double>(c.inputs));
    for (std::size_t i = 0; i < t2.size(); ++i) t2[i] = standard_normal(c.seed, 2, i);

    Dataset d{Tensor({{n, c.inputs}, DType::F32}), Tensor({{n}, DType::I64})};
    float* x = d.x.data<float>();
    int64_t* y = d.y.data<int64_t>();
    std::vector<double> h(kTeacherHidden), z(static_cast<std::size_t>(c.classes));
    for (int64_t r = 0; r < n; ++r) {
        float* row = x + r * c.inputs;
        for (int64_t i = 0; i < c.inputs; ++i)
            row[i] = static_cast<float>(standard_normal(c.seed, stream, static_cast<uint64_t>(r * c.inputs + i)));
        for (int64_t j = 0; j < kTeacherHidden; ++j) {
            double s = 0;
            for (int64_t i = 0; i < c.inputs; ++i) s += row[i] * t1[static_cast<std::size_t>(i * kTeacherHidden + j)];
            h[static_cast<std::size_t>(j)] = std::tanh(s);
        }
        for (int64_t k = 0; k < c.classes; ++k) {
            double s = 0;
            for (int64_t j = 0; j < kTeacherHidden; ++j)
                s += h[static_cast<std::size_t>(j)] * t2[static_cast<std::size_t>(j * c.classes + k)];
            z[static_cast<std::size_t>(k)] = s;
        }
        y[r] = std::max_element(z.begin(), z.end()) - z.begin();
    }
    return d;
}

// y = x·W + b, parameters named "<scope>.weight" and "<scope>.bias".
Value dense(Graph& g, Value x, int64_t in, int64_t out, const char* scope) {
    NameScope s(g, scope);
    Value w = g.parameter("weight", {in, out}, init::kaiming_uniform());
    Value b = g.parameter("bias", {out}, init::zeros());
    return matmul(x, w) + b;
}

}  // namespace

MlpDemo::MlpDemo(const MlpConfig& config) : config_(config), graph_(config.seed) {
    MlpConfig& c = config_;
    if (c.inputs < 1 || c.hidden < 1 || c.classes < 2 || c.batch < 1)
        throw_graph("mlp demo: sizes must be positive and classes >= 2");
    c.train_size = round_up(std::max<int64_t>(c.train_size, c.batch), c.batch);
    c.test_size = round_up(std::max<int64_t>(c.test_size, c.batch), c.batch);
    train_ = make_teacher_data(c, c.train_size, 10);
    test_ = make_teacher_data(c, c.test_size, 11);

    // The network: built once, differentiated once, compiled twice (train step, eval).
    Graph& g = graph_;
    x_ = g.input("x", {c.batch, c.inputs});
    y_ = g.input("y", {c.batch}, DType::I64);
    Value h = relu(dense(g, x_, c.inputs, c.hidden, "fc1"));
    h = relu(dense(g, h, c.hidden, c.hidden, "fc2"));
    logits_ = dense(g, h, c.hidden, c.classes, "fc3");
    loss_ = cross_entropy(logits_, y_);
    params_ = g.parameters();
    std::vector<Value> fetches{loss_};
    for (const Value& dw : grad(loss_, params_)) fetches.push_back(dw);
    step_.emplace(compile(g, fetches));
    eval_.emplace(compile(g, {logits_}));  // forward only: shares the parameter store

    optim::OptimizerOptions oo;
    oo.lr = c.lr ? c.lr : (c.optimizer == "sgd" ? std::optional<double>(0.1) : std::nullopt);
    oo.momentum = c.momentum;
    optimizer_ = optim::make_optimizer(c.optimizer, g, params_, oo);

    x_batch_ = Tensor({{c.batch, c.inputs}, DType::F32});
    y_batch_ = Tensor({{c.batch}, DType::I64});
    order_.resize(static_cast<std::size_t>(c.train_size));
}

void MlpDemo::load_batch(const Dataset& data, const std::vector<int64_t>& rows, int64_t first) {
    const int64_t b = config_.batch, in = config_.inputs;
    const float* x = data.x.data<float>();
    const int64_t* y = data.y.data<int64_t>();
    float* xb = x_batch_.data<float>();
    int64_t* yb = y_batch_.data<int64_t>();
    for (int64_t r = 0; r < b; ++r) {
        int64_t src = rows.empty() ? first + r : rows[static_cast<std::size_t>(first + r)];
        std::copy_n(x + src * in, in, xb + r * in);
        yb[r] = y[src];
    }
}

double MlpDemo::train_step() {
    const int64_t per_epoch = config_.train_size / config_.batch;
    const int64_t epoch = steps_ / per_epoch, k = steps_ % per_epoch;
    if (k == 0) {  // a new, seeded permutation per epoch: reproducible runs
        std::iota(order_.begin(), order_.end(), int64_t{0});
        std::mt19937_64 rng(config_.seed * 1000003 + static_cast<uint64_t>(epoch));
        std::shuffle(order_.begin(), order_.end(), rng);
    }
    load_batch(train_, order_, k * config_.batch);
    std::vector<Tensor> out = step_->run({{x_, x_batch_}, {y_, y_batch_}});

    // The optimizer updates the shared store in place (plain SGD: w ← w − lr·∂loss/∂w).
    // Fetched gradients are views into the arena, valid until the next run(): enough here.
    optimizer_->step({out.begin() + 1, out.end()});
    ++steps_;
    return out[0].get(0);
}

double MlpDemo::accuracy(const Dataset& data) {
    const int64_t b = config_.batch, classes = config_.classes;
    int64_t correct = 0;
    for (int64_t first = 0; first + b <= data.size(); first += b) {
        load_batch(data, {}, first);
        Tensor logits = eval_->run({{x_, x_batch_}})[0];
        const float* z = logits.data<float>();
        for (int64_t r = 0; r < b; ++r) {
            int64_t best = std::max_element(z + r * classes, z + (r + 1) * classes) - (z + r * classes);
            correct += best == y_batch_.data<int64_t>()[r];
        }
    }
    return data.size() ? static_cast<double>(correct) / static_cast<double>(data.size()) : 0.0;
}

int64_t MlpDemo::num_parameters() const {
    int64_t n = 0;
    for (const Value& p : params_) n += p.numel();
    return n;
}

}  // namespace gg::cli
