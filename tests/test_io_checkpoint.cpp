// Checkpoints of a ParameterStore: round trip into the existing tensors, validation against
// the model (missing, unexpected, mismatched names; all-or-nothing), the optimizer-state
// options, and atomicity for real: a child process saving in a loop is SIGKILLed at random
// moments and the checkpoint on disk must always load with consistent contents.
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

#include "graphgrad/graph/rng.h"
#include "test_support.h"
#include "graphgrad/io/checkpoint.h"

using namespace gg;
using namespace gg::io;
using Catch::Matchers::Contains;

namespace {


// A small LeNet-like store with PyTorch names, batch-norm state and optimizer state.
void fill_store(ParameterStore& s, double base, bool with_optim = true) {
    auto add = [&](const std::string& name, Shape shape, DType dt, bool trainable) {
        Tensor t(TensorDesc{shape, dt});
        for (int64_t i = 0; i < t.numel(); ++i) t.set(i, base + static_cast<double>(i));
        s.add(name, t, trainable);
    };
    add("conv1.weight", {6, 1, 5, 5}, DType::F32, true);
    add("conv1.bias", {6}, DType::F32, true);
    add("bn1.running_mean", {6}, DType::F32, false);
    add("bn1.num_batches_tracked", {}, DType::I64, false);
    add("fc1.weight", {10, 24}, DType::F64, true);
    if (with_optim) add("optim.conv1.weight.momentum", {6, 1, 5, 5}, DType::F32, false);
}

}  // namespace

TEST_CASE("a checkpoint round-trips into the existing store tensors with its metadata", "[io]") {
    testing::TempDir d("gg_test_io_ckpt");
    ParameterStore saved, loaded;
    fill_store(saved, 1.5);
    fill_store(loaded, 0.0);
    const void* conv_data = loaded.get("conv1.weight").raw();
    save_checkpoint(saved, d.file("c.safetensors"), {{"epoch", "7"}});
    Metadata meta = load_checkpoint(loaded, d.file("c.safetensors"));
    CHECK(meta.at("epoch") == "7");
    CHECK(meta.at("format") == kCheckpointFormat);
    for (const auto& [name, e] : saved.entries()) {
        INFO(name);
        CHECK(loaded.get(name).to_doubles() == e.value.to_doubles());
    }
    CHECK(loaded.get("conv1.weight").raw() == conv_data);  // copied in, not replaced
    // The file is plain safetensors with the store's names and shapes.
    SafetensorsFile f = SafetensorsFile::open(d.file("c.safetensors"));
    CHECK(f.entries().at("conv1.weight").shape == Shape{6, 1, 5, 5});
    CHECK(f.entries().size() == saved.entries().size());
}

TEST_CASE("checkpoint validation lists every offending name and leaves the store untouched", "[io]") {
    testing::TempDir d("gg_test_io_ckpt");
    ParameterStore saved;
    fill_store(saved, 1.0);
    saved.add("extra.weight", Tensor::zeros({2}), true);
    save_checkpoint(saved, d.file("c.safetensors"));

    ParameterStore other;
    fill_store(other, 0.0);
    other.add("fc2.weight", Tensor::zeros({3}), true);
    other.add("fc2.bias", Tensor::zeros({3}), true);
    other.get("conv1.bias") = Tensor::zeros({7});                   // a different model: shape mismatch
    other.get("fc1.weight") = Tensor::zeros({10, 24}, DType::F32);  // dtype mismatch
    CHECK_THROWS_WITH(load_checkpoint(other, d.file("c.safetensors")),
                      Contains("missing 2 [fc2.bias, fc2.weight]") && Contains("unexpected 1 [extra.weight]") &&
                          Contains("conv1.bias (file f32[6], model f32[7])") &&
                          Contains("fc1.weight (file f64[10,24], model f32[10,24])"));
    CHECK(other.get("conv1.weight").get(0) == 0.0);  // nothing was copied

    ParameterStore fewer;
    fill_store(fewer, 0.0);
    CHECK_THROWS_WITH(load_checkpoint(fewer, d.file("c.safetensors")), Contains("unexpected 1 [extra.weight]"));
    load_checkpoint(fewer, d.file("c.safetensors"), {.ignore_unexpected = true});
    CHECK(fewer.get("conv1.weight").get(3) == 4.0);
    CHECK_THROWS_AS(load_checkpoint(fewer, d.file("missing.safetensors")), DataError);
}

