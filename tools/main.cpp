// graphgrad: the command-line program (ARCHITECTURE.md §7). One file per subcommand; this
// file only wires them into CLI11 and turns errors into messages and exit statuses:
//   0 success, 1 a check failed or graphgrad raised an error, 2 bad usage.
//
//   graphgrad ops --json
//   graphgrad gradcheck --all
//   graphgrad bench overhead --nodes 1000
//   graphgrad train lenet5 --epochs 10
#include <exception>
#include <vector>

#include <fmt/format.h>

#include "cli_common.h"
#include "graphgrad/graph/errors.h"
#include "graphgrad/version.h"

int main(int argc, char** argv) {
    CLI::App app{
        "graphgrad: a define-then-run computation-graph framework with reverse-mode autodiff.\n"
        "Every subcommand has --help and prints JSON with --json.",
        "graphgrad"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Print help for every subcommand and exit");
    app.set_version_flag("--version", std::string("graphgrad ") + gg::version());

    std::vector<gg::cli::Command> commands;
    commands.push_back(gg::cli::add_ops_command(app));
    commands.push_back(gg::cli::add_gradcheck_command(app));
    commands.push_back(gg::cli::add_train_mlp_command(app));
    commands.push_back(gg::cli::add_train_command(app));
    commands.push_back(gg::cli::add_eval_command(app));
    commands.push_back(gg::cli::add_summary_command(app));
    commands.push_back(gg::cli::add_dot_command(app));
    commands.push_back(gg::cli::add_logits_command(app));
    commands.push_back(gg::cli::add_sample_command(app));
    commands.push_back(gg::cli::add_compile_report_command(app));
    commands.push_back(gg::cli::add_neighbors_command(app));

    CLI::App* bench = app.add_subcommand("bench", "Speed and memory benchmarks");
    bench->require_subcommand(1);
    commands.push_back(gg::cli::add_bench_overhead_command(*bench));
    commands.push_back(gg::cli::add_bench_matmul_command(*bench));
    commands.push_back(gg::cli::add_bench_conv_command(*bench));
    commands.push_back(gg::cli::add_bench_mlp_command(*bench));
    commands.push_back(gg::cli::add_bench_train_step_command(*bench));
    commands.push_back(gg::cli::add_bench_lambda_command(*bench));
    commands.push_back(gg::cli::add_bench_compile_command(*bench));
    commands.push_back(gg::cli::add_bench_remat_command(*bench));
    commands.push_back(gg::cli::add_bench_rnn_command(*bench));

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // CLI11 has its own exit codes (e.g. 106, 109); we keep one for every usage error.
        int code = app.exit(e);
        return code == 0 ? 0 : 2;
    }

    try {
        for (const auto& c : commands)
            if (c.app->parsed()) return c.run();
        return 2;  // unreachable: require_subcommand(1) guarantees a choice
    } catch (const gg::cli::UsageError& e) {
        fmt::print(stderr, "graphgrad: error: {}\nRun with --help for more information.\n", e.what());
        return 2;
    } catch (const gg::Error& e) {
        fmt::print(stderr, "graphgrad: error: {}\n", e.what());
        return 1;
    } catch (const std::exception& e) {  // a bug or a library failure, not the user's input
        fmt::print(stderr, "graphgrad: internal error: {}\n", e.what());
        return 1;
    }
}
