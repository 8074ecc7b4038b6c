// `graphgrad train text_cnn|fasttext_classifier --corpus fortune-category|language`: text
// classification on Debian's fortune packages (graphgrad/io/labelled_text.h), a thin caller of
// graphgrad/train/text_classification.h. Prints the corpus, the split, per-epoch progress and
// the test accuracy; --write-split DIR also writes the split in fastText's format
// (tools/compare/text_classify.sh trains `fasttext supervised` on it).
//
//   graphgrad train text_cnn --corpus language --epochs 3
//   graphgrad train fasttext_classifier --corpus fortune-category --write-split /tmp/split
#include <algorithm>
#include <cctype>
#include <filesystem>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/io/word_vectors.h"
#include "graphgrad/train/report_format.h"
#include "graphgrad/train/text_classification.h"
#include "train_options.h"

namespace gg::cli {

bool is_text_classifier(const std::string& model) { return model == "text_cnn" || model == "fasttext_classifier"; }

int run_train_text_classifier(const TrainOptions& o) {
    const auto t_setup = std::chrono::steady_clock::now();
    const bool cnn = o.model == "text_cnn";
    if (o.corpus.empty()) throw UsageError(fmt::format("train {}: --corpus fortune-category|language is required", o.model));
    if (!cnn && o.variant != "rand") throw UsageError("--variant is a text_cnn option");
    if (o.variant != "rand" && o.variant != "static" && o.variant != "non-static")
        throw UsageError(fmt::format("--variant \"{}\": expected rand, static or non-static", o.variant));
    if (o.variant != "rand" && o.embeddings.empty())
        throw UsageError(fmt::format("--variant {} starts from pre-trained word vectors: give --embeddings FILE (e.g. "
                                     "from graphgrad train word2vec --out PREFIX: PREFIX.vec)", o.variant));
    if (o.variant == "rand" && !o.embeddings.empty())
        throw UsageError("--embeddings is for --variant static or non-static (rand learns its embeddings from scratch)");
    // Read before the corpus: a bad file fails fast.
    const io::WordVectors vectors = o.embeddings.empty() ? io::WordVectors{} : io::read_word_vectors(o.embeddings);
    if (!o.embeddings.empty() && o.dim && o.dim != vectors.dim())
        throw UsageError(fmt::format("--dim {} differs from the {} dimensions of {}", o.dim, vectors.dim(), o.embeddings));

    train::TextDataOptions dopt;
    dopt.split.seed = o.seed;
    dopt.split.max_per_class = o.max_per_class >= 0 ? o.max_per_class : (o.corpus == "language" ? 3000 : 0);
    const train::TextData data = train::prepare_text_data(o.corpus, dopt);
    const auto counts = data.corpus.class_counts();
    if (!o.write_split.empty()) {
        std::filesystem::create_directories(o.write_split);
        // fastText reads its training file in order and never shuffles: give it a shuffled one.
        std::vector<int64_t> train = data.split.train;
        io::shuffle_indices(train, o.seed);
        io::write_fasttext_file(o.write_split + "/train.txt", data.corpus, train);
        io::write_fasttext_file(o.write_split + "/valid.txt", data.corpus, data.split.valid);
        io::write_fasttext_file(o.write_split + "/test.txt", data.corpus, data.split.test);
    }
    const int64_t epochs = o.given_epochs ? o.epochs : 5;
    if (!o.json)
        fmt::print("{}: {} texts in {} classes ({} to {} per class{}), split {} / {} / {}, vocabulary {} words{}\n",
                   o.corpus, data.corpus.texts.size(), data.corpus.num_classes(),
                   *std::min_element(counts.begin(), counts.end()), *std::max_element(counts.begin(), counts.end()),
                   dopt.split.max_per_class ? fmt::format(", at most {} used", dopt.split.max_per_class) : "",
                   data.split.train.size(), data.split.valid.size(), data.split.test.size(), data.vocab.size(),
                   o.write_split.empty() ? "" : fmt::format("; fastText files in {}", o.write_split));
    const double setup_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_setup).count();

