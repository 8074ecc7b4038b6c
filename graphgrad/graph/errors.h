// Exceptions raised by graphgrad. Messages are fmt-formatted and name the op, the node and
// the shapes involved, e.g.  matmul "fc1": inner dimensions differ: [64,784] x [512,256]
#pragma once

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace gg {

// Base of everything graphgrad throws on bad input.
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Thrown by shape rules; Graph::add_node prefixes it with the op and node name.
struct ShapeError : Error {
    using Error::Error;
};

// Building, differentiating or compiling a graph went wrong.
struct GraphError : Error {
    using Error::Error;
};

// A caller's option or setting is invalid (an unknown model or schedule name, a negative
// batch size): the command line turns it into a usage error (exit status 2).
struct OptionError : Error {
    using Error::Error;
};

// Running a compiled graph went wrong (feeds, numerics).
struct RuntimeError : Error {
    using Error::Error;
};

// A compiled program's arena could not be allocated. The message gives the planner's figure,
// the largest buffers and what to change; compile() throws it before anything runs.
struct OutOfMemoryError : RuntimeError {
    using RuntimeError::RuntimeError;
};

template <typename... Args>
[[noreturn]] void throw_shape(fmt::format_string<Args...> f, Args&&... args) {
    throw ShapeError(fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void throw_graph(fmt::format_string<Args...> f, Args&&... args) {
    throw GraphError(fmt::format(f, std::forward<Args>(args)...));
}

template <typename... Args>
[[noreturn]] void throw_runtime(fmt::format_string<Args...> f, Args&&... args) {
    throw RuntimeError(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace gg
