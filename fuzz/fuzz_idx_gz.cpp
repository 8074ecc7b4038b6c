// The IDX parser behind gzip: the input is compressed first, so every mutation reaches the
// header and size checks after decompression (fuzz_idx covers corrupt gzip streams).
#include <zlib.h>

#include <vector>

#include "fuzz_util.h"
#include "graphgrad/io/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    z_stream z{};
    // windowBits 15 + 16: a gzip wrapper, what gzopen reads.
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
    std::vector<uint8_t> out(deflateBound(&z, static_cast<uLong>(size)) + 32);
    z.next_in = const_cast<Bytef*>(data);
    z.avail_in = static_cast<uInt>(size);
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) std::abort();
    out.resize(z.total_out);
    deflateEnd(&z);
    gg::fuzz::MemFile f(out.data(), out.size());
    gg::fuzz::expect_only_gg_errors([&] {
        gg::io::IdxArray a = gg::io::read_idx(f.path(), 3);
        if (a.dims.size() != 3) std::abort();
    });
    return 0;
}
