// safetensors reading (memory-mapped, zero-copy) and atomic writing; see safetensors.h.
#include "longqa/safetensors.h"

#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "longqa/common/atomic_file.h"
#include "longqa/common/errors.h"

namespace longqa {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// The format stores little-endian data, which we map and write as is.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

// The dtypes as torch types (their names and sizes: safetensors_format.h).
struct Dtype {
  const char* name;
  at::ScalarType type;
  int64_t size;
};
constexpr Dtype kDtypes[] = {
    {"F64", at::kDouble, 8}, {"F32", at::kFloat, 4}, {"F16", at::kHalf, 2}, {"BF16", at::kBFloat16, 2},
    {"I64", at::kLong, 8},   {"I32", at::kInt, 4},   {"I16", at::kShort, 2}, {"I8", at::kChar, 1},
    {"U8", at::kByte, 1},    {"BOOL", at::kBool, 1},
};

const Dtype* find_dtype(const std::string& name) {
  for (const Dtype& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const Dtype* find_dtype(at::ScalarType type) {
  for (const Dtype& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

// A file that cannot be read as safetensors.
[[noreturn]] void fail(const std::string& path, const std::string& what) { throw FileFormatError(path, what); }

std::string tensor_ref(const std::string& name) { return "tensor '" + name + "'"; }

std::string errno_text() { return std::strerror(errno); }

// Closes a file descriptor on every path out of a scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) fail(path, "cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) fail(path, "cannot stat: " + errno_text());
  if (!S_ISREG(st.st_mode)) fail(path, "not a regular file");
  const uint64_t size = uint64_t(st.st_size);
  if (size < 8)
    fail(path, "file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");

  void* base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.fd, 0);
  if (base == MAP_FAILED) fail(path, "mmap failed: " + errno_text());
  mapping_ = std::shared_ptr<void>(base, [size](void* p) { ::munmap(p, size); });

  SafetensorsHeader header = parse_safetensors_header(path, static_cast<const unsigned char*>(base), size, size);
  data_ = static_cast<const char*>(base) + header.data_offset;
  infos_ = std::move(header.tensors);
  metadata_ = std::move(header.metadata);
}

at::Tensor SafetensorsFile::get(const std::string& name) const {
  const auto it = infos_.find(name);
  if (it == infos_.end()) fail(path_, "no " + tensor_ref(name));
  const TensorInfo& info = it->second;
  const Dtype& dtype = *find_dtype(info.dtype);
  const auto options = at::TensorOptions().dtype(dtype.type).device(at::kCPU);
  const char* src = data_ + info.begin;

  if (reinterpret_cast<uintptr_t>(src) % uintptr_t(dtype.size) != 0) {
    // Typed access to misaligned elements is undefined behaviour: copy instead.
    at::Tensor copy = at::empty(info.shape, options);
    if (info.end > info.begin) std::memcpy(copy.data_ptr(), src, size_t(info.end - info.begin));
    return copy;
  }
  // from_blob needs a mutable pointer, but the mapping is PROT_READ: writing through
  // the tensor faults, so callers that modify must clone(). The deleter's copy of the
  // mapping keeps it alive for as long as the tensor (and its views) live.
  return at::from_blob(
      const_cast<char*>(src), info.shape, [mapping = mapping_](void*) {}, options);
}

Checkpoint::Checkpoint(const std::string& path_or_dir) : path_(path_or_dir) {
  const fs::path root(path_or_dir);
  std::error_code ec;

  auto add_file = [this](const fs::path& file) {
    files_.push_back(std::make_unique<SafetensorsFile>(file.string()));
    for (const auto& entry : files_.back()->tensors()) where_[entry.first] = files_.size() - 1;
  };

  auto add_index = [this](const fs::path& index_path) {
    const std::string index = index_path.string();
    std::error_code size_ec;
    const auto index_bytes = fs::file_size(index_path, size_ec);
    if (!size_ec && index_bytes > kMaxShardIndexBytes)  // before reading it
      fail(index, std::to_string(index_bytes) + " bytes is too large for a shard index (limit " +
                      std::to_string(kMaxShardIndexBytes) + ")");
    std::ifstream in(index_path, std::ios::binary);
    if (!in) fail(index, "cannot open: " + errno_text());
    std::stringstream text;
    text << in.rdbuf();

    std::map<std::string, size_t> shard_ids;
    for (const auto& [name, shard] : parse_shard_index(index, text.str())) {
      const auto [it, first_use] = shard_ids.emplace(shard, files_.size());
      if (first_use) {
        const fs::path shard_path = shard_inside(index, index_path.parent_path(), shard, name);
        try {
          files_.push_back(std::make_unique<SafetensorsFile>(shard_path.string()));
        } catch (const std::exception& e) {
          fail(index, "shard '" + shard + "' (listed for " + tensor_ref(name) + "): " + e.what());
        }
      }
      if (!files_[it->second]->contains(name))
        fail(index, tensor_ref(name) + " is listed in shard '" + shard + "', which does not hold it");
      where_[name] = it->second;
    }
  };

  if (fs::is_directory(root, ec)) {
    // Hugging Face prefers the single file when both are present.
    if (fs::exists(root / "model.safetensors", ec))
      add_file(root / "model.safetensors");
    else if (fs::exists(root / "model.safetensors.index.json", ec))
      add_index(root / "model.safetensors.index.json");
    else
      fail(path_or_dir, "directory holds neither model.safetensors nor model.safetensors.index.json");
  } else if (!fs::exists(root, ec)) {
    fail(path_or_dir, "no such checkpoint file or directory");
  } else if (path_or_dir.size() >= 11 && path_or_dir.compare(path_or_dir.size() - 11, 11, ".index.json") == 0) {
    add_index(root);
  } else {
    add_file(root);
  }
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(where_.size());
  for (const auto& entry : where_) out.push_back(entry.first);
  return out;
}

at::Tensor Checkpoint::get(const std::string& name) const {
  return files_[file_index(name)]->get(name);
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  return files_[file_index(name)]->tensors().at(name);
}

std::string Checkpoint::file_of(const std::string& name) const {
  return files_[file_index(name)]->path();
}

size_t Checkpoint::file_index(const std::string& name) const {
  const auto it = where_.find(name);
  if (it == where_.end()) fail(path_, "checkpoint has no " + tensor_ref(name));
  return it->second;
}

void save_safetensors(const std::string& path, const std::map<std::string, at::Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  struct Entry {
    const std::string* name;
    const Dtype* dtype;
    at::Tensor data;  // contiguous, on the CPU
  };
  std::vector<Entry> entries;
  entries.reserve(tensors.size());
  for (const auto& [name, tensor] : tensors) {
    // What the caller passed, not a file's fault: std::runtime_error.
    const auto refuse = [&](const std::string& what) {
      throw std::runtime_error(path + ": " + tensor_ref(name) + ": " + what);
    };
    if (name == "__metadata__") refuse("the name is reserved for the metadata");
    if (!tensor.defined()) refuse("tensor is undefined");
    if (tensor.layout() != at::kStrided) refuse("only dense (strided) tensors can be saved");
    const Dtype* dtype = find_dtype(tensor.scalar_type());
    if (!dtype)
      refuse(std::string("dtype ") + c10::toString(tensor.scalar_type()) + " is not supported (supported: " +
             kSafetensorsDtypeList + ")");
    entries.push_back({&name, dtype, tensor.to(at::kCPU).contiguous()});
  }
  // Larger elements first, then by name, as Hugging Face's writer does: with no gaps
  // between tensors (its reader rejects gaps) every tensor still starts aligned to its
  // element size, given the 8-byte padded header.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& a, const Entry& b) { return a.dtype->size > b.dtype->size; });

  json header = json::object();  // an ordered map: keys come out sorted
  uint64_t offset = 0;
  for (const Entry& e : entries) {
    const uint64_t bytes = e.data.nbytes();
    header[*e.name] = {{"dtype", e.dtype->name},
                       {"shape", e.data.sizes().vec()},
                       {"data_offsets", json::array({offset, offset + bytes})}};
    offset += bytes;
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const json::type_error& e) {
    throw std::runtime_error(path + ": tensor names and metadata must be valid UTF-8: " + e.what());
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  unsigned char size_bytes[8];
  for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<unsigned char>(uint64_t(text.size()) >> (8 * i));

  AtomicFile out(path);  // a temporary file renamed over `path`: readers never see a partial file
  out.write(size_bytes, sizeof size_bytes);
  out.write(text);
  for (const Entry& e : entries) out.write(e.data.data_ptr(), e.data.nbytes());
  out.commit();
}

}  // namespace longqa
