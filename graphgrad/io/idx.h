// The IDX format of MNIST and Fashion-MNIST: a 4-byte magic (0x00 0x00, type code, number of
// dimensions), one big-endian uint32 per dimension, then the elements in row-major order.
// Only unsigned bytes (type 0x08) occur in these data sets, so only they are read. Files may
// be gzipped or plain; zlib detects the gzip magic and reads both, and every size is checked
// exactly, so a truncated, padded or corrupt file is a DataError, never a crash.
//
//   gg::io::IdxArray images = gg::io::read_idx("train-images-idx3-ubyte.gz", 3);
//   images.dims;         // {60000, 28, 28}
//   images.data[0];      // first pixel, 0..255
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "graphgrad/io/data_error.h"

namespace gg::io {

struct IdxArray {
    std::vector<int64_t> dims;
    std::vector<uint8_t> data;  // product(dims) bytes, row-major
};

// Reads an unsigned-byte IDX file. expected_rank > 0 also checks the number of dimensions
// (3 for images, 1 for labels). Throws DataError naming the file and the problem.
IdxArray read_idx(const std::string& path, int expected_rank = 0);

// Writes an unsigned-byte IDX file, gzipped when `gzip` (tests and tools generate data sets).
void write_idx(const std::string& path, const IdxArray& array, bool gzip);

}  // namespace gg::io
