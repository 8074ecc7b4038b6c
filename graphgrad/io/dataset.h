// In-memory image classification data (MNIST / Fashion-MNIST IDX folders) and a batch loader
// that shuffles per epoch, augments (random crop with zero padding, horizontal flip) and
// normalises into the feeds a compiled graph takes: f32 [B,1,H,W] images and i64 [B] labels.
// All randomness is gg::random_bits keyed by (seed, epoch, sample), so an epoch's batches do
// not depend on batch size, thread count or how many epochs ran before.
//
//   auto data = gg::io::load_image_folder();            // Fashion-MNIST from the Debian package
//   gg::io::BatchLoader train(data.train, {.batch_size = 64, .seed = 1, .crop_padding = 2, .hflip = true});
//   for (int64_t epoch = 0; epoch < 10; ++epoch) {
//       train.start_epoch(epoch);
//       for (int64_t b = 0; b < train.num_batches(); ++b) {
//           int64_t valid = train.fill(b, images, labels);   // into preallocated feed tensors
//           ...
//       }
//   }
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "graphgrad/graph/tensor.h"
#include "graphgrad/io/data_error.h"

namespace gg::io {

inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";
inline constexpr float kFashionMnistMean = 0.2860f;
inline constexpr float kFashionMnistStd = 0.3530f;

// Grey-scale images as raw bytes plus labels in [0, num_classes).
struct ImageDataset {
    int64_t count = 0, rows = 0, cols = 0;
    int64_t num_classes = 10;
    std::vector<uint8_t> pixels;  // count * rows * cols, row-major
    std::vector<uint8_t> labels;  // count
    const uint8_t* image(int64_t i) const { return pixels.data() + i * rows * cols; }
};

struct ImageFolder {
    ImageDataset train, test;
};

// Reads an images file (IDX, 3-D) and a labels file (IDX, 1-D) and checks that they agree
// and that every label is below num_classes.
ImageDataset load_idx_pair(const std::string& images_path, const std::string& labels_path, int64_t num_classes = 10);

// Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
// t10k-labels-idx1-ubyte from `dir`, each plain or with a .gz suffix (plain preferred).
ImageFolder load_image_folder(const std::string& dir = kFashionMnistDir, int64_t num_classes = 10);

// Mean and standard deviation of pixel / 255 over every pixel of `data` (the statistics
// torchvision's Normalize is given): Fashion-MNIST's training set gives 0.2860, 0.3530.
struct PixelStats {
    float mean = kFashionMnistMean;
    float std = kFashionMnistStd;
};
PixelStats pixel_statistics(const ImageDataset& data);

// Training-time augmentations, each chosen on its own ("crop,flip"; flips are wrong for digits):
//   crop[:P]  pad by P zero pixels (default 2) and crop back at a random offset
//   flip      flip left-right with probability 1/2
struct Augmentations {
    int64_t crop_padding = 0;
    bool hflip = false;

    // "crop,flip", "crop:4", "flip", "none" or ""; throws OptionError naming an unknown entry.
    static Augmentations parse(const std::string& list);
    std::string str() const;  // the canonical list, "none" when empty
};

// What to do with the final batch when count is not a multiple of batch_size.
enum class LastBatch {
    Drop,     // skip it (training: every batch has the compiled shape)
    Partial,  // a smaller batch
    Pad,      // full shape, rows past `valid` are zero images with label 0 (evaluation with a
              // fixed-shape graph: count only the first `valid` rows)
};

struct LoaderOptions {
    int64_t batch_size = 64;
    uint64_t seed = 0;
    bool shuffle = true;
    LastBatch last_batch = LastBatch::Drop;
    float mean = kFashionMnistMean;  // x = (pixel / 255 - mean) / std
    float std = kFashionMnistStd;
    int64_t crop_padding = 0;  // > 0: pad by this many zero pixels, crop back at random
    bool hflip = false;        // flip each image left-right with probability 1/2
};

class BatchLoader {
public:
    // Keeps a reference to `data`: it must outlive the loader.
    BatchLoader(const ImageDataset& data, LoaderOptions options);

    // Sets the sample order and augmentation draws for `epoch` (a pure function of seed, epoch).
    void start_epoch(int64_t epoch);
    int64_t epoch() const { return epoch_; }
    int64_t num_batches() const;
    int64_t batch_size() const { return options_.batch_size; }
    const std::vector<int64_t>& order() const { return order_; }

    // Writes batch b into `images` (f32 [B,1,H,W]) and `labels` (i64 [B]), which must already
    // have that shape (B = rows in this batch: batch_size, or fewer for a Partial last batch);
    // returns the number of real samples. No allocation: the tensors can be graph feeds.
    int64_t fill(int64_t b, Tensor& images, Tensor& labels) const;

    struct Batch {
        Tensor images, labels;
        int64_t valid = 0;
    };
    Batch batch(int64_t b) const;  // allocating convenience form of fill()

    // Shape batch b has ([rows, 1, H, W]).
    Shape image_shape(int64_t b) const;

private:
    void write_sample(int64_t sample, float* out) const;

    const ImageDataset& data_;
    LoaderOptions options_;
    int64_t epoch_ = 0;
    std::vector<int64_t> order_;
    std::array<float, 256> lut_{};  // pixel byte -> normalised value
};

}  // namespace gg::io
