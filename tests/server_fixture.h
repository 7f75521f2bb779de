// Model fixtures for the server tests, kept apart from them: building a model needs
// torch headers, and the server tests include Boost.Beast.
#pragma once
#include <string>

namespace longqa::test {

// Writes a random LittleBird reader (config.json, model.safetensors, vocab.txt of tiny_vocab())
// into `dir`. Bigger `hidden` and `layers` make reading slower.
void write_random_reader(const std::string& dir, int layers, int hidden);

// Writes a random BERT text encoder (2 layers, hidden 32, tiny_vocab()) for an index into `dir`.
void write_random_encoder(const std::string& dir);

}  // namespace longqa::test
