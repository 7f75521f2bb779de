// safetensors reading and writing: round trips, zero-copy mapping, sharded
// checkpoints, bad files, and ("[hf]") agreement with Hugging Face's safetensors.
#include <ATen/ATen.h>
#include <ftw.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "longqa/safetensors.h"
#include "test_util.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using longqa::Checkpoint;
using longqa::SafetensorsFile;
using longqa::save_safetensors;
using Catch::Matchers::Contains;

namespace {

// Deletes a directory tree. Not std::filesystem::remove_all: the torch wheel's
// libtorch.so exports its own copy, which calls a libstdc++ 13 symbol
// (recursive_directory_iterator::__erase) that the system's libstdc++ lacks.
void remove_tree(const fs::path& root) {
  ::nftw(
      root.c_str(), [](const char* p, const struct stat*, int, FTW*) { return ::remove(p); }, 16,
      FTW_DEPTH | FTW_PHYS);
}

// A fresh directory, removed with everything in it at scope exit.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "longqa_st_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path = pattern;
  }
  ~TempDir() { remove_tree(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

// One tensor of every supported dtype, plus a scalar, an empty and a non-contiguous one.
std::map<std::string, at::Tensor> all_dtypes() {
  at::manual_seed(7);
  return {
      {"f64", at::randn({3, 4}, at::kDouble)},
      {"f32", at::randn({2, 3, 5})},
      {"f16", at::tensor({1.5, -0.0, 65504.0, 6e-8, -3.0}).to(at::kHalf)},
      {"bf16", at::randn({2, 9}).to(at::kBFloat16)},
      {"i64", at::tensor({INT64_MIN, INT64_MAX, int64_t(0), int64_t(-1)}, at::kLong)},
      {"i32", at::randint(-100000, 100000, {11}, at::kInt)},
      {"i16", at::randint(-30000, 30000, {3, 3}, at::kShort)},
      {"i8", at::arange(-128, 128).to(at::kChar)},
      {"u8", at::arange(256).to(at::kByte).reshape({16, 16})},
      {"bool", at::tensor({1, 0, 1, 1}).to(at::kBool).reshape({2, 2})},
      {"scalar", at::scalar_tensor(3.25)},
      {"empty", at::zeros({0, 4}, at::kHalf)},
      {"transposed", at::arange(12, at::kFloat).reshape({3, 4}).t()},
  };
}

// Exact equality, dtype and shape included (NaN-free inputs; the JSON of the "[hf]" cases has no inf either).
bool same(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == b.scalar_type() && a.sizes() == b.sizes() && at::equal(a, b);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// A safetensors file from raw parts: length prefix, header text, data bytes.
void write_raw(const std::string& path, const std::string& header, const std::string& data) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = char(uint64_t(header.size()) >> (8 * i));
  write_file(path, bytes + header + data);
}

// The file the mapping that holds `p` belongs to, from /proc/self/maps ("" if none).
std::string mapped_file_of(const void* p) {
  std::ifstream maps("/proc/self/maps");
  const auto address = reinterpret_cast<uintptr_t>(p);
  for (std::string line; std::getline(maps, line);) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &begin, &end) != 2 || address < begin || address >= end) continue;
    const auto slash = line.find('/');
    return slash == std::string::npos ? "" : line.substr(slash);
  }
  return "";
}

bool has_mapping_of(const std::string& file) {
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);)
    if (line.find(file) != std::string::npos) return true;
  return false;
}

std::vector<std::string> files_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  FAIL("no exception thrown");
  return "";
}

std::string dtype_name(at::ScalarType type) {
  switch (type) {
    case at::kDouble: return "F64";
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: return "?";
  }
}

