// safetensors: exact byte layout of what we write, a file laid out as the reference library
// writes it (as PyTorch's safetensors.torch.save_file would), every validation rule with its
// message, and a fuzz-ish pass: truncation at every byte and corruption of every byte must
// end in a clean DataError or a valid load, never a crash.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>

#include "graphgrad/graph/rng.h"
#include "graphgrad/io/safetensors.h"

using namespace gg;
using namespace gg::io;
using Catch::Matchers::Contains;

namespace {

// A file from a header text and a data buffer, with the header padded as the spec suggests.
std::vector<uint8_t> make_file(std::string header, const std::vector<uint8_t>& data, bool pad = true) {
    while (pad && (8 + header.size()) % 8) header += ' ';
    // One allocation and memcpy: GCC 12 warns falsely about insert() into an 8-byte vector.
    std::vector<uint8_t> out(8 + header.size() + data.size());
    uint64_t n = header.size();
    std::memcpy(out.data(), &n, 8);
    std::memcpy(out.data() + 8, header.data(), header.size());
    if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
    return out;
}

template <typename T>
std::vector<uint8_t> le_bytes(std::vector<T> v) {
    std::vector<uint8_t> out(v.size() * sizeof(T));
    std::memcpy(out.data(), v.data(), out.size());
    return out;
}

SafetensorsFile parse(std::vector<uint8_t> b) { return SafetensorsFile::parse(std::move(b), "test.safetensors"); }

TensorMap sample_tensors() {
    TensorMap m;
    m["conv1.weight"] = Tensor::from_vector<float>({1, -2, 3.5f, 4, 5, 6}, {2, 1, 3, 1});
    m["bn1.running_var"] = Tensor::from_vector<double>({0.25, 1e300}, {2});
    m["bn1.num_batches_tracked"] = Tensor::from_vector<int64_t>({-7}, {});
    m["empty"] = Tensor::zeros({0, 3});
    return m;
}

}  // namespace

TEST_CASE("safetensors round-trips f32, f64, i64, scalars, empty tensors and metadata", "[io]") {
    TensorMap in = sample_tensors();
    SafetensorsFile f = parse(serialize_safetensors(in, {{"epoch", "3"}, {"note", "ünïcode"}}));
    CHECK(f.metadata() == Metadata{{"epoch", "3"}, {"note", "ünïcode"}});
    REQUIRE(f.entries().size() == in.size());
    for (const auto& [name, t] : in) {
        Tensor u = f.tensor(name);
        CHECK(u.desc() == t.desc());
        CHECK(u.to_doubles() == t.to_doubles());
    }
    Tensor dst = Tensor::zeros({2, 1, 3, 1});
    f.copy_into("conv1.weight", dst);
    CHECK(dst.get(2) == 3.5);
    Tensor wrong = Tensor::zeros({6});
    CHECK_THROWS_WITH(f.copy_into("conv1.weight", wrong), Contains("f32[2,1,3,1]") && Contains("f32[6]"));
    CHECK_THROWS_WITH(f.tensor("nope"), Contains("no tensor \"nope\""));
}

TEST_CASE("the writer's bytes: LE length, sorted names, contiguous offsets, 8-byte padding", "[io]") {
    TensorMap m;
    m["b"] = Tensor::from_vector<float>({1, 2}, {2});
    m["a"] = Tensor::from_vector<int64_t>({3}, {1});
    auto bytes = serialize_safetensors(m, {{"epoch", "1"}});
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    CHECK((8 + n) % 8 == 0);
    std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    std::string json = R"({"__metadata__":{"epoch":"1"},"a":{"data_offsets":[0,8],"dtype":"I64","shape":[1]},)"
                       R"("b":{"data_offsets":[8,16],"dtype":"F32","shape":[2]}})";
    CHECK(header.substr(0, json.size()) == json);
    CHECK(header.find_first_not_of(' ', json.size()) == std::string::npos);
    CHECK(bytes.size() == 8 + n + 16);
    CHECK(bytes[8 + n] == 3);  // a's int64 3, little-endian
    float b1;
    std::memcpy(&b1, bytes.data() + 8 + n + 12, 4);
    CHECK(b1 == 2.0f);
}

TEST_CASE("a file laid out like the reference library's output loads (PyTorch interchange)", "[io]") {
    // safetensors.torch.save_file({"conv1.weight": ..., "conv1.bias": ..., "bn1.running_mean": ...,
    // "bn1.num_batches_tracked": ...}, metadata={"format": "pt"}): __metadata__ first, keys in
    // struct order (dtype, shape, data_offsets), tensors ordered by alignment then name (so
    // offsets are not in name order), header padded with spaces.
    std::string header = R"({"__metadata__":{"format":"pt"},)"
                         R"("bn1.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]},)"
                         R"("bn1.running_mean":{"dtype":"F32","shape":[2],"data_offsets":[24,32]},)"
                         R"("conv1.bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
                         R"("conv1.weight":{"dtype":"F32","shape":[2,1,1,1],"data_offsets":[16,24]}})";
    std::vector<uint8_t> data = le_bytes<int64_t>({42});
    for (auto chunk : {std::vector<float>{0.5f, -0.5f}, {1, 2}, {0.1f, 0.2f}}) {
        auto b = le_bytes(chunk);
        data.insert(data.end(), b.begin(), b.end());
    }
    SafetensorsFile f = parse(make_file(header, data));
    CHECK(f.metadata().at("format") == "pt");
    CHECK(f.tensor("bn1.num_batches_tracked").get(0) == 42);
    CHECK(f.tensor("conv1.weight").shape() == Shape{2, 1, 1, 1});
    CHECK(f.tensor("conv1.weight").get(1) == 2.0);
    CHECK(f.tensor("bn1.running_mean").get(0) == Approx(0.1));
    // Unpadded headers (older writers) are fine too.
    CHECK_NOTHROW(parse(make_file(header, data, false)));
}

