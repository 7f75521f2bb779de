// The bounded queue between the HTTP threads and inference. Worker threads take jobs,
// prepare them (tokenize, retrieve, or do the whole job when it reads nothing), and
// group the reading ones into batches (up to max_batch_size requests and max_batch_tokens
// tokens, waiting at most max_wait for company) that one Reader::read_batch call serves.
// A full queue refuses at once, so a caller can answer 429 instead of waiting.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "longqa/reader.h"

namespace longqa::server {

class Metrics;
using Clock = std::chrono::steady_clock;

// What a prepared job asks the reader to read, and how many tokens that is.
struct Reading {
  ReadRequest request;
  int64_t tokens = 0;
};

class Job {
 public:
  virtual ~Job() = default;
  // On a worker: all work before reading. Returns what to read, or nullopt when the job is
  // complete (it has answered). Throwing fails the job.
  virtual std::optional<Reading> prepare() = 0;
  // On a worker: the answers to this job's reading; `batch_size` requests shared the read.
  virtual void finish(std::vector<Answer> answers, size_t batch_size) = 0;
  // On a worker: prepare or the read threw; the job must answer with an error.
  virtual void fail(std::exception_ptr error) = 0;

  Clock::time_point enqueued;     // set by WorkQueue::push
  double queue_seconds = 0;       // enqueued -> taken by a worker
  double read_seconds = 0;        // the batch's Reader::read_batch call
};

struct WorkQueueOptions {
  size_t capacity = 64;
  size_t workers = 1;
  size_t max_batch_size = 8;
  int64_t max_batch_tokens = 32768;
  std::chrono::microseconds max_wait{5000};
};

class WorkQueue {
 public:
  using ReadBatch = std::function<std::vector<std::vector<Answer>>(const std::vector<ReadRequest>&)>;

  // Starts the workers. `read_batch` is called from worker threads.
  WorkQueue(WorkQueueOptions options, ReadBatch read_batch, Metrics& metrics);
  ~WorkQueue();  // stop()

  enum class Push { kQueued, kFull, kStopped };
  Push push(std::unique_ptr<Job> job);

  // Every job already queued is still served; then the workers exit. Idempotent.
  void stop();

  size_t depth() const;
  size_t busy_workers() const;

 private:
  struct Prepared {
    std::unique_ptr<Job> job;
    Reading reading;
  };
  void work();
  // The next job; waits until `deadline` (forever when nullopt). Null on timeout, or when
  // stopped and nothing is left.
  std::unique_ptr<Job> pop(std::optional<Clock::time_point> deadline);
  std::optional<Prepared> prepare(std::unique_ptr<Job> job);
  void run(std::vector<Prepared>& batch, int64_t tokens);

  WorkQueueOptions options_;
  ReadBatch read_batch_;
  Metrics& metrics_;
  mutable std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::unique_ptr<Job>> queue_;
  bool stopped_ = false;
  size_t busy_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace longqa::server
