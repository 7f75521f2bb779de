// The HTTP API v1 without the HTTP transport: readiness, the handlers, and the work queue
// that runs inference. Routing is in routes.cpp, body validation in request_body.cpp, the
// jobs the queue runs in jobs.cpp. The transport (server.cpp, Boost.Beast) hands it method,
// target and body and writes back what it answers; everything here runs without a socket.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "access.h"
#include "metrics.h"
#include "responses.h"
#include "routes.h"
#include "settings.h"

namespace longqa {
class Pipeline;
class Reader;
}
namespace longqa::retriever {
class Store;
}

namespace longqa::server {

class Job;
class WorkQueue;
using Clock = std::chrono::steady_clock;

class Service {
 public:
  explicit Service(ServerSettings settings);
  ~Service();

  // Loads the reader and the index (blocking); then the service is ready. Throws when
  // loading fails (the service then answers /health with "failed").
  void load();
  // Health turns 503 and new requests are refused; queued and running ones go on.
  void begin_shutdown();
  // Serves what is queued, stops the workers, checkpoints the index. Call after in-flight
  // requests have finished.
  void stop();

  // Checks method, path and API key alone (before the body is read, for every request): the
  // error to answer, if any. Takes nothing from the key's rate; handle() does.
  std::optional<Response> check_route(const Request& head);
  void handle(Request request, Respond respond);
  // What every response gets, whoever made it (the transport's own errors too): the CORS
  // headers when `origin` may call us.
  void decorate(Response& response, const std::string& origin) const;

  static Response error(int status, const std::string& code, const std::string& message) {
    return error_response(status, code, message);
  }
  static const std::vector<Route>& routes() { return api_routes(); }

  Metrics& metrics() { return metrics_; }
  const ServerSettings& settings() const { return settings_; }
  const nlohmann::json& openapi() const { return openapi_; }

 private:
  enum class State { kLoading, kReady, kShuttingDown, kFailed };
  void enqueue(std::unique_ptr<Job> job, const Respond& respond);
  // The route matched, and the key allowed: or the error to answer.
  std::variant<RouteMatch, Response> admit(const Request& request, bool charge = true);
  bool origin_allowed(const std::string& origin) const;
  Response preflight(const Request& request) const;  // OPTIONS from a browser

  Response health() const;
  Response info() const;
  void read(nlohmann::json& body, const Respond& respond);
  void ask(nlohmann::json& body, const Respond& respond);
  void retrieve(const nlohmann::json& body, const Respond& respond);
  void add_documents(nlohmann::json& body, const Respond& respond);
  void get_document(const std::string& id, const Respond& respond);
  void delete_document(const std::string& id, const Respond& respond);
  // Runs `work` on a worker and answers with what it returns.
  void run_task(std::function<Response(double queue_ms)> work, const Respond& respond);
  // After a document change: checkpoint the index when commit_interval_s has passed; refresh its statistics.
  void after_index_write();
  void refresh_index_info();

  ServerSettings settings_;
  AccessControl access_;
  std::vector<std::string> cors_origins_;
  Metrics metrics_;
  nlohmann::json openapi_;  // with the settings' limits filled in
  std::atomic<State> state_{State::kLoading};
  std::shared_ptr<const Reader> reader_;  // set once by load(), before state_ turns ready
  nlohmann::json model_info_;             // set once by load(), before loaded_ turns true
  std::atomic<bool> loaded_{false};
  nlohmann::json build_info_;
  std::shared_ptr<retriever::Store> index_;  // set once by load(), like reader_
  std::unique_ptr<Pipeline> pipeline_;       // over reader_ and index_
  std::mutex index_mutex_;  // document writes and checkpoints, one at a time
  Clock::time_point last_commit_;
  bool uncommitted_ = false;
  mutable std::mutex info_mutex_;
  nlohmann::json index_info_;  // statistics for /v1/info, refreshed after each write
  std::unique_ptr<WorkQueue> queue_;
};

}  // namespace longqa::server