// The expected-values entry of a tensor, in the format of tests/hf/safetensors_fixtures.py.
json describe(const at::Tensor& tensor) {
  const at::Tensor t = tensor.contiguous();
  const at::Tensor flat = t.reshape({-1});
  json values = json::array();
  if (t.is_floating_point()) {
    const at::Tensor d = flat.to(at::kDouble);
    for (int64_t i = 0; i < d.numel(); ++i) values.push_back(d.data_ptr<double>()[i]);
  } else if (t.scalar_type() == at::kBool) {
    for (int64_t i = 0; i < flat.numel(); ++i) values.push_back(flat.data_ptr<bool>()[i]);
  } else {
    const at::Tensor l = flat.to(at::kLong);
    for (int64_t i = 0; i < l.numel(); ++i) values.push_back(l.data_ptr<int64_t>()[i]);
  }
  std::string hex;
  const auto* bytes = static_cast<const unsigned char*>(t.data_ptr());
  for (size_t i = 0; i < t.nbytes(); ++i) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", bytes[i]);
    hex += two;
  }
  return {{"dtype", dtype_name(t.scalar_type())}, {"shape", t.sizes().vec()}, {"values", values}, {"hex", hex}};
}

// The "[hf]" cases need the fixture directory that ctest's hf_reference_fixtures makes
// with the project's Python first; run on their own without it, they are skipped (exit 77).
bool skip_without_fixtures() {
  return longqa::test::skip_unless(fs::is_directory(LONGQA_HF_FIXTURES),
                                   std::string("no ") + LONGQA_HF_FIXTURES + " (made by ctest's hf_reference_fixtures)");
}

}  // namespace

TEST_CASE("every dtype, scalars, empty tensors and metadata round-trip", "[safetensors]") {
  TempDir dir;
  auto tensors = all_dtypes();
  const at::Tensor specials = at::tensor({INFINITY, -INFINITY, NAN, -0.0f, 1e-45f});
  tensors["specials"] = specials;
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"note", "grüße"}};
  save_safetensors(dir / "all.safetensors", tensors, metadata);

  SafetensorsFile file(dir / "all.safetensors");
  CHECK(file.metadata() == metadata);
  REQUIRE(file.tensors().size() == tensors.size());
  for (const auto& [name, expected] : tensors) {
    INFO(name);
    REQUIRE(file.contains(name));
    const at::Tensor got = file.get(name);
    CHECK(got.is_contiguous());
    if (name != "specials") CHECK(same(got, expected));
    CHECK(describe(got)["hex"] == describe(expected)["hex"]);  // exact bits, NaN included
    CHECK(file.tensors().at(name).dtype == dtype_name(expected.scalar_type()));
    // Every tensor starts aligned to its element size, so none needed a copy.
    if (got.numel() > 0) CHECK(mapped_file_of(got.data_ptr()) == fs::canonical(dir / "all.safetensors").string());
  }
  CHECK(same(file.get("transposed"), tensors["transposed"]));
  CHECK(file.get("scalar").dim() == 0);
  CHECK(file.get("empty").numel() == 0);
}

TEST_CASE("layout: padded header, no gaps, larger elements first", "[safetensors]") {
  TempDir dir;
  save_safetensors(dir / "x.safetensors", {{"a_u8", at::ones({3}, at::kByte)},
                                           {"b_f64", at::ones({2}, at::kDouble)},
                                           {"c_f16", at::ones({1}, at::kHalf)},
                                           {"d_f32", at::ones({5}, at::kFloat)}});
  const std::string bytes = read_file(dir / "x.safetensors");
  uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  CHECK(header_size % 8 == 0);
  const json header = json::parse(bytes.substr(8, header_size));
  CHECK(!header.contains("__metadata__"));  // none given
  CHECK(header["b_f64"]["data_offsets"] == json::array({0, 16}));
  CHECK(header["d_f32"]["data_offsets"] == json::array({16, 36}));
  CHECK(header["c_f16"]["data_offsets"] == json::array({36, 38}));
  CHECK(header["a_u8"]["data_offsets"] == json::array({38, 41}));
  CHECK(bytes.size() == 8 + header_size + 41);
}

TEST_CASE("tensors are zero-copy views that outlive the file object", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "w.safetensors";
  const at::Tensor expected = at::randn({64, 32});
  save_safetensors(path, {{"w", expected}});
  const std::string canonical = fs::canonical(path).string();

  at::Tensor view;
  {
    SafetensorsFile file(path);
    view = file.get("w");
    CHECK(mapped_file_of(view.data_ptr()) == canonical);
    CHECK(file.get("w").data_ptr() == view.data_ptr());
  }
  fs::remove(path);  // the mapping keeps the data
  CHECK(same(view, expected));
  CHECK(same(view.slice(0, 3, 9), expected.slice(0, 3, 9)));
  CHECK(has_mapping_of(canonical));
  view = at::Tensor();  // the last reference unmaps
  CHECK_FALSE(has_mapping_of(canonical));
}

