#include "graphgrad/io/dataset.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "graphgrad/graph/rng.h"
#include "graphgrad/io/idx.h"

namespace gg::io {

namespace {

// Distinct random streams for the two per-epoch draws, so shuffling and augmentation are
// independent of each other.
uint64_t stream(const char* what, int64_t epoch) {
    return hash_combine(hash_string(what, std::strlen(what)), static_cast<uint64_t>(epoch));
}

std::string find_idx(const std::string& dir, const std::string& name) {
    namespace fs = std::filesystem;
    fs::path plain = fs::path(dir) / name;
    fs::path gz = fs::path(dir) / (name + ".gz");
    std::error_code ec;
    if (fs::is_regular_file(plain, ec)) return plain.string();
    if (fs::is_regular_file(gz, ec)) return gz.string();
    throw_data("{}: neither {} nor {}.gz found (expected the four MNIST-format IDX files there)", dir, name, name);
}

}  // namespace

ImageDataset load_idx_pair(const std::string& images_path, const std::string& labels_path, int64_t num_classes) {
    if (num_classes < 1 || num_classes > 256) throw_data("num_classes must be in [1, 256], got {}", num_classes);
    IdxArray images = read_idx(images_path, 3);
    IdxArray labels = read_idx(labels_path, 1);
    if (images.dims[0] != labels.dims[0])
        throw_data("count mismatch: {} holds {} images, {} holds {} labels", images_path, images.dims[0], labels_path,
                   labels.dims[0]);
    if (images.dims[1] == 0 || images.dims[2] == 0)
        throw_data("{}: images are {}x{}: expected non-empty images", images_path, images.dims[1], images.dims[2]);
    for (std::size_t i = 0; i < labels.data.size(); ++i)
        if (labels.data[i] >= num_classes)
            throw_data("{}: label {} at index {} is out of range [0, {})", labels_path, labels.data[i], i, num_classes);
    ImageDataset d;
    d.count = images.dims[0];
    d.rows = images.dims[1];
    d.cols = images.dims[2];
    d.num_classes = num_classes;
    d.pixels = std::move(images.data);
    d.labels = std::move(labels.data);
    return d;
}

ImageFolder load_image_folder(const std::string& dir, int64_t num_classes) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) throw_data("{}: no such directory", dir);
    ImageFolder f;
    f.train =
        load_idx_pair(find_idx(dir, "train-images-idx3-ubyte"), find_idx(dir, "train-labels-idx1-ubyte"), num_classes);
    f.test =
        load_idx_pair(find_idx(dir, "t10k-images-idx3-ubyte"), find_idx(dir, "t10k-labels-idx1-ubyte"), num_classes);
    if (f.train.rows != f.test.rows || f.train.cols != f.test.cols)
        throw_data("{}: training images are {}x{}, test images {}x{}", dir, f.train.rows, f.train.cols, f.test.rows,
                   f.test.cols);
    return f;
}

PixelStats pixel_statistics(const ImageDataset& data) {
    if (data.count == 0 || data.pixels.empty()) throw_data("pixel statistics of an empty data set");
    // Integer histogram: exact, and the moments follow from 256 bins.
    std::array<uint64_t, 256> hist{};
    for (uint8_t p : data.pixels) ++hist[p];
    double n = 0, sum = 0, sq = 0;
    for (int v = 0; v < 256; ++v) {
        const double c = static_cast<double>(hist[static_cast<std::size_t>(v)]), x = v / 255.0;
        n += c;
        sum += c * x;
        sq += c * x * x;
    }
    const double mean = sum / n, var = std::max(0.0, sq / n - mean * mean);
    if (!(var > 0)) throw_data("pixel statistics: every pixel has the value {}, the standard deviation is 0", mean * 255);
    return {static_cast<float>(mean), static_cast<float>(std::sqrt(var))};
}

Augmentations Augmentations::parse(const std::string& list) {
    Augmentations a;
    if (list.empty() || list == "none") return a;
    std::size_t start = 0;
    while (start <= list.size()) {
        std::size_t end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        const std::string item = list.substr(start, end - start);
        if (item == "flip" || item == "hflip") {
            a.hflip = true;
        } else if (item == "crop") {
            a.crop_padding = 2;
        } else if (item.rfind("crop:", 0) == 0) {
            const std::string n = item.substr(5);
            std::size_t used = 0;
            long long p = -1;
            try {
                p = std::stoll(n, &used);
            } catch (const std::exception&) {
            }
            if (used != n.size() || p < 1) throw OptionError(fmt::format("augmentation \"{}\": the crop padding must be a positive integer", item));
            a.crop_padding = p;
        } else {
            throw OptionError(
                fmt::format("unknown augmentation \"{}\" in \"{}\" (known: crop, crop:P, flip, none)", item, list));
        }
        start = end + 1;
    }
    return a;
}

std::string Augmentations::str() const {
    std::string s;
    if (crop_padding > 0) s = crop_padding == 2 ? "crop" : fmt::format("crop:{}", crop_padding);
    if (hflip) s += s.empty() ? "flip" : ",flip";
    return s.empty() ? "none" : s;
}

