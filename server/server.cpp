// The HTTP transport: an acceptor, one session per connection, timeouts, limits,
// keep-alive, graceful shutdown. The server's only Boost.Beast translation unit; the API
// itself is the Service's.
#include "server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <future>
#include <iostream>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "longqa/common/stopwatch.h"
#include "service.h"

namespace longqa::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

void log(const std::string& line) { std::cerr << "[longqa serve] " + line + "\n" << std::flush; }

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1e3));
}

}  // namespace

// Everything the sessions share, and the server's lifecycle.
class HttpServer {
 public:
  explicit HttpServer(ServerSettings settings)
      : service_(std::move(settings)),
        settings_(service_.settings()),
        work_(net::make_work_guard(ioc_)),
        acceptor_(net::make_strand(ioc_)) {
    service_.metrics().add_gauge("longqa_requests_in_flight", "Requests read and not yet answered.",
                                 [this] { return static_cast<double>(in_flight_.load()); });
    service_.metrics().add_gauge("longqa_connections_open", "Open client connections.",
                                 [this] { return static_cast<double>(connections_.load()); });
  }

  ~HttpServer() {
    if (started_ && !finished_) {
      shutdown();
      try {
        wait();
      } catch (const std::exception&) {
        // The load error was the caller's to see through wait(); a destructor cannot throw.
      }
    }
  }

  void start();
  void shutdown();
  void wait();
  int run();
  uint16_t port() const { return port_; }

  Service& service() { return service_; }
  const ServerSettings& settings() const { return settings_; }
  bool closing() const { return closing_; }
  std::atomic<int>& in_flight() { return in_flight_; }
  std::atomic<int>& connections() { return connections_; }

 private:
  void accept();

  Service service_;
  const ServerSettings& settings_;
  // Before ioc_: sessions still queued in it count themselves out when it is destroyed.
  std::atomic<bool> closing_{false};
  std::atomic<int> in_flight_{0}, connections_{0};
  net::io_context ioc_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  tcp::acceptor acceptor_;
  std::optional<net::steady_timer> accept_retry_;
  std::optional<net::signal_set> signals_;
  std::vector<std::thread> io_threads_;
  std::thread loader_;
  std::exception_ptr load_error_;
  std::atomic<uint16_t> port_{0};
  bool started_ = false, finished_ = false;
  std::mutex mutex_;
  std::condition_variable shutdown_requested_;
  bool shutting_down_ = false;
};

namespace {

// One connection: read a request (header, then body), answer it, and again while the
// client keeps the connection alive. Everything runs on the connection's strand.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpServer& server) : stream_(std::move(socket)), server_(server) {
    ++server_.connections();
  }
  ~Session() { --server_.connections(); }

  void start() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->wait_for_request(); });
  }

 private:
  const ServerSettings& settings() const { return server_.settings(); }

  // Idle until the first byte of the next request (idle_timeout_s), unless it is already here.
  // While shutting down, a request on a kept-alive connection still gets its answer (a 503
  // with Connection: close) rather than a reset.
  void wait_for_request() {
    if (buffer_.size() > 0) return read_header();
    stream_.expires_after(to_ms(settings().idle_timeout_s));
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return self->close();  // timeout, or the client went away
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  // The whole request must arrive within read_timeout_s of its first byte (slow clients are cut off).
  void read_header() {
    head_ = false;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(settings().max_header_bytes));
    parser_->body_limit(static_cast<uint64_t>(settings().max_body_bytes));
    stream_.expires_after(to_ms(settings().read_timeout_s));
    http::async_read_header(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->fail_read(ec);
      self->on_header();
    });
  }

  void on_header() {
    const auto& req = parser_->get();
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      // The client waits for our word before sending the body: refuse now what would be refused anyway.
      if (auto refusal = server_.service().check_route(std::string(req.method_string()), std::string(req.target())))
        return send(std::move(*refusal), /*keep_alive=*/false);
      continue_ = http::response<http::empty_body>(http::status::continue_, req.version());
      return http::async_write(stream_, continue_, [self = shared_from_this()](beast::error_code ec, size_t) {
        if (ec) return self->close();
        self->read_body();
      });
    }
    read_body();
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->fail_read(ec);
      self->dispatch_request();
    });
  }

  void fail_read(beast::error_code ec) {
    if (ec == http::error::body_limit)
      return send(Service::error(413, "body_too_large", "request body larger than " + std::to_string(settings().max_body_bytes) +
                                                       " bytes (max_body_bytes)"),
                  false);
    if (ec == http::error::header_limit)
      return send(Service::error(431, "headers_too_large", "request header larger than " +
                                                       std::to_string(settings().max_header_bytes) + " bytes (max_header_bytes)"),
                  false);
    // The client left, or was too slow (the stream is closed already), or sent half a request.
    if (ec.category() != http::make_error_code(http::error::end_of_stream).category() ||
        ec == http::error::end_of_stream || ec == http::error::partial_message)
      return close();
    send(Service::error(400, "malformed_http", "malformed HTTP request: " + ec.message()), false);
  }

  void dispatch_request() {
    ++server_.in_flight();
    in_flight_ = true;
    auto req = parser_->release();
    keep_alive_ = req.keep_alive();
    version_ = req.version();
    head_ = req.method() == http::verb::head;
    request_start_ = Clock::now();
    Request request{std::string(req.method_string()), std::string(req.target()), std::move(req.body())};
    // Answers may come from a worker thread: back to this connection's strand.
    auto respond = [self = shared_from_this()](Response response) {
      net::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->send(std::move(response), self->keep_alive_);
      });
    };
    try {
      server_.service().handle(std::move(request), respond);
    } catch (const std::exception& e) {  // an I/O thread must never die of one request
      respond(Service::error(500, "internal_error", e.what()));
    }
  }

  void send(Response r, bool keep_alive) {
    const double seconds = seconds_since(request_start_);
    server_.service().metrics().count_request(r.endpoint, r.status, in_flight_ ? seconds : 0.0);
    response_ = {};
    response_.version(version_);
    response_.result(static_cast<unsigned>(r.status));
    response_.set(http::field::server, "longqa/" LONGQA_VERSION);
    response_.set(http::field::content_type, r.content_type);
    for (const auto& [name, value] : r.headers) response_.set(name, value);
    if (!head_) response_.body() = std::move(r.body);  // HEAD: the header alone
    response_.keep_alive(keep_alive && !server_.closing());
    response_.prepare_payload();
    stream_.expires_after(to_ms(settings().write_timeout_s));
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->on_written(ec);
    });
  }

  void on_written(beast::error_code ec) {
    if (in_flight_) {
      --server_.in_flight();
      in_flight_ = false;
    }
    if (ec) return close();
    if (!response_.keep_alive()) return linger_close();
    wait_for_request();
  }

  // Half-close, then read and drop what the client still sends for a moment: closing with
  // unread data (a refused body) would reset the connection before the client read our answer.
  void linger_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::min(to_ms(settings().read_timeout_s), std::chrono::milliseconds(2000)));
    drain();
  }

  void drain() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(16384), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  HttpServer& server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  http::response<http::string_body> response_;
  Clock::time_point request_start_ = Clock::now();
  bool keep_alive_ = false, in_flight_ = false, head_ = false;
  unsigned version_ = 11;
};

}  // namespace

