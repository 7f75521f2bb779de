#include "metrics.h"

#include <sstream>

namespace longqa::server {
namespace {

const std::vector<double> kSecondsBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,      2.5,   5,    10,    30,   60};
const std::vector<double> kBatchBuckets = {1, 2, 4, 8, 16, 32, 64, 128};
const std::vector<double> kTokenBuckets = {128, 512, 2048, 8192, 32768, 131072, 524288};

std::string number(double v) {
  std::ostringstream out;
  out.precision(12);
  out << v;
  return out.str();
}

// Label values are route patterns and stage names we choose, but escape anyway.
std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void header(std::string& out, const std::string& name, const char* type, const char* help) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

Histogram& histogram_for(std::map<std::string, Histogram>& map, const std::string& key, const std::vector<double>& bounds) {
  auto it = map.find(key);
  if (it == map.end()) it = map.emplace(key, Histogram(bounds)).first;
  return it->second;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++count_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    cumulative += counts_[i];
    const std::string le = i < bounds_.size() ? number(bounds_[i]) : "+Inf";
    out += name + "_bucket{" + labels + sep + "le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  out += name + "_sum" + braces + " " + number(sum_) + "\n";
  out += name + "_count" + braces + " " + std::to_string(count_) + "\n";
}

Metrics::Metrics() : batch_requests_(kBatchBuckets), batch_tokens_(kTokenBuckets) {}

void Metrics::count_request(const std::string& endpoint, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{endpoint, status}];
  histogram_for(request_seconds_, endpoint, kSecondsBuckets).observe(seconds);
}

void Metrics::observe_stage(const std::string& stage, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  histogram_for(stage_seconds_, stage, kSecondsBuckets).observe(seconds);
}

void Metrics::observe_batch(size_t requests, int64_t tokens) {
  std::lock_guard<std::mutex> lock(mutex_);
  batch_requests_.observe(static_cast<double>(requests));
  batch_tokens_.observe(static_cast<double>(tokens));
  tokens_read_ += static_cast<uint64_t>(tokens);
}

void Metrics::add_gauge(const std::string& name, const std::string& help, std::function<double()> value) {
  std::lock_guard<std::mutex> lock(mutex_);
  gauges_.push_back({name, help, std::move(value)});
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  header(out, "longqa_requests_total", "counter", "HTTP requests answered, by endpoint and status.");
  for (const auto& [key, n] : requests_)
    out += "longqa_requests_total{endpoint=\"" + label_value(key.first) + "\",status=\"" + std::to_string(key.second) +
           "\"} " + std::to_string(n) + "\n";
  header(out, "longqa_request_duration_seconds", "histogram", "Time from a request's last byte to its response, by endpoint.");
  for (const auto& [endpoint, h] : request_seconds_)
    h.render(out, "longqa_request_duration_seconds", "endpoint=\"" + label_value(endpoint) + "\"");
  header(out, "longqa_stage_duration_seconds", "histogram",
         "Time per request in each stage: queue_wait, tokenize, read, retrieve, index_write.");
  for (const auto& [stage, h] : stage_seconds_)
    h.render(out, "longqa_stage_duration_seconds", "stage=\"" + label_value(stage) + "\"");
  header(out, "longqa_batch_size", "histogram", "Requests per reader batch.");
  batch_requests_.render(out, "longqa_batch_size", "");
  header(out, "longqa_batch_tokens", "histogram", "Question and document tokens per reader batch.");
  batch_tokens_.render(out, "longqa_batch_tokens", "");
  header(out, "longqa_tokens_read_total", "counter", "Question and document tokens the reader has read.");
  out += "longqa_tokens_read_total " + std::to_string(tokens_read_) + "\n";
  for (const auto& g : gauges_) {
    header(out, g.name, "gauge", g.help.c_str());
    out += g.name + " " + number(g.value()) + "\n";
  }
  return out;
}

}  // namespace longqa::server