TEST_CASE("optimizer state: allowed missing on request, created when the store lacks it", "[io]") {
    testing::TempDir d("gg_test_io_ckpt");
    ParameterStore no_optim;
    fill_store(no_optim, 2.0, false);
    save_checkpoint(no_optim, d.file("weights.safetensors"));
    ParameterStore with_optim;
    fill_store(with_optim, 0.0, true);
    CHECK_THROWS_WITH(load_checkpoint(with_optim, d.file("weights.safetensors")),
                      Contains("missing 1 [optim.conv1.weight.momentum]"));
    load_checkpoint(with_optim, d.file("weights.safetensors"), {.allow_missing_optimizer_state = true});
    CHECK(with_optim.get("conv1.weight").get(0) == 2.0);
    CHECK(with_optim.get("optim.conv1.weight.momentum").get(0) == 0.0);  // kept
    // A weights-only export of a store that has optimizer state.
    save_checkpoint(with_optim, d.file("export.safetensors"), {}, false);
    CHECK_FALSE(SafetensorsFile::open(d.file("export.safetensors")).contains("optim.conv1.weight.momentum"));
    CHECK(SafetensorsFile::open(d.file("export.safetensors")).contains("conv1.weight"));

    // Resuming: optimizers create their state on the first step, so a fresh store has none.
    ParameterStore full;
    fill_store(full, 3.0, true);
    save_checkpoint(full, d.file("full.safetensors"));
    ParameterStore fresh;
    fill_store(fresh, 0.0, false);
    load_checkpoint(fresh, d.file("full.safetensors"));
    REQUIRE(fresh.contains("optim.conv1.weight.momentum"));
    CHECK(fresh.entries().at("optim.conv1.weight.momentum").trainable == false);
    CHECK(fresh.get("optim.conv1.weight.momentum").get(1) == 4.0);
    ParameterStore strict;
    fill_store(strict, 0.0, false);
    CHECK_THROWS_WITH(load_checkpoint(strict, d.file("full.safetensors"), {.create_optimizer_state = false}),
                      Contains("unexpected 1 [optim.conv1.weight.momentum]"));
}

namespace {

// Every element of every entry is `value`, so a torn or mixed file shows up as a mismatch.
void set_all(ParameterStore& s, float value) {
    for (const auto& [name, e] : s.entries()) {
        float* p = e.value.data<float>();
        std::fill(p, p + e.value.numel(), value);
    }
}

ParameterStore big_store() {
    ParameterStore s;
    s.add("layer1.weight", Tensor::zeros({512, 2048}), true);  // 4 MiB
    s.add("layer1.bias", Tensor::zeros({512}), true);
    s.add("optim.layer1.weight.exp_avg", Tensor::zeros({512, 2048}), false);
    return s;
}

}  // namespace

TEST_CASE("SIGKILL during a save always leaves a loadable, consistent previous checkpoint", "[io]") {
    testing::TempDir d("gg_test_io_ckpt");
    const std::string path = d.file("ckpt.safetensors");
    ParameterStore store = big_store();
    set_all(store, 0.0f);
    save_checkpoint(store, path, {{"epoch", "0"}});

    // At least 6 kills, and keep going until 3 of them hit the write-fsync-rename window
    // (a temp file is left behind), so the test proves something on any machine.
    int mid_save_kills = 0, round = 0;
    while (++round <= 6 || (mid_save_kills < 3 && round <= 40)) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        const int first_epoch = round * 100000;
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {  // child: save forever, report each completed save with one byte
            ::close(fds[0]);
            try {
                for (int epoch = first_epoch;; ++epoch) {
                    set_all(store, static_cast<float>(epoch));
                    save_checkpoint(store, path, {{"epoch", std::to_string(epoch)}});
                    char c = 1;
                    if (::write(fds[1], &c, 1) != 1) ::_exit(3);
                }
            } catch (...) {
                ::_exit(2);
            }
        }
        ::close(fds[1]);
        // Wait for one completed save (so the file is this round's), then kill at random.
        pollfd pfd{fds[0], POLLIN, 0};
        REQUIRE(::poll(&pfd, 1, 30000) == 1);
        auto delay = std::chrono::microseconds(random_bits(42, round, 0) % 60000);
        std::this_thread::sleep_for(delay);
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        CHECK((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));  // not an early error exit
        int acked = 0;
        char buf[4096];
        for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) acked += static_cast<int>(n);
        ::close(fds[0]);
        if (std::filesystem::exists(path + ".tmp." + std::to_string(pid))) ++mid_save_kills;

        // The file on disk is the newest save that completed its rename: the last one the
        // child reported, or one more (renamed but killed before it could report).
        ParameterStore check = big_store();
        Metadata meta = load_checkpoint(check, path);
        int epoch = std::stoi(meta.at("epoch"));
        INFO("round " << round << ", killed after " << delay.count() << " us, " << acked << " saves reported");
        CHECK(epoch >= first_epoch + acked - 1);
        CHECK(epoch <= first_epoch + acked);
        for (const auto& [name, e] : check.entries()) {
            const float* p = e.value.data<float>();
            bool consistent = std::all_of(p, p + e.value.numel(), [&](float v) { return v == float(epoch); });
            CHECK(consistent);
        }
    }
    WARN(mid_save_kills << " of " << round - 1 << " kills landed mid-save (temp file left behind)");
    CHECK(mid_save_kills >= 3);

    // Stray temp files from killed savers change nothing: loading and saving still work.
    std::ofstream(path + ".tmp." + std::to_string(::getpid())) << "garbage from a crashed save";
    ParameterStore check = big_store();
    CHECK_NOTHROW(load_checkpoint(check, path));
    set_all(store, 5.0f);
    save_checkpoint(store, path, {{"epoch", "5"}});
    CHECK(load_checkpoint(check, path).at("epoch") == "5");
    CHECK(check.get("layer1.bias").get(511) == 5.0);
}
