#include "graphgrad/io/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

namespace gg::io {

// The format is little-endian; on a big-endian host every element would need swapping.
static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace {

using json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; so do we, before allocating.
constexpr uint64_t kMaxHeader = 100'000'000;

const char* st_dtype(DType t) {
    switch (t) {
        case DType::F32:
            return "F32";
        case DType::F64:
            return "F64";
        case DType::I64:
            return "I64";
    }
    return "?";
}

DType parse_dtype(const std::string& s, const std::string& src, const std::string& name) {
    if (s == "F32") return DType::F32;
    if (s == "F64") return DType::F64;
    if (s == "I64") return DType::I64;
    static const char* kOther[] = {"BOOL", "U8",  "I8",  "U16", "I16",     "F16",
                                   "BF16", "U32", "I32", "U64", "F8_E4M3", "F8_E5M2"};
    for (const char* o : kOther)
        if (s == o)
            throw_data("{}: tensor \"{}\": dtype {} is not supported (graphgrad holds F32, F64, I64)", src, name, s);
    throw_data("{}: tensor \"{}\": unknown dtype \"{}\"", src, name, s);
}

// The 8-byte length and the padded JSON header; the tensors' bytes follow in name order.
std::string make_header(const TensorMap& tensors, const Metadata& metadata) {
    json header = json::object();
    uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {  // std::map: sorted names, contiguous offsets
        if (name == "__metadata__") throw_data("safetensors: \"__metadata__\" is reserved, not a tensor name");
        if (!t.defined()) throw_data("safetensors: tensor \"{}\" has no data", name);
        header[name] = {
            {"dtype", st_dtype(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.bytes()}}};
        offset += t.bytes();
    }
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::string text;
    try {
        text = header.dump();
    } catch (const json::exception& e) {  // e.g. a name or metadata value that is not UTF-8
        throw_data("safetensors: cannot encode the header: {}", e.what());
    }
    // Pad with spaces so the data starts 8-byte aligned (mmap readers can use it in place).
    while ((8 + text.size()) % 8) text += ' ';
    uint64_t n = text.size();
    std::string out(8, '\0');
    std::memcpy(out.data(), &n, 8);
    return out + text;
}

// pread until done; a file that shrank since we checked its size is a DataError.
void read_at(int fd, const std::string& path, void* dst, uint64_t n, uint64_t offset) {
    auto* p = static_cast<char*>(dst);
    while (n > 0) {
        ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) throw_data("{}: read failed at offset {}: {}", path, offset, std::strerror(errno));
        if (r == 0) throw_data("{}: file ended at offset {} ({} bytes short)", path, offset, n);
        p += r;
        n -= static_cast<uint64_t>(r);
        offset += static_cast<uint64_t>(r);
    }
}

std::span<const uint8_t> as_bytes(const void* p, std::size_t n) { return {static_cast<const uint8_t*>(p), n}; }

}  // namespace

std::vector<uint8_t> serialize_safetensors(const TensorMap& tensors, const Metadata& metadata) {
    std::string header = make_header(tensors, metadata);
    std::vector<uint8_t> out(header.begin(), header.end());
    for (const auto& [name, t] : tensors) {
        auto b = as_bytes(t.raw(), t.bytes());
        out.insert(out.end(), b.begin(), b.end());
    }
    return out;
}

void save_safetensors(const std::string& path, const TensorMap& tensors, const Metadata& metadata) {
    // Straight from the tensors to the file: no second copy of a large checkpoint in memory.
    std::string header = make_header(tensors, metadata);
    std::vector<std::span<const uint8_t>> pieces{as_bytes(header.data(), header.size())};
    for (const auto& [name, t] : tensors) pieces.push_back(as_bytes(t.raw(), t.bytes()));
    write_file_atomic(path, pieces);
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw_data("{}: no such file", path);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_data("{}: cannot open: {}", path, std::strerror(errno));
    // The descriptor stays open: tensors are read from this inode even if a new checkpoint
    // is renamed over the path meanwhile, so what we read is one consistent file.
    auto shared_fd = std::shared_ptr<int>(new int(fd), [](int* p) {
        ::close(*p);
        delete p;
    });
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_data("{}: cannot stat: {}", path, std::strerror(errno));
    const auto size = static_cast<uint64_t>(st.st_size);
    uint8_t len[8];
    if (size < 8) throw_data("{}: {} bytes: too short for the 8-byte header length", path, size);
    read_at(fd, path, len, 8, 0);
    uint64_t n;
    std::memcpy(&n, len, 8);
    if (n > kMaxHeader) throw_data("{}: header length {} is implausible (limit {})", path, n, kMaxHeader);
    if (n > size - 8) throw_data("{}: header length {} exceeds the {} bytes that follow it", path, n, size - 8);
    std::string header(n, '\0');
    read_at(fd, path, header.data(), n, 8);
    SafetensorsFile f = from_header(header.data(), n, size - 8 - n, path);
    f.fd_ = std::move(shared_fd);
    return f;
}

