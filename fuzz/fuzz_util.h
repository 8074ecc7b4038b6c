// Shared by the libFuzzer harnesses: the fuzz input as a real file path (a memfd, so the
// readers' file code runs with no disk I/O), and the rule every harness enforces: a reader
// may only answer bad bytes with gg::Error (DataError and friends); anything else —
// a crash, another exception type, a sanitizer report — is a finding.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "graphgrad/graph/errors.h"

namespace gg::fuzz {

// A file holding exactly `size` bytes of `data`, named /proc/self/fd/N. One memfd serves every
// execution (truncated and rewritten each time): creating one per input made the kernel's
// side of memfd_create and close the bulk of each execution's time.
class MemFile {
public:
    MemFile(const uint8_t* data, std::size_t size) {
        static const int fd = ::memfd_create("gg_fuzz", 0);
        if (fd < 0 || ::ftruncate(fd, 0) != 0) std::abort();
        std::size_t done = 0;
        while (done < size) {
            ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
            if (n <= 0) std::abort();
            done += static_cast<std::size_t>(n);
        }
        path_ = "/proc/self/fd/" + std::to_string(fd);
    }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

// Runs f; gg::Error is the accepted answer to bad input; any other exception is a finding.
template <typename F>
void expect_only_gg_errors(F&& f) {
    try {
        f();
    } catch (const gg::Error&) {
    } catch (const std::exception& e) {
        std::fprintf(stderr, "finding: a %s escaped instead of a gg::Error: %s\n", typeid(e).name(), e.what());
        std::abort();
    }
}

}  // namespace gg::fuzz
