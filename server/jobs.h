// The work the queue runs for each endpoint: reading jobs (/v1/read, /v1/ask) whose reads
// the queue batches, and tasks that read nothing (retrieval, document reads and writes).
// Each answers its request exactly once, from a worker thread.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "longqa/pipeline.h"
#include "metrics.h"
#include "responses.h"
#include "work_queue.h"

namespace longqa::server {

// POST /v1/read: the reader over the request's contexts.
std::unique_ptr<Job> make_read_job(const Reader& reader, Metrics& metrics, ReadRequest request, int64_t top_k_answers,
                                   Respond respond);
// POST /v1/ask: the pipeline's retrieval on the worker, then its documents read in a batch.
std::unique_ptr<Job> make_ask_job(const Pipeline& pipeline, Metrics& metrics, std::string question, AskOptions options,
                                  Respond respond);
// Work that reads nothing: `work` runs on a worker and its response is sent.
std::unique_ptr<Job> make_task_job(std::function<Response(double queue_ms)> work, Respond respond);

}  // namespace longqa::server
