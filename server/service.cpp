#include "service.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <stdexcept>

#include "json_schema.h"
#include "longqa/reader.h"
#include "longqa/retriever.h"
#include "longqa/tokenizer.h"
#include "model_loader.h"
#include "work_queue.h"

namespace longqa::server {

extern const char* const kOpenApiText;  // openapi.json, embedded by CMake

namespace {

using nlohmann::json;

constexpr int kMaxJsonDepth = 64;
constexpr int64_t kDefaultTopKAnswers = 5;
constexpr int64_t kDefaultTopKDocuments = 3;   // /v1/ask reads this many documents whole
constexpr int64_t kDefaultTopKRetrieve = 10;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

Response json_response(int status, const json& body) {
  Response r;
  r.status = status;
  r.body = dump(body);
  return r;
}

// The error "type" for a status: one word per family, as the OpenAPI document lists them.
const char* error_type(int status) {
  switch (status) {
    case 400: return "invalid_request";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 413: case 431: return "too_large";
    case 429: return "overloaded";
    case 503: return "unavailable";
    default: return status < 500 ? "invalid_request" : "internal";
  }
}

// The server's limits replace the placeholders of the embedded document:
// "x-longqa-limit": {"maxLength": "max_question_chars"} sets maxLength from that setting.
void fill_limits(json& node, const ServerSettings& settings) {
  if (node.is_object()) {
    if (auto limits = node.find("x-longqa-limit"); limits != node.end()) {
      for (const auto& [keyword, setting] : limits->items()) {
        const auto& specs = setting_specs();
        auto spec = std::find_if(specs.begin(), specs.end(), [&](const SettingSpec& s) { return s.name == setting; });
        if (spec == specs.end()) throw std::logic_error("openapi.json names an unknown setting " + setting.dump());
        node[keyword] = json::parse(spec->show(settings));
      }
      node.erase("x-longqa-limit");
    }
    for (auto& [key, child] : node.items()) fill_limits(child, settings);
  } else if (node.is_array()) {
    for (auto& child : node) fill_limits(child, settings);
  }
}

// Deeper nesting than any request needs is refused before parsing (the checker recurses).
bool nested_deeper_than(const std::string& text, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (c == '\\') escaped = true;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

// "%2F" -> "/"; nullopt for a malformed escape.
std::optional<std::string> percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(s[i + 2])))
      return std::nullopt;
    out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
    i += 2;
  }
  return out;
}

// The 400 for a body that breaks its schema; the code says how. (413 is for the body's
// size alone: the fields' limits are part of the schema, which clients can read.)
Response schema_error(const SchemaError& e) {
  const std::string code = e.keyword == "required"                                  ? "missing_field"
                           : e.keyword == "additionalProperties"                    ? "unknown_field"
                           : e.keyword == "type"                                    ? "wrong_type"
                           : e.keyword == "maxLength" || e.keyword == "maxItems"    ? "too_long"
                                                                                    : "invalid_value";
  return Service::error(400, code, e.message);
}

// An exception from a job: bad input the schema cannot see is the client's (400), the rest ours.
Response exception_response(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::invalid_argument& e) {
    return Service::error(400, "invalid_value", e.what());
  } catch (const std::exception& e) {
    return Service::error(500, "internal_error", e.what());
  } catch (...) {
    return Service::error(500, "internal_error", "unknown error");
  }
}

// Milliseconds of each stage; "total" runs from arrival at the queue to now.
json timings(const Job& job, json stages) {
  stages["queue"] = job.queue_seconds * 1e3;
  stages["total"] = ms_since(job.enqueued);
  return stages;
}

// A job that reads: counts its tokens on the worker (the counts drive batching), is read in
// a batch, answers with the answers of its documents.
class ReadingJob : public Job {
 public:
  ReadingJob(const Reader& reader, Metrics& metrics, int64_t top_k, Respond respond)
      : reader_(reader), metrics_(metrics), top_k_(top_k), respond_(std::move(respond)) {}

