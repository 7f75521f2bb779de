// The exception for input files that cannot be used, the same for every loader.
#pragma once
#include <stdexcept>
#include <string>

namespace longqa {

// An input file that is missing, unreadable or malformed: config.json, a safetensors
// checkpoint or its shard index, an index manifest or its dense file. what() is
// "<path>: <detail>", the detail naming the key, tensor, field or byte offset at fault.
// The longqa CLI exits with code 3 on it (1: other errors, 2: usage errors).
class FileFormatError : public std::runtime_error {
 public:
  FileFormatError(const std::string& path, const std::string& detail)
      : std::runtime_error(path + ": " + detail), path_(path) {}
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

// A store that cannot be reached (a PostgreSQL server down, a connection lost): the request
// may succeed later. The server answers it 503 with Retry-After; what() names the store
// (without its password) and what failed.
class StoreUnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// nlohmann::json's exception text without its "[json.exception.parse_error.101] " prefix:
// what a person reading an error message needs.
inline std::string json_error_text(const std::exception& e) {
  const std::string what = e.what();
  const size_t bracket = what.find("] ");
  return what.rfind("[json.exception.", 0) == 0 && bracket != std::string::npos ? what.substr(bracket + 2) : what;
}

}  // namespace longqa
