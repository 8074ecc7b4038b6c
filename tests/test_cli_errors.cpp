// `graphgrad` never ends with "internal error" for a user mistake: each bad command line or
// bad input file below must exit 1 (an error in the input) or 2 (bad usage) with a message
// naming the problem, and nothing may crash.
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "graphgrad/graph/graph.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/io/idx.h"
#include "graphgrad/io/text_corpus.h"
#include "graphgrad/train/language_model.h"
#include "test_support.h"

namespace {

struct Outcome {
    int status = -1;
    std::string err;
};

Outcome run_cli(const std::string& args) {
    gg::testing::TempDir dir("gg_cli");
    const std::string err_file = dir.file("stderr");
    const std::string cmd = fmt::format("OMP_NUM_THREADS=1 '{}' {} > /dev/null 2> '{}'", GG_CLI_PATH, args, err_file);
    const int raw = std::system(cmd.c_str());
    Outcome o;
    o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
    std::ifstream in(err_file);
    o.err.assign(std::istreambuf_iterator<char>(in), {});
    return o;
}

struct Case {
    std::string args;
    int status;            // 1: bad input, 2: bad usage
    std::string message;   // must appear in stderr
};

}  // namespace

TEST_CASE("bad command lines and bad inputs exit 1 or 2 with a message naming the problem", "[cli]") {
    gg::testing::TempDir dir("gg_cli_inputs");
    // Inputs made here: a checkpoint of another model, a corrupt file, a data folder of junk,
    // a batch file of the wrong shape.
    {
        gg::Graph g;
        g.parameter("encoder.weight", {4, 4});
        gg::io::save_checkpoint(g.store(), dir.file("other_model.safetensors"), {{"epoch", "1"}});
        std::ofstream(dir.file("corrupt.safetensors")) << "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":";
        std::filesystem::create_directories(dir.file("junk_data"));
        for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                              "t10k-labels-idx1-ubyte"})
            std::ofstream(dir.file("junk_data/") + f) << "not an idx file";
        std::filesystem::create_directories(dir.file("bad_labels"));
        gg::io::write_idx(dir.file("bad_labels/train-images-idx3-ubyte"), {{2, 4, 4}, std::vector<uint8_t>(32, 1)}, false);
        gg::io::write_idx(dir.file("bad_labels/train-labels-idx1-ubyte"), {{3}, {0, 1, 2}}, false);  // 3 labels, 2 images
        gg::io::write_idx(dir.file("bad_labels/t10k-images-idx3-ubyte"), {{1, 4, 4}, std::vector<uint8_t>(16, 1)}, false);
        gg::io::write_idx(dir.file("bad_labels/t10k-labels-idx1-ubyte"), {{1}, {0}}, false);
        gg::Graph b;
        gg::io::save_safetensors(dir.file("batch_wrong_shape.safetensors"), {{"x", gg::Tensor::zeros({2, 3, 28})}});
        gg::io::save_safetensors(dir.file("batch_no_x.safetensors"), {{"images", gg::Tensor::zeros({2, 1, 28, 28})}});
        // Language models: a text, a checkpoint of a small char_lstm recording its model and
        // that text's vocabulary, token batches.
        std::ofstream(dir.file("text.txt")) << std::string(40, 'a') + "In the beginning God created the heaven.\n";
        const gg::io::TextCorpus corpus = gg::io::load_text_corpus(dir.file("text.txt"));
        const gg::train::CharModelOptions lstm{.embedding = 4, .hidden = 8, .layers = 1};
        auto lm = gg::train::build_char_model(lstm, corpus.vocab.size(), 4, 2, 1, false);
        gg::io::Metadata meta;
        gg::train::record_char_model(meta, "char_lstm", lstm);
        gg::io::put_vocabulary(meta, corpus.vocab);
        gg::io::save_checkpoint(lm->graph->store(), dir.file("lstm.safetensors"), meta);
        gg::Tensor tokens = gg::Tensor::zeros({4, 2}, gg::DType::I64);
        gg::io::save_safetensors(dir.file("tokens.safetensors"), {{"tokens", tokens}});
        tokens.data<int64_t>()[5] = 1000;
        gg::io::save_safetensors(dir.file("tokens_too_large.safetensors"), {{"tokens", tokens}});
        gg::io::save_safetensors(dir.file("tokens_f32.safetensors"), {{"tokens", gg::Tensor::zeros({4, 2})}});
    }
    const std::string d = dir.path.string();
    const std::vector<Case> cases{
        {"", 2, "subcommand is required"},
        {"train", 2, "model is required"},
        {"train nosuch", 2, "unknown model \"nosuch\""},
        {"train lenet5 --batch 0", 2, "batch size must be positive"},
        {"train lenet5 --batch -5", 2, "batch size must be positive"},
        {"train lenet5 --batch 60001", 2, "larger than the 60000 training samples"},
        {"train lenet5 --epochs 0", 2, "epochs must be positive"},
        {"train lenet5 --epochs abc", 2, "--epochs"},
        {"train lenet5 --lr -1", 2, "learning rate"},
        {"train lenet5 --optimizer foo", 2, "unknown optimizer \"foo\""},
        {"train lenet5 --optimizer adam --momentum 0.9", 2, "momentum"},
        {"train lenet5 --schedule bogus", 2, "unknown schedule \"bogus\""},
        {"train lenet5 --clip -1", 2, "clip must be >= 0"},
        {"train lenet5 --augment spin", 2, "unknown augmentation \"spin\""},
        {"train embedding_net --mining hardest", 2, "unknown triplet mining \"hardest\""},
        {"train embedding_net --batch 64", 2, "the batch is P x K"},
        {"train embedding_net --loss contrastive", 2, "embedding_net trains with triplet"},
        {"train embedding_net --distance cosine", 2, "expected squared or euclidean"},
        {"train embedding_net --sec -1", 2, "SEC weight must be finite and >= 0"},
        {"train embedding_net --per-class 1", 2, "K ≥ 2"},
        {"train embedding_net --classes 20 --limit-test 10", 2, "only 10 classes have at least K = 16"},
        {"train lenet5 --augment crop:0", 2, "positive integer"},
        {"train lenet5 --mean 0.5", 2, "--mean and --std go together"},
        {"train lenet5 --mean 0.5 --std 0", 2, "--std must be positive"},
        {"train lenet5 --normalize weird", 2, "--normalize \"weird\""},
        {"train lenet5 --precise-bn -1", 2, "precise_bn must be >= 0"},
        {"train lenet5 --data /nonexistent/folder", 1, "/nonexistent/folder"},
        {"train lenet5 --data " + d + "/junk_data", 1, "not an IDX file"},
        {"train lenet5 --data " + d + "/bad_labels", 1, "labels"},
        {"train lenet5 --resume /nonexistent.safetensors", 1, "no such file"},
        {"train lenet5 --limit-train 256 --resume " + d + "/other_model.safetensors", 1, "does not match the model"},
        {"train lenet5 --limit-train 256 --resume " + d + "/corrupt.safetensors", 1, "corrupt.safetensors"},
        {"train text_cnn", 2, "--corpus fortune-category|language is required"},
        {"train text_cnn --corpus poems", 2, "unknown text corpus \"poems\""},
        {"train text_cnn --corpus language --variant half", 2, "expected rand, static or non-static"},
        {"train fasttext_classifier --corpus language --variant static", 2, "--variant is a text_cnn option"},
        {"train text_cnn --corpus language --variant static", 2, "give --embeddings FILE"},
        {"train unet_seg --augment flip", 2, "--augment is an image-classifier option"},
        {"train yolo_v1 --limit-train 100", 2, "--limit-train is an image-classifier option"},
        {"train text_cnn --corpus language --embeddings " + d + "/missing.vec", 2, "for --variant static or non-static"},
        {"train text_cnn --corpus language --variant non-static --embeddings " + d + "/missing.vec", 1, "missing.vec"},
        {"eval lenet5", 2, "--checkpoint is required"},
        {"eval lenet5 --checkpoint /nonexistent.safetensors", 1, "no such file"},
        {"eval lenet5 --checkpoint " + d + "/other_model.safetensors", 1, "missing"},
        {"eval lenet5 --checkpoint " + d + "/corrupt.safetensors", 1, "corrupt.safetensors"},
        {"eval nosuch --checkpoint x", 2, "unknown model"},
        {"summary nosuch", 2, "unknown model"},
        {"summary lenet5 --input 1x0x28", 2, "--input \"1x0x28\""},
        {"summary lenet5 --input abc", 2, "expected CxHxW"},
        {"summary lenet5 --input 1x2x2", 1, "larger than the padded input"},
        {"summary lenet5 --batch 0", 2, "batch size must be positive"},
        {"dot nosuch", 2, "unknown model"},
        {"gradcheck --op nosuch", 2, "unknown op \"nosuch\""},
        {"logits lenet5 --batch-file /nonexistent.safetensors --output " + d + "/z.safetensors", 1, "no such file"},
        {"logits lenet5 --batch-file " + d + "/batch_wrong_shape.safetensors --output " + d + "/z.safetensors", 2,
         "expected f32[B,C,H,W]"},
        {"logits lenet5 --batch-file " + d + "/batch_no_x.safetensors --output " + d + "/z.safetensors", 2,
         "no tensor named \"x\""},
        {"logits char_lstm --batch-file " + d + "/batch_no_x.safetensors", 2, "no tensor named \"tokens\""},
        {"logits char_lstm --batch-file " + d + "/tokens_f32.safetensors", 2, "expected i64[steps,streams]"},
        {"logits char_lstm --batch-file " + d + "/tokens.safetensors", 2, "need --vocab-size"},
        {"logits char_lstm --batch-file " + d + "/tokens_too_large.safetensors --vocab-size 50", 2,
         "tokens[2, 1] = 1000 is outside the vocabulary [0, 50)"},
        {"logits char_gru --batch-file " + d + "/tokens.safetensors --checkpoint " + d + "/lstm.safetensors", 1,
         "a char_lstm checkpoint, not char_gru"},
        {"logits char_lstm --batch-file " + d + "/tokens.safetensors --checkpoint " + d + "/lstm.safetensors --hidden 8",
         2, "records its own"},
        {"logits char_lstm --batch-file " + d + "/tokens.safetensors --checkpoint " + d + "/other_model.safetensors", 1,
         "not a language-model checkpoint"},
        {"logits lenet5 --batch-file " + d + "/tokens.safetensors --hidden 8", 2, "apply to language models only"},
        {"train char_lstm --text " + d + "/text.txt --init " + d + "/lstm.safetensors --resume " + d +
             "/lstm.safetensors",
         2, "excludes"},
        {"train char_lstm --text " + d + "/text.txt --seq 4 --batch 2 --init " + d + "/other_model.safetensors", 1,
         "not a language-model checkpoint"},
        {"train char_lstm --text " + d + "/text.txt --seq 4 --batch 2 --embedding 4 --hidden 16 --layers 1 --init " + d +
             "/lstm.safetensors",
         1, "the checkpoint's model has hidden 8, this run's has 16"},
        {"train lenet5 --limit-train 256 --init " + d + "/other_model.safetensors", 1, "does not match the model"},
        {"train lenet5 --limit-train 256 --freeze 'conv*,nomatch*'", 2, "pattern \"nomatch*\" matches no parameter"},
        {"train lenet5 --limit-train 256 --freeze '*'", 2, "freezes every parameter"},
        {"train lenet5 --class-subset 5-9 --new-head 5", 2, "--new-head replaces the classifier head of the --init"},
        {"train lenet5 --class-subset 5-9 --new-head 4 --init " + d + "/other_model.safetensors", 2,
         "--new-head 4 but the training data has 5 classes"},
        {"train char_lstm --new-head 5", 2, "apply to zoo image classifiers (lenet5, resnet20, ...), not char_lstm"},
        {"train lenet5 --class-subset 3-12", 2, "class 12 is outside 0-9"},
        {"train lenet5 --class-subset 0-4 --train-per-class 7000", 2, "fewer than the 7000 per class"},
        {"bench train-step --model nosuch", 2, "unknown model"},
        {"bench matmul --m 0", 2, "must be positive"},
        {"bench conv --repeats 0", 2, "must be positive"},
        {"bench lambda-vs-attention --sizes 0", 2, "--sizes must be positive"},
        {"bench overhead --nodes -1", 2, "must be positive"},
        {"train-mlp --steps 0", 2, "--steps must be positive"},
        {"ops --bogus", 2, "--bogus"},
    };
    REQUIRE(cases.size() >= 30);
    for (const Case& c : cases) {
        INFO("graphgrad " << c.args);
        const Outcome o = run_cli(c.args);
        INFO("stderr: " << o.err);
        CHECK(o.status == c.status);
        CHECK_THAT(o.err, Catch::Contains(c.message));
        CHECK_THAT(o.err, !Catch::Contains("internal error"));
    }
}

TEST_CASE("eval of a model trained on a class subset evaluates those classes with its head", "[cli]") {
    gg::testing::TempDir dir("gg_cli_subset");
    const std::string ckpt = dir.file("subset.safetensors"), out = dir.file("out.json");
    auto run = [&](const std::string& args) {
        const std::string cmd = fmt::format("OMP_NUM_THREADS=1 '{}' {} --json > '{}' 2>&1", GG_CLI_PATH, args, out);
        REQUIRE(std::system(cmd.c_str()) == 0);
        std::ifstream in(out);
        return nlohmann::json::parse(in);
    };
    const nlohmann::json trained =
        run("train lenet5 --class-subset 7,3 --limit-train 2000 --batch 64 --epochs 1 --checkpoint " + ckpt);
    const nlohmann::json evaluated = run("eval lenet5 --checkpoint " + ckpt);
    CHECK(evaluated["test_size"].get<int64_t>() == 2000);  // Fashion-MNIST: 1,000 test images per class
    CHECK(evaluated["test_accuracy"].get<double>() == Approx(trained["final_test_accuracy"].get<double>()));
}
