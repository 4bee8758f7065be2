#include "actuator/ssh/env_file.h"

#include <cstddef>

#include "core/util/env_value.h"

namespace drf::ssh {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsAlpha(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Characters a value may hold and still be written bare: none of them means
// anything to a dotenv parser or to a shell in an assignment.
bool IsBareSafe(char c) {
  if (IsAlpha(c) || IsDigit(c)) return true;
  switch (c) {
    case '_':
    case '.':
    case '/':
    case ':':
    case '@':
    case '%':
    case '+':
    case ',':
    case '=':
    case '-':
      return true;
    default:
      return false;
  }
}

// One physical line: [begin, end) is its text, [end, next) its line ending
// ("\n", "\r\n" or nothing for an unterminated last line).
struct Line {
  std::size_t begin;
  std::size_t end;
  std::size_t next;
};

std::vector<Line> SplitLines(std::string_view s) {
  std::vector<Line> lines;
  std::size_t begin = 0;
  while (begin < s.size()) {
    std::size_t nl = s.find('\n', begin);
    if (nl == std::string_view::npos) {
      lines.push_back({begin, s.size(), s.size()});
      break;
    }
    std::size_t end = nl;
    if (end > begin && s[end - 1] == '\r') --end;
    lines.push_back({begin, end, nl + 1});
    begin = nl + 1;
  }
  return lines;
}

// An assignment `[export ]KEY = value[ # comment]`, possibly continued over
// further lines by a quoted value.
struct Assignment {
  std::string_view key;
  std::size_t value_begin = 0;  // offset of the value's first byte
  std::size_t value_end = 0;    // one past the value (after a closing quote)
  std::size_t last_line = 0;    // index of the line the value ends on
  bool unterminated = false;    // opens a quote that is never closed
};

// Parses line `index` as the start of an assignment. Keys of any dotenv
// flavour (dots and dashes too) are recognised, so that a multi-line value
// of any key is skipped whole rather than read as assignments.
std::optional<Assignment> ParseAssignment(std::string_view s,
                                          const std::vector<Line>& lines,
                                          std::size_t index) {
  const Line& line = lines[index];
  std::size_t p = line.begin;
  if (index == 0 && s.substr(0, 3) == "\xEF\xBB\xBF") p += 3;  // UTF-8 BOM
  while (p < line.end && IsBlank(s[p])) ++p;
  if (s.substr(p, 6) == "export" && p + 6 < line.end && IsBlank(s[p + 6])) {
    p += 6;
    while (p < line.end && IsBlank(s[p])) ++p;
  }
  std::size_t key_begin = p;
  if (p >= line.end || !(IsAlpha(s[p]) || s[p] == '_')) return std::nullopt;
  while (p < line.end && (IsAlpha(s[p]) || IsDigit(s[p]) || s[p] == '_' ||
                          s[p] == '.' || s[p] == '-')) {
    ++p;
  }
  Assignment a;
  a.key = s.substr(key_begin, p - key_begin);
  while (p < line.end && IsBlank(s[p])) ++p;
  if (p >= line.end || s[p] != '=') return std::nullopt;
  ++p;
  std::size_t after_equals = p;
  while (p < line.end && IsBlank(s[p])) ++p;
  a.value_begin = p;
  a.last_line = index;

  if (p < line.end && (s[p] == '\'' || s[p] == '"')) {
    const char quote = s[p];
    // The closing quote may be on a later line (a multi-line value).
    for (std::size_t q = p + 1; q < s.size(); ++q) {
      if (quote == '"' && s[q] == '\\') {
        ++q;
        continue;
      }
      if (s[q] != quote) continue;
      a.value_end = q + 1;
      while (a.last_line + 1 < lines.size() && lines[a.last_line].next <= q) {
        ++a.last_line;
      }
      return a;
    }
    // Never closed: read the line as a bare value.
    a.unterminated = true;
  }
  // A bare value ends where ` #` starts a comment; trailing blanks are not
  // part of it. `KEY= # c` is an empty value with a comment.
  if (p < line.end && s[p] == '#' && p > after_equals) {
    a.value_end = p;
    return a;
  }
  std::size_t end = line.end;
  for (std::size_t q = p; q < line.end; ++q) {
    if (IsBlank(s[q]) && q + 1 < line.end && s[q + 1] == '#') {
      end = q;
      break;
    }
  }
  while (end > p && IsBlank(s[end - 1])) --end;
  a.value_end = end;
  return a;
}

// True when what follows a value is nothing, blanks, or blanks and a
// comment: such a tail is kept when the value is replaced.
bool TailIsComment(std::string_view tail) {
  std::size_t p = 0;
  while (p < tail.size() && IsBlank(tail[p])) ++p;
  return p == tail.size() || tail[p] == '#';
}

// True when `written` (the value as it stands in the file) already says
// `value` in a form every reader agrees on.
bool WrittenAs(std::string_view written, std::string_view value) {
  if (written == QuoteEnvValue(value)) return true;
  if (written.size() != value.size() + 2 ||
      written.substr(1, value.size()) != value) {
    return false;
  }
  if (written.front() == '\'' && written.back() == '\'') {
    return value.find('\'') == std::string_view::npos;
  }
  if (written.front() == '"' && written.back() == '"') {
    return value.find_first_of("\"\\$`") == std::string_view::npos;
  }
  return false;
}

}  // namespace

bool EnvKeyIsValid(std::string_view key) {
  if (key.empty() || !(IsAlpha(key[0]) || key[0] == '_')) return false;
  for (char c : key) {
    if (!(IsAlpha(c) || IsDigit(c) || c == '_')) return false;
  }
  return true;
}

bool EnvValueIsSafe(std::string_view value) {
  return CheckEnvValue(value) == EnvValueProblem::kNone;
}

std::string ValidateEnv(const EnvPairs& env) {
  for (const auto& [key, value] : env) {
    if (!EnvKeyIsValid(key)) {
      return "env key \"" + key + "\" is not a variable name";
    }
    if (!EnvValueIsSafe(value)) {
      return "env value of " + key +
             " holds a newline, carriage return or NUL byte, or both ' and `";
    }
  }
  return "";
}

std::string QuoteEnvValue(std::string_view value) {
  bool bare = true;
  for (char c : value) bare = bare && IsBareSafe(c);
  if (bare) return std::string(value);
  if (value.find('\'') == std::string_view::npos) {
    return "'" + std::string(value) + "'";
  }
  std::string out = "\"";
  for (char c : value) {
    if (c == '\\' || c == '"' || c == '$') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string RewriteEnv(std::string_view content, const EnvPairs& env) {
  // The keys to set, each once (a later pair for the same key wins), in the
  // order they are first named: the order missing keys are appended in.
  struct Want {
    std::string_view key;
    std::string_view value;
    bool seen = false;
  };
  std::vector<Want> wants;
  for (const auto& [key, value] : env) {
    if (!EnvKeyIsValid(key) || !EnvValueIsSafe(value)) continue;
    Want* found = nullptr;
    for (Want& w : wants) {
      if (w.key == key) found = &w;
    }
    if (found != nullptr) {
      found->value = value;
    } else {
      wants.push_back({key, value});
    }
  }

  const std::vector<Line> lines = SplitLines(content);
  std::string_view eol = "\n";
  for (const Line& l : lines) {
    if (l.next > l.end) {
      if (l.next - l.end == 2) eol = "\r\n";
      break;
    }
  }

  std::string out;
  out.reserve(content.size() + 64);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    std::optional<Assignment> a = ParseAssignment(content, lines, i);
    if (!a) {
      out.append(content.substr(line.begin, line.next - line.begin));
      continue;
    }
    const Line& last = lines[a->last_line];
    Want* want = nullptr;
    for (Want& w : wants) {
      if (w.key == a->key) want = &w;
    }
    if (want == nullptr) {  // someone else's key: every line of it as is
      out.append(content.substr(line.begin, last.next - line.begin));
    } else if (!want->seen) {
      want->seen = true;
      std::string_view written =
          content.substr(a->value_begin, a->value_end - a->value_begin);
      std::string_view tail =
          content.substr(a->value_end, last.end - a->value_end);
      if (a->last_line == i && TailIsComment(tail) &&
          WrittenAs(written, want->value)) {
        out.append(content.substr(line.begin, line.next - line.begin));
      } else {
        out.append(content.substr(line.begin, a->value_begin - line.begin));
        out.append(QuoteEnvValue(want->value));
        if (TailIsComment(tail)) {
          // `KEY=# c` would make the comment part of a bare value.
          if (!tail.empty() && tail.front() == '#') out += ' ';
          out.append(tail);
        }
        out.append(content.substr(last.end, last.next - last.end));
      }
    }  // else: a later duplicate of a key already set, dropped
    i = a->last_line;
  }

  bool need_eol = !out.empty() && out.back() != '\n';
  for (const Want& w : wants) {
    if (w.seen) continue;
    if (need_eol) {
      out.append(eol);
      need_eol = false;
    }
    out.append(w.key);
    out += '=';
    out.append(QuoteEnvValue(w.value));
    out.append(eol);
  }
  return out;
}

std::size_t UnterminatedQuoteLine(std::string_view content) {
  const std::vector<Line> lines = SplitLines(content);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::optional<Assignment> a = ParseAssignment(content, lines, i);
    if (!a) continue;
    if (a->unterminated) return i + 1;
    i = a->last_line;
  }
  return 0;
}

std::optional<std::string> ReadEnvValue(std::string_view content,
                                        std::string_view key) {
  const std::vector<Line> lines = SplitLines(content);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::optional<Assignment> a = ParseAssignment(content, lines, i);
    if (!a) continue;
    if (a->key != key) {
      i = a->last_line;
      continue;
    }
    std::string_view v =
        content.substr(a->value_begin, a->value_end - a->value_begin);
    if (v.size() < 2 || (v.front() != '\'' && v.front() != '"') ||
        v.back() != v.front()) {
      return std::string(v);
    }
    const char quote = v.front();
    v = v.substr(1, v.size() - 2);
    if (quote == '\'') return std::string(v);
    std::string out;
    for (std::size_t p = 0; p < v.size(); ++p) {
      if (v[p] == '\\' && p + 1 < v.size() &&
          (v[p + 1] == '\\' || v[p + 1] == '"' || v[p + 1] == '$')) {
        ++p;
      }
      out += v[p];
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace drf::ssh