  void fail(std::exception_ptr error) override { respond_(exception_response(error)); }

 protected:
  Reading tokenized(ReadRequest request) {
    const auto start = Clock::now();
    const Tokenizer& tokenizer = reader_.tokenizer();
    const auto question = static_cast<int64_t>(tokenizer.tokenize(request.question).size());
    tokens_ = 0;
    for (const auto& document : request.documents)
      tokens_ += question + static_cast<int64_t>(tokenizer.tokenize(document).size());
    tokenize_ms_ = ms_since(start);
    metrics_.observe_stage("tokenize", tokenize_ms_ / 1e3);
    return Reading{std::move(request), tokens_};
  }
  std::vector<Answer> top(std::vector<Answer> answers) const {
    if (static_cast<int64_t>(answers.size()) > top_k_) answers.resize(static_cast<size_t>(top_k_));
    return answers;
  }

  const Reader& reader_;
  Metrics& metrics_;
  int64_t top_k_;
  Respond respond_;
  int64_t tokens_ = 0;
  double tokenize_ms_ = 0;
};

// POST /v1/read.
class ReadJob : public ReadingJob {
 public:
  ReadJob(const Reader& reader, Metrics& metrics, ReadRequest request, int64_t top_k, Respond respond)
      : ReadingJob(reader, metrics, top_k, std::move(respond)), request_(std::move(request)) {}

  std::optional<Reading> prepare() override { return tokenized(std::move(request_)); }

  void finish(std::vector<Answer> answers, size_t) override {
    json out = {{"answers", json::array()},
                {"tokens", tokens_},
                {"timings_ms", timings(*this, {{"tokenize", tokenize_ms_}, {"read", read_seconds * 1e3}})}};
    for (const auto& a : top(std::move(answers)))
      out["answers"].push_back({{"text", a.text},
                                {"score", a.score},
                                {"context_index", a.document},
                                {"begin_char", a.begin_char},
                                {"end_char", a.end_char},
                                {"begin_byte", a.begin_byte},
                                {"end_byte", a.end_byte},
                                {"no_answer", a.no_answer}});
    respond_(json_response(200, out));
  }

 private:
  ReadRequest request_;
};

// The answer with up to kSnippetBytes of text on each side, cut at character boundaries.
std::string snippet(const std::string& text, int64_t begin, int64_t end) {
  constexpr int64_t kSnippetBytes = 120;
  auto at_boundary = [&](int64_t i) { return i <= 0 || i >= static_cast<int64_t>(text.size()) || (text[i] & 0xC0) != 0x80; };
  int64_t from = std::max<int64_t>(0, begin - kSnippetBytes), to = std::min<int64_t>(text.size(), end + kSnippetBytes);
  while (!at_boundary(from)) ++from;
  while (!at_boundary(to)) --to;
  return text.substr(static_cast<size_t>(from), static_cast<size_t>(to - from));
}

// POST /v1/ask: retrieve on the worker, then read the documents whole, in a batch.
class AskJob : public ReadingJob {
 public:
  AskJob(const Reader& reader, const retriever::Retriever& retriever, const retriever::Index& index, Metrics& metrics,
         std::string question, int64_t top_k_documents, int64_t top_k, Respond respond)
      : ReadingJob(reader, metrics, top_k, std::move(respond)),
        retriever_(retriever),
        index_(index),
        question_(std::move(question)),
        top_k_documents_(top_k_documents) {}

  std::optional<Reading> prepare() override {
    const auto start = Clock::now();
    ReadRequest request;
    request.question = question_;
    for (auto& hit : retriever_.search(question_, top_k_documents_)) {
      auto document = index_.document(hit.id);
      if (!document) continue;  // deleted since the search
      request.documents.push_back(document->text);
      hits_.push_back(std::move(hit));
      texts_.push_back(std::move(document->text));
    }
    retrieve_ms_ = ms_since(start);
    metrics_.observe_stage("retrieve", retrieve_ms_ / 1e3);
    if (hits_.empty()) {
      finish({}, 0);
      return std::nullopt;
    }
    return tokenized(std::move(request));
  }

