// The HTTP transport: an acceptor, one session per connection (plain TCP or TLS), timeouts,
// the connection limit, keep-alive, request ids, the access log, graceful shutdown. The
// server's only Boost.Beast translation unit; the API itself is the Service's.
#include "server.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <sys/resource.h>
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <csignal>
#include <future>
#include <iostream>
#include <list>
#include <mutex>
#include <random>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "longqa/common/stopwatch.h"
#include "service.h"

namespace longqa::server {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

void log(const std::string& line) { std::cerr << "[longqa serve] " + line + "\n" << std::flush; }

std::chrono::milliseconds to_ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1e3));
}

// A client's own X-Request-Id is kept when it is short and plain; otherwise we make one.
bool valid_request_id(beast::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == ':';
  });
}

// What the connection limit may close: a connection between requests or in the middle of
// a header (a slow client), the one waiting longest first; never one with a request in flight.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  virtual ~Connection() = default;
  virtual void evict() = 0;  // any thread: close soon
  std::atomic<bool> waiting{true};
  std::atomic<int64_t> waiting_since{0};  // steady-clock ns
  std::atomic<bool> evicted{false};
};

}  // namespace

// Everything the sessions share, and the server's lifecycle.
class HttpServer {
 public:
  explicit HttpServer(ServerSettings settings)
      : service_(std::move(settings)),
        settings_(service_.settings()),
        request_id_prefix_(static_cast<uint32_t>(std::random_device{}())),
        work_(net::make_work_guard(ioc_)),
        acceptor_(net::make_strand(ioc_)) {
    if (!settings_.tls_certificate.empty()) tls_.emplace(make_tls_context());
    service_.metrics().add_gauge("longqa_requests_in_flight", "Requests read and not yet answered.",
                                 [this] { return static_cast<double>(in_flight_.load()); });
    service_.metrics().add_gauge("longqa_connections_open", "Open client connections.",
                                 [this] { return static_cast<double>(connections_.load()); });
    service_.metrics().add_gauge("longqa_connections_evicted_total",
                                 "Waiting connections closed to make room under max_connections.",
                                 [this] { return static_cast<double>(evicted_total_.load()); });
    service_.metrics().add_gauge("longqa_connections_refused_total",
                                 "Connections refused (503) because max_connections were all busy.",
                                 [this] { return static_cast<double>(refused_total_.load()); });
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
  std::atomic<int>& evicting() { return evicting_; }

  // The registry the connection limit chooses from; a connection is in it while it lives.
  std::list<Connection*>::iterator add_connection(Connection* c) {
    std::lock_guard<std::mutex> lock(connections_mutex_);
    return open_.insert(open_.end(), c);
  }
  void remove_connection(std::list<Connection*>::iterator it) {
    std::lock_guard<std::mutex> lock(connections_mutex_);
    open_.erase(it);
  }
  std::string next_request_id() {
    char id[32];
    std::snprintf(id, sizeof id, "%08x-%010llu", request_id_prefix_,
                  static_cast<unsigned long long>(++request_count_));
    return id;
  }
  void log_request(const std::string& line) { log(line); }

 private:
  void accept();
  ssl::context make_tls_context() const;
  void raise_file_limit() const;
  // At max_connections: close the connection waiting longest, or refuse the new one.
  bool make_room();
  void refuse(tcp::socket socket);
  template <class Stream>
  void start_session(tcp::socket socket);

  Service service_;
  const ServerSettings& settings_;
  // Before ioc_: sessions still queued in it count themselves out when it is destroyed.
  std::atomic<bool> closing_{false};
  std::atomic<int> in_flight_{0}, connections_{0}, evicting_{0};
  std::atomic<uint64_t> evicted_total_{0}, refused_total_{0};
  std::mutex connections_mutex_;
  std::list<Connection*> open_;
  std::optional<ssl::context> tls_;
  const uint32_t request_id_prefix_;
  std::atomic<uint64_t> request_count_{0};
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

// One connection: (the TLS handshake,) read a request (header, then body), answer it, and
// again while the client keeps the connection alive. Everything runs on the connection's
// strand. Stream is beast::tcp_stream, or beast::ssl_stream over one.
template <class Stream>
class Session : public Connection {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  Session(tcp::socket socket, HttpServer& server, ssl::context* tls)
      : stream_(make_stream(std::move(socket), tls)), server_(server), registered_(server.add_connection(this)) {
    ++server_.connections();
    mark_waiting();
  }
  ~Session() override {
    server_.remove_connection(registered_);
    if (evicted) --server_.evicting();
    --server_.connections();
  }

  void start() {
    net::dispatch(stream_.get_executor(), [self = self_ptr()] {
      if constexpr (kTls) {
        self->lowest().expires_after(to_ms(self->settings().header_timeout_s));
        self->stream_.async_handshake(ssl::stream_base::server, [self](beast::error_code ec) {
          if (ec) return self->close();  // not TLS, a bad handshake, or too slow
          self->wait_for_request();
        });
      } else {
        self->wait_for_request();
      }
    });
  }

  void evict() override {
    net::post(stream_.get_executor(), [self = self_ptr()] {
      if (self->waiting) return self->close();
      // A request arrived meanwhile: it stays, and counts as open again.
      if (self->evicted.exchange(false)) --self->server_.evicting();
    });
  }

 private:
  static Stream make_stream(tcp::socket socket, ssl::context* tls) {
    if constexpr (kTls)
      return Stream(std::move(socket), *tls);
    else
      return Stream(std::move(socket));
  }
  std::shared_ptr<Session> self_ptr() { return std::static_pointer_cast<Session>(shared_from_this()); }
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const ServerSettings& settings() const { return server_.settings(); }

  void mark_waiting() {
    waiting = true;
    waiting_since = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
  }

  // Idle until the first byte of the next request, unless it is already here: a new
  // connection for header_timeout_s, a kept-alive one for idle_timeout_s. While shutting
  // down, a request on a kept-alive connection still gets its answer (a 503 with
  // Connection: close) rather than a reset.
  void wait_for_request() {
    mark_waiting();
    if (buffer_.size() > 0) return read_header();
    lowest().expires_after(to_ms(requests_ == 0 ? settings().header_timeout_s : settings().idle_timeout_s));
    stream_.async_read_some(buffer_.prepare(4096), [self = self_ptr()](beast::error_code ec, size_t n) {
      if (ec) return self->close();  // timeout, or the client went away
      self->buffer_.commit(n);
      self->read_header();
    });
  }

  // The header must be complete within header_timeout_s of its first byte, the whole
  // request within read_timeout_s (slow clients are cut off).
  void read_header() {
    head_ = false;
    origin_.clear();
    request_id_.clear();
    first_byte_ = Clock::now();
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(settings().max_header_bytes));
    parser_->body_limit(static_cast<uint64_t>(settings().max_body_bytes));
    // A new connection's first header counts from the connection's start (the wait for its
    // first byte included), so that header_timeout_s bounds it once, not twice.
    const Clock::time_point from = requests_ == 0 ? connected_ : first_byte_;
    lowest().expires_at(from + to_ms(std::min(settings().header_timeout_s, settings().read_timeout_s)));
    http::async_read_header(stream_, buffer_, *parser_, [self = self_ptr()](beast::error_code ec, size_t) {
      if (ec) return self->fail_read(ec);
      self->on_header();
    });
  }

  void on_header() {
    waiting = false;  // a request is under way: the connection limit leaves it alone
    ++requests_;
    const auto& req = parser_->get();
    request_id_ = valid_request_id(req["X-Request-Id"]) ? std::string(req["X-Request-Id"]) : server_.next_request_id();
    origin_ = std::string(req[http::field::origin]);
    lowest().expires_at(first_byte_ + to_ms(settings().read_timeout_s));
    // Refuse now, before any body is read, what would be refused anyway (an unknown route,
    // a missing or wrong key): a client without a key cannot hold a connection with a
    // slowly sent body. (With Expect: 100-continue the client has not sent it yet.)
    version_ = req.version();
    head_ = req.method() == http::verb::head;
    if (auto refusal = server_.service().check_route(head_of(req))) {
      // Without a body the connection can go on; with one (unread) it closes after the answer.
      const bool body = parser_->chunked() || parser_->content_length().value_or(0) > 0;
      return send(std::move(*refusal), req.keep_alive() && !body);
    }
    if (beast::iequals(req[http::field::expect], "100-continue")) {
      continue_ = http::response<http::empty_body>(http::status::continue_, req.version());
      return http::async_write(stream_, continue_, [self = self_ptr()](beast::error_code ec, size_t) {
        if (ec) return self->close();
        self->read_body();
      });
    }
    read_body();
  }

  static Request head_of(const http::request<http::string_body>& req) {
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.authorization = std::string(req[http::field::authorization]);
    r.origin = std::string(req[http::field::origin]);
    return r;
  }

  void read_body() {
    http::async_read(stream_, buffer_, *parser_, [self = self_ptr()](beast::error_code ec, size_t) {
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
    Request request = head_of(req);
    method_ = request.method;
    path_ = request.target.substr(0, request.target.find('?'));  // the log leaves the query out
    request.body = std::move(req.body());
    // Answers may come from a worker thread: back to this connection's strand.
    auto respond = [self = self_ptr()](Response response) {
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
    if (request_id_.empty()) request_id_ = server_.next_request_id();
    server_.service().decorate(r, origin_);
    if (settings().access_log || r.status == 500)
      server_.log_request(request_id_ + " " + (method_.empty() ? "-" : method_) + " " + (path_.empty() ? "-" : path_) +
                          " " + std::to_string(r.status) + " " + std::to_string(in_flight_ ? seconds * 1e3 : 0.0) +
                          " ms key=" + (r.key_name.empty() ? "-" : r.key_name) +
                          (r.status == 500 ? " " + r.body : ""));
    response_ = {};
    response_.version(version_);
    response_.result(static_cast<unsigned>(r.status));
    response_.set(http::field::server, "longqa/" LONGQA_VERSION);
    response_.set(http::field::content_type, r.content_type);
    response_.set("X-Request-Id", request_id_);
    for (const auto& [name, value] : r.headers) response_.set(name, value);
    response_.keep_alive(keep_alive && !server_.closing());
    if (head_) {
      // HEAD: the header alone, with the length the body would have had.
      response_.content_length(r.body.size());
    } else {
      response_.body() = std::move(r.body);
      response_.prepare_payload();
    }
    lowest().expires_after(to_ms(settings().write_timeout_s));
    http::async_write(stream_, response_, [self = self_ptr()](beast::error_code ec, size_t) {
      self->on_written(ec);
    });
  }

  void on_written(beast::error_code ec) {
    if (in_flight_) {
      --server_.in_flight();
      in_flight_ = false;
    }
    method_.clear();
    path_.clear();
    if (ec) return close();
    if (!response_.keep_alive()) return linger_close();
    wait_for_request();
  }

  // Half-close, then read and drop what the client still sends for a moment: closing with
  // unread data (a refused body) would reset the connection before the client read our
  // answer.
  void linger_close() {
    lowest().expires_after(std::min(to_ms(settings().read_timeout_s), std::chrono::milliseconds(2000)));
    if constexpr (!kTls) {
      beast::error_code ignored;
      lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    // Over TLS a half-close would end the TLS session under a body still arriving: the
    // answer is written; draining until the client stops (or 2 s) lets it read it.
    drain();
  }

  void drain() {
    buffer_.consume(buffer_.size());
    stream_.async_read_some(buffer_.prepare(16384), [self = self_ptr()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->drain();
    });
  }

  void close() {
    beast::error_code ignored;
    lowest().socket().close(ignored);
  }

  Stream stream_;
  HttpServer& server_;
  const std::list<Connection*>::iterator registered_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  http::response<http::string_body> response_;
  Clock::time_point request_start_ = Clock::now(), first_byte_ = Clock::now();
  const Clock::time_point connected_ = Clock::now();  // when the connection was accepted
  std::string request_id_, origin_, method_, path_;
  int64_t requests_ = 0;  // requests whose header arrived on this connection
  bool keep_alive_ = false, in_flight_ = false, head_ = false;
  unsigned version_ = 11;
};

}  // namespace

ssl::context HttpServer::make_tls_context() const {
  ssl::context tls(ssl::context::tls_server);
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                  ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  try {
    tls.use_certificate_chain_file(settings_.tls_certificate);
  } catch (const boost::system::system_error& e) {
    throw std::invalid_argument("tls_certificate " + settings_.tls_certificate + ": " + e.code().message() +
                                " (expected a PEM certificate file)");
  }
  try {
    tls.use_private_key_file(settings_.tls_key, ssl::context::pem);
  } catch (const boost::system::system_error& e) {
    throw std::invalid_argument("tls_key " + settings_.tls_key + ": " + e.code().message() +
                                " (expected the PEM private key of tls_certificate)");
  }
  return tls;
}

// Each connection holds a descriptor: lift the soft limit toward max_connections (the hard
// limit allowing), and say so when it cannot be reached.
void HttpServer::raise_file_limit() const {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  const rlim_t wanted = static_cast<rlim_t>(settings_.max_connections) + 256;  // models, index, logs
  if (limit.rlim_cur < wanted) {
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
  }
  if (limit.rlim_cur < wanted)
    log("warning: max_connections " + std::to_string(settings_.max_connections) + " needs about " +
        std::to_string(wanted) + " open files, the limit is " + std::to_string(limit.rlim_cur) +
        " (ulimit -n): connections past it fail to open");
}

bool HttpServer::make_room() {
  if (connections_ - evicting_ < settings_.max_connections) return true;
  std::shared_ptr<Connection> victim;
  {
    std::lock_guard<std::mutex> lock(connections_mutex_);
    Connection* oldest = nullptr;
    for (Connection* c : open_)
      if (c->waiting && !c->evicted && (!oldest || c->waiting_since < oldest->waiting_since)) oldest = c;
    if (oldest) {
      victim = oldest->weak_from_this().lock();  // null when it is being destroyed: room anyway
      oldest->evicted = true;
      ++evicting_;
    }
  }
  if (!victim) return evicting_ > 0 || connections_ - evicting_ < settings_.max_connections;
  ++evicted_total_;
  victim->evict();
  return true;  // `victim` is released here, outside the lock (its destructor takes it)
}

void HttpServer::refuse(tcp::socket socket) {
  ++refused_total_;
  beast::error_code ignored;
  if (tls_) return (void)socket.close(ignored);  // a plain-text answer would only break the client's handshake
  static const std::string kBusy = [] {
    const std::string body =
        "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"all max_connections connections are "
        "busy; retry later\",\"type\":\"unavailable\"}}";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
           "Retry-After: 1\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  socket.non_blocking(true, ignored);
  socket.write_some(net::buffer(kBusy), ignored);  // a fresh socket's buffer takes it whole
  socket.shutdown(tcp::socket::shutdown_both, ignored);
  socket.close(ignored);
}

template <class Stream>
void HttpServer::start_session(tcp::socket socket) {
  std::make_shared<Session<Stream>>(std::move(socket), *this, tls_ ? &*tls_ : nullptr)->start();
}

void HttpServer::start() {
  raise_file_limit();
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
  log(std::string("listening on ") + (tls_ ? "https://" : "http://") + endpoint.address().to_string() + ":" + std::to_string(port_) + " (loading " +
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
    try {
      if (!make_room())
        refuse(std::move(socket));
      else if (tls_)
        start_session<beast::ssl_stream<beast::tcp_stream>>(std::move(socket));
      else
        start_session<beast::tcp_stream>(std::move(socket));
    } catch (const std::exception& e) {  // out of memory, SSL_new failing: this connection only
      log(std::string("could not start a connection: ") + e.what());
    }
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
