// The safetensors header and shard index parsers (no torch); see safetensors_format.h.
#include "longqa/safetensors_format.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

namespace longqa {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw FileFormatError(path, what); }

std::string tensor_ref(const std::string& name) { return "tensor '" + name + "'"; }

std::string shape_text(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << '[';
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  s << ']';
  return s.str();
}

TensorInfo parse_entry(const std::string& path, const std::string& name, const json& entry, uint64_t data_size) {
  const auto bad = [&](const std::string& what) { fail(path, tensor_ref(name) + ": " + what); };
  if (!entry.is_object()) bad("header entry is not a JSON object");

  TensorInfo info;
  const auto dtype = entry.find("dtype");
  if (dtype == entry.end() || !dtype->is_string()) bad("missing or non-string \"dtype\"");
  info.dtype = dtype->get<std::string>();
  const int64_t element_size = safetensors_dtype_size(info.dtype);
  if (element_size == 0) bad("unknown dtype '" + info.dtype + "' (supported: " + kSafetensorsDtypeList + ")");

  const auto shape = entry.find("shape");
  if (shape == entry.end() || !shape->is_array()) bad("missing or non-array \"shape\"");
  uint64_t numel = 1;
  bool overflow = false;
  for (const json& dim : *shape) {
    if (!dim.is_number_integer()) bad("shape " + shape->dump() + " holds a non-integer");
    if (!dim.is_number_unsigned()) bad("negative dimension in shape " + shape->dump());
    const uint64_t n = dim.get<uint64_t>();
    if (n > uint64_t(INT64_MAX)) bad("dimension too large in shape " + shape->dump());
    info.shape.push_back(int64_t(n));
    overflow |= __builtin_mul_overflow(numel, n, &numel);
  }

  const auto offsets = entry.find("data_offsets");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
    bad("\"data_offsets\" must be [begin, end] with non-negative integers");
  const uint64_t begin = (*offsets)[0].get<uint64_t>(), end = (*offsets)[1].get<uint64_t>();
  const std::string range = "data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "]";
  if (begin > end) bad(range + " have begin > end");
  if (end > data_size) bad(range + " exceed data section of " + std::to_string(data_size) + " bytes");
  uint64_t bytes = 0;
  overflow |= __builtin_mul_overflow(numel, uint64_t(element_size), &bytes);
  if (overflow || end - begin != bytes)
    bad(range + " hold " + std::to_string(end - begin) + " bytes but " + info.dtype + " " + shape_text(info.shape) +
        " needs " + (overflow ? std::string("more than 2^64") : std::to_string(bytes)));
  info.begin = int64_t(begin);
  info.end = int64_t(end);
  return info;
}

}  // namespace

const char* const kSafetensorsDtypeList = "F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL";

