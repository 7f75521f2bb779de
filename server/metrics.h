// Server metrics in the Prometheus text format: requests by endpoint and status,
// latency histograms by endpoint and by stage, batch sizes, tokens read, and gauges
// read at scrape time (queue depth, busy workers, readiness). Thread-safe.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace longqa::server {

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Lines "<name>_bucket{<labels>,le=...} n", _sum and _count; `labels` is "" or `a="b",...`.
  void render(std::string& out, const std::string& name, const std::string& labels) const;

 private:
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative; one more for +Inf
  double sum_ = 0;
  uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();

  // One answered request: `endpoint` is the route pattern ("/v1/documents/{id}"), not the raw path.
  void count_request(const std::string& endpoint, int status, double seconds);
  // Time spent in one stage of one request: "queue_wait", "tokenize", "read", "retrieve", "index_write".
  void observe_stage(const std::string& stage, double seconds);
  // One reader batch: how many requests, and how many question + document tokens it read.
  void observe_batch(size_t requests, int64_t tokens);
  // A gauge whose value is asked for at each scrape.
  void add_gauge(const std::string& name, const std::string& help, std::function<double()> value);

  std::string render() const;
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Gauge {
    std::string name, help;
    std::function<double()> value;
  };
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, Histogram> request_seconds_;
  std::map<std::string, Histogram> stage_seconds_;
  Histogram batch_requests_, batch_tokens_;
  uint64_t tokens_read_ = 0;
  std::vector<Gauge> gauges_;
};

}  // namespace longqa::server
