#include "graphgrad/io/text_corpus.h"

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "graphgrad/io/data_error.h"
#include "graphgrad/io/utf8.h"

namespace gg::io {

std::string read_text_file(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(path, ec)) throw_data("{}: no such file", path);
    if (!fs::is_regular_file(path, ec)) throw_data("{}: not a regular file", path);
    std::ifstream f(path, std::ios::binary);
    if (!f) throw_data("{}: cannot open: {}", path, std::strerror(errno));
    std::ostringstream ss;
    ss << f.rdbuf();
    if (f.bad()) throw_data("{}: read failed", path);
    std::string text = std::move(ss).str();
    std::size_t start = 0;
    if (text.rfind("\xEF\xBB\xBF", 0) == 0) start = 3;  // a byte-order mark is not text
    if (text.size() == start) throw_data("{}: the file is empty: a corpus needs text", path);
    if (auto p = find_invalid_utf8(std::string_view(text).substr(start)))
        throw_data("{}: invalid UTF-8 at byte {}: {}", path, p->offset + start, p->reason);
    return start ? text.substr(start) : text;
}

int64_t split_block_count(std::size_t tokens, const SplitFractions& f) {
    if (f.blocks < 0) throw_data("split: {} blocks: the number of blocks must be at least 1 (0: automatic)", f.blocks);
    if (f.blocks != SplitFractions::kAutoBlocks) return f.blocks;
    return std::clamp<int64_t>(static_cast<int64_t>(tokens / 10000), 1, 100);
}

CorpusSplits split_contiguous(std::span<const int64_t> ids, const SplitFractions& f) {
    const double test = 1.0 - f.train - f.valid;
    if (!(f.train >= 0 && f.train <= 1 && f.valid >= 0 && f.valid <= 1) || test < -1e-12)
        throw_data("split fractions train {} and valid {} must lie in [0, 1] and sum to at most 1", f.train, f.valid);
    const int64_t block_count = split_block_count(ids.size(), f);
    CorpusSplits s;
    const auto append = [](std::vector<int64_t>& to, std::span<const int64_t> from) {
        to.insert(to.end(), from.begin(), from.end());
    };
    const auto blocks = static_cast<std::size_t>(block_count);
    for (std::size_t b = 0; b < blocks; ++b) {
        // Block b holds ids [b·n/B, (b+1)·n/B): equal to within one id, none left over.
        const std::size_t begin = b * ids.size() / blocks, end = (b + 1) * ids.size() / blocks;
        const std::span<const int64_t> block = ids.subspan(begin, end - begin);
        const auto n = static_cast<double>(block.size());
        const auto n_train = static_cast<std::size_t>(std::floor(n * f.train));
        const auto n_valid = std::min(block.size() - n_train, static_cast<std::size_t>(std::floor(n * f.valid)));
        append(s.train, block.first(n_train));
        append(s.valid, block.subspan(n_train, n_valid));
        append(s.test, block.subspan(n_train + n_valid));
    }
    auto require = [&](const char* part, double frac, std::size_t got) {
        if (frac > 0 && got == 0)
            throw_data("split: {} tokens in {} block{} leave the {} part ({} of them) empty", ids.size(), block_count,
                       block_count == 1 ? "" : "s", part, frac);
    };
    require("train", f.train, s.train.size());
    require("valid", f.valid, s.valid.size());
    require("test", test > 1e-12 ? test : 0.0, s.test.size());
    return s;
}

TextCorpus load_text_corpus(const std::string& path, const TextCorpusOptions& o) {
    const std::string text = read_text_file(path);
    Vocabulary v = o.level == CorpusLevel::Char ? Vocabulary::characters(text, o.chars) : Vocabulary::words(text, o.words);
    return load_text_corpus(path, v, o.split);
}

TextCorpus load_text_corpus(const std::string& path, const Vocabulary& vocab, const SplitFractions& split) {
    const std::string text = read_text_file(path);
    const std::vector<int64_t> ids = vocab.encode(text, path);
    return TextCorpus{path, vocab, split_contiguous(ids, split), static_cast<int64_t>(ids.size())};
}

