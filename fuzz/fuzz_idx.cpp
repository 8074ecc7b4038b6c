// IDX files as read_idx sees them: plain, or gzipped when the bytes start with gzip's magic.
#include "fuzz_util.h"
#include "graphgrad/io/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    gg::fuzz::MemFile f(data, size);
    // The expected rank comes from the input too, so both the check and its absence are fuzzed.
    const int rank = size > 0 ? (data[size - 1] % 3 == 0 ? 0 : data[size - 1] % 3 == 1 ? 1 : 3) : 0;
    gg::fuzz::expect_only_gg_errors([&] {
        gg::io::IdxArray a = gg::io::read_idx(f.path(), rank);
        // What a reader returns must be consistent: the element count matches the dims.
        std::size_t n = 1;
        for (int64_t d : a.dims) n *= static_cast<std::size_t>(d);
        if (n != a.data.size() || (rank > 0 && a.dims.size() != static_cast<std::size_t>(rank))) std::abort();
    });
    return 0;
}
