// The safetensors header (8-byte length, JSON, every entry against the data section) and the
// sharded checkpoint's index with its shard names. First byte even: the bytes are a
// .safetensors file; odd: a model.safetensors.index.json, whose shards must stay inside the
// model folder.
#include <string>

#include "fuzz_util.h"
#include "longqa/safetensors_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t* bytes = data + 1;
  const size_t n = size - 1;
  try {
    if (data[0] % 2 == 0) {
      const auto header = longqa::parse_safetensors_header("x.safetensors", bytes, n, n);
      FUZZ_CHECK(header.data_offset <= n, std::to_string(header.data_offset));
      for (const auto& [name, info] : header.tensors) {
        FUZZ_CHECK(info.begin >= 0 && info.begin <= info.end && uint64_t(info.end) <= n - header.data_offset, name);
        int64_t numel = 1;
        for (int64_t d : info.shape) numel *= d;  // cannot overflow: checked against the bytes
        FUZZ_CHECK(numel * longqa::safetensors_dtype_size(info.dtype) == info.end - info.begin, name);
      }
    } else {
      const auto dir = fuzz::scratch() / "model";
      std::filesystem::create_directories(dir);
      const std::string index = (dir / "model.safetensors.index.json").string();
      for (const auto& [tensor, shard] :
           longqa::parse_shard_index(index, std::string_view(reinterpret_cast<const char*>(bytes), n))) {
        try {
          const auto path = longqa::shard_inside(index, dir, shard, tensor);
          const auto resolved = std::filesystem::weakly_canonical(path);
          const auto base = std::filesystem::weakly_canonical(dir);
          FUZZ_CHECK(std::mismatch(base.begin(), base.end(), resolved.begin(), resolved.end()).first == base.end(),
                     shard + " -> " + resolved.string());
        } catch (const longqa::FileFormatError&) {
          // refused, as it should be for paths that lead out
        }
      }
    }
  } catch (const longqa::FileFormatError&) {
  }
  return 0;
}
