#include "graphgrad/bench/child_process.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace gg::bench {

nlohmann::json in_child(const std::function<nlohmann::json()>& work) {
    int fds[2];
    if (pipe(fds) != 0) return {{"error", std::string("pipe: ") + std::strerror(errno)}};
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) return {{"error", std::string("fork: ") + std::strerror(errno)}};
    if (pid == 0) {
        close(fds[0]);
        std::string out;
        try {
            out = work().dump();
        } catch (const std::exception& e) {
            out = nlohmann::json{{"error", e.what()}}.dump();
        }
        for (std::size_t done = 0; done < out.size();) {
            const ssize_t w = write(fds[1], out.data() + done, out.size() - done);
            if (w <= 0) break;
            done += static_cast<std::size_t>(w);
        }
        _exit(0);  // no atexit handlers or destructors of the parent's objects
    }
    close(fds[1]);
    std::string in;
    char buf[4096];
    for (ssize_t r; (r = read(fds[0], buf, sizeof buf)) != 0;) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        in.append(buf, static_cast<std::size_t>(r));
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(status))
        return {{"error", fmt::format("the measuring child was killed by signal {} ({}){}", WTERMSIG(status),
                                      strsignal(WTERMSIG(status)),
                                      WTERMSIG(status) == SIGKILL ? ", likely the OOM killer" : "")}};
    try {
        return nlohmann::json::parse(in);
    } catch (const std::exception&) {
        return {{"error", "the measuring child exited without a result"}};
    }
}

std::string run_program(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
    if (argv.empty()) throw std::runtime_error("run_program: no program");
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error(fmt::format("run_program {}: pipe: {}", argv[0], std::strerror(errno)));
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error(fmt::format("run_program {}: fork: {}", argv[0], std::strerror(errno)));
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[1]);
        const int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, STDERR_FILENO);
        for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));  // the child's own copy
        std::vector<char*> args;
        for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(fds[1]);
    std::string out;
    char buf[4096];
    for (ssize_t r; (r = read(fds[0], buf, sizeof buf)) != 0;) {
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) break;
        out.append(buf, static_cast<std::size_t>(r));
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        throw std::runtime_error(fmt::format("{} failed ({})", fmt::join(argv, " "),
                                             WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                                               : fmt::format("signal {}", WTERMSIG(status))));
    return out;
}

void reset_peak_rss() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
}

namespace {
std::size_t kib_from(const char* file, const char* key) {
    std::ifstream f(file);
    std::string line;
    const std::size_t len = std::strlen(key);
    while (std::getline(f, line))
        if (line.compare(0, len, key) == 0) return std::stoull(line.substr(len));
    return 0;
}
}  // namespace

std::size_t status_kib(const char* key) { return kib_from("/proc/self/status", key); }
std::size_t meminfo_kib(const char* key) { return kib_from("/proc/meminfo", key); }

}  // namespace gg::bench
