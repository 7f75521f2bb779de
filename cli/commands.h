// The longqa subcommands. Each takes the arguments after its own name and returns the exit code.
#pragma once
#include <string>
#include <vector>

namespace longqa::cli {

using Argv = std::vector<std::string>;

int read_command(const Argv& argv);
int tokenize_command(const Argv& argv);
int model_init_command(const Argv& argv);
int model_convert_command(const Argv& argv);
int model_export_command(const Argv& argv);
int model_info_command(const Argv& argv);
int index_command(const Argv& argv);   // index build|add|delete|info|repair
int search_command(const Argv& argv);
int serve_command(const Argv& argv);
int pretrain_command(const Argv& argv);
int distill_command(const Argv& argv);
int train_retriever_command(const Argv& argv);
int train_reader_command(const Argv& argv);
int eval_command(const Argv& argv);
int ask_command(const Argv& argv);

int vocab_subset_command(const Argv& argv);

// The texts of the documents under comma-separated corpus paths (any format); bad records
// are reported on stderr and skipped.
std::vector<std::string> read_corpus_texts(const std::string& comma_separated_paths);
// The whole content of a file; throws naming the file when it cannot be read.
std::string read_text_file(const std::string& path);

}  // namespace longqa::cli