  void finish(std::vector<Answer> answers, size_t) override {
    json out = {{"answers", json::array()},
                {"documents", json::array()},
                {"tokens", tokens_},
                {"timings_ms", timings(*this, {{"retrieve", retrieve_ms_},
                                               {"tokenize", tokenize_ms_},
                                               {"read", read_seconds * 1e3}})}};
    for (const auto& a : top(std::move(answers))) {
      const auto d = static_cast<size_t>(a.document);
      out["answers"].push_back({{"text", a.text},
                                {"score", a.score},
                                {"document_id", hits_[d].id},
                                {"title", hits_[d].title},
                                {"begin_char", a.begin_char},
                                {"end_char", a.end_char},
                                {"begin_byte", a.begin_byte},
                                {"end_byte", a.end_byte},
                                {"snippet", snippet(texts_[d], a.begin_byte, a.end_byte)},
                                {"no_answer", a.no_answer}});
    }
    for (const auto& hit : hits_) out["documents"].push_back({{"id", hit.id}, {"title", hit.title}, {"score", hit.score}});
    respond_(json_response(200, out));
  }

 private:
  const retriever::Retriever& retriever_;
  const retriever::Index& index_;
  std::string question_;
  int64_t top_k_documents_;
  std::vector<retriever::DocumentHit> hits_;
  std::vector<std::string> texts_;  // of hits_, for snippets
  double retrieve_ms_ = 0;
};

// Work that reads nothing (retrieval, document reads and writes): done in prepare().
class TaskJob : public Job {
 public:
  TaskJob(std::function<Response(double queue_ms)> work, Respond respond)
      : work_(std::move(work)), respond_(std::move(respond)) {}

  std::optional<Reading> prepare() override {
    respond_(work_(queue_seconds * 1e3));
    return std::nullopt;
  }
  void finish(std::vector<Answer>, size_t) override {}  // never called: prepare() reads nothing
  void fail(std::exception_ptr error) override { respond_(exception_response(error)); }

 private:
  std::function<Response(double)> work_;
  Respond respond_;
};

}  // namespace

struct Service::Match {
  const Route* route = nullptr;
  std::optional<Response> error;
  std::string id;  // the {id} of /v1/documents/{id}, decoded
};

Service::Service(ServerSettings settings) : settings_(std::move(settings)) {
  settings_.validate();
  openapi_ = json::parse(kOpenApiText);
  fill_limits(openapi_, settings_);
  build_info_ = build_info(settings_);

  WorkQueueOptions options;
  options.capacity = static_cast<size_t>(settings_.queue_capacity);
  options.workers = static_cast<size_t>(settings_.workers);
  options.max_batch_size = static_cast<size_t>(settings_.max_batch_size);
  options.max_batch_tokens = settings_.max_batch_tokens;
  options.max_wait = std::chrono::microseconds(static_cast<int64_t>(settings_.max_wait_ms * 1e3));
  queue_ = std::make_unique<WorkQueue>(
      options, [this](const std::vector<ReadRequest>& requests) { return reader_->read_batch(requests); }, metrics_);

  metrics_.add_gauge("longqa_queue_depth", "Requests waiting for a worker.",
                     [this] { return static_cast<double>(queue_->depth()); });
  metrics_.add_gauge("longqa_queue_capacity", "Requests that may wait before new ones are refused (429).",
                     [this] { return static_cast<double>(settings_.queue_capacity); });
  metrics_.add_gauge("longqa_workers_busy", "Workers preparing or reading a batch.",
                     [this] { return static_cast<double>(queue_->busy_workers()); });
  metrics_.add_gauge("longqa_ready", "1 when the server answers queries, 0 while loading or shutting down.",
                     [this] { return state_ == State::kReady ? 1.0 : 0.0; });
}

