#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace drf::ssh {

/// Environment assignments in the order they are applied, as
/// ActivateConfig::ExpandFor returns them.
using EnvPairs = std::vector<std::pair<std::string, std::string>>;

/// True for a variable name the actuator may manage: [A-Za-z_][A-Za-z0-9_]*.
bool EnvKeyIsValid(std::string_view key);

/// True when `value` can be written as one inert assignment line: it holds
/// no newline, carriage return or NUL byte, and not both a ' and a `
/// (drf::CheckEnvValue, the rule the config validation applies too).
bool EnvValueIsSafe(std::string_view value);

/// Why `env` cannot be written ("" when it can): the first invalid key or
/// unsafe value, named by its key only (values never appear in messages).
std::string ValidateEnv(const EnvPairs& env);

/// The text written after `KEY=` for `value`, inert in every reader of the
/// file that matters here:
///  - empty, or only [A-Za-z0-9_./:@%+,=-] characters: written bare;
///  - otherwise, without a single quote: in single quotes, which phpdotenv
///    (the PHP application's loader), Docker Compose and a POSIX shell read
///    literally (no `$` expansion, no command substitution, no escapes;
///    python-dotenv too, but for its `\\` and `\'` escapes);
///  - otherwise (it holds a ', so no `): in double quotes with `\`, `"`
///    and `$` escaped. A backtick would have to stay bare there (phpdotenv
///    rejects "\`"), and a shell sourcing the file would run it: that is
///    why EnvValueIsSafe refuses a value holding both ' and `.
std::string QuoteEnvValue(std::string_view value);

/// Rewrites the dotenv text `content` so that each key of `env` is assigned
/// its value exactly once:
///  - the first uncommented assignment of the key (`KEY=...`, `export
///    KEY=...`, spaces around `=` allowed) gets the new value; its prefix up
///    to the value and any trailing ` # comment` stay as they were;
///  - later assignments of the same key are removed (the seed article
///    appended a line per failover; loaders disagree on whether the first or
///    the last one wins, so exactly one is the only safe state);
///  - a key with no assignment is appended at the end, after a line ending
///    added if the text did not end with one;
///  - every other byte (comments, blank lines, other keys, their order,
///    multi-line quoted values of other keys, CRLF line endings, a BOM) is
///    kept as it is. Appended lines use the file's line ending (CRLF when its
///    first line ends with one).
/// An assignment whose value is already right (written bare, in single
/// quotes or, with nothing to escape, in double quotes) is left byte for
/// byte, so the result equals `content` when nothing changes and a second
/// rewrite never changes anything.
/// Pairs that fail ValidateEnv are skipped: no input can add a line of its
/// own. Callers check ValidateEnv first and report. Pure; thread-safe.
std::string RewriteEnv(std::string_view content, const EnvPairs& env);

/// The line (from 1) of the first assignment whose value opens a quote
/// that is never closed, 0 when there is none. RewriteEnv cannot rewrite
/// such a text safely: a quoted value it writes after that line would
/// close the quote and become part of the other key's value (the
/// application would no longer see it). Callers refuse the file. Pure.
std::size_t UnterminatedQuoteLine(std::string_view content);

/// The value of the first uncommented assignment of `key` in the dotenv
/// text `content`, read the way RewriteEnv finds and writes it: bare text
/// as it stands, a single-quoted value literally, a double-quoted one with
/// `\\`, `\"` and `\$` unescaped (other backslashes kept). nullopt when
/// `key` has no assignment. So ReadEnvValue(RewriteEnv(c, {{k, v}}), k) is
/// v for every valid pair. Pure; thread-safe.
std::optional<std::string> ReadEnvValue(std::string_view content,
                                        std::string_view key);

}  // namespace drf::ssh
