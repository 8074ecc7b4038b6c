// `graphgrad train char_lstm|char_gru|char_rnn`: a character-level language model on a text
// (the King James Bible from Debian by default), with teacher forcing, truncated BPTT over
// --seq characters, gradient clipping, Adam, a progress bar, validation bits per character per
// epoch, checkpoints and resume. A thin caller of graphgrad/train/language_model.h.
//
//   graphgrad train char_lstm --epochs 2 --checkpoint lstm.safetensors
//   graphgrad sample --checkpoint lstm.safetensors --prime "And God said" --temperature 0.8
//   graphgrad train char_lstm --init torch_init.safetensors --limit-train 200   # tools/compare/char_lstm.py
#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/optim/optim.h"
#include "graphgrad/train/language_model.h"
#include "train_options.h"

namespace gg::cli {

int run_train_language_model(const TrainOptions& o) {
    auto t_setup = std::chrono::steady_clock::now();
    const int64_t batch = o.given_batch ? o.batch : 32;
    const std::string optimizer = o.given_optimizer ? o.optimizer : "adam";
    const double clip = o.given_clip ? o.clip : 5.0;
    ScheduleOptions schedule = o.schedule;
    if (!o.given_schedule) schedule.name = "none";

    const std::string text = o.text.empty() ? io::ensure_kjv_text() : o.text;
    // Resuming: the checkpoint's vocabulary, so ids mean what they meant in training.
    const io::SplitFractions split{.blocks = o.split_blocks};
    const io::TextCorpus corpus =
        o.resume.empty()
            ? io::load_text_corpus(text, {.split = split})
            : io::load_text_corpus(
                  text, io::vocabulary_from_metadata(io::SafetensorsFile::open(o.resume).metadata(), o.resume), split);
    const int64_t blocks = io::split_block_count(static_cast<std::size_t>(corpus.tokens), split);
    CharModelOptions mo = language_model_options(o.model);
    mo.embedding = o.embedding;
    mo.hidden = o.hidden;
    mo.layers = o.layers;
    mo.dropout = o.dropout;
    mo.fused = o.fused;
    auto p = build_char_model(mo, corpus.vocab.size(), o.seq, batch, o.seed, /*with_grads=*/true);
    optim::OptimizerOptions oo{.lr = o.lr ? o.lr : (optimizer == "adam" ? std::optional<double>(2e-3) : std::nullopt),
                               .momentum = o.momentum,
                               .weight_decay = o.weight_decay};
    std::unique_ptr<optim::Optimizer> opt;
    try {
        opt = optim::make_optimizer(optimizer, *p->graph, p->params, oo);
    } catch (const GraphError& e) {
        throw UsageError(e.what());
    }
    auto sched = make_schedule(schedule, *opt, o.epochs);
    LanguageModelTrainOptions to{.trainer = {.epochs = o.epochs,
                                             .clip = clip,
                                             .checkpoint = o.checkpoint,
                                             .resume = o.resume,
                                             .init = o.init,
                                             .progress = !o.json,
                                             .metadata = {{"schedule", schedule.name},
                                                          {"seed", std::to_string(o.seed)},
                                                          {"split.blocks", std::to_string(blocks)}},
                                             // A resume with another split would train on held-out text.
                                             .resume_must_match = {"model", "optimizer", "lm.hidden", "lm.layers",
                                                                   "lm.embedding", "window", "split.blocks"}},
                                 .limit_train = o.limit_train,
                                 .limit_valid = o.limit_valid};
    record_char_model(to.trainer.metadata, o.model, mo);
    to.trainer.compile.check_numerics = o.check_numerics;
    if (!o.memory_budget.empty()) to.trainer.compile.memory_budget = parse_bytes(o.memory_budget);
    const double setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();
    if (!o.json)
        fmt::print("{}: {} layer{} of {} ({} units, {}), embedding {}, {} parameters\n{}: {} characters, vocabulary {}, "
                   "split {} / {} / {} ({} block{})\nbatch {} streams x {} steps (truncated BPTT), {} lr {:g}, clip {:g}, schedule "
                   "{}, {} epoch{}\n",
                   o.model, mo.layers, mo.layers == 1 ? "" : "s", rnn_cell_name(mo.cell), mo.hidden,
                   mo.fused ? "fused ops" : "graph code", mo.embedding,
                   with_commas(p->num_parameters()), text, corpus.tokens, corpus.vocab.size(),
                   corpus.splits.train.size(), corpus.splits.valid.size(), corpus.splits.test.size(), blocks, blocks == 1 ? "" : "s", batch, o.seq,
                   opt->name(), opt->lr(), clip, schedule.name, o.epochs, o.epochs == 1 ? "" : "s");
    std::fflush(stdout);  // the header reaches a log file before the first epoch ends
    const TrainReport r = train_language_model(*p, corpus, *opt, sched.get(), to);
    if (o.json) {
        nlohmann::json epochs = nlohmann::json::array();
        for (const auto& e : r.records)
            epochs.push_back({{"epoch", e.epoch},
                              {"lr", e.lr},
                              {"train_loss", e.train_loss},
                              {"train_bpc", e.train_metric},
                              {"valid_loss", e.eval.loss},
                              {"valid_bpc", e.eval.metric},
                              {"seconds", e.seconds},
                              {"eval_seconds", e.eval.seconds},
                              {"ms_per_step", e.ms_per_step}});
        print_json({{"model", o.model},
                    {"fused", mo.fused},
                    {"parameters", p->num_parameters()},
                    {"text", text},
                    {"vocabulary", corpus.vocab.size()},
                    {"batch", batch},
                    {"seq", o.seq},
                    {"split_blocks", blocks},
                    {"optimizer", opt->name()},
                    {"start_epoch", r.start_epoch},
                    {"init", o.init},
                    {"records", epochs},
                    {"final_valid_bpc", r.final_eval.metric},
                    {"best_valid_bpc", r.best_metric},
                    {"wall_seconds", r.wall_seconds},
                    {"setup_seconds", setup_seconds},
                    {"ms_per_step", r.ms_per_step},
                    {"train_peak_bytes", r.train_peak_bytes},
                    {"remat", remat_json(r.remat)}});
        return 0;
    }
    fmt::print("{}: validation {:.4f} bits per character (best {:.4f}) after {} epoch{}; wall time {:.1f} s, {:.2f} "
               "ms/step; planned training arena {} ({})\n",
               o.model, r.final_eval.metric, r.best_metric, o.epochs, o.epochs == 1 ? "" : "s", r.wall_seconds,
               r.ms_per_step, human_bytes(r.train_peak_bytes), remat_text(r.remat));
    return 0;
}

}  // namespace gg::cli