// Without stop() the index is not checkpointed; its docstore has every change anyway.
Service::~Service() { queue_->stop(); }

void Service::load() {
  try {
    LoadedReader loaded = load_reader(settings_);
    reader_ = std::move(loaded.reader);
    model_info_ = std::move(loaded.model);
    loaded_ = true;
    if (!settings_.index_dir.empty()) {
      index_ = load_index(settings_);
      retriever::RetrieverOptions options;
      options.mode = retriever::parse_search_mode(settings_.retrieval_mode);
      retriever_ = std::make_unique<retriever::Retriever>(*index_, options);
      last_commit_ = Clock::now();
      refresh_index_info();
    }
  } catch (...) {
    State expected = State::kLoading;
    state_.compare_exchange_strong(expected, State::kFailed);
    throw;
  }
  State expected = State::kLoading;
  state_.compare_exchange_strong(expected, State::kReady);
}

void Service::begin_shutdown() {
  State s = state_;
  while (s != State::kFailed && !state_.compare_exchange_weak(s, State::kShuttingDown)) {
  }
}

void Service::stop() {
  begin_shutdown();
  queue_->stop();
  std::lock_guard<std::mutex> lock(index_mutex_);
  if (index_ && uncommitted_) {
    index_->commit();
    uncommitted_ = false;
  }
}

const std::vector<Route>& Service::routes() {
  static const std::vector<Route> routes = {
      {"GET", "/health"},        {"GET", "/metrics"},           {"GET", "/openapi.json"},
      {"GET", "/v1/info"},       {"POST", "/v1/read"},          {"POST", "/v1/ask"},
      {"POST", "/v1/retrieve"},  {"POST", "/v1/documents"},     {"GET", "/v1/documents/{id}"},
      {"DELETE", "/v1/documents/{id}"}};
  return routes;
}

Response Service::error(int status, const std::string& code, const std::string& message) {
  return json_response(status, {{"error", {{"code", code}, {"message", message}, {"type", error_type(status)}}}});
}

Service::Match Service::match(const std::string& method, const std::string& target) const {
  Match m;
  const std::string path = target.substr(0, target.find('?'));
  const std::string documents = "/v1/documents/";
  std::string pattern = path;
  if (path.size() > documents.size() && path.compare(0, documents.size(), documents) == 0 &&
      path.find('/', documents.size()) == std::string::npos) {
    pattern = documents + "{id}";
    auto id = percent_decode(path.substr(documents.size()));
    if (!id) {
      m.error = error(400, "invalid_value", "document id in the path is not valid percent-encoding");
      return m;
    }
    try {
      validate_utf8(*id);
    } catch (const std::invalid_argument& e) {
      m.error = error(400, "invalid_utf8", std::string("document id in the path: ") + e.what());
      return m;
    }
    m.id = std::move(*id);
  }
  std::string allowed;
  for (const auto& route : routes()) {
    if (route.pattern != pattern) continue;
    if (route.method == method) {
      m.route = &route;
      return m;
    }
    allowed += (allowed.empty() ? "" : ", ") + route.method;
  }
  if (allowed.empty()) {
    m.error = error(404, "not_found", "no such endpoint: " + method + " " + path + " (see GET /openapi.json)");
  } else {
    m.error = error(405, "method_not_allowed", pattern + " accepts " + allowed + ", not " + method);
    m.error->headers.emplace_back("Allow", allowed);
    m.error->endpoint = pattern;
  }
  return m;
}

std::optional<Response> Service::check_route(const std::string& method, const std::string& target) const {
  return match(method, target).error;
}