SafetensorsFile SafetensorsFile::parse(std::vector<uint8_t> bytes, const std::string& src) {
    if (bytes.size() < 8) throw_data("{}: {} bytes: too short for the 8-byte header length", src, bytes.size());
    uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    const uint64_t after_len = bytes.size() - 8;
    if (n > kMaxHeader) throw_data("{}: header length {} is implausible (limit {})", src, n, kMaxHeader);
    if (n > after_len) throw_data("{}: header length {} exceeds the {} bytes that follow it", src, n, after_len);
    SafetensorsFile f = from_header(reinterpret_cast<const char*>(bytes.data() + 8), n, after_len - n, src);
    f.bytes_ = std::move(bytes);
    return f;
}

SafetensorsFile SafetensorsFile::from_header(const char* text, uint64_t n, uint64_t buffer, const std::string& src) {
    SafetensorsFile f;
    f.source_ = src;
    f.data_start_ = 8 + n;
    if (n == 0 || text[0] != '{') throw_data("{}: the header does not start with '{{'", src);

    // Duplicate names would make one tensor silently shadow another; nlohmann keeps the last.
    std::string duplicate;
    std::set<std::string> seen;
    auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::key && depth == 1) {
            auto key = parsed.get<std::string>();
            if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
        }
        return true;
    };
    json header;
    try {
        header = json::parse(text, text + n, on_event);
    } catch (const json::exception& e) {
        throw_data("{}: the header is not valid JSON: {}", src, e.what());
    }
    if (!duplicate.empty()) throw_data("{}: the header names \"{}\" twice", src, duplicate);
    if (!header.is_object()) throw_data("{}: the header is not a JSON object", src);

    for (const auto& [name, v] : header.items()) {
        if (name == "__metadata__") {
            if (!v.is_object()) throw_data("{}: __metadata__ is not an object", src);
            for (const auto& [k, s] : v.items()) {
                if (!s.is_string()) throw_data("{}: __metadata__ \"{}\" is not a string", src, k);
                f.metadata_[k] = s.get<std::string>();
            }
            continue;
        }
        if (!v.is_object()) throw_data("{}: tensor \"{}\": entry is not an object", src, name);
        auto dtype = v.find("dtype"), shape = v.find("shape"), offsets = v.find("data_offsets");
        if (dtype == v.end() || !dtype->is_string())
            throw_data("{}: tensor \"{}\": missing or non-string dtype", src, name);
        if (shape == v.end() || !shape->is_array())
            throw_data("{}: tensor \"{}\": missing or non-array shape", src, name);
        if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2 || !(*offsets)[0].is_number_unsigned() ||
            !(*offsets)[1].is_number_unsigned())
            throw_data("{}: tensor \"{}\": data_offsets must be two non-negative integers", src, name);
        Entry e;
        e.dtype = parse_dtype(dtype->get<std::string>(), src, name);
        uint64_t count = 1;
        bool overflow = false;
        for (const json& d : *shape) {
            if (!d.is_number_unsigned() || d.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
                throw_data("{}: tensor \"{}\": shape {} has a dimension that is not a non-negative integer", src, name,
                           shape->dump());
            uint64_t dim = d.get<uint64_t>();
            overflow |= __builtin_mul_overflow(count, dim, &count);
            e.shape.push_back(static_cast<int64_t>(dim));
        }
        uint64_t expected = 0;
        overflow |= __builtin_mul_overflow(count, dtype_size(e.dtype), &expected);
        e.begin = (*offsets)[0].get<uint64_t>();
        e.end = (*offsets)[1].get<uint64_t>();
        if (overflow) throw_data("{}: tensor \"{}\": shape {} overflows", src, name, shape->dump());
        if (e.end < e.begin)
            throw_data("{}: tensor \"{}\": data_offsets [{}, {}] end before they begin", src, name, e.begin, e.end);
        if (e.end - e.begin != expected)
            throw_data("{}: tensor \"{}\": {}{} needs {} bytes, data_offsets [{}, {}] span {}", src, name,
                       dtype_name(e.dtype), shape_str(e.shape), expected, e.begin, e.end, e.end - e.begin);
        if (e.end > buffer)
            throw_data("{}: tensor \"{}\": data_offsets [{}, {}] run past the {}-byte data buffer", src, name, e.begin,
                       e.end, buffer);
        f.entries_.emplace(name, std::move(e));
    }

    // Sorted by offset, each tensor must start exactly where the previous ended and the last
    // must end at the end of the file: no overlaps, no holes (the spec forbids both).
    std::vector<std::pair<const std::string*, const Entry*>> order;
    for (const auto& [name, e] : f.entries_) order.emplace_back(&name, &e);
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
        return std::pair(a.second->begin, a.second->end) < std::pair(b.second->begin, b.second->end);
    });
    uint64_t cursor = 0;
    const std::string* prev = nullptr;
    for (const auto& [name, e] : order) {
        if (e->begin < cursor)
            throw_data("{}: tensor \"{}\" [{}, {}] overlaps tensor \"{}\" (which ends at {})", src, *name, e->begin,
                       e->end, *prev, cursor);
        if (e->begin > cursor)
            throw_data("{}: bytes [{}, {}) of the data buffer belong to no tensor (hole before \"{}\")", src, cursor,
                       e->begin, *name);
        cursor = e->end;
        prev = name;
    }
    if (cursor != buffer)
        throw_data("{}: the data buffer has {} bytes but the tensors cover {} (truncated, or trailing bytes)", src,
                   buffer, cursor);
    return f;
}

