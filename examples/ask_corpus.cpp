// Embedding the whole pipeline: build an index from corpus files, then ask it a question
// (retrieve -> read the top documents whole -> ranked answers).
//   ask_corpus MODEL_DIR ENCODER_DIR INDEX_DIR QUESTION CORPUS_FILE...
#include <longqa/corpus.h>
#include <longqa/index.h>
#include <longqa/pipeline.h>
#include <longqa/text_encoder.h>

#include <iostream>
#include <memory>

int main(int argc, char** argv) {
  if (argc < 6) {
    std::cerr << "usage: ask_corpus MODEL_DIR ENCODER_DIR INDEX_DIR QUESTION CORPUS_FILE...\n";
    return 2;
  }
  try {
    namespace retriever = longqa::retriever;
    auto encoder = std::make_shared<const longqa::TextEncoder>(longqa::TextEncoder::load(argv[2]));
    {
      // Ingest every document of the corpus files into a new index, durable when add() returns.
      retriever::IndexOptions index_options;
      index_options.encoder_path = argv[2];
      auto index = retriever::Index::create(argv[3], encoder, index_options);
      std::vector<retriever::Document> documents;
      retriever::IngestOptions ingest_options;
      ingest_options.fail_on_error = true;
      retriever::ingest(std::vector<std::string>(argv + 5, argv + argc), ingest_options,
                        [&](retriever::Document&& d) { documents.push_back(std::move(d)); }, nullptr);
      const auto added = index.add(std::move(documents));
      index.commit();
      std::cout << "indexed " << added.documents << " documents, " << added.passages << " passages\n";
    }
    // Ask: the index opened read-only with the encoder its manifest records.
    const auto pipeline = longqa::Pipeline::open(argv[1], argv[3]);
    longqa::AskOptions options;
    options.top_k_documents = 2;
    options.top_k_answers = 3;
    for (const auto& a : pipeline.ask(argv[4], options).answers)
      std::cout << a.score << "\t" << a.document_id << "\t[" << a.begin_char << ", " << a.end_char << ")\t" << a.text
                << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
