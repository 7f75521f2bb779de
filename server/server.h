// `longqa serve`: the HTTP server (Boost.Beast) over the Service. The model loads in the
// background while /health answers 503 "loading"; inference runs on the Service's
// worker threads, never on the I/O threads. Neither Beast nor torch appears in this header.
#pragma once
#include <cstdint>
#include <memory>

#include "settings.h"

namespace longqa::server {

class HttpServer;

class Server {
 public:
  explicit Server(ServerSettings settings);
  ~Server();  // shuts down (gracefully) if still running
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the address, starts the I/O threads and loads the model in the background.
  // Returns once the server accepts connections; throws when the address cannot be bound.
  void start();
  uint16_t port() const;  // the bound port (settings.port, or the ephemeral one for 0)

  // Begins a graceful shutdown: stops accepting, /health turns 503, later requests are
  // answered 503 with Connection: close. Returns at once; any thread, more than once.
  void shutdown();
  // Blocks until shutdown() (or a failed model load): waits for in-flight requests (up to
  // shutdown_timeout_s), serves the queue, stops the workers and the I/O threads.
  // Rethrows the model's load error, if loading failed.
  void wait();
  // start(), shutdown() on SIGINT or SIGTERM, wait(). Returns the exit code (0).
  int run();

 private:
  std::unique_ptr<HttpServer> impl_;
};

}  // namespace longqa::server
