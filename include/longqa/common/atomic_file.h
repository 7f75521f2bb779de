// Crash-safe file writes: a temporary file beside the target, fsync, rename over the
// target, fsync of the folder. Readers see the old file or the new one, never a part.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace longqa {

// Writes in pieces, then commit() makes the file appear; destroyed uncommitted, the
// temporary file is removed and the target is untouched. Errors throw
// std::runtime_error("<path>: <what failed>: <errno text>").
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t bytes);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // fsync, rename over the target, fsync of its folder.
  void commit();

  const std::string& path() const { return path_; }

 private:
  std::string path_, temp_;
  int fd_ = -1;
};

// The whole file at once.
void write_file_atomic(const std::string& path, std::string_view content);
// Makes renames and creations in `dir` durable.
void fsync_directory(const std::string& dir);

}  // namespace longqa
