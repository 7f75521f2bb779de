#include "service.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>

#include "jobs.h"
#include "longqa/answer_json.h"
#include "longqa/common/stopwatch.h"
#include "longqa/pipeline.h"
#include "model_loader.h"
#include "request_body.h"
#include "web_assets.h"
#include "work_queue.h"

namespace longqa::server {

extern const char* const kOpenApiText;  // openapi.json, embedded by CMake

namespace {

using nlohmann::json;

constexpr int64_t kDefaultTopKAnswers = 5;
constexpr int64_t kDefaultTopKDocuments = 3;   // /v1/ask reads this many documents whole
constexpr int64_t kDefaultTopKRetrieve = 10;

}  // namespace

Service::Service(ServerSettings settings)
    : settings_(std::move(settings)),
      access_(AccessControl::from_settings(settings_.api_keys_file, settings_.api_keys, settings_.key_rate_limit)) {
  settings_.validate();
  std::stringstream origins(settings_.cors_origins);
  for (std::string origin; std::getline(origins, origin, ',');) {
    while (!origin.empty() && origin.back() == ' ') origin.pop_back();
    while (!origin.empty() && origin.front() == ' ') origin.erase(origin.begin());
    while (!origin.empty() && origin.back() == '/') origin.pop_back();  // "https://a.example/" is "https://a.example"
    if (!origin.empty()) cors_origins_.push_back(origin);
  }
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
      pipeline_ = std::make_unique<Pipeline>(reader_, index_, options);
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

std::variant<RouteMatch, Response> Service::admit(const Request& request, bool charge) {
  RouteMatch m = match_route(request.method, request.target);
  if (m.error) return std::move(*m.error);
  const auto decision =
      access_.authorize(request.authorization, required_scope(request.method, m.route->pattern), charge);
  if (decision.status != 200) {
    Response r = error(decision.status, decision.code, decision.message);
    if (!decision.www_authenticate.empty()) r.headers.emplace_back("WWW-Authenticate", decision.www_authenticate);
    if (decision.status == 429)
      r.headers.emplace_back("Retry-After", std::to_string(static_cast<int64_t>(std::ceil(decision.retry_after_s))));
    r.endpoint = m.route->pattern;
    r.key_name = decision.key_name;
    return r;
  }
  m.key_name = decision.key_name;
  return m;
}

std::optional<Response> Service::check_route(const Request& head) {
  if (head.method == "OPTIONS" || web_asset(head.method, head.target)) return std::nullopt;
  auto admitted = admit(head, /*charge=*/false);
  if (auto* refusal = std::get_if<Response>(&admitted)) return std::move(*refusal);
  return std::nullopt;
}

bool Service::origin_allowed(const std::string& origin) const {
  if (origin.empty()) return false;
  return std::any_of(cors_origins_.begin(), cors_origins_.end(),
                     [&](const std::string& allowed) { return allowed == "*" || allowed == origin; });
}

void Service::decorate(Response& response, const std::string& origin) const {
  if (cors_origins_.empty()) return;
  response.headers.emplace_back("Vary", "Origin");  // whatever the origin: caches must not mix the answers
  if (!origin_allowed(origin)) return;
  response.headers.emplace_back("Access-Control-Allow-Origin", origin);
  response.headers.emplace_back("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, WWW-Authenticate");
}

// A browser asks before a cross-origin POST or a request with Authorization. Answered
// without a key (browsers send none here); an origin not allowed gets no CORS headers.
Response Service::preflight(const Request& request) const {
  Response r;
  r.status = 204;
  r.endpoint = "preflight";
  r.content_type = "text/plain";
  if (origin_allowed(request.origin)) {
    r.headers.emplace_back("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    r.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Request-Id");
    r.headers.emplace_back("Access-Control-Max-Age", "600");
  }
  return r;
}

void Service::handle(Request request, Respond respond) {
  if (request.method == "OPTIONS") return respond(preflight(request));
  if (auto page = web_asset(request.method, request.target)) return respond(std::move(*page));
  auto admitted = admit(request);
  if (auto* refusal = std::get_if<Response>(&admitted)) return respond(std::move(*refusal));
  RouteMatch& m = std::get<RouteMatch>(admitted);
  const std::string& endpoint = m.route->pattern;
  Respond reply = [respond = std::move(respond), endpoint, key = m.key_name](Response r) {
    r.endpoint = endpoint;
    r.key_name = key;
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
  auto parsed = parse_request_body(request.body, openapi_, *m.route);
  if (auto* e = std::get_if<Response>(&parsed)) return reply(std::move(*e));
  json& body = std::get<json>(parsed);
  if (endpoint == "/v1/read") return read(body, reply);
  if (endpoint == "/v1/ask") return ask(body, reply);
  if (endpoint == "/v1/retrieve") return retrieve(body, reply);
  add_documents(body, reply);
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
  enqueue(make_read_job(*reader_, metrics_, std::move(request), top_k, respond), respond);
}

void Service::ask(json& body, const Respond& respond) {
  AskOptions options;
  options.top_k_documents = body.value("top_k_documents", kDefaultTopKDocuments);
  options.top_k_answers = body.value("top_k_answers", kDefaultTopKAnswers);
  enqueue(make_ask_job(*pipeline_, metrics_, std::move(body["question"].get_ref<std::string&>()), options, respond),
          respond);
}

void Service::retrieve(const json& body, const Respond& respond) {
  const std::string question = body["question"];
  const int64_t k = body.value("top_k", kDefaultTopKRetrieve);
  run_task(
      [this, question, k](double queue_ms) {
        Stopwatch clock;
        json documents = json::array();
        for (const auto& hit : pipeline_->retriever().search(question, k)) documents.push_back(to_json(hit));
        const double retrieve_ms = clock.ms();
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
    doc.metadata_json = d.contains("metadata") ? dump_json(d["metadata"]) : "{}";
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
        Stopwatch clock;
        retriever::Store::AddResult result;
        {
          std::lock_guard<std::mutex> lock(index_mutex_);
          result = index_->add(std::move(*documents));  // durable when it returns
          uncommitted_ = true;
        }
        after_index_write();
        const double write_ms = clock.ms();
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
        Stopwatch clock;
        retriever::Store::RemoveResult result;
        {
          std::lock_guard<std::mutex> lock(index_mutex_);
          result = index_->remove({id});  // durable when it returns
          uncommitted_ = uncommitted_ || result.documents > 0;
        }
        if (!result.missing.empty()) return error(404, "document_not_found", "no document with id '" + id + "'");
        after_index_write();
        metrics_.observe_stage("index_write", clock.seconds());
        return json_response(200, {{"id", id}, {"deleted", true}});
      },
      respond);
}

void Service::run_task(std::function<Response(double)> work, const Respond& respond) {
  enqueue(make_task_job(std::move(work), respond), respond);
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
  const retriever::StoreInfo store = index_->info();
  json info = {{"backend", store.backend},
               {"dir", store.location},  // a directory, or the connection string without its password
               {"documents", stats.documents},
               {"passages", stats.passages},
               {"dense_vectors", stats.dense_vectors},
               {"generation", store.generation},
               {"encoder_id", store.encoder_id},
               {"dimension", store.dimension},
               {"factory", store.dense},
               {"lexical", store.lexical},
               {"retrieval_mode", settings_.retrieval_mode}};
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
        {"batch_tokens", s.batch_tokens},
        {"dtype", s.dtype},
        {"allow_no_answer", s.allow_no_answer},
        {"score_calibration", s.score_calibration},
        {"passage_weight", s.passage_weight}}},
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
