// Image folder loading and batching on small generated IDX folders: counts and pixels,
// normalisation, per-epoch seeded shuffling, last-batch policies, and augmentation (every
// augmented image is its source shifted by at most the padding, possibly mirrored).
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <set>

#include "graphgrad/graph/rng.h"
#include "test_support.h"
#include "graphgrad/io/dataset.h"
#include "graphgrad/io/idx.h"

using namespace gg;
using namespace gg::io;
using Catch::Matchers::Contains;

namespace {


constexpr int64_t kH = 6, kW = 5;  // not square: a transposed image would show

// Pixel 0 holds the sample index (so a batch row tells which sample it is); the rest are
// random in 1..255, so zero padding is recognisable after a shift.
IdxArray make_images(int64_t n, uint64_t seed) {
    IdxArray a{{n, kH, kW}, {}};
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < kH * kW; ++j)
            a.data.push_back(j == 0 ? static_cast<uint8_t>(i)
                                    : static_cast<uint8_t>(1 + random_bits(seed, i, j) % 255));
    return a;
}

IdxArray make_labels(int64_t n) {
    IdxArray a{{n}, {}};
    for (int64_t i = 0; i < n; ++i) a.data.push_back(static_cast<uint8_t>((i * 7) % 10));
    return a;
}

// Train files gzipped, test files plain: the folder loader must take either.
void write_folder(const testing::TempDir& d, int64_t n_train, int64_t n_test) {
    write_idx(d.file("train-images-idx3-ubyte.gz"), make_images(n_train, 1), true);
    write_idx(d.file("train-labels-idx1-ubyte.gz"), make_labels(n_train), true);
    write_idx(d.file("t10k-images-idx3-ubyte"), make_images(n_test, 2), false);
    write_idx(d.file("t10k-labels-idx1-ubyte"), make_labels(n_test), false);
}

float norm(uint8_t v, float mean = kFashionMnistMean, float std = kFashionMnistStd) {
    return (static_cast<float>(v) / 255.0f - mean) / std;
}

}  // namespace

TEST_CASE("an IDX folder loads with counts, sizes, pixels and labels intact", "[io]") {
    testing::TempDir d("gg_test_io_dataset");
    write_folder(d, 50, 20);
    ImageFolder f = load_image_folder(d.path.string());
    CHECK(f.train.count == 50);
    CHECK(f.test.count == 20);
    CHECK((f.train.rows == kH && f.train.cols == kW));
    CHECK(f.train.pixels == make_images(50, 1).data);
    CHECK(f.test.pixels == make_images(20, 2).data);
    CHECK(f.test.labels == make_labels(20).data);
}

TEST_CASE("folder and pair errors: missing files, count mismatch, labels out of range", "[io]") {
    testing::TempDir d("gg_test_io_dataset");
    CHECK_THROWS_WITH(load_image_folder(d.file("absent")), Contains("no such directory"));
    write_folder(d, 10, 10);
    std::filesystem::remove(d.file("t10k-labels-idx1-ubyte"));
    CHECK_THROWS_WITH(load_image_folder(d.path.string()), Contains("t10k-labels-idx1-ubyte") && Contains("neither"));
    write_idx(d.file("t10k-labels-idx1-ubyte"), make_labels(9), false);
    CHECK_THROWS_WITH(load_image_folder(d.path.string()),
                      Contains("count mismatch") && Contains("10 images") && Contains("9 labels"));
    CHECK_THROWS_WITH(load_idx_pair(d.file("train-images-idx3-ubyte.gz"), d.file("train-labels-idx1-ubyte.gz"), 5),
                      Contains("label 7 at index 1 is out of range [0, 5)"));
    // Images and labels swapped: the rank check catches it.
    CHECK_THROWS_WITH(load_idx_pair(d.file("train-labels-idx1-ubyte.gz"), d.file("train-images-idx3-ubyte.gz")),
                      Contains("0x00000801") && Contains("0x00000803"));
}

