#include "graphgrad/train/class_subset.h"

#include <algorithm>
#include <numeric>
#include <sstream>

#include <fmt/format.h>

#include "graphgrad/graph/errors.h"
#include "graphgrad/graph/rng.h"

namespace gg::train {

namespace {

int64_t parse_class(const std::string& text, const std::string& whole, int64_t num_classes) {
    std::size_t used = 0;
    long long v = -1;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size())
        throw OptionError(fmt::format("classes \"{}\": \"{}\" is not a class number", whole, text));
    if (v < 0 || v >= num_classes)
        throw OptionError(fmt::format("classes \"{}\": class {} is outside 0-{}", whole, v, num_classes - 1));
    return v;
}

io::ImageDataset take_indices(const io::ImageDataset& data, const std::vector<int64_t>& idx) {
    io::ImageDataset d;
    d.count = static_cast<int64_t>(idx.size());
    d.rows = data.rows;
    d.cols = data.cols;
    d.num_classes = data.num_classes;
    const int64_t size = data.rows * data.cols;
    d.pixels.reserve(static_cast<std::size_t>(d.count * size));
    for (int64_t i : idx) {
        d.pixels.insert(d.pixels.end(), data.image(i), data.image(i) + size);
        d.labels.push_back(data.labels[static_cast<std::size_t>(i)]);
    }
    return d;
}

}  // namespace

std::vector<int64_t> parse_class_list(const std::string& text, int64_t num_classes) {
    std::vector<int64_t> out;
    std::stringstream in(text);
    std::string part;
    while (std::getline(in, part, ',')) {
        const std::size_t dash = part.find('-', 1);
        const int64_t lo = parse_class(part.substr(0, dash), text, num_classes);
        const int64_t hi = dash == std::string::npos ? lo : parse_class(part.substr(dash + 1), text, num_classes);
        if (hi < lo) throw OptionError(fmt::format("classes \"{}\": range {} runs backwards", text, part));
        for (int64_t c = lo; c <= hi; ++c) {
            if (std::find(out.begin(), out.end(), c) != out.end())
                throw OptionError(fmt::format("classes \"{}\": class {} is listed twice", text, c));
            out.push_back(c);
        }
    }
    if (out.size() < 2) throw OptionError(fmt::format("classes \"{}\": a classifier needs at least 2 classes", text));
    return out;
}

io::ImageDataset select_classes(const io::ImageDataset& data, const std::vector<int64_t>& classes) {
    std::vector<int> new_label(static_cast<std::size_t>(std::max<int64_t>(data.num_classes, 1)), -1);
    for (std::size_t k = 0; k < classes.size(); ++k) {
        if (classes[k] < 0 || classes[k] >= data.num_classes)
            throw OptionError(fmt::format("class {} is outside the data's 0-{}", classes[k], data.num_classes - 1));
        new_label[static_cast<std::size_t>(classes[k])] = static_cast<int>(k);
    }
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < data.count; ++i)
        if (new_label[data.labels[static_cast<std::size_t>(i)]] >= 0) idx.push_back(i);
    io::ImageDataset d = take_indices(data, idx);
    for (auto& l : d.labels) l = static_cast<uint8_t>(new_label[l]);
    d.num_classes = static_cast<int64_t>(classes.size());
    return d;
}

io::ImageDataset take_per_class(const io::ImageDataset& data, int64_t n, uint64_t seed) {
    if (n < 1) throw OptionError(fmt::format("images per class must be positive, got {}", n));
    std::vector<std::vector<int64_t>> by_class(static_cast<std::size_t>(data.num_classes));
    for (int64_t i = 0; i < data.count; ++i) by_class[data.labels[static_cast<std::size_t>(i)]].push_back(i);
    std::vector<int64_t> idx;
    for (std::size_t c = 0; c < by_class.size(); ++c) {
        auto& members = by_class[c];
        if (static_cast<int64_t>(members.size()) < n)
            throw OptionError(fmt::format("class {} has {} images, fewer than the {} per class asked for", c, members.size(), n));
        // Fisher–Yates on keyed draws: reproducible, independent of other classes' sizes.
        for (std::size_t i = members.size() - 1; i > 0; --i) {
            const auto j = static_cast<std::size_t>(random_bits(seed, 0x7065'7263ULL + c, i) % (i + 1));
            std::swap(members[i], members[j]);
        }
        idx.insert(idx.end(), members.begin(), members.begin() + n);
    }
    std::sort(idx.begin(), idx.end());
    return take_indices(data, idx);
}

}  // namespace gg::train