TEST_CASE("misaligned tensor data is copied, with the right values", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "odd.safetensors";
  std::string header = R"({"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
                       R"("f":{"dtype":"F32","shape":[2],"data_offsets":[1,9]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  const float values[2] = {1.5f, -2.25f};
  write_raw(path, header, std::string(1, '\x07') + std::string(reinterpret_cast<const char*>(values), 8));

  SafetensorsFile file(path);
  const at::Tensor f = file.get("f");
  CHECK(reinterpret_cast<uintptr_t>(f.data_ptr()) % alignof(float) == 0);
  CHECK(mapped_file_of(f.data_ptr()).empty());  // a copy
  CHECK(same(f, at::tensor({1.5f, -2.25f})));
  CHECK(file.get("b").item<uint8_t>() == 7);
}

TEST_CASE("checkpoints: single file, directory, sharded index", "[safetensors]") {
  TempDir dir;
  const at::Tensor a = at::randn({4, 4}), b = at::arange(10), c = at::randn({3}).to(at::kBFloat16);

  SECTION("directory with model.safetensors, or the file itself") {
    save_safetensors(dir / "model.safetensors", {{"a", a}, {"b", b}});
    for (const std::string& where : {dir.path.string(), dir / "model.safetensors"}) {
      Checkpoint ckpt(where);
      CHECK(ckpt.names() == std::vector<std::string>{"a", "b"});
      CHECK(same(ckpt.get("a"), a));
      CHECK(ckpt.info("b").dtype == "I64");
      CHECK(ckpt.file_of("b") == dir / "model.safetensors");
      CHECK_THAT(error_of([&] { ckpt.get("zzz"); }), Contains(where) && Contains("'zzz'"));
    }
  }

  SECTION("sharded") {
    save_safetensors(dir / "model-00001-of-00002.safetensors", {{"a", a}, {"b", b}});
    save_safetensors(dir / "model-00002-of-00002.safetensors", {{"c", c}});
    const json index = {{"metadata", {{"total_size", 100}}},
                        {"weight_map",
                         {{"a", "model-00001-of-00002.safetensors"},
                          {"b", "model-00001-of-00002.safetensors"},
                          {"c", "model-00002-of-00002.safetensors"}}}};
    write_file(dir / "model.safetensors.index.json", index.dump());

    for (const std::string& where : {dir.path.string(), dir / "model.safetensors.index.json"}) {
      Checkpoint ckpt(where);
      CHECK(ckpt.names() == std::vector<std::string>{"a", "b", "c"});
      CHECK(same(ckpt.get("a"), a));
      CHECK(same(ckpt.get("b"), b));
      CHECK(same(ckpt.get("c"), c));
      CHECK(ckpt.contains("c"));
      CHECK_FALSE(ckpt.contains("d"));
      CHECK(ckpt.info("c").shape == std::vector<int64_t>{3});
      CHECK(ckpt.file_of("c") == dir / "model-00002-of-00002.safetensors");
    }
  }
}

