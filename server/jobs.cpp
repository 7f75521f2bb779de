#include "jobs.h"

#include <nlohmann/json.hpp>

#include "longqa/answer_json.h"
#include "longqa/common/stopwatch.h"

namespace longqa::server {
namespace {

using nlohmann::json;

// Milliseconds since the job arrived at the queue.
double ms_since_enqueued(const Job& job) { return ms_between(job.enqueued, Clock::now()); }

// A job that reads: counts its tokens on the worker (the counts drive batching), is read in
// a batch with others, answers with what the read found.
class ReadingJob : public Job {
 public:
  ReadingJob(const Reader& reader, Metrics& metrics, Respond respond)
      : reader_(reader), metrics_(metrics), respond_(std::move(respond)) {}

  void fail(std::exception_ptr error) override { respond_(exception_response(error)); }

 protected:
  Reading counted(ReadRequest request) {
    Stopwatch clock;
    tokens_ = reader_.count_tokens(request);
    tokenize_ms_ = clock.ms();
    metrics_.observe_stage("tokenize", tokenize_ms_ / 1e3);
    return Reading{std::move(request), tokens_};
  }
  // The stages' milliseconds plus "queue" and "total" (arrival at the queue to now).
  json timings(json stages) const {
    stages["tokenize"] = tokenize_ms_;
    stages["queue"] = queue_seconds * 1e3;
    stages["total"] = ms_since_enqueued(*this);
    return stages;
  }

  const Reader& reader_;
  Metrics& metrics_;
  Respond respond_;
  int64_t tokens_ = 0;
  double tokenize_ms_ = 0;
};

class ReadJob : public ReadingJob {
 public:
  ReadJob(const Reader& reader, Metrics& metrics, ReadRequest request, int64_t top_k, Respond respond)
      : ReadingJob(reader, metrics, std::move(respond)), request_(std::move(request)), top_k_(top_k) {}

  std::optional<Reading> prepare() override { return counted(std::move(request_)); }

  void finish(std::vector<Answer> answers, size_t) override {
    json out = {{"answers", json::array()}, {"tokens", tokens_}, {"timings_ms", timings({{"read", read_seconds * 1e3}})}};
    for (size_t i = 0; i < answers.size() && static_cast<int64_t>(i) < top_k_; ++i) out["answers"].push_back(to_json(answers[i]));
    respond_(json_response(200, out));
  }

 private:
  ReadRequest request_;
  int64_t top_k_;
};

class AskJob : public ReadingJob {
 public:
  AskJob(const Pipeline& pipeline, Metrics& metrics, std::string question, AskOptions options, Respond respond)
      : ReadingJob(pipeline.reader(), metrics, std::move(respond)),
        pipeline_(pipeline),
        question_(std::move(question)),
        options_(options) {}

  std::optional<Reading> prepare() override {
    retrieval_ = pipeline_.retrieve(question_, options_);
    metrics_.observe_stage("retrieve", (retrieval_.retrieve_ms + retrieval_.fetch_ms) / 1e3);
    if (retrieval_.documents.empty()) {
      finish({}, 0);
      return std::nullopt;
    }
    return counted(Pipeline::read_request(retrieval_));
  }

  void finish(std::vector<Answer> answers, size_t) override {
    const auto result = pipeline_.answer(retrieval_, std::move(answers), options_, read_seconds * 1e3, tokens_);
    json out = to_json(result);
    out["timings_ms"] = timings(std::move(out["timings_ms"]));
    respond_(json_response(200, out));
  }

 private:
  const Pipeline& pipeline_;
  std::string question_;
  AskOptions options_;
  Retrieval retrieval_;
};

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

std::unique_ptr<Job> make_read_job(const Reader& reader, Metrics& metrics, ReadRequest request, int64_t top_k_answers,
                                   Respond respond) {
  return std::make_unique<ReadJob>(reader, metrics, std::move(request), top_k_answers, std::move(respond));
}

std::unique_ptr<Job> make_ask_job(const Pipeline& pipeline, Metrics& metrics, std::string question, AskOptions options,
                                  Respond respond) {
  return std::make_unique<AskJob>(pipeline, metrics, std::move(question), options, std::move(respond));
}

std::unique_ptr<Job> make_task_job(std::function<Response(double queue_ms)> work, Respond respond) {
  return std::make_unique<TaskJob>(std::move(work), std::move(respond));
}

}  // namespace longqa::server
