// Embedding the reader: load a model directory, answer a question from a document.
//   answer_question MODEL_DIR QUESTION DOCUMENT_FILE
#include <longqa/reader.h>

#include <fstream>
#include <iostream>
#include <sstream>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: answer_question MODEL_DIR QUESTION DOCUMENT_FILE\n";
    return 2;
  }
  std::ifstream in(argv[3], std::ios::binary);
  if (!in) {
    std::cerr << argv[3] << ": cannot open\n";
    return 1;
  }
  std::stringstream document;
  document << in.rdbuf();

  try {
    longqa::ReaderOptions options;
    options.n_best = 3;
    longqa::Reader reader(argv[1], options);
    for (const auto& answer : reader.read(argv[2], document.str()))
      std::cout << answer.score << "\t[" << answer.begin_char << ", " << answer.end_char << ")\t" << answer.text
                << "\n";
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