int64_t safetensors_dtype_size(const std::string& dtype) {
  static const std::pair<const char*, int64_t> kSizes[] = {{"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2},
                                                           {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
                                                           {"U8", 1},  {"BOOL", 1}};
  for (const auto& [name, size] : kSizes)
    if (dtype == name) return size;
  return 0;
}

SafetensorsHeader parse_safetensors_header(const std::string& path, const unsigned char* bytes, uint64_t available,
                                           uint64_t file_size) {
  if (file_size < 8 || available < 8)
    fail(path, "file is " + std::to_string(file_size) + " bytes, shorter than the 8-byte header length");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = header_size << 8 | bytes[i];
  if (header_size > kMaxSafetensorsHeaderBytes)
    fail(path, "header length " + std::to_string(header_size) + " is absurd (limit " +
                   std::to_string(kMaxSafetensorsHeaderBytes) + " bytes); not a safetensors file?");
  if (header_size > file_size - 8)
    fail(path, "header length " + std::to_string(header_size) + " exceeds the file size of " +
                   std::to_string(file_size) + " bytes");
  if (header_size > available - 8) fail(path, "header length " + std::to_string(header_size) + " runs past the bytes read");
  const char* header_begin = reinterpret_cast<const char*>(bytes) + 8;
  SafetensorsHeader out;
  out.data_offset = 8 + header_size;
  const uint64_t data_size = file_size - out.data_offset;

  json header;
  try {
    header = json::parse(header_begin, header_begin + header_size);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double
    fail(path, std::string("header is not valid JSON: ") + e.what());
  }
  if (!header.is_object()) fail(path, "header is not a JSON object");
  if (header.size() > kMaxTensorsPerFile)
    fail(path, "header lists " + std::to_string(header.size()) + " tensors (limit " +
                   std::to_string(kMaxTensorsPerFile) + ")");

  for (const auto& [name, entry] : header.items()) {
    if (name != "__metadata__") {
      out.tensors.emplace(name, parse_entry(path, name, entry, data_size));
      continue;
    }
    if (entry.is_null()) continue;  // written by some tools for "no metadata"
    if (!entry.is_object()) fail(path, "\"__metadata__\" is not a JSON object");
    for (const auto& [key, value] : entry.items()) {
      if (!value.is_string()) fail(path, "\"__metadata__\" value of '" + key + "' is not a string");
      out.metadata.emplace(key, value.get<std::string>());
    }
  }
  return out;
}

// Hugging Face's sharded layout: {"metadata": {...}, "weight_map": {tensor: shard file}}.
std::vector<std::pair<std::string, std::string>> parse_shard_index(const std::string& index, std::string_view text) {
  if (text.size() > kMaxShardIndexBytes)
    fail(index, std::to_string(text.size()) + " bytes is too large for a shard index (limit " +
                    std::to_string(kMaxShardIndexBytes) + ")");
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double
    fail(index, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
    fail(index, "no \"weight_map\" object");
  std::vector<std::pair<std::string, std::string>> weight_map;
  for (const auto& [name, shard_json] : j["weight_map"].items()) {
    if (!shard_json.is_string()) fail(index, tensor_ref(name) + ": shard name is not a string");
    weight_map.emplace_back(name, shard_json.get<std::string>());
  }
  return weight_map;
}

fs::path shard_inside(const std::string& index, const fs::path& dir, const std::string& shard, const std::string& tensor) {
  const fs::path relative(shard);
  auto refuse = [&](const std::string& why) {
    fail(index, "shard '" + shard + "' (listed for " + tensor_ref(tensor) + ") " + why + "; refused");
  };
  if (shard.empty()) refuse("is empty");
  if (shard.find('\0') != std::string::npos) refuse("holds a NUL byte");
  if (relative.is_absolute() || relative.has_root_name() || relative.has_root_directory())
    refuse("is an absolute path");
  for (const auto& part : relative)
    if (part == "..") refuse("climbs out of the model directory with '..'");
  std::error_code ec;
  const fs::path base = fs::weakly_canonical(dir.empty() ? fs::path(".") : dir, ec);
  if (ec) refuse("cannot be checked: the model directory does not resolve (" + ec.message() + ")");
  const fs::path resolved = fs::weakly_canonical(dir / relative, ec);
  if (ec) refuse("cannot be resolved: " + ec.message());
  const auto inside = [&](const fs::path& folder) {
    return std::mismatch(folder.begin(), folder.end(), resolved.begin(), resolved.end()).first == folder.end();
  };
  // Hugging Face's cache keeps snapshots/<revision>/<file> as links into the model's blobs/:
  // a link from a snapshot into its own model's blobs/ is that layout, not an escape.
  const bool hf_cache_blob = base.parent_path().filename() == "snapshots" &&
                             inside(base.parent_path().parent_path() / "blobs");
  if (!inside(base) && !hf_cache_blob)
    refuse("leads outside the model directory (through a symbolic link) to " + resolved.string());
  if (fs::exists(resolved, ec) && !fs::is_regular_file(resolved, ec)) refuse("is not a regular file");
  return resolved;  // what was checked is what gets opened
}

}  // namespace longqa
