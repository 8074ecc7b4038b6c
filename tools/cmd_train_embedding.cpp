// `graphgrad train embedding_net`: metric learning on an IDX image folder (Fashion-MNIST by
// default): a small CNN maps images to embeddings trained with the triplet loss (batch-hard,
// semi-hard or batch-all mining inside P×K class-balanced batches) plus, with --sec η, the
// spherical embedding constraint; reports test Recall@1/@5 and the spread of the embedding
// norms, and with --plot draws the test embeddings' 2-D PCA projection. A thin caller of
// graphgrad/train/metric_learning.h.
//
//   graphgrad train embedding_net --mining semi-hard --margin 0.2 --sec 0.1 --epochs 3 --plot emb.png
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>

#include <unistd.h>

#include <fmt/format.h>

#include "cli_common.h"
#include "train_options.h"
#include "graphgrad/optim/optim.h"
#include "graphgrad/train/classification.h"
#include "graphgrad/train/metric_learning.h"

namespace gg::cli {
namespace fs = std::filesystem;
namespace {

// Fashion-MNIST's class names, for the plot's key (other folders: the class number).
const char* const kFashionClasses[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
// Ten distinguishable colours (gnuplot's default line colours repeat after eight).
const char* const kColors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                               "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

void plot_pca(const Embeddings& raw, const std::string& png, const std::string& title) {
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fmt::print(stderr, "graphgrad: --plot: gnuplot is not installed (apt-get install gnuplot-nox); skipping\n");
        return;
    }
    // The projection of what retrieval compares: the L2-normalised embeddings.
    const Embeddings e = normalized(raw);
    const auto xy = pca_2d(e);
    const int64_t classes = e.labels.empty() ? 0 : *std::max_element(e.labels.begin(), e.labels.end()) + 1;
    const fs::path dir = fs::temp_directory_path() / fmt::format("gg_embedding_plot_{}", getpid());
    fs::create_directories(dir);
    {
        // One data block per class (separated by two blank lines: gnuplot's `index`).
        std::ofstream data(dir / "points.dat");
        for (int64_t c = 0; c < classes; ++c) {
            for (int64_t i = 0; i < e.count; ++i)
                if (e.labels[i] == c) data << xy[i][0] << ' ' << xy[i][1] << '\n';
            data << "\n\n";
        }
        std::ofstream gp(dir / "plot.gp");
        gp << "set terminal pngcairo size 1000,800\nset output '" << png << "'\n"
           << "set title \"" << title << "\" noenhanced\nset xlabel 'PC 1'\nset ylabel 'PC 2'\nset grid\n"
           << "set key outside right top\nplot ";
        for (int64_t c = 0; c < classes; ++c)
            gp << (c ? ", " : "") << "'" << (dir / "points.dat").string() << "' index " << c
               << " with points pt 7 ps 0.35 lc rgb '" << kColors[c % 10] << "' title '"
               << (classes == 10 ? kFashionClasses[c] : std::to_string(c).c_str()) << "' noenhanced";
        gp << "\n";
    }
    const int status = std::system(fmt::format("gnuplot '{}' 2>&1", (dir / "plot.gp").string()).c_str());
    fs::remove_all(dir);
    if (status != 0) throw std::runtime_error(fmt::format("--plot: gnuplot failed (status {})", status));
    fmt::print(stderr, "graphgrad: wrote {}\n", png);
}

nlohmann::json evaluation_json(const EmbeddingEvaluation& e) {
    nlohmann::json recall;
    for (std::size_t i = 0; i < e.ks.size(); ++i) recall[fmt::format("recall@{}", e.ks[i])] = e.recall[i];
    return {{"recall", recall},
            {"norm_mean", e.norms.mean},
            {"norm_std", e.norms.std},
            {"norm_cv", e.norms.cv()},
            {"test_triplet_loss", e.triplet_loss},
            {"eval_seconds", e.seconds}};
}

}  // namespace

bool is_embedding_model(const std::string& model) { return model == "embedding_net"; }

int run_train_embedding(const TrainOptions& o) {
    auto t_setup = std::chrono::steady_clock::now();
    if (o.loss != "triplet") throw UsageError(fmt::format("--loss \"{}\": embedding_net trains with triplet", o.loss));
    if (o.distance != "squared" && o.distance != "euclidean")
        throw UsageError(fmt::format("--distance \"{}\": expected squared or euclidean", o.distance));
    if (o.given_batch) throw UsageError("embedding_net: the batch is P x K; give --classes and --per-class");
    io::ImageFolder folder = io::load_image_folder(o.data);
    const io::ImageDataset train = take_first(folder.train, o.limit_train);
    const io::ImageDataset test = take_first(folder.test, o.limit_test);
    const io::PixelStats norm = io::pixel_statistics(train);
    const int64_t dim = o.dim ? o.dim : 64;  // --dim 0: this model's default

    auto p = build_embedding_program({.classes = o.classes,
                                      .per_class = o.per_class,
                                      .chw = {1, train.rows, train.cols},
                                      .dim = dim,
                                      .triplet = {.margin = o.margin,
                                                  .mining = models::parse_triplet_mining(o.mining),
                                                  .normalize = true,
                                                  .squared = o.distance == "squared"},
                                      .sec = o.sec,
                                      .seed = o.seed});
    // Adam 1e-3 unless told otherwise (the SEC authors train with Adam).
    const std::string optimizer = o.given_optimizer ? o.optimizer : "adam";
    std::unique_ptr<optim::Optimizer> opt;
    try {
        opt = optim::make_optimizer(optimizer, *p->graph, p->params,
                                    {.lr = o.lr ? o.lr : std::optional<double>(1e-3),
                                     .momentum = o.momentum,
                                     .weight_decay = o.weight_decay});
    } catch (const GraphError& e) {
        throw UsageError(e.what());
    }
    ScheduleOptions schedule = o.schedule;
    if (!o.given_schedule) schedule.name = "none";
    auto sched = make_schedule(schedule, *opt, o.epochs);
    EmbeddingTrainOptions to{.trainer = {.epochs = o.epochs,
                                         .clip = o.clip,
                                         .checkpoint = o.checkpoint,
                                         .resume = o.resume,
                                         .init = o.init,
                                         .progress = !o.json,
                                         .metadata = {{"model", o.model},
                                                      {"schedule", schedule.name},
                                                      {"seed", std::to_string(o.seed)}},
                                         .resume_must_match = {"model", "optimizer", "embedding.dim"}},
                             .seed = o.seed,
                             .normalization = norm};
    to.trainer.compile.check_numerics = o.check_numerics;
    if (!o.memory_budget.empty()) to.trainer.compile.memory_budget = parse_bytes(o.memory_budget);
    const double setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
    const std::string setup = fmt::format(
        "triplet {} margin {:g} ({} distance, L2-normalised), SEC η = {:g}, P x K = {} x {}", o.mining, o.margin,
        o.distance, o.sec, o.classes, o.per_class);
    if (!o.json)
        fmt::print("embedding_net: {}-d embeddings, {} parameters; {} train / {} test images from {}\n{}; {} lr {:g}, "
                   "{} epoch{}\n",
                   dim, with_commas(p->num_parameters()), train.count, test.count, o.data, setup, opt->name(),
                   opt->lr(), o.epochs, o.epochs == 1 ? "" : "s");
    const EmbeddingTrainReport r = train_embedding(*p, train, test, *opt, sched.get(), to);
    const EmbeddingEvaluation& e = r.final_eval;
    if (!o.plot.empty())
        plot_pca(e.embeddings, o.plot,
                 fmt::format("Fashion-MNIST test embeddings (L2-normalised), 2-D PCA; Recall@1 {:.1f}%, norms "
                             "std/mean {:.3f}\\n{}, {} epoch{}",
                             100 * e.recall[0], e.norms.cv(), setup, o.epochs, o.epochs == 1 ? "" : "s"));

    if (o.json) {
        nlohmann::json epochs = nlohmann::json::array();
        for (const auto& x : r.train.records)
            epochs.push_back({{"epoch", x.epoch},
                              {"lr", x.lr},
                              {"train_loss", x.train_loss},
                              {"train_in_batch_recall@1", x.train_metric},
                              {"test_triplet_loss", x.eval.loss},
                              {"test_recall@1", x.eval.metric},
                              {"seconds", x.seconds},
                              {"eval_seconds", x.eval.seconds},
                              {"ms_per_step", x.ms_per_step}});
        print_json({{"model", o.model},
                    {"parameters", p->num_parameters()},
                    {"dim", dim},
                    {"mining", o.mining},
                    {"margin", o.margin},
                    {"distance", o.distance},
                    {"sec", o.sec},
                    {"classes_per_batch", o.classes},
                    {"images_per_class", o.per_class},
                    {"optimizer", opt->name()},
                    {"train_size", train.count},
                    {"test_size", test.count},
                    {"start_epoch", r.train.start_epoch},
                    {"records", epochs},
                    {"final", evaluation_json(e)},
                    {"wall_seconds", r.train.wall_seconds},
                    {"setup_seconds", setup_seconds},
                    {"ms_per_step", r.train.ms_per_step},
                    {"train_peak_bytes", r.train.train_peak_bytes}});
        return 0;
    }
    std::string recall;
    for (std::size_t i = 0; i < e.ks.size(); ++i)
        recall += fmt::format("{}Recall@{} {:.2f}%", i ? ", " : "", e.ks[i], 100 * e.recall[i]);
    fmt::print("embedding_net: test {} (cosine, each of {} test images against all others); embedding norms mean "
               "{:.4g}, std {:.4g}, std/mean {:.4f}\nwall time {:.1f} s (setup {:.1f} s), {:.2f} ms/step\n",
               recall, e.embeddings.count, e.norms.mean, e.norms.std, e.norms.cv(), r.train.wall_seconds,
               setup_seconds, r.train.ms_per_step);
    return 0;
}

}  // namespace gg::cli
