// Errors raised while reading or writing data files (IDX, safetensors, checkpoints). Messages
// name the file and what is wrong, with expected and actual numbers, e.g.
//   train-images-idx3-ubyte.gz: truncated: expected 47040000 bytes of pixel data, got 1024
#pragma once

#include <fmt/format.h>

#include <string>

#include "graphgrad/graph/errors.h"

namespace gg::io {

// A file is missing, unreadable, malformed or does not match what the caller expects.
struct DataError : gg::Error {
    using gg::Error::Error;
};

template <typename... Args>
[[noreturn]] void throw_data(fmt::format_string<Args...> f, Args&&... args) {
    throw DataError(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace gg::io