std::optional<json> Service::parse_body(const Request& request, const Route& route, const Respond& respond) const {
  if (request.body.empty()) {
    respond(error(400, "bad_json", "the request body is empty; expected a JSON object"));
    return std::nullopt;
  }
  try {
    validate_utf8(request.body);
  } catch (const std::invalid_argument& e) {
    respond(error(400, "invalid_utf8", std::string("request body: ") + e.what()));
    return std::nullopt;
  }
  if (nested_deeper_than(request.body, kMaxJsonDepth)) {
    respond(error(400, "bad_json", "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels"));
    return std::nullopt;
  }
  json body;
  try {
    body = json::parse(request.body);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (auto end = what.find("] "); end != std::string::npos) what = what.substr(end + 2);  // drop "[json.exception...]"
    respond(error(400, "bad_json", "invalid JSON: " + what));
    return std::nullopt;
  }
  std::string method = route.method;
  std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::tolower(c); });
  const json& schema = openapi_["paths"][route.pattern][method]["requestBody"]["content"]["application/json"]["schema"];
  if (auto e = check_schema(openapi_, schema, body)) {
    respond(schema_error(*e));
    return std::nullopt;
  }
  return body;
}

void Service::handle(Request request, Respond respond) {
  Match m = match(request.method, request.target);
  if (m.error) return respond(std::move(*m.error));
  const std::string& endpoint = m.route->pattern;
  Respond reply = [respond = std::move(respond), endpoint](Response r) {
    r.endpoint = endpoint;
    respond(std::move(r));
  };
  if (endpoint == "/health") return reply(health());
  if (endpoint == "/metrics") {
    Response r;
    r.content_type = Metrics::kContentType;
    r.body = metrics_.render();
    return reply(std::move(r));
  }
  if (endpoint == "/openapi.json") return reply(json_response(200, openapi_));
  if (endpoint == "/v1/info") return reply(info());

  const State state = state_;
  if (state != State::kReady) {
    Response r = state == State::kLoading ? error(503, "loading", "the model is still loading")
                 : state == State::kFailed ? error(503, "failed", "the model failed to load")
                                           : error(503, "shutting_down", "the server is shutting down");
    r.headers.emplace_back("Retry-After", std::to_string(settings_.retry_after_s));
    return reply(std::move(r));
  }
  if (endpoint != "/v1/read" && !index_)
    return reply(error(404, "no_index", "no index is loaded: start the server with --index DIR to use " + endpoint));
  if (endpoint == "/v1/documents/{id}")
    return request.method == "GET" ? get_document(m.id, reply) : delete_document(m.id, reply);
  auto body = parse_body(request, *m.route, reply);
  if (!body) return;
  if (endpoint == "/v1/read") return read(*body, reply);
  if (endpoint == "/v1/ask") return ask(*body, reply);
  if (endpoint == "/v1/retrieve") return retrieve(*body, reply);
  add_documents(*body, reply);
}

void Service::enqueue(std::unique_ptr<Job> job, const Respond& respond) {
  switch (queue_->push(std::move(job))) {
    case WorkQueue::Push::kQueued: return;
    case WorkQueue::Push::kFull: {
      Response r = error(429, "queue_full",
                         "the queue is full (" + std::to_string(settings_.queue_capacity) + " requests waiting); retry later");
      r.headers.emplace_back("Retry-After", std::to_string(settings_.retry_after_s));
      return respond(std::move(r));
    }
    case WorkQueue::Push::kStopped: {
      Response r = error(503, "shutting_down", "the server is shutting down");
      r.headers.emplace_back("Retry-After", std::to_string(settings_.retry_after_s));
      return respond(std::move(r));
    }
  }
}

void Service::read(json& body, const Respond& respond) {
  ReadRequest request;
  request.question = std::move(body["question"].get_ref<std::string&>());
  if (body.contains("context")) {
    request.documents.push_back(std::move(body["context"].get_ref<std::string&>()));
  } else {
    for (auto& context : body["contexts"]) request.documents.push_back(std::move(context.get_ref<std::string&>()));
  }
  const int64_t top_k = body.value("top_k_answers", kDefaultTopKAnswers);
  enqueue(std::make_unique<ReadJob>(*reader_, metrics_, std::move(request), top_k, respond), respond);
}

