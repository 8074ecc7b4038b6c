// safetensors bytes, parsed in memory and opened as a file; every tensor the header promises
// is read back.
#include <vector>

#include "fuzz_util.h"
#include "graphgrad/io/safetensors.h"

namespace {

void read_all(const gg::io::SafetensorsFile& s) {
    for (const auto& [name, e] : s.entries()) {
        gg::Tensor t = s.tensor(name);
        if (t.desc() != e.desc()) std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    gg::fuzz::expect_only_gg_errors(
        [&] { read_all(gg::io::SafetensorsFile::parse(std::vector<uint8_t>(data, data + size), "fuzz")); });
    gg::fuzz::MemFile f(data, size);
    gg::fuzz::expect_only_gg_errors([&] { read_all(gg::io::SafetensorsFile::open(f.path())); });
    return 0;
}