const SafetensorsFile::Entry& SafetensorsFile::entry(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw_data("{}: no tensor \"{}\"", source_, name);
    return it->second;
}

Tensor SafetensorsFile::tensor(const std::string& name) const {
    Tensor t(entry(name).desc());
    copy_into(name, t);
    return t;
}

void SafetensorsFile::copy_into(const std::string& name, Tensor& dst) const {
    const Entry& e = entry(name);
    if (dst.desc() != e.desc())
        throw_data("{}: tensor \"{}\" is {}, destination is {}", source_, name, e.desc(), dst.desc());
    if (!dst.bytes()) return;
    if (fd_)
        read_at(*fd_, source_, dst.raw(), dst.bytes(), data_start_ + e.begin);
    else
        std::memcpy(dst.raw(), bytes_.data() + data_start_ + e.begin, dst.bytes());
}

TensorMap SafetensorsFile::tensors() const {
    TensorMap out;
    for (const auto& [name, e] : entries_) out.emplace(name, tensor(name));
    return out;
}

void write_file_atomic(const std::string& path, std::span<const uint8_t> bytes) {
    write_file_atomic(path, std::span<const std::span<const uint8_t>>(&bytes, 1));
}

void write_file_atomic(const std::string& path, std::span<const std::span<const uint8_t>> pieces) {
    namespace fs = std::filesystem;
    const std::string tmp = path + ".tmp." + std::to_string(::getpid());
    // Every failure says what happened to `path`: nothing (the temporary file goes away).
    auto fail = [&](const char* what, int err) {
        ::unlink(tmp.c_str());
        throw_data("{}: cannot save: {} of {} failed: {}; {} is unchanged", path, what, tmp, std::strerror(err),
                   path);
    };
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        throw_data("{}: cannot save: cannot create {}: {}; {} is unchanged", path, tmp, std::strerror(errno), path);
    for (std::span<const uint8_t> piece : pieces) {
        std::size_t done = 0;
        while (done < piece.size()) {
            ssize_t w = ::write(fd, piece.data() + done, piece.size() - done);
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                int err = errno;
                ::close(fd);
                fail("write", err);
            }
            done += static_cast<std::size_t>(w);
        }
    }
    // fsync before rename: otherwise a crash can leave the new name pointing at a file whose
    // data never reached the disk.
    if (::fsync(fd) != 0) {
        int err = errno;
        ::close(fd);
        fail("fsync", err);
    }
    if (::close(fd) != 0) fail("close", errno);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);
    fs::path dir = fs::path(path).parent_path();
    if (dir.empty()) dir = ".";
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {  // best effort: the new file is complete either way
        ::fsync(dfd);
        ::close(dfd);
    }
}

}  // namespace gg::io