void Service::ask(json& body, const Respond& respond) {
  enqueue(std::make_unique<AskJob>(*reader_, *retriever_, *index_, metrics_,
                                   std::move(body["question"].get_ref<std::string&>()),
                                   body.value("top_k_documents", kDefaultTopKDocuments),
                                   body.value("top_k_answers", kDefaultTopKAnswers), respond),
          respond);
}

void Service::retrieve(const json& body, const Respond& respond) {
  const std::string question = body["question"];
  const int64_t k = body.value("top_k", kDefaultTopKRetrieve);
  run_task(
      [this, question, k](double queue_ms) {
        const auto start = Clock::now();
        json documents = json::array();
        for (const auto& hit : retriever_->search(question, k)) {
          json passages = json::array();
          for (const auto& p : hit.passages)
            passages.push_back({{"index", p.index}, {"begin_byte", p.begin}, {"end_byte", p.end}, {"score", p.score}, {"text", p.text}});
          documents.push_back({{"id", hit.id}, {"title", hit.title}, {"score", hit.score}, {"passages", std::move(passages)}});
        }
        const double retrieve_ms = ms_since(start);
        metrics_.observe_stage("retrieve", retrieve_ms / 1e3);
        return json_response(200, {{"documents", std::move(documents)},
                                   {"timings_ms", {{"queue", queue_ms}, {"retrieve", retrieve_ms}, {"total", queue_ms + retrieve_ms}}}});
      },
      respond);
}

void Service::add_documents(json& body, const Respond& respond) {
  auto documents = std::make_shared<std::vector<retriever::Document>>();
  std::map<std::string, size_t> position;  // an id given twice: the later document replaces the earlier, as across requests
  for (auto& d : body["documents"]) {
    retriever::Document doc;
    doc.id = d["id"];
    doc.title = d.value("title", "");
    doc.text = std::move(d["text"].get_ref<std::string&>());
    doc.metadata_json = d.contains("metadata") ? dump(d["metadata"]) : "{}";
    doc.source = "api";
    auto [it, added] = position.emplace(doc.id, documents->size());
    if (added)
      documents->push_back(std::move(doc));
    else
      (*documents)[it->second] = std::move(doc);
  }
  run_task(
      [this, documents](double queue_ms) {
        std::vector<std::string> added;
        for (const auto& d : *documents) added.push_back(d.id);
        const auto start = Clock::now();
        retriever::Index::AddResult result;
        {
          std::lock_guard<std::mutex> lock(index_mutex_);
          result = index_->add(std::move(*documents));  // durable when it returns
          uncommitted_ = true;
        }
        after_index_write();
        const double write_ms = ms_since(start);
        metrics_.observe_stage("index_write", write_ms / 1e3);
        return json_response(200, {{"ids", added},
                                   {"count", result.documents},
                                   {"replaced", result.replaced},
                                   {"passages", result.passages},
                                   {"timings_ms", {{"queue", queue_ms}, {"index_write", write_ms}, {"total", queue_ms + write_ms}}}});
      },
      respond);
}

void Service::get_document(const std::string& id, const Respond& respond) {
  run_task(
      [this, id](double) {
        auto document = index_->document(id);
        if (!document) return error(404, "document_not_found", "no document with id '" + id + "'");
        json metadata = json::parse(document->metadata_json, nullptr, /*allow_exceptions=*/false);
        if (!metadata.is_object()) metadata = json::object();
        return json_response(200, {{"id", document->id},
                                   {"title", document->title},
                                   {"text", std::move(document->text)},
                                   {"metadata", std::move(metadata)}});
      },
      respond);
}