BatchLoader::BatchLoader(const ImageDataset& data, LoaderOptions options) : data_(data), options_(options) {
    if (options_.batch_size < 1) throw_runtime("BatchLoader: batch_size must be positive, got {}", options_.batch_size);
    if (!(options_.std > 0) || !std::isfinite(options_.mean))
        throw_runtime("BatchLoader: need std > 0 and a finite mean, got mean {} std {}", options_.mean, options_.std);
    if (options_.crop_padding < 0 || options_.crop_padding > std::min(data.rows, data.cols))
        throw_runtime("BatchLoader: crop_padding {} must be in [0, {}]", options_.crop_padding,
                      std::min(data.rows, data.cols));
    // Normalisation as a table: 256 possible inputs, so no division per pixel. Padding is a
    // raw 0 pixel before normalising, as torchvision's RandomCrop(padding) + Normalize does.
    for (int v = 0; v < 256; ++v) lut_[v] = (static_cast<float>(v) / 255.0f - options_.mean) / options_.std;
    start_epoch(0);
}

void BatchLoader::start_epoch(int64_t epoch) {
    epoch_ = epoch;
    order_.resize(static_cast<std::size_t>(data_.count));
    for (int64_t i = 0; i < data_.count; ++i) order_[static_cast<std::size_t>(i)] = i;
    if (!options_.shuffle) return;
    uint64_t s = stream("shuffle", epoch);
    for (int64_t i = data_.count - 1; i > 0; --i) {  // Fisher-Yates
        auto j = static_cast<int64_t>(random_bits(options_.seed, s, static_cast<uint64_t>(i)) %
                                      static_cast<uint64_t>(i + 1));
        std::swap(order_[static_cast<std::size_t>(i)], order_[static_cast<std::size_t>(j)]);
    }
}

int64_t BatchLoader::num_batches() const {
    int64_t b = options_.batch_size;
    return options_.last_batch == LastBatch::Drop ? data_.count / b : (data_.count + b - 1) / b;
}

Shape BatchLoader::image_shape(int64_t b) const {
    int64_t rows = options_.batch_size;
    if (options_.last_batch == LastBatch::Partial) rows = std::min(rows, data_.count - b * options_.batch_size);
    return {rows, 1, data_.rows, data_.cols};
}

// One sample, augmented and normalised, into out[rows * cols].
void BatchLoader::write_sample(int64_t sample, float* out) const {
    const int64_t h = data_.rows, w = data_.cols, p = options_.crop_padding;
    uint64_t bits = random_bits(options_.seed, stream("augment", epoch_), static_cast<uint64_t>(sample));
    const auto span = static_cast<uint64_t>(2 * p + 1);
    const int64_t dy = p > 0 ? static_cast<int64_t>(bits % span) - p : 0;
    const int64_t dx = p > 0 ? static_cast<int64_t>((bits >> 20) % span) - p : 0;
    const bool flip = options_.hflip && ((bits >> 62) & 1);
    const uint8_t* src = data_.image(sample);
    for (int64_t y = 0; y < h; ++y) {
        int64_t sy = y + dy;
        for (int64_t x = 0; x < w; ++x) {
            int64_t sx = (flip ? w - 1 - x : x) + dx;  // flip the crop window, then shift
            bool inside = sy >= 0 && sy < h && sx >= 0 && sx < w;
            out[y * w + x] = lut_[inside ? src[sy * w + sx] : 0];
        }
    }
}

int64_t BatchLoader::fill(int64_t b, Tensor& images, Tensor& labels) const {
    if (b < 0 || b >= num_batches()) throw_runtime("BatchLoader: batch {} out of range [0, {})", b, num_batches());
    Shape shape = image_shape(b);
    if (images.desc() != TensorDesc{shape, DType::F32} || labels.desc() != TensorDesc{{shape[0]}, DType::I64})
        throw_runtime("BatchLoader: batch {} needs images f32{} and labels i64[{}], got {} and {}", b, shape_str(shape),
                      shape[0], images.desc(), labels.desc());
    const int64_t start = b * options_.batch_size;
    const int64_t valid = std::min(options_.batch_size, data_.count - start);
    const int64_t plane = data_.rows * data_.cols;
    float* img = images.data<float>();
    int64_t* lab = labels.data<int64_t>();
    for (int64_t i = 0; i < valid; ++i) {
        int64_t sample = order_[static_cast<std::size_t>(start + i)];
        write_sample(sample, img + i * plane);
        lab[i] = data_.labels[static_cast<std::size_t>(sample)];
    }
    for (int64_t i = valid; i < shape[0]; ++i) {  // LastBatch::Pad
        std::fill(img + i * plane, img + (i + 1) * plane, 0.0f);
        lab[i] = 0;
    }
    return valid;
}

BatchLoader::Batch BatchLoader::batch(int64_t b) const {
    if (b < 0 || b >= num_batches()) throw_runtime("BatchLoader: batch {} out of range [0, {})", b, num_batches());
    Shape shape = image_shape(b);
    Batch out{Tensor(TensorDesc{shape, DType::F32}), Tensor(TensorDesc{{shape[0]}, DType::I64}), 0};
    out.valid = fill(b, out.images, out.labels);
    return out;
}

}  // namespace gg::io