TEST_CASE("bad checkpoints name the file and the tensor", "[safetensors]") {
  TempDir dir;
  const std::string index = dir / "model.safetensors.index.json";
  auto write_index = [&](const json& weight_map) { write_file(index, json{{"weight_map", weight_map}}.dump()); };

  SECTION("directory with neither file") {
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }),
               Contains(dir.path.string()) && Contains("model.safetensors.index.json"));
  }
  SECTION("no such path") {
    CHECK_THAT(error_of([&] { Checkpoint c(dir / "nope"); }), Contains("nope"));
  }
  SECTION("index pointing to a missing shard") {
    write_index({{"a", "model-00001-of-00002.safetensors"}});
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }),
               Contains(index) && Contains("model-00001-of-00002.safetensors") && Contains("'a'"));
  }
  SECTION("index listing a tensor its shard does not hold") {
    save_safetensors(dir / "shard.safetensors", {{"a", at::ones({1})}});
    write_index({{"a", "shard.safetensors"}, {"ghost", "shard.safetensors"}});
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }),
               Contains(index) && Contains("'ghost'") && Contains("shard.safetensors"));
  }
  SECTION("an index may not name files outside the model directory") {
    // A real safetensors file outside the model directory, which the index tries to reach.
    TempDir outside;
    save_safetensors(outside / "secret.safetensors", {{"a", at::ones({1})}});
    std::filesystem::create_directories(dir.path / "sub");
    save_safetensors(dir / "sub/inner.safetensors", {{"b", at::ones({1})}});
    const auto relative_out = std::filesystem::relative(outside.path / "secret.safetensors", dir.path).string();
    REQUIRE(relative_out.rfind("..", 0) == 0);
    write_index({{"a", relative_out}});
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }), Contains(index) && Contains("'..'") && Contains("refused"));
    write_index({{"a", "sub/../../x.safetensors"}});
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }), Contains("'..'"));
    write_index({{"a", outside / "secret.safetensors"}});
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }), Contains("absolute path") && Contains("refused"));
    std::filesystem::create_symlink(outside / "secret.safetensors", dir.path / "link.safetensors");
    write_index({{"a", "link.safetensors"}});
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }), Contains("symbolic link") && Contains("refused"));
    std::filesystem::create_directory_symlink(outside.path, dir.path / "linked_dir");
    write_index({{"a", "linked_dir/secret.safetensors"}});
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }), Contains("outside the model directory"));
    write_index({{"b", "sub/inner.safetensors"}});  // a subdirectory is inside
    CHECK(Checkpoint(dir.path.string()).names() == std::vector<std::string>{"b"});
  }
  SECTION("Hugging Face's cache: snapshot files link into their own model's blobs/") {
    // models--org--name/snapshots/<revision>/model-0000x.safetensors -> ../../blobs/<hash>
    TempDir cache;
    const auto model = cache.path / "models--org--name", other = cache.path / "models--org--other";
    std::filesystem::create_directories(model / "snapshots" / "abc123");
    std::filesystem::create_directories(model / "blobs");
    std::filesystem::create_directories(other / "blobs");
    save_safetensors((model / "blobs" / "f00d").string(), {{"a", at::ones({1})}});
    save_safetensors((other / "blobs" / "beef").string(), {{"b", at::ones({1})}});
    const auto snapshot = model / "snapshots" / "abc123";
    std::filesystem::create_symlink("../../blobs/f00d", snapshot / "model-00001-of-00002.safetensors");
    std::filesystem::create_symlink("../../../models--org--other/blobs/beef", snapshot / "model-00002-of-00002.safetensors");
    const std::string cache_index = (snapshot / "model.safetensors.index.json").string();
    write_file(cache_index, json{{"weight_map", {{"a", "model-00001-of-00002.safetensors"}}}}.dump());
    CHECK(Checkpoint(snapshot.string()).names() == std::vector<std::string>{"a"});
    // Another model's blobs are outside.
    write_file(cache_index, json{{"weight_map", {{"b", "model-00002-of-00002.safetensors"}}}}.dump());
    CHECK_THAT(error_of([&] { Checkpoint c(snapshot.string()); }), Contains("outside the model directory"));
  }
  SECTION("a header listing more tensors than any checkpoint has is refused") {
    std::string header = "{";
    for (int i = 0; i < 1'000'001; ++i)
      header += (i ? "," : "") + ("\"t" + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}");
    header += "}";
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((uint64_t(header.size()) >> (8 * i)) & 0xff);
    write_file(dir / "model.safetensors", bytes + header);
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }), Contains("tensors (limit"));
  }
  SECTION("index without weight_map, or not JSON") {
    write_file(index, R"({"metadata": {}})");
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }), Contains(index) && Contains("weight_map"));
    write_file(index, "{oops");
    CHECK_THAT(error_of([&] { Checkpoint c(dir.path.string()); }), Contains(index) && Contains("JSON"));
  }
}

