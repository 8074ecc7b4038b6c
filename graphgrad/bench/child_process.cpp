#include "graphgrad/bench/child_process.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

namespace gg::bench {

namespace {

void write_all(int fd, const std::string& s) {
    std::size_t done = 0;
    while (done < s.size()) {
        const ssize_t n = ::write(fd, s.data() + done, s.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        done += static_cast<std::size_t>(n);
    }
}

std::size_t status_kib(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::size_t n = std::strlen(key);
    while (std::getline(f, line))
        if (line.compare(0, n, key) == 0 && line.size() > n && line[n] == ':') return std::stoull(line.substr(n + 1));
    return 0;
}

}  // namespace

std::size_t rss_bytes() { return status_kib("VmRSS") * 1024; }
std::size_t peak_rss_bytes() { return status_kib("VmHWM") * 1024; }
std::size_t anonymous_rss_bytes() { return status_kib("RssAnon") * 1024; }

std::size_t anonymous_peak_rss_bytes() {
    const std::size_t peak = status_kib("VmHWM"), mapped = status_kib("RssFile") + status_kib("RssShmem");
    return (peak - std::min(peak, mapped)) * 1024;
}

void reset_peak_rss() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
}

std::string run_in_child(const std::function<std::string()>& f) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error(fmt::format("run_in_child: pipe: {}", std::strerror(errno)));
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error(fmt::format("run_in_child: fork: {}", std::strerror(errno)));
    if (pid == 0) {
        ::close(fds[0]);
        int status = 0;
        std::string out;
        try {
            out = f();
        } catch (const std::exception& e) {
            out = e.what();
            status = 3;
        } catch (...) {
            out = "unknown exception";
            status = 3;
        }
        write_all(fds[1], out);
        ::close(fds[1]);
        ::_exit(status);  // no atexit handlers or static destructors of the parent's state
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return out;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 3) throw std::runtime_error(out);
    throw std::runtime_error(fmt::format("measurement child {} (status {:#x}){}", WIFSIGNALED(status) ? "was killed by signal " + std::to_string(WTERMSIG(status)) : "failed", status, out.empty() ? "" : ": " + out));
}

}  // namespace gg::bench
