// Class subsets of an image dataset, for transfer experiments: keep some classes relabelled
// 0..K−1 in the order given, and take N labelled images per class, drawn reproducibly.
//
//   auto classes = gg::train::parse_class_list("5-9", 10);               // {5, 6, 7, 8, 9}
//   auto test = gg::train::select_classes(data.test, classes);          // labels 0..4
//   auto few = gg::train::take_per_class(gg::train::select_classes(data.train, classes), 100, 1);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graphgrad/io/dataset.h"

namespace gg::train {

// "0-4", "5,7,9", "0-2,8": distinct classes in [0, num_classes), at least two; order kept
// (it defines the new labels). An OptionError names what is wrong.
std::vector<int64_t> parse_class_list(const std::string& text, int64_t num_classes);

// The samples whose label is in `classes`, in their original order, labelled by position in
// `classes`; num_classes becomes classes.size().
io::ImageDataset select_classes(const io::ImageDataset& data, const std::vector<int64_t>& classes);

// n samples of every class, chosen by a shuffle keyed on `seed` (the same seed, the same
// images), kept in their original order. An OptionError when a class has fewer than n.
io::ImageDataset take_per_class(const io::ImageDataset& data, int64_t n, uint64_t seed);

}  // namespace gg::train
