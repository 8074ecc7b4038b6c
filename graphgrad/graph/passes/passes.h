// compile()'s passes, each a function from program to program (graph/program.h), run in this
// order by compile() (graph/executor.cpp) and configured by CompileOptions:
//
//   Program p = passes::prune(g, fetches, options);   // what the fetches need
//   p = passes::schedule(std::move(p));               // the execution order
//   p = passes::lower(std::move(p));                  // kernels, layouts, conversions, workspaces
//   p = passes::plan_memory(std::move(p));            // lifetimes → offsets in one arena
//   CompiledGraph cg = passes::allocate_and_bind(std::move(p));
//
// Each records what it did in p.report (CompileReport). A new pass (rematerialisation,
// fusion) goes between schedule and lower: it rewrites p.schedule, which validate_schedule()
// checks.
#pragma once

#include <vector>

#include "graphgrad/graph/executor.h"
#include "graphgrad/graph/program.h"

namespace gg::passes {

// Checks the fetches, keeps every node some fetch depends on, decides training vs inference
// and checks that state updated in place lives outside the arena.
Program prune(const Graph& g, const std::vector<Value>& fetches, const CompileOptions& options);

// Orders the kept compute nodes (CompileOptions::schedule).
Program schedule(Program p);

// Throws unless p.schedule is runnable: every kept compute node appears, every input is
// produced before it is read, and nodes that update state appear once.
void validate_schedule(const Program& p);

// Steps with kernels (fast or reference) in schedule order; values with layouts and sizes;
// layout conversions and workspaces (graph/layout.h, graph/workspace.h).
Program lower(Program p);

// Recomputes forward values in the backward pass instead of keeping them alive: the nodes of
// checkpoint regions (graph/checkpoint.h) are repeated in p.schedule just before their first
// backward reader. (CompileOptions::memory_budget is fitted by fit_memory_budget, which runs
// this, lower and plan_memory until the arena fits.)
Program rematerialize(Program p);

// rematerialize + lower + plan_memory, recomputing more forward values (chosen greedily,
// graph/passes/remat_budget.cpp) until the planned arena fits CompileOptions::memory_budget;
// throws MemoryBudgetError when it cannot.
Program fit_memory_budget(Program p);

// Lifetimes of arena values and scratch buffers over the steps, planned into one arena
// (graph/memory_plan.h).
Program plan_memory(Program p);

// "at step 812 (matmul "x") 34.1 MiB are alive; the largest: ..." — the buffers filling a
// planned program's arena at its fullest step (for errors and diagnostics).
std::string describe_peak(const Program& p, std::size_t largest = 5);

// "12.3 MiB": sizes in the passes' messages.
std::string mib(std::size_t bytes);

// Allocates the arena (unless CompileOptions::allocate is false) and binds every step's
// pointers: the program becomes a CompiledGraph.
CompiledGraph allocate_and_bind(Program p);

}  // namespace gg::passes