TEST_CASE("unshuffled batches are the normalised images in order with i64 labels", "[io]") {
    testing::TempDir d("gg_test_io_dataset");
    write_folder(d, 50, 20);
    ImageFolder f = load_image_folder(d.path.string());
    BatchLoader loader(f.train, {.batch_size = 8, .shuffle = false, .mean = 0.5f, .std = 0.25f});
    CHECK(loader.num_batches() == 6);  // Drop: 50 / 8
    auto b = loader.batch(1);
    CHECK(b.images.desc() == TensorDesc{{8, 1, kH, kW}, DType::F32});
    CHECK(b.labels.desc() == TensorDesc{{8}, DType::I64});
    CHECK(b.valid == 8);
    for (int64_t i = 0; i < 8; ++i) {
        int64_t s = 8 + i;
        CHECK(b.labels.data<int64_t>()[i] == f.train.labels[static_cast<std::size_t>(s)]);
        for (int64_t j = 0; j < kH * kW; ++j)
            REQUIRE(b.images.data<float>()[i * kH * kW + j] == norm(f.train.image(s)[j], 0.5f, 0.25f));
    }
    Tensor wrong = Tensor::zeros({8, 1, kW, kH});
    CHECK_THROWS_AS(loader.fill(0, wrong, b.labels), gg::Error);
    CHECK_THROWS_AS(loader.batch(6), gg::Error);
}

TEST_CASE("the last batch is dropped, partial or padded as asked", "[io]") {
    testing::TempDir d("gg_test_io_dataset");
    write_folder(d, 50, 20);
    ImageFolder f = load_image_folder(d.path.string());
    BatchLoader partial(f.train, {.batch_size = 16, .last_batch = LastBatch::Partial});
    REQUIRE(partial.num_batches() == 4);
    auto last = partial.batch(3);
    CHECK(last.images.shape() == Shape{2, 1, kH, kW});
    CHECK(last.valid == 2);
    BatchLoader pad(f.train, {.batch_size = 16, .last_batch = LastBatch::Pad});
    auto padded = pad.batch(3);
    CHECK(padded.images.shape() == Shape{16, 1, kH, kW});
    CHECK(padded.valid == 2);
    for (int64_t i = 2 * kH * kW; i < 16 * kH * kW; ++i) REQUIRE(padded.images.data<float>()[i] == 0.0f);
    BatchLoader small(f.test, {.batch_size = 64});
    CHECK(small.num_batches() == 0);
}

TEST_CASE("shuffling visits every sample once per epoch, reproducibly per (seed, epoch)", "[io]") {
    testing::TempDir d("gg_test_io_dataset");
    write_folder(d, 50, 20);
    ImageFolder f = load_image_folder(d.path.string());
    BatchLoader a(f.train, {.batch_size = 7, .seed = 11, .last_batch = LastBatch::Partial});
    BatchLoader b(f.train, {.batch_size = 7, .seed = 11, .last_batch = LastBatch::Partial});
    BatchLoader c(f.train, {.batch_size = 7, .seed = 12, .last_batch = LastBatch::Partial});
    a.start_epoch(3);
    b.start_epoch(3);
    c.start_epoch(3);
    CHECK(a.order() == b.order());
    CHECK(a.order() != c.order());
    std::set<int64_t> seen;
    for (int64_t k = 0; k < a.num_batches(); ++k) {
        auto batch = a.batch(k);
        for (int64_t i = 0; i < batch.valid; ++i) {
            float first = batch.images.data<float>()[i * kH * kW];
            auto sample = static_cast<int64_t>(std::lround((first * kFashionMnistStd + kFashionMnistMean) * 255.0f));
            CHECK(sample == a.order()[static_cast<std::size_t>(k * 7 + i)]);
            CHECK(batch.labels.data<int64_t>()[i] == f.train.labels[static_cast<std::size_t>(sample)]);
            seen.insert(sample);
        }
    }
    CHECK(seen.size() == 50);
    auto epoch3 = a.order();
    a.start_epoch(4);
    CHECK(a.order() != epoch3);
    a.start_epoch(3);  // going back gives the same order: nothing depends on history
    CHECK(a.order() == epoch3);
}

