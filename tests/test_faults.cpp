// Faults that must give a clear error and lose nothing: a program whose arena cannot be
// allocated (an injected arena limit, and a real allocation failure under RLIMIT_AS in a child
// process) fails in compile() with the planner's figure, the largest buffers and a hint; a
// checkpoint that cannot be written (a full disk, simulated by RLIMIT_FSIZE in a child; a
// missing directory) names the problem and leaves the previous checkpoint byte for byte.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "graphgrad/io/checkpoint.h"
#include "graphgrad/io/data_error.h"
#include "graphgrad/ops/ops.h"
#include "test_support.h"

using namespace gg;
using Catch::Matchers::Contains;

namespace {

// Runs `body` in a forked child and returns its exit status (or 128 + signal). The child
// never returns into Catch: it leaves through _exit.
int in_child(const std::function<int()>& body) {
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::alarm(120);  // a child stuck (e.g. in a runtime that fork left inconsistent) fails, never hangs
        int code = 99;
        try {
            code = body();
        } catch (...) {
            code = 98;
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A training-like program with one dominant activation: x [n, 256] → h = tanh(x·w) → loss.
struct BigProgram {
    Graph g;
    Value x, w, loss, dw;
    explicit BigProgram(int64_t n) {
        x = g.input("x", {n, 256});
        w = g.parameter("w", {256, 256}, init::constant(0.01));
        Value h = tanh(matmul(x, w, "hidden"));
        loss = mean(h * h);
        dw = grad(loss, {w})[0];
    }
};

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool has_temporaries(const std::filesystem::path& dir) {
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp.") != std::string::npos) return true;
    return false;
}

}  // namespace

TEST_CASE("an arena over the limit fails in compile() with the plan's figure, the largest buffers and a hint",
          "[faults][memory]") {
    BigProgram p(4096);  // h and its gradient: 4 MiB each
    CompiledGraph fits = compile(p.g, {p.loss, p.dw});
    const std::size_t peak = fits.peak_bytes();
    REQUIRE(peak > (8u << 20));
    CHECK_NOTHROW(compile(p.g, {p.loss, p.dw}, {.arena_limit_bytes = peak}));
    try {
        compile(p.g, {p.loss, p.dw}, {.arena_limit_bytes = peak - 1});
        FAIL("compile() accepted an arena over its limit");
    } catch (const OutOfMemoryError& e) {
        const std::string what = e.what();
        INFO(what);
        CHECK_THAT(what, Contains(fmt::format("arena of {:.1f} MiB", static_cast<double>(peak) / (1 << 20))));
        CHECK_THAT(what, Contains("exceeds the arena limit"));
        CHECK_THAT(what, Contains("Largest buffers: \"") && Contains("4.0 MiB"));
        CHECK_THAT(what, Contains("smaller batch") && Contains("--memory-budget"));
    }
}

TEST_CASE("a real allocation failure (RLIMIT_AS in a child) is an OutOfMemoryError, not std::bad_alloc",
          "[faults][memory]") {
    const int status = in_child([] {
        BigProgram p(int64_t{1} << 22);  // 4 GiB per [n, 256] f32 activation
        rlimit lim{};
        ::getrlimit(RLIMIT_AS, &lim);
        // The address space in use now plus 1 GiB: the graph fits, the arena cannot.
        std::ifstream status_file("/proc/self/status");
        std::string line;
        std::size_t vm_kib = 0;
        while (std::getline(status_file, line))
            if (line.rfind("VmSize:", 0) == 0) vm_kib = std::stoul(line.substr(7));
        if (vm_kib == 0) return 3;
        lim.rlim_cur = static_cast<rlim_t>(vm_kib) * 1024 + (rlim_t{1} << 30);
        if (::setrlimit(RLIMIT_AS, &lim) != 0) return 4;
        try {
            compile(p.g, {p.loss, p.dw});
        } catch (const OutOfMemoryError& e) {
            const std::string what = e.what();
            return what.find("could not be allocated") != std::string::npos && what.find("\"hidden\"") != std::string::npos
                       ? 0
                       : 5;
        } catch (const std::bad_alloc&) {
            return 6;
        }
        return 7;  // compiled: the limit did not bite
    });
    CHECK(status == 0);
}

TEST_CASE("a checkpoint write that fails (disk full, missing folder) names it and keeps the previous file",
          "[faults][io]") {
    testing::TempDir dir;
    const std::string path = dir.file("model.safetensors");
    Graph g;
    Value w = g.parameter("w", {4096}, init::constant(1.0));
    io::save_checkpoint(g.store(), path, {{"epoch", "1"}});
    const std::string before = file_bytes(path);
    REQUIRE(before.size() > 16384);
    g.store().get(w.name()).set(0, 2.0);

    SECTION("the disk fills up mid-write (RLIMIT_FSIZE)") {
        const int status = in_child([&] {
            std::signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG instead of a signal
            rlimit lim{8192, 8192};
            if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) return 3;
            try {
                io::save_checkpoint(g.store(), path, {{"epoch", "2"}});
            } catch (const io::DataError& e) {
                const std::string what = e.what();
                return what.find("cannot save: write of") != std::string::npos &&
                               what.find(std::strerror(EFBIG)) != std::string::npos &&
                               what.find("model.safetensors is unchanged") != std::string::npos
                           ? 0
                           : 4;
            }
            return 5;
        });
        CHECK(status == 0);
    }
    SECTION("the folder is gone") {
        CHECK_THROWS_WITH(io::save_checkpoint(g.store(), dir.file("missing/model.safetensors")),
                          Contains("cannot save: cannot create") && Contains("No such file or directory"));
    }
    CHECK(file_bytes(path) == before);
    CHECK_FALSE(has_temporaries(dir.path));
    CHECK(io::load_checkpoint(g.store(), path).at("epoch") == "1");
    CHECK(g.store().get(w.name()).get(0) == 1.0);
}
