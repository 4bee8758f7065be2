#include "core/http/server.h"

#include <civetweb.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>

#include "core/log/log.h"

namespace drf::http {
namespace {

std::string StatusText(int status) {
  const char* text = mg_get_response_code_text(nullptr, status);
  return text != nullptr ? text : "";
}

// Reads the body up to `limit` bytes; sets *too_large past that.
void ReadBody(mg_connection* conn, std::size_t limit, std::string* body,
              bool* too_large) {
  const mg_request_info* info = mg_get_request_info(conn);
  if (info->content_length > 0 &&
      static_cast<unsigned long long>(info->content_length) > limit) {
    *too_large = true;
    return;
  }
  char buf[16384];
  for (;;) {
    int n = mg_read(conn, buf, sizeof buf);
    if (n <= 0) break;
    if (body->size() + static_cast<std::size_t>(n) > limit) {
      *too_large = true;
      body->clear();
      return;
    }
    body->append(buf, static_cast<std::size_t>(n));
  }
}

}  // namespace

std::string ServerRequest::QueryParam(const std::string& name) const {
  if (query.empty()) return "";
  std::string buf(query.size() + 1, '\0');
  int n = mg_get_var(query.data(), query.size(), name.c_str(), buf.data(),
                     buf.size());
  if (n < 0) return "";
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

std::vector<std::string> ServerRequest::QueryParams(
    const std::string& name) const {
  std::vector<std::string> out;
  std::string buf(query.size() + 1, '\0');
  for (std::size_t i = 0; !query.empty(); ++i) {
    int n = mg_get_var2(query.data(), query.size(), name.c_str(), buf.data(),
                        buf.size(), i);
    if (n < 0) break;
    out.emplace_back(buf.data(), static_cast<std::size_t>(n));
  }
  return out;
}

ServerResponse ServerResponse::Text(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

ServerResponse ServerResponse::Json(int status, std::string body) {
  ServerResponse r;
  r.status = status;
  r.content_type = "application/json";
  r.body = std::move(body);
  return r;
}

std::string CivetListenPort(const std::string& listen) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 >= listen.size()) return "";
  std::string host = listen.substr(0, colon);
  std::string port = listen.substr(colon + 1);
  for (char c : port) {
    if (c < '0' || c > '9') return "";
  }
  if (port.size() > 5 || std::atoi(port.c_str()) > 65535) return "";
  if (host.empty()) return port;
  if (host.front() == '[') {
    if (host.back() != ']') return "";
    return "[" + host.substr(1, host.size() - 2) + "]:" + port;
  }
  if (host.find(':') != std::string::npos) return "";
  return host + ":" + port;
}

Server::Server(std::string listen, std::size_t max_body_bytes, int threads)
    : listen_(std::move(listen)),
      max_body_bytes_(max_body_bytes),
      threads_(threads) {
  static std::once_flag once;
  std::call_once(once, [] { mg_init_library(0); });
}

Server::~Server() { Stop(); }

void Server::Handle(const std::string& method, const std::string& path,
                    Handler handler) {
  routes_[{path, method}] = std::move(handler);
}

void Server::Start() {
  std::string ports = CivetListenPort(listen_);
  if (ports.empty()) {
    throw std::runtime_error("invalid listen address \"" + listen_ + "\"");
  }
  std::string threads = std::to_string(threads_);
  const char* options[] = {"listening_ports", ports.c_str(), "num_threads",
                           threads.c_str(), "request_timeout_ms", "10000",
                           "enable_keep_alive", "yes", "keep_alive_timeout_ms",
                           "30000",
                           // Without it, Nagle's algorithm and delayed ACKs
                           // hold back every second response on a kept-alive
                           // connection by about 40 ms.
                           "tcp_nodelay", "1", nullptr};
  mg_callbacks callbacks{};
  // CivetWeb prints its own errors to stderr otherwise; route them to us.
  callbacks.log_message = [](const mg_connection*, const char* message) {
    log::Warn("http server", {{"err", message}});
    return 1;
  };
  char error[256] = {0};
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = this;
  init.configuration_options = options;
  mg_error_data err{};
  err.text = error;
  err.text_buffer_size = sizeof error;
  ctx_ = mg_start2(&init, &err);
  if (ctx_ == nullptr) {
    throw std::runtime_error("cannot listen on " + listen_ + ": " +
                             (error[0] ? error : "unknown error"));
  }
  mg_set_request_handler(ctx_, "/", &Server::Dispatch, this);
}

void Server::Stop() {
  if (ctx_ != nullptr) {
    mg_stop(ctx_);
    ctx_ = nullptr;
  }
}

int Server::port() const {
  mg_server_port ports[4];
  int n = mg_get_server_ports(ctx_, 4, ports);
  return n > 0 ? ports[0].port : 0;
}

ServerResponse Server::Route(ServerRequest& request) const {
  bool path_known = false;
  for (const auto& [key, handler] : routes_) {
    if (key.first != request.path) continue;
    path_known = true;
    if (key.second == request.method) return handler(request);
  }
  if (path_known) return ServerResponse::Text(405, "method not allowed\n");
  return ServerResponse::Text(404, "not found\n");
}

int Server::Dispatch(mg_connection* conn, void* self_ptr) {
  auto* self = static_cast<Server*>(self_ptr);
  const mg_request_info* info = mg_get_request_info(conn);
  ServerRequest request;
  request.method = info->request_method ? info->request_method : "";
  request.path = info->local_uri ? info->local_uri : "";
  request.query = info->query_string ? info->query_string : "";
  if (const char* a = mg_get_header(conn, "Authorization")) {
    request.authorization = a;
  }
  if (const char* h = mg_get_header(conn, "Host")) request.host = h;
  if (const char* ct = mg_get_header(conn, "Content-Type")) {
    request.content_type = ct;
  }
  ServerResponse response;
  try {
    if (request.method == "POST" || request.method == "PUT") {
      ReadBody(conn, self->max_body_bytes_, &request.body,
               &request.body_too_large);
    }
    response = self->Route(request);
  } catch (const std::exception& e) {
    log::Error("http handler failed",
               {{"path", request.path}, {"err", e.what()}});
    response = ServerResponse::Text(500, "internal error\n");
  }
  std::string head = "HTTP/1.1 " + std::to_string(response.status) + " " +
                     StatusText(response.status) + "\r\n";
  head += "Content-Type: " + response.content_type + "\r\n";
  head += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
  for (const auto& [name, value] : response.headers) {
    head += name + ": " + value + "\r\n";
  }
  if (request.body_too_large) head += "Connection: close\r\n";
  head += "\r\n";
  // One write for header and body: one segment for small answers.
  if (request.method != "HEAD") head += response.body;
  mg_write(conn, head.data(), head.size());
  return response.status;
}

}  // namespace drf::http
