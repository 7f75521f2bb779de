#include "longqa/answer_json.h"

#include <nlohmann/json.hpp>

namespace longqa {

using nlohmann::json;

json to_json(const Answer& a) {
  return {{"text", a.text},         {"score", a.score},       {"passage_prior", a.passage_prior}, {"context_index", a.document},
          {"begin_char", a.begin_char}, {"end_char", a.end_char}, {"begin_byte", a.begin_byte},
          {"end_byte", a.end_byte},   {"no_answer", a.no_answer}};
}

json to_json(const PipelineAnswer& a) {
  return {{"text", a.text},
          {"score", a.score},
          {"passage_prior", a.passage_prior},
          {"document_id", a.document_id},
          {"title", a.title},
          {"document_rank", a.document_rank},
          {"begin_char", a.begin_char},
          {"end_char", a.end_char},
          {"begin_byte", a.begin_byte},
          {"end_byte", a.end_byte},
          {"snippet", a.snippet},
          {"no_answer", a.no_answer}};
}

json to_json(const retriever::PassageHit& p) {
  return {{"id", p.id},
          {"index", p.index},
          {"begin_byte", p.begin},
          {"end_byte", p.end},
          {"score", p.score},
          {"dense_score", p.dense_score},
          {"dense_rank", p.dense_rank},
          {"bm25_score", p.bm25_score},
          {"bm25_rank", p.bm25_rank},
          {"text", p.text}};
}

json to_json(const retriever::DocumentHit& d) {
  json passages = json::array();
  for (const auto& p : d.passages) passages.push_back(to_json(p));
  return {{"id", d.id}, {"title", d.title}, {"score", d.score}, {"passages", std::move(passages)}};
}

json to_json(const PipelineResult& r) {
  json answers = json::array(), documents = json::array();
  for (const auto& a : r.answers) answers.push_back(to_json(a));
  for (const auto& d : r.documents) documents.push_back(to_json(d));
  return {{"answers", std::move(answers)},
          {"documents", std::move(documents)},
          {"tokens", r.tokens},
          {"timings_ms",
           {{"retrieve", r.timings.retrieve_ms},
            {"fetch", r.timings.fetch_ms},
            {"read", r.timings.read_ms},
            {"total", r.timings.total_ms}}}};
}

std::string dump_json(const json& value, int indent) {
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace longqa