StreamBatcher::StreamBatcher(std::span<const int64_t> ids, int64_t batch, int64_t window, LastWindow last)
    : batch_(batch), window_(window), length_(0), last_(last) {
    if (batch < 1 || window < 1) throw_data("stream batcher: batch {} and window {} must be at least 1", batch, window);
    length_ = static_cast<int64_t>(ids.size()) / batch;
    // A window needs an input and its next-token target: at least two tokens per stream.
    if (length_ < 2)
        throw_data("stream batcher: {} tokens are too few for {} streams (at least {} needed)", ids.size(), batch,
                   2 * batch);
    data_.assign(ids.begin(), ids.begin() + batch * length_);
}

int64_t StreamBatcher::num_windows() const {
    const int64_t steps = length_ - 1;  // the last token of a stream is only a target
    return last_ == LastWindow::Drop ? steps / window_ : (steps + window_ - 1) / window_;
}

std::span<const int64_t> StreamBatcher::stream(int64_t b) const {
    if (b < 0 || b >= batch_) throw_data("stream batcher: stream {} is outside [0, {})", b, batch_);
    return {data_.data() + b * length_, static_cast<std::size_t>(length_)};
}

int64_t StreamBatcher::fill(int64_t w, Tensor& inputs, Tensor& targets) const {
    const TensorDesc want{{window_, batch_}, DType::I64};
    if (inputs.desc() != want || targets.desc() != want)
        throw_data("stream batcher: inputs {} and targets {} must both be {}", inputs.desc(), targets.desc(), want);
    if (w < 0 || w >= num_windows()) throw_data("stream batcher: window {} is outside [0, {})", w, num_windows());
    const int64_t t0 = w * window_, valid = std::min(window_, length_ - 1 - t0);
    int64_t* in = inputs.data<int64_t>();
    int64_t* tg = targets.data<int64_t>();
    for (int64_t t = 0; t < window_; ++t)
        for (int64_t b = 0; b < batch_; ++b) {
            const int64_t* s = data_.data() + b * length_ + t0 + t;
            in[t * batch_ + b] = t < valid ? s[0] : 0;
            tg[t * batch_ + b] = t < valid ? s[1] : 0;
        }
    return valid;
}

std::string default_kjv_path() {
    namespace fs = std::filesystem;
    if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return (fs::path(x) / "graphgrad" / "kjv.txt").string();
    if (const char* h = std::getenv("HOME"); h && *h) return (fs::path(h) / ".cache" / "graphgrad" / "kjv.txt").string();
    return "/tmp/graphgrad/kjv.txt";
}

std::string ensure_kjv_text(const std::string& path, const std::string& program) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_regular_file(path, ec) && fs::file_size(path, ec) > 0) return path;
    const fs::path dir = fs::path(path).parent_path();
    if (!dir.empty()) fs::create_directories(dir, ec);
    if (ec) throw_data("{}: cannot create the directory: {}", dir.string(), ec.message());

    // The program name is quoted for the shell; a quote inside it would break out.
    if (program.find('\'') != std::string::npos) throw_data("\"{}\": a program name with a quote", program);
    const std::string cmd = fmt::format("'{}' '{}' 2>/dev/null", program, kKjvPassage);
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) throw_data("cannot run {}: {}", program, std::strerror(errno));
    std::string text;
    char buf[1 << 16];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) text.append(buf, n);
    const int status = ::pclose(p);
    const int code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 127)
        throw_data("cannot run \"{}\": the King James Bible comes from Debian's packages: apt-get install bible-kjv "
                   "bible-kjv-text",
                   program);
    if (code != 0) throw_data("\"{} {}\" failed (exit status {})", program, kKjvPassage, code);
    if (text.empty()) throw_data("\"{} {}\" printed nothing (is bible-kjv-text installed?)", program, kKjvPassage);
    validate_utf8(text, program + " output");
    write_file_atomic(path, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    return path;
}

}  // namespace gg::io
