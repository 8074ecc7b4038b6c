// The fuzz harnesses' inputs, replayed through the same readers in the normal test build:
// every seed in fuzz/corpus/ is a valid file that must load, and every reproducer a fuzzer
// ever found (tests/data/fuzz/<harness>/, copied there by hand from build-fuzz/findings/)
// must be answered with a gg::Error, never a crash or another exception.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <functional>

#include "graphgrad/graph/graph.h"
#include "graphgrad/io/checkpoint.h"
#include "graphgrad/io/idx.h"
#include "graphgrad/io/safetensors.h"
#include "graphgrad/io/text_corpus.h"
#include "graphgrad/io/word_vectors.h"
#include "graphgrad/io/vocabulary.h"
#include "graphgrad/optim/adam.h"
#include "graphgrad/optim/reduce_lr_on_plateau.h"
#include "graphgrad/train/schedule_by_name.h"

using namespace gg;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> files_in(const std::string& dir) {
    std::vector<std::string> out;
    if (fs::is_directory(dir))
        for (const auto& e : fs::directory_iterator(dir))
            if (e.is_regular_file()) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

// What fuzz/fuzz_checkpoint.cpp does with its input.
void resume_from(const std::string& path) {
    Graph g;
    Value w = g.parameter("fc.weight", {3, 2}), b = g.parameter("fc.bias", {3});
    optim::Adam opt(g, {w, b});
    optim::ReduceLROnPlateau plateau(opt, {});
    io::Metadata meta = io::load_checkpoint(g.store(), path);
    opt.check_state(path);
    const int64_t epoch = io::metadata_int(meta, "epoch", path).value_or(0);
    (void)io::metadata_double(meta, "best_metric", path);
    if (epoch > 0) train::resume_schedule(&plateau, epoch, meta, path);
}

// What fuzz/fuzz_text_corpus.cpp does with its input: the level from the first byte, and the
// bytes as a vocabulary's JSON when they open like an object.
void read_text(const std::string& path) {
    const std::string bytes = io::read_text_file(path);
    io::TextCorpusOptions o;
    std::ifstream f(path, std::ios::binary);
    const int first = f.get();
    o.level = first != EOF && (first % 2) ? io::CorpusLevel::Word : io::CorpusLevel::Char;
    io::load_text_corpus(path, o);
    if (first == '{') io::Vocabulary::from_json(bytes, path);
}

struct Reader {
    std::string harness;
    std::function<void(const std::string&)> read;
};

const std::vector<Reader>& readers() {
    static const std::vector<Reader> r{
        {"idx", [](const std::string& p) { io::read_idx(p); }},
        {"safetensors", [](const std::string& p) { io::SafetensorsFile::open(p).tensors(); }},
        {"checkpoint", resume_from},
        {"text_corpus", read_text},
        {"word_vectors", [](const std::string& p) { io::read_word_vectors(p); }},
    };
    return r;
}

}  // namespace

TEST_CASE("every fuzz seed is a valid input its reader accepts", "[io][fuzz]") {
    std::size_t n = 0;
    for (const Reader& r : readers())
        for (const std::string& f : files_in(std::string(GG_SOURCE_DIR) + "/fuzz/corpus/" + r.harness)) {
            INFO(f);
            CHECK_NOTHROW(r.read(f));
            ++n;
        }
    CHECK(n >= 12);  // the seed corpora are checked in: a missing folder must not pass silently
}

TEST_CASE("every fuzz finding is answered with a gg::Error", "[io][fuzz]") {
    for (const Reader& r : readers())
        for (const std::string& f : files_in(std::string(GG_SOURCE_DIR) + "/tests/data/fuzz/" + r.harness)) {
            INFO(f);
            CHECK_THROWS_AS(r.read(f), gg::Error);
        }
}