TEST_CASE("every safetensors validation rule rejects with a message naming what is wrong", "[io]") {
    auto f32x2 = le_bytes<float>({1, 2});
    auto reject = [](std::vector<uint8_t> bytes, const std::string& part) {
        INFO("expecting: " << part);
        CHECK_THROWS_WITH(parse(std::move(bytes)), Contains("test.safetensors") && Contains(part));
    };
    reject({1, 2, 3}, "too short");
    CHECK_NOTHROW(parse(make_file("{}", {})));
    std::vector<uint8_t> big(16, 0);
    big[3] = 0x10;  // header length 2^28
    reject(big, "implausible");
    big[3] = 0;
    big[0] = 100;
    reject(big, "exceeds");
    reject(make_file("[1, 2]", {}), "does not start with");
    reject(make_file(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8])", f32x2), "not valid JSON");
    reject(make_file(R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", {0, 0, 0, 0}),
           "tensor \"a\": dtype BF16 is not supported");
    reject(make_file(R"({"a":{"dtype":"Q9","shape":[2],"data_offsets":[0,8]}})", f32x2), "unknown dtype \"Q9\"");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", f32x2), "not a non-negative");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", f32x2), "not a non-negative");
    reject(make_file(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", f32x2), "shape");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", f32x2), "data_offsets");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", f32x2),
           "f32[3] needs 12 bytes, data_offsets [0, 8] span 8");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", f32x2), "end before they begin");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", f32x2), "run past the 8-byte");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", f32x2),
           "overflows");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                     R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                     f32x2),
           "overlaps");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", f32x2),
           "bytes [0, 4) of the data buffer belong to no tensor");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32x2),
           "has 8 bytes but the tensors cover 4");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                     R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                     f32x2),
           "names \"a\" twice");
    reject(make_file(R"({"__metadata__":{"epoch":3}})", {}), "__metadata__ \"epoch\" is not a string");
    reject(make_file(R"({"a":[1,2]})", {}), "entry is not an object");
    reject(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", {1, 2}), "run past");
    CHECK_THROWS_AS(SafetensorsFile::open("/nonexistent/x.safetensors"), DataError);
    CHECK_THROWS_WITH(serialize_safetensors({{"__metadata__", Tensor::zeros({1})}}), Contains("reserved"));
}

TEST_CASE("truncating or corrupting a valid file anywhere never crashes", "[io]") {
    const auto valid = serialize_safetensors(sample_tensors(), {{"epoch", "12"}});
    REQUIRE_NOTHROW(parse(valid));
    for (std::size_t n = 0; n < valid.size(); ++n) {
        INFO("truncated to " << n << " of " << valid.size() << " bytes");
        CHECK_THROWS_AS(parse(std::vector<uint8_t>(valid.begin(), valid.begin() + static_cast<std::ptrdiff_t>(n))),
                        DataError);
    }
    // Anything but DataError (std::bad_alloc, nlohmann's own exceptions, out_of_range) fails
    // the check; a crash fails the whole run.
    int loaded = 0, rejected = 0;
    auto attempt = [&](std::vector<uint8_t> bytes) {
        try {
            SafetensorsFile f = parse(std::move(bytes));
            for (const auto& [name, e] : f.entries()) f.tensor(name);
            ++loaded;
        } catch (const DataError&) {
            ++rejected;
        }
    };
    const uint8_t kValues[] = {0x00, 0xff, '"', '9', '{', '}', '[', ',', ' ', '-', 0x80};
    for (std::size_t i = 0; i < valid.size(); ++i)
        for (uint8_t v : kValues) {
            auto bad = valid;
            bad[i] = v;
            INFO("byte " << i << " set to " << int(v));
            CHECK_NOTHROW(attempt(bad));
        }
    for (uint64_t k = 0; k < 3000; ++k) {  // several random bytes at once, and random lengths
        auto bad = valid;
        for (int j = 0; j < 4; ++j) bad[random_bits(7, k, j) % bad.size()] = static_cast<uint8_t>(random_bits(8, k, j));
        if (k % 3 == 0) bad.resize(random_bits(9, k, 0) % (bad.size() + 16), 0x20);
        INFO("random corruption " << k);
        CHECK_NOTHROW(attempt(bad));
    }
    CHECK(rejected > 1000);
    CHECK(loaded > 0);  // data bytes and padding may change without breaking the format
}

TEST_CASE("save_safetensors replaces the file atomically and leaves no temp file", "[io]") {
    struct TempDir {
        std::filesystem::path path =
            std::filesystem::temp_directory_path() / ("gg_test_io_st_" + std::to_string(::getpid()));
        TempDir() { std::filesystem::create_directories(path); }
        ~TempDir() { std::filesystem::remove_all(path); }
    } tmp;
    const auto& dir = tmp.path;
    std::string path = (dir / "w.safetensors").string();
    save_safetensors(path, {{"w", Tensor::full({3}, 1.0)}});
    save_safetensors(path, {{"w", Tensor::full({3}, 2.0)}});
    CHECK(SafetensorsFile::open(path).tensor("w").get(2) == 2.0);
    int files = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
    CHECK(files == 1);
    CHECK_THROWS_WITH(save_safetensors((dir / "no/such/dir/x").string(), {}), Contains("cannot create"));
}
