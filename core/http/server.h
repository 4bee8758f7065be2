#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

struct mg_context;
struct mg_connection;

namespace drf::http {

struct ServerRequest {
  std::string method;
  std::string path;
  std::string query;
  std::string body;
  std::string authorization;  // the Authorization header, "" if absent
  std::string content_type;
  std::string host;  // the Host header
  /// Set when the body was larger than the server's limit; `body` is then
  /// empty and the handler should answer 413.
  bool body_too_large = false;

  /// The value of query parameter `name`, "" if absent.
  std::string QueryParam(const std::string& name) const;
  /// Every value of a parameter given several times, in order.
  std::vector<std::string> QueryParams(const std::string& name) const;
};

struct ServerResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static ServerResponse Text(int status, std::string body);
  static ServerResponse Json(int status, std::string body);
};

/// Handlers run on CivetWeb's worker threads, concurrently: they must be
/// thread-safe and must not block on the network.
using Handler = std::function<ServerResponse(const ServerRequest&)>;

/// An HTTP server (CivetWeb) routing exact paths to handlers. Register all
/// routes, then Start(). Stops in the destructor. Route table is immutable
/// once started, so dispatch needs no lock.
class Server {
 public:
  /// `listen` is ":PORT", "HOST:PORT" or "[V6]:PORT" (Prometheus style).
  Server(std::string listen, std::size_t max_body_bytes, int threads = 4);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Routes `method path` to `handler`. Other methods on a known path get
  /// 405, unknown paths 404.
  void Handle(const std::string& method, const std::string& path,
              Handler handler);

  /// Binds and starts serving; throws std::runtime_error naming the address
  /// when it cannot bind.
  void Start();
  void Stop();

  /// The bound port (after Start).
  int port() const;

 private:
  static int Dispatch(mg_connection* conn, void* self);
  ServerResponse Route(ServerRequest& request) const;

  std::string listen_;
  std::size_t max_body_bytes_;
  int threads_;
  mg_context* ctx_ = nullptr;
  std::map<std::pair<std::string, std::string>, Handler> routes_;
};

/// Converts a Prometheus-style listen address to CivetWeb's listening_ports
/// syntax; returns "" when it is malformed.
std::string CivetListenPort(const std::string& listen);

}  // namespace drf::http
