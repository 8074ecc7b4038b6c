// What the rematerialisation passes share (graph/passes/remat.cpp, remat_budget.cpp): which
// nodes may be recomputed, and the schedule that recomputes a chosen set.
//
//   std::vector<char> chosen = passes::checkpointed_nodes(p, passes::recomputable_nodes(p));
//   p.schedule = passes::recompute_schedule(p, base, chosen);
#pragma once

#include <vector>

#include "graphgrad/graph/program.h"

namespace gg::passes {

// By node id: 1 for a forward compute node that may run again in the backward pass: no
// output fetched (fetches are kept anyway), and state it updates only when its op can skip the
// update (OpDef::recomputable_state).
std::vector<char> recomputable_nodes(const Program& p);

// By node id: the recomputable nodes of checkpoint regions, except the regions' outputs.
std::vector<char> checkpointed_nodes(const Program& p, const std::vector<char>& recomputable);

// `base` with every chosen node that a backward (gradient) node reads repeated just before
// that reader's first occurrence; a repeated node's chosen inputs are repeated before it. The
// lower pass then gives backward readers the copies, and the originals die after their last
// forward reader. Each chosen node is recomputed at most once.
Schedule recompute_schedule(const Program& p, const Schedule& base, const std::vector<char>& chosen);

// p.report.schedule / p.report.remat from p.schedule: recomputed nodes and their cost.
void report_recomputation(Program& p, const char* mode);

// A program with p's prune and schedule results (and report) and fresh kernel resources,
// ready to be lowered again with another schedule.
Program scheduled_copy(const Program& p);

}  // namespace gg::passes