void Service::delete_document(const std::string& id, const Respond& respond) {
  run_task(
      [this, id](double) {
        const auto start = Clock::now();
        retriever::Index::RemoveResult result;
        {
          std::lock_guard<std::mutex> lock(index_mutex_);
          result = index_->remove({id});  // durable when it returns
          uncommitted_ = uncommitted_ || result.documents > 0;
        }
        if (!result.missing.empty()) return error(404, "document_not_found", "no document with id '" + id + "'");
        after_index_write();
        metrics_.observe_stage("index_write", std::chrono::duration<double>(Clock::now() - start).count());
        return json_response(200, {{"id", id}, {"deleted", true}});
      },
      respond);
}

void Service::run_task(std::function<Response(double)> work, const Respond& respond) {
  enqueue(std::make_unique<TaskJob>(std::move(work), respond), respond);
}

void Service::after_index_write() {
  {
    std::lock_guard<std::mutex> lock(index_mutex_);
    if (uncommitted_ && Clock::now() - last_commit_ >= std::chrono::duration<double>(settings_.commit_interval_s)) {
      index_->commit();
      last_commit_ = Clock::now();
      uncommitted_ = false;
    }
  }
  refresh_index_info();
}

void Service::refresh_index_info() {
  const auto stats = index_->stats();
  json info;
  {
    std::lock_guard<std::mutex> lock(index_mutex_);  // the manifest changes with commits
    const auto& manifest = index_->manifest();
    info = {{"dir", index_->dir()},
            {"documents", stats.documents},
            {"passages", stats.passages},
            {"dense_vectors", stats.dense_vectors},
            {"generation", manifest.generation},
            {"encoder_id", manifest.encoder_id},
            {"dimension", manifest.dimension},
            {"factory", manifest.options.factory},
            {"retrieval_mode", settings_.retrieval_mode}};
  }
  std::lock_guard<std::mutex> lock(info_mutex_);
  index_info_ = std::move(info);
}

Response Service::health() const {
  const State state = state_;
  const char* status = state == State::kReady     ? "ok"
                       : state == State::kLoading ? "loading"
                       : state == State::kFailed  ? "failed"
                                                  : "shutting_down";
  return json_response(state == State::kReady ? 200 : 503, {{"status", status}});
}

Response Service::info() const {
  const auto& s = settings_;
  json out = {
      {"version", LONGQA_VERSION},
      {"build", build_info_},
      {"model", loaded_ ? model_info_ : json(nullptr)},
      {"reader",
       {{"max_answer_tokens", s.max_answer_tokens},
        {"window_tokens", s.window_tokens},
        {"overlap_tokens", s.overlap_tokens},
        {"batch_windows", s.batch_windows},
        {"allow_no_answer", s.allow_no_answer}}},
      {"limits",
       {{"max_body_bytes", s.max_body_bytes},
        {"max_header_bytes", s.max_header_bytes},
        {"max_question_chars", s.max_question_chars},
        {"max_context_chars", s.max_context_chars},
        {"max_contexts", s.max_contexts},
        {"max_documents", s.max_documents},
        {"max_top_k_answers", s.max_top_k_answers},
        {"max_top_k_documents", s.max_top_k_documents},
        {"read_timeout_s", s.read_timeout_s},
        {"write_timeout_s", s.write_timeout_s},
        {"idle_timeout_s", s.idle_timeout_s}}},
      {"batching",
       {{"workers", s.workers},
        {"queue_capacity", s.queue_capacity},
        {"max_batch_size", s.max_batch_size},
        {"max_batch_tokens", s.max_batch_tokens},
        {"max_wait_ms", s.max_wait_ms}}},
      {"index", nullptr}};
  {
    std::lock_guard<std::mutex> lock(info_mutex_);
    if (!index_info_.is_null()) out["index"] = index_info_;
  }
  return json_response(200, out);
}

}  // namespace longqa::server
