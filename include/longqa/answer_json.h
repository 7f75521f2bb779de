// The one JSON rendering of answers and retrieved documents, shared by the HTTP API and
// the CLI's --json output (the shapes server/openapi.json documents).
#pragma once
#include <nlohmann/json_fwd.hpp>

#include "longqa/pipeline.h"

namespace longqa {

// A reader answer: text, score, passage_prior, context_index, begin/end_char, begin/end_byte, no_answer.
nlohmann::json to_json(const Answer& answer);
// A pipeline answer: text, score, passage_prior, document_id, title, document_rank, offsets, snippet, no_answer.
nlohmann::json to_json(const PipelineAnswer& answer);
// id, index, begin_byte, end_byte, score, dense/bm25 score and rank, text.
nlohmann::json to_json(const retriever::PassageHit& passage);
// id, title, score, passages.
nlohmann::json to_json(const retriever::DocumentHit& document);
// answers, documents, tokens, timings_ms {retrieve, fetch, read, total}.
nlohmann::json to_json(const PipelineResult& result);

// UTF-8 JSON text; invalid UTF-8 in strings is replaced rather than thrown on.
std::string dump_json(const nlohmann::json& value, int indent = -1);

}  // namespace longqa
