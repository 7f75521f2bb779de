#include "work_queue.h"

#include "longqa/common/stopwatch.h"
#include "metrics.h"

namespace longqa::server {

WorkQueue::WorkQueue(WorkQueueOptions options, ReadBatch read_batch, Metrics& metrics)
    : options_(options), read_batch_(std::move(read_batch)), metrics_(metrics) {
  for (size_t i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
}

WorkQueue::~WorkQueue() { stop(); }

WorkQueue::Push WorkQueue::push(std::unique_ptr<Job> job) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return Push::kStopped;
    if (queue_.size() >= options_.capacity) return Push::kFull;
    job->enqueued = Clock::now();
    queue_.push_back(std::move(job));
  }
  ready_.notify_one();
  return Push::kQueued;
}

void WorkQueue::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopped_ = true;
  }
  ready_.notify_all();
  for (auto& t : workers_)
    if (t.joinable()) t.join();
}

size_t WorkQueue::depth() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return queue_.size();
}

size_t WorkQueue::busy_workers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return busy_;
}

std::unique_ptr<Job> WorkQueue::pop(std::optional<Clock::time_point> deadline) {
  std::unique_lock<std::mutex> lock(mutex_);
  auto available = [this] { return !queue_.empty() || stopped_; };
  if (deadline)
    ready_.wait_until(lock, *deadline, available);
  else
    ready_.wait(lock, available);
  if (queue_.empty()) return nullptr;
  auto job = std::move(queue_.front());
  queue_.pop_front();
  return job;
}

std::optional<WorkQueue::Prepared> WorkQueue::prepare(std::unique_ptr<Job> job) {
  job->queue_seconds = seconds_since(job->enqueued);
  metrics_.observe_stage("queue_wait", job->queue_seconds);
  try {
    if (auto reading = job->prepare()) return Prepared{std::move(job), std::move(*reading)};
  } catch (...) {
    job->fail(std::current_exception());
  }
  return std::nullopt;
}

void WorkQueue::work() {
  std::optional<Prepared> carried;  // took the previous batch past max_batch_tokens
  auto set_busy = [this](bool busy) {
    std::lock_guard<std::mutex> lock(mutex_);
    busy ? ++busy_ : --busy_;
  };
  for (;;) {
    std::vector<Prepared> batch;
    if (carried) {
      batch.push_back(std::move(*carried));
      carried.reset();
    } else {
      auto job = pop(std::nullopt);
      if (!job) return;  // stopped and drained
      set_busy(true);
      if (auto prepared = prepare(std::move(job))) batch.push_back(std::move(*prepared));
      if (batch.empty()) {
        set_busy(false);
        continue;
      }
    }
    int64_t tokens = batch.front().reading.tokens;
    // The first request waits at most max_wait in all, queue time included.
    const auto deadline = batch.front().job->enqueued + options_.max_wait;
    while (batch.size() < options_.max_batch_size) {
      auto job = pop(deadline);
      if (!job) break;
      auto prepared = prepare(std::move(job));
      if (!prepared) continue;
      if (tokens + prepared->reading.tokens > options_.max_batch_tokens) {
        carried = std::move(prepared);
        break;
      }
      tokens += prepared->reading.tokens;
      batch.push_back(std::move(*prepared));
    }
    run(batch, tokens);
    if (!carried) set_busy(false);
  }
}

void WorkQueue::run(std::vector<Prepared>& batch, int64_t tokens) {
  std::vector<ReadRequest> requests;
  requests.reserve(batch.size());
  for (auto& p : batch) requests.push_back(std::move(p.reading.request));
  const auto start = Clock::now();
  std::vector<std::vector<Answer>> answers;
  try {
    answers = read_batch_(requests);
  } catch (...) {
    if (batch.size() == 1) {
      batch.front().job->fail(std::current_exception());
      return;
    }
    // Read each alone, so one bad request fails only itself.
    answers.clear();
    for (size_t i = 0; i < batch.size(); ++i) {
      std::vector<Prepared> one;
      one.push_back({std::move(batch[i].job), Reading{std::move(requests[i]), batch[i].reading.tokens}});
      run(one, one.front().reading.tokens);
    }
    return;
  }
  const double seconds = seconds_since(start);
  metrics_.observe_batch(batch.size(), tokens);
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& job = *batch[i].job;
    job.read_seconds = seconds;
    metrics_.observe_stage("read", seconds);
    try {
      job.finish(std::move(answers.at(i)), batch.size());
    } catch (...) {
      job.fail(std::current_exception());
    }
  }
}

}  // namespace longqa::server
