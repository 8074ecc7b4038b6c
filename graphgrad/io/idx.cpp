#include "graphgrad/io/idx.h"

#include <fmt/ranges.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>

namespace gg::io {

namespace {

constexpr uint8_t kUnsignedByte = 0x08;
// Larger than any IDX data set in use (MNIST-style sets are < 100 MB); a corrupt header
// claiming more is rejected before anything is allocated.
constexpr uint64_t kMaxElements = uint64_t{1} << 34;
constexpr unsigned kChunk = 1u << 20;

struct GzCloser {
    void operator()(gzFile_s* f) const { gzclose(f); }
};
using GzFile = std::unique_ptr<gzFile_s, GzCloser>;

std::string dims_str(const std::vector<int64_t>& dims) {
    return dims.empty() ? std::string("(scalar)") : fmt::format("{}", fmt::join(dims, "x"));
}

// gzread with zlib's error state turned into DataError. Returns bytes read (< n at EOF).
std::size_t read_some(gzFile f, const std::string& path, void* buf, std::size_t n) {
    std::size_t got = 0;
    auto* p = static_cast<unsigned char*>(buf);
    while (got < n) {
        unsigned want = static_cast<unsigned>(std::min<std::size_t>(n - got, kChunk));
        int r = gzread(f, p + got, want);
        int err = Z_OK;
        const char* msg = gzerror(f, &err);
        // Z_BUF_ERROR is zlib's "unexpected end of file" inside a gzip stream.
        // zlib inflates ahead of what we ask for, so it cannot say how much content arrived.
        if (err == Z_BUF_ERROR) throw_data("{}: truncated: the gzip stream ends early (zlib: {})", path, msg);
        if (err != Z_OK || r < 0)
            throw_data("{}: corrupt or unreadable file (zlib: {})", path, msg ? msg : "unknown error");
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    return got;
}

}  // namespace

IdxArray read_idx(const std::string& path, int expected_rank) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) throw_data("{}: no such file", path);
    if (!std::filesystem::is_regular_file(path, ec)) throw_data("{}: not a regular file", path);
    errno = 0;
    GzFile f(gzopen(path.c_str(), "rb"));
    if (!f) throw_data("{}: cannot open: {}", path, errno ? std::strerror(errno) : "out of memory");
    gzbuffer(f.get(), 1u << 18);

    unsigned char magic[4];
    std::size_t n = read_some(f.get(), path, magic, 4);
    if (n < 4) throw_data("{}: truncated: expected a 4-byte IDX magic number, got {} bytes", path, n);
    uint32_t magic_value =
        (uint32_t{magic[0]} << 24) | (uint32_t{magic[1]} << 16) | (uint32_t{magic[2]} << 8) | magic[3];
    std::string expected_magic =
        expected_rank > 0
            ? fmt::format("0x{:08x}", (uint32_t{kUnsignedByte} << 8) | static_cast<uint32_t>(expected_rank))
            : std::string("0x000008NN");
    if (magic[0] != 0 || magic[1] != 0)
        throw_data("{}: not an IDX file: magic number 0x{:08x}, expected {}", path, magic_value, expected_magic);
    if (magic[2] != kUnsignedByte)
        throw_data("{}: IDX element type 0x{:02x} is not supported (magic 0x{:08x}, expected {}: unsigned bytes)", path,
                   magic[2], magic_value, expected_magic);
    int rank = magic[3];
    if (rank == 0 || (expected_rank > 0 && rank != expected_rank))
        throw_data("{}: IDX magic 0x{:08x} means {}-D data, expected {} ({}-D)", path, magic_value, rank,
                   expected_magic, expected_rank > 0 ? std::to_string(expected_rank) : std::string("at least 1"));

    IdxArray out;
    unsigned char dim_bytes[4 * 255];
    std::size_t header_dims = 4 * static_cast<std::size_t>(rank);
    n = read_some(f.get(), path, dim_bytes, header_dims);
    if (n < header_dims)
        throw_data("{}: truncated header: expected {} bytes of dimensions, got {}", path, header_dims, n);
    uint64_t total = 1;
    for (int d = 0; d < rank; ++d) {
        const unsigned char* b = dim_bytes + 4 * d;
        uint64_t v = (uint64_t{b[0]} << 24) | (uint64_t{b[1]} << 16) | (uint64_t{b[2]} << 8) | b[3];
        out.dims.push_back(static_cast<int64_t>(v));
        total *= v;  // cannot overflow: at most 2^34 before each multiplication by < 2^32
        if (total > kMaxElements)
            throw_data("{}: implausible IDX dimensions {}... (more than {} elements)", path, dims_str(out.dims),
                       kMaxElements);
    }

    // A plain file's size is known up front: check it before reading anything.
    uint64_t expected_file = 4 + header_dims + total;
    if (gzdirect(f.get())) {
        uint64_t size = std::filesystem::file_size(path, ec);
        if (!ec && size != expected_file)
            throw_data("{}: size mismatch: header says {} = {} bytes of data ({} bytes in all), the file has {} bytes",
                       path, dims_str(out.dims), total, expected_file, size);
    }

    // Read in chunks so a lying gzip header cannot make us allocate more than the data holds.
    out.data.reserve(static_cast<std::size_t>(std::min<uint64_t>(total, uint64_t{64} << 20)));
    while (out.data.size() < total) {
        std::size_t old = out.data.size();
        std::size_t want = static_cast<std::size_t>(std::min<uint64_t>(total - old, kChunk));
        out.data.resize(old + want);
        std::size_t got = read_some(f.get(), path, out.data.data() + old, want);
        out.data.resize(old + got);
        if (got < want) break;
    }
    if (out.data.size() < total)
        throw_data("{}: truncated: header says {} = {} bytes of data, got {}", path, dims_str(out.dims), total,
                   out.data.size());
    unsigned char extra;
    if (read_some(f.get(), path, &extra, 1) != 0)
        throw_data("{}: unexpected data after the {} bytes the header describes ({})", path, total, dims_str(out.dims));
    return out;
}

void write_idx(const std::string& path, const IdxArray& array, bool gzip) {
    if (array.dims.empty() || array.dims.size() > 255) throw_data("{}: IDX needs 1..255 dimensions", path);
    uint64_t total = 1;
    std::vector<unsigned char> bytes{0, 0, kUnsignedByte, static_cast<unsigned char>(array.dims.size())};
    for (int64_t d : array.dims) {
        if (d < 0 || d > 0xffffffffll) throw_data("{}: IDX dimension {} out of range", path, d);
        total *= static_cast<uint64_t>(d);
        for (int s = 24; s >= 0; s -= 8) bytes.push_back(static_cast<unsigned char>(d >> s));
    }
    if (total != array.data.size())
        throw_data("{}: dims {} hold {} elements, data has {}", path, dims_str(array.dims), total, array.data.size());
    bytes.insert(bytes.end(), array.data.begin(), array.data.end());

    // "wb" gzips, "wbT" writes transparently (plain): one code path for both.
    GzFile f(gzopen(path.c_str(), gzip ? "wb" : "wbT"));
    if (!f) throw_data("{}: cannot create: {}", path, std::strerror(errno));
    std::size_t done = 0;
    while (done < bytes.size()) {
        unsigned want = static_cast<unsigned>(std::min<std::size_t>(bytes.size() - done, kChunk));
        if (gzwrite(f.get(), bytes.data() + done, want) != static_cast<int>(want)) throw_data("{}: write failed", path);
        done += want;
    }
    if (gzclose(f.release()) != Z_OK) throw_data("{}: write failed on close", path);
}

}  // namespace gg::io
