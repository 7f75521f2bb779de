// Loading the models onto their device: the reader, and the index with its text encoder;
// describing the build for /v1/info. The only part of the server that includes torch
// headers (model_loader.cpp).
#pragma once
#include <memory>
#include <nlohmann/json.hpp>

#include "longqa/store.h"
#include "longqa/reader.h"
#include "settings.h"

namespace longqa::server {

struct LoadedReader {
  std::shared_ptr<const Reader> reader;
  nlohmann::json model;  // the model's size and type (the "model" of /v1/info)
};

// The model directory settings.reader_dir, on settings.device, with the reader settings.
// Throws naming the directory or the device when either is unusable.
LoadedReader load_reader(const ServerSettings& settings);

// The index directory settings.index_dir, opened for writing with its encoder (settings.encoder,
// else the one its manifest names) on settings.device. A directory without an index gets a
// new, empty one made with settings.encoder.
std::unique_ptr<retriever::Store> load_index(const ServerSettings& settings);

// The "build" of /v1/info: device, whether CUDA is available, libtorch version, compiler.
nlohmann::json build_info(const ServerSettings& settings);

}  // namespace longqa::server
