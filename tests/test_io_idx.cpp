// IDX reader: round trips (plain and gzipped), and every way a file can be wrong (magic,
// element type, rank, truncation at every byte, trailing bytes, corrupt gzip) is a DataError
// that names the file; never a crash.
#include <unistd.h>
#include <zlib.h>  // to build gzip streams the writer would never produce

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "graphgrad/graph/rng.h"
#include "test_support.h"
#include "graphgrad/io/idx.h"

using namespace gg;
using namespace gg::io;
using Catch::Matchers::Contains;

namespace {


std::vector<uint8_t> read_bytes(const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& p, const std::vector<uint8_t>& b) {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

IdxArray random_images(int64_t n, int64_t h, int64_t w, uint64_t seed) {
    IdxArray a{{n, h, w}, {}};
    for (int64_t i = 0; i < n * h * w; ++i) a.data.push_back(static_cast<uint8_t>(random_bits(seed, 1, i)));
    return a;
}

}  // namespace

TEST_CASE("IDX files round-trip plain and gzipped, and gzip is detected by its magic", "[io]") {
    testing::TempDir dir("gg_test_io_idx");
    IdxArray a = random_images(7, 5, 3, 1);
    for (bool gz : {false, true}) {
        std::string p = dir.file(gz ? "a.gz" : "a");
        write_idx(p, a, gz);
        auto bytes = read_bytes(p);
        REQUIRE(bytes.size() >= 2);
        CHECK((bytes[0] == 0x1f && bytes[1] == 0x8b) == gz);
        if (!gz) CHECK(bytes.size() == 4 + 3 * 4 + a.data.size());
        IdxArray b = read_idx(p, 3);
        CHECK(b.dims == a.dims);
        CHECK(b.data == a.data);
    }
    IdxArray labels{{4}, {0, 9, 3, 255}};
    write_idx(dir.file("l"), labels, false);
    CHECK(read_idx(dir.file("l"), 1).data == labels.data);
    // The suffix does not matter: a plain file named .gz reads too.
    write_idx(dir.file("plain.gz"), labels, false);
    CHECK(read_idx(dir.file("plain.gz")).dims == std::vector<int64_t>{4});
}

TEST_CASE("IDX header errors name the file and the expected and actual values", "[io]") {
    testing::TempDir dir("gg_test_io_idx");
    std::string p = dir.file("bad-idx");
    write_bytes(p, {0, 0, 8, 1, 0, 0, 0, 2, 5, 6});  // a valid 1-D file ...
    CHECK_THROWS_WITH(read_idx(p, 3), Contains(p) && Contains("0x00000801") && Contains("0x00000803"));  // ... not 3-D
    write_bytes(p, {0x12, 0x34, 8, 1, 0, 0, 0, 0});
    CHECK_THROWS_WITH(read_idx(p, 1), Contains("not an IDX file") && Contains("0x12340801"));
    write_bytes(p, {0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0});  // floats
    CHECK_THROWS_WITH(read_idx(p, 1), Contains("element type 0x0d is not supported"));
    write_bytes(p, {0, 0, 8, 0});
    CHECK_THROWS_AS(read_idx(p), DataError);
    write_bytes(p, {0, 0, 8, 2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});  // 2^64 elements
    CHECK_THROWS_WITH(read_idx(p), Contains("implausible"));
    write_bytes(p, {0, 0, 8, 1, 0, 0, 0, 2, 5, 6, 7});
    CHECK_THROWS_WITH(read_idx(p, 1), Contains("size mismatch") && Contains("11 bytes"));
    CHECK_THROWS_WITH(read_idx(dir.file("nope"), 1), Contains("nope") && Contains("no such file"));
    CHECK_THROWS_WITH(read_idx(dir.path.string(), 1), Contains("not a regular file"));
}

TEST_CASE("IDX files truncated at every byte are rejected cleanly, plain and gzipped", "[io]") {
    testing::TempDir dir("gg_test_io_idx");
    IdxArray a = random_images(3, 4, 4, 2);
    for (bool gz : {false, true}) {
        std::string full = dir.file(gz ? "full.gz" : "full");
        write_idx(full, a, gz);
        auto bytes = read_bytes(full);
        std::string p = dir.file("cut");
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            write_bytes(p, {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)});
            INFO("gzip " << gz << ", truncated to " << n << " of " << bytes.size() << " bytes");
            CHECK_THROWS_AS(read_idx(p, 3), DataError);
        }
        // Extra data after what the header describes is an error too.
        auto plus = bytes;
        if (!gz) {
            plus.push_back(0);
            write_bytes(p, plus);
            CHECK_THROWS_WITH(read_idx(p, 3), Contains("size mismatch"));
        }
    }
}

TEST_CASE("gzipped IDX with promised-but-missing data or corrupt bytes is a DataError", "[io]") {
    testing::TempDir dir("gg_test_io_idx");
    // A well-formed gzip stream whose IDX header promises 3 images of 4x4 but holds one.
    IdxArray one{{1, 4, 4}, std::vector<uint8_t>(16, 7)};
    write_idx(dir.file("one"), one, false);
    auto plain = read_bytes(dir.file("one"));
    plain[7] = 3;
    write_bytes(dir.file("promise"), plain);
    CHECK_THROWS_WITH(read_idx(dir.file("promise"), 3), Contains("size mismatch") && Contains("48 bytes"));
    gzFile f = gzopen(dir.file("promise.gz").c_str(), "wb");
    REQUIRE(f);
    gzwrite(f, plain.data(), static_cast<unsigned>(plain.size()));
    gzclose(f);
    CHECK_THROWS_WITH(read_idx(dir.file("promise.gz"), 3),
                      Contains("promise.gz") && Contains("truncated") && Contains("48 bytes") && Contains("got 16"));

    IdxArray a = random_images(4, 6, 6, 3);
    write_idx(dir.file("a.gz"), a, true);
    auto gz = read_bytes(dir.file("a.gz"));
    // Bytes 0..9 are the gzip header (magic, flags, mtime, OS): mtime/OS are not checked by
    // anyone. Every later byte is covered by the deflate stream, CRC-32 or length trailer.
    int rejected = 0;
    for (std::size_t i = 10; i < gz.size(); ++i) {
        auto bad = gz;
        bad[i] ^= 0x5a;
        write_bytes(dir.file("bad.gz"), bad);
        INFO("flipped byte " << i << " of " << gz.size());
        try {
            read_idx(dir.file("bad.gz"), 3);
        } catch (const DataError& e) {
            ++rejected;
            CHECK_THAT(e.what(), Contains("bad.gz"));
        }
    }
    CHECK(rejected == static_cast<int>(gz.size()) - 10);
}