TEST_CASE("augmentation shifts within the padding with zero fill and mirrors about half", "[io]") {
    testing::TempDir d("gg_test_io_dataset");
    write_folder(d, 200, 10);
    ImageDataset train = load_image_folder(d.path.string()).train;
    const int64_t p = 2;
    BatchLoader loader(train, {.batch_size = 200, .seed = 5, .shuffle = false, .crop_padding = p, .hflip = true});
    loader.start_epoch(1);
    auto b = loader.batch(0);
    int flips = 0, unshifted = 0;
    std::set<std::pair<int64_t, int64_t>> shifts;
    for (int64_t s = 0; s < 200; ++s) {
        const float* out = b.images.data<float>() + s * kH * kW;
        const uint8_t* src = train.image(s);
        int matches = 0;
        for (int flip = 0; flip < 2; ++flip)
            for (int64_t dy = -p; dy <= p; ++dy)
                for (int64_t dx = -p; dx <= p; ++dx) {
                    bool same = true;
                    for (int64_t y = 0; y < kH && same; ++y)
                        for (int64_t x = 0; x < kW && same; ++x) {
                            int64_t sy = y + dy, sx = (flip ? kW - 1 - x : x) + dx;
                            bool in = sy >= 0 && sy < kH && sx >= 0 && sx < kW;
                            same = out[y * kW + x] == norm(in ? src[sy * kW + sx] : 0);
                        }
                    if (same) {
                        ++matches;
                        flips += flip;
                        unshifted += dy == 0 && dx == 0;
                        shifts.insert({dy, dx});
                    }
                }
        INFO("sample " << s);
        REQUIRE(matches == 1);  // exactly one (shift, flip) explains the output
    }
    CHECK(flips > 60);
    CHECK(flips < 140);
    CHECK(shifts.size() == 25);  // all (2p+1)^2 offsets occur in 200 draws
    CHECK(unshifted < 30);

    // Augmentation is keyed by (seed, epoch, sample): batch size does not change it.
    BatchLoader other(train, {.batch_size = 8, .seed = 5, .shuffle = false, .crop_padding = p, .hflip = true});
    other.start_epoch(1);
    auto b8 = other.batch(3);
    for (int64_t i = 0; i < 8 * kH * kW; ++i)
        REQUIRE(b8.images.data<float>()[i] == b.images.data<float>()[24 * kH * kW + i]);
    other.start_epoch(2);
    auto next_epoch = other.batch(3);
    CHECK(std::vector<float>(next_epoch.images.span<float>().begin(), next_epoch.images.span<float>().end()) !=
          std::vector<float>(b8.images.span<float>().begin(), b8.images.span<float>().end()));
}

// The real data set (apt-get install dataset-fashion-mnist). Hidden: run with
//   gg_tests "[fashion-mnist]"
TEST_CASE("the Fashion-MNIST package loads 60000 + 10000 images", "[.][fashion-mnist]") {
    if (!std::filesystem::exists(kFashionMnistDir)) {
        WARN("no " << kFashionMnistDir << ": apt-get install dataset-fashion-mnist");
        return;
    }
    auto t0 = std::chrono::steady_clock::now();
    ImageFolder f = load_image_folder();
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    WARN("Fashion-MNIST loaded in " << seconds << " s");
    CHECK(f.train.count == 60000);
    CHECK(f.test.count == 10000);
    CHECK((f.train.rows == 28 && f.train.cols == 28));
    std::vector<int64_t> per_class(10);
    for (uint8_t l : f.train.labels) ++per_class[l];
    for (int64_t c : per_class) CHECK(c == 6000);
    double sum = 0;
    for (uint8_t v : f.train.pixels) sum += v;
    CHECK(sum / static_cast<double>(f.train.pixels.size()) / 255.0 == Approx(kFashionMnistMean).epsilon(0.01));
    BatchLoader loader(f.train, {.batch_size = 128, .seed = 1, .crop_padding = 2, .hflip = true});
    t0 = std::chrono::steady_clock::now();
    Tensor images(TensorDesc{{128, 1, 28, 28}, DType::F32}), labels(TensorDesc{{128}, DType::I64});
    for (int64_t k = 0; k < loader.num_batches(); ++k) loader.fill(k, images, labels);
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    WARN("one augmented epoch of batches in " << seconds << " s");
}