TEST_CASE("bad safetensors files name the file and the tensor", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "model.safetensors";
  auto error = [&] { return error_of([&] { SafetensorsFile f(path); }); };
  // A header holding one entry for tensor 't' over a data section of `data_size` bytes.
  auto with_entry = [&](const std::string& entry, size_t data_size = 64) {
    write_raw(path, R"({"t":)" + entry + "}", std::string(data_size, '\0'));
  };

  SECTION("missing file") { CHECK_THAT(error(), Contains(path)); }
  SECTION("shorter than 8 bytes") {
    write_file(path, "abc");
    CHECK_THAT(error(), Contains(path) && Contains("3 bytes"));
  }
  SECTION("header length beyond the file") {
    write_raw(path, "{}", "");
    std::string bytes = read_file(path);
    bytes[0] = char(200);
    write_file(path, bytes);
    CHECK_THAT(error(), Contains(path) && Contains("header length 200"));
  }
  SECTION("absurd header length") {
    write_file(path, std::string("\0\0\0\0\0\1\0\0", 8) + "{}");
    CHECK_THAT(error(), Contains(path) && Contains("absurd"));
  }
  SECTION("header garbage") {
    write_raw(path, "\x01\x02garbage", "");
    CHECK_THAT(error(), Contains(path) && Contains("not valid JSON"));
  }
  SECTION("a number past double in the header (found by fuzz_safetensors)") {
    write_raw(path, R"({"t": {"dtype": "F32", "shape": [5555555555555555555555555555555555555E555], "data_offsets": [0, 4]}})", "");
    CHECK_THAT(error(), Contains(path) && Contains("not valid JSON") && Contains("number overflow"));
  }
  SECTION("header not an object") {
    write_raw(path, "[1, 2]", "");
    CHECK_THAT(error(), Contains(path) && Contains("not a JSON object"));
  }
  SECTION("entry missing dtype, shape or data_offsets") {
    with_entry(R"({"shape": [2], "data_offsets": [0, 8]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("dtype"));
    with_entry(R"({"dtype": "F32", "data_offsets": [0, 8]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("shape"));
    with_entry(R"({"dtype": "F32", "shape": [2]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("data_offsets"));
    with_entry("3");
    CHECK_THAT(error(), Contains(path) && Contains("'t'"));
  }
  SECTION("unknown dtype") {
    with_entry(R"({"dtype": "F17", "shape": [2], "data_offsets": [0, 8]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("F17"));
    with_entry(R"({"dtype": "f32", "shape": [2], "data_offsets": [0, 8]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("f32"));
  }
  SECTION("negative or non-integer dimension") {
    with_entry(R"({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("negative"));
    with_entry(R"({"dtype": "F32", "shape": [2.5], "data_offsets": [0, 8]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("shape"));
  }
  SECTION("data_offsets not [begin, end] with begin <= end") {
    with_entry(R"({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("begin > end"));
    with_entry(R"({"dtype": "F32", "shape": [2], "data_offsets": [0, 4, 8]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("data_offsets"));
    with_entry(R"({"dtype": "F32", "shape": [2], "data_offsets": [-8, 0]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("data_offsets"));
  }
  SECTION("offsets out of range") {
    write_raw(path, R"({"bert.pooler.dense.weight":{"dtype":"F32","shape":[25],"data_offsets":[0,100]}})",
              std::string(64, '\0'));
    CHECK_THAT(error(), Contains(path + ": tensor 'bert.pooler.dense.weight': data_offsets [0, 100] exceed "
                                       "data section of 64 bytes"));
  }
  SECTION("byte size differs from shape and dtype") {
    with_entry(R"({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'") && Contains("needs 12"));
    with_entry(R"({"dtype": "BF16", "shape": [4294967296, 4294967296], "data_offsets": [0, 8]})");
    CHECK_THAT(error(), Contains(path) && Contains("'t'"));
  }
  SECTION("truncated file") {
    save_safetensors(path, {{"a", at::ones({4})}, {"big", at::ones({100})}});
    const std::string bytes = read_file(path);
    write_file(path, bytes.substr(0, bytes.size() - 10));
    CHECK_THAT(error(), Contains(path) && Contains("'big'") && Contains("exceed data section"));
  }
  SECTION("metadata not strings") {
    write_raw(path, R"({"__metadata__": {"n": 3}})", "");
    CHECK_THAT(error(), Contains(path) && Contains("__metadata__"));
  }
  SECTION("missing tensor") {
    save_safetensors(path, {{"a", at::ones({4})}});
    SafetensorsFile file(path);
    CHECK_THAT(error_of([&] { file.get("encoder.missing"); }), Contains(path) && Contains("'encoder.missing'"));
  }
}

TEST_CASE("save_safetensors is atomic and refuses what the format cannot hold", "[safetensors]") {
  TempDir dir;
  const std::string path = dir / "out.safetensors";
  save_safetensors(path, {{"old", at::ones({2})}});
  save_safetensors(path, {{"new", at::zeros({3})}});
  CHECK(files_in(dir.path) == std::vector<std::string>{"out.safetensors"});
  CHECK(SafetensorsFile(path).contains("new"));

  const std::map<std::string, at::Tensor> bad[] = {
      {{"fine", at::ones({2})}, {"cplx", at::ones({2}, at::kComplexFloat)}},
      {{"cplx", at::Tensor()}},
      {{"cplx", at::ones({2}).to_sparse()}},
      {{"__metadata__", at::ones({1})}},
  };
  for (const auto& tensors : bad) {
    const std::string name = tensors.count("cplx") ? "cplx" : "__metadata__";
    CHECK_THAT(error_of([&] { save_safetensors(path, tensors); }), Contains(path) && Contains("'" + name + "'"));
  }
  // The failed writes left the earlier file and no temporary.
  CHECK(files_in(dir.path) == std::vector<std::string>{"out.safetensors"});
  CHECK(SafetensorsFile(path).contains("new"));

  CHECK_THAT(error_of([&] { save_safetensors(dir / "no/such/dir/x.safetensors", {{"a", at::ones({1})}}); }),
             Contains("no/such/dir/x.safetensors"));
}

// Hugging Face's safetensors library wrote a file (tests/hf/safetensors_fixtures.py,
// run by the hf_reference_fixtures test); we must read exactly its values.
TEST_CASE("reads files written by Hugging Face's safetensors", "[safetensors][hf]") {
  const fs::path fixtures = LONGQA_HF_FIXTURES;
  if (skip_without_fixtures()) return;
  const std::string path = (fixtures / "safetensors_hf.safetensors").string();
  REQUIRE(fs::exists(path));
  std::ifstream in(fixtures / "safetensors_hf.json");
  const json expected = json::parse(in);

  SafetensorsFile file(path);
  CHECK(json(file.metadata()) == expected["metadata"]);
  CHECK(file.tensors().size() == expected["tensors"].size());
  for (const auto& [name, want] : expected["tensors"].items()) {
    INFO(name);
    REQUIRE(file.contains(name));
    const at::Tensor t = file.get(name);
    CHECK(file.tensors().at(name).dtype == want["dtype"]);
    CHECK(describe(t) == want);  // dtype, shape, values and raw bytes
  }
}

// And the other direction: Hugging Face's library reads what we write.
TEST_CASE("Hugging Face's safetensors reads files we write", "[safetensors][hf]") {
  if (skip_without_fixtures()) return;
  const fs::path out = LONGQA_HF_FIXTURES;
  const std::string path = (out / "safetensors_from_cpp.safetensors").string();
  const std::string expected_path = (out / "safetensors_from_cpp.json").string();

  auto tensors = all_dtypes();
  tensors["encoder.layer.0.output.LayerNorm.weight"] = at::randn({5});
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"unicode", "grüße ✓"}};
  save_safetensors(path, tensors, metadata);
  json expected = {{"metadata", metadata}, {"tensors", json::object()}};
  for (const auto& [name, t] : tensors) expected["tensors"][name] = describe(t);
  std::ofstream(expected_path) << expected.dump(1);

  const std::string script = std::string(LONGQA_SOURCE_DIR) + "/tests/hf/check_safetensors.py";
  const std::string command = "'" + std::string(LONGQA_PYTHON) + "' '" + script + "' '" + path + "' '" + expected_path + "'";
  const int status = std::system(command.c_str());
  INFO(command);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}