    train::TextClassifierReport r;
    if (cnn) {
        const int64_t dim = !o.embeddings.empty() ? vectors.dim() : (o.dim ? o.dim : 128);
        train::TextCnnTrainOptions to{.model = {.dim = dim, .freeze_embeddings = o.variant == "static"},
                                      .epochs = epochs,
                                      .batch = o.given_batch ? o.batch : 50,
                                      .lr = o.lr ? *o.lr : 1e-3,
                                      .max_tokens = o.max_tokens,
                                      .seed = o.seed,
                                      .progress = !o.json};
        if (!o.json)
            fmt::print("text_cnn ({}): embedding {}, widths 3,4,5 x {} filters, dropout {}, Adam lr {:g}, batch {}, "
                       "{} epoch{}\n", o.variant, to.model.dim, to.model.filters, to.model.dropout, to.lr, to.batch,
                       epochs, epochs == 1 ? "" : "s");
        int64_t found = 0;
        if (!o.embeddings.empty())
            // The word as the classifier's vocabulary spells it, else lowercased (word2vec runs
            // on lowercased text by default); words without a vector start random.
            to.pretrained = [&](const std::string& word, std::span<float> row) {
                std::string lower = word;
                for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
                auto id = vectors.find(word);
                if (!id) id = vectors.find(lower);
                if (!id) return false;
                const float* src = vectors.vectors.data<float>() + *id * vectors.dim();
                std::copy(src, src + vectors.dim(), row.begin());
                ++found;
                return true;
            };
        r = train::train_text_cnn(data, to);
        if (!o.embeddings.empty() && !o.json)
            fmt::print("pre-trained vectors for {} of {} vocabulary words from {}\n", found, data.vocab.size(),
                       o.embeddings);
    } else {
        train::FastTextTrainOptions to{.dim = o.dim ? o.dim : 100,
                                       .buckets = o.buckets ? o.buckets : 200000,
                                       .word_ngrams = o.word_ngrams,
                                       .epochs = epochs,
                                       .lr = o.lr ? *o.lr : 0.1,
                                       .batch = o.given_batch ? o.batch : 1,
                                       .seed = o.seed,
                                       .progress = !o.json};
        if (!o.json)
            fmt::print("fasttext_classifier: dim {}, word n-grams up to {} ({} buckets), SGD lr {:g} decayed linearly "
                       "to 0, batch {}, {} epoch{}\n", to.dim, to.word_ngrams, to.buckets, to.lr, to.batch, epochs,
                       epochs == 1 ? "" : "s");
        r = train::train_fasttext_classifier(data, to);
    }
    if (o.json) {
        nlohmann::json ep = nlohmann::json::array();
        for (const auto& e : r.epochs)
            ep.push_back({{"epoch", e.epoch}, {"train_loss", e.train_loss}, {"valid_accuracy", e.valid_accuracy},
                          {"seconds", e.seconds}});
        print_json({{"model", o.model}, {"corpus", o.corpus}, {"variant", o.variant}, {"classes", data.corpus.num_classes()},
                    {"train", data.split.train.size()}, {"valid", data.split.valid.size()}, {"test", data.split.test.size()},
                    {"vocabulary", data.vocab.size()}, {"parameters", r.parameters}, {"records", ep},
                    {"valid_accuracy", r.valid_accuracy}, {"test_accuracy", r.test_accuracy}, {"test_loss", r.test_loss},
                    {"seconds_per_epoch", r.seconds_per_epoch}, {"setup_seconds", setup_seconds}});
        return 0;
    }
    fmt::print("{}: test accuracy {:.2f}% (valid {:.2f}%), test loss {:.4f}; {} parameters{}; {:.1f} s per epoch, setup "
               "{:.1f} s\n", o.model, 100 * r.test_accuracy, 100 * r.valid_accuracy, r.test_loss,
               train::with_commas(r.parameters), cnn ? fmt::format(", texts padded or cut to {} tokens", r.padded_length) : "",
               r.seconds_per_epoch, setup_seconds);
    return 0;
}

}  // namespace gg::cli
