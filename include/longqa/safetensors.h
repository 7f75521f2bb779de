// safetensors reading (memory-mapped, sharded checkpoints included) and writing.
// Every error names the file and, where there is one, the tensor. A file that cannot be
// read (missing, malformed, lacking an asked-for tensor) throws longqa::FileFormatError.
#pragma once
#include <ATen/core/Tensor.h>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "longqa/common/errors.h"
#include "longqa/safetensors_format.h"  // TensorInfo, the header and index parsers, the limits

namespace longqa {

// One .safetensors file, memory-mapped. Tensors returned by get() are zero-copy
// CPU views that keep the mapping alive (they outlive this object); they are
// read-only by contract (the mapping is PROT_READ: writing faults), so callers
// that modify must clone(). Tensors whose data is misaligned for their dtype
// are returned as copies.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);
  const std::string& path() const { return path_; }
  const std::map<std::string, TensorInfo>& tensors() const { return infos_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return infos_.count(name) != 0; }
  at::Tensor get(const std::string& name) const;  // throws, naming file and tensor, when absent

 private:
  std::string path_;
  std::shared_ptr<void> mapping_;  // munmap on last release
  const char* data_ = nullptr;     // start of the data section
  std::map<std::string, TensorInfo> infos_;
  std::map<std::string, std::string> metadata_;
};

// All tensors of a checkpoint: `model.safetensors`, or the shards listed by
// `model.safetensors.index.json`, or a single .safetensors path.
class Checkpoint {
 public:
  explicit Checkpoint(const std::string& path_or_dir);
  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;  // sorted
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  at::Tensor get(const std::string& name) const;
  const TensorInfo& info(const std::string& name) const;
  std::string file_of(const std::string& name) const;

 private:
  size_t file_index(const std::string& name) const;  // throws, naming the checkpoint, when absent

  std::string path_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;
};

// Writes tensors (any dtype above, any device; contiguous copies are made) to
// `path` atomically (longqa::AtomicFile). Header keys sorted and padded
// to 8 bytes; data ordered by element size then name, so each tensor is aligned
// to its element size with no gaps (Hugging Face's reader rejects gaps). Tensors the
// format cannot hold, and write failures, throw std::runtime_error naming the path.
void save_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace longqa