void HttpServer::start() {
  tcp::resolver resolver(ioc_);
  const auto endpoints = resolver.resolve(settings_.host, std::to_string(settings_.port), tcp::resolver::passive);
  const tcp::endpoint endpoint = endpoints.begin()->endpoint();
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
  port_ = acceptor_.local_endpoint().port();
  started_ = true;
  accept();
  for (int64_t i = 0; i < settings_.io_threads; ++i) io_threads_.emplace_back([this] { ioc_.run(); });
  log("listening on http://" + endpoint.address().to_string() + ":" + std::to_string(port_) + " (loading " +
      settings_.reader_dir + ")");
  loader_ = std::thread([this] {
    const auto t0 = Clock::now();
    try {
      service_.load();
      log("ready: models loaded in " + std::to_string(seconds_since(t0)) + " s");
    } catch (const std::exception& e) {
      load_error_ = std::current_exception();
      log(std::string("loading failed: ") + e.what());
      shutdown();
    }
  });
}

void HttpServer::accept() {
  acceptor_.async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (!acceptor_.is_open()) return;  // closed by shutdown()
    if (ec) {
      // Out of file descriptors and the like: try again shortly rather than spin.
      accept_retry_.emplace(acceptor_.get_executor(), std::chrono::milliseconds(50));
      return accept_retry_->async_wait([this](beast::error_code) { accept(); });
    }
    beast::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Session>(std::move(socket), *this)->start();
    accept();
  });
}

void HttpServer::shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (shutting_down_) return;
    shutting_down_ = true;
  }
  service_.begin_shutdown();
  closing_ = true;
  // The acceptor belongs to its strand; from outside the I/O threads, wait until it is closed.
  auto closed = std::make_shared<std::promise<void>>();
  auto done = closed->get_future();
  net::post(acceptor_.get_executor(), [this, closed] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    if (accept_retry_) accept_retry_->cancel();
    closed->set_value();
  });
  if (!ioc_.get_executor().running_in_this_thread()) done.wait();
  shutdown_requested_.notify_all();
}

void HttpServer::wait() {
  {
    std::unique_lock<std::mutex> lock(mutex_);
    shutdown_requested_.wait(lock, [this] { return shutting_down_; });
    if (finished_) return;
  }
  log("shutting down: waiting for " + std::to_string(in_flight_.load()) + " request(s) in flight");
  const auto deadline = Clock::now() + to_ms(settings_.shutdown_timeout_s);
  while (in_flight_ > 0 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  if (loader_.joinable()) loader_.join();
  service_.stop();
  work_.reset();
  ioc_.stop();
  for (auto& t : io_threads_) t.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    finished_ = true;
  }
  log("stopped");
  if (load_error_) std::rethrow_exception(load_error_);
}

int HttpServer::run() {
  signals_.emplace(ioc_, SIGINT, SIGTERM);
  signals_->async_wait([this](beast::error_code ec, int signal) {
    if (ec) return;
    log(std::string("received ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
    shutdown();
  });
  start();
  wait();
  return 0;
}

Server::Server(ServerSettings settings) : impl_(std::make_unique<HttpServer>(std::move(settings))) {}
Server::~Server() = default;
void Server::start() { impl_->start(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::shutdown() { impl_->shutdown(); }
void Server::wait() { impl_->wait(); }
int Server::run() { return impl_->run(); }

}  // namespace longqa::server
