#include "server_fixture.h"

#include "longqa/qa_model.h"
#include "retriever_fixtures.h"
#include "test_util.h"

namespace longqa::test {

void write_random_reader(const std::string& dir, int layers, int hidden) {
  ModelConfig c;
  c.model_type = "littlebird";
  c.vocab_size = static_cast<int64_t>(tiny_vocab().size());
  c.hidden_size = hidden;
  c.num_hidden_layers = layers;
  c.num_attention_heads = 4;
  c.intermediate_size = 2 * hidden;
  c.block_size = 16;
  c.pack_size = 8;
  c.max_seq_length = 256;
  QaModel::random(c, 7).save(dir);
  write_vocab(dir, tiny_vocab());
}

void write_random_encoder(const std::string& dir) { write_tiny_encoder(dir, 11); }

}  // namespace longqa::test
