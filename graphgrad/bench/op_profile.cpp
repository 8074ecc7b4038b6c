#include "graphgrad/bench/op_profile.h"

#include <algorithm>
#include <map>
#include <string>

#include "graphgrad/graph/op_def.h"

namespace gg::bench {

nlohmann::json op_profile(const Graph& g, const CompiledGraph& step, int runs) {
    std::map<std::string, std::pair<double, int>> by_op;
    const auto& ns = step.step_nanoseconds();
    for (std::size_t i = 0; i < ns.size(); ++i) {
        const StepInfo& s = step.steps()[i];
        const OpDef& op = *g.node(s.node).op;
        std::string name = s.conversion ? "(layout conversion)" : op.name;
        if (!s.conversion && !s.fast_kernel && op.has_fast_kernel()) name += " (reference)";
        by_op[name].first += ns[i] / runs / 1e6;
        by_op[name].second += 1;
    }
    std::vector<std::pair<std::string, std::pair<double, int>>> rows(by_op.begin(), by_op.end());
    std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.first > b.second.first; });
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [name, v] : rows) out.push_back({{"op", name}, {"ms", v.first}, {"steps", v.second}});
    return out;
}

}  // namespace gg::bench
