#include "core/log/log.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <ctime>
#include <memory>

namespace drf::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<Format> g_format{Format::kLogfmt};

std::shared_ptr<spdlog::logger> Logger() {
  // Thread-safe static init; "%v" because lines are rendered by Render().
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = std::make_shared<spdlog::logger>(
        "drf", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return logger;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string Timestamp(std::chrono::system_clock::time_point now) {
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - secs);
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms.count()));
  return out;
}

void AppendLogfmtValue(std::string* out, std::string_view v) {
  bool quote = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '=' || c == '"' ||
        static_cast<unsigned char>(c) < 0x20) {
      quote = true;
      break;
    }
  }
  if (!quote) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", c);
          out->append(esc);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

}  // namespace

bool Setup(std::string_view level, std::string_view format) {
  Level l;
  if (level == "debug") {
    l = Level::kDebug;
  } else if (level == "info") {
    l = Level::kInfo;
  } else if (level == "warn") {
    l = Level::kWarn;
  } else if (level == "error") {
    l = Level::kError;
  } else {
    return false;
  }
  Format f;
  if (format == "logfmt") {
    f = Format::kLogfmt;
  } else if (format == "json") {
    f = Format::kJson;
  } else {
    return false;
  }
  g_level = l;
  g_format = f;
  Logger();
  return true;
}

bool Enabled(Level level) { return level >= g_level.load(); }

std::string Render(Format format, Level level, std::string_view msg,
                   std::initializer_list<Field> fields,
                   std::chrono::system_clock::time_point now) {
  const std::string ts = Timestamp(now);
  if (format == Format::kJson) {
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    auto str = [&w](std::string_view s) {
      w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
    };
    w.StartObject();
    str("ts");
    str(ts);
    str("level");
    str(LevelName(level));
    str("msg");
    str(msg);
    for (const Field& f : fields) {
      str(f.first);
      str(f.second);
    }
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
  }
  std::string out;
  out.reserve(64 + msg.size());
  out.append("ts=").append(ts);
  out.append(" level=").append(LevelName(level));
  out.append(" msg=");
  AppendLogfmtValue(&out, msg);
  for (const Field& f : fields) {
    out.push_back(' ');
    out.append(f.first);
    out.push_back('=');
    AppendLogfmtValue(&out, f.second);
  }
  return out;
}

void Write(Level level, std::string_view msg,
           std::initializer_list<Field> fields) {
  if (!Enabled(level)) return;
  std::string line = Render(g_format.load(), level, msg, fields,
                            std::chrono::system_clock::now());
  Logger()->log(spdlog::level::info, "{}", line);
}

bool RateLimiter::Allow(const std::string& key, long* suppressed) {
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (!inserted && now - e.last < period_) {
    ++e.suppressed;
    return false;
  }
  *suppressed = e.suppressed;
  e.suppressed = 0;
  e.last = now;
  return true;
}

}  // namespace drf::log
