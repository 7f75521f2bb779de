// The safetensors header and the sharded-checkpoint index, parsed and checked without torch
// (so that the parsers can be fuzzed on their own): what safetensors.h maps and serves.
// Every error is a longqa::FileFormatError naming the file and, where there is one, the tensor.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "longqa/common/errors.h"

namespace longqa {

struct TensorInfo {
  std::string dtype;             // safetensors dtype string: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL
  std::vector<int64_t> shape;
  int64_t begin = 0, end = 0;    // byte range within the data section
};

// Limits the loaders apply to files from elsewhere. The header limit is Hugging Face's; the
// tensor count is far above any real checkpoint (a 70B model has ~1,000 tensors per shard)
// and far below what a 100 MB header could otherwise make us allocate.
constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;
constexpr size_t kMaxTensorsPerFile = 1'000'000;
constexpr uint64_t kMaxShardIndexBytes = 100'000'000;

// Bytes per element of a safetensors dtype; 0 for a name the format does not have.
int64_t safetensors_dtype_size(const std::string& dtype);
extern const char* const kSafetensorsDtypeList;  // "F64, F32, ..." for messages

struct SafetensorsHeader {
  std::map<std::string, TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // where the data section starts in the file
};

// The file's first bytes (`available` of them; the whole header must be among them) and its
// size: the 8-byte length, the JSON header, every entry checked against the data section.
SafetensorsHeader parse_safetensors_header(const std::string& path, const unsigned char* bytes, uint64_t available,
                                           uint64_t file_size);

// model.safetensors.index.json's weight_map, in file order: (tensor, shard file name).
std::vector<std::pair<std::string, std::string>> parse_shard_index(const std::string& index_path,
                                                                   std::string_view text);

// A shard an index names, as a path: it must be a file in the index's own directory (or
// below it). An absolute path, a ".." component or a symbolic link that leads out is
// refused, so that a downloaded checkpoint cannot make us read (and serve logits of) any
// other file.
std::filesystem::path shard_inside(const std::string& index_path, const std::filesystem::path& dir,
                                   const std::string& shard, const std::string& tensor);

}  // namespace longqa
