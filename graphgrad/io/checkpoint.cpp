#include "graphgrad/io/checkpoint.h"

#include <algorithm>

#include <vector>

namespace gg::io {

namespace {

bool is_optimizer_state(const std::string& name) { return name.rfind("optim.", 0) == 0; }

// "a, b, c" with at most `limit` names, so a wrong-model error stays readable.
std::string name_list(const std::vector<std::string>& names, std::size_t limit = 12) {
    std::string s;
    for (std::size_t i = 0; i < names.size() && i < limit; ++i) s += (i ? ", " : "") + names[i];
    if (names.size() > limit) s += fmt::format(", ... ({} more)", names.size() - limit);
    return s;
}

}  // namespace

std::optional<int64_t> metadata_int(const Metadata& meta, const std::string& key, const std::string& source,
                                    int64_t min, int64_t max) {
    auto it = meta.find(key);
    if (it == meta.end()) return std::nullopt;
    const std::string& text = it->second;
    std::size_t used = 0;
    long long v = 0;
    try {
        v = std::stoll(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (text.empty() || used != text.size() || v < min || v > max)
        throw DataError(fmt::format("{}: metadata \"{}\" is \"{}\", expected an integer in [{}, {}]", source, key,
                                    text, min, max));
    return v;
}

std::optional<double> metadata_double(const Metadata& meta, const std::string& key, const std::string& source,
                                      double min, double max) {
    auto it = meta.find(key);
    if (it == meta.end()) return std::nullopt;
    const std::string& text = it->second;
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    // !(v >= min): NaN fails too.
    if (text.empty() || used != text.size() || !(v >= min) || !(v <= max))
        throw DataError(fmt::format("{}: metadata \"{}\" is \"{}\", expected a number in [{:g}, {:g}]", source, key,
                                    text, min, max));
    return v;
}

void save_checkpoint(const ParameterStore& store, const std::string& path, const Metadata& metadata,
                     bool include_optimizer_state) {
    TensorMap tensors;
    // Shared handles: the data is written straight from the store's tensors.
    for (const auto& [name, entry] : store.entries())
        if (include_optimizer_state || !is_optimizer_state(name)) tensors.emplace(name, entry.value);
    Metadata meta = metadata;
    meta["format"] = kCheckpointFormat;
    save_safetensors(path, tensors, meta);
}

Metadata load_checkpoint(ParameterStore& store, const std::string& path, const CheckpointLoadOptions& options) {
    SafetensorsFile file = SafetensorsFile::open(path);

    std::vector<std::string> missing, unexpected, mismatched, created;
    for (const std::string& name : options.keep)
        if (!store.contains(name)) throw DataError(fmt::format("{}: \"{}\" is to keep its value but the model has no such tensor", path, name));
    auto kept = [&](const std::string& name) { return std::find(options.keep.begin(), options.keep.end(), name) != options.keep.end(); };
    auto skipped = [&](const std::string& name) { return (options.weights_only && is_optimizer_state(name)) || kept(name); };
    for (const auto& [name, entry] : store.entries()) {
        if (skipped(name)) continue;
        if (!file.contains(name)) {
            if (!(options.allow_missing_optimizer_state && is_optimizer_state(name))) missing.push_back(name);
        } else if (file.entries().at(name).desc() != entry.value.desc()) {
            mismatched.push_back(
                fmt::format("{} (file {}, model {})", name, file.entries().at(name).desc(), entry.value.desc()));
        }
    }
    for (const auto& [name, e] : file.entries()) {
        if (store.contains(name) || skipped(name)) continue;
        if (options.create_optimizer_state && is_optimizer_state(name))
            created.push_back(name);
        else if (!options.ignore_unexpected)
            unexpected.push_back(name);
    }
    if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
        std::string msg = fmt::format("{}: checkpoint does not match the model:", path);
        if (!missing.empty()) msg += fmt::format(" missing {} [{}];", missing.size(), name_list(missing));
        if (!unexpected.empty()) msg += fmt::format(" unexpected {} [{}];", unexpected.size(), name_list(unexpected));
        if (!mismatched.empty())
            msg += fmt::format(" shape/dtype mismatch {} [{}];", mismatched.size(), name_list(mismatched));
        msg.pop_back();
        throw DataError(msg);
    }

    // Everything checked: now copy (into the existing tensors) and create.
    for (auto& [name, entry] : store.entries())
        if (file.contains(name) && !skipped(name)) file.copy_into(name, store.get(name));
    for (const std::string& name : created) store.add(name, file.tensor(name), false);
    return file.metadata();
}

}  // namespace gg::io
