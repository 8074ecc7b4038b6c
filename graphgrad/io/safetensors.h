// The safetensors format (https://github.com/huggingface/safetensors): an 8-byte
// little-endian header length N, N bytes of JSON
//   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, ...,
//    "__metadata__": {"key": "value"}}
// padded with spaces, then the tensor bytes (offsets relative to the end of the header).
// PyTorch, JAX and numpy read and write it, so checkpoints travel between frameworks.
// graphgrad holds f32, f64 and i64 tensors; other dtypes (F16, BF16, ...) are rejected with
// a message naming the tensor. The reader checks everything the format promises (sizes,
// offsets in bounds, contiguous with no overlaps or holes) and throws DataError otherwise.
//
//   gg::io::save_safetensors("w.safetensors", {{"fc1.weight", w}}, {{"epoch", "3"}});
//   gg::io::SafetensorsFile f = gg::io::SafetensorsFile::open("w.safetensors");
//   gg::Tensor w2 = f.tensor("fc1.weight");
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "graphgrad/graph/tensor.h"
#include "graphgrad/io/data_error.h"

namespace gg::io {

using TensorMap = std::map<std::string, Tensor>;
using Metadata = std::map<std::string, std::string>;

// The whole file in bytes (names sorted, data contiguous in that order, header padded so
// the data starts at a multiple of 8).
std::vector<uint8_t> serialize_safetensors(const TensorMap& tensors, const Metadata& metadata = {});

// Writes atomically (temp file, fsync, rename): an interrupted save leaves the old file.
void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata = {});

// A validated safetensors file: open() reads and checks the header and reads tensor data on
// demand (straight into the destination); parse() works on bytes already in memory.
class SafetensorsFile {
public:
    struct Entry {
        DType dtype;
        Shape shape;
        uint64_t begin = 0, end = 0;  // byte range within the data buffer
        TensorDesc desc() const { return {shape, dtype}; }
    };

    static SafetensorsFile open(const std::string& path);
    // `source` names the bytes in error messages (usually the path).
    static SafetensorsFile parse(std::vector<uint8_t> bytes, const std::string& source);

    const std::map<std::string, Entry>& entries() const { return entries_; }
    const Metadata& metadata() const { return metadata_; }
    const std::string& source() const { return source_; }
    bool contains(const std::string& name) const { return entries_.count(name) != 0; }

    Tensor tensor(const std::string& name) const;                // a new tensor holding a copy
    void copy_into(const std::string& name, Tensor& dst) const;  // desc must match exactly
    TensorMap tensors() const;

private:
    const Entry& entry(const std::string& name) const;
    static SafetensorsFile from_header(const char* text, uint64_t n, uint64_t buffer, const std::string& source);

    std::string source_;
    std::vector<uint8_t> bytes_;  // parse(): the whole file
    std::shared_ptr<int> fd_;     // open(): the open file
    uint64_t data_start_ = 0;
    std::map<std::string, Entry> entries_;
    Metadata metadata_;
};

// Creates `path` with `bytes` so that `path` is at every moment either its old content or
// the complete new one: write `path.tmp.<pid>` in the same directory, fsync it, rename it
// over `path`, fsync the directory (so the rename itself survives a power cut).
void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes);
// The same for content in pieces (header, then each tensor's bytes) written back to back.
void write_file_atomic(const std::string& path, std::span<const std::span<const uint8_t>> pieces);

}  // namespace gg::io
